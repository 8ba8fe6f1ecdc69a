"""Running a sans-I/O adapter over a sync or async provider stream.

The drivers feed each provider item to the adapter and yield the events it
produced. They also own the two rules that concern the upstream itself:

* an exception raised while iterating the upstream (an SDK's ``APIError``, a
  dropped connection) becomes an :class:`~streamkit.llm.Error` event, and so
  does an adapter that cannot read an item: consumers never see a raise;
* the upstream is closed as soon as the consumer stops (the client hung up,
  the response was cancelled), so the provider request, and its token spend,
  stops with it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import Any, Protocol, TypeVar, overload

from streamkit.llm._builder import EventBuilder
from streamkit.llm._events import LLMEvent

__all__ = ["Adapter", "drive"]

logger = logging.getLogger("streamkit")

T = TypeVar("T")


class Adapter(Protocol):
    """A provider adapter: reads items, tells its builder what it saw."""

    builder: EventBuilder

    def feed(self, item: Any) -> None: ...

    def end(self) -> None:
        """The upstream has no more items."""
        ...


def _feed(adapter: Adapter, item: object) -> None:
    try:
        adapter.feed(item)
    except Exception as exc:  # a provider item the adapter cannot read
        logger.exception(
            "streamkit: could not read an item of the %s stream", adapter.builder.provider
        )
        adapter.builder.error(
            f"could not read an item of the stream: {type(exc).__name__}: {exc}",
            kind="adapter_error",
            retryable=False,
        )


def _close_sync(stream: object, iterator: object) -> None:
    for target in (iterator, stream):
        close = getattr(target, "close", None)
        if close is None or inspect.iscoroutinefunction(close):
            continue
        try:
            close()
        except Exception:
            logger.debug("streamkit: closing the upstream failed", exc_info=True)


async def _close_async(stream: object, iterator: object) -> None:
    for target in (iterator, stream):
        if target is None:
            continue
        close = getattr(target, "aclose", None) or getattr(target, "close", None)
        if close is None:
            continue
        try:
            result = close()
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.debug("streamkit: closing the upstream failed", exc_info=True)


def _drive_sync(adapter: Adapter, stream: Iterable[Any]) -> Generator[LLMEvent, None, None]:
    builder = adapter.builder
    iterator = iter(stream)
    try:
        while not builder.done:
            try:
                item = next(iterator)
            except StopIteration:
                adapter.end()
                break
            except Exception as exc:
                builder.exception(exc)
                break
            _feed(adapter, item)
            if builder.out:
                yield from builder.drain()
        builder.close()  # no-op once a terminal event is out
        yield from builder.drain()
    finally:
        _close_sync(stream, iterator if iterator is not stream else None)


async def _drive_async(
    adapter: Adapter, stream: AsyncIterable[Any]
) -> AsyncGenerator[LLMEvent, None]:
    builder = adapter.builder
    iterator = aiter(stream)
    try:
        while not builder.done:
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                adapter.end()
                break
            except Exception as exc:
                builder.exception(exc)
                break
            _feed(adapter, item)
            if builder.out:
                for event in builder.drain():
                    yield event
        builder.close()
        for event in builder.drain():
            yield event
    finally:
        await _close_async(stream, iterator if iterator is not stream else None)


@overload
def drive(adapter: Adapter, stream: AsyncIterable[Any]) -> AsyncGenerator[LLMEvent, None]: ...


@overload
def drive(adapter: Adapter, stream: Iterable[Any]) -> Generator[LLMEvent, None, None]: ...


def drive(
    adapter: Adapter, stream: Iterable[Any] | AsyncIterable[Any]
) -> Generator[LLMEvent, None, None] | AsyncGenerator[LLMEvent, None]:
    """The events of ``stream`` read by ``adapter``: an async generator for
    an async stream, a generator for a sync one."""
    if isinstance(stream, AsyncIterable):
        return _drive_async(adapter, stream)
    return _drive_sync(adapter, stream)
