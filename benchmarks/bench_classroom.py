"""A class at once: S sessions open the GAN page together, then all press Play on the live
2D GAN. Measured for (a) one plain Streamlit process and (b) K worker processes behind HAProxy
(``python -m dashboard.classroom``), in the same run.

Per setup and S it prints: page first-load p50 / p95 (all S sessions open at the same moment; when a
page counts as loaded depends on the clients, below), per-session training
iterations/s (min / median / max, from each page's own step counter over ``--seconds``), the
total, the slowest/fastest ratio, chart updates/s per session (changes of the step caption: frames
the server sent and the browser drew), and the servers' resident memory (sum over the worker
processes, from /proc): before the round's sessions open, once they have all loaded the page (open,
not playing), and while they play.

Clients (``--clients``):

* ``protocol`` (default): ``benchmarks.protocol_client.Session``, Streamlit's websocket protocol
  spoken from Python, all S sessions in one asyncio loop in this process. They do on the wire what
  the browser does (load the page over HTTP, ask for runs, follow the live fragment's rerun timer,
  click Play) and draw nothing, so they cost the machine little: what is measured is the server. A
  page counts as loaded when its first script run has finished (everything sent; the browser's
  drawing comes on top).
* ``browser``: one headless Chromium (Debian's) with S browser contexts. A tab drawing the live GAN
  costs more CPU than the server spends on it, so on 2 cores this measures the browser as much as
  the server; a page counts as loaded when Play is on screen and the app is idle.

With ``--pin`` (default on) this process (and its Chromium) runs on core 1 and the plain server on
core 0 (sched_setaffinity), as in the issue's baseline; the K workers are not pinned (each should
own a core), only the clients are.

Without ``--cold`` the rounds share one server per setup, so only the first round opens the page on
a cold server (the first visit imports torch and builds what every session shares); with ``--cold``
every round starts its own server and the load columns are cold starts.

Run from the repo root:  python -m benchmarks.bench_classroom [--sessions 1 4 8 16] [--seconds 10] [--workers 2]
                                                               [--clients protocol|browser] [--cold]
Quick mode (CI):         python -m benchmarks.bench_classroom --quick
Targets (issue 14, 2 cores, K = 2, S = 8): total >= 1.6x one session alone, slowest/fastest >= 0.7,
>= 1 update/s each, every page loaded < 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from contextlib import AsyncExitStack, ExitStack, contextmanager
from functools import partial
from pathlib import Path

from benchmarks.bench_gan_live import SAMPLER
from benchmarks.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, start_server, wait_healthy, wait_idle
from benchmarks.protocol_client import Session

STEP = re.compile(r"step ([\d,]+)")


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes and all their descendants, in MB (from /proc)."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            children.setdefault(int(fields["PPid"]), []).append(int(fields["Pid"]))
        except (OSError, KeyError, ValueError):
            continue
    total, todo = 0.0, list(pids)
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


@contextmanager
def plain_server(pin: bool):
    port = free_port()
    log = ROOT / "test-output" / "bench-classroom-plain.log"
    log.parent.mkdir(exist_ok=True)
    process = start_server(port, log)
    if pin:
        os.sched_setaffinity(process.pid, {0})
    try:
        yield f"http://localhost:{port}", [process.pid]
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextmanager
def classroom_server(workers: int):
    port = free_port()
    log = ROOT / "test-output" / "bench-classroom-balancer.log"
    with log.open("w") as out:
        every_core = set(range(os.cpu_count() or 1))  # not the clients' core this process may be pinned to
        process = subprocess.Popen([sys.executable, "-m", "dashboard.classroom", "--workers", str(workers), "--port",
                                    str(port), "--host", "127.0.0.1"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   preexec_fn=lambda: os.sched_setaffinity(0, every_core))
    try:
        wait_healthy(f"http://localhost:{port}", process, log)  # the balancer answers once every worker does
        yield f"http://localhost:{port}", [process.pid]
    finally:
        process.terminate()
        process.wait(timeout=30)


def one_round(browser, url: str, sessions: int, seconds: float, pids: list[int]) -> dict:
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(sessions)]
    pages = [context.new_page() for context in contexts]
    memory_before = rss_mb(pids)
    start = time.perf_counter()
    for page in pages:  # all at once: navigation does not wait for the page
        page.set_default_timeout(300_000)
        page.goto(f"{url}/gan?lang=en", wait_until="commit")
    loads = []
    for page in pages:
        page.wait_for_selector(".st-key-gan_live_play button")
        wait_idle(page, 300_000)
        loads.append(time.perf_counter() - start)
    memory_open = rss_mb(pids)
    for page in pages:
        page.locator(".st-key-gan_live_play button").click()
    time.sleep(2.0)  # every session ticking
    memory_playing = rss_mb(pids)
    handles = [page.evaluate_handle(SAMPLER, [seconds]) for page in pages]
    rates, updates = [], []
    for handle in handles:
        samples = handle.json_value()
        points = [(t / 1000.0, int(m[1].replace(",", ""))) for t, text, _ in samples if (m := STEP.search(text))]
        changes = [points[0]] + [b for a, b in zip(points, points[1:]) if b[1] != a[1]] if points else []
        if len(changes) >= 2:
            (t0, s0), (t1, s1) = changes[0], changes[-1]
            rates.append((s1 - s0) / max(t1 - t0, 1e-9))
        else:
            rates.append(0.0)
        updates.append(max(len(changes) - 1, 0) / seconds)
    for context in contexts:
        context.close()
    return summary(sessions, loads, rates, updates, memory_before, memory_open, memory_playing)


def protocol_round(url: str, sessions: int, seconds: float, pids: list[int]) -> dict:
    """One round with protocol clients (see the module docstring): the same numbers as ``one_round``."""
    return asyncio.run(_protocol_round(url, sessions, seconds, pids))


async def _protocol_round(url: str, sessions: int, seconds: float, pids: list[int]) -> dict:
    clients = [Session(url, "gan") for _ in range(sessions)]
    memory_before = rss_mb(pids)
    async with AsyncExitStack() as stack:
        await asyncio.gather(*(stack.enter_async_context(c) for c in clients))  # all open at once
        loads = sorted(await asyncio.gather(*(c.loaded() for c in clients)))
        memory_open = rss_mb(pids)
        await asyncio.gather(*(c.press("gan_live_play") for c in clients))
        await asyncio.sleep(2.0)  # every session ticking
        memory_playing = rss_mb(pids)
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        end = time.perf_counter()
    rates, updates = [], []
    for c in clients:
        window = (start - c.opened, end - c.opened)
        points = [(at, int(m[1].replace(",", ""))) for at, text in c.captions
                  if window[0] <= at <= window[1] and (m := STEP.search(text))]
        changes = [points[0]] + [b for a, b in zip(points, points[1:]) if b[1] != a[1]] if points else []
        (t0, s0), (t1, s1) = (changes[0], changes[-1]) if changes else ((0.0, 0), (0.0, 0))
        rates.append((s1 - s0) / (t1 - t0) if t1 > t0 else 0.0)
        updates.append(max(len(changes) - 1, 0) / seconds)
    return summary(sessions, loads, rates, updates, memory_before, memory_open, memory_playing)


def summary(sessions: int, loads: list[float], rates: list[float], updates: list[float], memory_before: float,
            memory_open: float, memory_playing: float) -> dict:
    loads = sorted(loads)
    return {"sessions": sessions, "load_p50": statistics.median(loads),
            "load_p95": loads[min(len(loads) - 1, round(0.95 * (len(loads) - 1)))],
            "min": min(rates), "median": statistics.median(rates), "max": max(rates), "total": sum(rates),
            "fair": min(rates) / max(rates) if max(rates) > 0 else 0.0, "updates": min(updates),
            "memory_before": memory_before, "memory_open": memory_open, "memory_playing": memory_playing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--setups", nargs="+", choices=("plain", "classroom"), default=["plain", "classroom"])
    parser.add_argument("--clients", choices=("protocol", "browser"), default="protocol")
    parser.add_argument("--cold", action="store_true",
                        help="a freshly started server for every S (first-load times from a cold start)")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--quick", action="store_true", help="1 and 2 sessions, 2 s each (CI)")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.seconds = [1, 2], 2.0
    if args.pin:
        os.sched_setaffinity(0, {1})  # this process (and the Chromium it starts)
    rows = []
    with ExitStack() as stack:
        if args.clients == "browser":
            from playwright.sync_api import sync_playwright

            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            stack.callback(browser.close)
            measure = partial(one_round, browser)
        else:
            measure = protocol_round
        for setup in args.setups:
            name = setup if setup == "plain" else f"{args.workers} workers"
            rounds = [[s] for s in args.sessions] if args.cold else [args.sessions]  # --cold: a fresh server each
            for sessions_list in rounds:
                server = plain_server(args.pin) if setup == "plain" else classroom_server(args.workers)
                with server as (url, pids):
                    for sessions in sessions_list:
                        rows.append({"setup": name, **measure(url, sessions, args.seconds, pids)})
    alone = {r["setup"]: r["total"] for r in rows if r["sessions"] == 1}
    clients = "protocol clients in one process" if args.clients == "protocol" else "one headless Chromium"
    print(f"{os.cpu_count()} CPU cores; live 2D GAN, {args.seconds:g} s of play per round; clients: {clients}"
          f"{' on core 1, the plain server on core 0' if args.pin else ''}")
    print(f"{'setup':<11}{'S':>3}{'load p50':>9}{'p95':>6}{'it/s min':>9}{'median':>8}{'max':>7}{'total':>7}"
          f"{'x alone':>8}{'min/max':>8}{'upd/s':>6}{'MB before':>10}{'MB open':>8}{'MB play':>8}")
    print("-" * 109)
    for r in rows:
        ratio = r["total"] / alone[r["setup"]] if alone.get(r["setup"]) else float("nan")
        print(f"{r['setup']:<11}{r['sessions']:>3}{r['load_p50']:>9.1f}{r['load_p95']:>6.1f}{r['min']:>9.0f}"
              f"{r['median']:>8.0f}{r['max']:>7.0f}{r['total']:>7.0f}{ratio:>8.2f}{r['fair']:>8.2f}"
              f"{r['updates']:>6.1f}{r['memory_before']:>10.0f}{r['memory_open']:>8.0f}{r['memory_playing']:>8.0f}")


if __name__ == "__main__":
    main()
