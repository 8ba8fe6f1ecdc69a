"""Streams-layer benchmarks: coalescing through a real server, and sync-source draining.

Run from the project root after ``pip install -e ".[dev,bench]"``::

    python benchmarks/bench_streams.py           # full run (about a minute)
    python benchmarks/bench_streams.py --quick   # tiny sizes, a smoke check only

1. **Coalescing through a real server.** A fast producer of about 100-byte
   Server-Sent Events is streamed by a minimal raw ASGI app under uvicorn
   (``http="h11"``, ``loop="asyncio"``) on 127.0.0.1, in a subprocess of this
   script, and read by an ``httpx`` streaming client in this process. The
   lines: streamkit's :func:`streamkit.sse_chunks` (one ``http.response.body``
   per coalesced chunk); the baseline "one send per item" (each event encoded
   with :func:`streamkit.encode_sse` and sent as its own body message, which is
   what sse-starlette, FastAPI and a hand-written ``StreamingResponse`` do);
   and sse-starlette's ``EventSourceResponse`` (pings off) as a peer. Every
   line gets the same pre-built events through the same async generator, so
   only the chunking (and, for sse-starlette, its own encoder and response
   machinery) differs. The app counts the body messages and the server
   process's CPU time; the client times the whole response and hashes the
   bytes it received, which must be identical on every line.
2. **Sync generator draining.** The per-item cost of iterating a sync
   generator of small items (ints, no work per item) with
   :func:`streamkit.async_iter` against Starlette's ``iterate_in_threadpool``
   (what Starlette and FastAPI use for sync iterables), under anyio on asyncio
   and on trio. Both must yield the same items.

As in ``bench_sse.py``: everything on the same data, the implementations take
turns pass after pass, the best pass is reported, and the cyclic garbage
collector is paused during a pass (in the client, and in the server while it
streams).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import math
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import anyio
import harness
import httpx
from harness import Ratio
from starlette.concurrency import iterate_in_threadpool
from starlette.types import Receive, Scope, Send

from streamkit import ServerSentEvent, async_iter, encode_sse, sse_chunks

#: Targets from the issue: streamkit over the one-send-per-item baseline.
CHUNK_TARGET = 10.0  # times fewer body messages
THROUGHPUT_TARGET = 5.0  # times more items per second, end to end
DRAIN_TARGET = 10.0  # times more items per second than iterate_in_threadpool


@dataclass(frozen=True, kw_only=True)
class Sizes:
    events: int  # SSE events per response
    server_repeats: int
    items: int  # items per sync-generator drain
    drain_repeats: int


SIZES: Final = {
    # iterate_in_threadpool costs of the order of 100 us per item on a small VM,
    # so its runs are kept to 20,000 items; the per-item cost does not depend
    # on the count once the thread is started.
    "full": Sizes(events=200_000, server_repeats=3, items=20_000, drain_repeats=3),
    "quick": Sizes(events=2_000, server_repeats=1, items=500, drain_repeats=1),
}

#: Bytes of data per event (the wire form adds "data: " and a blank line: 108 bytes).
DATA_SIZE: Final = 100
#: Seconds to wait for the server subprocess to report its port, and to exit.
SERVER_START_TIMEOUT: Final = 30.0
SERVER_STOP_TIMEOUT: Final = 15.0
#: httpx timeout (connect, read, write, pool), seconds: a stuck stream fails the run.
CLIENT_TIMEOUT: Final = 60.0

SSE_HEADERS: Final = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


# --------------------------------------------------------------------------- data


def event_data(i: int) -> str:
    """Exactly ``DATA_SIZE`` ASCII characters, a small JSON object like a status update."""
    head = f'{{"seq":{i:07d},"kind":"tick","text":"'
    filler = "abcdefghijklmnopqrstuvwxyz0123456789" * 3
    return head + filler[: DATA_SIZE - len(head) - 2] + '"}'


def build_events(n: int) -> list[ServerSentEvent]:
    return [ServerSentEvent(event_data(i)) for i in range(n)]


def expected_body(n: int) -> bytes:
    return b"".join(encode_sse(event) for event in build_events(n))


# ------------------------------------------------------------------- server side


@dataclass(frozen=True)
class ServerLine:
    path: str
    label: str
    legend: str


SERVER_LINES: Final = (
    ServerLine(
        "/streamkit",
        "streamkit sse_chunks",
        "async with sse_chunks(events()) as chunks: one body message per chunk",
    ),
    ServerLine(
        "/streamkit-sync",
        "streamkit, sync list",
        "the same, fed the plain list (in memory: iterated on the event loop)",
    ),
    ServerLine(
        "/per-item",
        "one send per item",
        "async for e in events(): send(encode_sse(e)), one body message each",
    ),
    ServerLine(
        "/sse-starlette",
        "sse-starlette",
        'EventSourceResponse(events(), ping=0, sep="\\n"), its own pre-built events',
    ),
)
#: The baseline the targets are measured against, and the peer line.
BASELINE: Final = "/per-item"
PEER: Final = "/sse-starlette"


def serve(n: int) -> None:
    """The server subprocess: serve the benchmark app on a free loopback port.

    Prints ``PORT <n>`` once listening, and exits when its stdin is closed
    (the parent is done or gone) or on SIGTERM.
    """
    from sse_starlette import EventSourceResponse
    from sse_starlette import ServerSentEvent as StarletteEvent

    events = build_events(n)
    peer_events = [StarletteEvent(event.data, sep="\n") for event in events]
    # Everything built so far is out of the collector's sight; the collector
    # is paused while a response streams and run by /prepare before a pass.
    gc.collect()
    gc.freeze()
    last: dict[str, Any] = {}

    async def source(items: Sequence[Any]) -> AsyncIterator[Any]:
        """A fast async producer: every item is ready at once."""
        for item in items:
            yield item

    async def body(send: Send, data: bytes, more: bool = True) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": more})

    async def streamkit_app(send: Send, sync: bool) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        async with sse_chunks(events if sync else source(events)) as chunks:
            async for chunk in chunks:
                await body(send, chunk)
        await body(send, b"", more=False)

    async def per_item_app(send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        async for event in source(events):
            await body(send, encode_sse(event))
        await body(send, b"", more=False)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        if path in ("/prepare", "/stats"):
            if path == "/prepare":
                gc.collect()
                last.clear()
            await harness.send_json(send, last)
            return
        gc.disable()
        try:
            counted = harness.counting(send, last)
            if path == "/streamkit":
                await streamkit_app(counted, sync=False)
            elif path == "/streamkit-sync":
                await streamkit_app(counted, sync=True)
            elif path == "/per-item":
                await per_item_app(counted)
            elif path == "/sse-starlette":
                response = EventSourceResponse(source(peer_events), ping=0, sep="\n")
                await response(scope, receive, counted)
            else:
                await harness.send_not_found(send)
        finally:
            gc.enable()

    harness.serve_app(app)


# ------------------------------------------------------------------- client side


@dataclass
class Pass:
    seconds: float  # client: request sent to last byte received
    digest: str
    received: int  # bytes
    messages: int  # non-empty http.response.body messages, counted by the app
    server_cpu: float  # CPU seconds of the server process (all threads) during the response


def stream_once(client: httpx.Client, path: str) -> Pass:
    seconds, received, stats = harness.timed_get(client, path)
    return Pass(
        seconds=seconds,
        digest=hashlib.sha256(received).hexdigest(),
        received=len(received),
        messages=int(stats["messages"]),
        server_cpu=float(stats["cpu"]),
    )


def run_server_bench(n: int, repeats: int, ratios: list[Ratio]) -> None:
    wire = expected_body(n)
    digest = hashlib.sha256(wire).hexdigest()
    print(
        f"\n1. Coalescing through uvicorn (h11, asyncio, subprocess) to an httpx client: "
        f"{n:,} events of {len(wire) / n:.0f} bytes ({len(wire) / 1e6:.1f} MB) per response, "
        f"best of {repeats} passes"
    )
    best: dict[str, Pass] = {}  # the fastest pass (client time) of each line
    best_cpu: dict[str, float] = {}  # the least server CPU time of each line
    with (
        harness.ServerProcess(
            __file__,
            str(n),
            start_timeout=SERVER_START_TIMEOUT,
            stop_timeout=SERVER_STOP_TIMEOUT,
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as client,
    ):
        # Same output first: every line must deliver exactly the expected bytes.
        for line in SERVER_LINES:
            check = stream_once(client, line.path)
            if check.digest != digest:
                raise AssertionError(f"{line.label}: received bytes differ from encode_sse's")
        for _ in range(repeats):
            for line in SERVER_LINES:
                result = stream_once(client, line.path)
                if result.digest != digest:
                    raise AssertionError(f"{line.label}: received bytes changed between passes")
                if line.path not in best or result.seconds < best[line.path].seconds:
                    best[line.path] = result
                best_cpu[line.path] = min(best_cpu.get(line.path, math.inf), result.server_cpu)
    header = (
        f"{'implementation':<24} {'items/s':>10} {'MB/s':>7} {'messages':>9} "
        f"{'B/message':>10} {'srv CPU us/item':>16}"
    )
    print(header)
    print("-" * len(header))
    for line in SERVER_LINES:
        r = best[line.path]
        print(
            f"{line.label:<24} {n / r.seconds:>10,.0f} {r.received / r.seconds / 1e6:>7.1f} "
            f"{r.messages:>9,} {r.received / r.messages:>10,.0f} "
            f"{best_cpu[line.path] / n * 1e6:>16.2f}"
        )
    print(f"Received bytes identical on every line (sha256 {digest[:16]}...).")
    print("messages: non-empty body messages (each response also sends one empty final one)")
    print("srv CPU: CPU time of the server process (all threads), least of the passes")
    for line in SERVER_LINES:
        print(f"  {line.label:<24} {line.legend}")
    ours = best["/streamkit"]
    for path, target_msgs, target_speed in (
        (BASELINE, CHUNK_TARGET, THROUGHPUT_TARGET),
        (PEER, None, None),
    ):
        peer = best[path]
        name = next(line.label for line in SERVER_LINES if line.path == path)
        ratios.append(
            Ratio(
                f"server: fewer body messages, streamkit vs {name}",
                peer.messages / ours.messages,
                target_msgs,
            )
        )
        ratios.append(
            Ratio(
                f"server: items/s end to end, streamkit / {name}",
                peer.seconds / ours.seconds,
                target_speed,
            )
        )
        ratios.append(
            Ratio(
                f"server: CPU per item, {name} / streamkit",
                best_cpu[path] / best_cpu["/streamkit"],
                None,
            )
        )


# ------------------------------------------------------------------ sync draining


def numbers(n: int) -> Iterator[int]:
    """A sync generator with no work per item."""
    yield from range(n)


Drain = Callable[[int], AsyncIterator[int]]

DRAINERS: Final[dict[str, Drain]] = {
    "streamkit async_iter": lambda n: async_iter(numbers(n)),
    "starlette iterate_in_threadpool": lambda n: iterate_in_threadpool(numbers(n)),
}


async def drain_timed(drain: Drain, n: int) -> float:
    count = 0
    start = time.perf_counter()
    async for _ in drain(n):
        count += 1
    seconds = time.perf_counter() - start
    assert count == n
    return seconds


async def drain_all(drain: Drain, n: int) -> list[int]:
    return [item async for item in drain(n)]


def run_on(backend: str, func: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return anyio.run(func, *args, backend=backend)


def run_drain_bench(n: int, repeats: int, ratios: list[Ratio]) -> None:
    print(f"\n2. Draining a sync generator: {n:,} ints per pass, best of {repeats} passes")
    header = f"{'backend':<8} {'implementation':<32} {'items/s':>11} {'us/item':>8} {'sk/peer':>8}"
    print(header)
    print("-" * len(header))
    for backend in ("asyncio", "trio"):
        for label, drain in DRAINERS.items():
            got = run_on(backend, drain_all, drain, min(n, 5_000))
            assert got == list(range(min(n, 5_000))), f"{label} on {backend}: wrong items"
        best = {label: float("inf") for label in DRAINERS}
        for _ in range(repeats):
            for label, drain in DRAINERS.items():
                gc.collect()
                gc.disable()
                try:
                    seconds = run_on(backend, drain_timed, drain, n)
                finally:
                    gc.enable()
                best[label] = min(best[label], seconds)
        ratio = best["starlette iterate_in_threadpool"] / best["streamkit async_iter"]
        for label, seconds in best.items():
            cell = f"{ratio:.1f}x" if label.startswith("starlette") else ""
            print(
                f"{backend:<8} {label:<32} {n / seconds:>11,.0f} {seconds / n * 1e6:>8.2f} "
                f"{cell:>8}"
            )
        ratios.append(
            Ratio(f"drain ({backend}): async_iter / iterate_in_threadpool", ratio, DRAIN_TARGET)
        )


# ------------------------------------------------------------------------- report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--serve", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    sizes = SIZES["quick" if args.quick else "full"]

    packages = (
        "streamkit",
        "uvicorn",
        "h11",
        "starlette",
        "httpx",
        "anyio",
        "trio",
        "sse-starlette",
    )
    harness.print_environment(packages)
    gc.collect()
    gc.freeze()
    ratios: list[Ratio] = []
    run_server_bench(sizes.events, sizes.server_repeats, ratios)
    run_drain_bench(sizes.items, sizes.drain_repeats, ratios)
    harness.print_ratios(ratios, args.quick, precision=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
