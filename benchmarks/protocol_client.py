"""A student's session without a browser: Streamlit's own websocket protocol, spoken from Python.

A headless Chromium tab that shows the live GAN spends far more CPU drawing Plotly frames than the
server spends making them, so on a 2-core machine browser clients measure the browser, not the
server. ``Session`` does what the browser's Streamlit client does on the wire and nothing more:

* it loads the page over HTTP first (as a browser does; behind the classroom balancer that response
  sets the sticky-session cookie, sent back on the websocket);
* it opens ``/_stcore/stream`` and asks for a run of the page (``BackMsg.rerun_script`` with the
  page's name, as the frontend does for ``/gan``);
* it follows ``ForwardMsg.auto_rerun``: a fragment with ``run_every`` asks the *client* to request
  its reruns (the browser's timer does that), so ``Session`` sends the same ``rerun_script`` with
  the fragment's id every interval until ``stop_auto_rerun`` names it;
* ``press(key)`` clicks a button: its widget id (the one whose id ends in ``-key``) with a trigger
  value, in a rerun of the fragment the button sits in;
* it keeps every caption it receives with its time, so a benchmark reads the status line the
  student would see ("Training… step N").

Nothing is parsed beyond what these need; widgets the client does not touch keep their values on
the server (a rerun only carries the widgets it names).

    async with Session("http://localhost:8501", "gan") as s:
        await s.loaded()                # the first script run finished
        await s.press("gan_live_play")
        await asyncio.sleep(10)
        s.captions                      # [(seconds since open, text), ...]
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass
class Session:
    url: str  # http://host:port
    page: str  # the page's URL path: "gan"
    query: str = "lang=en"
    opened: float = field(default_factory=time.perf_counter)
    captions: list = field(default_factory=list)  # (seconds since opened, text)
    widgets: dict = field(default_factory=dict)  # widget id -> the fragment it was drawn in ("" for none)
    runs_finished: int = 0
    load_s: float | None = None
    _socket: object = None
    _timers: dict = field(default_factory=dict)  # fragment id -> its auto-rerun task
    _reader: asyncio.Task | None = None
    _first_run: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> Session:
        cookie = await asyncio.to_thread(self._load_html)
        host = self.url.split("://", 1)[1]
        headers = {"Cookie": cookie} if cookie else {}
        self._socket = await websockets.connect(f"ws://{host}/_stcore/stream", additional_headers=headers,
                                                subprotocols=["streamlit"], max_size=MAX_MESSAGE_BYTES,
                                                open_timeout=120, ping_interval=None)
        self._reader = asyncio.create_task(self._read())
        await self._rerun()
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self._timers.values():
            task.cancel()
        if self._reader is not None:
            self._reader.cancel()
        await self._socket.close()

    def _load_html(self) -> str:
        """GET the page (the balancer's sticky cookie comes with it); returns the Cookie header to send."""
        with urllib.request.urlopen(f"{self.url}/{self.page}?{self.query}", timeout=120) as response:
            response.read()
            cookies = response.headers.get_all("Set-Cookie") or []
        return "; ".join(c.split(";", 1)[0] for c in cookies)

    async def loaded(self, timeout_s: float = 600) -> float:
        """Seconds from opening until the page's first script run finished."""
        await asyncio.wait_for(self._first_run.wait(), timeout_s)
        return self.load_s

    async def press(self, key: str) -> None:
        """Click the button with this widget key, as the browser does: a rerun of its fragment."""
        ids = [i for i in self.widgets if i.endswith(f"-{key}")]
        if not ids:
            raise KeyError(f"no widget with key {key!r} on {self.page} (have {len(self.widgets)} widgets)")
        msg = BackMsg()
        state = msg.rerun_script.widget_states.widgets.add()
        state.id, state.trigger_value = ids[0], True
        await self._send(msg, fragment=self.widgets[ids[0]])

    async def _rerun(self, fragment: str = "", auto: bool = False) -> None:
        await self._send(BackMsg(), fragment=fragment, auto=auto)

    async def _send(self, msg: BackMsg, fragment: str = "", auto: bool = False) -> None:
        client = msg.rerun_script
        client.query_string, client.page_name = self.query, self.page
        client.fragment_id, client.is_auto_rerun = fragment, auto
        client.widget_states.SetInParent()
        await self._socket.send(msg.SerializeToString())

    async def _every(self, fragment: str, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self._rerun(fragment, auto=True)

    async def _read(self) -> None:
        async for data in self._socket:
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element, msg.delta.fragment_id)
            elif kind == "auto_rerun":
                fragment = msg.auto_rerun.fragment_id
                if fragment not in self._timers:
                    self._timers[fragment] = asyncio.create_task(self._every(fragment, msg.auto_rerun.interval))
            elif kind == "stop_auto_rerun":  # the fragment was dropped (the live panel paused)
                for fragment in msg.stop_auto_rerun.fragment_ids:
                    if (task := self._timers.pop(fragment, None)) is not None:
                        task.cancel()
            elif kind == "script_finished":
                self.runs_finished += 1
                if self.load_s is None:
                    self.load_s = time.perf_counter() - self.opened
                    self._first_run.set()

    def _element(self, element, fragment: str) -> None:
        kind = element.WhichOneof("type")
        if kind == "markdown" and element.markdown.element_type == element.markdown.CAPTION:
            self.captions.append((time.perf_counter() - self.opened, element.markdown.body))
        widget = getattr(element, kind, None)
        if widget is not None and hasattr(widget, "id") and isinstance(widget.id, str) and widget.id:
            self.widgets[widget.id] = fragment
