"""File downloads: MB/s, server CPU and peak RSS serving a 1 GiB file on loopback.

Run from the project root after ``pip install -e ".[dev,bench]"`` (uvicorn,
granian, starlette)::

    python benchmarks/bench_files.py           # full run (about a minute and a half)
    python benchmarks/bench_files.py --quick   # a 64 MiB file, one pass: a smoke check only

One file is written once to a temporary directory (1 GiB: a 1 MiB + 7,919
byte random block repeated, so no chunk size divides the period and a
misplaced chunk changes the hash; written with plain writes and fsynced, so
that the page cache holds it and no writeback runs during the passes) and
removed at the end. Every line downloads that same file with a plain GET,
each line from a server of its own in a subprocess of this script, on
127.0.0.1:

* **uvicorn** (``loop="asyncio"``, ``http="h11"``; also ``httptools`` when
  it is installed): streamkit's ``FileStreamResponse(path)`` (the file read on
  worker threads, 256 KiB chunks, up to 1 MiB per thread hop) against
  Starlette's ``FileResponse(path)`` (64 KiB ``anyio`` reads, one thread hop
  each); and, as an extra line, ``FileStreamResponse(file_chunks(path),
  size=...)`` (the same reads as a byte source, through streamkit's chunk
  pump).
* **granian** (``--interface asgi``, one worker, defaults otherwise), which
  offers ``http.response.pathsend``: both classes then hand the path to
  granian, which reads and sends the file in Rust, so those two lines measure
  granian's file sending. ``FileStreamResponse(file_chunks(path), size=...)``
  keeps the Python read path on granian; as extra lines, both classes with
  ``http.response.pathsend`` removed from the scope by a middleware (so each
  reads the file in Python as on uvicorn).
* **a plain socket server** calling ``os.sendfile`` on a blocking socket (no
  ASGI, no HTTP library): a reference for loopback with this client.

The client is a blocking socket in this process: it sends the request,
parses the response head and counts the body bytes with 1 MiB ``recv_into``
until ``Content-Length`` is reached. MB/s is bytes over the time from sending
the request to the last byte (MB = 10^6 bytes), best of the passes; the lines
take turns, pass after pass. The server's CPU time (``utime + stime`` of
``/proc/<pid>/stat``, all its threads) is taken before and after each
transfer (least of the passes), and its RSS is sampled every 10 ms during
the transfer (``VmRSS``, with ``VmHWM`` reset before it as a cross-check);
*peak RSS growth* is the peak minus the RSS just before the request (largest
of the passes). The CPU time of every other user-space process is summed
over each transfer too: above 0.15 CPU the run is flagged as disturbed.
After the timed passes, one more download per line hashes the whole body
(SHA-256), which must equal the file's; an app middleware reports how each
response was sent (``pathsend`` or body messages), which must be what the
line claims.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import harness
from harness import Ratio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Targets from the issue, for streamkit.
SPEED_TARGET: Final = 2.0  # MB/s over Starlette's FileResponse, on uvicorn
RSS_TARGET_MIB: Final = 8.0  # "within a few MiB of idle": peak RSS growth at most this

MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB


@dataclass(frozen=True, kw_only=True)
class Sizes:
    file_bytes: int
    passes: int


SIZES: Final = {
    "full": Sizes(file_bytes=GiB, passes=3),
    "quick": Sizes(file_bytes=64 * MiB, passes=1),
}

#: The file's period: 1 MiB plus a prime, so that no chunk size used by a
#: server or a response (powers of two) is a multiple of it.
PERIOD: Final = MiB + 7919
SEED: Final = 20_240_611
BIG: Final = "download.bin"
#: A small file each server sends twice before the passes (first-request
#: imports and allocations, worker threads), with the same response class.
SMALL: Final = "warm-up.bin"
SMALL_BYTES: Final = 4 * MiB

#: The client's receive buffer.
RECV_SIZE: Final = MiB
#: CPUs used by other processes during a transfer above which the figures
#: are flagged as unreliable.
OTHERS_WARNING: Final = 0.15
#: Seconds between RSS samples.
SAMPLE_INTERVAL: Final = 0.01
#: Seconds the servers are left alone before each transfer.
SETTLE: Final = 0.2
#: Bounds, seconds.
SENT_TIMEOUT: Final = 10.0  # for a response to finish after its last byte arrived
SERVER_START_TIMEOUT: Final = 30.0
SERVER_STOP_TIMEOUT: Final = 15.0
CONNECT_TIMEOUT: Final = 10.0
RECV_TIMEOUT: Final = 30.0  # for any one recv
TRANSFER_TIMEOUT: Final = 300.0  # for a whole download
MAX_HEAD: Final = 64 * 1024

PATHSEND: Final = "http.response.pathsend"
ENV_RESPONSE: Final = "STREAMKIT_BENCH_FILES_RESPONSE"
ENV_DIRECTORY: Final = "STREAMKIT_BENCH_FILES_DIR"
HERE: Final = Path(__file__).resolve().parent

Server = Literal["uvicorn-h11", "uvicorn-httptools", "granian", "sendfile"]
Sent = Literal["pathsend", "body", "sendfile"]

SERVER_LABELS: Final[dict[str, str]] = {
    "uvicorn-h11": "uvicorn h11",
    "uvicorn-httptools": "uvicorn httptools",
    "granian": "granian",
    "sendfile": "plain socket",
}


@dataclass(frozen=True)
class Line:
    server: Server
    response: str
    label: str
    sent: Sent  # how the body must reach the server
    what: str

    @property
    def key(self) -> str:
        return f"{self.server}/{self.response}"

    @property
    def name(self) -> str:
        return f"{SERVER_LABELS[self.server]}: {self.label}"


STREAMKIT_PATH: Final = "streamkit FileStreamResponse(path)"
STARLETTE_PATH: Final = "Starlette FileResponse(path)"
STREAMKIT_SOURCE: Final = "streamkit FileStreamResponse(file_chunks(path), size=)"


def uvicorn_lines(server: Server) -> list[Line]:
    return [
        Line(
            server,
            "streamkit",
            STREAMKIT_PATH,
            "body",
            "Python reads on worker threads, 256 KiB chunks, up to 1 MiB per thread hop; "
            "one body message per chunk",
        ),
        Line(
            server,
            "starlette",
            STARLETTE_PATH,
            "body",
            "anyio reads, one thread hop and one body message per 64 KiB chunk",
        ),
        Line(
            server,
            "source",
            STREAMKIT_SOURCE,
            "body",
            "extra: the same reads as a byte source, through the chunk pump and the size check",
        ),
    ]


GRANIAN_LINES: Final = [
    Line(
        "granian",
        "streamkit",
        STREAMKIT_PATH,
        "pathsend",
        "http.response.pathsend: granian reads and sends the file (Rust)",
    ),
    Line(
        "granian",
        "starlette",
        STARLETTE_PATH,
        "pathsend",
        "http.response.pathsend: granian reads and sends the file (Rust)",
    ),
    Line(
        "granian",
        "source",
        STREAMKIT_SOURCE,
        "body",
        "Python reads (file_chunks) through the chunk pump; body messages to granian",
    ),
    Line(
        "granian",
        "streamkit-hidden",
        STREAMKIT_PATH + ", pathsend hidden",
        "body",
        "extra: pathsend removed from the scope, so the class reads the file as on uvicorn",
    ),
    Line(
        "granian",
        "starlette-hidden",
        STARLETTE_PATH + ", pathsend hidden",
        "body",
        "extra: pathsend removed from the scope, so the class reads the file as on uvicorn",
    ),
]

CEILING: Final = Line(
    "sendfile",
    "sendfile",
    "os.sendfile, no ASGI (reference)",
    "sendfile",
    "a blocking socket server calling sendfile(2), no HTTP library: the kernel's "
    "zero-copy path with this client",
)


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def all_lines() -> list[Line]:
    lines = uvicorn_lines("uvicorn-h11")
    if has_module("httptools"):
        lines += uvicorn_lines("uvicorn-httptools")
    if has_module("granian"):
        lines += GRANIAN_LINES
    return [*lines, CEILING]


# ------------------------------------------------------------------- server side


def build_app(response: str, directory: Path) -> ASGIApp:
    """``/file/{name}`` (``download.bin`` or ``warm-up.bin``) sends the file
    with the line's response class; ``/sent?count=N`` says how the last one
    was sent, once N of them have finished (the client can have every byte
    before the app has sent its final message); ``/pid`` names the process
    that serves (granian's worker)."""
    import anyio
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route

    from streamkit import file_chunks
    from streamkit.starlette import FileStreamResponse

    files = {BIG: directory / BIG, SMALL: directory / SMALL}
    last: dict[str, int] = {"completed": 0}

    async def download(request: Request) -> Response:
        path = files[request.path_params["name"]]
        if response in ("streamkit", "streamkit-hidden"):
            return FileStreamResponse(path)
        if response in ("starlette", "starlette-hidden"):
            return FileResponse(path)
        if response == "source":
            return FileStreamResponse(file_chunks(path), size=path.stat().st_size)
        raise ValueError(f"unknown response {response!r}")

    async def pid(request: Request) -> Response:
        return JSONResponse({"pid": os.getpid()})

    async def sent(request: Request) -> Response:
        count = int(request.query_params["count"])
        with anyio.move_on_after(SENT_TIMEOUT):
            while last["completed"] < count:
                await anyio.sleep(0.002)
        return JSONResponse(last)

    inner = Starlette(
        routes=[Route("/file/{name}", download), Route("/pid", pid), Route("/sent", sent)]
    )
    hide_pathsend = response.endswith("-hidden")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/file/"):
            await inner(scope, receive, send)
            return
        if hide_pathsend:
            extensions = dict(scope.get("extensions") or {})
            extensions.pop(PATHSEND, None)
            scope = {**scope, "extensions": extensions}
        stats = {"body_messages": 0, "body_bytes": 0, "pathsend": 0}

        async def recording(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.body":
                body = message.get("body", b"")
                if body:
                    stats["body_messages"] += 1
                    stats["body_bytes"] += len(body)
            elif kind == PATHSEND:
                stats["pathsend"] += 1
            await send(message)

        try:
            await inner(scope, receive, recording)
        finally:
            last.update(stats, completed=last["completed"] + 1)

    return app


def granian_app() -> ASGIApp:
    """The app of a granian worker (a factory: granian imports this module)."""
    return build_app(os.environ[ENV_RESPONSE], Path(os.environ[ENV_DIRECTORY]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_uvicorn(app: ASGIApp, http: Literal["h11", "httptools"]) -> None:
    if http == "h11":
        harness.serve_app(app)
        return
    # harness.serve_app fixes h11; the same, with httptools.
    import uvicorn

    config = uvicorn.Config(
        app,
        http=http,
        loop="asyncio",
        lifespan="off",
        ws="none",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)

    def exit_when_stdin_closes() -> None:
        sys.stdin.buffer.read()
        server.should_exit = True

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


def serve_granian(response: str, directory: Path) -> None:
    """granian ``--interface asgi`` with one worker process (which runs
    :func:`granian_app`); stops when stdin closes. The port is printed before
    granian listens: the parent waits for ``/pid`` to answer."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    os.environ[ENV_RESPONSE] = response  # inherited by the worker
    os.environ[ENV_DIRECTORY] = str(directory)
    port = free_port()
    server = Granian(
        "bench_files:granian_app",
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        websockets=False,
        factory=True,
        working_dir=HERE,
        log_level=LogLevels.warning,
    )

    def interrupt_when_stdin_closes() -> None:
        # os.read, not sys.stdin: granian forks its worker while this thread
        # waits, and a forked child that closes sys.stdin (multiprocessing
        # does) would block forever on the lock this thread holds.
        while os.read(0, 4096):
            pass
        os.kill(os.getpid(), signal.SIGINT)  # granian's own shutdown path

    threading.Thread(target=interrupt_when_stdin_closes, daemon=True).start()
    print(f"PORT {port}", flush=True)
    server.serve()


def serve_sendfile(directory: Path) -> None:
    """A blocking server: one request per connection, the file sent with
    ``os.sendfile`` on a blocking socket (so each call sends as much as the
    kernel takes); stops when stdin closes."""
    files = {f"/file/{name}": directory / name for name in (BIG, SMALL)}
    stop = threading.Event()

    def stop_when_stdin_closes() -> None:
        sys.stdin.buffer.read()
        stop.set()

    def answer(conn: socket.socket, body: bytes, status: str = "200 OK") -> None:
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
        conn.sendall(head.encode() + b"content-type: application/json\r\n\r\n" + body)

    def handle(conn: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request and len(request) < MAX_HEAD:
            data = conn.recv(4096)
            if not data:
                return
            request += data
        target = request.split(b" ", 2)[1].decode("latin-1")
        if target == "/pid":
            answer(conn, json.dumps({"pid": os.getpid()}).encode())
        elif target.startswith("/sent"):
            answer(conn, b"{}")
        elif target in files:
            with open(files[target], "rb") as file:
                size = os.fstat(file.fileno()).st_size
                conn.sendall(
                    f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n"
                    "content-type: application/octet-stream\r\n\r\n".encode()
                )
                offset = 0
                while offset < size:
                    sent = os.sendfile(conn.fileno(), file.fileno(), offset, size - offset)
                    if not sent:
                        return
                    offset += sent
        else:
            answer(conn, b"{}", "404 Not Found")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.2)
    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    with sock:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):
                # Blocking, with the bound set in the kernel (a Python timeout
                # would make the socket non-blocking and split each sendfile).
                conn.settimeout(None)
                bound = struct.pack("ll", int(RECV_TIMEOUT), 0)  # struct timeval
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, bound)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, bound)
                handle(conn)


def serve(arg: str) -> None:
    key, _, directory = arg.partition("@")
    server, _, response = key.partition("/")
    if server == "sendfile":
        serve_sendfile(Path(directory))
    elif server == "granian":
        serve_granian(response, Path(directory))
    elif server in ("uvicorn-h11", "uvicorn-httptools"):
        http: Literal["h11", "httptools"] = "h11" if server == "uvicorn-h11" else "httptools"
        serve_uvicorn(build_app(response, Path(directory)), http)
    else:
        raise ValueError(f"unknown server {server!r}")


# ------------------------------------------------------------------- client side


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    length: int  # body bytes received (= Content-Length)
    seconds: float  # request sent to last byte
    client_cpu: float  # this thread's CPU seconds over the same span
    sha256: str | None = None
    body: bytes = b""


def http_get(port: int, target: str, *, digest: bool = False, keep: bool = False) -> Reply:
    """GET ``target`` on a new connection (``Connection: close``), counting
    the body until ``Content-Length``; optionally hashing or keeping it."""
    deadline = time.monotonic() + TRANSFER_TIMEOUT
    buffer = bytearray(RECV_SIZE)
    view = memoryview(buffer)
    hasher = hashlib.sha256() if digest else None
    kept = bytearray()
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT) as sock:
        sock.settimeout(RECV_TIMEOUT)
        cpu0 = time.thread_time()
        start = time.perf_counter()
        sock.sendall(request)
        head = bytearray()
        while (end := head.find(b"\r\n\r\n")) < 0:
            if len(head) > MAX_HEAD:
                raise RuntimeError(f"{target}: no end of the response head in {MAX_HEAD} bytes")
            n = sock.recv_into(view)
            if not n:
                raise ConnectionError(f"{target}: closed before the end of the response head")
            head += view[:n]
        status, headers = parse_head(bytes(head[:end]), target)
        if "content-length" not in headers:
            raise RuntimeError(f"{target}: no Content-Length ({headers})")
        length = int(headers["content-length"])
        first = bytes(head[end + 4 :])
        received = len(first)
        if hasher is not None:
            hasher.update(first)
        if keep:
            kept += first
        while received < length:
            n = sock.recv_into(view)
            if not n:
                raise ConnectionError(f"{target}: closed after {received} of {length} bytes")
            received += n
            if hasher is not None:
                hasher.update(view[:n])
            if keep:
                kept += view[:n]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{target}: not received within {TRANSFER_TIMEOUT} s")
        seconds = time.perf_counter() - start
        client_cpu = time.thread_time() - cpu0
    if received != length:
        raise RuntimeError(f"{target}: {received} bytes for a Content-Length of {length}")
    return Reply(
        status,
        headers,
        received,
        seconds,
        client_cpu,
        None if hasher is None else hasher.hexdigest(),
        bytes(kept),
    )


def parse_head(head: bytes, target: str) -> tuple[int, dict[str, str]]:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise RuntimeError(f"{target}: not an HTTP/1.x response: {status_line!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "identity") != "identity":
        raise RuntimeError(f"{target}: a {headers['transfer-encoding']} body, not Content-Length")
    return int(parts[1]), headers


def get_json(port: int, target: str) -> Any:
    response = http_get(port, target, keep=True)
    if response.status != 200:
        raise RuntimeError(f"{target}: status {response.status}")
    return json.loads(response.body)


def proc_stat(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3 on)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, all its threads (ever), seconds."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


#: The kernel-thread flag (PF_KTHREAD) in /proc/<pid>/stat's flags field.
_PF_KTHREAD: Final = 0x00200000


def process_times(exclude: set[int]) -> dict[tuple[int, str], float]:
    """CPU seconds of every user-space process but ``exclude`` (with their
    reaped children's), keyed by pid and start time. Kernel threads are left
    out: they include the loopback's own softirq work."""
    times: dict[tuple[int, str], float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            fields = proc_stat(int(entry.name))
        except OSError:  # gone meanwhile
            continue
        if int(fields[6]) & _PF_KTHREAD:
            continue
        ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        times[(int(entry.name), fields[19])] = ticks / CLOCK_TICKS
    return times


def other_cpu(before: dict[tuple[int, str], float], after: dict[tuple[int, str], float]) -> float:
    """CPU seconds the other processes used between two snapshots (those
    that started meanwhile count whole; those that ended meanwhile and were
    not reaped are missed)."""
    return sum(t - before.get(key, 0.0) for key, t in after.items())


def status_kib(pid: int, name: str) -> int:
    """A ``/proc/<pid>/status`` figure (``VmRSS``, ``VmHWM``), KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {name} for process {pid}")


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux 4.0+); False if
    that is not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class RssSampler:
    """The largest VmRSS of a process, sampled every 10 ms on a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = status_kib(pid, "VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL):
            try:
                self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))
            except (OSError, RuntimeError):
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5.0)
        with contextlib.suppress(OSError, RuntimeError):
            self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))
        return self.peak


def processes_running(arg: str) -> list[tuple[int, str]]:
    """The processes (pid, start time) whose command line has ``arg``: a
    server's ``--serve`` argument names this run's temporary directory, so it
    matches that server's processes only (granian's worker included)."""
    needle = arg.encode()
    found: list[tuple[int, str]] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError, IndexError):
            if needle in Path(entry.path, "cmdline").read_bytes().split(b"\0"):
                found.append((int(entry.name), proc_stat(int(entry.name))[19]))
    return found


class RunningServer:
    """A line's server: the subprocess (harness) and the process that serves
    (the same, or granian's worker)."""

    def __init__(self, line: Line, directory: Path) -> None:
        self.line = line
        self.arg = f"{line.key}@{directory}"
        self.process = harness.ServerProcess(
            __file__,
            self.arg,
            name=line.name,
            start_timeout=SERVER_START_TIMEOUT,
            stop_timeout=SERVER_STOP_TIMEOUT,
        )
        self.pid = self.process.pid
        self.downloads = 0

    @property
    def port(self) -> int:
        return self.process.port

    def download(self, name: str, *, digest: bool = False) -> Reply:
        self.downloads += 1
        return http_get(self.port, f"/file/{name}", digest=digest)

    def how_sent(self, length: int) -> str:
        """How the last download was sent (checked against the line's claim)."""
        sent = get_json(self.port, f"/sent?count={self.downloads}")
        if self.line.sent == "sendfile":
            return "sendfile(2)"
        if sent.get("completed") != self.downloads:
            raise RuntimeError(f"{self.line.name}: {self.downloads} downloads, the app saw {sent}")
        if self.line.sent == "pathsend":
            if sent.get("pathsend") != 1 or sent.get("body_bytes") != 0:
                raise RuntimeError(f"{self.line.name}: expected pathsend, the app sent {sent}")
            return "pathsend"
        if sent.get("pathsend") != 0 or sent.get("body_bytes") != length:
            raise RuntimeError(
                f"{self.line.name}: expected {length} body bytes, the app sent {sent}"
            )
        messages = sent["body_messages"]
        return f"{messages:,} body msgs, {length / messages / 1024:,.0f} KiB each"

    def wait_ready(self) -> None:
        self.process.wait_ready()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            try:
                self.pid = int(get_json(self.port, "/pid")["pid"])
                break
            except OSError:
                if self.process.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.line.name}: no answer on /pid") from None
                time.sleep(0.05)
        if self.pid not in {pid for pid, _ in processes_running(self.arg)}:
            raise RuntimeError(f"{self.line.name}: /pid answered from another process")
        self.check_running()

    def check_running(self) -> None:
        """Fail if the server's process has exited (a worker it left behind
        could still answer, but would not be the server measured)."""
        if self.process.proc.poll() is not None:
            raise RuntimeError(f"{self.line.name}: the server exited")

    def stop(self) -> None:
        """Stop the server; then kill what it left running (granian's worker,
        if it outlives its parent), each by its pid and start time."""
        self.process.stop()
        left = processes_running(self.arg)
        deadline = time.monotonic() + SERVER_STOP_TIMEOUT
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [(pid, started) for pid, started in left if alive(pid, started)]
        for pid, started in left:
            if alive(pid, started):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def alive(pid: int, started: str) -> bool:
    """Whether process ``pid`` is still the one that started at ``started``."""
    try:
        fields = proc_stat(pid)
    except OSError:
        return False
    return fields[19] == started and fields[0] != "Z"


