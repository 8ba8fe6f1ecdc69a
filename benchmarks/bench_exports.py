"""Export benchmarks: JSON Lines and CSV encoding, end to end through uvicorn, and memory.

Run from the project root after ``pip install -e ".[bench]"`` (fastapi, uvicorn, httpx)::

    python benchmarks/bench_exports.py           # full run (about 3.5 minutes)
    python benchmarks/bench_exports.py --quick   # tiny sizes, a smoke check only

1. **In-process encoding.** 1,000,000 dict rows of 7 fields (ints, strings, a
   float), built once, encoded by streamkit's :func:`streamkit.jsonl_chunks` and
   :func:`streamkit.csv_chunks` (the list is iterated on the event loop; the
   chunks are collected) and by plain loops, the bounds: ``orjson.dumps(row,
   option=OPT_APPEND_NEWLINE)`` per row, joined once at the end (as the issue
   states it) and joined per 256 rows (a stricter bound: the single join keeps a
   million small ``bytes`` alive, which costs the allocator more than the
   encoding); ``csv.writer(StringIO).writerow([row[k] for k in fields])`` per row,
   one ``getvalue()`` and ``encode()`` at the end. Before timing, every line's
   output for the first rows must be byte-identical to its bound's; each timed
   pass is checked again (SHA-256 over the whole output).
2. **End to end through uvicorn.** Each line is a fresh uvicorn server
   (``http="h11"``, ``loop="asyncio"``) in a subprocess of this script on
   127.0.0.1, fed a sync generator that builds the rows on the fly; an
   ``httpx`` client in this process streams the response and hashes it.
   streamkit (a raw ASGI app, one ``http.response.body`` per chunk) against
   FastAPI's own JSON Lines streaming (a generator path operation with no
   ``response_class``; untyped dicts and ``Iterable[Item]``, sync and async)
   and against Django's CSV recipe (``csv.writer`` over an ``Echo`` buffer, one
   row per chunk) in a Starlette ``StreamingResponse``. The peers stream far
   fewer rows (the same rows, a prefix): at their speed a 200 MB response takes
   minutes. Each server reports its CPU time and its peak RSS (VmHWM) over
   what it was after start-up.
3. **Constant memory.** 10 million rows from a sync generator through
   ``csv_chunks`` and ``jsonl_chunks`` to a consumer that discards the chunks,
   one subprocess per format (the two run at the same time), reporting the
   peak RSS growth.

Lines take turns pass after pass and the best pass counts. The cyclic GC is
paused during a pass in this process (sections 1 and 2); the servers and the
memory subprocesses keep it running, as a real server does, so that their
memory figures are real.
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import io
import json
import math
import subprocess
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, Final, Literal

import anyio
import harness
import httpx
import orjson
from harness import Ratio
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from streamkit import CSVEncoder, csv_chunks, jsonl_chunks

# jsonl_encoder is not exported by the package (only encode_jsonl is).
from streamkit._formats.jsonl import jsonl_encoder

#: Targets from the issue.
ENCODE_TARGET: Final = 0.8  # streamkit's MB/s over the plain loop's, in process
SERVER_TARGET: Final = 5.0  # streamkit's MB/s over the peer's, end to end
#: streamkit's chunk size (DEFAULT_CHUNK_SIZE); the memory limit is "a few MiB" beyond it.
CHUNK_SIZE: Final = 64 * 1024
MEMORY_LIMIT: Final = CHUNK_SIZE + 4 * 1024 * 1024

#: Rows per batch in the per-batch plain loops (streamkit's own batch size).
BATCH: Final = 256
MIB: Final = 1024 * 1024

#: Seconds to wait for a server subprocess to report its port, and to exit.
SERVER_START_TIMEOUT: Final = 60.0
SERVER_STOP_TIMEOUT: Final = 15.0
#: httpx timeout (connect, read, write, pool), seconds: a stuck stream fails the run.
CLIENT_TIMEOUT: Final = 120.0
#: The longest a memory subprocess may take.
MEMORY_TIMEOUT: Final = 600.0


@dataclass(frozen=True, kw_only=True)
class Sizes:
    encode_rows: int  # section 1
    encode_check_rows: int
    encode_passes: int
    server_check_rows: int  # section 2: every line, parsed and compared, before timing
    server_rows: dict[str, int]  # section 2: rows per response, by line
    server_passes: int
    memory_rows: int  # section 3


FULL_SERVER_ROWS: Final = {
    "sk-jsonl": 1_600_000,
    "fastapi-async": 24_000,
    "fastapi-typed-async": 40_000,
    "fastapi-sync": 6_000,
    "fastapi-typed-sync": 6_000,
    "sk-csv": 1_600_000,
    "django-csv": 6_000,
    "django-csv-async": 160_000,
}

SIZES: Final = {
    "full": Sizes(
        encode_rows=1_000_000,
        encode_check_rows=20_000,
        encode_passes=3,
        server_check_rows=2_000,
        server_rows=FULL_SERVER_ROWS,
        server_passes=2,
        memory_rows=10_000_000,
    ),
    "quick": Sizes(
        encode_rows=20_000,
        encode_check_rows=2_000,
        encode_passes=1,
        server_check_rows=200,
        server_rows={key: 2_000 if key.startswith("sk-") else 300 for key in FULL_SERVER_ROWS},
        server_passes=1,
        memory_rows=100_000,
    ),
}


# --------------------------------------------------------------------------- data

Row = dict[str, Any]

FIELDS: Final = ("id", "name", "email", "city", "amount", "qty", "status")
#: Values come from small pools, so that building a row costs little next to
#: encoding it (a database driver hands rows over at C speed).
_POOL: Final = 4096
_NAMES: Final = tuple(f"user{j:05d}" for j in range(_POOL))
_EMAILS: Final = tuple(f"user{j:05d}@example.org" for j in range(_POOL))
_AMOUNTS: Final = tuple(round((j * 7919 % 100_003) / 100, 2) for j in range(_POOL))
_CITIES: Final = ("Amsterdam", "Berlin", "Copenhagen", "Dublin", "Edinburgh", "Frankfurt")
_STATUSES: Final = ("active", "closed", "pending")


def make_row(i: int) -> Row:
    """Row ``i``: no text cell starts with a formula trigger, so CSV output is the
    same with the formula guard on or off."""
    j = i % _POOL
    return {
        "id": i,
        "name": _NAMES[j],
        "email": _EMAILS[j],
        "city": _CITIES[i % 6],
        "amount": _AMOUNTS[j],
        "qty": i % 97,
        "status": _STATUSES[i % 3],
    }


def generate_rows(n: int) -> Iterator[Row]:
    """A sync generator building rows on the fly, as a database cursor would."""
    for i in range(n):
        yield make_row(i)


class Item(BaseModel):
    """The row as a pydantic model, for FastAPI's typed JSON Lines path."""

    id: int
    name: str
    email: str
    city: str
    amount: float
    qty: int
    status: str


