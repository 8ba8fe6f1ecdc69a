"""Consuming streamkit's streams (and anyone's) with httpx.

``import streamkit.client`` needs httpx (``pip install "streamkit[client]"``);
``import streamkit`` does not import this module.

* :func:`aiter_sse` / :func:`iter_sse` decode an open ``text/event-stream``
  response with :class:`~streamkit.SSEDecoder` (spec-exact: no phantom
  events from keep-alive comments, sticky ids, BOM and CR handled).
* :func:`aconnect_sse` / :func:`connect_sse` follow an event stream the way a
  browser's ``EventSource`` does: when the connection drops they reconnect
  after the retry delay, sending ``Last-Event-ID``, and they stop on a 204.
* :func:`aiter_jsonl` / :func:`iter_jsonl` decode JSON Lines, optionally
  checking streamkit's ``{"type": "end", "count": N}`` trailer and turning its
  in-band error records into exceptions.

The exceptions, beside httpx's own (``httpx.HTTPStatusError`` for an error
status, ``httpx.TransportError`` for a broken connection)::

    StreamkitError
     ├── SSEClientError                        the response is not an event stream
     │    └── SSEReconnectError (+ ConnectionError)  gave up reconnecting
     ├── RemoteStreamError                     the server reported a failure in-band
     ├── TrailerError          (+ ValueError)  JSON Lines trailer missing or wrong
     └── DecodeError           (+ ValueError)  bytes that are not a valid stream
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Any, Final, TypeAlias

import anyio

from streamkit._errors import DecodeError, StreamkitError
from streamkit._formats.jsonl import JSONLDecoder
from streamkit._formats.sse import ServerSentEvent
from streamkit._formats.sse_decoder import SSEDecoder

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('streamkit.client needs httpx: pip install "streamkit[client]"') from exc

__all__ = [
    "DEFAULT_MAX_DELAY",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_DELAY",
    "AsyncEventSource",
    "DecodeError",
    "EventSource",
    "RemoteStreamError",
    "SSEClientError",
    "SSEReconnectError",
    "TrailerError",
    "aconnect_sse",
    "aiter_jsonl",
    "aiter_sse",
    "connect_sse",
    "iter_jsonl",
    "iter_sse",
]

logger = logging.getLogger("streamkit")

#: Seconds before reconnecting until the server sends ``retry:``: the 3 s
#: Chromium and WebKit use (the spec leaves it to the user agent).
DEFAULT_RETRY_DELAY: Final = 3.0
#: Consecutive failed attempts, after the first, before giving up. With the
#: default delays (3, 6, 12, 24, 48, then 60 s) that is about 4.5 minutes of
#: failures: longer than a rolling deploy, short enough that a dead server is
#: reported.
DEFAULT_MAX_RETRIES: Final = 8
#: The longest wait between attempts, whatever the backoff or the server's
#: ``retry:`` says (a broken or hostile server cannot park a client for hours).
DEFAULT_MAX_DELAY: Final = 60.0
#: Error bodies at most this large are read before ``HTTPStatusError`` is
#: raised, so ``exc.response.text`` works; larger ones are left unread.
_ERROR_BODY_LIMIT: Final = 64 * 1024
#: Seconds the async close of a connection may take when the iteration is
#: cancelled (it is shielded from the cancellation, so it needs a bound).
_CLOSE_TIMEOUT: Final = 5.0

#: The failures a reconnection can cure: the network, a timeout, a server
#: that broke the connection (an aborted transfer is a RemoteProtocolError).
#: Not httpx's LocalProtocolError, UnsupportedProtocol or InvalidURL: retrying
#: an invalid request cannot help.
_RETRYABLE: Final = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)

Headers: TypeAlias = httpx.Headers | Mapping[str, str] | Sequence[tuple[str, str]]
Sleep: TypeAlias = Callable[[float], object]
AsyncSleep: TypeAlias = Callable[[float], Awaitable[object]]


class SSEClientError(StreamkitError):
    """The response is not an event stream: its ``Content-Type`` is not
    ``text/event-stream`` (a browser's ``EventSource`` fails the connection
    and does not reconnect; neither does :func:`connect_sse`).

    Attributes:
        response: the response, when there is one.
    """

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class SSEReconnectError(SSEClientError, ConnectionError):
    """:func:`connect_sse` gave up: ``max_retries`` consecutive attempts after
    the first failed (an error, or a connection closed before any event).
    ``__cause__`` is the last attempt's error, if it had one.

    Attributes:
        attempts: the consecutive failed attempts.
        last_event_id: where a new connection should resume.
    """

    def __init__(self, message: str, *, attempts: int, last_event_id: str) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_event_id = last_event_id


class RemoteStreamError(StreamkitError):
    """The server said in-band that the stream failed: streamkit's JSON Lines
    ``{"type": "error", "code", "message"}`` record, or its
    ``{"type": "shutdown"}`` record (code ``"server_shutting_down"``: the
    server stopped before the stream ended; try again later).

    Attributes:
        code: the record's machine-readable code (``"internal_error"``,
            ``"timeout"``, ``"server_shutting_down"``, ...).
        record: the record as received.
    """

    def __init__(self, message: str, *, code: str, record: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.record = record


class TrailerError(StreamkitError, ValueError):
    """A JSON Lines stream ended without streamkit's ``{"type": "end",
    "count": N}`` trailer, or with a count that is not the number of records
    received: the stream is incomplete (or has extra records).

    Attributes:
        received: how many records came before the end.
        expected: the trailer's count, or None when there was no trailer.
    """

    def __init__(self, message: str, *, received: int, expected: int | None) -> None:
        super().__init__(message)
        self.received = received
        self.expected = expected


# -- decoding an open response -------------------------------------------------


def _check_event_stream(response: httpx.Response) -> None:
    # As httpx2 and browsers: case-insensitive, parameters (charset) allowed.
    content_type = response.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "text/event-stream":
        raise SSEClientError(
            f"expected Content-Type text/event-stream, got {content_type or 'none'!r} "
            f"(HTTP {response.status_code} from {response.request.method} {response.request.url})",
            response=response,
        )


async def aiter_sse(
    response: httpx.Response, *, decoder: SSEDecoder | None = None
) -> AsyncIterator[ServerSentEvent]:
    """Decode the events of an open, streaming ``text/event-stream`` response.

    Comments and keep-alives are not events; ``retry`` and id-only blocks
    update ``decoder.retry`` / ``decoder.last_event_id`` without an event. No
    reconnection: see :func:`aconnect_sse` for that.

    Args:
        response: a response from ``client.stream(...)`` (or ``send(...,
            stream=True)``); the caller closes it.
        decoder: a configured :class:`~streamkit.SSEDecoder` (limits,
            ``errors="replace"``, a starting ``last_event_id``).

    Raises:
        SSEClientError: the content type is not ``text/event-stream``.
        DecodeError: invalid UTF-8 (with a strict decoder) or an event over
            the decoder's size limit.

    Example::

        async with client.stream("GET", "/events") as response:
            response.raise_for_status()
            async for event in aiter_sse(response):
                print(event.event, event.data)
    """
    _check_event_stream(response)
    decoder = SSEDecoder() if decoder is None else decoder
    async for chunk in response.aiter_bytes():
        for event in decoder.feed(chunk):
            yield event


def iter_sse(
    response: httpx.Response, *, decoder: SSEDecoder | None = None
) -> Iterator[ServerSentEvent]:
    """The synchronous :func:`aiter_sse`, for ``httpx.Client`` responses.

    Example::

        with client.stream("GET", "/events") as response:
            for event in iter_sse(response):
                print(event.data)
    """
    _check_event_stream(response)
    decoder = SSEDecoder() if decoder is None else decoder
    for chunk in response.iter_bytes():
        yield from decoder.feed(chunk)


class _Protocol:
    """Recognises streamkit's JSON Lines control records (sans-I/O)."""

    __slots__ = ("controls", "count", "held", "trailer")

    def __init__(self, *, trailer: bool, control_records: bool | None) -> None:
        self.trailer = trailer
        self.controls = trailer if control_records is None else control_records
        self.count = 0
        self.held: list[Any] = []  # a record shaped like the trailer, until it is known to be last

    def values(self, decoded: list[Any]) -> list[Any]:
        """The records to yield from ``decoded``; raises for an error record."""
        if not self.trailer and not self.controls:
            return decoded
        out: list[Any] = []
        for value in decoded:
            if self.controls and isinstance(value, dict):
                kind = value.get("type")
                if kind == "error" and isinstance(value.get("code"), str):
                    message = value.get("message")
                    raise RemoteStreamError(
                        message if isinstance(message, str) else value["code"],
                        code=value["code"],
                        record=value,
                    )
                if kind == "shutdown" and len(value) == 1:
                    raise RemoteStreamError(
                        "the server closed the stream before it ended (it is shutting down)",
                        code="server_shutting_down",
                        record=value,
                    )
            out.extend(self.held)  # what was held was not the last record: data
            self.held.clear()
            if self.trailer and _is_trailer(value):
                self.held.append(value)
            else:
                out.append(value)
        self.count += len(out)
        return out

    def end(self) -> None:
        if not self.trailer:
            return
        if not self.held:
            raise TrailerError(
                f"the JSON Lines stream ended after {self.count} records without its "
                f'{{"type": "end", "count": N}} trailer: it was cut short',
                received=self.count,
                expected=None,
            )
        expected: int = self.held[0]["count"]
        if expected != self.count:
            raise TrailerError(
                f"the JSON Lines trailer says {expected} records, {self.count} were received",
                received=self.count,
                expected=expected,
            )


