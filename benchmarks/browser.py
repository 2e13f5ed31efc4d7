"""What the browser benchmarks share: a headless streamlit server on a free port and Debian's Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from dashboard.classroom import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    """Until ``url``'s ``/_stcore/health`` answers 200 (a Streamlit server or a balancer in front of some);
    RuntimeError with the end of ``log`` if ``process`` exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"{url} did not become healthy in {timeout_s:g} s")


def start_server(port: int, log: Path) -> subprocess.Popen:
    """``streamlit run dashboard/Home.py`` headless on ``port``, once its health check answers."""
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", "--server.headless", "true",
               "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())
    wait_healthy(f"http://localhost:{port}", process, log)
    return process


@contextmanager
def server_and_browser(log_name: str):
    """Yields (base URL, playwright browser); stops both afterwards."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    log = ROOT / "test-output" / log_name
    log.parent.mkdir(exist_ok=True)
    server = start_server(port, log)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield f"http://localhost:{port}", browser
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Until the app's status widget says the script is not running."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
