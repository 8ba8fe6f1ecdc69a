"""Wrappers that give any stream heartbeats, timeouts, error frames and retries.

``heartbeat`` and ``with_timeouts`` watch the source while the consumer waits,
so they run a producer task and are async context managers. ``catch_errors``
and ``retry_until_first`` only transform what passes through, so they are
plain async generators and can be nested anywhere.
"""

from __future__ import annotations

import logging
import random
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final, TypeVar, cast, overload

import anyio

from streamkit._formats.errorinfo import ErrorInfo, describe_error
from streamkit._streams.pump import Limits, pump_items
from streamkit._streams.sources import (
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_MAX_BUFFER,
    aclose_quietly,
    async_iter,
)

__all__ = [
    "DEFAULT_HEARTBEAT_FRAME",
    "catch_errors",
    "exponential_backoff",
    "heartbeat",
    "retry_until_first",
    "with_timeouts",
]

T = TypeVar("T")
F = TypeVar("F")
R = TypeVar("R")

logger = logging.getLogger("streamkit")

#: The SSE comment line ``:`` without a blank line after it: clients ignore
#: it, and unlike ``: ping\n\n`` it never makes httpx-sse or the OpenAI SDK
#: emit an empty event after an ``id:``.
DEFAULT_HEARTBEAT_FRAME: Final = b":\n"


@asynccontextmanager
async def _plain(
    source: Iterable[T] | AsyncIterable[T], close_timeout: float | None
) -> AsyncIterator[AsyncIterator[T]]:
    iterator = async_iter(source, close_timeout=close_timeout)
    try:
        yield iterator
    finally:
        await iterator.aclose()


@overload
def heartbeat(
    source: Iterable[T] | AsyncIterable[T],
    interval: float = ...,
    *,
    max_buffer: int = ...,
    close_timeout: float | None = ...,
) -> AbstractAsyncContextManager[AsyncIterator[T | bytes]]: ...


@overload
def heartbeat(
    source: Iterable[T] | AsyncIterable[T],
    interval: float = ...,
    *,
    frame: F,
    max_buffer: int = ...,
    close_timeout: float | None = ...,
) -> AbstractAsyncContextManager[AsyncIterator[T | F]]: ...


def heartbeat(
    source: Iterable[T] | AsyncIterable[T],
    interval: float = 15.0,
    *,
    frame: object = DEFAULT_HEARTBEAT_FRAME,
    max_buffer: int = DEFAULT_MAX_BUFFER,
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
) -> AbstractAsyncContextManager[AsyncIterator[object]]:
    """Insert ``frame`` after every ``interval`` seconds without an item.

    Idle-based: nothing extra is sent while items flow, so it costs nothing on
    a busy stream; it keeps proxies (nginx: 60 s, AWS API Gateway: 29 s) from
    cutting a quiet one. The source is read by a producer task, so waiting
    for the next item is never timed out on the source itself (which would
    finalise a generator).

    Args:
        source: any sync or async iterable.
        interval: seconds of silence before a frame; 0 disables heartbeats.
        frame: what to insert. The default is the SSE comment ``b":\\n"``;
            for JSON Lines use ``b"\\n"`` (a blank line, which JSON Lines
            readers skip).
        max_buffer: how many items the source may run ahead of the consumer.
        close_timeout: the longest wait for the source to close on exit.

    Example::

        async with heartbeat(sse_bytes(), 15) as stream:
            async for chunk in stream:
                await send(chunk)
    """
    limits = Limits(heartbeat=interval)  # validates interval
    if not interval:
        return _plain(source, close_timeout)
    return pump_items(
        source,
        limits=limits,
        heartbeat_frame=frame,
        max_buffer=max_buffer,
        close_timeout=close_timeout,
    )


def with_timeouts(
    source: Iterable[T] | AsyncIterable[T],
    *,
    first_item: float | None = None,
    idle: float | None = None,
    total: float | None = None,
    max_buffer: int = DEFAULT_MAX_BUFFER,
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
) -> AbstractAsyncContextManager[AsyncIterator[T]]:
    """Bound how long a stream may take.

    Args:
        source: any sync or async iterable.
        first_item: seconds to wait for the first item
            (:class:`~streamkit.FirstItemTimeout`).
        idle: the longest gap between two items (:class:`~streamkit.IdleTimeout`);
            also applies before the first item when ``first_item`` is not set.
        total: the longest the whole stream may take
            (:class:`~streamkit.TotalTimeout`).

    Each is a :class:`~streamkit.StreamTimeout` (and a ``TimeoutError``),
    raised from the iteration; the source is closed when the block is left.
    ``None`` or 0 means no limit. Put :func:`catch_errors` around the
    iterator to report a timeout to the client in-band.
    """
    limits = Limits(first_item=first_item, idle=idle, total=total)
    if limits.first_item is None and limits.idle is None and limits.total is None:
        return _plain(source, close_timeout)
    # No heartbeat is configured, so the frame is never yielded.
    return cast(
        "AbstractAsyncContextManager[AsyncIterator[T]]",
        pump_items(
            source,
            limits=limits,
            heartbeat_frame=None,
            max_buffer=max_buffer,
            close_timeout=close_timeout,
        ),
    )


