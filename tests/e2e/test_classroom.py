"""The classroom server in a real browser: `python -m dashboard.classroom` with two workers behind HAProxy.

What a class needs from it, checked through the balancer as students reach it: two browsers land on
different workers (the ``SERVERID`` cookie) and keep their own state across reruns; a CSV upload
works (the upload is an HTTP request that must reach the worker holding the session: without sticky
sessions it fails); killing one worker leaves the other worker's sessions working and the balancer
answering, and the supervisor starts the killed worker again on its port. At the end nothing the
command started is left running. (The browser whose worker died reconnects and carries on too.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from dashboard.classroom import free_port, haproxy_binary
from dashboard.shared.i18n import translate
from tests.e2e.conftest import OUTPUT, ROOT, unavailable
from tests.e2e.test_browser import LOAD_TIMEOUT_MS, SCRIPT_IDLE, assert_no_errors, wait_for_heading

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 150  # two fresh workers import streamlit on 2 cores, then HAProxy starts
RESTART_TIMEOUT_S = 60
STOP_TIMEOUT_S = 40  # the supervisor gives each child 10 s after SIGTERM
GAN_KEY = "gan_live"
UPLOADED_POINTS = 200


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


@dataclass
class Classroom:
    url: str
    process: subprocess.Popen
    pid_file: Path
    log: Path
    seen: set[int] = field(default_factory=set)  # every child pid the command reported (restarts too)
    ports: set[int] = field(default_factory=set)

    def info(self) -> dict:
        info = json.loads(self.pid_file.read_text())
        self.seen |= {info["haproxy"], *(w["pid"] for w in info["workers"])}
        self.ports |= {w["port"] for w in info["workers"]}
        return info

    def worker(self, name: str) -> dict:
        return next(w for w in self.info()["workers"] if w["name"] == name)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> int | None:
        """SIGTERM, as an instructor's Ctrl+C; the exit code (None if it had to be killed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None
        return self.process.returncode

    def leftovers(self) -> list[int]:
        return sorted(pid for pid in self.seen if running(pid))


