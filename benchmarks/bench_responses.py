"""SSE response throughput: streamkit's ``SSEResponse`` against its peers, through a real server.

Run from the project root after ``pip install -e ".[dev,bench]"`` (and ``litestar``)::

    python benchmarks/bench_responses.py           # full run (well under two minutes)
    python benchmarks/bench_responses.py --quick   # tiny sizes, a smoke check only

Server-bound throughput, measured as in the research notes (sse.md, 7.2): one
client reads the raw bytes of one response of 50,000 small events (about 70
bytes of data each, a pre-serialised JSON object, the same data on every line).
The server is uvicorn (``http="h11"``, ``loop="asyncio"``) on 127.0.0.1, in a
subprocess of this script; the client is ``httpx`` streaming in this process.
Each line is the idiomatic endpoint of its library, its async generator
building the library's own per-event object from the pre-built data string:

1. streamkit: a Starlette route returning ``SSEResponse(gen())``, ``gen``
   yielding ``streamkit.ServerSentEvent(data)`` (default 15 s idle heartbeat,
   which never fires on a fast stream);
2. sse-starlette: ``EventSourceResponse(gen())`` yielding ``{"data": data}``
   (its default periodic ping, every 15 s, which never fires either);
3. FastAPI native SSE: a generator path operation with
   ``response_class=fastapi.sse.EventSourceResponse`` yielding
   ``fastapi.sse.ServerSentEvent(raw_data=data)``;
4. Litestar: ``litestar.response.ServerSentEvent(gen())`` yielding
   ``{"data": data}``;
5. raw Starlette: ``StreamingResponse(gen(), media_type="text/event-stream")``
   yielding ``f"data: {data}\\n\\n"``.

Before timing, every line's body is decoded with :class:`streamkit.SSEDecoder`
and must carry exactly the expected data values in order (the wire bytes differ:
line separators and headers are each library's own). Then the lines take turns
pass after pass, and the best pass of each is reported; every timed pass must
deliver the same bytes as that line's checked pass. The server process's CPU
time is measured around each response (from the request reaching the app to its
last body message), and the cyclic garbage collector is paused while a
response streams (in the client and in the server), as in ``bench_streams.py``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import harness
import httpx
from harness import Ratio
from starlette.types import ASGIApp, Receive, Scope, Send

from streamkit import SSEDecoder

#: Targets from the issue: streamkit's events/s end to end over each peer's.
TARGETS: Final[dict[str, float]] = {
    "/sse-starlette": 2.0,
    "/fastapi": 4.0,
    "/raw-starlette": 1.0,
}


@dataclass(frozen=True, kw_only=True)
class Sizes:
    events: int  # SSE events per response
    repeats: int  # timed passes per line


SIZES: Final = {
    "full": Sizes(events=50_000, repeats=3),
    "quick": Sizes(events=2_000, repeats=1),
}

#: Characters of data per event.
DATA_SIZE: Final = 70
#: Seconds to wait for the server subprocess to report its port, and to exit.
SERVER_START_TIMEOUT: Final = 30.0
SERVER_STOP_TIMEOUT: Final = 15.0
#: httpx timeout (connect, read, write, pool), seconds: a stuck stream fails the run.
CLIENT_TIMEOUT: Final = 60.0


# --------------------------------------------------------------------------- data


def event_data(i: int) -> str:
    """Exactly ``DATA_SIZE`` ASCII characters of JSON: ``{"n": i, "text": "..."}``."""
    head = json.dumps({"n": i, "text": ""})[:-2]  # '{"n": 12, "text": '
    filler = "the quick brown fox jumps over the lazy dog " * 2
    return head + filler[: DATA_SIZE - len(head) - 2] + '"}'


def build_data(n: int) -> list[str]:
    return [event_data(i) for i in range(n)]


# ------------------------------------------------------------------- server side


@dataclass(frozen=True)
class ServerLine:
    path: str
    label: str
    legend: str


SERVER_LINES: Final = (
    ServerLine(
        "/streamkit",
        "streamkit SSEResponse",
        "Starlette route: SSEResponse(gen()), gen yields streamkit.ServerSentEvent(data)",
    ),
    ServerLine(
        "/sse-starlette",
        "sse-starlette",
        "Starlette route: EventSourceResponse(gen()) yielding {'data': data}, default ping (15 s)",
    ),
    ServerLine(
        "/fastapi",
        "FastAPI native SSE",
        "response_class=fastapi.sse.EventSourceResponse, yields ServerSentEvent(raw_data=data)",
    ),
    ServerLine(
        "/litestar",
        "Litestar ServerSentEvent",
        "litestar.response.ServerSentEvent(gen()) yielding {'data': data}",
    ),
    ServerLine(
        "/raw-starlette",
        "raw Starlette Streaming",
        'StreamingResponse(gen()) yielding f"data: {data}\\n\\n", text/event-stream',
    ),
)
OURS: Final = "/streamkit"


def build_apps(data: list[str]) -> dict[str, ASGIApp]:
    """One ASGI app per line, each answering at its line's path."""
    from fastapi import FastAPI
    from fastapi.sse import EventSourceResponse as FastAPIEventSourceResponse
    from fastapi.sse import ServerSentEvent as FastAPIEvent
    from litestar import Litestar, get
    from litestar.response import ServerSentEvent as LitestarSSE
    from sse_starlette import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    from streamkit import ServerSentEvent
    from streamkit.starlette import SSEResponse

    async def streamkit_gen() -> AsyncIterator[ServerSentEvent]:
        for item in data:
            yield ServerSentEvent(item)

    async def streamkit_endpoint(request: Request) -> Response:
        return SSEResponse(streamkit_gen())

    async def dict_gen() -> AsyncIterator[dict[str, str]]:
        for item in data:
            yield {"data": item}

    async def sse_starlette_endpoint(request: Request) -> Response:
        response: Response = EventSourceResponse(dict_gen())
        return response

    async def raw_gen() -> AsyncIterator[str]:
        for item in data:
            yield f"data: {item}\n\n"

    async def raw_endpoint(request: Request) -> Response:
        return StreamingResponse(raw_gen(), media_type="text/event-stream")

    starlette_app = Starlette(
        routes=[
            Route("/streamkit", streamkit_endpoint),
            Route("/sse-starlette", sse_starlette_endpoint),
            Route("/raw-starlette", raw_endpoint),
        ]
    )

    fastapi_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @fastapi_app.get("/fastapi", response_class=FastAPIEventSourceResponse)
    async def fastapi_endpoint() -> AsyncIterator[FastAPIEvent]:
        for item in data:
            yield FastAPIEvent(raw_data=item)

    @get("/litestar", signature_namespace={"LitestarSSE": LitestarSSE})
    async def litestar_endpoint() -> LitestarSSE:
        async def gen() -> AsyncIterator[dict[str, str]]:
            for item in data:
                yield {"data": item}

        return LitestarSSE(gen())

    litestar_app = Litestar(route_handlers=[litestar_endpoint], openapi_config=None)
    return {
        "/streamkit": starlette_app,
        "/sse-starlette": starlette_app,
        "/raw-starlette": starlette_app,
        "/fastapi": fastapi_app,
        "/litestar": litestar_app,  # type: ignore[dict-item]  # its own ASGI type aliases
    }