def _is_trailer(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 2
        and value.get("type") == "end"
        and type(value.get("count")) is int
    )


async def aiter_jsonl(
    response: httpx.Response,
    *,
    trailer: bool = False,
    control_records: bool | None = None,
    decoder: JSONLDecoder | None = None,
) -> AsyncIterator[Any]:
    """Decode the JSON Lines of an open, streaming response, however it is chunked.

    Blank lines (JSON Lines heartbeats) are skipped. A last line without LF
    is decoded if it is valid JSON (the JSON Lines rules allow it); a cut-off
    one raises :class:`DecodeError`. Only ``trailer=True`` can tell every
    truncation (``12`` of ``123`` is valid JSON too).

    Args:
        response: a response from ``client.stream(...)``; the caller closes it.
        trailer: expect streamkit's ``{"type": "end", "count": N}`` as the
            last record (``JSONLResponse(trailer=True)``): it is not yielded,
            and a missing trailer or a wrong count raises :class:`TrailerError`.
        control_records: recognise streamkit's in-band
            ``{"type": "error", "code", "message"}`` and ``{"type":
            "shutdown"}`` records and raise :class:`RemoteStreamError` for
            them (default: when ``trailer`` is on; off, they are yielded like
            any record, which suits APIs whose own records have a ``type``).
        decoder: a configured :class:`~streamkit.JSONLDecoder` (line limit).

    Raises:
        DecodeError: a line that is not JSON, or over the line limit.
        TrailerError: see ``trailer``.
        RemoteStreamError: see ``control_records``.

    Example::

        async with client.stream("GET", "/export") as response:
            response.raise_for_status()
            async for row in aiter_jsonl(response, trailer=True):
                save(row)
    """
    decoder = JSONLDecoder() if decoder is None else decoder
    protocol = _Protocol(trailer=trailer, control_records=control_records)
    async for chunk in response.aiter_bytes():
        for value in protocol.values(decoder.feed(chunk)):
            yield value
    for value in protocol.values(decoder.close()):
        yield value
    protocol.end()