@dataclass
class Sample:
    seconds: float
    length: int
    server_cpu: float
    client_cpu: float
    idle_kib: int
    peak_kib: int
    other_cpu: float  # CPU seconds the other processes used meanwhile

    @property
    def mb_s(self) -> float:
        return self.length / self.seconds / 1e6

    @property
    def others(self) -> float:
        """What the other processes used during the transfer, in CPUs."""
        return max(0.0, self.other_cpu / self.seconds)

    @property
    def growth_mib(self) -> float:
        return (self.peak_kib - self.idle_kib) / 1024


def measure(server: RunningServer, size: int) -> tuple[Sample, str]:
    pid = server.pid
    server.check_running()
    gc.collect()
    time.sleep(SETTLE)
    hwm = reset_peak(pid)
    idle = status_kib(pid, "VmRSS")
    sampler = RssSampler(pid)
    ours = {os.getpid(), pid, server.process.pid}
    others0 = process_times(ours)
    cpu0 = cpu_seconds(pid)
    gc.disable()
    try:
        response = server.download(BIG)
    finally:
        gc.enable()
        cpu1 = cpu_seconds(pid)
        peak = sampler.stop()
        others1 = process_times(ours)
    if hwm:
        peak = max(peak, status_kib(pid, "VmHWM"))
    if response.status != 200 or response.length != size:
        raise RuntimeError(f"{server.line.name}: {response.status}, {response.length} bytes")
    sent = server.how_sent(size)
    other = other_cpu(others0, others1)
    sample = Sample(response.seconds, size, cpu1 - cpu0, response.client_cpu, idle, peak, other)
    return sample, sent