def serve(n: int) -> None:
    """The server subprocess: serve the benchmark apps on a free loopback port.

    Prints ``PORT <n>`` once listening, and exits when its stdin is closed
    (the parent is done or gone) or on SIGTERM.
    """
    apps = build_apps(build_data(n))
    # Everything built so far is out of the collector's sight; the collector
    # is paused while a response streams and run by /prepare before a pass.
    gc.collect()
    gc.freeze()
    last: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        if path in ("/prepare", "/stats"):
            if path == "/prepare":
                gc.collect()
                last.clear()
            await harness.send_json(send, last)
            return
        target = apps.get(path)
        if target is None:
            await harness.send_not_found(send)
            return
        gc.disable()
        try:
            await target(scope, receive, harness.counting(send, last))
        finally:
            gc.enable()

    harness.serve_app(app)


# ------------------------------------------------------------------- client side


@dataclass
class Pass:
    seconds: float  # client: request sent to last byte received
    body: bytes
    server_cpu: float  # CPU seconds of the server process (all threads) during the response


def stream_once(client: httpx.Client, path: str) -> Pass:
    seconds, body, stats = harness.timed_get(client, path)
    return Pass(seconds=seconds, body=body, server_cpu=float(stats["cpu"]))


def decoded_data(body: bytes) -> list[str | None]:
    decoder = SSEDecoder()
    events = decoder.feed(body)
    if decoder.pending:
        raise AssertionError("the body ends inside an event")
    return [event.data for event in events]