def iter_jsonl(
    response: httpx.Response,
    *,
    trailer: bool = False,
    control_records: bool | None = None,
    decoder: JSONLDecoder | None = None,
) -> Iterator[Any]:
    """The synchronous :func:`aiter_jsonl`, for ``httpx.Client`` responses.

    Example::

        with client.stream("GET", "/export") as response:
            rows = list(iter_jsonl(response, trailer=True))
    """
    decoder = JSONLDecoder() if decoder is None else decoder
    protocol = _Protocol(trailer=trailer, control_records=control_records)
    for chunk in response.iter_bytes():
        yield from protocol.values(decoder.feed(chunk))
    yield from protocol.values(decoder.close())
    protocol.end()


# -- following an event stream across reconnections ----------------------------


class _Reconnection:
    """The EventSource state shared by the sync and async clients (sans-I/O):
    the last event id, the retry delay, and when to give up."""

    def __init__(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        last_event_id: str | None,
        reconnect: bool,
        max_retries: int | None,
        retry_delay: float | None,
        max_delay: float,
        jitter: bool,
        headers: Headers | None,
        request_kwargs: dict[str, Any],
    ) -> None:
        if max_retries is not None and max_retries < 0:
            raise ValueError(f"max_retries must be >= 0 or None, got {max_retries}")
        if retry_delay is not None and retry_delay < 0:
            raise ValueError(f"retry_delay must be >= 0, got {retry_delay}")
        if max_delay < 0:
            raise ValueError(f"max_delay must be >= 0, got {max_delay}")
        self.method = method
        self.url = url
        self.headers = httpx.Headers(headers)
        if last_event_id is None:
            # A Last-Event-ID passed in headers= is where to start from.
            last_event_id = self.headers.get("last-event-id", "")
        self.last_event_id: str = last_event_id
        if "last-event-id" in self.headers:
            del self.headers["last-event-id"]
        self.reconnect = reconnect
        self.max_retries = max_retries
        self.max_delay = max_delay
        self.retry = min(DEFAULT_RETRY_DELAY if retry_delay is None else retry_delay, max_delay)
        self.jitter = jitter
        self.request_kwargs = request_kwargs
        self.failures = 0  # consecutive attempts that failed
        self.attempts = 0  # connection attempts made
        self.got_event = False  # the current connection yielded an event
        self.closed = False

    def request(self) -> dict[str, Any]:
        """The arguments of ``client.stream()`` for the next attempt."""
        self.attempts += 1
        self.got_event = False
        raw = list(self.headers.raw)
        # What browsers send (unless the caller chose otherwise).
        if "accept" not in self.headers:
            raw.append((b"accept", b"text/event-stream"))
        if "cache-control" not in self.headers:
            raw.append((b"cache-control", b"no-store"))
        if self.last_event_id:
            # UTF-8, as browsers send it (httpx would refuse non-ASCII str).
            raw.append((b"last-event-id", self.last_event_id.encode()))
        return {"method": self.method, "url": self.url, "headers": raw, **self.request_kwargs}

    def accept(self, response: httpx.Response) -> bool:
        """Whether to read ``response``: False for 204 (the spec's "stop
        reconnecting"); raise for an error status or another content type."""
        if response.status_code == 204:
            return False
        response.raise_for_status()
        _check_event_stream(response)
        return True

    def decoder(self) -> SSEDecoder:
        # The last event id carries over to events of the next connection.
        return SSEDecoder(last_event_id=self.last_event_id)

    def fed(self, decoder: SSEDecoder) -> None:
        if decoder.retry is not None:
            self.retry = min(decoder.retry / 1000, self.max_delay)

    def yielding(self, event: ServerSentEvent) -> None:
        self.last_event_id = event.id or ""
        self.failures = 0
        self.got_event = True

    def delay(self, error: BaseException | None) -> float:
        """The connection ended (``error`` None: the server closed it); the
        seconds to wait before the next attempt. Raises when giving up."""
        if not self.got_event:
            self.failures += 1
        if self.max_retries is not None and self.failures > self.max_retries:
            reason = f"last error: {error!r}" if error else "the server closed it with no event"
            raise SSEReconnectError(
                f"gave up on {self.method} {self.url} after {self.failures} consecutive failed "
                f"attempts (max_retries={self.max_retries}); {reason}",
                attempts=self.failures,
                last_event_id=self.last_event_id,
            ) from error
        # Exponential backoff after the first failure (the spec allows it),
        # never past max_delay.
        delay = min(self.retry * 2.0 ** max(self.failures - 1, 0), self.max_delay)
        if self.jitter:
            delay = random.uniform(delay / 2, delay)
        logger.info(
            "streamkit: %s %s ended (%s); reconnecting in %.3g s",
            self.method,
            self.url,
            repr(error) if error else "closed by the server",
            delay,
        )
        return delay


