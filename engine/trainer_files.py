"""A live trainer in one safetensors file: download a trained 2D model, load it back, train on.

Every live trainer (``engine.training``) can give its whole state as plain numpy arrays and primitives
(``state_dict``: weights, optimiser moments, random generator, history, settings). This module writes
that state to the bytes of a safetensors file and reads it back, so a model trained on a page can be
kept, loaded in a notebook, or resumed on the page another day::

    blob = to_bytes(trainer)                 # bytes of a .safetensors file
    saved = read(blob)                       # SavedTrainer: kind, config, state, training points, extra
    fresh = GAN2DTrainer(data, architecture, settings)   # the same kind, built from saved.config
    restore(fresh, saved)                    # checks kind and data, then fresh.load_state_dict(saved.state)
    fresh.step(100)                          # exactly the steps the original would have taken

The file is ordinary safetensors (readable by any safetensors library; nothing is unpickled):

* tensors: every array of the state, named by its path (``state/nets/g/net.0.weight``);
* metadata (strings): ``genmodels.format`` (this format's version), ``genmodels.kind`` (the trainer's
  class, compared on restore, never imported), ``genmodels.state`` (the state as JSON with each array
  replaced by ``{"tensor": name}``; dictionaries as ``{"dict": [[key, value], ...]}`` so integer keys
  such as an optimiser's parameter numbers survive; a history, a list of dicts of numbers, as one array
  per metric, ``{"records": [[metric, name], ...]}``, with a 0/1 array where a metric is only sometimes
  there), ``genmodels.config`` (the dataclasses the trainer
  was built from, as JSON, for a reader that rebuilds it) and ``genmodels.extra`` (the caller's JSON,
  e.g. the page's control values);
* the training points are the tensor ``data`` (a model resumes on the points it was trained on: a
  trainer built on other points is refused).

JSON writes Python floats with ``repr``, so every number comes back bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import numpy as np
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

FORMAT = "genmodels-trainer-1"
PREFIX = "genmodels."
CONFIG_FIELDS = ("config", "architecture", "settings")  # the dataclasses a trainer is built from
MAX_HEADER = 100_000_000  # bytes: safetensors' own limit on the JSON header


class TrainerFileError(ValueError):
    """The bytes are not a trainer file this trainer can resume from; the message says why.

    ``code`` names the reason for a page to translate: ``not_safetensors``, ``not_a_model``, ``damaged``,
    ``other_kind``, ``other_points``, ``does_not_fit``; ``detail`` holds the strings the message uses."""

    def __init__(self, code: str, message: str, **detail: str):
        super().__init__(message)
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class SavedTrainer:
    kind: str  # the trainer's class, "engine.gan.live.GAN2DTrainer"
    config: dict  # {"architecture": {...}, "settings": {...}} or {"config": {...}}
    state: dict  # what trainer.state_dict() gave
    data: np.ndarray  # the training points
    extra: dict

    @property
    def step_count(self) -> int:
        return int(self.state["step_count"])


def kind(trainer) -> str:
    cls = type(trainer)
    return f"{cls.__module__}.{cls.__qualname__}"


def data_fingerprint(data) -> str:
    """sha256 of the training points as float64 (the same points give the same fingerprint)."""
    x = np.ascontiguousarray(np.asarray(data, dtype=np.float64))
    return hashlib.sha256(str(x.shape).encode() + x.tobytes()).hexdigest()


def config_of(trainer) -> dict:
    return {name: asdict(value) for name in CONFIG_FIELDS
            if is_dataclass(value := getattr(trainer, name, None)) and not isinstance(value, type)}


def to_bytes(trainer, extra: dict | None = None) -> bytes:
    """The trainer's whole state as the bytes of a safetensors file (see the module docstring)."""
    arrays: dict[str, np.ndarray] = {"data": np.asarray(trainer.data, dtype=np.float64).copy()}
    skeleton = _split(trainer.state_dict(), "state", arrays)
    metadata = {
        "format": FORMAT,
        "kind": kind(trainer),
        "state": json.dumps(skeleton),
        "config": json.dumps(config_of(trainer)),
        "extra": json.dumps(extra or {}),
    }
    return save_arrays(arrays, metadata={PREFIX + k: v for k, v in metadata.items()})


def read(blob: bytes) -> SavedTrainer:
    """A trainer file's contents; :class:`TrainerFileError` for anything that is not one."""
    metadata = _metadata(blob)
    if metadata.get(PREFIX + "format") != FORMAT:
        raise TrainerFileError("not_a_model", "this safetensors file holds no live model of this app")
    try:
        arrays = load_arrays(blob)
        state = _join(json.loads(metadata[PREFIX + "state"]), arrays)
        return SavedTrainer(metadata[PREFIX + "kind"], json.loads(metadata[PREFIX + "config"]), state,
                            arrays["data"], json.loads(metadata[PREFIX + "extra"]))
    except Exception as error:  # missing entries or arrays, or safetensors' own errors (truncated data)
        raise TrainerFileError("damaged", f"the file is damaged ({error})") from None