_dumps_line = partial(orjson.dumps, option=orjson.OPT_APPEND_NEWLINE)


def reference_jsonl(rows: Iterable[Row]) -> Iterator[bytes]:
    """The plain encoding, in pieces: orjson, one row per line."""
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        yield b"".join(map(_dumps_line, batch))


def reference_csv(rows: Iterable[Row]) -> Iterator[bytes]:
    """The plain encoding, in pieces: the csv module's excel dialect, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    getter = itemgetter(*FIELDS)
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        writer.writerows(map(getter, batch))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


@dataclass(frozen=True)
class Digest:
    sha256: str
    size: int
    lines: int  # LF bytes: rows (JSONL) or rows + header (CSV)


def digest_of(pieces: Iterable[bytes]) -> Digest:
    hasher = hashlib.sha256()
    size = lines = 0
    for piece in pieces:
        hasher.update(piece)
        size += len(piece)
        lines += piece.count(b"\n")
    return Digest(hasher.hexdigest(), size, lines)


# ------------------------------------------------------------------ measurements


def memory_status() -> tuple[int, int]:
    """(current RSS, peak RSS) of this process in bytes: VmRSS and VmHWM, or
    ``ru_maxrss`` for both where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak *= 1 if sys.platform == "darwin" else 1024
        return peak, peak


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False if that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def time_once(run: Callable[[], object]) -> tuple[float, object]:
    """Seconds for one call of ``run`` (and its result), the cyclic GC paused."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    return seconds, result


async def _collect(
    chunker: AbstractAsyncContextManager[AsyncIterator[bytes]], out: list[bytes]
) -> None:
    # Returns None: asyncio.run() on CPython 3.11 takes the repr() of the main
    # task's result when it finishes, which costs 0.3 s for a 36 MB bytes.
    async with chunker as chunks:
        out.extend([chunk async for chunk in chunks])


def collect_chunks(chunker: AbstractAsyncContextManager[AsyncIterator[bytes]]) -> list[bytes]:
    out: list[bytes] = []
    anyio.run(_collect, chunker, out)
    return out


# ------------------------------------------------------------ 1. in-process encoding

Encoder = Callable[[list[Row]], list[bytes]]


def plain_jsonl_one_join(rows: list[Row]) -> list[bytes]:
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    return [b"".join([dumps(row, option=option) for row in rows])]


def plain_jsonl_batched(rows: list[Row]) -> list[bytes]:
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    out: list[bytes] = []
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        out.append(b"".join([dumps(row, option=option) for row in batch]))
    return out


def encoder_jsonl_batched(rows: list[Row]) -> list[bytes]:
    encode = jsonl_encoder()
    out: list[bytes] = []
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        out.append(b"".join([encode(row) for row in batch]))
    return out


def streamkit_jsonl(rows: list[Row]) -> list[bytes]:
    return collect_chunks(jsonl_chunks(rows))


def plain_csv(rows: list[Row]) -> list[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    for row in rows:
        writer.writerow([row[key] for key in FIELDS])
    return [buffer.getvalue().encode()]


def streamkit_csv(guard: bool) -> Encoder:
    def run(rows: list[Row]) -> list[bytes]:
        return collect_chunks(csv_chunks(rows, fieldnames=FIELDS, formula_guard=guard))

    return run


def encoder_csv_batched(rows: list[Row]) -> list[bytes]:
    encoder = CSVEncoder(FIELDS)
    out: list[bytes] = []
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        out.append(encoder.encode_many(batch))
    out.append(encoder.finish())
    return out


@dataclass(frozen=True)
class EncodeLine:
    fmt: str
    label: str
    run: Encoder
    bound: bool = False


ENCODE_LINES: Final = (
    EncodeLine("JSONL", "plain orjson loop, one join (issue's bound)", plain_jsonl_one_join, True),
    EncodeLine("JSONL", "plain orjson loop, join per 256 rows (bound)", plain_jsonl_batched, True),
    EncodeLine("JSONL", "streamkit jsonl_encoder loop, join per 256", encoder_jsonl_batched),
    EncodeLine("JSONL", "streamkit jsonl_chunks", streamkit_jsonl),
    EncodeLine("CSV", "plain csv.writer loop (bound)", plain_csv, True),
    EncodeLine("CSV", "streamkit csv_chunks, guard on (default)", streamkit_csv(True)),
    EncodeLine("CSV", "streamkit csv_chunks, guard off", streamkit_csv(False)),
    EncodeLine("CSV", "streamkit CSVEncoder.encode_many per 256, guard on", encoder_csv_batched),
)


def run_encode_bench(sizes: Sizes, ratios: list[Ratio]) -> None:
    n, passes = sizes.encode_rows, sizes.encode_passes
    rows = [make_row(i) for i in range(n)]
    gc.collect()
    gc.freeze()  # the rows stay out of the collector's sight
    expected = {
        "JSONL": digest_of(reference_jsonl(rows)),
        "CSV": digest_of(reference_csv(rows)),
    }
    print(
        f"\n1. In-process encoding: {n:,} dict rows of {len(FIELDS)} fields "
        f"(JSONL {expected['JSONL'].size / n:.0f} B/row, CSV {expected['CSV'].size / n:.0f} "
        f"B/row), best of {passes} passes"
    )
    # Same output first, on the first rows: every line byte-identical to the others.
    head = rows[: sizes.encode_check_rows]
    want = {"JSONL": digest_of(plain_jsonl_one_join(head)), "CSV": digest_of(plain_csv(head))}
    for line in ENCODE_LINES:
        if digest_of(line.run(head)) != want[line.fmt]:
            raise AssertionError(f"{line.fmt} {line.label}: output differs from the plain loop")
    best = {line.label: math.inf for line in ENCODE_LINES}
    for _ in range(passes):
        for line in ENCODE_LINES:
            seconds, result = time_once(partial(line.run, rows))
            assert isinstance(result, list)
            got = digest_of(result)
            del result
            if got != expected[line.fmt]:
                raise AssertionError(f"{line.fmt} {line.label}: output differs from the plain loop")
            best[line.label] = min(best[line.label], seconds)
    header = f"{'format':<6} {'line':<52} {'rows/s':>11} {'MB/s':>7} {'us/row':>7}"
    print(header)
    print("-" * len(header))
    for line in ENCODE_LINES:
        seconds = best[line.label]
        print(
            f"{line.fmt:<6} {line.label:<52} {n / seconds:>11,.0f} "
            f"{expected[line.fmt].size / seconds / 1e6:>7.1f} {seconds / n * 1e6:>7.2f}"
        )
    print(
        f"Outputs byte-identical within each format on every pass "
        f"(JSONL sha256 {expected['JSONL'].sha256[:12]}..., CSV {expected['CSV'].sha256[:12]}...)."
    )

    def speed(label: str) -> float:
        return 1 / best[label]  # same bytes within a format: MB/s ratio = speed ratio

    one_join, batched, encoder, chunks, plain, guard_on, guard_off, encode_many = (
        line.label for line in ENCODE_LINES
    )
    for what, label, bound, target in (
        ("jsonl_chunks / plain orjson loop, one join", chunks, one_join, ENCODE_TARGET),
        ("jsonl_chunks / plain orjson loop, join per 256 rows", chunks, batched, ENCODE_TARGET),
        ("jsonl_encoder loop / plain orjson loop, both per 256 rows", encoder, batched, None),
        ("csv_chunks, guard on (default) / plain csv.writer loop", guard_on, plain, ENCODE_TARGET),
        ("csv_chunks, guard off / plain csv.writer loop", guard_off, plain, None),
        ("CSVEncoder.encode_many, guard on / plain csv.writer loop", encode_many, plain, None),
    ):
        ratios.append(Ratio(f"encode: {what}", speed(label) / speed(bound), target))
    del rows
    gc.unfreeze()
    gc.collect()


# ------------------------------------------------------------------- 2. server side


@dataclass(frozen=True)
class ServerLine:
    key: str  # the path, and the server's --serve argument
    label: str
    fmt: Literal["jsonl", "csv"]
    exact: bool  # byte-identical to the reference encoding (else: the same rows, parsed)
    legend: str


SERVER_LINES: Final = (
    ServerLine(
        "sk-jsonl",
        "streamkit jsonl_chunks",
        "jsonl",
        True,
        "raw ASGI: async with jsonl_chunks(rows()): one body message per chunk",
    ),
    ServerLine(
        "fastapi-async",
        "FastAPI, async def, dicts",
        "jsonl",
        False,
        "async def path operation yielding dicts (jsonable_encoder + json.dumps)",
    ),
    ServerLine(
        "fastapi-typed-async",
        "FastAPI, AsyncIterable[Item]",
        "jsonl",
        False,
        "the same, annotated -> AsyncIterable[Item] (pydantic validates, serialises)",
    ),
    ServerLine(
        "fastapi-sync",
        "FastAPI, def, dicts",
        "jsonl",
        False,
        "def path operation yielding dicts (one threadpool hop per row)",
    ),
    ServerLine(
        "fastapi-typed-sync",
        "FastAPI, Iterable[Item]",
        "jsonl",
        False,
        "the same, annotated -> Iterable[Item]",
    ),
    ServerLine(
        "sk-csv",
        "streamkit csv_chunks",
        "csv",
        True,
        "raw ASGI: async with csv_chunks(rows(), fieldnames=...), guard on",
    ),
    ServerLine(
        "django-csv",
        "Django recipe, sync generator",
        "csv",
        True,
        "StreamingResponse((writer.writerow(r) for r in rows)), Echo buffer, row per chunk",
    ),
    ServerLine(
        "django-csv-async",
        "Django recipe, async generator",
        "csv",
        True,
        "the same recipe as an async generator (no threadpool hop per row)",
    ),
)
LINES_BY_KEY: Final = {line.key: line for line in SERVER_LINES}
#: The streamkit line, and the peers it is measured against, per format.
COMPARISONS: Final = {
    "sk-jsonl": ("fastapi-async", "fastapi-typed-async", "fastapi-sync", "fastapi-typed-sync"),
    "sk-csv": ("django-csv", "django-csv-async"),
}

JSONL_HEADERS: Final = [(b"content-type", b"application/jsonl")]
CSV_HEADERS: Final = [(b"content-type", b"text/csv; charset=utf-8; header=present")]


def rows_param(scope: Scope) -> int:
    query = scope.get("query_string", b"").decode()
    return int(dict(pair.split("=", 1) for pair in query.split("&") if "=" in pair)["n"])


async def send_body(send: Send, data: bytes, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


def streamkit_app(fmt: Literal["jsonl", "csv"]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        n = rows_param(scope)
        headers = JSONL_HEADERS if fmt == "jsonl" else CSV_HEADERS
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        chunker = (
            jsonl_chunks(generate_rows(n))
            if fmt == "jsonl"
            else csv_chunks(generate_rows(n), fieldnames=FIELDS)
        )
        async with chunker as chunks:
            async for chunk in chunks:
                await send_body(send, chunk)
        await send_body(send, b"", more=False)

    return app


class Echo:
    """Django's pseudo-buffer: ``write`` returns what it is given."""

    def write(self, value: str) -> str:
        return value


