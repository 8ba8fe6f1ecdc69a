"""The stream wrappers: heartbeat, catch_errors, with_timeouts and retry_until_first.

Async tests run on asyncio and trio (the ``anyio_backend`` fixture). Intervals are
tens of milliseconds and every wait is bounded by ``anyio.fail_after``; assertions are
on order and counts, never on timing. Where an outcome would otherwise depend on the
scheduler, the source waits on an event that the test sets only after it has seen
what it is checking for (a heartbeat, the first item).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from typing import Any, Literal, TypeVar

import anyio
import anyio.lowlevel
import pytest

from streamkit import (
    ErrorInfo,
    FirstItemTimeout,
    IdleTimeout,
    ServerSentEvent,
    SSEDecoder,
    StreamkitError,
    StreamTimeout,
    TotalTimeout,
    async_iter,
    catch_errors,
    describe_error,
    exponential_backoff,
    heartbeat,
    retry_until_first,
    sse_error_frame,
    with_timeouts,
)
from streamkit._streams.wrappers import DEFAULT_HEARTBEAT_FRAME

from .fakes import CloseableIterator, assert_no_thread_left

T = TypeVar("T")

HB = DEFAULT_HEARTBEAT_FRAME
#: The bound on every wait: far longer than any test needs, only reached if one hangs.
WAIT = 5.0
#: What a client is told about an error it is not allowed to see the details of.
GENERIC = describe_error(Exception("secret")).message

Source = Iterable[int] | AsyncIterable[int]


def closing(iterator: AsyncIterator[T]) -> aclosing[AsyncGenerator[T, None]]:
    """``aclosing`` for the wrappers that are async generators typed as ``AsyncIterator``.

    ``async for`` does not close an async generator it leaves early; without this,
    trio warns (ResourceWarning) when the generator is garbage collected.
    """
    assert isinstance(iterator, AsyncGenerator)
    return aclosing(iterator)


async def collect(stream: AsyncIterator[T], into: list[T] | None = None) -> list[T]:
    """Every item of ``stream`` (appended to ``into`` as it arrives, if given)."""
    items = [] if into is None else into
    with anyio.fail_after(WAIT):
        async for item in stream:
            items.append(item)
    return items


def decode_event(frame: bytes) -> ServerSentEvent:
    (event,) = SSEDecoder().feed(frame)
    return event


def error_data(frame: bytes) -> dict[str, Any]:
    event = decode_event(frame)
    assert event.event == "error"
    assert event.data is not None
    data: dict[str, Any] = json.loads(event.data)
    return data


# --------------------------------------------------------------------------- heartbeat


@pytest.mark.anyio
async def test_heartbeat_is_sent_after_an_interval_without_items() -> None:
    gate = anyio.Event()

    async def source() -> AsyncIterator[str]:
        yield "a"
        await gate.wait()  # opened by the test once it has seen a heartbeat
        yield "b"

    received: list[str | bytes] = []
    with anyio.fail_after(WAIT):
        async with heartbeat(source(), 0.02) as stream:
            async for item in stream:
                received.append(item)
                if item == HB and "a" in received:
                    gate.set()
    first, last = received.index("a"), received.index("b")
    assert received[first + 1 : last]  # at least one heartbeat between the items
    assert set(received[first + 1 : last]) == {HB}
    assert [x for x in received if x != HB] == ["a", "b"]
    assert received[-1] == "b"  # nothing after the source ends


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_heartbeat_is_not_sent_while_data_flows(kind: str) -> None:
    # The items span more than one interval, but no gap between two of them is
    # anywhere near one: an idle-based heartbeat sends nothing, a periodic one would.
    count, gap, interval = 15, 0.01, 0.12

    async def async_source() -> AsyncIterator[int]:
        for i in range(count):
            yield i
            await anyio.sleep(gap)

    def sync_source() -> Iterator[int]:
        for i in range(count):
            yield i
            time.sleep(gap)

    source: Source = async_source() if kind == "async" else sync_source()
    async with heartbeat(source, interval) as stream:
        received = await collect(stream)
    assert received == list(range(count))


@pytest.mark.anyio
async def test_heartbeat_does_not_finalise_a_slow_generator() -> None:
    # Each item waits on a gate the test opens only after a heartbeat, so the
    # generator is always slower than the interval. Timing out its __anext__ would
    # throw into it (and finalise it); a producer task must not.
    gates = [anyio.Event() for _ in range(3)]
    happened: list[str] = []

    async def slow() -> AsyncIterator[int]:
        state = 0
        try:
            for gate in gates:
                await gate.wait()
                state += 1
                yield state
        except BaseException as exc:
            happened.append(f"interrupted by {type(exc).__name__}")
            raise
        finally:
            happened.append("finally")

    received: list[int | bytes] = []
    with anyio.fail_after(WAIT):
        async with heartbeat(slow(), 0.02) as stream:
            async for item in stream:
                received.append(item)
                if item == HB:
                    next(gate for gate in gates if not gate.is_set()).set()
                elif item != len(gates):  # the last: it may finish at once
                    assert happened == []  # still running, its state intact
    assert [x for x in received if x != HB] == [1, 2, 3]
    for item in (1, 2, 3):  # the gate before each item opened only after a heartbeat
        assert received[received.index(item) - 1] == HB
    assert received[-1] == 3
    assert happened == ["finally"]


@pytest.mark.anyio
async def test_heartbeat_fills_the_gaps_of_a_generator_that_sleeps_longer_than_the_interval() -> (
    None
):
    happened: list[str] = []

    async def sleepy() -> AsyncIterator[str]:
        try:
            yield "one"
            await anyio.sleep(0.06)  # four intervals
            yield "two"
            await anyio.sleep(0.06)
            yield "three"
        finally:
            happened.append("finally")

    received: list[str | bytes] = []
    async with heartbeat(sleepy(), 0.015) as stream:
        with anyio.fail_after(WAIT):
            async for item in stream:
                received.append(item)
                if item in ("one", "two"):  # after "three" it may finish at once
                    assert happened == []
    assert [x for x in received if x != HB] == ["one", "two", "three"]
    assert received.count(HB) >= 1
    assert received[0] == "one"
    assert happened == ["finally"]


@pytest.mark.anyio
async def test_heartbeat_with_a_sync_source_blocked_between_items() -> None:
    gate = threading.Event()
    happened: list[str] = []

    def blocking() -> Iterator[str]:
        try:
            yield "a"
            assert gate.wait(WAIT), "the test never saw a heartbeat"
            yield "b"
        finally:
            happened.append(f"finally on {threading.current_thread().name}")

    received: list[str | bytes] = []
    with anyio.fail_after(WAIT):
        async with heartbeat(blocking(), 0.02) as stream:
            async for item in stream:
                received.append(item)
                if item == HB and "a" in received:
                    gate.set()
    first, last = received.index("a"), received.index("b")
    assert received[first + 1 : last]
    assert set(received[first + 1 : last]) == {HB}
    assert [x for x in received if x != HB] == ["a", "b"]
    assert happened == ["finally on streamkit-sync-source"]


@pytest.mark.anyio
async def test_heartbeat_with_a_sync_list_yields_its_items() -> None:
    async with heartbeat([1, 2, 3], 0.05) as stream:
        assert await collect(stream) == [1, 2, 3]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_heartbeat_interval_zero_yields_exactly_the_source(kind: str) -> None:
    async def async_source() -> AsyncIterator[int]:
        for i in range(3):
            await anyio.sleep(0.03)
            yield i

    def sync_source() -> Iterator[int]:
        for i in range(3):
            time.sleep(0.03)
            yield i

    source: Source = async_source() if kind == "async" else sync_source()
    async with heartbeat(source, 0) as stream:
        assert await collect(stream) == [0, 1, 2]


@pytest.mark.anyio
@pytest.mark.parametrize("frame", [b"\n", b": keep-alive\n\n", None, "ping"])
async def test_heartbeat_sends_the_frame_it_is_given(frame: object) -> None:
    gate = anyio.Event()

    async def source() -> AsyncIterator[int]:
        yield 1
        await gate.wait()
        yield 2

    received: list[object] = []
    with anyio.fail_after(WAIT):
        async with heartbeat(source(), 0.02, frame=frame) as stream:
            async for item in stream:
                received.append(item)
                if item is frame or item == frame:
                    gate.set()
    assert received[0] == 1
    assert received[-1] == 2
    assert received[1:-1]
    assert all(x == frame for x in received[1:-1])


def test_default_heartbeat_frame_is_an_sse_comment_that_clients_ignore() -> None:
    assert DEFAULT_HEARTBEAT_FRAME == b":\n"
    # A comment line is not an event: between two events, and after an id, a
    # client sees exactly the real events (": ping\n\n" would dispatch an empty one
    # in some clients).
    wire = b"id: 1\ndata: a\n\n" + HB + HB + b"data: b\n\n" + HB
    events = SSEDecoder().feed(wire)
    assert [(e.id, e.data) for e in events] == [("1", "a"), ("1", "b")]


@pytest.mark.parametrize("interval", [-1.0, math.nan, math.inf])
def test_heartbeat_rejects_an_invalid_interval(interval: float) -> None:
    with pytest.raises(ValueError, match="heartbeat"):
        heartbeat([1], interval)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_heartbeat_passes_a_source_error_through_unwrapped(kind: str) -> None:
    boom = ValueError("boom")

    async def async_source() -> AsyncIterator[int]:
        yield 1
        raise boom

    def sync_source() -> Iterator[int]:
        yield 1
        raise boom

    source: Source = async_source() if kind == "async" else sync_source()
    received: list[int | bytes] = []
    with pytest.raises(ValueError, match="boom") as info:
        async with heartbeat(source, 0.05) as stream:
            await collect(stream, received)
    assert info.value is boom
    assert received == [1]


@pytest.mark.anyio
async def test_heartbeat_can_be_read_with_a_cancel_scope_around_each_item() -> None:
    # If the wrapper yielded inside its own cancel scope, leaving the consumer's
    # scope between two items would corrupt the cancel scope stack.
    gate = anyio.Event()

    async def source() -> AsyncIterator[int]:
        yield 1
        await gate.wait()
        yield 2

    received: list[int | bytes] = []
    async with heartbeat(source(), 0.02) as stream:
        while True:
            with anyio.fail_after(WAIT):
                try:
                    item = await anext(stream)
                except StopAsyncIteration:
                    break
            received.append(item)
            if item == HB:
                gate.set()
    assert [x for x in received if x != HB] == [1, 2]


@pytest.mark.anyio
async def test_heartbeat_source_runs_at_most_max_buffer_items_ahead() -> None:
    produced = 0

    async def fast() -> AsyncIterator[int]:
        nonlocal produced
        for i in itertools.count():
            produced += 1
            yield i

    async with heartbeat(fast(), 1.0, max_buffer=4) as stream:
        with anyio.fail_after(WAIT):
            assert await anext(stream) == 0
        await anyio.sleep(0.05)  # the producer runs until the buffer is full
        assert produced <= 1 + 4 + 1  # taken + buffered + the one waiting for space


# ------------------------------------------------------------------------ catch_errors


class Secret(RuntimeError):
    pass


def failing_source(
    items: list[bytes], error: BaseException, happened: list[str]
) -> AsyncIterator[bytes]:
    async def failing_generator() -> AsyncIterator[bytes]:
        try:
            for item in items:
                yield item
            raise error
        finally:
            happened.append("finally")

    return failing_generator()


@pytest.mark.anyio
async def test_catch_errors_lets_an_error_before_the_first_item_propagate_unchanged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    boom = Secret("before anything was sent")
    rendered: list[ErrorInfo] = []
    happened: list[str] = []

    def render(info: ErrorInfo) -> bytes:
        rendered.append(info)
        return b"error"

    received: list[bytes] = []
    with caplog.at_level(logging.ERROR), pytest.raises(Secret) as info:
        async with closing(catch_errors(failing_source([], boom, happened), render=render)) as s:
            await collect(s, received)
    assert info.value is boom
    assert received == []
    assert rendered == []  # no frame: the response can still send a real error status
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert happened == ["finally"]


@pytest.mark.anyio
async def test_catch_errors_sends_a_sanitised_error_frame_after_the_first_item_then_aborts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    boom = Secret("db password is hunter2")
    happened: list[str] = []
    received: list[bytes] = []
    source = failing_source([b"data: 1\n\n", b"data: 2\n\n"], boom, happened)
    with caplog.at_level(logging.ERROR), pytest.raises(Secret) as info:
        async with closing(catch_errors(source, render=sse_error_frame)) as stream:
            await collect(stream, received)
    assert info.value is boom  # re-raised so the server aborts the transfer
    assert received[:2] == [b"data: 1\n\n", b"data: 2\n\n"]
    assert len(received) == 3
    assert error_data(received[2]) == {"code": "internal_error", "message": GENERIC}
    assert b"hunter2" not in received[2]
    assert b"Secret" not in received[2]
    assert happened == ["finally"]


@pytest.mark.anyio
async def test_catch_errors_logs_the_traceback_of_an_error_after_the_first_item(
    caplog: pytest.LogCaptureFixture,
) -> None:
    boom = Secret("db password is hunter2")
    source = failing_source([b"x"], boom, [])
    with caplog.at_level(logging.ERROR, logger="streamkit"), pytest.raises(Secret):
        async with closing(catch_errors(source, render=sse_error_frame)) as stream:
            await collect(stream)
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.name == "streamkit"
    assert record.exc_info is not None
    assert record.exc_info[1] is boom
    # The log has everything the client was not told.
    assert "Traceback (most recent call last)" in caplog.text
    assert "failing_generator" in caplog.text
    assert "Secret: db password is hunter2" in caplog.text


@pytest.mark.anyio
async def test_catch_errors_logs_to_the_logger_it_is_given(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = failing_source([b"x"], Secret("x"), [])
    log = logging.getLogger("myapp.streams")
    with caplog.at_level(logging.ERROR), pytest.raises(Secret):
        async with closing(catch_errors(source, render=sse_error_frame, log=log)) as stream:
            await collect(stream)
    assert [r.name for r in caplog.records if r.levelno >= logging.ERROR] == ["myapp.streams"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("expose", "expected"),
    [
        (False, {"code": "internal_error", "message": GENERIC}),
        (
            True,
            {"code": "internal_error", "message": "db password is hunter2", "type": "Secret"},
        ),
    ],
)
async def test_catch_errors_exposes_the_type_and_text_only_when_asked(
    expose: bool, expected: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    source = failing_source([b"x"], Secret("db password is hunter2"), [])
    received: list[bytes] = []
    with caplog.at_level(logging.ERROR), pytest.raises(Secret):
        guarded = catch_errors(source, render=sse_error_frame, expose_errors=expose)
        async with closing(guarded) as stream:
            await collect(stream, received)
    assert error_data(received[-1]) == expected


@pytest.mark.anyio
async def test_catch_errors_with_abort_false_ends_cleanly_after_the_frame(
    caplog: pytest.LogCaptureFixture,
) -> None:
    boom = Secret("x")
    happened: list[str] = []
    rendered: list[ErrorInfo] = []

    def render(info: ErrorInfo) -> dict[str, str]:
        rendered.append(info)
        return {"type": "error", **info.to_dict()}

    source = failing_source([b"a"], boom, happened)
    with caplog.at_level(logging.ERROR):
        guarded = catch_errors(source, render=render, abort=False)
        async with closing(guarded) as stream:
            received = await collect(stream)
    assert received == [b"a", {"type": "error", "code": "internal_error", "message": GENERIC}]
    (info,) = rendered
    assert info.exception is boom  # for custom renderers; never sent
    assert happened == ["finally"]
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


@pytest.mark.anyio
async def test_catch_errors_passes_items_through_when_nothing_fails() -> None:
    async def source() -> AsyncIterator[int]:
        for i in range(5):
            yield i

    async with closing(catch_errors(source(), render=sse_error_frame)) as stream:
        assert await collect(stream) == [0, 1, 2, 3, 4]


@pytest.mark.anyio
async def test_catch_errors_never_catches_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    happened: list[str] = []

    async def stalls() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            await anyio.sleep_forever()
            yield b"never"
        finally:
            happened.append("finally")

    rendered: list[ErrorInfo] = []

    def render(info: ErrorInfo) -> bytes:
        rendered.append(info)
        return b"error"

    received: list[bytes] = []
    with caplog.at_level(logging.ERROR), anyio.move_on_after(0.05) as scope:
        async with closing(catch_errors(stalls(), render=render)) as stream:
            await collect(stream, received)
    assert scope.cancelled_caught
    assert received == [b"a"]
    assert rendered == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert happened == ["finally"]


@pytest.mark.anyio
async def test_catch_errors_closes_the_source_when_the_consumer_leaves_early() -> None:
    happened: list[str] = []

    async def endless() -> AsyncIterator[int]:
        try:
            for i in itertools.count():
                yield i
        finally:
            happened.append("finally")

    async with closing(catch_errors(endless(), render=sse_error_frame)) as stream:
        async for item in stream:
            if item == 2:
                break
    assert happened == ["finally"]


# ------------------------------------------------------ describe_error / sse_error_frame


def test_describe_error_hides_the_type_and_text_by_default() -> None:
    boom = Secret("postgres://user:hunter2@db")
    info = describe_error(boom)
    assert info == ErrorInfo(code="internal_error", message=GENERIC)
    assert info.type is None
    assert info.exception is boom
    assert info.to_dict() == {"code": "internal_error", "message": GENERIC}
    assert "hunter2" not in GENERIC


def test_describe_error_exposes_the_type_and_text_when_asked() -> None:
    info = describe_error(Secret("bad row 7"), expose=True)
    assert info.to_dict() == {"code": "internal_error", "message": "bad row 7", "type": "Secret"}


def test_describe_error_falls_back_to_the_generic_message_for_an_empty_text() -> None:
    info = describe_error(ValueError(), expose=True)
    assert info.to_dict() == {"code": "internal_error", "message": GENERIC, "type": "ValueError"}


@pytest.mark.parametrize("expose", [False, True])
@pytest.mark.parametrize("cls", [FirstItemTimeout, IdleTimeout, TotalTimeout])
def test_describe_error_always_says_a_timeout_is_a_timeout(
    cls: type[StreamTimeout], expose: bool
) -> None:
    exc = cls("the source produced no item for 1.5 s", limit=1.5)
    info = describe_error(exc, expose=expose)
    assert info.to_dict() == {
        "code": "timeout",
        "message": "the source produced no item for 1.5 s",
        "type": cls.__name__,
    }


def test_error_info_never_shows_the_exception() -> None:
    with_exc = ErrorInfo(code="x", message="y", exception=Secret("hunter2"))
    assert with_exc == ErrorInfo(code="x", message="y")
    assert "hunter2" not in repr(with_exc)
    assert "exception" not in with_exc.to_dict()


def test_sse_error_frame_is_an_error_event_with_json_data() -> None:
    frame = sse_error_frame(ErrorInfo(code="timeout", message="too slow", type="IdleTimeout"))
    assert frame == (
        b'event: error\ndata: {"code":"timeout","message":"too slow","type":"IdleTimeout"}\n\n'
    )
    assert error_data(frame) == {"code": "timeout", "message": "too slow", "type": "IdleTimeout"}


def test_sse_error_frame_takes_an_event_name_and_a_separator() -> None:
    frame = sse_error_frame(ErrorInfo(code="c", message="m"), event="failure", sep="\r\n")
    assert frame == b'event: failure\r\ndata: {"code":"c","message":"m"}\r\n\r\n'


# ----------------------------------------------------------------------- with_timeouts


async def stalls_after(items: list[int], happened: list[str]) -> AsyncIterator[int]:
    try:
        for item in items:
            yield item
        await anyio.sleep_forever()
        yield -1
    finally:
        happened.append("finally")


async def endless_ticks(happened: list[str]) -> AsyncIterator[int]:
    try:
        for i in itertools.count():
            yield i
            await anyio.sleep(0.005)
    finally:
        happened.append("finally")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("first_item", "idle", "stall_after", "expected"),
    [
        pytest.param(0.03, None, 0, FirstItemTimeout, id="first_item"),
        pytest.param(None, 0.03, 2, IdleTimeout, id="idle"),
        pytest.param(None, 0.03, 0, IdleTimeout, id="idle-before-the-first-item"),
        pytest.param(0.03, 0.03, 2, IdleTimeout, id="idle-after-the-first-item"),
        pytest.param(0.03, WAIT, 0, FirstItemTimeout, id="first_item-before-the-first-item"),
    ],
)
async def test_with_timeouts_raises_the_timeout_that_expired(
    first_item: float | None, idle: float | None, stall_after: int, expected: type[StreamTimeout]
) -> None:
    happened: list[str] = []
    received: list[int] = []
    with pytest.raises(StreamTimeout) as info:
        source = stalls_after(list(range(stall_after)), happened)
        async with with_timeouts(source, first_item=first_item, idle=idle) as stream:
            await collect(stream, received)
    assert type(info.value) is expected
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, StreamkitError)
    assert info.value.limit == 0.03
    assert received == list(range(stall_after))
    assert happened == ["finally"]


@pytest.mark.anyio
async def test_total_timeout_is_raised_even_while_items_keep_coming() -> None:
    happened: list[str] = []
    received: list[int] = []
    with pytest.raises(TotalTimeout) as info:
        async with with_timeouts(endless_ticks(happened), total=0.1, idle=WAIT) as stream:
            await collect(stream, received)
    assert isinstance(info.value, StreamTimeout)
    assert isinstance(info.value, TimeoutError)
    assert info.value.limit == 0.1
    assert received == list(range(len(received)))
    assert happened == ["finally"]


def test_timeout_classes_are_distinct() -> None:
    classes = [FirstItemTimeout, IdleTimeout, TotalTimeout]
    for cls in classes:
        assert issubclass(cls, StreamTimeout)
        assert issubclass(cls, TimeoutError)
        assert issubclass(cls, StreamkitError)
        assert [other for other in classes if issubclass(cls, other)] == [cls]


@pytest.mark.anyio
async def test_first_item_timeout_does_not_apply_after_the_first_item() -> None:
    gate = anyio.Event()

    async def source() -> AsyncIterator[int]:
        yield 1
        await gate.wait()
        yield 2

    received: list[int] = []
    async with with_timeouts(source(), first_item=0.1) as stream:
        with anyio.fail_after(WAIT):
            async for item in stream:
                received.append(item)
                if item == 1:
                    await anyio.sleep(0.12)  # past the first-item limit
                    gate.set()
    assert received == [1, 2]


@pytest.mark.anyio
async def test_idle_timeout_is_not_raised_while_items_keep_coming() -> None:
    # 15 gaps of 10 ms: the stream lasts longer than the idle limit, no gap does.
    async def source() -> AsyncIterator[int]:
        for i in range(15):
            await anyio.sleep(0.01)
            yield i

    async with with_timeouts(source(), idle=0.12) as stream:
        assert await collect(stream) == list(range(15))


@pytest.mark.anyio
async def test_with_timeouts_on_a_sync_source_blocked_before_the_first_item() -> None:
    happened: list[str] = []

    def blocked() -> Iterator[int]:
        try:
            time.sleep(0.1)  # longer than the limit; cannot be interrupted
            yield 1
            yield 2
        finally:
            happened.append("finally")

    before = threading.active_count()
    with pytest.raises(FirstItemTimeout):
        async with with_timeouts(blocked(), first_item=0.03) as stream:
            await collect(stream)
    # Leaving the block waited for the thread to close the generator.
    assert happened == ["finally"]
    assert_no_thread_left(before)


@pytest.mark.anyio
async def test_with_timeouts_on_a_sync_source_that_goes_idle() -> None:
    happened: list[str] = []

    def goes_idle() -> Iterator[int]:
        try:
            yield 1
            yield 2
            time.sleep(0.1)
            yield 3
        finally:
            happened.append("finally")

    before = threading.active_count()
    received: list[int] = []
    with pytest.raises(IdleTimeout):
        async with with_timeouts(goes_idle(), idle=0.03) as stream:
            await collect(stream, received)
    assert received == [1, 2]
    assert happened == ["finally"]
    assert_no_thread_left(before)


@pytest.mark.anyio
async def test_with_timeouts_on_a_sync_list_yields_its_items() -> None:
    async with with_timeouts(range(100), first_item=WAIT, idle=WAIT, total=WAIT) as stream:
        assert await collect(stream) == list(range(100))


@pytest.mark.anyio
@pytest.mark.parametrize("limit", [None, 0])
async def test_with_timeouts_without_limits_yields_exactly_the_source(limit: float | None) -> None:
    async def source() -> AsyncIterator[int]:
        for i in range(3):
            await anyio.sleep(0.01)
            yield i

    async with with_timeouts(source(), first_item=limit, idle=limit, total=limit) as stream:
        assert await collect(stream) == [0, 1, 2]


@pytest.mark.parametrize("name", ["first_item", "idle", "total"])
@pytest.mark.parametrize("value", [-0.5, math.nan, math.inf])
def test_with_timeouts_rejects_an_invalid_limit(name: str, value: float) -> None:
    limits = {"first_item": None, "idle": None, "total": None, name: value}
    with pytest.raises(ValueError, match=name):
        with_timeouts(
            [1], first_item=limits["first_item"], idle=limits["idle"], total=limits["total"]
        )


@pytest.mark.anyio
async def test_a_timeout_after_the_first_item_is_reported_by_catch_errors_as_code_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    happened: list[str] = []

    async def source() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            await anyio.sleep_forever()
            yield b"never"
        finally:
            happened.append("finally")

    with caplog.at_level(logging.ERROR):
        async with with_timeouts(source(), idle=0.03) as stream:
            guarded = catch_errors(stream, render=sse_error_frame, abort=False)
            async with closing(guarded) as chunks:
                received = await collect(chunks)
    assert received[0] == b"data: 1\n\n"
    assert len(received) == 2
    data = error_data(received[1])
    assert data["code"] == "timeout"
    assert data["type"] == "IdleTimeout"
    assert happened == ["finally"]


@pytest.mark.anyio
async def test_a_timeout_reported_by_catch_errors_then_aborts_the_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    received: list[int | bytes] = []
    with caplog.at_level(logging.ERROR), pytest.raises(TotalTimeout):
        async with with_timeouts(stalls_after([7], []), total=0.05) as stream:
            guarded = catch_errors(stream, render=sse_error_frame)
            async with closing(guarded) as chunks:
                await collect(chunks, received)
    assert len(received) == 2
    assert received[0] == 7
    frame = received[1]
    assert isinstance(frame, bytes)
    assert error_data(frame)["code"] == "timeout"


@pytest.mark.anyio
async def test_a_timeout_before_the_first_item_propagates_through_catch_errors() -> None:
    received: list[object] = []
    with pytest.raises(FirstItemTimeout):
        async with (
            with_timeouts(stalls_after([], []), first_item=0.03) as stream,
            closing(catch_errors(stream, render=sse_error_frame)) as chunks,
        ):
            await collect(chunks, received)
    assert received == []


# ------------------------------------------------------------------- retry_until_first


class Upstreams:
    """A factory of upstreams whose first ``failures`` attempts fail before any item."""

    def __init__(
        self,
        failures: int,
        error: Callable[[int], Exception] = lambda n: ConnectionError(f"attempt {n} failed"),
        items: tuple[str, ...] = ("a", "b"),
    ) -> None:
        self.failures = failures
        self.error = error
        self.items = items
        self.log: list[str] = []

    @property
    def made(self) -> int:
        return sum(entry.startswith("make") for entry in self.log)

    def __call__(self) -> AsyncIterator[str]:
        n = self.made + 1
        self.log.append(f"make {n}")

        async def upstream() -> AsyncIterator[str]:
            try:
                if n <= self.failures:
                    raise self.error(n)
                for item in self.items:
                    yield item
            finally:
                self.log.append(f"end {n}")

        return upstream()


def no_wait(attempt: int) -> float:
    return 0.0


@pytest.mark.anyio
async def test_retry_until_first_retries_until_the_upstream_produces(
    caplog: pytest.LogCaptureFixture,
) -> None:
    factory = Upstreams(failures=2)
    waits: list[int] = []

    def backoff(attempt: int) -> float:
        waits.append(attempt)
        return 0.001

    with caplog.at_level(logging.WARNING, logger="streamkit"):
        async with closing(retry_until_first(factory, attempts=3, backoff=backoff)) as stream:
            assert await collect(stream) == ["a", "b"]
    assert factory.made == 3
    assert waits == [1, 2]  # called with the retry number
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "attempt 1 of 3" in warnings[0]
    assert "ConnectionError" in warnings[0]


@pytest.mark.anyio
async def test_retry_until_first_accepts_a_constant_backoff() -> None:
    factory = Upstreams(failures=1)
    async with closing(retry_until_first(factory, backoff=0.01)) as stream:
        assert await collect(stream) == ["a", "b"]
    assert factory.made == 2


@pytest.mark.anyio
async def test_retry_until_first_reraises_the_last_error_when_attempts_are_exhausted() -> None:
    factory = Upstreams(failures=10)
    waits: list[int] = []

    def backoff(attempt: int) -> float:
        waits.append(attempt)
        return 0.0

    with pytest.raises(ConnectionError, match="attempt 3 failed"):
        async with closing(retry_until_first(factory, attempts=3, backoff=backoff)) as stream:
            await collect(stream)
    assert factory.made == 3
    assert waits == [1, 2]  # no wait after the last attempt


@pytest.mark.anyio
async def test_retry_until_first_with_one_attempt_does_not_retry() -> None:
    factory = Upstreams(failures=1)
    with pytest.raises(ConnectionError, match="attempt 1 failed"):
        async with closing(retry_until_first(factory, attempts=1, backoff=no_wait)) as stream:
            await collect(stream)
    assert factory.made == 1


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_retry_until_first_does_not_retry_after_the_first_item(kind: str) -> None:
    made = 0

    async def async_upstream() -> AsyncIterator[str]:
        yield "a"
        raise ConnectionError("after the first item")

    def sync_upstream() -> Iterator[str]:
        yield "a"
        raise ConnectionError("after the first item")

    def factory() -> Iterable[str] | AsyncIterable[str]:
        nonlocal made
        made += 1
        return async_upstream() if kind == "async" else sync_upstream()

    received: list[str] = []
    with pytest.raises(ConnectionError, match="after the first item"):
        async with closing(retry_until_first(factory, attempts=5, backoff=no_wait)) as stream:
            await collect(stream, received)
    assert received == ["a"]  # sent once, never again
    assert made == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("retry_on", "error", "expected_attempts"),
    [
        pytest.param(ConnectionError, ConnectionError, 3, id="type-matches"),
        pytest.param(ConnectionError, ValueError, 1, id="type-does-not-match"),
        pytest.param(OSError, ConnectionError, 3, id="subclass-matches"),
        pytest.param((KeyError, ConnectionError), ConnectionError, 3, id="tuple-matches"),
        pytest.param((KeyError, TypeError), ConnectionError, 1, id="tuple-does-not-match"),
    ],
)
async def test_retry_until_first_retries_only_the_exception_types_given(
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    error: type[Exception],
    expected_attempts: int,
) -> None:
    factory = Upstreams(failures=10, error=lambda n: error(f"attempt {n} failed"))
    with pytest.raises(error, match=f"attempt {expected_attempts} failed"):
        stream = retry_until_first(factory, attempts=3, backoff=no_wait, retry_on=retry_on)
        async with closing(stream) as items:
            await collect(items)
    assert factory.made == expected_attempts


@pytest.mark.anyio
async def test_retry_until_first_asks_the_predicate_whether_to_retry() -> None:
    factory = Upstreams(
        failures=10,
        error=lambda n: ConnectionError("transient" if n == 1 else "permanent"),
    )
    asked: list[BaseException] = []

    def transient(exc: BaseException) -> bool:
        asked.append(exc)
        return "transient" in str(exc)

    with pytest.raises(ConnectionError, match="permanent"):
        stream = retry_until_first(factory, attempts=5, backoff=no_wait, retry_on=transient)
        async with closing(stream) as items:
            await collect(items)
    assert factory.made == 2
    assert [str(exc) for exc in asked] == ["transient", "permanent"]


@pytest.mark.anyio
async def test_retry_until_first_accepts_an_awaitable_factory() -> None:
    factory = Upstreams(failures=1)
    calls = 0

    async def connect() -> AsyncIterator[str]:
        # Like ``await client.chat.completions.create(..., stream=True)``; the
        # first connection attempt itself fails.
        nonlocal calls
        calls += 1
        await anyio.lowlevel.checkpoint()
        if calls == 1:
            raise ConnectionError("refused")
        return factory()

    def make() -> Awaitable[AsyncIterable[str]]:
        return connect()

    async with closing(retry_until_first(make, backoff=no_wait)) as stream:
        assert await collect(stream) == ["a", "b"]
    assert calls == 3  # refused, then an upstream that failed, then one that worked
    assert factory.log == ["make 1", "end 1", "make 2", "end 2"]


@pytest.mark.anyio
async def test_retry_until_first_accepts_a_factory_that_raises() -> None:
    calls = 0

    def factory() -> Iterable[str]:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("refused")
        return ["a", "b"]

    async with closing(retry_until_first(factory, backoff=no_wait)) as stream:
        assert await collect(stream) == ["a", "b"]
    assert calls == 3


@pytest.mark.anyio
async def test_retry_until_first_accepts_sync_iterables() -> None:
    calls = 0

    def failing() -> Iterator[str]:
        raise ConnectionError("refused")
        yield "never"

    def factory() -> Iterable[str]:
        nonlocal calls
        calls += 1
        return failing() if calls == 1 else iter(["a", "b"])

    async with closing(retry_until_first(factory, backoff=no_wait)) as stream:
        assert await collect(stream) == ["a", "b"]
    assert calls == 2


class BrokenAsyncUpstream:
    """An open upstream (a connection, say) whose first read fails; it stays open
    until closed."""

    def __init__(self, n: int, log: list[str]) -> None:
        self.n, self.log = n, log

    def __aiter__(self) -> BrokenAsyncUpstream:
        return self

    async def __anext__(self) -> str:
        raise ConnectionError(f"read {self.n} failed")

    async def aclose(self) -> None:
        self.log.append(f"close {self.n}")


class BrokenSyncUpstream:
    def __init__(self, n: int, log: list[str]) -> None:
        self.n, self.log = n, log

    def __iter__(self) -> BrokenSyncUpstream:
        return self

    def __next__(self) -> str:
        raise ConnectionError(f"read {self.n} failed")

    def close(self) -> None:
        self.log.append(f"close {self.n}")


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_retry_until_first_closes_the_failed_upstream_before_retrying(kind: str) -> None:
    log: list[str] = []

    def factory() -> Iterable[str] | AsyncIterable[str]:
        n = sum(entry.startswith("make") for entry in log) + 1
        log.append(f"make {n}")
        return BrokenAsyncUpstream(n, log) if kind == "async" else BrokenSyncUpstream(n, log)

    before = threading.active_count()
    with pytest.raises(ConnectionError, match="read 3 failed"):
        async with closing(retry_until_first(factory, attempts=3, backoff=no_wait)) as stream:
            await collect(stream)
    assert log == ["make 1", "close 1", "make 2", "close 2", "make 3", "close 3"]
    assert_no_thread_left(before)


@pytest.mark.anyio
async def test_retry_until_first_never_retries_cancellation() -> None:
    made = 0
    happened: list[str] = []

    def factory() -> AsyncIterator[int]:
        nonlocal made
        made += 1
        return stalls_after([], happened)  # never produces its first item

    with anyio.move_on_after(0.05) as scope:
        async with closing(retry_until_first(factory, backoff=no_wait)) as stream:
            await collect(stream)
    assert scope.cancelled_caught
    assert made == 1
    assert happened == ["finally"]


@pytest.mark.anyio
async def test_retry_until_first_with_an_empty_upstream_yields_nothing() -> None:
    factory = Upstreams(failures=0, items=())
    async with closing(retry_until_first(factory, backoff=no_wait)) as stream:
        assert await collect(stream) == []
    assert factory.log == ["make 1", "end 1"]


@pytest.mark.anyio
async def test_retry_until_first_rejects_fewer_than_one_attempt() -> None:
    with pytest.raises(ValueError, match="attempts"):
        async with closing(retry_until_first(Upstreams(0), attempts=0)) as stream:
            await collect(stream)


def test_exponential_backoff_doubles_up_to_the_maximum() -> None:
    delay = exponential_backoff(0.5, factor=2.0, maximum=8.0, jitter=False)
    assert [delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_exponential_backoff_jitter_stays_between_half_and_all_of_the_delay() -> None:
    delay = exponential_backoff(1.0, factor=3.0, maximum=5.0)
    for n, full in [(1, 1.0), (2, 3.0), (3, 5.0), (4, 5.0)]:
        for _ in range(50):
            assert full / 2 <= delay(n) <= full


# ---------------------------------------------------------------------- nothing leaks

Wrapper = Callable[[Source], AbstractAsyncContextManager[AsyncIterator[object]]]


def wrap_heartbeat(source: Source) -> AbstractAsyncContextManager[AsyncIterator[object]]:
    return heartbeat(source, 0.01)


def wrap_with_timeouts(source: Source) -> AbstractAsyncContextManager[AsyncIterator[object]]:
    return with_timeouts(source, first_item=WAIT, idle=WAIT, total=WAIT)


@asynccontextmanager
async def wrap_catch_errors(source: Source) -> AsyncIterator[AsyncIterator[object]]:
    async with closing(catch_errors(async_iter(source), render=sse_error_frame)) as stream:
        yield stream


@asynccontextmanager
async def wrap_retry_until_first(source: Source) -> AsyncIterator[AsyncIterator[object]]:
    async with closing(retry_until_first(lambda: source, backoff=no_wait)) as stream:
        yield stream


WRAPPERS: list[Any] = [
    pytest.param(wrap_heartbeat, id="heartbeat"),
    pytest.param(wrap_with_timeouts, id="with_timeouts"),
    pytest.param(wrap_catch_errors, id="catch_errors"),
    pytest.param(wrap_retry_until_first, id="retry_until_first"),
]


def ticking_source(kind: str, happened: list[str]) -> Source:
    """An endless source with a pause between items: an ``await anyio.sleep`` for the
    async one, a blocking ``time.sleep`` (which cannot be interrupted) for the sync one."""

    async def async_ticks() -> AsyncIterator[int]:
        try:
            for i in itertools.count():
                yield i
                await anyio.sleep(0.02)
        finally:
            happened.append("finally")

    def sync_ticks() -> Iterator[int]:
        try:
            for i in itertools.count():
                yield i
                time.sleep(0.02)
        finally:
            happened.append("finally")

    return async_ticks() if kind == "async" else sync_ticks()


class ConsumerFailed(Exception):
    pass


@pytest.mark.anyio
@pytest.mark.parametrize("wrap", WRAPPERS)
@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("how", ["break", "cancel", "raise"])
async def test_nothing_leaks_when_the_consumer_leaves(
    wrap: Wrapper, kind: str, how: Literal["break", "cancel", "raise"]
) -> None:
    happened: list[str] = []
    threads_before = threading.active_count()
    tasks_before = len(anyio.get_running_tasks())
    received: list[object] = []
    with anyio.fail_after(WAIT):
        if how == "break":
            async with wrap(ticking_source(kind, happened)) as stream:
                async for item in stream:
                    received.append(item)
                    if item == 1:
                        break
        elif how == "cancel":
            with anyio.move_on_after(0.05) as scope:
                async with wrap(ticking_source(kind, happened)) as stream:
                    await collect(stream, received)
            assert scope.cancelled_caught
        else:
            with pytest.raises(ConsumerFailed):
                async with wrap(ticking_source(kind, happened)) as stream:
                    async for item in stream:
                        received.append(item)
                        if item == 1:
                            raise ConsumerFailed
    numbers = [x for x in received if isinstance(x, int)]
    assert numbers == list(range(len(numbers)))
    if how != "cancel":
        assert numbers == [0, 1]
    assert happened == ["finally"]  # closed before the block was left
    assert len(anyio.get_running_tasks()) == tasks_before
    assert_no_thread_left(threads_before)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda s: heartbeat(s, 0.01), id="heartbeat"),
        pytest.param(lambda s: with_timeouts(s, idle=WAIT), id="with_timeouts"),
        pytest.param(
            lambda s: heartbeat(s, 0),
            id="heartbeat-interval-0",
        ),
        pytest.param(
            lambda s: with_timeouts(s),
            id="with_timeouts-no-limits",
        ),
    ],
)
async def test_a_source_is_closed_even_when_the_consumer_takes_nothing(wrap: Wrapper) -> None:
    source = CloseableIterator()
    with anyio.fail_after(WAIT):
        async with wrap(source):
            pass
    assert source.closed
