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
* **HEAD**: headers only; the source is closed without being iterated;
* **shutdown**: a stream the server cancels at the end of its graceful
  shutdown (uvicorn's ``--timeout-graceful-shutdown``), or one closed by
  :func:`close_open_streams`, sends a closing frame where its format has one
  and ends, so the server can exit.

Importing this module imports starlette; ``import streamkit`` does not.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import mimetypes
import os
import secrets
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any, ClassVar, Final, Literal, TypeAlias

import anyio
import anyio.lowlevel
from starlette.background import BackgroundTask
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from streamkit._formats.csvenc import CSVEncoder
from streamkit._formats.errorinfo import ErrorInfo, describe_error, sse_error_frame
from streamkit._formats.httpfile import content_disposition as _content_disposition
from streamkit._formats.httpfile import (
    evaluate,
    http_date,
    multipart_layout,
    strong_etag,
)
from streamkit._formats.jsonenc import DecimalMode
from streamkit._formats.jsonl import jsonl_encoder
from streamkit._formats.sse import ServerSentEvent, encode_sse
from streamkit._streams.chunkers import encoded_chunks, sse_chunks
from streamkit._streams.exports import JSON_HEARTBEAT, ChunkOptions, csv_chunks, jsonl_chunks
from streamkit._streams.files import (
    DEFAULT_FILE_CHUNK_SIZE,
    FileNotServable,
    OpenFile,
    open_regular_file,
    range_chunks,
    safe_join,
)
from streamkit._streams.pump import DEFAULT_CHUNK_SIZE
from streamkit._streams.sources import close_unstarted
from streamkit._streams.tasks import ChildTask
from streamkit.llm._events import Error, LLMEvent
from streamkit.llm._outputs import (
    openai_error_frame,
    to_openai_chat_sse,
    to_vercel_ui,
    vercel_error_frame,
)

__all__ = [
    "CSVResponse",
    "FileStreamResponse",
    "JSONLResponse",
    "OpenAIChatResponse",
    "SSEResponse",
    "StreamResponse",
    "TextStreamResponse",
    "VercelUIResponse",
    "close_open_streams",
    "last_event_id",
]

logger = logging.getLogger("streamkit")

#: The default SSE heartbeat: proxies cut idle connections after 30-60 s
#: (AWS API Gateway 29 s, nginx and Cloud Run 60 s); 15 s stays well inside
#: all of them and is what the SSE authoring notes suggest.
DEFAULT_SSE_HEARTBEAT: Final = 15.0

#: What an SSE stream says when the server closes it: the browser fires a
#: "shutdown" event (an EventSource reconnects by itself afterwards).
_SHUTDOWN_EVENT: Final = ServerSentEvent("", event="shutdown")

Content = Iterable[Any] | AsyncIterable[Any]
DisconnectCallback = Callable[[], Awaitable[None] | None]


class _OpenStream:
    """A response being streamed, and how to stop it from any thread."""

    __slots__ = ("call_soon", "response", "scope")

    def __init__(
        self,
        response: StreamResponse,
        scope: anyio.CancelScope,
        call_soon: Callable[[Callable[[], object]], object],
    ) -> None:
        self.response = response
        self.scope = scope
        self.call_soon = call_soon


_open_streams: set[_OpenStream] = set()
_open_lock = threading.Lock()


def close_open_streams() -> int:
    """Close every stream this process is serving, as for a server shutdown.

    Each stream that has started sends its format's closing frame (SSE: the
    ``closing_event``, an ``event: shutdown`` by default; JSON Lines: a
    ``{"type": "shutdown"}`` record) and ends cleanly; formats without one
    (CSV, text) are cut off, so a client cannot take a partial export for a
    whole one. Call it from your lifespan or a signal handler, from any
    thread: servers wait for open responses before they shut down, and
    endless streams would otherwise keep them waiting.

    Returns:
        How many streams were asked to close.
    """
    with _open_lock:
        streams = list(_open_streams)
    for stream in streams:
        stream.response._shutting_down = True
        with contextlib.suppress(Exception):  # its event loop has already ended
            stream.call_soon(stream.scope.cancel)
    return len(streams)


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
            client hangs up before the stream ends, once the source is closed.
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
        self.heartbeat = heartbeat
        #: What every format's chunker takes, passed on as they are.
        self.chunk_options: ChunkOptions = {
            "chunk_size": chunk_size,
            "first_item": first_item,
            "idle": idle,
            "total": total,
        }
        self.send_timeout = send_timeout
        self.on_disconnect = on_disconnect
        self.expose_errors = expose_errors
        self._started = False  # http.response.start was sent
        self._client_gone = False  # the client hung up
        self._shutting_down = False  # the server is closing the stream
        self._closing_sent = False

    # -- the format -----------------------------------------------------------

    def open_chunks(self) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """The chunker for this response's content (raw bytes by default)."""
        return encoded_chunks(self.content, _as_bytes, **self.chunk_options)

    def render_error(self, info: ErrorInfo) -> bytes:
        """The in-band error frame for a failure after the first byte (none by
        default: the aborted transfer is the only signal a raw stream has)."""
        return b""

    def closing_frame(self) -> bytes | None:
        """The last frame when the server closes the stream (shutdown), after
        which the stream ends cleanly; None (the default) cuts the transfer
        off instead, for formats that cannot say "closed, not finished"."""
        return None

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
        native: Any = anyio.lowlevel.current_token().native_token
        call_soon = getattr(native, "call_soon_threadsafe", None) or native.run_sync_soon
        stop = anyio.CancelScope()  # cancelled by a disconnect or a shutdown
        entry = _OpenStream(self, stop, call_soon)
        async with ChildTask(partial(self._listen_for_disconnect, receive, stop), plain=True):
            with stop:
                with _open_lock:
                    _open_streams.add(entry)
                try:
                    await self._stream(send)
                except anyio.get_cancelled_exc_class():
                    # Not the client leaving: the server is shutting down, by
                    # close_open_streams() or by cancelling the task when its
                    # graceful-shutdown time is up (uvicorn's
                    # --timeout-graceful-shutdown). Say goodbye if the format can.
                    if self._started and not self._client_gone:
                        await self._close_for_shutdown(send)
                    raise
                except Exception as exc:
                    error = exc
                finally:
                    with _open_lock:
                        _open_streams.discard(entry)
        if self._client_gone and self.on_disconnect is not None:
            result = self.on_disconnect()
            if inspect.isawaitable(result):
                await result
        if error is not None:
            raise error
        if self._shutting_down and self.closing_frame() is None and self._started:
            raise _ClosedForShutdown("the server closed the stream before it ended")
        # As Starlette does, the background task runs after a disconnect too.
        if self.background is not None:
            await self.background()

    async def _close_for_shutdown(self, send: Send) -> None:
        if self._closing_sent:
            return
        self._closing_sent = True
        self._shutting_down = True
        frame = self.closing_frame()
        if frame is None:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

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
            self._started = True
            try:
                if first:
                    await self._send(
                        send, {"type": "http.response.body", "body": first, "more_body": True}
                    )
                async for chunk in chunks:
                    await self._send(
                        send, {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
            except anyio.get_cancelled_exc_class():
                # Handled here, inside the chunker's block, so that the frame
                # goes out in the very step the cancellation arrives: a server
                # that cancels at the end of its graceful shutdown may end the
                # process a few loop iterations later (uvicorn's CLI does).
                if not self._client_gone:
                    await self._close_for_shutdown(send)
                raise
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
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
            self._client_gone = True
        except Exception:
            logger.exception("streamkit: receiving from the server failed; the stream is stopped")
        scope.cancel()


class _ClientTooSlow(Exception):
    pass


class _ClosedForShutdown(Exception):
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
        closing_event: ServerSentEvent | None = _SHUTDOWN_EVENT,
        **options: Any,
    ) -> None:
        super().__init__(
            content, status_code, headers, media_type, background, heartbeat=heartbeat, **options
        )
        self.sep = sep
        self.closing_event = closing_event

    def open_chunks(self) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        return sse_chunks(
            self.content, sep=self.sep, heartbeat=self.heartbeat, **self.chunk_options
        )

    def render_error(self, info: ErrorInfo) -> bytes:
        return sse_error_frame(info, sep=self.sep)

    def closing_frame(self) -> bytes | None:
        if self.closing_event is None:
            return None
        return encode_sse(self.closing_event, sep=self.sep)


class JSONLResponse(StreamResponse):
    """Stream JSON Lines (``application/jsonl``; pass
    ``media_type="application/x-ndjson"`` for the older name).

    Each item becomes one compact JSON line (see :func:`~streamkit.encode_jsonl`).
    A failure after the first line sends ``{"type": "error", "code", "message"}``
    (with ``expose_errors=True``, also ``"exception"``: the exception's class)
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
            heartbeat=self.heartbeat,
            **self.chunk_options,
        )

    def render_error(self, info: ErrorInfo) -> bytes:
        fields = info.to_dict()
        record: dict[str, str] = {"type": "error", **fields}
        exception = fields.get("type")
        if exception is not None:  # exposed: the record's own "type" stays "error"
            record["type"] = "error"
            record["exception"] = exception
        return jsonl_encoder()(record)

    def closing_frame(self) -> bytes | None:
        return jsonl_encoder()({"type": "shutdown"})


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
        return csv_chunks(self.content, encoder=self.encoder, **self.chunk_options)


class TextStreamResponse(StreamResponse):
    """Stream text (``text/plain; charset=utf-8``): ``str`` or ``bytes`` items,
    sent as they come (a token-by-token answer, a log tail)."""

    media_type = "text/plain"


def _attachment(filename: str) -> str:
    return _content_disposition(filename, "attachment")


class _SizeMismatch(OSError):
    pass


async def _exactly(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """Pass ``chunks`` on, failing (so the transfer is aborted) as soon as
    they add up to more or less than the announced ``size``."""
    sent = 0
    last: bytes | None = None
    async for chunk in chunks:
        if not chunk:
            continue
        sent += len(chunk)
        if sent > size:
            raise _SizeMismatch(f"the source gave more than the announced {size} bytes")
        if sent == size:
            # Held until the source ends: were more to come, the client would
            # already have a whole body of the announced length.
            last = chunk
            continue
        yield chunk
    if sent != size:
        raise _SizeMismatch(f"the source ended after {sent} of the announced {size} bytes")
    if last is not None:
        yield last


@contextlib.asynccontextmanager
async def _sized(
    inner: AbstractAsyncContextManager[AsyncIterator[bytes]], size: int
) -> AsyncIterator[AsyncIterator[bytes]]:
    async with inner as chunks:
        checked = _exactly(chunks, size)
        try:
            yield checked
        finally:
            await checked.aclose()  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def _closing(chunks: AsyncGenerator[bytes, None]) -> AsyncIterator[AsyncIterator[bytes]]:
    try:
        yield chunks
    finally:
        await chunks.aclose()


def _is_path(value: object) -> bool:
    return isinstance(value, (str, os.PathLike))


class FileStreamResponse(StreamResponse):
    """Serve a file as a download, the way browsers, ``curl -C -``, download
    managers and video players expect; or stream any byte source as one.

    Given a path, the file is opened once (a missing, unreadable or
    non-regular file is a 404, raised as an ``HTTPException`` before anything
    is sent) and the response has ``Content-Length``, ``Accept-Ranges:
    bytes``, an ``ETag`` and ``Last-Modified`` from the opened file, and a
    media type guessed from the name. It answers:

    * ``Range`` (GET): one range → 206 with ``Content-Range``; several →
      ``multipart/byteranges`` (sorted, overlapping and adjacent ranges
      merged, at most 100); none satisfiable → 416 with ``Content-Range:
      bytes */size``; a malformed header is ignored (200, whole file);
      ``If-Range`` with an ETag (strong match) or a date (exact match);
    * ``If-None-Match`` / ``If-Modified-Since`` → 304, ``If-Match`` /
      ``If-Unmodified-Since`` → 412, in the order of RFC 9110;
    * HEAD: the same headers, no body.

    The file is read on worker threads, 256 KiB per chunk and up to 1 MiB per
    thread hop, in constant memory. When the server offers the ASGI
    ``http.response.pathsend`` extension (granian) and the whole file is
    sent, the path is handed to the server instead. A file that gets shorter
    while it is sent aborts the transfer rather than ending it short.

    Args:
        path_or_source: a path, or a sync or async iterable of ``bytes``
            (a generated backup, a ZIP from :func:`~streamkit.zip_chunks`).
        filename: the name in ``Content-Disposition`` (default: the file's
            name; for a source, no header unless given).
        content_disposition: ``"attachment"`` (save) or ``"inline"`` (show
            in the browser), or None for no header.
        chunk_size: the most bytes per chunk.
        root: serve ``path_or_source`` (then a user-chosen relative path) only
            if it stays under this directory (see :func:`~streamkit.safe_join`);
            anything else is a 404.
        size: for a source, its length if known: sent as ``Content-Length``,
            and a source that gives more or fewer bytes aborts the transfer.
        options: as for :class:`StreamResponse` (``send_timeout``, ...).
    """

    default_headers: ClassVar[Mapping[str, str]] = {}
    media_type = "application/octet-stream"

    def __init__(
        self,
        path_or_source: str | os.PathLike[str] | Content,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        filename: str | None = None,
        content_disposition: Literal["attachment", "inline"] | None = "attachment",
        chunk_size: int = DEFAULT_FILE_CHUNK_SIZE,
        root: str | os.PathLike[str] | None = None,
        size: int | None = None,
        **options: Any,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        is_path = _is_path(path_or_source)
        if root is not None and not isinstance(path_or_source, str):
            raise TypeError("with root=, the file is given as a str path relative to it")
        if size is not None and (is_path or size < 0):
            raise ValueError("size= is for a byte source of known length (>= 0)")
        name = filename
        if name is None and is_path:
            name = os.path.basename(os.fspath(path_or_source))  # type: ignore[arg-type]
        if media_type is None and name:
            media_type = mimetypes.guess_type(name)[0]
        all_headers = dict(headers or {})
        if name and content_disposition is not None:
            all_headers.setdefault(
                "content-disposition", _content_disposition(name, content_disposition)
            )
        super().__init__(
            None if is_path else path_or_source,  # type: ignore[arg-type]
            status_code,
            all_headers,
            media_type,
            background,
            chunk_size=chunk_size,
            **options,
        )
        self.path: str | os.PathLike[str] | None = path_or_source if is_path else None  # type: ignore[assignment]
        self.root = root
        self.size = size
        self.file_chunk_size = chunk_size
        if size is not None:
            self.headers["content-length"] = str(size)

    def open_chunks(self) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        if self.path is not None:
            assert isinstance(self.content, AsyncGenerator)
            return _closing(self.content)
        chunks = super().open_chunks()
        return chunks if self.size is None else _sized(chunks, self.size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.path is None:
            await super().__call__(scope, receive, send)
            return
        opened = await self._open()
        try:
            if await self._prepare(opened, scope, send):
                await super().__call__(scope, receive, send)
        finally:
            opened.close()

    async def _open(self) -> OpenFile:
        assert self.path is not None
        path: str | os.PathLike[str] | None = self.path
        if self.root is not None:
            assert isinstance(self.path, str)
            path = await anyio.to_thread.run_sync(safe_join, self.root, self.path)
        if path is None:
            raise HTTPException(404)
        try:
            return await anyio.to_thread.run_sync(open_regular_file, path)
        except FileNotServable as exc:
            raise HTTPException(404) from exc

    async def _prepare(self, opened: OpenFile, scope: Scope, send: Send) -> bool:
        """Decide what to send. Answers 304, 412, 416 and pathsend itself
        (False); otherwise sets the status, headers and body and returns
        True for the streaming lifecycle to send them."""
        size = opened.size
        etag = strong_etag(size, opened.stat.st_mtime_ns)
        headers = self.headers
        headers["accept-ranges"] = "bytes"
        headers.setdefault("etag", etag)
        headers.setdefault("last-modified", http_date(opened.stat.st_mtime))
        method = scope.get("method", "GET")
        decision = evaluate(
            method,
            Headers(scope=scope),
            size=size,
            etag=headers["etag"],
            last_modified=opened.stat.st_mtime,
        )
        if decision.status in (304, 412, 416):
            await self._send_empty(decision.status, size, send)
            return False
        ranges: list[tuple[int, int]] = [(0, size)]
        heads: list[bytes] = []
        tail = b""
        if decision.status == 206:
            self.status_code = 206
            ranges = list(decision.ranges)
            if len(ranges) == 1:
                (start, stop), length = ranges[0], ranges[0][1] - ranges[0][0]
                headers["content-range"] = f"bytes {start}-{stop - 1}/{size}"
            else:
                boundary = secrets.token_hex(16)
                part_type = headers.get("content-type", self.media_type)
                heads, tail, length = multipart_layout(ranges, size, part_type, boundary)
                headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
        else:
            length = size
            if method == "GET" and "http.response.pathsend" in scope.get("extensions", {}):
                headers["content-length"] = str(size)
                await send(self._start_message())
                await send({"type": "http.response.pathsend", "path": str(opened.path.resolve())})
                if self.background is not None:
                    await self.background()
                return False
        headers["content-length"] = str(length)
        self.content = range_chunks(
            opened, ranges, chunk_size=self.file_chunk_size, heads=heads, tail=tail
        )
        return True

    async def _send_empty(self, status: int, size: int, send: Send) -> None:
        headers = self.headers
        if status == 304:
            # What a cache needs to update its copy (RFC 9110 15.4.5).
            keep = ("etag", "last-modified", "cache-control", "content-location", "expires", "vary")
            raw = [(k, v) for k, v in self.raw_headers if k.decode("latin-1") in keep]
        else:
            for name in ("content-type", "content-disposition", "content-range"):
                if name in headers:
                    del headers[name]
            if status == 416:
                headers["content-range"] = f"bytes */{size}"
            headers["content-length"] = "0"
            raw = self.raw_headers
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        if self.background is not None:
            await self.background()


# -- LLM protocols -------------------------------------------------------------
#
# Responses for the two LLM wire protocols that clients read with their own
# SDKs: an OpenAI-compatible Chat Completions stream and the AI SDK's UI
# message stream. What they change from SSEResponse is what the client is
# told when things go wrong, in the words its SDK understands: a failure after
# the first byte (an exception, not an Error event, which the output encodes
# itself) sends the protocol's error frame before the transfer is aborted,
# and a server shutdown sends a frame the SDK turns into an error, rather than
# the ``event: shutdown`` with empty data of a plain SSE stream, which
# openai-python would try to parse as JSON.


Events: TypeAlias = Iterable[LLMEvent] | AsyncIterable[LLMEvent]

#: What a client is told when the server closes a stream to shut down.
SHUTDOWN_TEXT: Final = "The server is shutting down."


class _LLMResponse(SSEResponse):
    """Closes the event stream itself on HEAD: the output generator wrapped
    around it was never started, so closing that alone would leave an
    upstream (an SDK stream holding an HTTP response) open."""

    events: Events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD":
            await close_unstarted(self.events)
        await super().__call__(scope, receive, send)


class OpenAIChatResponse(_LLMResponse):
    """Serve uniform events as an OpenAI-compatible Chat Completions stream
    (see :func:`~streamkit.llm.to_openai_chat_sse`), for an endpoint that
    ``openai.OpenAI(base_url=...)`` and every other OpenAI client can call.

    Args:
        events: a sync or async iterable of uniform events.
        model: the ``model`` of every chunk when the stream does not name one.
        include_usage: send the usage chunk; pass what the request asked for,
            ``body.get("stream_options", {}).get("include_usage", False)``.
        reasoning_field: the delta field for reasoning text, or None to drop it.
        expose_errors: send the provider's error messages (and exceptions'
            texts) instead of a generic text.
        options: as for :class:`~streamkit.starlette.SSEResponse`
            (``heartbeat``, ``send_timeout``, ...).

    A failure after the first byte sends ``data: {"error": {...}}``, on which
    openai-python raises ``openai.APIError``, and a shutdown sends the same
    frame saying so. Heartbeats are comment lines, which OpenAI clients skip.

    Example::

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> OpenAIChatResponse:
            body = await request.json()
            stream = await upstream.chat.completions.create(**body)
            return OpenAIChatResponse(
                from_openai_chat(stream),
                model=body["model"],
                include_usage=body.get("stream_options", {}).get("include_usage", False),
            )
    """

    def __init__(
        self,
        events: Events,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        model: str = "streamkit",
        include_usage: bool = False,
        reasoning_field: str | None = "reasoning_content",
        expose_errors: bool = False,
        **options: Any,
    ) -> None:
        self.events = events
        output = to_openai_chat_sse(
            events,
            model=model,
            include_usage=include_usage,
            reasoning_field=reasoning_field,
            expose_errors=expose_errors,
        )
        super().__init__(
            output,
            status_code,
            headers,
            media_type,
            background,
            expose_errors=expose_errors,
            **options,
        )

    def render_error(self, info: ErrorInfo) -> bytes:
        return openai_error_frame(info.message, code=info.code)

    def closing_frame(self) -> bytes | None:
        # Not SSEResponse's "event: shutdown" with empty data: openai-python
        # parses every event's data as JSON and would fail on it with a
        # JSONDecodeError; an error frame becomes an APIError saying why.
        return openai_error_frame(SHUTDOWN_TEXT, code="server_shutting_down")


class VercelUIResponse(_LLMResponse):
    """Serve uniform events in the AI SDK's UI message stream protocol v1
    (see :func:`~streamkit.llm.to_vercel_ui`), for ``useChat`` and the AI
    SDK's ``DefaultChatTransport``.

    Args:
        events: a sync or async iterable of uniform events.
        message_id: the assistant message's id (the client makes one if None).
        expose_errors: send the provider's error messages (and exceptions'
            texts) instead of the AI SDK's generic "An error occurred.".
        error_text: ``error_text(error) -> str``, the text of an ``Error``
            event's error part (overrides ``expose_errors`` for it).
        finish_reason: send ``finishReason`` in the ``finish`` part (False
            for clients on ai 5.0.0 to 5.0.91, whose strict schema rejects it).
        options: as for :class:`~streamkit.starlette.SSEResponse`.

    Adds the ``x-vercel-ai-ui-message-stream: v1`` header the AI SDK expects
    from custom backends (not its ``connection: keep-alive``, which HTTP/2
    forbids). A failure after the first byte sends an ``error`` part; a
    shutdown sends an ``error`` part saying the server is shutting down, then
    ``[DONE]``, so ``useChat`` ends in its error state (and the user can
    retry) rather than showing a cut-off answer as complete, which is what an
    ``abort`` part would do: ``useChat`` ignores it and reports "ready".

    Example::

        @app.post("/api/chat")
        async def chat(request: Request) -> VercelUIResponse:
            ui_messages = (await request.json())["messages"]
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=as_chat_messages(ui_messages), stream=True
            )  # as_chat_messages: your conversion of the UI messages
            return VercelUIResponse(from_openai_chat(stream))
    """

    default_headers: ClassVar[Mapping[str, str]] = {
        **StreamResponse.default_headers,
        "x-vercel-ai-ui-message-stream": "v1",
    }

    def __init__(
        self,
        events: Events,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        message_id: str | None = None,
        expose_errors: bool = False,
        error_text: Callable[[Error], str] | None = None,
        finish_reason: bool = True,
        **options: Any,
    ) -> None:
        self.events = events
        output = to_vercel_ui(
            events,
            message_id=message_id,
            expose_errors=expose_errors,
            error_text=error_text,
            finish_reason=finish_reason,
        )
        super().__init__(
            output,
            status_code,
            headers,
            media_type,
            background,
            expose_errors=expose_errors,
            **options,
        )

    def render_error(self, info: ErrorInfo) -> bytes:
        # The transfer is aborted right after it; useChat stops at the part.
        return vercel_error_frame(info.message)

    def closing_frame(self) -> bytes | None:
        # As the AI SDK's createUIMessageStream ends when its execute throws:
        # an error part, then [DONE]. useChat settles in status "error".
        return vercel_error_frame(SHUTDOWN_TEXT) + b"data: [DONE]\n\n"
