"""A minimal Server-Sent Events app.

Run it (after ``pip install -e ".[demo]"``)::

    python examples/hello_sse.py

then open http://127.0.0.1:8000 in a browser: the page subscribes with
``EventSource`` and shows a clock ticking once a second, or read the raw stream
with ``curl -N http://127.0.0.1:8000/clock``.

``SSEResponse`` encodes each event, sends a heartbeat comment after 15 s of
silence, closes the generator when the browser goes away, and ends the stream
with ``event: shutdown`` when the server stops.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from streamkit import ServerSentEvent, json_event
from streamkit.starlette import SSEResponse

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


async def clock(request: Request) -> SSEResponse:
    async def ticks() -> AsyncIterator[ServerSentEvent]:
        for n in range(1, 3601):
            now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            yield json_event({"now": now, "n": n}, event="tick", id=str(n))
            await anyio.sleep(1)

    return SSEResponse(ticks())


app = Starlette(routes=[Route("/", index), Route("/clock", clock)])


def main() -> None:
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000, timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
