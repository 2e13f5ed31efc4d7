"""The layout's promises, checked on the source: what may import what.

Every ``import`` statement counts, at module level or inside a function: an import moved into a
function to dodge a cycle is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "dashboard")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports (``from a.b import c`` is ``a.b.c`` when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, known) - {name} for name, path in mods.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None. A package's __init__ importing its own
    submodules (re-exports) is not a cycle unless a submodule imports the package back."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_import_graph_has_no_cycle():
    assert cycle(graph()) is None, f"import cycle: {' -> '.join(cycle(graph()))}"


def test_the_cycle_finder_finds_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_engine_never_imports_the_dashboard_or_drawing_libraries():
    for name, path in modules().items():
        if name.startswith("engine"):
            tree = ast.parse(path.read_text())
            imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            assert not imported & {"dashboard", "streamlit", "plotly", "altair"}, name


def test_no_module_edits_sys_path():
    for path in [*ROOT.glob("engine/**/*.py"), *ROOT.glob("dashboard/**/*.py"), *ROOT.glob("tests/**/*.py"),
                 *ROOT.glob("benchmarks/*.py")]:
        if path.resolve() == Path(__file__).resolve():
            continue
        assert "sys.path.insert" not in path.read_text() and "sys.path.append" not in path.read_text(), path


def test_no_chapter_imports_another_and_shared_imports_no_chapter():
    """What two chapters share lives in dashboard.shared, so a chapter can change without breaking another."""
    edges = graph()
    for module, imported in edges.items():
        for target in imported:
            if module.startswith("dashboard.shared"):
                assert not target.startswith("dashboard.chapters"), f"{module} imports the chapter {target}"
            if module.startswith("dashboard.chapters.") and target.startswith("dashboard.chapters."):
                own, other = module.split(".")[2], target.split(".")[2]
                assert own == other, f"{module} imports another chapter: {target}"


WIDGETS = {"slider", "select_slider", "number_input", "selectbox", "radio", "toggle", "checkbox",
           "segmented_control", "pills", "button", "text_input", "file_uploader", "multiselect"}
# Page-level controls that every section below reads: changing them must rerun the whole page.
PAGE_CONTROLS = {"dashboard.chapters.likelihood.page.data_and_model"}


def _attrs(fn: ast.FunctionDef) -> set[str]:
    return {c.func.attr for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)}


def _has_widgets(fn: ast.FunctionDef, functions: dict, seen: tuple = ()) -> bool:
    """``fn`` draws a widget, itself or through a function of its module it calls."""
    if _attrs(fn) & WIDGETS:
        return True
    called = {c.func.id for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    return any(_has_widgets(functions[c], functions, (*seen, fn.name)) for c in called
               if c in functions and c not in seen and c != fn.name)


def test_every_section_with_its_own_widgets_is_a_fragment():
    """A section (a function drawing a header) whose widgets only it reads (its own, or those of the
    module's functions it calls) is a fragment (``@section``), so moving one of its sliders reruns
    that section, not the page."""
    missing = []
    for name, path in modules().items():
        if not name.startswith("dashboard.chapters."):
            continue
        functions = {fn.name: fn for fn in ast.parse(path.read_text()).body if isinstance(fn, ast.FunctionDef)}
        for fn in functions.values():
            decorators = {d.id for d in fn.decorator_list if isinstance(d, ast.Name)}
            if "header" in _attrs(fn) and _has_widgets(fn, functions) and "section" not in decorators \
                    and f"{name}.{fn.name}" not in PAGE_CONTROLS:
                missing.append(f"{name}.{fn.name}")
    assert not missing, f"sections with their own widgets that are not fragments: {missing}"
