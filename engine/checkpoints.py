"""Save and load model weights as safetensors plus a JSON model card; never unpickle.

A checkpoint named ``path`` is two files side by side:

* ``<path>.safetensors``: the ``state_dict`` (parameters and persistent buffers), CPU tensors.
  safetensors is a header of names/shapes/dtypes plus raw bytes, so reading a file can never run
  code, unlike ``torch.load`` of a pickle. Nothing in this module calls ``torch.load`` or pickle.
* ``<path>.json``: the model card, pretty-printed. It holds everything the trainer passed
  (``config``, data, epochs, device, wall time, metrics, ``rebuild`` command, ...) plus what
  :func:`save_checkpoint` adds: ``sha256`` of the weights file, ``format`` ("safetensors"),
  ``torch_version``, ``created`` (UTC, ISO 8601) and ``parameters`` (number of trainable and
  frozen parameter values, buffers excluded).

``path`` may be given with or without a ``.safetensors`` / ``.json`` suffix.

Loading checks the weights' sha256 against the card *before* the file is parsed, so a tampered,
truncated or half-copied file is rejected up front. Every failure (missing file, unreadable or
corrupted file, hash mismatch, wrong architecture) raises :class:`CheckpointError`, whose
message says what happened and which command rebuilds the checkpoint.

Shipped models live in :data:`ASSETS_DIR` and are loaded by name with :func:`load_pretrained`.
Which models ship, and which module builds each, is one table, ``engine.models.SHIPPED``;
:func:`load_pretrained` imports a model's module only when it is loaded (keeping
``import engine.checkpoints`` light and free of import cycles: the model modules import this one,
not the reverse). A notebook can add its own with ``register(name, builder, rebuild)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from engine import models

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets" / "models"
FORMAT = "safetensors"
GENERIC_REBUILD = "python -m engine.train <model>"  # when neither caller, card nor registry knows better
_HASH_CHUNK = 1 << 20


class CheckpointError(Exception):
    """A checkpoint cannot be used: missing, unreadable, corrupted, tampered or the wrong architecture.

    ``rebuild`` is the command that recreates it; the message always ends with "Run: <rebuild>".
    """

    def __init__(self, problem: str, rebuild: str | None = None):
        self.problem = problem
        self.rebuild = rebuild or GENERIC_REBUILD
        super().__init__(f"{problem}. Run: {self.rebuild}")


class Entry(NamedTuple):
    """A registered shipped model: ``builder(card["config"]) -> nn.Module`` and its rebuild command."""

    builder: Callable[[dict], nn.Module]
    rebuild: str


_REGISTRY: dict[str, Entry] = {}  # models registered at run time (a notebook's own); shipped ones: engine.models


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(weights, card)`` paths of the checkpoint ``path`` (a known suffix is dropped first)."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def _atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Write via a temp file in the same folder + os.replace, so readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a classroom server may run as another user
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    # Trainers naturally pass frozen config dataclasses, Paths and numpy scalars; store them as plain JSON.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    raise TypeError(f"model card values must be JSON-serialisable; got {type(value).__name__}")


def save_checkpoint(model: nn.Module, path: str | os.PathLike, card: dict) -> Path:
    """Write ``<path>.safetensors`` and the model card ``<path>.json``; return the weights path.

    The card is ``card`` (key order kept) followed by ``sha256``, ``format``, ``torch_version``,
    ``created`` and ``parameters``, which overwrite caller keys of the same name. Both files are
    written atomically; the weights go first, so a crash in between leaves a stale card whose
    hash no longer matches, which loading reports instead of silently using.
    """
    weights_path, card_path = checkpoint_paths(path)
    # clone(): tensors sharing storage (tied weights, views) are refused by save_file; copies are not.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    _atomic_write(weights_path, lambda tmp: save_file(tensors, str(tmp)))
    full = {
        **card,
        "sha256": _sha256(weights_path),
        "format": FORMAT,
        "torch_version": torch.__version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    text = json.dumps(full, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    _atomic_write(card_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return weights_path


def _rebuild_hint(card: dict | None, rebuild: str | None) -> str | None:
    """The rebuild command: explicit argument, else the card's "rebuild", else the registry's for its "name"."""
    if rebuild:
        return rebuild
    if isinstance(card, dict):
        if isinstance(card.get("rebuild"), str):
            return card["rebuild"]
        name = card.get("name")
        if isinstance(name, str) and name in _REGISTRY:
            return _REGISTRY[name].rebuild
        if isinstance(name, str) and name in models.SHIPPED:
            return models.SHIPPED[name].rebuild
    return None


def read_card(path: str | os.PathLike, *, rebuild: str | None = None) -> dict:
    """The model card of checkpoint ``path`` as a dict; CheckpointError if missing or not a JSON object."""
    _, card_path = checkpoint_paths(path)
    try:
        text = card_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckpointError(f"model card {card_path} is missing", rebuild) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"model card {card_path} cannot be read ({exc})", rebuild) from exc
    try:
        card = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"model card {card_path} is not valid JSON ({exc})", rebuild) from exc
    if not isinstance(card, dict):
        raise CheckpointError(f"model card {card_path} is not a JSON object", rebuild)
    return card


def _architecture_problems(found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> list[str]:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    misshaped = sorted(
        f"{k} (file {tuple(found[k].shape)}, model {tuple(expected[k].shape)})"
        for k in set(found) & set(expected)
        if found[k].shape != expected[k].shape
    )
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected " + ", ".join(unexpected))
    if misshaped:
        problems.append("wrong shape " + ", ".join(misshaped))
    return problems


def _model_device(model: nn.Module) -> torch.device:
    for tensor in [*model.parameters(), *model.buffers()]:
        return tensor.device
    return torch.device("cpu")


def load_checkpoint(path: str | os.PathLike, model: nn.Module, device: str | torch.device | None = None,
                    *, rebuild: str | None = None) -> dict:
    """Load the weights of checkpoint ``path`` into ``model`` (strictly) and return its card.

    ``device``: when given, ``model`` is moved there and the tensors are read straight onto it;
    when None, the tensors are read onto the device the model already lives on. ``rebuild``
    overrides the command named in error messages (default: the card's "rebuild" field).
    Order: read card -> check sha256 of the raw bytes -> parse -> check names/shapes -> load.
    """
    weights_path, _ = checkpoint_paths(path)
    card = read_card(path, rebuild=rebuild)
    hint = _rebuild_hint(card, rebuild)
    if card.get("format", FORMAT) != FORMAT:
        raise CheckpointError(f"{weights_path}: card says format {card.get('format')!r}, expected {FORMAT!r}", hint)
    expected_sha = card.get("sha256")
    if not isinstance(expected_sha, str):
        raise CheckpointError(f"model card of {weights_path} has no sha256 to verify the weights against", hint)
    try:
        actual_sha = _sha256(weights_path)
    except FileNotFoundError:
        raise CheckpointError(f"weights file {weights_path} is missing", hint) from None
    except OSError as exc:
        raise CheckpointError(f"weights file {weights_path} cannot be read ({exc})", hint) from exc
    if actual_sha != expected_sha.lower():
        raise CheckpointError(
            f"weights file {weights_path} does not match its model card (sha256 {actual_sha[:12]}..., "
            f"card says {expected_sha[:12]}...): it was modified, truncated or belongs to another card", hint)

    if device is not None:
        device = torch.device(device)
        model.to(device)
    else:
        device = _model_device(model)
    try:
        state = load_file(weights_path, device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"weights file {weights_path} is not a readable safetensors file ({exc})", hint) from exc

    problems = _architecture_problems(state, model.state_dict())
    if problems:
        raise CheckpointError(
            f"{weights_path} does not fit {type(model).__name__}: " + "; ".join(problems), hint)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied; names and shapes were checked above
        raise CheckpointError(f"{weights_path} cannot be loaded into {type(model).__name__} ({exc})", hint) from exc
    return card


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor]) -> str:
    """Write named tensors (e.g. a training film) to the safetensors file ``path``; return its sha256.

    For data that belongs to a checkpoint but is not a model's state: record the returned hash in
    the model card and read the file back with :func:`load_tensors`, which checks it first.
    """
    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    _atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))
    return _sha256(path)


def load_tensors(path: str | os.PathLike, sha256: str, *, rebuild: str | None = None) -> dict[str, torch.Tensor]:
    """The named CPU tensors of safetensors file ``path``, after checking its sha256 (before parsing).

    CheckpointError (naming ``rebuild``) if the file is missing, unreadable or does not match ``sha256``.
    """
    path = Path(path)
    if not isinstance(sha256, str):
        raise CheckpointError(f"no sha256 to verify {path} against", rebuild)
    try:
        actual = _sha256(path)
    except FileNotFoundError:
        raise CheckpointError(f"file {path} is missing", rebuild) from None
    except OSError as exc:
        raise CheckpointError(f"file {path} cannot be read ({exc})", rebuild) from exc
    if actual != sha256.lower():
        raise CheckpointError(f"file {path} does not match its model card (sha256 {actual[:12]}..., card says "
                              f"{sha256[:12]}...): it was modified, truncated or belongs to another card", rebuild)
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"file {path} is not a readable safetensors file ({exc})", rebuild) from exc


def register(name: str, builder: Callable[[dict], nn.Module], rebuild: str) -> None:
    """Register a shipped model: ``builder(card["config"])`` makes the architecture; ``rebuild`` recreates it.

    Registering a name again replaces the entry (module reloads in a notebook are harmless).
    """
    _REGISTRY[name] = Entry(builder, rebuild)


def registered_names() -> list[str]:
    """Names :func:`load_pretrained` knows: the shipped models (``engine.models``) and registered ones."""
    return sorted(set(_REGISTRY) | set(models.SHIPPED))


def _entry(name: str) -> Entry:
    entry = _REGISTRY.get(name)
    if entry is None and name in models.SHIPPED:
        shipped = models.SHIPPED[name]
        entry = Entry(shipped.builder(), shipped.rebuild)  # imports the model's module on first use
    if entry is None:
        known = ", ".join(registered_names()) or "none"
        raise CheckpointError(f"no pretrained model named {name!r} (registered: {known})",
                              f"python -m engine.train {name}")
    return entry


def load_pretrained(name: str, device: str | torch.device | None = None) -> tuple[nn.Module, dict]:
    """The shipped model ``name`` from :data:`ASSETS_DIR` as ``(model, card)``, read-only.

    The model is built from the card's "config", loaded strictly, moved to ``device`` (default
    :func:`engine.device.pick_device`), put in eval mode and frozen with ``requires_grad_(False)``:
    one copy is shared by every dashboard session, so it must never be trained in place
    (train a ``copy.deepcopy`` with gradients switched back on instead).
    """
    entry = _entry(name)
    if device is None:
        from engine.device import pick_device

        device = pick_device()
    path = ASSETS_DIR / name  # read at call time so tests (and notebooks) can point it elsewhere
    card = read_card(path, rebuild=entry.rebuild)
    config = card.get("config", {})
    if not isinstance(config, dict):
        raise CheckpointError(f"model card of {name!r} has a 'config' that is not an object", entry.rebuild)
    try:
        model = entry.builder(config)
    except (TypeError, ValueError, KeyError) as exc:  # a card written by an older version of the code
        raise CheckpointError(f"model card of {name!r} does not describe a buildable model ({exc})",
                              entry.rebuild) from exc
    card = load_checkpoint(path, model, device, rebuild=entry.rebuild)  # the card that was verified
    model.eval().requires_grad_(False)
    return model, card
