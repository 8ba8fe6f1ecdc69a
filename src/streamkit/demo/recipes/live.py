"""Live feeds that reconnecting clients resume: a stock ticker from a replay
buffer, and the tail of a growing log file.

Both are Server-Sent Events. A browser's ``EventSource`` reconnects by itself
after a dropped connection and sends the ``id`` of the last event it saw as
``Last-Event-ID``; each feed carries on from there:

* ``/stream/stock-ticker``: a background task appends prices to a
  :class:`~streamkit.EventLog`, which numbers them and gives each subscriber
  the events after its id (``event: reset`` when they are gone);
* ``/stream/live-logs``: a background task appends lines to a real file;
  the event id is the byte offset after the line, so resuming is a seek.

Heartbeats (an SSE comment, ``:``) go out when a feed is idle, so proxies do
not cut the connection; ``?heartbeat=`` sets the interval.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Final

import anyio
from fastapi import APIRouter, Query, Request

from streamkit import ServerSentEvent
from streamkit.demo._state import Demo
from streamkit.starlette import SSEResponse, last_event_id

SYMBOLS: Final = ("ACME", "GLOBEX", "INITECH")

#: The most a log tail reads in one go: a client far behind catches up in
#: pieces of this size rather than with one huge read.
MAX_READ: Final = 256 * 1024

_PATHS: Final = ("/", "/api/orders", "/api/users", "/login", "/download/large-file")
_RESET: Final = ServerSentEvent("", event="reset")

Heartbeat = Annotated[float | None, Query(ge=0.05, le=120)]


async def publish_prices(demo: Demo) -> None:
    """Append a price for every symbol to the ticker's log, forever."""
    rng = random.Random(7)
    prices = dict.fromkeys(SYMBOLS, 100.0)
    interval = demo.scaled(0.5, 0.02)
    while True:
        for symbol in SYMBOLS:
            prices[symbol] = round(max(1.0, prices[symbol] * (1 + rng.gauss(0, 0.004))), 2)
        demo.ticker.append(
            {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), **prices},
            event="price",
        )
        await anyio.sleep(interval)


def log_line(rng: random.Random) -> str:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    roll = rng.random()
    level = "ERROR" if roll < 0.03 else "WARNING" if roll < 0.12 else "INFO"
    status = 500 if level == "ERROR" else 429 if level == "WARNING" else 200
    path = rng.choice(_PATHS)
    return f"{now} {level:<7} GET {path} {status} {rng.randint(2, 250)}ms"


async def write_logs(demo: Demo) -> None:
    """Append a line to the demo's log file every so often, forever."""
    rng = random.Random()
    interval = demo.scaled(0.5, 0.02)
    while True:
        line = log_line(rng) + "\n"
        # A one-line append: microseconds, so no thread hop.
        with open(demo.log_file, "a", encoding="utf-8") as log:
            log.write(line)
        await anyio.sleep(interval * rng.uniform(0.5, 1.5))


def _read_from(path: Path, offset: int) -> tuple[int, bytes]:
    """The file's size and up to MAX_READ bytes from ``offset``."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if offset > size:
            return size, b""
        file.seek(offset)
        return size, file.read(MAX_READ)


def _backlog_start(path: Path, lines: int) -> int:
    """The offset of the start of the last ``lines`` complete lines."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        start = max(0, size - MAX_READ)
        file.seek(start)
        data = file.read(size - start)
    end = data.rfind(b"\n") + 1  # after the last complete line
    cut = end - 1
    for _ in range(lines):
        cut = data.rfind(b"\n", 0, cut)
        if cut < 0:
            return start if start == 0 else start + data.find(b"\n") + 1
    return start + cut + 1


def _resume_offset(path: Path, last_id: str | None) -> int | None:
    """The offset a client resumes from, if its Last-Event-ID is one this
    log could have sent: digits, within the file, at a line start."""
    if last_id is None or not (last_id.isascii() and last_id.isdigit()):
        return None
    offset = int(last_id)
    with open(path, "rb") as file:
        if offset > os.fstat(file.fileno()).st_size:
            return None
        if offset > 0:
            file.seek(offset - 1)
            if file.read(1) != b"\n":
                return None
    return offset


async def tail(
    path: Path, offset: int, keep: Callable[[str], bool], *, poll: float
) -> AsyncIterator[ServerSentEvent]:
    """The file's lines from ``offset`` on, then new ones as they are written;
    each event's id is the offset after its line."""
    while True:
        size, data = await anyio.to_thread.run_sync(_read_from, path, offset)
        if size < offset:  # truncated or replaced: start over
            yield _RESET
            offset = 0
            continue
        end = data.rfind(b"\n") + 1  # complete lines only; the rest comes later
        for raw in data[:end].splitlines(keepends=True):
            offset += len(raw)
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if keep(line):
                yield ServerSentEvent(line, event="log", id=str(offset))
        if end < MAX_READ // 2:
            await anyio.sleep(poll)


def router(demo: Demo) -> APIRouter:
    api = APIRouter(tags=["live"])
    default_heartbeat = demo.scaled(10.0, 1.0)

    @api.get("/stream/stock-ticker", response_class=SSEResponse)
    async def stock_ticker(
        request: Request,
        history: Annotated[int, Query(ge=0, le=1000)] = 0,
        heartbeat: Heartbeat = None,
    ) -> SSEResponse:
        """Prices as ``event: price`` (JSON, one field per symbol), resumable
        with Last-Event-ID; ``?history=N`` first replays the last N prices."""
        log = demo.ticker
        after = last_event_id(request)
        if after is None and history and log.last_id is not None:
            newest = int(log.last_id.rpartition("-")[2])
            after = f"{log.prefix}-{newest - min(history, len(log))}"
        return SSEResponse(log.subscribe(after), heartbeat=heartbeat or default_heartbeat)

    @api.get("/stream/live-logs", response_class=SSEResponse)
    async def live_logs(
        request: Request,
        level: Annotated[str | None, Query(pattern="^(INFO|WARNING|ERROR)$")] = None,
        grep: Annotated[str | None, Query(max_length=100)] = None,
        backlog: Annotated[int, Query(ge=0, le=500)] = 20,
        heartbeat: Heartbeat = None,
    ) -> SSEResponse:
        """The log file's new lines as ``event: log`` (id = byte offset);
        the last ``backlog`` lines first, or from Last-Event-ID on."""
        path = demo.log_file
        sent = last_event_id(request)
        offset = await anyio.to_thread.run_sync(_resume_offset, path, sent)
        prefix: list[ServerSentEvent] = []
        if offset is None:
            if sent is not None:
                prefix.append(_RESET)  # an id we could not have sent: say so
            offset = await anyio.to_thread.run_sync(_backlog_start, path, backlog)

        def keep(line: str) -> bool:
            if level is not None and f" {level} " not in line:
                return False
            return grep is None or grep in line

        async def events() -> AsyncIterator[ServerSentEvent]:
            for event in prefix:
                yield event
            async for event in tail(path, offset, keep, poll=demo.scaled(0.2, 0.01)):
                yield event

        return SSEResponse(events(), heartbeat=heartbeat or default_heartbeat)

    return api