def restore(trainer, saved: SavedTrainer) -> None:
    """Load ``saved`` into ``trainer`` (built from the same config): refused for another kind of model or
    other training points, or when the weights do not fit (another architecture)."""
    if saved.kind != kind(trainer):
        found, wanted = saved.kind.rsplit(".", 1)[-1], type(trainer).__name__
        raise TrainerFileError("other_kind", f"the file holds a {found}, not a {wanted}", found=found, wanted=wanted)
    if data_fingerprint(saved.data) != data_fingerprint(trainer.data):
        raise TrainerFileError("other_points", "the model was trained on other points")
    before = trainer.state_dict()
    try:
        trainer.load_state_dict(saved.state)
    except Exception as error:  # any mismatch: a wrong key, shape, type or version
        trainer.load_state_dict(before)  # a half-loaded trainer would train on a mix of both
        reason = str(error).splitlines()[0]
        raise TrainerFileError("does_not_fit", f"the weights do not fit this network ({reason})",
                               reason=reason) from None


# ---- the state as JSON plus arrays
def _split(value, path: str, arrays: dict) -> Any:
    if isinstance(value, np.ndarray):
        arrays[path] = value if value.flags.c_contiguous else value.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
        return {"tensor": path}
    if isinstance(value, np.generic):  # a numpy scalar: keep its dtype (float32 stays float32)
        arrays[path] = np.asarray(value)
        return {"tensor": path, "scalar": True}
    if isinstance(value, dict):
        return {"dict": [[k, _split(v, f"{path}/{k}", arrays)] for k, v in value.items()]}
    if isinstance(value, list) and (columns := _columns(value)) is not None:  # a history: one array per metric
        for name, column in columns.items():
            arrays[f"{path}/{name}"] = column
        return {"records": [[name, f"{path}/{name}"] for name in columns], "length": len(value)}
    if isinstance(value, list | tuple):
        items = [_split(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]
        return {"tuple": items} if isinstance(value, tuple) else items
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store {type(value).__name__} at {path}")


def _columns(records: list) -> dict[str, np.ndarray] | None:
    """A list of dicts of numbers (a history) as one array per key, all floats or all ints per key
    (8 bytes a value in a file instead of about 25 as JSON); None for anything else. A key that only some
    entries have (the VAE's exact log p(x), every 25 steps) gets a placeholder where it is missing and a
    ``<key>?`` array of 0/1 saying where it is there."""
    if not records or not all(type(r) is dict for r in records):
        return None
    keys = list(dict.fromkeys(k for r in records for k in r))
    if not all(isinstance(k, str) and not k.endswith("?") for k in keys):
        return None
    columns = {}
    for k in keys:
        present = np.array([k in r for r in records])
        kinds = {type(r[k]) for r in records if k in r}
        if kinds not in ({float}, {int}):
            return None
        columns[k] = np.array([r.get(k, 0) for r in records], dtype=np.float64 if kinds == {float} else np.int64)
        if not present.all():
            columns[k + "?"] = present.astype(np.uint8)
    return columns


def _join(value, arrays: dict) -> Any:
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    if isinstance(value, dict) and "records" in value:
        columns = {name: arrays[tensor].tolist() for name, tensor in value["records"]}
        keys = [name for name in columns if not name.endswith("?")]
        present = {name: columns.get(name + "?") for name in keys}
        return [{name: columns[name][i] for name in keys if present[name] is None or present[name][i]}
                for i in range(value["length"])]
    if isinstance(value, dict):
        if "tensor" in value:
            array = arrays[value["tensor"]]
            return array[()] if value.get("scalar") else array
        if "tuple" in value:
            return tuple(_join(v, arrays) for v in value["tuple"])
        return {k: _join(v, arrays) for k, v in value["dict"]}
    return value


def _metadata(blob: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file: 8 bytes of header length (little endian), then JSON."""
    if not isinstance(blob, bytes | bytearray) or len(blob) < 8:
        raise TrainerFileError("not_safetensors", "the file is not a safetensors file (too short)")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > min(MAX_HEADER, len(blob) - 8):
        raise TrainerFileError("not_safetensors", "the file is not a safetensors file (no header)")
    try:
        header = json.loads(blob[8:8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TrainerFileError("not_safetensors", "the file is not a safetensors file (no JSON header)") from None
    metadata = header.get("__metadata__", {}) if isinstance(header, dict) else {}
    return metadata if isinstance(metadata, dict) else {}
