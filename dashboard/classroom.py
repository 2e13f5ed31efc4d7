"""One command for a classroom server: K Streamlit workers behind HAProxy, supervised.

    python -m dashboard.classroom [--workers K] [--port 8501] [--host 0.0.0.0] [--pid-file PATH]

Why several processes: Streamlit runs every browser session as a thread of one Python process, so
one process gives a whole class one core (the GIL) and one torch thread pool. This module starts K
worker processes (default: one per core), each ``streamlit run dashboard/Home.py`` on a free local
port (127.0.0.1 only, never reachable from outside), with torch capped at one thread
(``GENMODELS_THREADS=1``, ``OMP_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``, set in the worker's
environment before torch loads: ``engine.device.configure_threads`` reads it once at start-up).

Why HAProxy in front, with sticky sessions: a Streamlit session lives in one worker's memory. Its
WebSocket, its file uploads (an HTTP PUT to ``/_stcore/upload_file/<session>``) and its media
requests must all reach that worker; a balancer without stickiness breaks uploads and media (the
known "Invalid session_id" failure of Streamlit with several replicas). HAProxy (``mode http``)
picks a worker round-robin for a browser that has no cookie yet, inserts ``SERVERID=wN`` and sends
every later request of that browser, the WebSocket upgrade included, to the same worker. The
workers share one random ``server.cookieSecret`` (generated per start), so a browser that must move
to another worker (its worker died) keeps a valid XSRF cookie for uploads there.

What the supervisor (this process) does:

- health: HAProxy checks ``GET /_stcore/health`` on every worker every 2 s and takes a worker out
  after two failures, so new requests go to the living ones (``option redispatch``);
- restart: a worker that exits (crash, out of memory, killed) is started again on the same port,
  so HAProxy's configuration never changes; the next successful check puts it back. A worker that
  keeps dying at once is restarted with a growing delay (up to 30 s) rather than in a tight loop;
- shutdown: SIGINT (Ctrl+C), SIGTERM or SIGHUP stop HAProxy first (no new requests), then every
  worker (SIGTERM, SIGKILL after 10 s), and remove the temporary folder and the pid file. The
  children run in their own process groups, so Ctrl+C reaches only the supervisor and the shutdown
  keeps its order; on Linux each child also gets SIGTERM if the supervisor itself is killed.

The HAProxy configuration and the workers' logs are written to a temporary folder, printed at start
(a worker's last log lines are also printed when it exits). HAProxy comes from the system:
``apt-get install haproxy``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # streamlit runs here, so it reads .streamlit/config.toml
HOME = ROOT / "dashboard" / "Home.py"
HEALTH = "/_stcore/health"
START_TIMEOUT_S = 120  # a fresh worker imports streamlit; on a busy 2-core machine that takes seconds
STOP_TIMEOUT_S = 10  # per child, after SIGTERM, before SIGKILL
QUICK_EXIT_S = 10  # a worker that dies sooner than this after starting is restarted with a delay
MAX_BACKOFF_S = 30
POLL_S = 0.5
WILDCARDS = ("0.0.0.0", "::", "")  # every interface: students use this machine's name
ONE_THREAD = {"GENMODELS_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

HAPROXY_CONFIG = """\
global
    maxconn 4096
    # Fail to start (rather than share the port) when something else listens on it already.
    noreuseport
    # No request log: run in the foreground (-db), HAProxy prints workers going DOWN and UP itself.

defaults
    mode http
    timeout connect 5s
    # Plain HTTP requests (pages, assets, uploads, health) finish quickly.
    timeout client 60s
    timeout server 60s
    timeout http-request 15s
    # A Streamlit page is one long-lived WebSocket: after the upgrade this timeout applies.
    timeout tunnel 1h
    timeout client-fin 10s
    # A browser whose worker is down is sent to a living one rather than refused.
    option redispatch
    retries 2

frontend classroom
    bind {bind}
    default_backend streamlit

