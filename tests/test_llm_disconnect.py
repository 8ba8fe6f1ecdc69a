"""A client hanging up stops the upstream LLM request (and its token spend).

Two real uvicorn servers: a fake OpenAI-compatible upstream that streams
tokens slowly and records when its request ends, and a proxy that reads it
with httpx through ``sse_json`` and ``from_openai_chat`` and streams the
events on. The test's client reads a little from the proxy and hangs up; the
upstream must see its connection closed within 100 ms.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from streamkit.llm import from_openai_chat, sse_json
from streamkit.starlette import SSEResponse
from streamkit.testing import run_server

TOKEN_INTERVAL = 0.02
BOUND = 0.1  # the target: the upstream sees the hang-up within 100 ms


def make_upstream() -> tuple[Starlette, dict[str, float]]:
    ended: dict[str, float] = {}

    async def completions(request: Request) -> SSEResponse:
        tag = request.query_params["tag"]

        async def chunks() -> AsyncIterator[bytes]:
            try:
                n = 0
                while True:
                    n += 1
                    chunk = {
                        "id": "c",
                        "model": "fake",
                        "choices": [{"index": 0, "delta": {"content": f"tok{n} "}}],
                    }
                    yield b"data: " + orjson.dumps(chunk) + b"\n\n"
                    await anyio.sleep(TOKEN_INTERVAL)
            finally:
                ended[tag] = time.monotonic()

        return SSEResponse(chunks(), heartbeat=0)

    async def report(request: Request) -> JSONResponse:
        return JSONResponse(ended.get(request.query_params["tag"]))

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/ended", report),
        ]
    )
    return app, ended


def make_proxy(upstream_url: str) -> Starlette:
    async def chat(request: Request) -> SSEResponse:
        tag = request.query_params["tag"]

        async def upstream_bytes() -> AsyncIterator[bytes]:
            async with (
                httpx.AsyncClient(timeout=10) as client,
                client.stream(
                    "POST", f"{upstream_url}/v1/chat/completions", params={"tag": tag}, json={}
                ) as response,
            ):
                async for chunk in response.aiter_bytes():
                    yield chunk

        return SSEResponse(from_openai_chat(sse_json(upstream_bytes())))

    return Starlette(routes=[Route("/chat", chat)])


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    upstream_app, _ = make_upstream()
    with run_server(upstream_app) as upstream_url, run_server(make_proxy(upstream_url)) as proxy:
        yield upstream_url, proxy


def hang_up_delay(upstream_url: str, proxy_url: str, tag: str) -> float:
    """Read a little through the proxy, hang up; seconds until the upstream
    request ended."""
    received = b""
    with httpx.stream("GET", f"{proxy_url}/chat", params={"tag": tag}, timeout=10) as response:
        for chunk in response.iter_bytes():
            received += chunk
            if received.count(b"text-delta") >= 3:
                break
        hung_up = time.monotonic()
    assert b"tok1 " in received
    deadline = hung_up + 5
    ended = None
    with httpx.Client(timeout=5) as client:
        while ended is None and time.monotonic() < deadline:
            ended = client.get(f"{upstream_url}/ended", params={"tag": tag}).json()
            if ended is None:
                time.sleep(0.005)
    assert ended is not None, "the upstream request was never closed"
    return float(ended) - hung_up


def test_hanging_up_closes_the_upstream_request_promptly(servers: tuple[str, str]) -> None:
    upstream_url, proxy_url = servers
    delays = sorted(hang_up_delay(upstream_url, proxy_url, f"t{n}") for n in range(5))
    # The target holds for the typical hang-up (the median of five); a loaded
    # CI machine may delay one, never by much.
    assert delays[2] < BOUND, f"the upstream saw the hang-ups after {delays} s"
    assert delays[-1] < 5 * BOUND, f"the upstream saw the hang-ups after {delays} s"
