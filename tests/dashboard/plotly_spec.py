"""Reading the plotly charts AppTest sees (charts are opaque to AppTest: their JSON spec is all)."""

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest


def chart(at: AppTest, key: str) -> dict:
    """The plotly spec of the chart drawn with ``key`` (Streamlit puts the key at the end of its id)."""
    found = [json.loads(el.proto.spec) for el in at.get("plotly_chart") if el.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, f"expected one chart with key {key!r}, found {len(found)}"
    return found[0]


def values(field) -> np.ndarray:
    """A trace's x / y as an array: plotly writes numpy arrays as {"dtype", "bdata"} (base64)."""
    if isinstance(field, dict) and "bdata" in field:
        return np.frombuffer(base64.b64decode(field["bdata"]), dtype=np.dtype(field["dtype"]))
    return np.asarray(field, dtype=float)