def run_bench(n: int, repeats: int) -> list[Ratio]:
    expected = build_data(n)
    print(
        f"\nSSE responses through uvicorn (h11, asyncio, subprocess) to one httpx client "
        f"reading raw bytes: {n:,} events of {DATA_SIZE} bytes of data per response, "
        f"best of {repeats} passes, lines interleaved"
    )
    digests: dict[str, str] = {}
    sizes: dict[str, int] = {}
    best: dict[str, float] = {}  # the fastest pass (client time) of each line
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
        # Same events first: every line must deliver exactly the expected data values.
        for line in SERVER_LINES:
            check = stream_once(client, line.path)
            got = decoded_data(check.body)
            if got != expected:
                raise AssertionError(
                    f"{line.label}: decoded {len(got):,} events, not the expected {n:,} data values"
                )
            digests[line.path] = hashlib.sha256(check.body).hexdigest()
            sizes[line.path] = len(check.body)
        for _ in range(repeats):
            for line in SERVER_LINES:
                result = stream_once(client, line.path)
                if hashlib.sha256(result.body).hexdigest() != digests[line.path]:
                    raise AssertionError(f"{line.label}: received bytes changed between passes")
                best[line.path] = min(best.get(line.path, math.inf), result.seconds)
                best_cpu[line.path] = min(best_cpu.get(line.path, math.inf), result.server_cpu)
    header = (
        f"{'implementation':<26} {'events/s':>10} {'MB/s':>7} {'B/event':>8} "
        f"{'srv CPU us/event':>17} {'sk speedup':>11}"
    )
    print(header)
    print("-" * len(header))
    for line in SERVER_LINES:
        seconds = best[line.path]
        speedup = "" if line.path == OURS else f"{seconds / best[OURS]:.2f}x"
        print(
            f"{line.label:<26} {n / seconds:>10,.0f} {sizes[line.path] / seconds / 1e6:>7.1f} "
            f"{sizes[line.path] / n:>8.1f} {best_cpu[line.path] / n * 1e6:>17.2f} {speedup:>11}"
        )
    print(f"Every line delivered the same {n:,} data values (decoded with streamkit.SSEDecoder).")
    print("events/s: client time from request to last byte, best pass")
    print("srv CPU: CPU time of the server process (all threads), least of the passes")
    print("sk speedup: streamkit's events/s over the line's")
    for line in SERVER_LINES:
        print(f"  {line.label:<26} {line.legend}")
    ratios: list[Ratio] = []
    for line in SERVER_LINES:
        if line.path == OURS:
            continue
        ratios.append(
            Ratio(
                f"server: events/s end to end, streamkit / {line.label}",
                best[line.path] / best[OURS],
                TARGETS.get(line.path),
            )
        )
    for line in SERVER_LINES:
        if line.path == OURS:
            continue
        ratios.append(
            Ratio(
                f"server: CPU per event, {line.label} / streamkit",
                best_cpu[line.path] / best_cpu[OURS],
                None,
            )
        )
    return ratios


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
        "sse-starlette",
        "fastapi",
        "litestar",
    )
    harness.print_environment(packages)
    gc.collect()
    gc.freeze()
    ratios = run_bench(sizes.events, sizes.repeats)
    harness.print_ratios(ratios, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
