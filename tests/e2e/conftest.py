"""A real streamlit server and a real headless Chromium (Debian's, never a downloaded one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.browser import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
SERVER_START_TIMEOUT_S = 120
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str):
    """Skip on a laptop without a browser; fail in CI, where a skipped browser test proves nothing."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = chromium_path()
    if path is None:
        unavailable("no Chromium found (set CHROMIUM_PATH or `apt-get install chromium fonts-noto-cjk`)")
    return path


@pytest.fixture(scope="session")
def server_log() -> Path:
    """Everything the server prints (stdout and stderr), for checks on what a page logged."""
    return OUTPUT / "streamlit-server.log"


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen

    def alive(self) -> bool:
        """The process runs and answers its health check (a crash takes every session down)."""
        if self.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False


@pytest.fixture(scope="session")
def streamlit_app(chromium_executable, server_log) -> Server:
    """`streamlit run dashboard/Home.py` on a free port (its URL and process); always stopped afterwards."""
    port = free_port()
    OUTPUT.mkdir(exist_ok=True)
    log = server_log
    command = [
        sys.executable, "-X", "faulthandler", "-m", "streamlit", "run", "dashboard/Home.py",
        "--server.headless", "true", "--server.port", str(port), "--browser.gatherUsageStats", "false",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        wait_healthy(url, process, log, timeout_s=SERVER_START_TIMEOUT_S)
        yield Server(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="session")
def streamlit_server(streamlit_app) -> str:
    """Base URL of the session's streamlit server."""
    return streamlit_app.url


@pytest.fixture(scope="session")
def browser(chromium_executable):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()
