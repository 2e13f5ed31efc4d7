"""AppTest's element tree for bench_pages: a page's sections and their widgets, and the values a change sets.

A page's ``st.header`` calls split it into sections; ``page_sections`` finds each section's widgets
(enabled ones first, by the preference order ``KINDS``) and ``WidgetRef`` finds one again after a
rerun. ``candidates`` and ``toggle_partner`` pick the values a benchmark sets: unused values for
"fresh" reruns, a partner value for "toggle" reruns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1.element_tree import Block, Radio, Selectbox, SelectSlider

KINDS = ("slider", "select_slider", "number_input", "selectbox", "radio", "toggle", "checkbox")  # preference
OPTION_KINDS = {"select_slider", "selectbox", "radio"}  # values are option indices
HEADER_TAG = "h2"  # st.header's heading tag (st.title is h1, st.subheader h3)
MAIN = 0  # delta_path[0] of the main area (1 is the sidebar)
NOT_PAGE_STATE = ("claims_",)  # a claim's guessed answer redraws the claims alone, in a fragment of their own


# ---- the element tree: sections and widgets -------------------------------------------------


@dataclass(frozen=True)
class WidgetRef:
    """A widget as found again after a rerun: by key, else by label and its place among equals."""

    kind: str
    key: str | None
    label: str
    occurrence: int

    @property
    def name(self) -> str:
        return self.key or repr(self.label)

    @property
    def ident(self) -> str:
        """The same widget in every language (a label is translated, a key is not)."""
        return self.key or f"{self.kind} #{self.occurrence} {self.label}"


@dataclass
class Section:
    index: int
    title: str
    widgets: list[WidgetRef] = field(default_factory=list)


def walk(node):
    """Elements under ``node`` in page order (children sorted by their delta path index)."""
    if isinstance(node, Block):
        for _, child in sorted(node.children.items(), key=lambda item: item[0]):
            yield from walk(child)
    else:
        yield node


def enabled(element) -> bool:
    return not getattr(element.proto, "disabled", False)


def page_sections(block) -> list[Section]:
    """The sections of ``block`` (a page's main area) with their enabled widgets of a measured kind."""
    sections, seen = [Section(0, "(top)")], {}
    for element in walk(block):
        if element.type == "header":
            sections.append(Section(len(sections), element.value))
        elif element.type in KINDS:
            label = getattr(element, "label", "")
            occurrence = seen.get((element.type, label), 0)
            seen[(element.type, label)] = occurrence + 1
            if enabled(element) and not (element.key or "").startswith(NOT_PAGE_STATE):
                sections[-1].widgets.append(WidgetRef(element.type, element.key, label, occurrence))
    return sections


def find(block, ref: WidgetRef):
    """The element ``ref`` names in ``block`` now, or None."""
    count = 0
    for element in walk(block):
        if element.type != ref.kind:
            continue
        if ref.key is not None:
            if element.key == ref.key:
                return element
        elif getattr(element, "label", "") == ref.label:
            if count == ref.occurrence:
                return element
            count += 1
    return None


# ---- values: what a change sets ---------------------------------------------------------------


def _by_label(cls):
    """``cls`` that sends a picked option label, as the browser does, whatever the Python option values."""

    class ByLabel(cls):
        @property
        def _widget_state(self) -> WidgetState:
            state = WidgetState()
            state.id = self.id
            if self.type == "select_slider":
                state.string_array_value.data[:] = [self.options[self.picked]]
            else:
                state.string_value = self.options[self.picked]
            return state

    return ByLabel


BY_LABEL = {cls: _by_label(cls) for cls in (Radio, Selectbox, SelectSlider)}


def option_index(element) -> int | None:
    """Index of an option widget's current value among its (formatted) options."""
    value = element.value
    if isinstance(value, list | tuple):
        return None  # a range select_slider: not measured
    try:
        shown = [element.format_func(value), value]
    except Exception:  # a format_func that cannot take the value: compare the raw value only
        shown = [value]
    return next((element.options.index(str(s)) for s in shown if str(s) in element.options), None)


def current(element):
    """The widget's value in the form ``apply`` takes: an option index, a number or a bool."""
    if element.type in OPTION_KINDS:
        return option_index(element)
    return element.value


def apply(element, value) -> None:
    if element.type in OPTION_KINDS:
        element.__class__ = BY_LABEL[type(element)]
        element.picked = value
    else:
        element.set_value(value)


def _numeric_neighbours(element, start, count: int, seen: set) -> list:
    """Up to ``count`` values start + k * step (upwards first, then downwards) within bounds, not in ``seen``."""
    step = element.step
    low, high = getattr(element, "min", None), getattr(element, "max", None)
    integer = isinstance(start, int) and float(step).is_integer()
    step = int(step) if integer else step
    out = []
    for direction in (1, -1):
        k = 1
        while len(out) < count:
            value = start + direction * k * step
            value = value if integer else round(value, 10)
            if (high is not None and value > high) or (low is not None and value < low):
                break
            if value not in seen:
                out.append(value)
            k += 1
    return out


def candidates(element, start, count: int, seen: set) -> list:
    """Up to ``count`` unseen values near ``start`` (nearest first), or [] where the kind has none."""
    if start is None or isinstance(start, list | tuple):
        return []
    if element.type in OPTION_KINDS:
        order = sorted(range(len(element.options)), key=lambda i: (abs(i - start), -i))
        return [i for i in order if i != start and i not in seen][:count]
    if element.type in ("toggle", "checkbox"):
        return [] if (not start) in seen else [not start]
    return _numeric_neighbours(element, start, count, seen)


def toggle_partner(element, start):
    if element.type in ("toggle", "checkbox"):
        return not start
    near = candidates(element, start, 1, set())
    return near[0] if near else None
