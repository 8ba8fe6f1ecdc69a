"""A live feed that reconnecting clients resume without gaps or repeats.

Run it (after ``pip install -e ".[demo]"``)::

    python examples/resumable_feed.py

then open http://127.0.0.1:8000: the page follows the feed with
``EventSource``. Stop the server for a moment and start it again, or drop the
connection in the browser's developer tools: the browser reconnects by itself
with ``Last-Event-ID`` and the feed carries on where it stopped (after a server
restart the old ids are unknown, so the page gets ``event: reset`` and starts
over). With curl::

    curl -N http://127.0.0.1:8000/feed
    curl -N -H "Last-Event-ID: <an id from above>" http://127.0.0.1:8000/feed

A background task appends one price to an :class:`~streamkit.EventLog` every
``interval`` seconds; each client reads the log from where it left off.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from streamkit import EventLog
from streamkit.starlette import SSEResponse, close_open_streams, last_event_id

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>streamkit: resumable feed</title>
<h1>Price feed</h1>
<p>Last event id: <code id="id">none</code></p>
<ol id="prices" reversed></ol>
<script>
  const source = new EventSource("/feed");
  const list = document.getElementById("prices");
  source.addEventListener("price", (e) => {
    const item = document.createElement("li");
    item.textContent = JSON.parse(e.data).price.toFixed(2);
    list.prepend(item);
    document.getElementById("id").textContent = e.lastEventId;
  });
  source.addEventListener("reset", () => { list.replaceChildren(); });
</script>
"""


def make_app(interval: float = 1.0, maxlen: int = 1000) -> Starlette:
    """The feed app: a price every ``interval`` seconds, the last ``maxlen``
    kept for clients that reconnect."""
    log = EventLog(maxlen=maxlen)

    async def publish() -> None:
        price = 100.0
        while True:
            price = max(1.0, price + random.gauss(0, 0.5))
            log.append({"price": round(price, 2)}, event="price")
            await anyio.sleep(interval)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(publish)
            yield
            log.close()  # subscribers end after what they have not had yet
            close_open_streams()
            tg.cancel_scope.cancel()

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def feed(request: Request) -> SSEResponse:
        # The header is the client's echo of an id we sent: EventLog checks it
        # and sends "event: reset" if it names events it no longer holds.
        return SSEResponse(log.subscribe(last_event_id(request)))

    app = Starlette(routes=[Route("/", index), Route("/feed", feed)], lifespan=lifespan)
    app.state.log = log
    return app


app = make_app()


def main() -> None:
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000, timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