@pytest.fixture
def classroom(chromium_executable, tmp_path):
    if haproxy_binary() is None:
        unavailable("no haproxy (`apt-get install haproxy`)")
    port = free_port()
    OUTPUT.mkdir(exist_ok=True)
    log = OUTPUT / "classroom.log"
    pid_file = tmp_path / "classroom.json"
    command = [sys.executable, "-m", "dashboard.classroom", "--workers", "2", "--port", str(port),
               "--host", "127.0.0.1", "--pid-file", str(pid_file)]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    room = Classroom(f"http://127.0.0.1:{port}", process, pid_file, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (pid_file.exists() and healthy(room.url)):
            assert process.poll() is None, f"the classroom command exited with {process.returncode}:\n{room.output()}"
            assert time.monotonic() < deadline, f"no healthy balancer after {START_TIMEOUT_S} s:\n{room.output()}"
            time.sleep(0.5)
        room.info()
        yield room
    finally:
        room.stop()
        for pid in room.leftovers():  # only if the test failed before its own checks: never leave them
            os.kill(pid, signal.SIGKILL)


def open_session(browser, url: str, path: str):
    """A fresh browser (its own cookies) on ``path``; returns (context, page, worker name)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.goto(f"{url}/{path}?lang=en", wait_until="domcontentloaded")
    worker = next((c["value"] for c in context.cookies() if c["name"] == "SERVERID"), None)
    assert worker, f"HAProxy set no SERVERID cookie: {context.cookies()}"
    return context, page, worker


def slider(page, key: str):
    return page.locator(f".st-key-{key} input[type=range]")


def w1_shown(page) -> str:
    label = translate("en", "divergences.metrics.w1")
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def nudge(page, key: str) -> None:
    """One arrow-key step on a divergences slider, and the rerun it starts: W1 on screen changes."""
    before = w1_shown(page)
    control = slider(page, key)
    control.focus()
    control.press("ArrowRight")
    label = translate("en", "divergences.metrics.w1")
    page.wait_for_function(
        """([label, before]) => Array.from(document.querySelectorAll('[data-testid="stMetric"]'))
            .some(m => m.innerText.includes(label)
                && m.querySelector('[data-testid="stMetricValue"]')?.innerText !== before)""",
        arg=[label, before])
    page.wait_for_function(SCRIPT_IDLE)
    assert_no_errors(page)


def ring_csv(n: int) -> bytes:
    angles = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    rows = [f"{3 * np.cos(a):.4f},{3 * np.sin(a):.4f}" for a in angles]
    return ("x,y\n" + "\n".join(rows) + "\n").encode()


def upload_points(page) -> None:
    """Pick "Upload a CSV…" in the live GAN's data picker and upload a ring of points."""
    box = page.locator(f".st-key-{GAN_KEY}_data input")
    box.click()
    box.fill(translate("en", "gan_live.datasets.csv"))
    box.press("Enter")
    files = page.locator(f".st-key-{GAN_KEY}_csv input[type=file]")
    files.wait_for(state="attached")
    files.set_input_files(files={"name": "ring.csv", "mimeType": "text/csv", "buffer": ring_csv(UPLOADED_POINTS)})
    loaded = translate("en", "points.csv.loaded", n=UPLOADED_POINTS)
    failure = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    page.get_by_text(loaded).or_(failure).first.wait_for(state="visible")
    page.wait_for_function(SCRIPT_IDLE)
    assert_no_errors(page)
    assert page.get_by_text(loaded).is_visible()


def test_classroom_server_keeps_sessions_apart_uploads_and_survives_a_dead_worker(browser, classroom):
    started = time.monotonic()
    contexts = []
    try:
        # Two fresh browsers on two workers (round-robin; a third browser if the first two share one).
        sessions = {}
        while len(sessions) < 2:
            assert len(contexts) < 4, f"every browser landed on the same worker: {list(sessions)}"
            context, page, worker = open_session(browser, classroom.url, "divergences")
            contexts.append(context)
            sessions.setdefault(worker, (context, page))
        (name_a, (_, page_a)), (name_b, (context_b, page_b)) = sessions.items()
        title = translate("en", "divergences.title")
        for page in (page_a, page_b):
            wait_for_heading(page, title)

        # Each session keeps its own state: A's change is A's alone, and survives A's next rerun.
        default = slider(page_a, "q_location").input_value()
        w1_default = w1_shown(page_a)
        nudge(page_a, "q_location")
        moved = slider(page_a, "q_location").input_value()
        assert float(moved) > float(default)
        assert slider(page_b, "q_location").input_value() == default and w1_shown(page_b) == w1_default
        nudge(page_a, "q_scale")
        assert slider(page_a, "q_location").input_value() == moved
        assert slider(page_b, "q_location").input_value() == default and w1_shown(page_b) == w1_default

        # An upload through the balancer: the PUT must reach the worker that holds B's session.
        gan = context_b.new_page()
        gan.set_default_timeout(LOAD_TIMEOUT_MS)
        gan.goto(f"{classroom.url}/gan?lang=en", wait_until="domcontentloaded")
        wait_for_heading(gan, translate("en", "gan.title"))
        upload_points(gan)

        # Kill A's worker: B keeps working, the balancer keeps answering, the worker comes back.
        dead = classroom.worker(name_a)
        os.kill(dead["pid"], signal.SIGKILL)
        killed_at = time.monotonic()
        for _ in range(3):
            nudge(page_b, "q_location")
            assert healthy(classroom.url), "the balancer stopped answering after a worker died"
            page_b.wait_for_timeout(1500)  # past HAProxy's two failed checks (2 s apart)
        assert_no_errors(gan)
        assert healthy(classroom.url)
        while True:
            back = classroom.worker(name_a)
            if back["pid"] != dead["pid"] and healthy(f"http://127.0.0.1:{back['port']}"):
                break
            assert time.monotonic() - killed_at < RESTART_TIMEOUT_S, f"{name_a} not back:\n{classroom.output()}"
            time.sleep(0.5)
        assert back["port"] == dead["port"], "a restarted worker must keep its port (HAProxy's config names it)"
        restart_s = time.monotonic() - killed_at
        nudge(page_b, "q_scale")
        # A's browser lost its worker: it reconnects through the balancer, keeps its sliders and reruns.
        nudge(page_a, "q_scale")
        assert slider(page_a, "q_location").input_value() == moved
        print(f"classroom: {name_a} back after {restart_s:.1f} s; test body {time.monotonic() - started:.0f} s")
    finally:
        for context in contexts:
            context.close()

    # Everything stops on SIGTERM: HAProxy, both workers (the restarted one too), the pid file.
    assert classroom.stop() == 0, classroom.output()
    assert classroom.leftovers() == [], f"processes left running:\n{classroom.output()}"
    for port in (*classroom.ports, int(classroom.url.rsplit(":", 1)[1])):
        assert not healthy(f"http://127.0.0.1:{port}"), f"port {port} still answers"
    assert not classroom.pid_file.exists()