def django_rows(n: int) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield writer.writerow(FIELDS)
    for row in generate_rows(n):
        yield writer.writerow([row[key] for key in FIELDS])


async def django_rows_async(n: int) -> AsyncIterator[str]:
    writer = csv.writer(Echo())
    yield writer.writerow(FIELDS)
    for row in generate_rows(n):
        yield writer.writerow([row[key] for key in FIELDS])


def django_app(asynchronous: bool) -> ASGIApp:
    from starlette.responses import StreamingResponse

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        n = rows_param(scope)
        content = django_rows_async(n) if asynchronous else django_rows(n)
        response = StreamingResponse(content, media_type="text/csv")
        await response(scope, receive, send)

    return app


def fastapi_app() -> ASGIApp:
    from fastapi import FastAPI

    app = FastAPI()

    # No return annotation on the untyped ones: FastAPI reads it, and any
    # iterator annotation would switch it to its typed (pydantic) path.
    @app.get("/fastapi-async")
    async def export_async(n: int):  # type: ignore[no-untyped-def]
        for row in generate_rows(n):
            yield row

    @app.get("/fastapi-sync")
    def export_sync(n: int):  # type: ignore[no-untyped-def]
        yield from generate_rows(n)

    @app.get("/fastapi-typed-async")
    async def export_typed_async(n: int) -> AsyncIterable[Item]:
        for row in generate_rows(n):
            yield row  # type: ignore[misc]  # FastAPI validates the dict into an Item

    @app.get("/fastapi-typed-sync")
    def export_typed_sync(n: int) -> Iterable[Item]:
        yield from generate_rows(n)  # type: ignore[misc]

    return app