def verify(server: RunningServer, size: int, expected: str) -> str:
    """Download the file once more, hashing it; the SHA-256 must be the file's."""
    server.check_running()
    response = server.download(BIG, digest=True)
    if response.status != 200 or response.length != size or response.sha256 != expected:
        raise RuntimeError(
            f"{server.line.name}: {response.status}, {response.length} bytes, "
            f"SHA-256 {response.sha256} instead of {expected}"
        )
    return server.how_sent(size)


def write_file(path: Path, size: int, block: bytes) -> str:
    """Write ``size`` bytes of ``block`` repeated, fsynced; their SHA-256."""
    hasher = hashlib.sha256()
    with open(path, "wb") as file:
        remaining = size
        while remaining:
            piece = block[:remaining]
            file.write(piece)
            hasher.update(piece)
            remaining -= len(piece)
        file.flush()
        os.fsync(file.fileno())
    return hasher.hexdigest()


# ------------------------------------------------------------------------- report


@dataclass
class Result:
    line: Line
    samples: list[Sample] = field(default_factory=list)
    sent: str = ""
    verified: bool = False

    @property
    def mb_s(self) -> float:
        return max(s.mb_s for s in self.samples)

    def per_gib(self, seconds: float) -> float:
        return seconds / (self.samples[0].length / GiB)

    @property
    def server_cpu(self) -> float:
        return self.per_gib(min(s.server_cpu for s in self.samples))

    @property
    def client_cpu(self) -> float:
        return self.per_gib(min(s.client_cpu for s in self.samples))

    @property
    def idle_mib(self) -> float:
        return min(s.idle_kib for s in self.samples) / 1024

    @property
    def growth_mib(self) -> float:
        return max(s.growth_mib for s in self.samples)

    @property
    def others(self) -> float:
        return max(s.others for s in self.samples)


