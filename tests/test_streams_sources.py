"""async_iter: any sync or async iterable in, an async iterator out, always closed."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing

import anyio
import pytest

from streamkit import async_iter
from streamkit._streams.sources import SyncDrain

from .fakes import CloseableIterator

pytestmark = pytest.mark.anyio

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


async def test_sync_iterable_items_arrive_in_order() -> None:
    assert [x async for x in async_iter(range(1000))] == list(range(1000))


async def test_async_iterable_items_arrive_in_order() -> None:
    async def numbers() -> AsyncIterator[int]:
        for i in range(100):
            yield i

    assert [x async for x in async_iter(numbers())] == list(range(100))


async def test_sync_source_runs_on_one_thread_not_one_hop_per_item() -> None:
    threads: set[str] = set()

    def source() -> Iterator[int]:
        for i in range(5000):
            threads.add(threading.current_thread().name)
            yield i

    assert [x async for x in async_iter(source())] == list(range(5000))
    assert threads == {"streamkit-sync-source"}


async def test_sync_source_hands_ready_items_over_in_batches() -> None:
    drain: SyncDrain[int] = SyncDrain(range(10_000), max_buffer=64)
    batches = []
    while (batch := await drain.next_batch()) is not None:
        batches.append(batch)
    assert [x for b in batches for x in b] == list(range(10_000))
    assert len(batches) < 10_000 // 2  # many items per hop, not one
    assert max(map(len, batches)) <= 64  # never more than the buffer bound


async def test_a_slow_sync_source_delivers_each_item_at_once() -> None:
    # The source only produces item 2 after the consumer has seen item 1: if
    # the drain waited to fill a batch, this would deadlock (bounded below).
    seen_first = threading.Event()

    def source() -> Iterator[int]:
        yield 1
        assert seen_first.wait(5), "the first item was held back"
        yield 2

    got = []
    with anyio.fail_after(5):
        async for item in async_iter(source()):
            got.append(item)
            seen_first.set()
    assert got == [1, 2]


async def test_sync_generator_is_closed_on_its_own_thread_after_early_exit() -> None:
    closed_on: list[str] = []

    def source() -> Iterator[int]:
        try:
            yield from range(1_000_000)
        finally:
            closed_on.append(threading.current_thread().name)

    before = threading.active_count()
    iterator = async_iter(source())
    async for item in iterator:
        if item == 10:
            break
    await iterator.aclose()
    assert closed_on == ["streamkit-sync-source"]
    assert threading.active_count() == before


async def test_sync_generator_blocked_in_sleep_is_closed_after_cancellation() -> None:
    finished = threading.Event()

    def source() -> Iterator[int]:
        try:
            while True:
                yield 1
                time.sleep(0.2)  # blocking: cannot be interrupted
        finally:
            finished.set()

    before = threading.active_count()
    with anyio.move_on_after(0.05):
        async for _ in async_iter(source()):
            pass
    # Leaving the cancelled block waited for the thread to close the generator.
    assert finished.is_set()
    assert threading.active_count() == before


async def test_async_generator_is_aclosed_after_early_exit() -> None:
    closed = anyio.Event()

    async def source() -> AsyncIterator[int]:
        try:
            for i in range(100):
                yield i
        finally:
            closed.set()

    iterator = async_iter(source())
    async for item in iterator:
        if item == 3:
            break
    await iterator.aclose()
    assert closed.is_set()


async def test_async_generator_cancelled_while_awaiting_runs_its_finally() -> None:
    cleaned = []

    async def source() -> AsyncIterator[int]:
        try:
            while True:
                yield 1
                await anyio.sleep(10)
        finally:
            cleaned.append(True)

    with anyio.move_on_after(0.05):
        async for _ in async_iter(source()):
            pass
    assert cleaned == [True]


async def test_async_generator_suspended_at_yield_is_closed_with_its_awaits_shielded() -> None:
    # The consumer is cancelled while it holds an item, so the source sits at
    # its yield: streamkit closes it, and its cleanup may still await.
    cleaned = []

    async def source() -> AsyncIterator[int]:
        try:
            while True:
                yield 1
        finally:
            await anyio.sleep(0.01)
            cleaned.append(True)

    # `async for` does not close its iterator when the body raises: aclosing()
    # does, and async_iter then closes the source, shielded from the
    # cancellation that is under way.
    with anyio.move_on_after(0.05):
        async with aclosing(async_iter(source())) as items:
            async for _ in items:
                await anyio.sleep(1)  # cancelled here, not in the source
    assert cleaned == [True]


async def test_source_exception_comes_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("broken source")

    got: list[int] = []

    async def consume() -> None:
        async for item in async_iter(source()):
            got.append(item)  # noqa: PERF401  (the items before the error are the point)

    with pytest.raises(ValueError, match="broken source"):
        await consume()
    assert got == [1, 2]


async def test_exception_from_iter_itself_is_raised() -> None:
    class Unreadable:
        def __iter__(self) -> Iterator[int]:
            raise OSError("cursor closed")

    with pytest.raises(OSError, match="cursor closed"):
        async for _ in async_iter(Unreadable()):
            pass


async def test_context_variables_reach_the_sync_source() -> None:
    def source() -> Iterator[str]:
        yield request_id.get()

    token = request_id.set("req-42")
    try:
        assert [x async for x in async_iter(source())] == ["req-42"]
    finally:
        request_id.reset(token)


async def test_non_iterables_are_refused() -> None:
    with pytest.raises(TypeError, match="expected a sync or async iterable, got int"):
        async for _ in async_iter(5):  # type: ignore[arg-type]
            pass


async def test_buffer_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_buffer must be at least 1"):
        SyncDrain(range(3), max_buffer=0)


async def test_a_sync_source_that_will_not_stop_is_abandoned_after_close_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()

    def source() -> Iterator[int]:
        yield 1
        release.wait(10)  # stuck far longer than the close timeout
        yield 2

    caplog.set_level(logging.WARNING, logger="streamkit")
    iterator = async_iter(source(), close_timeout=0.05)
    assert await anext(iterator) == 1
    with anyio.fail_after(5):
        await iterator.aclose()
    assert "did not stop within 0.05 s" in caplog.text
    release.set()  # let the thread finish so the test leaves nothing behind


async def test_a_source_never_iterated_is_still_closed() -> None:
    cursor = CloseableIterator()
    iterator = async_iter(cursor)
    await iterator.aclose()
    assert cursor.closed
    assert [x async for x in iterator] == []  # a closed iterator yields nothing


async def test_an_async_source_never_iterated_is_still_closed() -> None:
    closed = []

    class Response:
        def __aiter__(self) -> Response:
            return self

        async def __anext__(self) -> bytes:
            return b"x"

        async def aclose(self) -> None:
            closed.append(True)

    await async_iter(Response()).aclose()
    assert closed == [True]
