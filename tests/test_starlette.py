"""streamkit.starlette responses under a real uvicorn server, read by real clients."""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import AsyncIterator, Iterator

import anyio
import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from httpx_sse import connect_sse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Message

from streamkit import JSONLDecoder, ServerSentEvent, SSEDecoder
from streamkit.starlette import (
    CSVResponse,
    JSONLResponse,
    SSEResponse,
    StreamResponse,
    TextStreamResponse,
    last_event_id,
)
from streamkit.testing import read_jsonl, read_sse, run_server

#: What the source generators report, by name, from the server's side.
finished: dict[str, threading.Event] = {}
disconnects: list[str] = []


def mark(name: str) -> threading.Event:
    finished[name] = threading.Event()
    return finished[name]


async def ticks(request: Request) -> SSEResponse:
    async def events() -> AsyncIterator[ServerSentEvent]:
        for n in range(3):
            yield ServerSentEvent(f"tick {n}", id=str(n))

    return SSEResponse(events())


async def resume(request: Request) -> SSEResponse:
    after = last_event_id(request)
    return SSEResponse([ServerSentEvent(f"after {after}")])


async def fails_first(request: Request) -> SSEResponse:
    async def events() -> AsyncIterator[ServerSentEvent]:
        raise RuntimeError("before anything was sent")
        yield ServerSentEvent("never")  # pragma: no cover

    return SSEResponse(events())


async def forbidden(request: Request) -> SSEResponse:
    async def events() -> AsyncIterator[ServerSentEvent]:
        raise HTTPException(403, "not yours")
        yield ServerSentEvent("never")  # pragma: no cover

    return SSEResponse(events())


async def slow_async(request: Request) -> SSEResponse:
    done = mark("slow_async")

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            while True:
                yield ServerSentEvent("tick")
                await anyio.sleep(0.05)
        finally:
            done.set()

    return SSEResponse(events(), on_disconnect=lambda: disconnects.append("slow_async"))


async def never_awaits(request: Request) -> SSEResponse:
    done = mark("never_awaits")

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            while True:
                yield ServerSentEvent("x" * 100)
        finally:
            done.set()

    return SSEResponse(events())


async def blocking_sync(request: Request) -> SSEResponse:
    done = mark("blocking_sync")

    def events() -> Iterator[ServerSentEvent]:
        try:
            while True:
                yield ServerSentEvent("tick")
                time.sleep(0.1)  # blocking I/O, on streamkit's source thread
        finally:
            done.set()

    return SSEResponse(events())


async def head_probe(request: Request) -> SSEResponse:
    done = mark("head_probe")

    async def events() -> AsyncIterator[ServerSentEvent]:
        done.set()  # must never run for HEAD
        while True:
            yield ServerSentEvent("x")
            await anyio.sleep(1)

    return SSEResponse(events())


async def jsonl(request: Request) -> JSONLResponse:
    return JSONLResponse(({"n": i} for i in range(1000)), trailer=True)


async def jsonl_fails_midway(request: Request) -> JSONLResponse:
    def rows() -> Iterator[dict[str, int]]:
        yield {"n": 1}
        raise ValueError("secret detail")

    exposed = request.query_params.get("expose") == "1"
    return JSONLResponse(rows(), expose_errors=exposed)


async def csv_export(request: Request) -> CSVResponse:
    rows = [{"name": "Zoë", "score": 1}, {"name": "=cmd()", "score": -5}]
    return CSVResponse(rows, filename="scores é.csv")


async def text(request: Request) -> TextStreamResponse:
    return TextStreamResponse(word + " " for word in ["the", "quick", "brown", "fox"])


app = Starlette(
    routes=[
        Route("/ticks", ticks),
        Route("/resume", resume),
        Route("/fails-first", fails_first),
        Route("/forbidden", forbidden),
        Route("/slow-async", slow_async),
        Route("/never-awaits", never_awaits),
        Route("/blocking-sync", blocking_sync),
        Route("/head", head_probe, methods=["GET", "HEAD"]),
        Route("/jsonl", jsonl),
        Route("/jsonl-fails", jsonl_fails_midway),
        Route("/export.csv", csv_export),
        Route("/text", text),
    ]
)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    # Some routes fail on purpose (to test what the client sees), which
    # uvicorn logs as application errors.
    with run_server(app, fail_on_app_error=False) as base:
        yield base


