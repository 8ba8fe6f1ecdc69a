"""streamkit.client: SSE and JSON Lines consumers, against real servers
(uvicorn on 127.0.0.1) and in-memory httpx transports."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from streamkit import (
    DecodeError,
    EventLog,
    ServerSentEvent,
    SSEDecoder,
    StreamkitError,
    encode_comment,
    encode_jsonl,
    encode_sse,
)
from streamkit.client import (
    RemoteStreamError,
    SSEClientError,
    SSEReconnectError,
    TrailerError,
    aconnect_sse,
    aiter_jsonl,
    aiter_sse,
    connect_sse,
    iter_jsonl,
    iter_sse,
)
from streamkit.starlette import JSONLResponse, SSEResponse, close_open_streams, last_event_id
from streamkit.testing import run_server
from tests.strategies import events, splits

#: Stopping an httpx response early (a break, an exception) closes the
#: connection but leaves httpx's and httpcore's own inner async generators to
#: the garbage collector, which trio reports as ResourceWarnings. Nothing
#: leaks: the tests check that the server sees the connection close.
httpx_generators_left_to_gc = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <async_generator object "
    r"(Response|BoundAsyncStream|AsyncResponseStream|PoolByteStream|"
    r"HTTP11ConnectionByteStream|AsyncHTTP11Connection)\.:"
    "pytest.PytestUnraisableExceptionWarning"
)

TIMEOUT = httpx.Timeout(10.0)
SSE = {"content-type": "text/event-stream; charset=utf-8"}

# -- the server ----------------------------------------------------------------


@dataclass(frozen=True)
class Abort:
    """A 200 event stream that sends ``body`` and then aborts the transfer."""

    body: bytes


@dataclass(frozen=True)
class Status:
    code: int
    body: bytes = b""


PLAIN = "plain"  # a 200 text/plain answer
Reply = bytes | list[bytes] | Abort | Status | str


@dataclass
class Recorder:
    """What the test server answers, and what it saw."""

    #: Per script name, the replies of successive connections; the last one
    #: repeats forever.
    scripts: dict[str, list[Reply]] = field(default_factory=dict)
    #: (path, raw Last-Event-ID or None) per request, in order.
    seen: list[tuple[str, bytes | None]] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)
    log: EventLog = field(default_factory=EventLog)

    def ids(self, path: str) -> list[bytes | None]:
        return [header for p, header in self.seen if p == path]


STATE = Recorder()


def _record(request: Request) -> None:
    STATE.seen.append((request.url.path, dict(request.headers.raw).get(b"last-event-id")))


async def _abort_after(body: bytes) -> AsyncIterator[bytes]:
    yield body
    await anyio.sleep(0.01)
    raise RuntimeError("dropping the connection on purpose")


async def script(request: Request) -> Response:
    _record(request)
    replies = STATE.scripts[request.path_params["name"]]
    reply = replies.pop(0) if len(replies) > 1 else replies[0]
    if isinstance(reply, Status):
        return Response(reply.body, status_code=reply.code, media_type="text/plain")
    if isinstance(reply, Abort):
        return StreamingResponse(_abort_after(reply.body), headers=SSE)
    if isinstance(reply, str):
        return PlainTextResponse("not an event stream")
    chunks = [reply] if isinstance(reply, bytes) else reply
    return StreamingResponse(iter(chunks), headers=SSE)


async def _take(events: AsyncIterator[ServerSentEvent], n: int) -> AsyncIterator[ServerSentEvent]:
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        count = 0
        async for event in events:
            yield event
            count += 1
            if count == n:
                return


async def _abort_feed(events: AsyncIterator[ServerSentEvent], n: int) -> AsyncIterator[bytes]:
    async for event in _take(events, n):
        yield encode_sse(event)
    await anyio.sleep(0.01)
    raise RuntimeError("dropping the connection on purpose")


async def feed(request: Request) -> Response:
    """A resumable feed (as examples/resumable_feed.py) that sends 3 events
    per connection, then ends the stream or aborts it; 204 once all are had."""
    _record(request)
    log = STATE.log
    resume = last_event_id(request)
    if resume is not None and resume == log.last_id:
        return Response(status_code=204)
    # A first connection gets the whole history (the log's position 0).
    events = log.subscribe(resume if resume is not None else f"{log.prefix}-0")
    if request.query_params.get("mode") == "abort":
        return StreamingResponse(_abort_feed(events, 3), headers=SSE)
    return SSEResponse(_take(events, 3))


async def _ticks() -> AsyncIterator[ServerSentEvent]:
    n = 0
    while True:
        yield ServerSentEvent(f"tick {n}", id=str(n))
        n += 1
        await anyio.sleep(0.01)


async def endless(request: Request) -> Response:
    _record(request)
    return SSEResponse(_ticks(), on_disconnect=STATE.disconnected.set)


SSE_ITEMS = [
    ServerSentEvent("first", id="1"),
    ServerSentEvent(comment="a comment is not an event"),
    ServerSentEvent("two\nlines", event="multi"),
    ServerSentEvent(retry=2500),
    ServerSentEvent("", id="2", event="empty"),
    ServerSentEvent('{"json": true}', event="progress"),
]


async def _slow_items() -> AsyncIterator[ServerSentEvent]:
    for item in SSE_ITEMS:
        yield item
        await anyio.sleep(0.03)  # several heartbeats between events


async def sse(request: Request) -> Response:
    return SSEResponse(_slow_items(), heartbeat=0.005)


async def _rows(n: int, fail: bool) -> AsyncIterator[dict[str, int]]:
    for i in range(n):
        yield {"row": i}
        await anyio.sleep(0)
    if fail:
        await anyio.sleep(0.01)
        raise RuntimeError("secret")


async def jsonl(request: Request) -> Response:
    n = int(request.query_params.get("n", "5"))
    trailer = request.query_params.get("trailer") == "1"
    fail = request.query_params.get("fail") == "1"
    return JSONLResponse(_rows(n, fail), trailer=trailer)


app = Starlette(
    routes=[
        Route("/script/{name}", script),
        Route("/feed", feed),
        Route("/endless", endless),
        Route("/sse", sse),
        Route("/jsonl", jsonl),
    ]
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # Aborted transfers are exceptions from the app, which uvicorn logs.
    with run_server(app, fail_on_app_error=False) as url:
        yield url


@pytest.fixture
def base_url(server: str) -> str:
    global STATE
    STATE = Recorder()
    return server


def record_sleep() -> tuple[list[float], Any]:
    delays: list[float] = []
    return delays, delays.append


def arecord_sleep() -> tuple[list[float], Any]:
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        await anyio.lowlevel.checkpoint()

    return delays, sleep


# -- aiter_sse / iter_sse ------------------------------------------------------

TRICKY = [
    b"\xef\xbb",
    b"\xbfdata: after a BOM\r\n\r",
    b"\n: comment\nid: 7\n\nretry: 100\n\ndata\ndata:  two spaces\r",
    b"data: x\r\n\r\nid: bad\0id\ndata: nul id ignored\n\nevent: cut off\ndata: never",
]


def test_iter_sse_equals_the_decoder_on_the_whole_body(base_url: str) -> None:
    STATE.scripts["raw"] = [TRICKY]
    with (
        httpx.Client(base_url=base_url, timeout=TIMEOUT) as client,
        client.stream("GET", "/script/raw") as response,
    ):
        got = list(iter_sse(response))
    want = SSEDecoder().feed(b"".join(TRICKY))
    assert got == want
    assert [e.data for e in got] == ["after a BOM", "\n two spaces\nx", "nul id ignored"]


@pytest.mark.anyio
async def test_aiter_sse_skips_comments_and_heartbeats(base_url: str) -> None:
    decoder = SSEDecoder()
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client:
        async with client.stream("GET", "/sse") as response:
            got = [event async for event in aiter_sse(response, decoder=decoder)]
        async with client.stream("GET", "/sse") as response:
            wire = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert wire.count(b":\n") >= 3  # heartbeats went over the wire...
    assert got == SSEDecoder().feed(b"".join(map(encode_sse, SSE_ITEMS)))  # ...but are no events
    assert [e.event for e in got] == [None, "multi", "empty", "progress"]
    assert decoder.retry == 2500
    assert decoder.last_event_id == "2"


@pytest.mark.anyio
async def test_aiter_sse_refuses_another_content_type(base_url: str) -> None:
    STATE.scripts["plain"] = [PLAIN]
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        client.stream("GET", "/script/plain") as response,
    ):
        with pytest.raises(SSEClientError, match="text/plain") as caught:
            [e async for e in aiter_sse(response)]
    assert caught.value.response is response
    assert isinstance(caught.value, StreamkitError)


@given(st.lists(events(), max_size=8), st.data())
def test_iter_sse_decodes_any_chunking_like_the_decoder(
    items: list[ServerSentEvent], data: st.DataObject
) -> None:
    body = b"".join(map(encode_sse, items)) + encode_comment("ping")
    chunks = data.draw(splits(body))
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers=SSE, content=chunks)
    )
    with httpx.Client(transport=transport) as client, client.stream("GET", "http://t/") as response:
        got = list(iter_sse(response))
    assert got == SSEDecoder().feed(body)


# -- connect_sse / aconnect_sse: reconnection ------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["close", "abort"])
async def test_reconnects_with_last_event_id_and_loses_or_repeats_nothing(
    base_url: str, mode: str
) -> None:
    log = STATE.log
    sent = [log.append({"n": n}, event="price") for n in range(10)]
    log.close()
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        aconnect_sse(
            client, "GET", f"/feed?mode={mode}", retry_delay=0.01, max_retries=2
        ) as source,
    ):
        got = [event async for event in source]
    assert [(e.id, e.event, e.data) for e in got] == [(e.id, e.event, e.data) for e in sent]
    ids = [str(e.id) for e in sent]
    assert source.last_event_id == ids[-1]
    # Resumed after every third event (3 per connection), then answered 204.
    want: list[bytes | None] = [None, *(i.encode() for i in ids[2::3]), ids[-1].encode()]
    assert STATE.ids("/feed") == want


def test_sync_reconnects_after_an_aborted_transfer(base_url: str) -> None:
    STATE.scripts["abort"] = [Abort(b"id: 1\ndata: a\n\n"), b"data: b\n\n", Status(204)]
    delays, sleep = record_sleep()
    with (
        httpx.Client(base_url=base_url, timeout=TIMEOUT) as client,
        connect_sse(client, "GET", "/script/abort", sleep=sleep) as source,
    ):
        got = [(e.data, e.id) for e in source]
    assert got == [("a", "1"), ("b", "1")]  # the id is sticky across connections
    assert STATE.ids("/script/abort") == [None, b"1", b"1"]
    assert delays == [3.0, 3.0]  # the browsers' default, no backoff after events


@pytest.mark.anyio
async def test_an_empty_id_resets_the_last_event_id(base_url: str) -> None:
    STATE.scripts["reset"] = [b"id: 5\ndata: a\n\nid:\ndata: b\n\n", b"data: c\n\n", Status(204)]
    _, sleep = arecord_sleep()
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        aconnect_sse(client, "GET", "/script/reset", last_event_id="0", sleep=sleep) as source,
    ):
        got = [(e.data, e.id) async for e in source]
    assert got == [("a", "5"), ("b", None), ("c", None)]
    assert STATE.ids("/script/reset") == [b"0", None, None]
    assert source.last_event_id == ""


@pytest.mark.anyio
async def test_an_id_only_block_and_a_header_given_id_are_resumed_from(base_url: str) -> None:
    STATE.scripts["idonly"] = [b"data: a\n\nid: caf\xc3\xa9-7\n\n", Status(204)]
    _, sleep = arecord_sleep()
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client:
        source = aconnect_sse(
            client, "GET", "/script/idonly", headers={"Last-Event-ID": "3"}, sleep=sleep
        )
        got = [e async for e in source]
        await source.aclose()
    assert [(e.data, e.id) for e in got] == [("a", "3")]
    # Sent as UTF-8, as browsers do.
    assert STATE.ids("/script/idonly") == [b"3", "café-7".encode()]


@pytest.mark.anyio
async def test_the_servers_retry_sets_the_delay(base_url: str) -> None:
    STATE.scripts["retry"] = [
        b"retry: 50\ndata: x\n\n",
        b"retry: 1000x\ndata: y\n\n",  # not all digits: ignored
        b"retry: 999999\ndata: z\n\n",  # capped by max_delay
        Status(204),
    ]
    delays, sleep = arecord_sleep()
    retries = []
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        aconnect_sse(client, "GET", "/script/retry", max_delay=20, sleep=sleep) as source,
    ):
        assert source.retry == 3.0
        async for _ in source:
            retries.append(source.retry)  # noqa: PERF401 - read while iterating
    assert retries == [0.05, 0.05, 20]
    assert delays == [0.05, 0.05, 20]


@pytest.mark.anyio
async def test_the_retry_delay_is_really_waited(base_url: str) -> None:
    STATE.scripts["wait"] = [b"retry: 150\ndata: x\n\n", b"data: y\n\n", Status(204)]
    times = []
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        aconnect_sse(client, "GET", "/script/wait") as source,
    ):
        async for _ in source:
            times.append(time.monotonic())  # noqa: PERF401 - when each one arrives
    assert len(times) == 2
    assert 0.14 <= times[1] - times[0] < 5  # bounds, not an exact figure


@pytest.mark.anyio
async def test_204_stops_without_reconnecting(base_url: str) -> None:
    STATE.scripts["stop"] = [b"data: a\n\n", Status(204), b"data: never\n\n"]
    delays, sleep = arecord_sleep()
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        aconnect_sse(client, "GET", "/script/stop", sleep=sleep) as source,
    ):
        got = [e.data async for e in source]
    assert got == ["a"]
    assert len(STATE.ids("/script/stop")) == 2
    assert len(delays) == 1


def test_204_on_the_first_connection_yields_nothing(base_url: str) -> None:
    STATE.scripts["none"] = [Status(204)]
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        assert list(connect_sse(client, "GET", "/script/none", sleep=record_sleep()[1])) == []
    assert len(STATE.ids("/script/none")) == 1


@pytest.mark.anyio
async def test_an_error_status_raises_without_retrying(base_url: str) -> None:
    STATE.scripts["500"] = [b"data: a\n\n", Status(500, b"broken")]
    _, sleep = arecord_sleep()
    got = []
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        aconnect_sse(client, "GET", "/script/500", sleep=sleep) as source,
    ):
        with pytest.raises(httpx.HTTPStatusError) as caught:
            async for event in source:
                got.append(event.data)  # noqa: PERF401 - the events before the error
    assert got == ["a"]
    assert caught.value.response.status_code == 500
    assert caught.value.response.text == "broken"  # small error bodies are read
    assert len(STATE.ids("/script/500")) == 2


def test_sync_error_status_raises_without_retrying(base_url: str) -> None:
    STATE.scripts["404"] = [Status(404, b"no such stream")]
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        source = connect_sse(client, "GET", "/script/404", sleep=record_sleep()[1])
        with pytest.raises(httpx.HTTPStatusError) as caught:
            next(source)
    assert caught.value.response.text == "no such stream"
    assert len(STATE.ids("/script/404")) == 1


@pytest.mark.anyio
async def test_another_content_type_raises_without_retrying(base_url: str) -> None:
    STATE.scripts["plain"] = [PLAIN]
    _, sleep = arecord_sleep()
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        aconnect_sse(client, "GET", "/script/plain", sleep=sleep) as source,
    ):
        with pytest.raises(SSEClientError, match="text/event-stream"):
            await source.__anext__()
    assert len(STATE.ids("/script/plain")) == 1


@pytest.mark.anyio
async def test_max_retries_gives_up_against_a_server_that_always_drops(base_url: str) -> None:
    STATE.scripts["drop"] = [b": nothing but a comment\n"]
    delays, sleep = arecord_sleep()
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        aconnect_sse(
            client, "GET", "/script/drop", retry_delay=1, max_delay=3, max_retries=3, sleep=sleep
        ) as source,
    ):
        with pytest.raises(SSEReconnectError, match="after 4 consecutive") as caught:
            [e async for e in source]
    assert len(STATE.ids("/script/drop")) == 4  # the first attempt and 3 retries
    assert delays == [1, 2, 3]  # doubled, capped by max_delay
    assert caught.value.attempts == 4
    assert isinstance(caught.value, ConnectionError)


def test_max_retries_gives_up_when_nothing_listens() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    delays, sleep = record_sleep()
    with httpx.Client(timeout=TIMEOUT) as client:
        source = connect_sse(client, "GET", f"http://127.0.0.1:{port}/", max_retries=2, sleep=sleep)
        with pytest.raises(SSEReconnectError) as caught:
            list(source)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert delays == [3.0, 6.0]
    assert source.attempts == 3


@pytest.mark.anyio
async def test_events_reset_the_failure_count(base_url: str) -> None:
    STATE.scripts["flaky"] = [b"", b"", b"data: a\n\n", b"", Status(204)]
    delays, sleep = arecord_sleep()
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        aconnect_sse(
            client, "GET", "/script/flaky", retry_delay=1, max_retries=2, sleep=sleep
        ) as source,
    ):
        got = [e.data async for e in source]
    assert got == ["a"]
    assert delays == [1, 2, 1, 1]


@pytest.mark.anyio
async def test_reconnect_false_reads_one_connection(base_url: str) -> None:
    STATE.scripts["once"] = [b"data: a\n\n", b"data: b\n\n"]
    STATE.scripts["once-abort"] = [Abort(b"data: a\n\n"), b"data: b\n\n"]
    got = []
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client:
        async with aconnect_sse(client, "GET", "/script/once", reconnect=False) as source:
            assert [e.data async for e in source] == ["a"]
        async with aconnect_sse(client, "GET", "/script/once-abort", reconnect=False) as source:
            with pytest.raises(httpx.RemoteProtocolError):
                async for event in source:
                    got.append(event.data)  # noqa: PERF401 - the events before the error
    assert got == ["a"]
    assert len(STATE.ids("/script/once")) == 1
    assert len(STATE.ids("/script/once-abort")) == 1


async def _wait_for_disconnect() -> bool:
    return await anyio.to_thread.run_sync(STATE.disconnected.wait, 5.0)


@pytest.mark.anyio
async def test_cancelling_the_iteration_closes_the_connection(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client:
        source = aconnect_sse(client, "GET", "/endless")
        got = []
        with anyio.CancelScope() as scope:
            async for event in source:  # no async with: the cancellation alone must close
                got.append(event.data)
                response = source.response
                if len(got) == 2:
                    scope.cancel()
        assert scope.cancelled_caught
        assert response is not None
        assert response.is_closed
        assert await _wait_for_disconnect()  # the server saw the client leave
        assert source.response is None
    assert got == ["tick 0", "tick 1"]


@pytest.mark.anyio
@httpx_generators_left_to_gc
async def test_leaving_the_async_with_block_closes_the_connection(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client:
        async with aconnect_sse(client, "GET", "/endless") as source:
            async for _ in source:
                response = source.response
                break
        assert source.closed
        assert response is not None
        assert response.is_closed  # by the client, not left to the garbage collector
        assert await _wait_for_disconnect()
        with pytest.raises(StopAsyncIteration):
            await source.__anext__()


def test_sync_close_closes_the_connection(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        with connect_sse(client, "GET", "/endless") as source:
            assert next(source).data == "tick 0"
            response = source.response
        assert response is not None
        assert response.is_closed
        assert STATE.disconnected.wait(5.0)
        assert list(source) == []


def test_sync_close_from_another_thread_ends_a_retry_wait(base_url: str) -> None:
    STATE.scripts["down"] = [b""]
    outcome: list[object] = []
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        source = connect_sse(client, "GET", "/script/down", retry_delay=60, max_retries=None)
        thread = threading.Thread(target=lambda: outcome.append(list(source)), daemon=True)
        thread.start()
        deadline = time.monotonic() + 5
        while not STATE.ids("/script/down") and time.monotonic() < deadline:
            time.sleep(0.01)
        source.close()
        thread.join(5.0)
        assert not thread.is_alive()
    assert outcome == [[]]


@pytest.mark.anyio
@httpx_generators_left_to_gc
async def test_the_shutdown_event_passes_through_and_the_client_reconnects(
    base_url: str,
) -> None:
    got = []
    _, sleep = arecord_sleep()
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        aconnect_sse(client, "GET", "/endless", sleep=sleep) as source,
    ):
        async for event in source:
            got.append((event.event, event.data))
            if len(got) == 1:
                await anyio.to_thread.run_sync(close_open_streams)
            if event.event == "shutdown":
                break
        assert source.attempts == 1
        async for event in source:  # the next event comes from a new connection
            got.append((event.event, event.data))
            break
        assert source.attempts == 2
    assert got[-2] == ("shutdown", "")
    assert got[-1] == (None, "tick 0")
    # The reconnection resumed after the last tick before the shutdown.
    assert STATE.ids("/endless")[-1] == str(got[-3][1]).replace("tick ", "").encode()


def test_connect_sse_over_any_chunking_in_memory() -> None:
    items = [ServerSentEvent("a", id="1"), ServerSentEvent("b\nc", event="x", retry=10)]
    body = b"".join(map(encode_sse, items))

    @given(st.data())
    def check(data: st.DataObject) -> None:
        chunks = data.draw(splits(body))
        calls: list[str | None] = []

        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request.headers.get("last-event-id"))
            if len(calls) == 1:
                return httpx.Response(200, headers=SSE, content=chunks)
            return httpx.Response(204)

        with httpx.Client(transport=httpx.MockTransport(handler)) as client:
            source = connect_sse(client, "GET", "http://t/", sleep=record_sleep()[1])
            assert list(source) == SSEDecoder().feed(body)
        assert calls == [None, "1"]
        assert source.retry == 0.01
        assert source.last_event_id == "1"

    check()


def test_requests_say_what_they_accept_and_keep_the_callers_headers() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        source = connect_sse(
            client, "POST", "http://t/", headers={"Authorization": "Bearer x"}, json={"q": 1}
        )
        assert list(source) == []
    assert seen[0]["accept"] == "text/event-stream"
    assert seen[0]["cache-control"] == "no-store"
    assert seen[0]["authorization"] == "Bearer x"
    assert "last-event-id" not in seen[0]


def test_jitter_waits_between_half_the_delay_and_the_delay() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, headers=SSE))
    delays, sleep = record_sleep()
    with httpx.Client(transport=transport) as client:
        source = connect_sse(
            client, "GET", "http://t/", retry_delay=1, max_retries=4, jitter=True, sleep=sleep
        )
        with pytest.raises(SSEReconnectError):
            list(source)
    assert len(delays) == 4
    for delay, full in zip(delays, [1, 2, 4, 8], strict=True):
        assert full / 2 <= delay <= full


def test_bad_arguments_are_refused() -> None:
    with (
        httpx.Client() as client,
        pytest.raises(ValueError, match="max_retries"),
    ):
        connect_sse(client, "GET", "http://t/", max_retries=-1)
        with pytest.raises(ValueError, match="retry_delay"):
            connect_sse(client, "GET", "http://t/", retry_delay=-1)


# -- aiter_jsonl / iter_jsonl ------------------------------------------------------


def mock_jsonl(chunks: list[bytes]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/jsonl"}, content=chunks)

    return httpx.Client(transport=httpx.MockTransport(handler))


def read_jsonl(chunks: list[bytes], **options: Any) -> list[Any]:
    with mock_jsonl(chunks) as client, client.stream("GET", "http://t/") as response:
        return list(iter_jsonl(response, **options))


@pytest.mark.anyio
async def test_aiter_jsonl_checks_and_hides_the_trailer(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client:
        async with client.stream("GET", "/jsonl?n=4&trailer=1") as response:
            got = [value async for value in aiter_jsonl(response, trailer=True)]
        async with client.stream("GET", "/jsonl?n=4&trailer=1") as response:
            raw = [value async for value in aiter_jsonl(response)]
    assert got == [{"row": i} for i in range(4)]
    assert raw == [*got, {"type": "end", "count": 4}]


def test_a_missing_trailer_raises(base_url: str) -> None:
    got: list[Any] = []
    with (
        httpx.Client(base_url=base_url, timeout=TIMEOUT) as client,
        client.stream("GET", "/jsonl?n=3") as response,
        pytest.raises(TrailerError, match="without its") as caught,
    ):
        got.extend(iter_jsonl(response, trailer=True))  # (keeps what came before)
    assert got == [{"row": i} for i in range(3)]
    assert (caught.value.received, caught.value.expected) == (3, None)
    assert isinstance(caught.value, ValueError)


def test_a_wrong_trailer_count_raises() -> None:
    with pytest.raises(TrailerError, match="says 3 records, 2 were") as caught:
        read_jsonl([b'{"a":1}\n{"a":2}\n{"type":"end","count":3}\n'], trailer=True)
    assert (caught.value.received, caught.value.expected) == (2, 3)


def test_a_record_shaped_like_the_trailer_that_is_not_last_is_data() -> None:
    body = b'{"type":"end","count":0}\n{"a":1}\n{"type":"end","count":2}\n'
    assert read_jsonl([body], trailer=True) == [{"type": "end", "count": 0}, {"a": 1}]


@pytest.mark.anyio
@httpx_generators_left_to_gc
async def test_an_in_band_error_record_raises_after_the_records_before_it(base_url: str) -> None:
    got: list[Any] = []
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client,
        client.stream("GET", "/jsonl?n=2&fail=1&trailer=1") as response,
    ):
        with pytest.raises(RemoteStreamError) as caught:
            async for value in aiter_jsonl(response, trailer=True):
                got.append(value)  # noqa: PERF401 - the records before the error
    assert got == [{"row": 0}, {"row": 1}]
    assert caught.value.code == "internal_error"
    assert "secret" not in str(caught.value)
    assert caught.value.record["type"] == "error"


def test_error_records_are_data_unless_recognised() -> None:
    body = [b'{"a":1}\n{"type":"error","code":"timeout","message":"too slow"}\n']
    assert read_jsonl(body)[-1] == {"type": "error", "code": "timeout", "message": "too slow"}
    with pytest.raises(RemoteStreamError, match="too slow") as caught:
        read_jsonl(body, control_records=True)
    assert caught.value.code == "timeout"


def test_a_shutdown_record_raises() -> None:
    with pytest.raises(RemoteStreamError, match="shutting down") as caught:
        read_jsonl([b'{"a":1}\n{"type":"shutdown"}\n'], trailer=True)
    assert caught.value.code == "server_shutting_down"


def test_a_truncated_last_line_raises_decode_error() -> None:
    got: list[Any] = []
    with (
        mock_jsonl([b'{"a":1}\n{"b":', b"[1,2"]) as client,
        client.stream("GET", "http://t/") as response,
        pytest.raises(DecodeError),
    ):
        got.extend(iter_jsonl(response))  # (keeps what came before)
    assert got == [{"a": 1}]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(json_values, max_size=10), st.data())
def test_iter_jsonl_decodes_any_chunking(values: list[Any], data: st.DataObject) -> None:
    lines = [encode_jsonl(v) + (b"\n" if data.draw(st.booleans()) else b"") for v in values]
    body = b"".join(lines) + encode_jsonl({"type": "end", "count": len(values)})
    assert read_jsonl(data.draw(splits(body)), trailer=True) == values


@pytest.mark.anyio
async def test_aiter_jsonl_decodes_byte_by_byte_in_memory() -> None:
    body = b'{"a":1}\n\n[2]\n"x"\n{"type":"end","count":3}\n'

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(len(body)):
            yield body[i : i + 1]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
        client.stream("GET", "http://t/") as response,
    ):
        got = [value async for value in aiter_jsonl(response, trailer=True)]
    assert got == [{"a": 1}, [2], "x"]


def test_importing_streamkit_does_not_import_the_client_or_httpx() -> None:
    import subprocess
    import sys

    code = "import sys, streamkit; print('streamkit.client' in sys.modules, 'httpx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]