def run(sizes: Sizes, lines: Sequence[Line]) -> list[Result]:
    directory = Path(tempfile.mkdtemp(prefix="streamkit-bench-files-"))
    servers: list[RunningServer] = []
    try:
        block = random.Random(SEED).randbytes(PERIOD)
        started = time.perf_counter()
        expected = write_file(directory / BIG, sizes.file_bytes, block)
        write_file(directory / SMALL, SMALL_BYTES, block)
        print(
            f"Wrote {sizes.file_bytes:,} bytes in {time.perf_counter() - started:.1f} s "
            f"(SHA-256 {expected[:16]}...)"
        )
        # Appended one by one as they start, so that a failure stops those started.
        servers.extend(RunningServer(line, directory) for line in lines)
        for server in servers:
            server.wait_ready()
            for _ in range(2):
                if server.download(SMALL).length != SMALL_BYTES:
                    raise RuntimeError(f"{server.line.name}: the warm-up file came short")
        results = [Result(line) for line in lines]
        for number in range(1, sizes.passes + 1):
            for server, result in zip(servers, results, strict=True):
                sample, result.sent = measure(server, sizes.file_bytes)
                result.samples.append(sample)
            print(f"pass {number}/{sizes.passes} done")
        for server, result in zip(servers, results, strict=True):
            if verify(server, sizes.file_bytes, expected) != result.sent:
                raise RuntimeError(f"{result.line.name}: sent differently when verified")
            result.verified = True
        return results
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def find(results: Sequence[Result], server: str, response: str) -> Result | None:
    for result in results:
        if result.line.server == server and result.line.response == response:
            return result
    return None