backend streamlit
    balance roundrobin
    # Sticky sessions: the first response sets SERVERID=wN; every later request (the WebSocket,
    # uploads, media) of that browser goes to wN. indirect: the cookie never reaches Streamlit;
    # nocache: caches must not share a response that sets it.
    cookie SERVERID insert indirect nocache
    option httpchk
    http-check send meth GET uri {health} ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server check inter 2s fall 2 rise 1
{servers}
"""


def haproxy_binary() -> str | None:
    """HAProxy on PATH, or Debian's /usr/sbin/haproxy (not on a normal user's PATH)."""
    for candidate in (shutil.which("haproxy"), "/usr/sbin/haproxy"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + HEALTH, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def haproxy_config(host: str, port: int, worker_ports: list[int]) -> str:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    servers = "\n".join(f"    server w{i} 127.0.0.1:{p} cookie w{i}" for i, p in enumerate(worker_ports, 1))
    return HAPROXY_CONFIG.format(bind=bind, health=HEALTH, servers=servers)


def _die_with_parent() -> None:
    """In the child, before exec: its own process group (Ctrl+C reaches only the supervisor) and, on
    Linux, SIGTERM when the supervisor dies, even by SIGKILL, so no worker outlives it."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One supervised process: a worker (``port`` set, checked on its health URL) or HAProxy."""

    name: str
    command: list[str]
    env: dict[str, str] | None = None
    log: Path | None = None  # None: the child writes to our terminal
    port: int | None = None
    process: subprocess.Popen | None = None
    started: float = 0.0
    quick_exits: int = 0  # consecutive exits soon after a start
    restart_at: float | None = None  # set while a restart waits out its delay

    def start(self) -> None:
        out = self.log.open("ab") if self.log else None
        try:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT if out else None,
                                            preexec_fn=_die_with_parent)
        finally:
            if out:
                out.close()
        self.started = time.monotonic()
        self.restart_at = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exited(self) -> int | None:
        """The exit code if the process has ended (None while it runs)."""
        return self.process.poll() if self.process else None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 15) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Classroom:
    def __init__(self, workers: int, host: str, port: int, haproxy: str, pid_file: Path | None):
        self.host, self.port, self.pid_file = host, port, pid_file
        self.folder = Path(tempfile.mkdtemp(prefix="genmodels-classroom-"))
        self.stopping = False
        env = {**os.environ, **ONE_THREAD,
               # One secret for all workers: a browser moved to another worker keeps a valid XSRF cookie.
               "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32)}
        self.workers = []
        for number in range(1, workers + 1):
            worker_port = free_port()
            command = [sys.executable, "-m", "streamlit", "run", str(HOME), "--server.headless", "true",
                       "--server.port", str(worker_port), "--server.address", "127.0.0.1"]
            self.workers.append(Child(f"w{number}", command, env, self.folder / f"w{number}.log", worker_port))
        self.config = self.folder / "haproxy.cfg"
        self.config.write_text(haproxy_config(host, port, [w.port for w in self.workers]))
        self.haproxy = Child("haproxy", [haproxy, "-db", "-f", str(self.config)])

    @property
    def url(self) -> str:
        shown = socket.gethostname() if self.host in WILDCARDS else self.host
        return f"http://{f'[{shown}]' if ':' in shown else shown}:{self.port}"

    def on_signal(self, signum, frame) -> None:
        self.stopping = True

    def wait_until(self, ready, what: str) -> None:
        """Poll ``ready()`` until true; raise if a child dies or the time runs out first."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            for child in (*self.workers, self.haproxy):
                if child.process is not None and (code := child.exited()) is not None:
                    raise RuntimeError(f"{child.name} exited with code {code} while starting\n{child.log_tail()}")
            if self.stopping:
                raise KeyboardInterrupt
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready after {START_TIMEOUT_S} s")
            time.sleep(POLL_S)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()
        print(f"classroom: starting {len(self.workers)} Streamlit workers on 127.0.0.1 ports "
              f"{', '.join(str(w.port) for w in self.workers)} (logs and haproxy.cfg in {self.folder})", flush=True)
        self.wait_until(lambda: all(healthy(f"http://127.0.0.1:{w.port}") for w in self.workers), "the workers")
        subprocess.run([self.haproxy.command[0], "-c", "-q", "-f", str(self.config)], check=True)
        self.haproxy.start()
        local = "[::1]" if ":" in self.host else "127.0.0.1"
        self.wait_until(lambda: healthy(f"http://{local}:{self.port}"), "haproxy")
        self.write_pid_file()
        for worker in self.workers:
            print(f"classroom: worker {worker.name} on port {worker.port}, pid {worker.pid}", flush=True)
        here = f" (on this machine: http://localhost:{self.port})" if self.host in WILDCARDS else ""
        print(f"classroom: HAProxy pid {self.haproxy.pid}; open {self.url}{here}; Ctrl+C stops everything", flush=True)

    def write_pid_file(self) -> None:
        if self.pid_file is None:
            return
        info = {"url": self.url, "supervisor": os.getpid(), "haproxy": self.haproxy.pid, "config": str(self.config),
                "workers": [{"name": w.name, "port": w.port, "pid": w.pid} for w in self.workers]}
        partial = self.pid_file.with_name(self.pid_file.name + ".partial")
        partial.write_text(json.dumps(info, indent=2))
        partial.replace(self.pid_file)  # readers never see half a file

    def supervise(self) -> None:
        """Restart whatever exited (on the same port) until a signal asks us to stop."""
        while not self.stopping:
            now = time.monotonic()
            for child in (*self.workers, self.haproxy):
                if child.restart_at is None and (code := child.exited()) is not None:
                    quick = now - child.started < QUICK_EXIT_S
                    child.quick_exits = child.quick_exits + 1 if quick else 0
                    delay = min(2.0 ** child.quick_exits - 1, MAX_BACKOFF_S)
                    tail = child.log_tail()
                    when = f"in {delay:.0f} s" if delay else "now"
                    print(f"classroom: {child.name} (pid {child.pid}) exited with code {code}; restarting {when}"
                          + (f"; its last log lines:\n{tail}" if tail else ""), flush=True)
                    child.restart_at = now + delay
                if child.restart_at is not None and now >= child.restart_at:
                    child.start()
                    print(f"classroom: {child.name} restarted, pid {child.pid}", flush=True)
                    self.write_pid_file()
            time.sleep(POLL_S)

    def shutdown(self) -> None:
        """HAProxy first (no new requests), then every worker; nothing is left running."""
        print("classroom: stopping", flush=True)
        for child in (self.haproxy, *self.workers):
            child.stop()
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dashboard.classroom", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="Streamlit worker processes (default: one per core, %(default)s here)")
    parser.add_argument("--port", type=int, default=8501, help="the port students open (default: %(default)s)")
    parser.add_argument("--host", default="0.0.0.0",
                        help="the address HAProxy listens on (default: %(default)s, every interface)")
    parser.add_argument("--pid-file", type=Path, help="write the pids and ports (JSON) here, kept current")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    haproxy = haproxy_binary()
    if haproxy is None:
        sys.exit("classroom: HAProxy is not installed; install it with `apt-get install haproxy` and run this again")
    if port_in_use(args.host, args.port):
        sys.exit(f"classroom: port {args.port} on {args.host} is already in use; pick another with --port")
    classroom = Classroom(args.workers, args.host, args.port, haproxy, args.pid_file)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, classroom.on_signal)
    try:
        classroom.start()
        classroom.supervise()
    except KeyboardInterrupt:  # a signal during start-up
        pass
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"classroom: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        classroom.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
