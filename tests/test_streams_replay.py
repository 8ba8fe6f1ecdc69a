"""EventLog: numbering, replay after a Last-Event-ID, live delivery, gaps.

Async tests run on asyncio and trio; every wait is bounded by ``fail_after``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamkit import EventLog, InvalidEventError, ServerSentEvent, SSEDecoder, encode_sse

pytestmark = pytest.mark.anyio


async def take(events: AsyncIterator[ServerSentEvent], n: int) -> list[ServerSentEvent]:
    got: list[ServerSentEvent] = []
    with anyio.fail_after(5):
        async for event in events:
            got.append(event)
            if len(got) == n:
                break
    return got


def test_ids_are_prefixed_and_increasing() -> None:
    log = EventLog()
    first = log.append("a")
    second = log.append({"n": 2}, event="tick")
    assert first.id == f"{log.prefix}-1"
    assert second.id == f"{log.prefix}-2"
    assert second.event == "tick"
    assert second.data == '{"n":2}'
    assert log.last_id == second.id
    assert len(log) == 2


def test_two_logs_have_different_prefixes() -> None:
    assert EventLog().prefix != EventLog().prefix


def test_a_ready_event_is_accepted_and_given_an_id() -> None:
    log = EventLog()
    got = log.append(ServerSentEvent("x", event="e", retry=100))
    assert (got.data, got.event, got.retry, got.id) == ("x", "e", 100, f"{log.prefix}-1")


@pytest.mark.parametrize(
    ("item", "options", "message"),
    [
        (ServerSentEvent("x", id="7"), {}, "gives events their ids"),
        (ServerSentEvent("x"), {"event": "e"}, "on the ServerSentEvent itself"),
    ],
)
def test_bad_appends_are_refused(
    item: ServerSentEvent, options: dict[str, str], message: str
) -> None:
    log = EventLog()
    with pytest.raises(ValueError, match=message):
        log.append(item, **options)  # type: ignore[arg-type]
    assert len(log) == 0
    assert log.last_id is None


def test_an_invalid_event_name_is_refused_and_uses_no_number() -> None:
    log = EventLog()
    with pytest.raises(InvalidEventError):
        log.append("x", event="a\nb")
    assert log.append("y").id == f"{log.prefix}-1"


def test_maxlen_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxlen"):
        EventLog(0)


def test_append_after_close_is_refused() -> None:
    log = EventLog()
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.append("x")


@pytest.mark.parametrize(
    "value",
    ["", "1", "abc", "-1", "x-1", "{p}-", "{p}-x", "{p}-1-2", "{p}--1", "{p}-٣", "{p}-99"],
)
def test_ids_not_given_out_by_this_log_have_no_position(value: str) -> None:
    log = EventLog()
    log.append("a")
    assert log.position(value.format(p=log.prefix)) is None
    assert not log.covers(value.format(p=log.prefix))


def test_covers_is_false_once_the_next_event_is_dropped() -> None:
    log = EventLog(maxlen=3)
    ids = [log.append(str(n)).id for n in range(5)]  # holds 2, 3, 4
    assert [log.covers(i) for i in ids if i is not None] == [False, True, True, True, True]


async def test_a_new_subscriber_gets_only_new_events() -> None:
    log = EventLog()
    log.append("old")
    events = log.subscribe()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_append_later, log, ["new 1", "new 2"])
        got = await take(events, 2)
    await events.aclose()
    assert [e.data for e in got] == ["new 1", "new 2"]


async def _append_later(log: EventLog, values: list[str]) -> None:
    await anyio.sleep(0.02)
    for value in values:
        log.append(value)


async def test_a_resuming_subscriber_gets_what_it_missed_then_live_events() -> None:
    log = EventLog()
    ids = [log.append(str(n)).id for n in range(5)]
    events = log.subscribe(ids[1])
    async with anyio.create_task_group() as tg:
        tg.start_soon(_append_later, log, ["5"])
        got = await take(events, 4)
    await events.aclose()
    assert [e.data for e in got] == ["2", "3", "4", "5"]


async def test_an_id_too_old_gives_the_gap_event_then_the_oldest_held() -> None:
    log = EventLog(maxlen=2)
    ids = [log.append(str(n)).id for n in range(4)]  # holds 2, 3
    log.close()
    got = [e async for e in log.subscribe(ids[0])]
    assert [(e.event, e.data) for e in got] == [("reset", ""), (None, "2"), (None, "3")]


async def test_an_unknown_id_gives_the_gap_event() -> None:
    log = EventLog()
    log.append("a")
    log.close()
    got = [e async for e in log.subscribe("from-another-server-7")]
    assert [(e.event, e.data) for e in got] == [("reset", ""), (None, "a")]


async def test_no_gap_event_when_switched_off() -> None:
    log = EventLog(gap_event=None)
    log.append("a")
    log.close()
    assert [e.data async for e in log.subscribe("nope")] == ["a"]


async def test_close_ends_every_subscriber_after_what_it_had_not_had() -> None:
    log = EventLog()
    results: list[list[str]] = [[], []]

    async def subscriber(index: int, started: anyio.Event) -> None:
        events = log.subscribe()
        started.set()
        async for event in events:
            assert event.data is not None
            results[index].append(event.data)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for index in range(2):
                started = anyio.Event()
                tg.start_soon(subscriber, index, started)
                await started.wait()
            await anyio.sleep(0.01)  # both subscribers are waiting
            log.append("a")
            log.append("b")
            log.close()
    assert results == [["a", "b"], ["a", "b"]]


async def test_a_cancelled_subscriber_does_not_disturb_the_others() -> None:
    log = EventLog()
    got: list[str] = []

    async def follower() -> None:
        async for event in log.subscribe():
            assert event.data is not None
            got.append(event.data)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(follower)
            with anyio.move_on_after(0.02):
                async with aclosing(log.subscribe()) as events:
                    async for _ in events:  # cancelled while waiting
                        pass
            log.append("after")
            log.close()
    assert got == ["after"]


async def test_a_subscriber_more_than_maxlen_behind_gets_the_gap_event() -> None:
    log = EventLog(maxlen=3)
    events = log.subscribe()
    log.append("0")
    first = await take(events, 1)
    for n in range(1, 10):  # the subscriber reads nothing meanwhile: 1-6 are dropped
        log.append(str(n))
    log.close()
    rest = [e async for e in events]
    assert [e.data for e in first] == ["0"]
    assert [(e.event, e.data) for e in rest] == [
        ("reset", ""),
        (None, "7"),
        (None, "8"),
        (None, "9"),
    ]


@given(
    maxlen=st.integers(1, 8),
    appended=st.integers(0, 20),
    seen=st.integers(0, 25),
)
def test_resuming_never_skips_silently_nor_repeats(maxlen: int, appended: int, seen: int) -> None:
    """Whatever the id, a subscriber gets either every event after it, or
    the gap event followed by every event held."""
    log = EventLog(maxlen=maxlen)
    for n in range(1, appended + 1):
        log.append(str(n))
    log.close()

    async def collect() -> list[ServerSentEvent]:
        return [e async for e in log.subscribe(f"{log.prefix}-{seen}")]

    got = anyio.run(collect)
    first_held = max(1, appended - maxlen + 1)
    if seen <= appended and seen + 1 >= first_held:  # "<prefix>-0": from the start
        assert [e.data for e in got] == [str(n) for n in range(seen + 1, appended + 1)]
    else:
        assert got[0].event == "reset"
        assert [e.data for e in got[1:]] == [str(n) for n in range(first_held, appended + 1)]


def test_the_gap_event_is_dispatched_by_a_browser_parser() -> None:
    """An event with empty data still fires in a browser (a data line is
    present), so a ``reset`` handler runs."""
    log = EventLog()
    assert log.gap_event is not None
    (event,) = SSEDecoder().feed(encode_sse(log.gap_event))
    assert (event.event, event.data) == ("reset", "")
