"""What the server benchmarks share: a uvicorn server in a subprocess, and reporting.

The benchmark scripts run as ``python benchmarks/<script>.py``, so this
directory is on ``sys.path`` and they ``import harness``. A script serves its
app when run with ``--serve ARG`` (calling :func:`serve_app`), and the parent
starts that mode with :class:`ServerProcess`: the child prints ``PORT <n>``
once it listens on 127.0.0.1 and exits when its stdin is closed.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import httpx
from starlette.types import ASGIApp, Message, Send

# ------------------------------------------------------------------- server side


def counting(send: Send, last: dict[str, Any]) -> Send:
    """Wrap ``send`` to count body messages and bytes and the server's CPU time.

    When the response's last body message is sent, ``last`` is replaced by the
    response's figures: ``messages`` (non-empty body messages), ``bytes`` and
    ``cpu`` (CPU seconds of the whole process since the wrapper was made).
    """
    stats: dict[str, float] = {"messages": 0, "bytes": 0, "cpu": 0.0}
    cpu0 = time.process_time()

    async def counted(message: Message) -> None:
        if message["type"] == "http.response.body":
            data = message.get("body", b"")
            if data:
                stats["messages"] += 1
                stats["bytes"] += len(data)
            if not message.get("more_body", False):
                # Published before the last message goes out, so the client
                # always finds it once it has the whole body.
                stats["cpu"] = time.process_time() - cpu0
                last.clear()
                last.update(stats)
        await send(message)

    return counted


async def send_json(send: Send, data: object, status: int = 200) -> None:
    """A whole ``application/json`` response."""
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(data).encode()})


async def send_not_found(send: Send) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def serve_app(
    app: ASGIApp,
    *,
    timeout_graceful_shutdown: int | None = 5,
    backlog: int | None = None,
    lifespan: Literal["auto", "on", "off"] = "off",
) -> None:
    """Serve ``app`` with uvicorn (h11, asyncio) on a free loopback port.

    Prints ``PORT <n>`` once listening, and returns when stdin is closed (the
    parent is done or gone) or on SIGTERM.
    """
    import uvicorn

    config = uvicorn.Config(
        app,
        http="h11",
        loop="asyncio",
        lifespan=lifespan,
        ws="none",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )
    server = uvicorn.Server(config)

    def exit_when_stdin_closes() -> None:
        sys.stdin.buffer.read()
        server.should_exit = True

    # IPPROTO_TCP so that asyncio sets TCP_NODELAY on accepted sockets.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    if backlog is None:
        sock.listen()
    else:
        sock.listen(backlog)
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


# ------------------------------------------------------------------- client side


class ServerProcess:
    """A script's ``--serve ARG`` mode in a subprocess, with bounded waits.

    The process starts at once; :meth:`wait_ready` waits for its port, so that
    several servers can start together. As a context manager it waits on entry
    and stops on exit.
    """

    def __init__(
        self,
        script: str | Path,
        arg: str,
        *,
        name: str = "server",
        start_timeout: float = 30.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(script).resolve()), "--serve", arg],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = 0
        self.base_url = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self) -> None:
        line: list[str] = []
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        if not line or not line[0].startswith("PORT "):
            raise RuntimeError(f"{self.name}: no server within {self.start_timeout} s")
        self.port = int(line[0].split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()  # the server exits when its stdin closes
        try:
            self.proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(self.stop_timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def timed_get(client: httpx.Client, path: str) -> tuple[float, bytes, dict[str, Any]]:
    """GET ``path`` between ``/prepare`` and ``/stats`` with the collector paused.

    Returns the client's seconds from request to last byte, the raw body, and
    the server's figures for the response (see :func:`counting`), which must
    agree with the body's size.
    """
    client.get("/prepare").raise_for_status()
    pieces: list[bytes] = []
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        with client.stream("GET", path) as response:
            response.raise_for_status()
            pieces.extend(response.iter_raw())
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    body = b"".join(pieces)
    stats: dict[str, Any] = client.get("/stats").json()
    if stats.get("bytes") != len(body):
        raise RuntimeError(f"{path}: the app sent {stats.get('bytes')} bytes, got {len(body)}")
    return seconds, body, stats


# ------------------------------------------------------------------------- report


def print_environment(packages: Sequence[str]) -> None:
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{sys.platform}, {os.cpu_count()} CPUs"
    )
    print(", ".join(f"{name} {version(name)}" for name in packages))


@dataclass
class Ratio:
    what: str
    ratio: float
    target: float | None


def print_ratios(
    ratios: Sequence[Ratio], quick: bool, *, width: int = 8, precision: int = 2
) -> None:
    print("\nRatios (streamkit over the other line; higher is better for streamkit)")
    if quick:
        print("(quick run: sizes too small for the figures to mean anything)")
    for r in ratios:
        verdict = ""
        if r.target is not None:
            verdict = f"  target >= {r.target:g}x: {'met' if r.ratio >= r.target else 'MISSED'}"
        print(f"{r.what:<66} {r.ratio:>{width}.{precision}f}x{verdict}")