def line_app(key: str) -> ASGIApp:
    if key.startswith("fastapi"):
        return fastapi_app()
    if key.startswith("django"):
        return django_app(asynchronous=key.endswith("async"))
    return streamkit_app("jsonl" if key == "sk-jsonl" else "csv")


def serve(key: str) -> None:
    """The server subprocess for one line: serve it on a free loopback port.

    Prints ``PORT <n>`` once listening, and exits when its stdin is closed
    (the parent is done or gone). ``/prepare`` runs the collector (and, the
    first time, takes the memory baseline); ``/stats`` reports the last
    response and the memory figures.
    """
    inner = line_app(key)
    gc.collect()
    gc.freeze()
    last: dict[str, float] = {}
    memory: dict[str, int] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        if path == "/prepare":
            gc.collect()
            last.clear()
            if not memory:
                # The baseline: started, imported, idle. VmHWM restarts from here.
                memory["reset"] = int(reset_peak())
                memory["baseline"] = memory_status()[0]
            await harness.send_json(send, {})
        elif path == "/stats":
            rss, peak = memory_status()
            await harness.send_json(send, {**last, **memory, "rss": rss, "peak": peak})
        else:
            await inner(scope, receive, harness.counting(send, last))

    harness.serve_app(app)


# ------------------------------------------------------------------- 2. client side


