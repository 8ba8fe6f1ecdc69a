"""JSON objects streamed one by one, as JSON Lines and as Server-Sent Events,
and a large data set sent in chunks.

``JSONLResponse`` writes one compact JSON value per line
(``application/jsonl``) and, with ``trailer=True``, ends a complete stream
with ``{"type": "end", "count": N}`` so clients can tell it from a cut one.
``SSEResponse`` sends each object as an event's JSON data, for
``EventSource``. Small items are coalesced into chunks of up to 64 KiB
without adding latency: a slow source still has each item sent at once, a
fast one is not sent one tiny write per item.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query

from streamkit import ServerSentEvent, json_event
from streamkit.demo._state import Demo
from streamkit.starlette import JSONLResponse, SSEResponse


def reading(n: int) -> dict[str, Any]:
    """One sensor reading (the objects every endpoint here streams)."""
    return {
        "seq": n,
        "sensor": f"sensor-{n % 4}",
        "celsius": round(20 + 5 * math.sin(n / 10), 3),
        "ok": n % 17 != 0,
    }


def router(demo: Demo) -> APIRouter:
    api = APIRouter(tags=["json"])
    delay = demo.scaled(0.2, 0.001)

    async def readings(count: int) -> AsyncIterator[dict[str, Any]]:
        for n in range(1, count + 1):
            yield reading(n)
            await anyio.sleep(delay)  # a slow source: each object goes out at once

    @api.get("/stream/json/jsonl", response_class=JSONLResponse)
    async def as_jsonl(count: Annotated[int, Query(ge=1, le=10_000)] = 20) -> JSONLResponse:
        """``count`` readings as JSON Lines, then an end trailer."""
        return JSONLResponse(readings(count), trailer=True)

    @api.get("/stream/json/sse", response_class=SSEResponse)
    async def as_sse(count: Annotated[int, Query(ge=1, le=10_000)] = 20) -> SSEResponse:
        """``count`` readings as SSE events (``event: reading``, id = seq),
        then ``event: done``."""

        async def events() -> AsyncIterator[ServerSentEvent]:
            async for item in readings(count):
                yield json_event(item, event="reading", id=str(item["seq"]))
            yield json_event({"count": count}, event="done")

        return SSEResponse(events())

    @api.get("/stream/large-data", response_class=JSONLResponse)
    def large_data(
        rows: Annotated[int, Query(ge=1, le=5_000_000)] = 1_000_000,
    ) -> JSONLResponse:
        """A million readings (about 60 MB) in ~64 KiB chunks, in constant
        memory: the sync generator runs on a thread, a batch at a time."""

        def generate() -> Iterator[dict[str, Any]]:
            for n in range(1, rows + 1):
                yield reading(n)

        return JSONLResponse(generate(), trailer=True, chunk_size=64 * 1024)

    return api