def report(results: Sequence[Result], sizes: Sizes, quick: bool) -> None:
    print(
        f"\nFile downloads: {sizes.file_bytes:,} bytes ({sizes.file_bytes / GiB:g} GiB) from the "
        f"page cache, one GET at a time on 127.0.0.1; best of {sizes.passes} pass(es); "
        "MB = 10^6 bytes"
    )
    print(
        "CPU: least of the passes, seconds per GiB; RSS growth: peak during the transfer "
        "minus RSS just before it, largest of the passes; others: CPUs the other processes "
        "(kernel threads left out) used meanwhile, largest of the passes"
    )
    width = max(len(r.line.name) for r in results)
    header = (
        f"{'line':<{width}} {'MB/s':>8} {'server CPU':>10} {'client CPU':>10} "
        f"{'idle RSS':>8} {'RSS growth':>10} {'others':>6}  how it was sent"
    )
    print(header)
    print(f"{'':<{width}} {'':>8} {'s/GiB':>10} {'s/GiB':>10} {'MiB':>8} {'MiB':>10} {'CPUs':>6}")
    print("-" * len(header))
    for r in results:
        print(
            f"{r.line.name:<{width}} {r.mb_s:>8,.0f} {r.server_cpu:>10.3f} {r.client_cpu:>10.3f} "
            f"{r.idle_mib:>8.1f} {r.growth_mib:>10.2f} {r.others:>6.2f}  {r.sent}"
        )
    busiest = max(r.others for r in results)
    if busiest > OTHERS_WARNING:
        print(
            f"WARNING: other processes used up to {busiest:.2f} CPUs during a transfer: "
            "the figures are not reliable; rerun on a quiet machine"
        )
    print("\nMB/s of every pass")
    for r in results:
        print(f"{r.line.name:<{width}} " + " ".join(f"{s.mb_s:>7,.0f}" for s in r.samples))
    if not has_module("httptools"):
        print("uvicorn httptools: not installed (uvicorn runs h11 only here)")
    if not has_module("granian"):
        print("granian: not installed (no granian lines)")

    print("\nWhat each line exercises")
    for r in results:
        print(f"- {r.line.name}: {r.line.what}")

    print("\nVerification")
    for r in results:
        state = "ok" if r.verified else "FAILED"
        print(f"verified {r.line.name}: whole body SHA-256 equals the file's: {state}")
    if all(r.verified for r in results):
        print(f"All {len(results)} lines delivered the file byte for byte.")

    ratios: list[Ratio] = []
    for server in ("uvicorn-h11", "uvicorn-httptools"):
        ours, theirs = find(results, server, "streamkit"), find(results, server, "starlette")
        if ours is None or theirs is None:
            continue
        label = SERVER_LABELS[server]
        ratios.append(
            Ratio(f"MB/s, {label}: streamkit / FileResponse", ours.mb_s / theirs.mb_s, SPEED_TARGET)
        )
        ratios.append(
            Ratio(
                f"server CPU per GiB, {label}: FileResponse / streamkit",
                theirs.server_cpu / ours.server_cpu,
                None,
            )
        )
    for response, what in (("", "pathsend (granian sends)"), ("-hidden", "pathsend hidden")):
        ours = find(results, "granian", "streamkit" + response)
        theirs = find(results, "granian", "starlette" + response)
        if ours is not None and theirs is not None:
            ratios.append(
                Ratio(
                    f"MB/s, granian, {what}: streamkit / FileResponse",
                    ours.mb_s / theirs.mb_s,
                    None,
                )
            )
    harness.print_ratios(ratios, quick)

    print("\nTargets")
    if quick:
        print("(quick run: sizes too small for the figures to mean anything)")
    for ratio in ratios:
        if ratio.target is not None:
            met = "met" if ratio.ratio >= ratio.target else "MISSED"
            print(f"speed: {ratio.what} {ratio.ratio:.2f}x, target >= {ratio.target:g}x: {met}")
    for r in results:
        if r.line.label.startswith("streamkit"):
            met = "met" if r.growth_mib <= RSS_TARGET_MIB else "MISSED"
            print(
                f"memory: {r.line.name}: peak RSS growth {r.growth_mib:.2f} MiB, "
                f"target <= {RSS_TARGET_MIB:g} MiB: {met}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a 64 MiB file, one pass")
    parser.add_argument("--serve", metavar="LINE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    if not sys.platform.startswith("linux"):
        print("bench_files.py reads /proc: Linux only")
        return 1
    sizes = SIZES["quick" if args.quick else "full"]
    packages = ["streamkit", "uvicorn", "h11", "starlette", "anyio"]
    packages += [name for name in ("httptools", "granian") if has_module(name)]
    harness.print_environment(packages)
    lines = all_lines()
    report(run(sizes, lines), sizes, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
