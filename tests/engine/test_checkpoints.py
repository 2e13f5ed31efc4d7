"""engine.checkpoints: exact round trips, model cards, and every way a checkpoint can be bad.

Tolerances: none. A safetensors round trip stores the exact bytes of every tensor, so outputs of
the reloaded model must be bit-identical (torch.equal), not merely close.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from engine import checkpoints, models
from engine.checkpoints import (
    CheckpointError,
    checkpoint_paths,
    load_checkpoint,
    load_pretrained,
    read_card,
    register,
    save_checkpoint,
)
from engine.models import ShippedModel

REBUILD = "python -m engine.train toy"


def mlp(hidden: int = 8) -> nn.Module:
    return nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3))


class WithBuffer(nn.Module):
    """A parameter plus a persistent buffer (like BatchNorm's running statistics)."""

    def __init__(self, width: int = 5):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.register_buffer("shift", torch.zeros(width))

    def forward(self, x):
        return self.linear(x) - self.shift


def toy_builder(config: dict) -> nn.Module:
    return mlp(config["hidden"])


def saved(tmp_path: Path, model: nn.Module | None = None, **card) -> tuple[nn.Module, Path]:
    torch.manual_seed(0)
    model = model or mlp()
    save_checkpoint(model, tmp_path / "toy", {"name": "toy", "config": {"hidden": 8}, "rebuild": REBUILD, **card})
    return model, tmp_path / "toy"


@pytest.fixture
def no_unpickling(monkeypatch):
    """Make every unpickling entry point explode, so a test proves none of them is reached."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint was unpickled")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(torch, "load", forbidden)


def test_round_trip_reproduces_outputs_exactly(tmp_path):
    model, path = saved(tmp_path)
    fresh = mlp()
    card = load_checkpoint(path, fresh)
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(model(x), fresh(x))
    assert card["config"] == {"hidden": 8}


def test_round_trip_with_buffer(tmp_path):
    torch.manual_seed(0)
    model = WithBuffer()
    model.shift.copy_(torch.arange(5.0))
    save_checkpoint(model, tmp_path / "buf", {"config": {}})
    fresh = WithBuffer()
    load_checkpoint(tmp_path / "buf.safetensors", fresh)  # the suffix is optional
    assert torch.equal(fresh.shift, torch.arange(5.0))
    x = torch.randn(3, 5)
    assert torch.equal(model(x), fresh(x))


def test_tied_weights_can_be_saved(tmp_path):
    # save_file refuses tensors that share storage; save_checkpoint copies them.
    model = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Linear(3, 3, bias=False))
    model[1].weight = model[0].weight
    save_checkpoint(model, tmp_path / "tied", {})
    fresh = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Linear(3, 3, bias=False))
    load_checkpoint(tmp_path / "tied", fresh)
    assert torch.equal(fresh[1].weight, model[0].weight)


def test_card_holds_caller_fields_and_provenance(tmp_path):
    model, path = saved(tmp_path, metrics={"accuracy": 0.99}, epochs=3)
    weights, card_path = checkpoint_paths(path)
    card = read_card(path)
    assert card == json.loads(card_path.read_text())
    assert card["metrics"] == {"accuracy": 0.99} and card["epochs"] == 3 and card["name"] == "toy"
    assert card["format"] == "safetensors"
    assert card["torch_version"] == torch.__version__
    assert card["parameters"] == sum(p.numel() for p in model.parameters()) == 4 * 8 + 8 + 8 * 3 + 3
    assert len(card["sha256"]) == 64
    assert card["created"].endswith("+00:00")  # UTC, ISO 8601
    assert card_path.read_text().startswith("{\n  ")  # pretty-printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.json", "toy.safetensors"]  # no temp files left


def test_card_is_deterministic_apart_from_the_date(tmp_path):
    torch.manual_seed(0)
    model = mlp()
    texts = []
    for folder in ("a", "b"):
        save_checkpoint(model, tmp_path / folder / "m", {"config": {"hidden": 8}, "data": [0, 7999]})
        card = read_card(tmp_path / folder / "m")
        card.pop("created")
        texts.append(json.dumps(card))
    assert texts[0] == texts[1]
    assert (tmp_path / "a" / "m.safetensors").read_bytes() == (tmp_path / "b" / "m.safetensors").read_bytes()


def test_flipped_byte_is_rejected_with_rebuild_command(tmp_path, no_unpickling):
    _, path = saved(tmp_path)
    weights, _ = checkpoint_paths(path)
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0x01  # inside the last tensor's bytes: still parses, so only the hash can catch it
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its model card") as info:
        load_checkpoint(path, mlp())
    assert f"Run: {REBUILD}" in str(info.value)


def test_truncated_file_is_rejected(tmp_path):
    _, path = saved(tmp_path)
    weights, _ = checkpoint_paths(path)
    weights.write_bytes(weights.read_bytes()[:-20])
    with pytest.raises(CheckpointError, match=REBUILD):
        load_checkpoint(path, mlp())


def test_corrupted_file_with_matching_hash_is_rejected(tmp_path):
    # A card rewritten to match garbage passes the hash check; the parser must still refuse it.
    _, path = saved(tmp_path)
    weights, card_path = checkpoint_paths(path)
    weights.write_bytes(weights.read_bytes()[:40])
    card = read_card(path)
    card["sha256"] = checkpoints._sha256(weights)
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(path, mlp())


@pytest.mark.parametrize("missing", ["safetensors", "json"])
def test_missing_files_are_reported(tmp_path, missing):
    _, path = saved(tmp_path)
    (tmp_path / f"toy.{missing}").unlink()
    with pytest.raises(CheckpointError, match="is missing"):
        load_checkpoint(path, mlp())


def test_nothing_there_at_all(tmp_path):
    with pytest.raises(CheckpointError, match=r"is missing\. Run: "):
        load_checkpoint(tmp_path / "never_saved", mlp(), rebuild="python -m engine.train never")


def test_broken_card_is_reported(tmp_path):
    _, path = saved(tmp_path)
    checkpoint_paths(path)[1].write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_card(path)


def test_card_without_hash_is_refused(tmp_path):
    _, path = saved(tmp_path)
    card = read_card(path)
    del card["sha256"]
    checkpoint_paths(path)[1].write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="no sha256"):
        load_checkpoint(path, mlp())


def test_architecture_mismatch_names_the_keys(tmp_path):
    _, path = saved(tmp_path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, mlp(hidden=16))
    message = str(info.value)
    assert "wrong shape" in message and "0.weight (file (8, 4), model (16, 4))" in message
    assert REBUILD in message

    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.ReLU(), nn.Linear(3, 3))
    with pytest.raises(CheckpointError, match=r"missing 4\.bias, 4\.weight"):
        load_checkpoint(path, other)
    with pytest.raises(CheckpointError, match=r"unexpected 2\.bias, 2\.weight"):
        load_checkpoint(path, nn.Sequential(nn.Linear(4, 8)))


@pytest.mark.parametrize("payload", ["state_dict", "malicious"])
def test_pickle_renamed_to_safetensors_is_never_unpickled(tmp_path, request, payload):
    weights, card_path = checkpoint_paths(tmp_path / "evil")
    sentinel = tmp_path / "code_ran"
    if payload == "state_dict":
        torch.save(mlp().state_dict(), weights)  # a classic .pt checkpoint (zip of pickles)
    else:
        class Evil:  # unpickling this would create the sentinel file
            def __reduce__(self):
                return (Path.touch, (sentinel,))

        weights.write_bytes(pickle.dumps(Evil()))
    # The card matches the bytes, so only the format itself stands between the file and the model.
    card_path.write_text(json.dumps({"sha256": checkpoints._sha256(weights), "format": "safetensors"}))
    request.getfixturevalue("no_unpickling")  # only now: torch.save above must still work
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(tmp_path / "evil", mlp())
    assert not sentinel.exists()


def test_load_onto_explicit_device_moves_the_model(tmp_path):
    _, path = saved(tmp_path)
    fresh = mlp()
    load_checkpoint(path, fresh, device="cpu")
    assert all(p.device.type == "cpu" for p in fresh.parameters())


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """An empty registry and an assets folder in tmp_path (the real ones stay untouched)."""
    monkeypatch.setattr(checkpoints, "_REGISTRY", {})
    monkeypatch.setattr(models, "SHIPPED", {})
    monkeypatch.setattr(checkpoints, "ASSETS_DIR", tmp_path)
    return tmp_path


def test_load_pretrained_is_read_only_and_in_eval_mode(registry):
    def builder(config):  # with dropout, so eval mode changes the outputs
        return nn.Sequential(nn.Linear(4, config["hidden"]), nn.Dropout(0.5), nn.Linear(config["hidden"], 3))

    register("toy", builder, REBUILD)
    torch.manual_seed(0)
    original = builder({"hidden": 8})
    save_checkpoint(original, registry / "toy", {"config": {"hidden": 8}})
    model, card = load_pretrained("toy")
    from engine.device import pick_device

    expected = pick_device()
    assert not model.training and not any(m.training for m in model.modules())
    assert all(not p.requires_grad for p in model.parameters())
    assert all(p.device.type == expected.type for p in model.parameters())
    assert card["config"] == {"hidden": 8}
    x = torch.randn(5, 4)
    assert torch.equal(model(x.to(expected)).cpu(), original.eval()(x))

    model_cpu, _ = load_pretrained("toy", device="cpu")
    assert all(p.device.type == "cpu" for p in model_cpu.parameters())


def test_load_pretrained_missing_checkpoint_names_rebuild(registry):
    register("toy", toy_builder, REBUILD)
    with pytest.raises(CheckpointError, match=f"toy.json is missing. Run: {REBUILD}"):
        load_pretrained("toy", device="cpu")


def test_load_pretrained_with_an_outdated_card(registry):
    register("toy", toy_builder, REBUILD)
    save_checkpoint(mlp(), registry / "toy", {"config": {"width": 8}})  # builder wants "hidden"
    with pytest.raises(CheckpointError, match="does not describe a buildable model"):
        load_pretrained("toy", device="cpu")


def test_unknown_name_lists_registered_ones(registry):
    register("toy", toy_builder, REBUILD)
    register("vae", toy_builder, "python -m engine.train vae")
    models.SHIPPED["classifier"] = ShippedModel("classifier", "engine.mnist.classifier", "build_classifier", ())
    with pytest.raises(CheckpointError, match=r"no pretrained model named 'gan' \(registered: classifier, toy, vae\)"):
        load_pretrained("gan", device="cpu")


def test_a_shipped_models_module_is_imported_only_when_it_is_loaded(registry, tmp_path, monkeypatch):
    # engine.models names the module and its builder, as it does for engine.mnist.classifier.
    module_dir = tmp_path / "providers"
    module_dir.mkdir()
    (module_dir / "toy_provider.py").write_text(
        "from torch import nn\n"
        "def build_lazy(config):\n"
        "    return nn.Linear(2, config['out'])\n")
    monkeypatch.syspath_prepend(str(module_dir))
    monkeypatch.delitem(sys.modules, "toy_provider", raising=False)
    models.SHIPPED["lazy"] = ShippedModel("lazy", "toy_provider", "build_lazy", ())
    save_checkpoint(nn.Linear(2, 3), registry / "lazy", {"config": {"out": 3}})
    assert "toy_provider" not in sys.modules
    model, card = load_pretrained("lazy", device="cpu")
    assert "toy_provider" in sys.modules
    assert model.weight.shape == (3, 2)
    monkeypatch.delitem(sys.modules, "toy_provider")


def test_every_shipped_model_has_a_builder_a_trainer_and_a_rebuild_command():
    """The one table (engine.models) agrees with the modules it names and with `python -m engine.train`."""
    from engine.train import parse_args

    assert set(models.SHIPPED) == {"classifier", "vae2d", "vae", "ae", "dcgan", "ddpm"}
    for name, shipped in models.SHIPPED.items():
        assert callable(shipped.builder()) and callable(shipped.trainer())
        assert shipped.rebuild == f"python -m engine.train {name}"
        assert parse_args([name]).model == name
        assert shipped.headline, name


def test_named_tensors_round_trip_exactly_and_are_hash_checked(tmp_path, no_unpickling):
    tensors = {"grid": torch.randint(0, 256, (2, 3, 4), dtype=torch.uint8), "d": torch.rand(5),
               "steps": torch.arange(3)}
    sha = checkpoints.save_tensors(tmp_path / "film.safetensors", tensors)
    loaded = checkpoints.load_tensors(tmp_path / "film.safetensors", sha, rebuild=REBUILD)
    assert set(loaded) == set(tensors) and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    raw = bytearray((tmp_path / "film.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (tmp_path / "film.safetensors").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=f"does not match its model card.*Run: {REBUILD}"):
        checkpoints.load_tensors(tmp_path / "film.safetensors", sha, rebuild=REBUILD)
    with pytest.raises(CheckpointError, match="no sha256"):
        checkpoints.load_tensors(tmp_path / "film.safetensors", None)
    with pytest.raises(CheckpointError, match="missing"):
        checkpoints.load_tensors(tmp_path / "other.safetensors", sha)
