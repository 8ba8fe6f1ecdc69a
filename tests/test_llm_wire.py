"""sse_json and ndjson: provider bodies off the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamkit import DecodeError
from streamkit.llm import ndjson, sse_json

BODY = (
    b": OPENROUTER PROCESSING\n\n"
    b'data: {"a": 1}\n\n'
    b"event: message_start\n"
    b'data: {"b": 2}\n\n'
    b"retry: 5\n\n"
    b"data: [DONE]\n\n"
    b'data: {"after": "done"}\n\n'
)


def test_sse_json_skips_comments_and_stops_at_done() -> None:
    assert list(sse_json([BODY])) == [{"a": 1}, {"b": 2, "type": "message_start"}]


@given(st.lists(st.integers(0, len(BODY)), max_size=6))
def test_sse_json_reads_any_chunking(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    pieces = [BODY[a:b] for a, b in zip([0, *points], [*points, len(BODY)], strict=True)]
    assert list(sse_json(pieces)) == [{"a": 1}, {"b": 2, "type": "message_start"}]


def test_a_named_event_keeps_its_own_type() -> None:
    body = b'event: x\ndata: {"type": "y"}\n\n'
    assert list(sse_json([body])) == [{"type": "y"}]


def test_an_unterminated_last_event_is_read() -> None:
    assert list(sse_json([b'data: {"a": 1}\n\ndata: {"b": 2}'])) == [{"a": 1}, {"b": 2}]


def test_a_payload_cut_in_the_middle_raises_decode_error() -> None:
    with pytest.raises(DecodeError, match="not JSON"):
        list(sse_json([b'data: {"a": 1}\n\ndata: {"b": ']))


def test_ndjson_reads_a_last_line_without_newline() -> None:
    assert list(ndjson([b'{"a": 1}\n{"b"', b": 2}"])) == [{"a": 1}, {"b": 2}]


def test_ndjson_bad_line_raises_decode_error() -> None:
    with pytest.raises(DecodeError):
        list(ndjson([b'{"a": 1}\nnope\n']))


def test_closing_sse_json_closes_its_source_at_once() -> None:
    closed: list[bool] = []

    def source() -> Iterator[bytes]:
        try:
            while True:
                yield b'data: {"a": 1}\n\n'
        finally:
            closed.append(True)

    chunks = source()  # held here, so only an explicit close can close it
    payloads = sse_json(chunks)
    next(payloads)
    payloads.close()
    assert closed == [True]


@pytest.mark.anyio
@pytest.mark.parametrize("reader", [sse_json, ndjson])
async def test_closing_the_async_readers_closes_their_source_at_once(reader: object) -> None:
    closed: list[bool] = []

    async def source() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b'data: {"a": 1}\n\n' if reader is sse_json else b'{"a": 1}\n'
        finally:
            closed.append(True)

    chunks = source()
    payloads = reader(chunks)  # type: ignore[operator]
    await anext(payloads)
    await payloads.aclose()
    assert closed == [True]