def test_sse_events_arrive_with_the_right_headers(url: str) -> None:
    with httpx.Client(timeout=10) as client, connect_sse(client, "GET", f"{url}/ticks") as sse:
        headers = sse.response.headers
        events = [(e.data, e.id) for e in sse.iter_sse()]
    assert events == [("tick 0", "0"), ("tick 1", "1"), ("tick 2", "2")]
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    assert headers["x-accel-buffering"] == "no"
    assert "connection" not in headers  # forbidden in HTTP/2; WebKit drops such streams


def test_last_event_id_reaches_the_handler(url: str) -> None:
    response = httpx.get(f"{url}/resume", headers={"Last-Event-ID": "41"}, timeout=10)
    assert SSEDecoder().feed(response.content)[0].data == "after 41"


def test_an_error_before_the_first_event_is_a_real_500(url: str) -> None:
    response = httpx.get(f"{url}/fails-first", timeout=10)
    assert response.status_code == 500


def test_an_http_exception_before_the_first_event_keeps_its_status(url: str) -> None:
    response = httpx.get(f"{url}/forbidden", timeout=10)
    assert response.status_code == 403
    assert "not yours" in response.text


def wait_for(name: str, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while name not in finished and time.monotonic() < deadline:
        time.sleep(0.005)
    return finished[name].wait(max(deadline - time.monotonic(), 0))


@pytest.mark.parametrize("path", ["slow-async", "never-awaits", "blocking-sync"])
def test_a_client_hanging_up_stops_the_source(url: str, path: str) -> None:
    name = path.replace("-", "_")
    with httpx.stream("GET", f"{url}/{path}", timeout=10) as response:
        for chunk in response.iter_bytes():
            if chunk:
                break
    hung_up = time.monotonic()
    assert wait_for(name), f"the {name} source was never closed"
    # The blocking source can only notice after its sleep (0.1 s) ends.
    assert time.monotonic() - hung_up < 2.0


def test_on_disconnect_is_called(url: str) -> None:
    with httpx.stream("GET", f"{url}/slow-async", timeout=10) as response:
        next(response.iter_bytes())
    assert wait_for("slow_async")
    deadline = time.monotonic() + 2
    while "slow_async" not in disconnects and time.monotonic() < deadline:
        time.sleep(0.005)
    assert "slow_async" in disconnects


def test_head_gets_headers_only_and_never_starts_the_source(url: str) -> None:
    with httpx.Client(timeout=5) as client:
        response = client.head(f"{url}/head")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.content == b""
        # The connection is not wedged: a second request on it works.
        assert client.get(f"{url}/ticks").status_code == 200
    assert "head_probe" in finished
    assert not finished["head_probe"].is_set()


def test_jsonl_response_with_trailer(url: str) -> None:
    response = httpx.get(f"{url}/jsonl", timeout=10)
    assert response.headers["content-type"] == "application/jsonl"
    values = JSONLDecoder().feed(response.content)
    assert values[-1] == {"type": "end", "count": 1000}
    assert values[:-1] == [{"n": i} for i in range(1000)]


def test_jsonl_failure_midway_sends_an_error_record_then_cuts_the_body(url: str) -> None:
    received = bytearray()
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", f"{url}/jsonl-fails", timeout=10) as response,
    ):
        for chunk in response.iter_bytes():
            received += chunk
    values = JSONLDecoder().feed(bytes(received))
    assert values[0] == {"n": 1}
    assert values[1]["type"] == "error"
    assert values[1]["code"] == "internal_error"
    assert "secret" not in received.decode()


def test_an_exposed_jsonl_error_record_keeps_its_type_and_names_the_exception(url: str) -> None:
    received = bytearray()
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", f"{url}/jsonl-fails?expose=1", timeout=10) as response,
    ):
        for chunk in response.iter_bytes():
            received += chunk
    record = JSONLDecoder().feed(bytes(received))[1]
    assert record["type"] == "error"  # not overwritten by the exception's type
    assert record["exception"] == "ValueError"
    assert "secret detail" in record["message"]