class _Source:
    """Read-only views of the reconnection state, for both clients."""

    _state: _Reconnection
    #: The response being read, or None between connections.
    response: httpx.Response | None

    @property
    def last_event_id(self) -> str:
        """The id sent as ``Last-Event-ID`` on the next connection ("" for
        none): the id of the last event yielded, or of a later id-only block.
        Sticky, as in browsers: an event without an id keeps it; ``id:``
        with an empty value resets it."""
        return self._state.last_event_id

    @property
    def retry(self) -> float:
        """The reconnection delay in seconds (the server's ``retry:`` is in
        milliseconds), before backoff and jitter."""
        return self._state.retry

    @property
    def attempts(self) -> int:
        """How many connections have been attempted so far."""
        return self._state.attempts

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` / :meth:`aclose` was called."""
        return self._state.closed


_DOC_ARGS = """
    Args:
        client: the httpx client; its base URL, auth, timeouts and headers apply.
        method, url: the request (any method: POST streams work too; the same
            request is sent again on each reconnection, so its body must be
            replayable, e.g. ``json=`` or ``content=bytes``).
        last_event_id: resume after this id (sent as ``Last-Event-ID``).
        reconnect: follow the stream across dropped connections, as a browser
            does; False reads one connection (a clean end stops the iteration,
            a network error propagates).
        max_retries: consecutive failed attempts (errors, or connections
            closed before any event) after which :class:`SSEReconnectError` is
            raised; None retries forever, as a browser does. A connection that
            yields an event resets the count.
        retry_delay: the reconnection delay in seconds until the server sends
            ``retry:`` (which replaces it, as in browsers); default 3 s.
            Consecutive failures double it (exponential backoff).
        max_delay: the longest wait between attempts.
        jitter: wait a random time between half the delay and the delay, so
            that many clients do not reconnect at the same instant.
        headers: request headers (``Accept: text/event-stream`` and
            ``Cache-Control: no-store`` are added).
        sleep: the function that waits between attempts (for tests).
        request_kwargs: passed to ``client.stream()`` (``params``, ``json``,
            ``timeout``, ``auth``, ...).

    Reconnection happens when the connection fails (``httpx.TransportError``
    other than an invalid request: refused, reset, timed out, aborted
    mid-body) or the server ends the body. It does not happen, as in browsers,
    on HTTP 204 (the iteration ends), on another non-2xx status (raises
    ``httpx.HTTPStatusError``; bodies up to 64 KiB are read first) or on a
    content type other than ``text/event-stream`` (raises
    :class:`SSEClientError`). The httpx read timeout is the idle limit: set it
    above the server's heartbeat interval (streamkit's default: 15 s).

    Events pass through whatever their type: streamkit servers send
    ``event: shutdown`` (empty data) when they stop, after which the
    connection closes and this client reconnects after the retry delay; an
    app may also treat it as "come back later" and close.
"""


class EventSource(_Source):
    """An event stream followed across reconnections (``httpx.Client``);
    made by :func:`connect_sse`.

    Iterate it for :class:`~streamkit.ServerSentEvent` values; close it (or
    use it as a context manager) to close the connection. :meth:`close` may
    also be called from another thread: it ends a retry wait at once and
    closes the connection, but a read already waiting for data only returns
    when the next bytes arrive or the read timeout expires.
    """

    def __init__(
        self,
        client: httpx.Client,
        state: _Reconnection,
        sleep: Sleep | None = None,
    ) -> None:
        self._client = client
        self._state = state
        self._stop = threading.Event()
        self._sleep: Sleep = self._stop.wait if sleep is None else sleep
        self.response = None
        self._events = self._run()

    def _run(self) -> Generator[ServerSentEvent, None, None]:
        state = self._state
        while not state.closed:
            error: BaseException | None = None
            try:
                with self._client.stream(**state.request()) as response:
                    self.response = response
                    _read_error_body(response)
                    if not state.accept(response):
                        return
                    decoder = state.decoder()
                    for chunk in response.iter_bytes():
                        events = decoder.feed(chunk)
                        state.fed(decoder)
                        for event in events:
                            state.yielding(event)
                            yield event
                        state.last_event_id = decoder.last_event_id
            except (httpx.HTTPError, httpx.StreamError) as exc:
                if state.closed:  # the connection was closed from another thread
                    return
                if not state.reconnect or not isinstance(exc, _RETRYABLE):
                    raise
                error = exc
            finally:
                self.response = None
            if not state.reconnect:
                return
            self._sleep(state.delay(error))

    def __iter__(self) -> Iterator[ServerSentEvent]:
        return self

    def __next__(self) -> ServerSentEvent:
        return next(self._events)

    def close(self) -> None:
        """Stop: close the connection; a later ``next()`` raises StopIteration."""
        self._state.closed = True
        self._stop.set()
        response = self.response
        try:
            self._events.close()
        except ValueError:  # iterating on another thread: close its connection
            if response is not None:
                response.close()

    def __enter__(self) -> EventSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncEventSource(_Source):
    """An event stream followed across reconnections (``httpx.AsyncClient``);
    made by :func:`aconnect_sse`.

    Iterate it with ``async for``; close it with :meth:`aclose` (or use it
    as an async context manager). Cancelling the task that iterates closes
    the connection, so the server sees the client leave.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        state: _Reconnection,
        sleep: AsyncSleep | None = None,
    ) -> None:
        self._client = client
        self._state = state
        self._sleep: AsyncSleep = anyio.sleep if sleep is None else sleep
        self.response = None
        self._events = self._run()

    async def _run(self) -> AsyncGenerator[ServerSentEvent, None]:
        state = self._state
        while not state.closed:
            error: BaseException | None = None
            try:
                request = self._client.build_request(
                    **{k: v for k, v in state.request().items() if k not in _SEND_ONLY}
                )
                send_options = {k: v for k, v in state.request_kwargs.items() if k in _SEND_ONLY}
                response = await self._client.send(request, stream=True, **send_options)
                self.response = response
                try:
                    await _aread_error_body(response)
                    if not state.accept(response):
                        return
                    decoder = state.decoder()
                    async for chunk in response.aiter_bytes():
                        events = decoder.feed(chunk)
                        state.fed(decoder)
                        for event in events:
                            state.yielding(event)
                            yield event
                        state.last_event_id = decoder.last_event_id
                finally:
                    self.response = None
                    # Shielded (and bounded): a cancelled iteration must still
                    # close the connection, or the server never sees us leave.
                    with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
                        await response.aclose()
            except _RETRYABLE as exc:
                if not state.reconnect:
                    raise
                error = exc
            if not state.reconnect:
                return
            await self._sleep(state.delay(error))

    def __aiter__(self) -> AsyncIterator[ServerSentEvent]:
        return self

    async def __anext__(self) -> ServerSentEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop: close the connection; a later ``anext()`` raises StopAsyncIteration."""
        self._state.closed = True
        await self._events.aclose()

    async def __aenter__(self) -> AsyncEventSource:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


#: client.stream() options that belong to send(), not build_request().
_SEND_ONLY: Final = frozenset({"auth", "follow_redirects"})


def _has_small_body(response: httpx.Response) -> bool:
    if response.is_success:
        return False
    try:
        return 0 <= int(response.headers.get("content-length", "")) <= _ERROR_BODY_LIMIT
    except ValueError:
        return False


def _read_error_body(response: httpx.Response) -> None:
    if _has_small_body(response):
        response.read()


async def _aread_error_body(response: httpx.Response) -> None:
    if _has_small_body(response):
        await response.aread()


def connect_sse(
    client: httpx.Client,
    method: str,
    url: httpx.URL | str,
    *,
    last_event_id: str | None = None,
    reconnect: bool = True,
    max_retries: int | None = DEFAULT_MAX_RETRIES,
    retry_delay: float | None = None,
    max_delay: float = DEFAULT_MAX_DELAY,
    jitter: bool = False,
    headers: Headers | None = None,
    sleep: Sleep | None = None,
    **request_kwargs: Any,
) -> EventSource:
    """Follow an event stream with ``httpx.Client`` as a browser's
    ``EventSource`` does. The connection is made when iteration starts.
    {args}
    Example::

        with httpx.Client(timeout=httpx.Timeout(10, read=60)) as client:
            with connect_sse(client, "GET", "http://localhost:8000/feed") as source:
                for event in source:
                    print(event.id, event.event, event.data)
                    # source.last_event_id: where a new process would resume
    """
    state = _Reconnection(
        method,
        url,
        last_event_id=last_event_id,
        reconnect=reconnect,
        max_retries=max_retries,
        retry_delay=retry_delay,
        max_delay=max_delay,
        jitter=jitter,
        headers=headers,
        request_kwargs=request_kwargs,
    )
    return EventSource(client, state, sleep)


def aconnect_sse(
    client: httpx.AsyncClient,
    method: str,
    url: httpx.URL | str,
    *,
    last_event_id: str | None = None,
    reconnect: bool = True,
    max_retries: int | None = DEFAULT_MAX_RETRIES,
    retry_delay: float | None = None,
    max_delay: float = DEFAULT_MAX_DELAY,
    jitter: bool = False,
    headers: Headers | None = None,
    sleep: AsyncSleep | None = None,
    **request_kwargs: Any,
) -> AsyncEventSource:
    """Follow an event stream with ``httpx.AsyncClient`` as a browser's
    ``EventSource`` does (asyncio or trio). The connection is made when
    iteration starts.
    {args}
    Example::

        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=60)) as client:
            async with aconnect_sse(client, "GET", "http://localhost:8000/feed") as source:
                async for event in source:
                    if event.event == "shutdown":
                        continue  # the server restarts; we reconnect by ourselves
                    print(event.id, event.data)
    """
    state = _Reconnection(
        method,
        url,
        last_event_id=last_event_id,
        reconnect=reconnect,
        max_retries=max_retries,
        retry_delay=retry_delay,
        max_delay=max_delay,
        jitter=jitter,
        headers=headers,
        request_kwargs=request_kwargs,
    )
    return AsyncEventSource(client, state, sleep)


for _function in (connect_sse, aconnect_sse):
    if _function.__doc__:  # (None under python -OO)
        _function.__doc__ = _function.__doc__.replace("{args}", _DOC_ARGS)
del _function
