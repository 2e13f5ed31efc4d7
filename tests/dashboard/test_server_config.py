"""The server settings in `.streamlit/config.toml`, read the way `streamlit run` reads them."""

from __future__ import annotations

import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def settings() -> dict:
    with CONFIG.open("rb") as f:
        return tomllib.load(f)


def test_no_full_garbage_collection_after_every_run():
    """Streamlit's default runs gc.collect(2) after every script and fragment run. With torch and
    plotly loaded that holds the GIL for a tenth of a second or more, between every two ticks of a
    live panel and in every session at once; Pause waited for it (0.9-1.2 s measured, 0.2-0.5 s without)."""
    assert settings()["runner"]["postScriptGC"] is False


def test_magic_and_file_watching_stay_off():
    s = settings()
    assert s["runner"]["magicEnabled"] is False
    assert s["server"]["fileWatcherType"] == "none"


def test_upload_sizes_are_bounded_just_above_what_the_app_reads():
    """Streamlit's default lets one upload put 200 MB in a shared server's memory. The server's limit is
    the model file uploader's (the largest upload: a model file of the widest live GAN fits), and the CSV
    uploader has its own just above the app's CSV limit ``MAX_BYTES``. Limits are whole megabytes
    (1,000,000 bytes in the browser's check, 1 MiB on the server): the smaller unit must still let a file
    at the app's limit through, so the app, not Streamlit, explains what is too large."""
    import numpy as np

    from dashboard.shared import model_files, points_upload
    from engine import trainer_files
    from engine.data.points import MAX_BYTES
    from engine.gan.live import GAN2DTrainer, GANArchitecture, GANSettings

    limit_mb = settings()["server"]["maxUploadSize"]
    assert isinstance(limit_mb, int) and not isinstance(limit_mb, bool)
    assert limit_mb == model_files.MAX_MB
    csv_mb = points_upload.CSV_MAX_MB
    assert csv_mb * 1_000_000 > MAX_BYTES
    assert csv_mb <= max(1, -(-MAX_BYTES // 1_000_000) + 1), "far above what the app accepts"
    widest = GAN2DTrainer(np.random.default_rng(0).normal(size=(2000, 2)), GANArchitecture(width=256, depth=4),
                          GANSettings())
    widest.step(20)  # the size is the weights and Adam moments; the history adds 16 bytes a step
    size = len(trainer_files.to_bytes(widest))
    assert size < model_files.MAX_MB * 1_000_000 / 2, f"a model file of {size} bytes leaves too little room to train on"