async def catch_errors(
    source: AsyncIterable[T],
    *,
    render: Callable[[ErrorInfo], R],
    abort: bool = True,
    expose_errors: bool = False,
    log: logging.Logger = logger,
) -> AsyncGenerator[T | R, None]:
    """Report a failure after the first item in-band, in the stream's format.

    * An exception before the first item propagates unchanged, so a response
      can still answer with a real error status.
    * An exception after it is logged with its traceback, then
      ``render(describe_error(exc))`` is yielded (for SSE,
      :func:`~streamkit.sse_error_frame`), and then the exception is re-raised
      so the server aborts the transfer and the client can tell the body was
      truncated. With ``abort=False`` the stream ends cleanly instead.
    * Cancellation is never caught.

    Args:
        source: the stream to guard (typically the chunk iterator).
        render: turns an :class:`~streamkit.ErrorInfo` into a frame.
        abort: re-raise after the error frame (default) or end cleanly.
        expose_errors: include the exception's type and text in the frame;
            by default the client sees a generic message.
        log: where the traceback is logged.

    Example::

        async for chunk in catch_errors(chunks, render=sse_error_frame):
            await send(chunk)
    """
    iterator = aiter(source)
    started = False
    try:
        while True:
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            except Exception as exc:
                if not started:
                    raise
                log.error("streamkit: the stream failed after it had started", exc_info=exc)
                yield render(describe_error(exc, expose=expose_errors))
                if abort:
                    raise
                return
            started = True
            yield item
    finally:
        await aclose_quietly(iterator)


def exponential_backoff(
    base: float = 0.5, *, factor: float = 2.0, maximum: float = 8.0, jitter: bool = True
) -> Callable[[int], float]:
    """A delay function for :func:`retry_until_first`: ``base * factor**(n-1)``
    seconds before retry ``n``, capped at ``maximum``; with ``jitter`` a random
    50-100 % of that, so many clients failing together do not retry together."""

    def delay(attempt: int) -> float:
        value = min(maximum, base * factor ** (attempt - 1))
        return value * random.uniform(0.5, 1.0) if jitter else value

    return delay


async def retry_until_first(
    factory: Callable[[], Iterable[T] | AsyncIterable[T] | Awaitable[AsyncIterable[T]]],
    *,
    attempts: int = 3,
    backoff: float | Callable[[int], float] | None = None,
    retry_on: type[BaseException]
    | tuple[type[BaseException], ...]
    | Callable[[BaseException], bool] = Exception,
    log: logging.Logger = logger,
) -> AsyncGenerator[T, None]:
    """Re-create a failing upstream while nothing has been sent yet.

    ``factory()`` makes the upstream (a sync or async iterable, or an
    awaitable of one, such as ``client.chat.completions.create(...,
    stream=True)``). If making it or getting its first item fails, it is
    closed and made again, up to ``attempts`` times in all, waiting
    ``backoff`` between tries. Once the first item has been yielded, errors
    pass through untouched: a retry then would send the client data twice.

    Args:
        factory: makes the upstream; called once per attempt.
        attempts: total tries, at least 1.
        backoff: seconds between tries, or a function of the retry number
            (1 for the first retry); default :func:`exponential_backoff`.
        retry_on: the exception types to retry, or a predicate; anything else
            propagates at once (Cancellation is never retried).
        log: where failed attempts are logged (as warnings).
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    delay = exponential_backoff() if backoff is None else backoff
    should_retry: Callable[[BaseException], bool]
    if isinstance(retry_on, type | tuple):
        types = retry_on

        def should_retry(exc: BaseException) -> bool:
            return isinstance(exc, types)

    else:
        should_retry = retry_on
    for attempt in range(1, attempts + 1):
        iterator: AsyncIterator[T] | None = None
        try:
            upstream = factory()
            if isinstance(upstream, Awaitable):
                upstream = await upstream
            iterator = async_iter(upstream)
            first = await anext(iterator)
        except StopAsyncIteration:
            return
        except Exception as exc:
            if iterator is not None:
                await aclose_quietly(iterator)
            if attempt == attempts or not should_retry(exc):
                raise
            wait = delay(attempt) if callable(delay) else delay
            log.warning(
                "streamkit: attempt %d of %d failed before the first item (%s: %s); "
                "retrying in %.2f s",
                attempt,
                attempts,
                type(exc).__name__,
                exc,
                wait,
            )
            await anyio.sleep(wait)
            continue
        try:
            yield first
            async for item in iterator:
                yield item
        finally:
            await aclose_quietly(iterator)
        return
