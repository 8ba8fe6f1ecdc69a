"""Buffered versus streamed: the same rows sent both ways, measured for real.

``/demo/comparison/buffered`` builds the whole body first (the usual
``return rows`` of a web framework: a list in memory, then one big body), so
the client waits for all of it before the first byte and the server holds
all of it at once. ``/demo/comparison/streamed`` sends the same bytes with
``JSONLResponse`` as they are produced: the first byte leaves after the
first chunk, and memory stays at a few chunks.

``/demo/comparison`` requests both from this very server and reports the
time to first byte, the total time and the peak memory the server
allocated (``tracemalloc``, which traces every allocation of the process
while the request runs; so one measurement at a time, and the figures are
slower than untraced ones, for both alike).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from streamkit import encode_jsonl
from streamkit.demo._state import Demo
from streamkit.starlette import JSONLResponse

RowCount = Annotated[int | None, Query(alias="rows", ge=1, le=2_000_000)]


def rows(count: int) -> Iterator[dict[str, Any]]:
    """The rows both endpoints send (about 150 bytes each as JSON)."""
    for n in range(count):
        yield {
            "id": n,
            "name": f"Item {n}",
            "tags": ["alpha", "beta", "gamma"][: 1 + n % 3],
            "price": round(n * 0.37 % 1000, 2),
            "description": "A row of the comparison, long enough to be realistic.",
        }


async def measure(url: str) -> dict[str, Any]:
    """Fetch ``url``: time to first byte, total time, bytes, and the peak of
    the memory the process allocated meanwhile (server and client alike)."""
    import httpx

    started_tracing = not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        received = 0
        first: float | None = None
        start = time.perf_counter()
        async with (
            httpx.AsyncClient(timeout=120) as client,
            client.stream("GET", url) as response,
        ):
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                if first is None and chunk:
                    first = time.perf_counter()
                received += len(chunk)  # and dropped: the client keeps nothing
        total = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        if started_tracing:
            tracemalloc.stop()
    return {
        "ttfb_ms": round(((first or time.perf_counter()) - start) * 1000, 2),
        "total_ms": round(total * 1000, 2),
        "bytes": received,
        "peak_memory_bytes": max(peak, 0),
    }


def router(demo: Demo) -> APIRouter:
    api = APIRouter(tags=["comparison"])
    default_rows = 20_000 if demo.fast else 50_000
    lock = anyio.Lock()  # tracemalloc is process-wide: one measurement at a time

    @api.get("/demo/comparison/buffered")
    def buffered(
        rows_: RowCount = None,
    ) -> Response:
        """All rows built in memory, then sent as one body (JSON Lines)."""
        items = list(rows(rows_ or default_rows))
        body = b"".join(encode_jsonl(item) for item in items)
        return Response(body, media_type="application/jsonl")

    @api.get("/demo/comparison/streamed", response_class=JSONLResponse)
    def streamed(
        rows_: RowCount = None,
    ) -> JSONLResponse:
        """The same rows, streamed as they are produced."""
        return JSONLResponse(rows(rows_ or default_rows))

    @api.get("/demo/comparison")
    async def compare(
        request: Request,
        rows_: RowCount = None,
    ) -> dict[str, Any]:
        """Measure both endpoints now, one after the other."""
        count = rows_ or default_rows
        base = str(request.base_url).rstrip("/")
        async with lock:
            results = {
                mode: await measure(f"{base}/demo/comparison/{mode}?rows={count}")
                for mode in ("buffered", "streamed")
            }
        return {"rows": count, **results}

    return api
