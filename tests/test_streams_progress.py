"""progress(): drive work items and report on them with typed, rate-limited records.

Async tests run on asyncio and trio. Assertions are on the records' order, counts and
arithmetic, never on how long anything took.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import aclosing
from typing import Any

import anyio
import pytest

from streamkit import Progress, ServerSentEvent, SSEDecoder, encode_sse, progress

from .fakes import CloseableIterator, assert_no_thread_left

#: The bound on every wait: far longer than any test needs, only reached if one hangs.
WAIT = 5.0


def closing_progress(
    work: Iterable[Any] | AsyncIterable[Any], *, total: int | None = None, every: float = 0.5
) -> aclosing[AsyncGenerator[Progress, None]]:
    """``progress()`` in ``aclosing``: ``async for`` does not close a generator it leaves."""
    records = progress(work, total=total, every=every)
    assert isinstance(records, AsyncGenerator)
    return aclosing(records)


async def collect(records: AsyncIterator[Progress], into: list[Progress] | None = None) -> None:
    """Append each record to ``into`` as it arrives (so a test sees those before a failure)."""
    received = [] if into is None else into
    with anyio.fail_after(WAIT):
        async for record in records:
            received.append(record)


async def records_of(
    work: Iterable[Any] | AsyncIterable[Any], *, total: int | None = None, every: float = 0.5
) -> list[Progress]:
    with anyio.fail_after(WAIT):
        async with closing_progress(work, total=total, every=every) as records:
            return [record async for record in records]


async def ticking(count: int, pause: float = 0.0) -> AsyncIterator[int]:
    for i in range(count):
        await anyio.sleep(pause)
        yield i


@pytest.mark.anyio
async def test_progress_first_record_is_done_zero() -> None:
    first = (await records_of(range(5), every=0))[0]
    assert first.done == 0
    assert first.total == 5
    assert first.fraction == 0.0
    assert not first.final


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["async", "sync", "list"])
async def test_progress_final_record_reports_every_item(kind: str) -> None:
    work: Iterable[int] | AsyncIterable[int]
    if kind == "async":
        work = ticking(7)
    elif kind == "sync":
        work = (i for i in range(7))
    else:
        work = list(range(7))
    records = await records_of(work, every=0.5)
    final = records[-1]
    assert final.final
    assert final.done == 7
    assert [r.final for r in records] == [False] * (len(records) - 1) + [True]


@pytest.mark.anyio
async def test_progress_with_every_zero_sends_one_record_per_item_then_a_final_one() -> None:
    records = await records_of(ticking(5), every=0)
    assert [(r.done, r.final) for r in records] == [
        (0, False),
        (1, False),
        (2, False),
        (3, False),
        (4, False),
        (5, False),
        (5, True),
    ]


@pytest.mark.anyio
async def test_progress_with_a_large_every_sends_only_the_first_and_final_records() -> None:
    records = await records_of(ticking(50), total=50, every=3600)
    assert [(r.done, r.final) for r in records] == [(0, False), (50, True)]


@pytest.mark.anyio
async def test_progress_sends_at_most_one_record_per_every_seconds() -> None:
    every = 0.03
    records = await records_of(ticking(12, pause=0.01), every=every)
    intermediate = [r for r in records[1:] if not r.final]
    # However the work was scheduled, a record needs `every` seconds since the last.
    assert len(intermediate) <= records[-1].elapsed / every + 1
    dones = [r.done for r in records]
    assert dones == sorted(dones)
    assert len(set(dones[:-1])) == len(dones) - 1  # no record repeats a count, but the last


@pytest.mark.anyio
async def test_progress_fraction_and_eta_follow_the_total() -> None:
    records = await records_of(ticking(4, pause=0.005), total=4, every=0)
    for record in records:
        assert record.total == 4
        assert record.fraction == record.done / 4
        if record.rate > 0:
            assert record.eta is not None
            assert record.eta == pytest.approx((4 - record.done) / record.rate)
    final = records[-1]
    assert final.fraction == 1.0
    assert final.eta == 0.0


@pytest.mark.anyio
async def test_progress_takes_the_total_from_len() -> None:
    records = await records_of(["a", "b", "c"], every=0)
    assert {r.total for r in records} == {3}
    assert records[-1].fraction == 1.0


@pytest.mark.anyio
async def test_progress_explicit_total_wins_over_len() -> None:
    records = await records_of(["a", "b"], total=4, every=3600)
    assert records[-1].total == 4
    assert records[-1].fraction == 0.5


@pytest.mark.anyio
async def test_progress_without_a_total_has_no_fraction_or_eta() -> None:
    records = await records_of((i for i in range(3)), every=0)
    assert [r.done for r in records] == [0, 1, 2, 3, 3]
    for record in records:
        assert record.total is None
        assert record.fraction is None
        assert record.eta is None


@pytest.mark.anyio
async def test_progress_fraction_is_capped_at_one_when_the_total_is_too_small() -> None:
    final = (await records_of(range(6), total=4, every=3600))[-1]
    assert final.done == 6
    assert final.fraction == 1.0
    assert final.eta == 0.0


@pytest.mark.anyio
async def test_progress_rate_is_items_per_second_so_far() -> None:
    records = await records_of(ticking(5, pause=0.005), every=0)
    elapsed = [r.elapsed for r in records]
    assert elapsed == sorted(elapsed)
    assert all(r.elapsed >= 0 and r.rate >= 0 for r in records)
    final = records[-1]
    assert final.elapsed > 0
    assert final.rate == pytest.approx(5 / final.elapsed)


@pytest.mark.anyio
async def test_progress_of_empty_work_sends_the_first_and_final_records() -> None:
    records = await records_of([], every=0)
    assert [(r.done, r.total, r.final) for r in records] == [(0, 0, False), (0, 0, True)]


@pytest.mark.anyio
async def test_progress_runs_sync_work_on_a_thread() -> None:
    threads: set[str] = set()

    def work() -> Iterator[int]:
        for i in range(3):
            threads.add(threading.current_thread().name)
            time.sleep(0.001)  # a blocking step must not stall the event loop
            yield i

    records = await records_of(work(), every=0)
    assert records[-1].done == 3
    assert threads == {"streamkit-sync-source"}


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_progress_passes_an_error_in_the_work_through(kind: str) -> None:
    boom = ValueError("step 3 failed")

    async def async_work() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise boom

    def sync_work() -> Iterator[int]:
        yield 1
        yield 2
        raise boom

    work = async_work() if kind == "async" else sync_work()
    received: list[Progress] = []
    with pytest.raises(ValueError, match="step 3 failed") as info, anyio.fail_after(WAIT):
        async with closing_progress(work, every=0) as records:
            await collect(records, received)
    assert info.value is boom
    assert [r.done for r in received] == [0, 1, 2]
    assert not any(r.final for r in received)  # no final record for failed work


def work_with_finally(kind: str, happened: list[str]) -> Iterable[int] | AsyncIterable[int]:
    """Endless work with a pause per step: ``await anyio.sleep`` or a blocking
    ``time.sleep``, which is where the consumer leaves it."""

    async def async_work() -> AsyncIterator[int]:
        try:
            for i in itertools.count():
                await anyio.sleep(0.01)
                yield i
        finally:
            happened.append("finally")

    def sync_work() -> Iterator[int]:
        try:
            for i in itertools.count():
                time.sleep(0.01)
                yield i
        finally:
            happened.append("finally")

    return async_work() if kind == "async" else sync_work()


class ConsumerFailed(Exception):
    pass


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("how", ["break", "cancel", "raise"])
async def test_progress_closes_the_work_when_the_consumer_leaves(kind: str, how: str) -> None:
    happened: list[str] = []
    before = threading.active_count()
    received: list[Progress] = []
    with anyio.fail_after(WAIT):
        if how == "break":
            async with closing_progress(work_with_finally(kind, happened), every=0) as records:
                async for record in records:
                    received.append(record)
                    if record.done == 2:
                        break
        elif how == "cancel":
            with anyio.move_on_after(0.05) as scope:
                async with closing_progress(work_with_finally(kind, happened), every=0) as records:
                    await collect(records, received)
            assert scope.cancelled_caught
        else:
            with pytest.raises(ConsumerFailed):
                async with closing_progress(work_with_finally(kind, happened), every=0) as records:
                    async for record in records:
                        received.append(record)
                        if record.done == 2:
                            raise ConsumerFailed
    assert happened == ["finally"]
    assert not any(r.final for r in received)
    assert_no_thread_left(before)


@pytest.mark.anyio
async def test_progress_closes_the_work_when_the_consumer_leaves_at_the_first_record() -> None:
    work = CloseableIterator()
    async with closing_progress(work, every=0) as records:
        async for _ in records:
            break
    assert work.closed


@pytest.mark.parametrize("every", [-0.1, math.nan, math.inf])
@pytest.mark.anyio
async def test_progress_rejects_an_invalid_every(every: float) -> None:
    with pytest.raises(ValueError, match="every"):
        await records_of([1], every=every)


@pytest.mark.anyio
async def test_progress_rejects_a_negative_total() -> None:
    with pytest.raises(ValueError, match="total"):
        await records_of([1], total=-1)


# ------------------------------------------------------------------- records on the wire

RECORD = Progress(
    done=3, total=4, elapsed=1.23456, rate=2.43007, fraction=0.75, eta=0.411534, final=False
)


def test_progress_to_dict_is_a_json_lines_record() -> None:
    record = RECORD.to_dict()
    assert record == {
        "type": "progress",
        "done": 3,
        "total": 4,
        "fraction": 0.75,
        "rate": 2.43,
        "elapsed": 1.235,
        "eta": 0.412,
        "final": False,
    }
    assert json.loads(json.dumps(record)) == record


def test_progress_to_dict_keeps_unknowns_as_null() -> None:
    record = Progress(done=0, total=None, elapsed=0.0, rate=0.0, fraction=None, eta=None)
    assert record.to_dict() == {
        "type": "progress",
        "done": 0,
        "total": None,
        "fraction": None,
        "rate": 0.0,
        "elapsed": 0.0,
        "eta": None,
        "final": False,
    }


def test_progress_to_event_is_a_progress_event_with_json_data() -> None:
    event = RECORD.to_event()
    assert isinstance(event, ServerSentEvent)
    assert event.event == "progress"
    assert event.id is None
    assert event.data is not None
    assert json.loads(event.data) == RECORD.to_dict()
    # ... and it survives the wire.
    (decoded,) = SSEDecoder().feed(encode_sse(event))
    assert decoded.event == "progress"
    assert decoded.data is not None
    assert json.loads(decoded.data) == RECORD.to_dict()


def test_progress_to_event_takes_an_event_name_and_an_id() -> None:
    event = dataclasses.replace(RECORD, final=True).to_event(event="job", id="42")
    assert event.event == "job"
    assert event.id == "42"
    assert event.data is not None
    assert json.loads(event.data)["final"] is True


def test_progress_records_are_frozen_and_keyword_only() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RECORD.done = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        Progress(3, 4, 1.0, 3.0, 0.75, 0.3)  # type: ignore[call-arg]


@pytest.mark.anyio
async def test_progress_over_no_work_ends_all_done() -> None:
    records = [record async for record in progress([])]
    assert records[-1].final
    assert records[-1].total == 0
    assert records[-1].fraction == 1.0
