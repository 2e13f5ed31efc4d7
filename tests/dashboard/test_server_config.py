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


def test_upload_size_is_bounded_just_above_the_apps_csv_limit():
    """Streamlit's default lets one upload put 200 MB in a shared server's memory; the app reads
    only point CSVs up to ``MAX_BYTES``. The option is whole megabytes (1,000,000 bytes in the
    browser's check, 1 MiB on the server): the smaller unit must still let a file at the app's
    limit through, so the app, not Streamlit, explains what is too large."""
    from engine.data.points import MAX_BYTES

    limit_mb = settings()["server"]["maxUploadSize"]
    assert isinstance(limit_mb, int) and not isinstance(limit_mb, bool)
    assert limit_mb * 1_000_000 > MAX_BYTES
    assert limit_mb <= max(1, -(-MAX_BYTES // 1_000_000) + 1), "far above what the app accepts"