def start_server(key: str) -> harness.ServerProcess:
    """A server subprocess for one line; call its ``wait_ready`` before use."""
    return harness.ServerProcess(
        __file__,
        key,
        name=key,
        start_timeout=SERVER_START_TIMEOUT,
        stop_timeout=SERVER_STOP_TIMEOUT,
    )


@dataclass
class Pass:
    seconds: float  # client: request sent to last byte received
    digest: Digest
    messages: int  # non-empty http.response.body messages, counted by the server
    server_cpu: float  # CPU seconds of the server process (all threads) for the response


def fetch(client: httpx.Client, key: str, n: int) -> bytes:
    with client.stream("GET", f"/{key}", params={"n": n}) as response:
        response.raise_for_status()
        return b"".join(response.iter_raw())


def stream_once(client: httpx.Client, key: str, n: int) -> Pass:
    client.get("/prepare").raise_for_status()
    hasher = hashlib.sha256()
    size = lines = 0
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        with client.stream("GET", f"/{key}", params={"n": n}) as response:
            response.raise_for_status()
            for piece in response.iter_raw():
                hasher.update(piece)
                size += len(piece)
                lines += piece.count(b"\n")
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    stats = client.get("/stats").json()
    if stats.get("bytes") != size:
        raise RuntimeError(f"{key}: the server sent {stats.get('bytes')} bytes, got {size}")
    return Pass(
        seconds=seconds,
        digest=Digest(hasher.hexdigest(), size, lines),
        messages=int(stats["messages"]),
        server_cpu=float(stats["cpu"]),
    )


