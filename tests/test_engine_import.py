"""`import engine` (and every engine module) must not drag in the front end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Named so a module that goes missing is noticed; every other module under engine/ is found by walking it.
MODULES = ["engine", "engine.device", "engine.distributions", "engine.divergences", "engine.quadrature",
           "engine.transport", "engine.projections", "engine.toy2d", "engine.likelihood", "engine.gaussians",
           "engine.kde", "engine.training", "engine.mle", "engine.data.mnist", "engine.data.download",
           "engine.checkpoints", "engine.mnist.classifier", "engine.mnist.metrics", "engine.train", "engine.checks"]
FRONT_END = ["streamlit", "plotly"]

PROBE = """
import importlib, importlib.util, json, pkgutil, sys
imported = []
for name in {modules!r}:
    if importlib.util.find_spec(name) is not None:  # modules still being written are skipped
        importlib.import_module(name)
        imported.append(name)
import engine
for info in pkgutil.walk_packages(engine.__path__, prefix="engine."):
    if info.name not in imported and not info.name.rpartition(".")[2].startswith("_"):
        importlib.import_module(info.name)
        imported.append(info.name)
print(json.dumps({{"imported": imported, "loaded": [m for m in {front_end!r} if m in sys.modules]}}))
"""


def test_engine_does_not_import_front_end():
    code = PROBE.format(modules=MODULES, front_end=FRONT_END)
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "engine" in report["imported"]
    assert report["loaded"] == [], f"importing {report['imported']} loaded {report['loaded']}"