def test_csv_response_is_a_guarded_download(url: str) -> None:
    response = httpx.get(f"{url}/export.csv", timeout=10)
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"scores e.csv\"; filename*=UTF-8''scores%20%C3%A9.csv"
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [["name", "score"], ["Zoë", "1"], ["'=cmd()", "-5"]]


def test_text_stream(url: str) -> None:
    response = httpx.get(f"{url}/text", timeout=10)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "the quick brown fox "


def test_fastapi_uses_the_response_as_return_value_and_response_class() -> None:
    api = FastAPI()

    @api.get("/events", response_class=SSEResponse)
    async def events() -> SSEResponse:
        return SSEResponse([ServerSentEvent("hi")])

    schema = api.openapi()
    assert "text/event-stream" in schema["paths"]["/events"]["get"]["responses"]["200"]["content"]
    with run_server(api) as base, httpx.Client(timeout=10) as client:
        response = client.get(f"{base}/events")
    assert SSEDecoder().feed(response.content)[0].data == "hi"


@pytest.mark.anyio
async def test_a_frozen_client_is_dropped_after_send_timeout() -> None:
    closed = anyio.Event()

    async def source() -> AsyncIterator[ServerSentEvent]:
        try:
            while True:
                yield ServerSentEvent("x")
                await anyio.sleep(0)
        finally:
            closed.set()

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            await anyio.sleep_forever()  # the client stopped reading

    response = SSEResponse(source(), send_timeout=0.05)
    with anyio.fail_after(5), pytest.raises(Exception, match=r"accepted no data for 0\.05 s"):
        await response({"type": "http", "method": "GET"}, receive, send)
    assert closed.is_set()


@pytest.mark.parametrize("cls", [CSVResponse, TextStreamResponse])
def test_formats_without_a_safe_filler_refuse_a_heartbeat(cls: type[StreamResponse]) -> None:
    with pytest.raises(ValueError, match="has no heartbeat"):
        cls([], heartbeat=5)


def test_responses_set_no_connection_header() -> None:
    for response in (SSEResponse([]), JSONLResponse([]), CSVResponse([]), TextStreamResponse([])):
        assert "connection" not in response.headers
        assert response.headers["cache-control"] == "no-cache"


def test_read_sse_reads_n_events_of_an_endless_stream_then_hangs_up(url: str) -> None:
    events = read_sse(f"{url}/slow-async", 3)
    assert [e.data for e in events] == ["tick", "tick", "tick"]
    assert wait_for("slow_async")  # hanging up closed the source on the server


def test_read_jsonl_reads_the_first_values(url: str) -> None:
    assert read_jsonl(f"{url}/jsonl", 5) == [{"n": i} for i in range(5)]


def test_read_sse_says_when_the_stream_ends_too_soon(url: str) -> None:
    with pytest.raises(AssertionError, match="ended after 3 of 10 items"):
        read_sse(f"{url}/ticks", 10)


def test_read_sse_raises_for_an_error_status(url: str) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        read_sse(f"{url}/forbidden", 1)


def test_sse_behind_gzip_middleware_is_not_buffered() -> None:
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware

    seen_first = threading.Event()

    async def handshake(request: Request) -> SSEResponse:
        async def events() -> AsyncIterator[ServerSentEvent]:
            yield ServerSentEvent("first")
            # Only once the client has the first event: buffering would deadlock.
            await anyio.to_thread.run_sync(seen_first.wait, 5)
            yield ServerSentEvent("second")

        return SSEResponse(events())

    gzipped = Starlette(
        routes=[Route("/events", handshake)],
        middleware=[Middleware(GZipMiddleware, minimum_size=1)],
    )
    with (
        run_server(gzipped) as base,
        httpx.Client(timeout=10) as client,
        connect_sse(client, "GET", f"{base}/events", headers={"Accept-Encoding": "gzip"}) as sse,
    ):
        assert "content-encoding" not in sse.response.headers
        stream = sse.iter_sse()
        assert next(stream).data == "first"
        seen_first.set()
        assert next(stream).data == "second"
