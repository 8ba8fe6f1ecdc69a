"""The streams layer behind a real uvicorn server, read by real clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import pytest
from httpx_sse import aconnect_sse, connect_sse
from starlette.types import Receive, Scope, Send

from streamkit import (
    ServerSentEvent,
    SSEDecoder,
    catch_errors,
    sse_chunks,
    sse_error_frame,
)
from streamkit.testing import run_server


async def quiet_ticks() -> AsyncIterator[ServerSentEvent]:
    for n in range(3):
        yield ServerSentEvent(f"tick {n}", id=str(n))
        await anyio.sleep(0.08)  # long enough for several heartbeats


async def fails_midway() -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent("before", id="1")
    await anyio.sleep(0.01)
    raise RuntimeError("secret connection string")


SOURCES = {"/ticks": quiet_ticks, "/fails": fails_midway}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    source = SOURCES[scope["path"]]()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream; charset=utf-8")],
        }
    )
    async with sse_chunks(source, heartbeat=0.02) as chunks:
        async for chunk in catch_errors(chunks, render=sse_error_frame):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    # The failing stream makes the app raise on purpose (to abort the
    # transfer), which uvicorn logs as an application error.
    with run_server(app, fail_on_app_error=False) as url:
        yield url


def test_heartbeats_reach_the_wire_but_are_not_events(base_url: str) -> None:
    with httpx.stream("GET", f"{base_url}/ticks", timeout=10) as response:
        wire = b"".join(response.iter_bytes())
    assert wire.count(b":\n") >= 2  # idle heartbeats were sent between ticks
    events = SSEDecoder().feed(wire)
    assert [(e.data, e.id) for e in events] == [("tick 0", "0"), ("tick 1", "1"), ("tick 2", "2")]


def test_httpx_sse_sees_no_phantom_events_from_heartbeats_after_ids(base_url: str) -> None:
    # ": ping\n\n" after an id makes httpx-sse emit empty events; the
    # heartbeat frame streamkit sends has no blank line, so it does not.
    with httpx.Client(timeout=10) as client, connect_sse(client, "GET", f"{base_url}/ticks") as sse:
        datas = [event.data for event in sse.iter_sse()]
    assert datas == ["tick 0", "tick 1", "tick 2"]


@pytest.mark.anyio
async def test_a_failure_after_the_first_event_is_reported_then_the_body_is_cut(
    base_url: str,
) -> None:
    received: list[tuple[str, str]] = []
    async with httpx.AsyncClient(timeout=10) as client:
        with pytest.raises(httpx.RemoteProtocolError):  # no end of the chunked body
            async with aconnect_sse(client, "GET", f"{base_url}/fails") as sse:
                async for event in sse.aiter_sse():
                    received.append((event.event, event.data))  # noqa: PERF401
    assert received[0] == ("message", "before")
    assert received[1][0] == "error"
    assert "internal_error" in received[1][1]
    assert "secret" not in received[1][1]  # sanitised by default