def check_line(client: httpx.Client, line: ServerLine, n: int) -> None:
    """The line's response for ``n`` rows must carry exactly rows 0..n-1."""
    body = fetch(client, line.key, n)
    if line.fmt == "csv":
        want = b"".join(reference_csv(generate_rows(n)))
        if body != want:
            raise AssertionError(f"{line.label}: CSV bytes differ from csv.writer's")
        return
    if line.exact and body != b"".join(reference_jsonl(generate_rows(n))):
        raise AssertionError(f"{line.label}: JSON Lines bytes differ from orjson's")
    parsed = [orjson.loads(text) for text in body.splitlines()]
    if parsed != [make_row(i) for i in range(n)]:
        raise AssertionError(f"{line.label}: the rows parsed from the response differ")


@dataclass
class LineResult:
    rows: int
    best: Pass | None = None
    least_cpu: float = math.inf
    memory: dict[str, int] = field(default_factory=dict)


def run_server_bench(sizes: Sizes, ratios: list[Ratio]) -> None:
    passes = sizes.server_passes
    print(
        f"\n2. End to end through uvicorn (h11, asyncio, a fresh server subprocess per line) "
        f"to an httpx client; rows built on the fly by a sync generator; best of {passes} passes"
    )
    n_gen = sizes.server_rows["sk-jsonl"]
    seconds, _ = time_once(lambda: sum(1 for _ in generate_rows(n_gen)))
    print(
        f"The row generator alone, drained in this process: {n_gen / seconds:,.0f} rows/s "
        f"({seconds / n_gen * 1e6:.2f} us/row)"
    )
    servers = {line.key: start_server(line.key) for line in SERVER_LINES}  # start together
    clients: dict[str, httpx.Client] = {}
    results = {line.key: LineResult(sizes.server_rows[line.key]) for line in SERVER_LINES}
    try:
        for key, server in servers.items():
            server.wait_ready()
            clients[key] = httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT)
            clients[key].get("/prepare").raise_for_status()  # the memory baseline
        # The expected output of every timed response, computed by the plain loops.
        expected: dict[tuple[str, int], Digest] = {}
        for line in SERVER_LINES:
            wanted = (line.fmt, results[line.key].rows)
            if line.exact and wanted not in expected:
                reference = reference_jsonl if line.fmt == "jsonl" else reference_csv
                expected[wanted] = digest_of(reference(generate_rows(wanted[1])))
        # Same output first: every line's rows, parsed (and the bytes where exact).
        for line in SERVER_LINES:
            check_line(clients[line.key], line, sizes.server_check_rows)
        for _ in range(passes):
            for line in SERVER_LINES:
                result = results[line.key]
                got = stream_once(clients[line.key], line.key, result.rows)
                extra = 1 if line.fmt == "csv" else 0  # the header line
                if got.digest.lines != result.rows + extra:
                    raise AssertionError(f"{line.label}: {got.digest.lines} lines received")
                if line.exact and got.digest != expected[(line.fmt, result.rows)]:
                    raise AssertionError(f"{line.label}: bytes differ from the plain loop's")
                if result.best is None or got.seconds < result.best.seconds:
                    result.best = got
                result.least_cpu = min(result.least_cpu, got.server_cpu)
        for key, client in clients.items():
            results[key].memory = client.get("/stats").json()
    finally:
        for client in clients.values():
            client.close()
        for server in servers.values():
            server.stop()
    header = (
        f"{'line':<31} {'rows':>10} {'MB':>6} {'B/row':>5} {'rows/s':>9} {'MB/s':>6} "
        f"{'messages':>9} {'B/msg':>6} {'srv CPU us/row':>14} {'peak RSS +MiB':>13}"
    )
    print(header)
    print("-" * len(header))
    for line in SERVER_LINES:
        r = results[line.key]
        assert r.best is not None
        size = r.best.digest.size
        growth = (r.memory["peak"] - r.memory["baseline"]) / MIB
        print(
            f"{line.label:<31} {r.rows:>10,} {size / 1e6:>6.1f} {size / r.rows:>5.0f} "
            f"{r.rows / r.best.seconds:>9,.0f} {size / r.best.seconds / 1e6:>6.1f} "
            f"{r.best.messages:>9,} {size / r.best.messages:>6,.0f} "
            f"{r.least_cpu / r.rows * 1e6:>14.2f} {growth:>13.1f}"
        )
    print(
        f"Checked before timing: each line's first {sizes.server_check_rows:,} rows parse to the "
        f"same rows; streamkit's and Django's CSV and streamkit's JSON Lines are byte-identical "
        f"to the plain loops'; every timed response has every row (and, where exact, the "
        f"plain loop's sha256)."
    )
    print(
        "peak RSS +MiB: the server's VmHWM over its RSS once started and idle (baseline "
        f"{results['sk-jsonl'].memory['baseline'] / MIB:.0f} MiB for streamkit JSONL), over all "
        "its responses; srv CPU: the server process (all threads), least of the passes"
    )
    for line in SERVER_LINES:
        print(f"  {line.label:<31} {line.legend}")
    for ours_key, peers in COMPARISONS.items():
        ours = results[ours_key]
        assert ours.best is not None
        ours_speed = ours.best.digest.size / ours.best.seconds
        for peer_key in peers:
            peer = results[peer_key]
            assert peer.best is not None
            peer_speed = peer.best.digest.size / peer.best.seconds
            name = LINES_BY_KEY[peer_key].label
            ratios.append(
                Ratio(f"server: MB/s, streamkit / {name}", ours_speed / peer_speed, SERVER_TARGET)
            )


