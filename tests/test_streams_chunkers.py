"""Chunkers: items encoded and coalesced into chunks, without added latency."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamkit import (
    EncodeError,
    FirstItemTimeout,
    IdleTimeout,
    ServerSentEvent,
    SSEDecoder,
    coalesce,
    encoded_chunks,
    sse_chunks,
)

pytestmark = pytest.mark.anyio


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


@given(
    pieces=st.lists(st.binary(max_size=300), max_size=60),
    chunk_size=st.integers(min_value=1, max_value=1000),
    as_async=st.booleans(),
)
async def test_chunks_concatenate_to_exactly_the_pieces(
    pieces: list[bytes], chunk_size: int, as_async: bool
) -> None:
    async def agen() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    source = agen() if as_async else iter(pieces)
    async with coalesce(source, chunk_size=chunk_size) as chunks:
        out = await collect(chunks)
    assert b"".join(out) == b"".join(pieces)
    assert all(out)  # no empty chunks
    # A chunk only exceeds chunk_size when it is a single piece that does.
    assert all(len(chunk) <= chunk_size or chunk in pieces for chunk in out)


async def test_what_is_ready_goes_out_together() -> None:
    async def fast() -> AsyncIterator[bytes]:
        for _ in range(2000):
            yield b"x" * 100  # never awaits: everything is ready at once

    async with coalesce(fast(), chunk_size=64 * 1024) as chunks:
        out = await collect(chunks)
    assert b"".join(out) == b"x" * 200_000
    assert len(out) <= 5  # 200 kB in 64 KiB chunks, not 2000 sends


async def test_a_ready_sync_source_is_coalesced_too() -> None:
    async with sse_chunks(ServerSentEvent(f"event {i}") for i in range(20_000)) as chunks:
        out = await collect(chunks)
    events = SSEDecoder().feed(b"".join(out))
    assert [e.data for e in events] == [f"event {i}" for i in range(20_000)]
    assert len(out) < 20_000 // 50


async def test_a_slow_source_has_each_piece_sent_at_once() -> None:
    # The source makes its second piece only once the first has reached the
    # consumer: a chunker that waited to fill a chunk would deadlock here.
    received_first = anyio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"first"
        await received_first.wait()
        yield b"second"

    with anyio.fail_after(5):
        async with coalesce(slow()) as chunks:
            assert await anext(chunks) == b"first"
            received_first.set()
            assert await anext(chunks) == b"second"


async def test_flush_interval_trades_latency_for_fuller_chunks() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"row\n"
            await anyio.sleep(0.005)

    async with coalesce(trickle()) as chunks:
        eager = await collect(chunks)
    async with coalesce(trickle(), flush_interval=10) as chunks:
        batched = await collect(chunks)
    assert b"".join(eager) == b"".join(batched) == b"row\n" * 10
    assert len(eager) == 10  # each piece as it came
    assert len(batched) == 1  # held until the source ended (before the 10 s bound)


async def test_flush_interval_sends_a_partial_chunk_when_it_expires() -> None:
    release = anyio.Event()

    async def source() -> AsyncIterator[bytes]:
        yield b"a"
        await release.wait()
        yield b"b"

    with anyio.fail_after(5):
        async with coalesce(source(), flush_interval=0.05) as chunks:
            assert await anext(chunks) == b"a"  # sent after 50 ms, not held forever
            release.set()
            assert await anext(chunks) == b"b"


async def test_a_producer_that_never_awaits_is_still_stopped() -> None:
    produced = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal produced
        while True:  # no await at all
            produced += 1
            yield b"y" * 1000

    with anyio.fail_after(5):
        async with coalesce(endless(), chunk_size=10_000) as chunks:
            async for _ in chunks:
                break
    assert produced < 1000  # stopped soon after the consumer left


async def test_an_outer_cancel_stops_a_producer_that_never_awaits() -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"z" * 100

    with anyio.fail_after(5), anyio.move_on_after(0.05) as scope:
        async with coalesce(endless()) as chunks:
            async for _ in chunks:
                await anyio.sleep(0)
    assert scope.cancelled_caught


async def test_the_producer_runs_at_most_about_one_chunk_ahead() -> None:
    produced = 0

    def rows() -> Iterator[bytes]:
        nonlocal produced
        for _ in range(100_000):
            produced += 100
            yield b"r" * 100

    async with coalesce(rows(), chunk_size=4096) as chunks:
        await anext(chunks)
        await anyio.sleep(0.1)  # a frozen client: the producer must stop
        # One chunk handed over, one buffered, one in the thread's buffer,
        # and the piece in hand: memory is bounded by a few chunks.
        assert produced <= 4 * 4096 + 100


async def test_source_error_is_raised_after_the_chunks_before_it() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"ok"
        await anyio.sleep(0)
        raise RuntimeError("database went away")

    got: list[bytes] = []
    with pytest.raises(RuntimeError, match="database went away"):
        async with coalesce(failing()) as chunks:
            async for chunk in chunks:
                got.append(chunk)  # noqa: PERF401  (the chunks before the error are the point)
    assert got == [b"ok"]


async def test_leaving_early_closes_a_sync_source_and_leaves_no_thread() -> None:
    closed = threading.Event()

    def source() -> Iterator[ServerSentEvent]:
        try:
            i = 0
            while True:
                i += 1
                yield ServerSentEvent(str(i))
        finally:
            closed.set()

    before = threading.active_count()
    async with sse_chunks(source()) as chunks:
        await anext(chunks)
    assert closed.is_set()
    assert threading.active_count() == before


async def test_an_exception_in_the_consumer_closes_the_source_and_propagates() -> None:
    closed = anyio.Event()

    async def source() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x"
                await anyio.sleep(0)
        finally:
            closed.set()

    with pytest.raises(KeyError):
        async with coalesce(source()) as chunks:
            await anext(chunks)
            raise KeyError("client gone")
    assert closed.is_set()


@dataclasses.dataclass
class Tick:
    n: int


async def test_sse_chunks_accepts_events_bytes_text_and_json_values() -> None:
    items = [
        ServerSentEvent("a", event="e", id="1"),
        b"data: raw\n\n",
        "plain text",
        {"k": [1, 2]},
        Tick(3),
    ]
    async with sse_chunks(items) as chunks:
        wire = b"".join(await collect(chunks))
    assert wire == (
        b"id: 1\nevent: e\ndata: a\n\n"
        b"data: raw\n\n"
        b"data: plain text\n\n"
        b'data: {"k":[1,2]}\n\n'
        b'data: {"n":3}\n\n'
    )


async def test_sse_chunks_uses_the_separator_everywhere() -> None:
    async with sse_chunks(["a\nb"], sep="\r\n") as chunks:
        assert await collect(chunks) == [b"data: a\r\ndata: b\r\n\r\n"]


def test_sse_chunks_refuses_a_bare_cr_separator() -> None:
    with pytest.raises(ValueError, match="sep must be"):
        sse_chunks([], sep="\r")


async def test_an_item_that_cannot_be_encoded_names_its_index() -> None:
    got: list[bytes] = []
    with pytest.raises(EncodeError, match="object") as info:
        async with sse_chunks(["first", "second", object()]) as chunks:
            got.extend([chunk async for chunk in chunks])
    assert "item 2 of the stream" in "\n".join(info.value.__notes__)


async def test_an_invalid_event_from_a_sync_source_names_its_index() -> None:
    def items() -> Iterator[object]:
        yield "ok"
        yield ServerSentEvent  # not an event instance

    with pytest.raises(EncodeError) as info:
        async with sse_chunks(items()) as chunks:
            await collect(chunks)
    assert "item 1 of the stream" in "\n".join(info.value.__notes__)


async def test_sse_chunks_sends_a_comment_heartbeat_when_idle() -> None:
    resume = anyio.Event()

    async def quiet() -> AsyncIterator[str]:
        yield "hello"
        await resume.wait()
        yield "again"

    with anyio.fail_after(5):
        async with sse_chunks(quiet(), heartbeat=0.02) as chunks:
            assert await anext(chunks) == b"data: hello\n\n"
            assert await anext(chunks) == b":\n"
            resume.set()
            rest = await collect(chunks)
    assert rest[-1] == b"data: again\n\n"
    assert set(rest[:-1]) <= {b":\n"}


async def test_encoded_chunks_enforces_first_item_and_idle_timeouts() -> None:
    async def late() -> AsyncIterator[int]:
        await anyio.sleep(10)
        yield 1

    with pytest.raises(FirstItemTimeout, match=r"no item within 0\.02 s"):
        async with encoded_chunks(late(), lambda i: b"%d" % i, first_item=0.02) as chunks:
            await collect(chunks)

    async def stalls() -> AsyncIterator[int]:
        yield 1
        await anyio.sleep(10)
        yield 2

    got: list[bytes] = []
    with pytest.raises(IdleTimeout):
        async with encoded_chunks(stalls(), lambda i: b"%d" % i, idle=0.02) as chunks:
            async for chunk in chunks:
                got.append(chunk)  # noqa: PERF401
    assert got == [b"1"]


def test_bad_chunker_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="heartbeat needs a non-empty heartbeat_frame"):
        encoded_chunks([], bytes, heartbeat=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_size": 0}, "chunk_size must be at least 1"),
        ({"flush_interval": -1.0}, "flush_interval must be"),
    ],
)
async def test_bad_coalesce_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        async with coalesce([b"x"], **kwargs) as chunks:  # type: ignore[arg-type]
            await collect(chunks)


async def test_pieces_must_be_bytes() -> None:
    with pytest.raises(TypeError, match=r"coalesce\(\) takes byte pieces, got str"):
        async with coalesce(["text"]) as chunks:  # type: ignore[list-item]
            await collect(chunks)
