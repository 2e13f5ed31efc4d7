"""A class at once: S browser sessions open the GAN page together, then all press Play on the live
2D GAN. Measured for (a) one plain Streamlit process and (b) K worker processes behind HAProxy
(``python -m dashboard.classroom``), in the same run.

Per setup and S it prints: page first-load p50 / p95 (all S contexts navigate at the same moment,
until the live section's Play button is on screen and the app is idle), per-session training
iterations/s (min / median / max, from each page's own step counter over ``--seconds``), the
total, the slowest/fastest ratio, chart updates/s per session (changes of the step caption: frames
the server sent and the browser drew), and the servers' resident memory (sum over the worker
processes, from /proc) before the sessions and while they play.

Clients: one headless Chromium (Debian's) with S browser contexts, driven from this process.
On 2 cores the browser competes with the servers; with ``--pin`` (default on) the plain server is
pinned to core 0 and this process and its Chromium to core 1 (taskset / sched_setaffinity), as in
the issue's baseline; the K workers are not pinned (each should own a core), only the clients are.

Run from the repo root:  python -m benchmarks.bench_classroom [--sessions 1 4 8] [--seconds 10] [--workers 2]
Quick mode (CI):         python -m benchmarks.bench_classroom --quick
Targets (issue 14, 2 cores, K = 2, S = 8): total >= 1.6x one session alone, slowest/fastest >= 0.7,
>= 1 update/s each, every page loaded < 15 s.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from benchmarks.bench_gan_live import SAMPLER
from benchmarks.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, start_server, wait_healthy, wait_idle

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
        process = subprocess.Popen([sys.executable, "-m", "dashboard.classroom", "--workers", str(workers), "--port",
                                    str(port), "--host", "127.0.0.1"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
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
    loads.sort()
    return {"sessions": sessions, "load_p50": statistics.median(loads),
            "load_p95": loads[min(len(loads) - 1, round(0.95 * (len(loads) - 1)))],
            "min": min(rates), "median": statistics.median(rates), "max": max(rates), "total": sum(rates),
            "fair": min(rates) / max(rates) if max(rates) > 0 else 0.0, "updates": min(updates),
            "memory_before": memory_before, "memory_playing": memory_playing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--setups", nargs="+", choices=("plain", "classroom"), default=["plain", "classroom"])
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--quick", action="store_true", help="1 and 2 sessions, 2 s each (CI)")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.seconds = [1, 2], 2.0
    from playwright.sync_api import sync_playwright

    if args.pin:
        os.sched_setaffinity(0, {1})  # this process and the Chromium it starts
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for setup in args.setups:
            server = plain_server(args.pin) if setup == "plain" else classroom_server(args.workers)
            with server as (url, pids):
                for sessions in args.sessions:
                    rows.append({"setup": setup if setup == "plain" else f"{args.workers} workers",
                                 **one_round(browser, url, sessions, args.seconds, pids)})
        browser.close()
    alone = {r["setup"]: r["total"] for r in rows if r["sessions"] == 1}
    print(f"{os.cpu_count()} CPU cores; live 2D GAN, {args.seconds:g} s of play per round; clients: one headless "
          f"Chromium{' on core 1, the plain server on core 0' if args.pin else ''}")
    print(f"{'setup':<11}{'S':>3}{'load p50':>9}{'p95':>6}{'it/s min':>9}{'median':>8}{'max':>7}{'total':>7}"
          f"{'x alone':>8}{'min/max':>8}{'upd/s':>6}{'MB idle':>8}{'MB play':>8}")
    print("-" * 99)
    for r in rows:
        ratio = r["total"] / alone[r["setup"]] if alone.get(r["setup"]) else float("nan")
        print(f"{r['setup']:<11}{r['sessions']:>3}{r['load_p50']:>9.1f}{r['load_p95']:>6.1f}{r['min']:>9.0f}"
              f"{r['median']:>8.0f}{r['max']:>7.0f}{r['total']:>7.0f}{ratio:>8.2f}{r['fair']:>8.2f}"
              f"{r['updates']:>6.1f}{r['memory_before']:>8.0f}{r['memory_playing']:>8.0f}")


if __name__ == "__main__":
    main()
