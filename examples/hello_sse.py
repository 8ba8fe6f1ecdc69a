"""A minimal Server-Sent Events app built on streamkit's encoder.

Run it (after ``pip install -e ".[demo]"``)::

    python examples/hello_sse.py

then open http://127.0.0.1:8000 in a browser: the page subscribes with
``EventSource`` and shows a clock ticking once a second, or read the raw stream
with ``curl -N http://127.0.0.1:8000/clock``.

The response classes in ``streamkit.starlette`` (coming next) add heartbeats,
disconnect handling and error frames; this example uses the encoder directly
with Starlette's plain ``StreamingResponse``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Route

from streamkit import encode_comment, encode_sse, json_event

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>streamkit: hello SSE</title>
<h1>streamkit clock</h1>
<p id="now">connecting…</p>
<script>
  const source = new EventSource("/clock");
  source.addEventListener("tick", (e) => {
    const tick = JSON.parse(e.data);
    document.getElementById("now").textContent = `${tick.now} (event ${e.lastEventId})`;
  });
</script>
"""


async def index(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def clock(request: Request) -> StreamingResponse:
    async def ticks() -> AsyncIterator[bytes]:
        yield encode_comment("streamkit clock")
        for n in range(1, 3601):
            now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            yield encode_sse(json_event({"now": now, "n": n}, event="tick", id=str(n)))
            await anyio.sleep(1)

    return StreamingResponse(
        ticks(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


app = Starlette(routes=[Route("/", index), Route("/clock", clock)])


def main() -> None:
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)


if __name__ == "__main__":
    main()