# ---------------------------------------------------------------- 3. constant memory


def memory_child(fmt: str, n: int) -> None:
    """A subprocess: export ``n`` generated rows, discard the chunks, print the
    memory figures as one JSON line."""
    checkpoints = {n // 100: "at_1pct", n // 10: "at_10pct"}
    marks: dict[str, int] = {}

    def rows(count: int) -> Iterator[Row]:
        for i in range(count):
            if i in checkpoints:  # on the source's thread, while the export runs
                marks[checkpoints[i]] = memory_status()[1]
            yield make_row(i)

    def chunker(count: int) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        if fmt == "jsonl":
            return jsonl_chunks(rows(count))
        return csv_chunks(rows(count), fieldnames=FIELDS)

    async def export(count: int, totals: list[int]) -> None:
        async with chunker(count) as chunks:
            async for chunk in chunks:
                totals[0] += len(chunk)
                totals[1] += 1

    # A first small export: the thread, the event loop and lazy imports are
    # set up once, and are not what the question is about.
    anyio.run(export, 1_000, [0, 0])
    marks.clear()
    gc.collect()
    reset = reset_peak()
    before = memory_status()[0]
    totals = [0, 0]
    start = time.perf_counter()
    anyio.run(export, n, totals)
    seconds = time.perf_counter() - start
    peak = memory_status()[1]
    report = {
        "rows": n,
        "bytes": totals[0],
        "chunks": totals[1],
        "seconds": seconds,
        "before": before,
        "peak": peak,
        "reset": reset,
        **marks,
    }
    print(json.dumps(report), flush=True)


def run_memory_bench(sizes: Sizes) -> list[str]:
    n = sizes.memory_rows
    print(
        f"\n3. Constant memory: {n:,} rows from a sync generator (built on the fly) through "
        f"jsonl_chunks and csv_chunks, chunks discarded; one subprocess per format, both at once"
    )
    procs = {
        fmt: subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--memory", fmt, str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for fmt in ("jsonl", "csv")
    }
    reports: dict[str, dict[str, Any]] = {}
    try:
        for fmt, proc in procs.items():
            out, _ = proc.communicate(timeout=MEMORY_TIMEOUT)
            if proc.returncode != 0:
                raise RuntimeError(f"the {fmt} memory subprocess failed ({proc.returncode})")
            reports[fmt] = json.loads(out.strip().splitlines()[-1])
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(SERVER_STOP_TIMEOUT)
    header = (
        f"{'format':<6} {'rows':>11} {'MB out':>8} {'chunks':>8} {'seconds':>8} {'rows/s':>9} "
        f"{'RSS MiB':>8} {'+MiB @1%':>9} {'+MiB @10%':>10} {'+MiB @100%':>11}"
    )
    print(header)
    print("-" * len(header))
    verdicts: list[str] = []
    for fmt, r in reports.items():
        before = r["before"]

        def growth(mark: str, r: dict[str, Any] = r, before: int = before) -> str:
            return f"{(r[mark] - before) / MIB:.2f}" if mark in r else "-"

        print(
            f"{fmt:<6} {r['rows']:>11,} {r['bytes'] / 1e6:>8.0f} {r['chunks']:>8,} "
            f"{r['seconds']:>8.1f} {r['rows'] / r['seconds']:>9,.0f} {before / MIB:>8.1f} "
            f"{growth('at_1pct'):>9} {growth('at_10pct'):>10} {growth('peak'):>11}"
        )
        total_growth = r["peak"] - before
        ok = total_growth <= MEMORY_LIMIT
        verdicts.append(
            f"memory ({fmt}): peak RSS growth {total_growth / MIB:.2f} MiB over {r['rows']:,} "
            f"rows; limit {MEMORY_LIMIT / MIB:.2f} MiB (one chunk + 4 MiB): "
            f"{'met' if ok else 'MISSED'}"
        )
        if not r["reset"]:
            verdicts.append(f"  ({fmt}: VmHWM could not be reset: growth includes start-up peaks)")
    print(
        "+MiB: peak RSS (VmHWM) over the RSS before the export, reset just before it; "
        "@1% and @10%: the peak when the generator reached that row"
    )
    return verdicts


# ------------------------------------------------------------------------- report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--serve", metavar="LINE", help=argparse.SUPPRESS)
    parser.add_argument("--memory", nargs=2, metavar=("FORMAT", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    if args.memory is not None:
        memory_child(args.memory[0], int(args.memory[1]))
        return 0
    sizes = SIZES["quick" if args.quick else "full"]

    packages = (
        "streamkit",
        "orjson",
        "uvicorn",
        "h11",
        "starlette",
        "fastapi",
        "pydantic",
        "httpx",
        "anyio",
    )
    harness.print_environment(packages)
    started = time.perf_counter()
    ratios: list[Ratio] = []
    run_encode_bench(sizes, ratios)
    run_server_bench(sizes, ratios)
    verdicts = run_memory_bench(sizes)
    harness.print_ratios(ratios, args.quick, width=7)
    for verdict in verdicts:
        print(verdict)
    print(f"\nTotal time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
