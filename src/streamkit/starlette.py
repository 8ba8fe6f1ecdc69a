"""Starlette and FastAPI responses that stream with the whole lifecycle handled.

``SSEResponse``, ``JSONLResponse``, ``CSVResponse`` and ``TextStreamResponse``
are ``StreamingResponse`` subclasses: return them from a Starlette endpoint or
a FastAPI path operation, or name them as FastAPI's ``response_class``. Each
takes any sync or async iterable and adds what hand-written streaming lacks:

* **chunking**: items are encoded and sent as ~64 KiB chunks when they are
  ready, one at a time when the source is slow;
* **disconnects**: a listener waits for the client to hang up and then stops
  the stream at once, closing the source (a sync generator on its own thread),
  even if it never awaits;
* **errors**: an exception before the first byte propagates before any
  header is sent, so Starlette and FastAPI answer with a real status (500, or
  an ``HTTPException``'s); after it, an in-band error frame in the stream's
  format is sent (sanitised unless ``expose_errors=True``) and the transfer is
  aborted, so the client can tell the body is incomplete;
* **heartbeats**: idle-based keep-alives (on by default for SSE);
* **headers**: ``Cache-Control: no-cache`` and ``X-Accel-Buffering: no``, a
  charset on text types, no ``Connection`` header (forbidden in HTTP/2);
* **HEAD**: headers only; the source is closed without being iterated.

Importing this module imports starlette; ``import streamkit`` does not.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Final

import anyio
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from streamkit._formats.csvenc import CSVEncoder
from streamkit._formats.errorinfo import ErrorInfo, describe_error, sse_error_frame
from streamkit._formats.jsonenc import DecimalMode
from streamkit._formats.jsonl import jsonl_encoder
from streamkit._streams.chunkers import encoded_chunks, sse_chunks
from streamkit._streams.exports import JSON_HEARTBEAT, csv_chunks, jsonl_chunks
from streamkit._streams.pump import DEFAULT_CHUNK_SIZE
from streamkit._streams.sources import close_unstarted

__all__ = [
    "CSVResponse",
    "JSONLResponse",
    "SSEResponse",
    "StreamResponse",
    "TextStreamResponse",
    "last_event_id",
]

logger = logging.getLogger("streamkit")

#: The default SSE heartbeat: proxies cut idle connections after 30-60 s
#: (AWS API Gateway 29 s, nginx and Cloud Run 60 s); 15 s stays well inside
#: all of them and is what the SSE authoring notes suggest.
DEFAULT_SSE_HEARTBEAT: Final = 15.0

Content = Iterable[Any] | AsyncIterable[Any]
DisconnectCallback = Callable[[], Awaitable[None] | None]


def last_event_id(request: HTTPConnection) -> str | None:
    """The ``Last-Event-ID`` a reconnecting ``EventSource`` sent, or None.

    The value is the client's echo of an ``id`` you sent earlier: an opaque
    string, to be validated before use (do not trust it to be an integer).
    """
    value = request.headers.get("last-event-id")
    return value if value else None


class StreamResponse(StreamingResponse):
    """The lifecycle shared by every streamkit response; subclasses choose the
    format by overriding :meth:`open_chunks` and :meth:`render_error`.

    Args:
        content: any sync or async iterable of items.
        status_code, headers, media_type, background: as for Starlette's
            ``StreamingResponse``.
        chunk_size: the most bytes per chunk (see :func:`~streamkit.encoded_chunks`).
        heartbeat: seconds of silence before a keep-alive frame (0 = none).
        first_item, idle, total: timeouts in seconds
            (see :func:`~streamkit.with_timeouts`); a timeout after the first
            byte is reported in-band like any error.
        send_timeout: drop a client that does not accept a chunk for this many
            seconds (a frozen client otherwise holds the stream open forever).
        on_disconnect: called (and awaited if it returns an awaitable) when the
            client hangs up before the stream ends.
        expose_errors: include the exception's type and text in the in-band
            error frame (off by default: messages can carry secrets).
    """

    default_headers: ClassVar[Mapping[str, str]] = {
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
    }
    #: The keep-alive frame of the format; None: the format has no safe one.
    heartbeat_frame: ClassVar[bytes | None] = None

    def __init__(
        self,
        content: Content,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        heartbeat: float = 0.0,
        first_item: float | None = None,
        idle: float | None = None,
        total: float | None = None,
        send_timeout: float | None = None,
        on_disconnect: DisconnectCallback | None = None,
        expose_errors: bool = False,
    ) -> None:
        if heartbeat and self.heartbeat_frame is None:
            raise ValueError(
                f"{type(self).__name__} has no heartbeat: any filler would be data in this format"
            )
        merged = dict(self.default_headers)
        merged.update(headers or {})
        super().__init__(
            _NotIterated(),
            status_code=status_code,
            headers=merged,
            media_type=media_type,
            background=background,
        )
        self.content = content
        self.chunk_size = chunk_size
        self.heartbeat = heartbeat
        self.first_item = first_item
        self.idle = idle
        self.total = total
        self.send_timeout = send_timeout
        self.on_disconnect = on_disconnect
        self.expose_errors = expose_errors

    # -- the format -----------------------------------------------------------

    def open_chunks(self) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """The chunker for this response's content (raw bytes by default)."""
        return encoded_chunks(
            self.content,
            _as_bytes,
            chunk_size=self.chunk_size,
            first_item=self.first_item,
            idle=self.idle,
            total=self.total,
        )

    def render_error(self, info: ErrorInfo) -> bytes:
        """The in-band error frame for a failure after the first byte (none by
        default: the aborted transfer is the only signal a raw stream has)."""
        return b""

    # -- the lifecycle --------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD":
            await close_unstarted(self.content)
            await send(self._start_message())
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            if self.background is not None:
                await self.background()
            return
        error: BaseException | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._listen_for_disconnect, receive, tg.cancel_scope)
            try:
                await self._stream(send)
            except Exception as exc:  # re-raised below, not wrapped by the group
                error = exc
            finally:
                tg.cancel_scope.cancel()
        if error is not None:
            raise error
        # As Starlette does, the background task runs after a disconnect too.
        if self.background is not None:
            await self.background()

    def _start_message(self) -> Message:
        return {
            "type": "http.response.start",
            "status": self.status_code,
            "headers": self.raw_headers,
        }

    async def _send(self, send: Send, message: Message) -> None:
        if self.send_timeout is None:
            await send(message)
            return
        with anyio.move_on_after(self.send_timeout) as scope:
            await send(message)
        if scope.cancelled_caught:
            raise _ClientTooSlow(f"the client accepted no data for {self.send_timeout} s; dropped")

    async def _stream(self, send: Send) -> None:
        async with self.open_chunks() as chunks:
            # Pull the first chunk before any header: an exception now still
            # becomes a real HTTP error status upstream.
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                first = b""
            await self._send(send, self._start_message())
            try:
                if first:
                    await self._send(
                        send, {"type": "http.response.body", "body": first, "more_body": True}
                    )
                async for chunk in chunks:
                    await self._send(
                        send, {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
            except _ClientTooSlow:
                raise
            except Exception as exc:
                logger.error("streamkit: the stream failed after it had started", exc_info=exc)
                frame = self.render_error(describe_error(exc, expose=self.expose_errors))
                if frame:
                    with anyio.move_on_after(1):  # best effort: the client may be gone
                        await send({"type": "http.response.body", "body": frame, "more_body": True})
                raise  # abort: no final chunk, so the client sees a truncated transfer
            await self._send(send, {"type": "http.response.body", "body": b"", "more_body": False})

    async def _listen_for_disconnect(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
        if self.on_disconnect is not None:
            result = self.on_disconnect()
            if inspect.isawaitable(result):
                await result
        scope.cancel()


class _ClientTooSlow(Exception):
    pass


class _NotIterated:
    """Stands in for StreamingResponse's body iterator, which this class
    never uses: the content is read through a chunker in __call__."""

    def __aiter__(self) -> _NotIterated:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration


def _as_bytes(item: object) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, (bytearray, memoryview)):
        return bytes(item)
    if isinstance(item, str):
        return item.encode()
    raise TypeError(f"a byte stream takes bytes or str items, got {type(item).__name__}")


class SSEResponse(StreamResponse):
    """Stream Server-Sent Events (``text/event-stream``).

    Items may be :class:`~streamkit.ServerSentEvent` values, pre-encoded
    ``bytes``, ``str`` (sent as data) or anything JSON-serialisable (sent as
    JSON data). A heartbeat comment (``:``) goes out after 15 s of silence by
    default. A failure after the first event sends ``event: error`` with
    ``{"code", "message"}`` data, then aborts.

    Example::

        @app.get("/events")
        async def events(request: Request) -> SSEResponse:
            resume_after = last_event_id(request)
            return SSEResponse(ticks(after=resume_after))
    """

    media_type = "text/event-stream"
    heartbeat_frame = b":\n"

    def __init__(
        self,
        content: Content,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        sep: str = "\n",
        heartbeat: float = DEFAULT_SSE_HEARTBEAT,
        **options: Any,
    ) -> None:
        super().__init__(
            content, status_code, headers, media_type, background, heartbeat=heartbeat, **options
        )
        self.sep = sep

    def open_chunks(self) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        return sse_chunks(
            self.content,
            sep=self.sep,
            chunk_size=self.chunk_size,
            heartbeat=self.heartbeat,
            first_item=self.first_item,
            idle=self.idle,
            total=self.total,
        )

    def render_error(self, info: ErrorInfo) -> bytes:
        return sse_error_frame(info, sep=self.sep)


class JSONLResponse(StreamResponse):
    """Stream JSON Lines (``application/jsonl``; pass
    ``media_type="application/x-ndjson"`` for the older name).

    Each item becomes one compact JSON line (see :func:`~streamkit.encode_jsonl`).
    A failure after the first line sends ``{"type": "error", "code", "message"}``
    as a last line, then aborts; ``trailer=True`` ends a complete stream with
    ``{"type": "end", "count": N}``.
    """

    media_type = "application/jsonl"
    heartbeat_frame = JSON_HEARTBEAT

    def __init__(
        self,
        content: Content,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        trailer: bool | Callable[[int], Any] = False,
        decimal: DecimalMode = "str",
        default: Callable[[Any], Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(content, status_code, headers, media_type, background, **options)
        self.trailer = trailer
        self.decimal: DecimalMode = decimal
        self.default = default

    def open_chunks(self) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        return jsonl_chunks(
            self.content,
            default=self.default,
            decimal=self.decimal,
            trailer=self.trailer,
            chunk_size=self.chunk_size,
            heartbeat=self.heartbeat,
            first_item=self.first_item,
            idle=self.idle,
            total=self.total,
        )

    def render_error(self, info: ErrorInfo) -> bytes:
        return jsonl_encoder()({"type": "error", **info.to_dict()})


class CSVResponse(StreamResponse):
    """Stream rows as CSV (``text/csv; charset=utf-8; header=present``).

    Rows and options as for :func:`~streamkit.csv_chunks`; ``filename=``
    adds ``Content-Disposition: attachment``. CSV has no way to say "error"
    in-band, so a failure after the first row aborts the transfer.
    """

    media_type = "text/csv"

    def __init__(
        self,
        content: Content,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        encoder: CSVEncoder | None = None,
        fieldnames: list[str] | None = None,
        bom: bool = False,
        formula_guard: bool = True,
        filename: str | None = None,
        **options: Any,
    ) -> None:
        self.encoder = encoder or CSVEncoder(fieldnames, bom=bom, formula_guard=formula_guard)
        all_headers = dict(headers or {})
        if filename is not None:
            all_headers.setdefault("content-disposition", _attachment(filename))
        super().__init__(
            content,
            status_code,
            all_headers,
            media_type or self.encoder.media_type,
            background,
            **options,
        )

    def open_chunks(self) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        return csv_chunks(
            self.content,
            encoder=self.encoder,
            chunk_size=self.chunk_size,
            first_item=self.first_item,
            idle=self.idle,
            total=self.total,
        )


class TextStreamResponse(StreamResponse):
    """Stream text (``text/plain; charset=utf-8``): ``str`` or ``bytes`` items,
    sent as they come (a token-by-token answer, a log tail)."""

    media_type = "text/plain"


def _attachment(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 name
    (RFC 6266 and RFC 8187), quotes and control characters neutralised."""
    from urllib.parse import quote

    fallback = (
        "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename) or "download"
    )
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
