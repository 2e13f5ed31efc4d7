"""engine.device: device choice from GENMODELS_DEVICE and the once-only torch thread cap."""

from __future__ import annotations

import ast
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from engine import device

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_state(monkeypatch):
    """Each test starts uncapped with no overrides, and leaves torch's thread count as it found it."""
    threads = torch.get_num_threads()
    monkeypatch.delenv(device.DEVICE_ENV, raising=False)
    monkeypatch.delenv(device.THREADS_ENV, raising=False)
    monkeypatch.setattr(device, "_configured_threads", None)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "_mps_available", lambda _torch: False)


def test_cpu_from_environment(monkeypatch):
    monkeypatch.setenv(device.DEVICE_ENV, "cpu")
    assert device.pick_device() == torch.device("cpu")


def test_environment_is_case_and_space_insensitive(monkeypatch):
    monkeypatch.setenv(device.DEVICE_ENV, "  CPU ")
    assert device.pick_device() == torch.device("cpu")


def test_argument_overrides_environment(monkeypatch, no_gpu):
    monkeypatch.setenv(device.DEVICE_ENV, "cuda")
    assert device.pick_device("cpu") == torch.device("cpu")


def test_auto_falls_back_to_cpu(monkeypatch, no_gpu):
    assert device.pick_device() == torch.device("cpu")
    monkeypatch.setenv(device.DEVICE_ENV, "auto")
    assert device.pick_device() == torch.device("cpu")


def test_auto_prefers_cuda(monkeypatch, no_gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.pick_device("auto") == torch.device("cuda")


def test_missing_cuda_raises_clearly(monkeypatch, no_gpu):
    monkeypatch.setenv(device.DEVICE_ENV, "cuda")
    with pytest.raises(ValueError, match="'cuda' was requested but torch sees no CUDA GPU"):
        device.pick_device()


def test_missing_mps_raises_clearly(no_gpu):
    with pytest.raises(ValueError, match="'mps' was requested"):
        device.pick_device("mps")


@pytest.mark.parametrize("junk", ["tpu", "gpu", "cuda:0"])
def test_junk_value_raises(monkeypatch, junk):
    monkeypatch.setenv(device.DEVICE_ENV, junk)
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda, mps"):
        device.pick_device()


def test_configure_threads_caps_once():
    assert device.configure_threads(1) == 1
    assert torch.get_num_threads() == 1
    # Later calls keep the first cap, whatever they ask for.
    assert device.configure_threads(3) == 1
    assert device.configure_threads() == 1
    assert torch.get_num_threads() == 1


def test_configure_threads_default_is_one_thread_per_process():
    assert device.DEFAULT_THREADS == 1
    assert device.configure_threads() == 1
    assert torch.get_num_threads() == 1


def test_configure_threads_sets_torch_once_even_from_racing_threads(monkeypatch):
    """The first sessions of a server start in parallel: only one of them may set the count."""
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n))
    barrier = threading.Barrier(8)

    def first_run():
        barrier.wait()
        return device.configure_threads()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: first_run(), range(8)))
    assert results == [1] * 8 and calls == [1]


def test_no_code_path_changes_the_thread_count_after_start_up():
    """torch.set_num_threads is process-wide; calling it while other sessions compute is undefined
    behaviour in OpenMP. Only configure_threads (start-up) and the training CLI (a process of its
    own, through configure_threads) may set it."""
    offenders = []
    for folder in ("engine", "dashboard"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr in {"set_num_threads", "set_num_interop_threads"}:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == ["engine/device.py:" + str(_line_of_set_num_threads())]


def _line_of_set_num_threads() -> int:
    source = (ROOT / "engine" / "device.py").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(source, 1) if "torch.set_num_threads(threads)" in line)


def test_threads_environment_overrides_argument(monkeypatch):
    monkeypatch.setenv(device.THREADS_ENV, "2")
    assert device.configure_threads(1) == 2
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("env, argument", [("many", None), ("0", None), (None, 0), (None, -2)])
def test_bad_thread_caps_raise(monkeypatch, env, argument):
    if env is not None:
        monkeypatch.setenv(device.THREADS_ENV, env)
    with pytest.raises(ValueError):
        device.configure_threads(argument)
    assert device._configured_threads is None  # a failed call caps nothing


def test_describe_cpu(no_gpu):
    for info in (device.describe(), device.describe("cpu"), device.describe(torch.device("cpu"))):
        assert info == device.DeviceInfo("cpu", "", torch.get_num_threads())
    assert device.describe().threads >= 1
