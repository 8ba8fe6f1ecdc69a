"""Export chunkers: JSON Lines, json-seq, JSON arrays and CSV, streamed."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import tracemalloc
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from streamkit import (
    CSVEncoder,
    EncodeError,
    JSONLDecoder,
    JSONSeqDecoder,
    csv_chunks,
    encode_jsonl,
    json_array_chunks,
    json_seq_chunks,
    jsonl_chunks,
)
from streamkit._formats.jsonl import jsonl_encoder
from streamkit.testing import run_server

from .fakes import assert_no_thread_left

pytestmark = pytest.mark.anyio


async def collect(cm: object) -> bytes:
    async with cm as chunks:  # type: ignore[attr-defined]
        return b"".join([chunk async for chunk in chunks])


ROWS = [{"id": i, "name": f"user {i}", "score": i * 1.5} for i in range(5)]


async def test_jsonl_chunks_writes_one_compact_line_per_item() -> None:
    wire = await collect(jsonl_chunks(ROWS))
    assert wire.count(b"\n") == 5
    assert JSONLDecoder().feed(wire) == ROWS


async def test_jsonl_trailer_counts_the_items_of_a_complete_stream() -> None:
    values = JSONLDecoder().feed(await collect(jsonl_chunks(iter(ROWS), trailer=True)))
    assert values[:-1] == ROWS
    assert values[-1] == {"type": "end", "count": 5}


async def test_jsonl_custom_trailer() -> None:
    values = JSONLDecoder().feed(
        await collect(jsonl_chunks(ROWS, trailer=lambda n: {"done": True, "rows": n}))
    )
    assert values[-1] == {"done": True, "rows": 5}


async def test_a_failed_stream_gets_no_trailer() -> None:
    async def failing() -> AsyncIterator[dict[str, int]]:
        yield {"id": 1}
        raise RuntimeError("db gone")

    got = bytearray()
    with pytest.raises(RuntimeError, match="db gone"):
        async with jsonl_chunks(failing(), trailer=True) as chunks:
            async for chunk in chunks:
                got += chunk
    assert JSONLDecoder().feed(bytes(got)) == [{"id": 1}]  # no end record: truncated


async def test_json_seq_chunks_round_trips() -> None:
    wire = await collect(json_seq_chunks(ROWS))
    assert wire.startswith(b"\x1e")
    decoder = JSONSeqDecoder()
    assert decoder.feed(wire) + decoder.close() == ROWS


@pytest.mark.parametrize("count", [0, 1, 2, 1000])
@pytest.mark.parametrize("kind", ["list", "generator", "async"])
async def test_json_array_is_one_valid_array(count: int, kind: str) -> None:
    items = [{"n": i} for i in range(count)]

    async def agen() -> AsyncIterator[dict[str, int]]:
        for item in items:
            yield item

    sources: dict[str, Iterable[dict[str, int]] | AsyncIterable[dict[str, int]]] = {
        "list": items,
        "generator": iter(items),
        "async": agen(),
    }
    source = sources[kind]
    assert json.loads(await collect(json_array_chunks(source))) == items


async def test_json_array_wrapped_in_an_object_with_fields_before_and_after() -> None:
    wire = await collect(
        json_array_chunks(iter(ROWS), key="items", before={"page": 1}, after=lambda n: {"count": n})
    )
    assert json.loads(wire) == {"page": 1, "items": ROWS, "count": 5}


async def test_json_array_wrapped_with_no_items_and_no_fields() -> None:
    assert json.loads(await collect(json_array_chunks([], key="data"))) == {"data": []}


async def test_a_failed_json_array_is_not_valid_json() -> None:
    def failing() -> Iterator[dict[str, int]]:
        yield {"n": 1}
        raise ValueError("boom")

    got = bytearray()
    with pytest.raises(ValueError, match="boom"):
        async with json_array_chunks(failing()) as chunks:
            async for chunk in chunks:
                got += chunk
    with pytest.raises(json.JSONDecodeError):
        json.loads(bytes(got))


def test_json_array_fields_need_a_key() -> None:
    with pytest.raises(ValueError, match="need key="):
        json_array_chunks([], before={"a": 1})


async def test_csv_chunks_writes_header_and_rows() -> None:
    wire = await collect(csv_chunks(ROWS))
    assert list(csv.reader(io.StringIO(wire.decode()))) == [
        ["id", "name", "score"],
        *[[str(r["id"]), str(r["name"]), str(r["score"])] for r in ROWS],
    ]


async def test_an_empty_csv_export_still_has_its_header() -> None:
    assert await collect(csv_chunks([], fieldnames=["a", "b"])) == b"a,b\r\n"
    assert await collect(csv_chunks([])) == b""  # no field names known: nothing to write


async def test_csv_chunks_accepts_a_configured_encoder() -> None:
    encoder = CSVEncoder.excel(["id", "name"], extra="ignore")
    wire = await collect(csv_chunks(iter(ROWS), encoder=encoder))
    assert wire.startswith(b"\xef\xbb\xbfid,name\r\n")


async def test_csv_formula_guard_is_on_by_default_in_streams() -> None:
    wire = await collect(csv_chunks([{"name": '=HYPERLINK("http://evil")', "n": -5}]))
    assert wire == b'name,n\r\n"\'=HYPERLINK(""http://evil"")",-5\r\n'


async def test_an_unencodable_row_names_its_index() -> None:
    rows = [{"a": 1}, {"a": 2}, {"a": b"raw"}]
    with pytest.raises(EncodeError, match="CSV row 2, column 1"):
        await collect(csv_chunks(rows))


@given(st.lists(st.dictionaries(st.sampled_from("abc"), st.integers()), max_size=30))
async def test_jsonl_chunks_round_trip_any_rows(rows: list[dict[str, int]]) -> None:
    wire = await collect(jsonl_chunks(iter(rows)))
    assert JSONLDecoder().feed(wire) == rows


async def test_heartbeat_in_a_json_stream_is_a_blank_line_readers_skip() -> None:
    resume = anyio.Event()

    async def slow() -> AsyncIterator[dict[str, int]]:
        yield {"n": 1}
        await resume.wait()
        yield {"n": 2}

    got = bytearray()
    with anyio.fail_after(5):
        async with jsonl_chunks(slow(), heartbeat=0.02) as chunks:
            async for chunk in chunks:
                got += chunk
                if chunk == b"\n":
                    resume.set()
    assert b"\n\n" in bytes(got)
    assert JSONLDecoder().feed(bytes(got)) == [{"n": 1}, {"n": 2}]


async def test_export_memory_stays_bounded_by_the_chunk_size() -> None:
    # 200k rows (about 7 MB of JSON) streamed from a generator: the memory
    # traced at the peak stays around a few chunks, not the whole export.
    def rows() -> Iterator[dict[str, object]]:
        for i in range(200_000):
            yield {"id": i, "name": f"user-{i}", "email": f"user{i}@example.com"}

    total = 0
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        async with jsonl_chunks(rows()) as chunks:
            async for chunk in chunks:
                total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 7_000_000
    assert peak - baseline < 2 * 1024 * 1024, f"peak grew by {peak - baseline} bytes"


# --- a real database, through a real server ---------------------------------


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "users.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, score REAL)")
        db.executemany(
            "INSERT INTO users VALUES (?, ?, ?, ?)",
            ((i, f'User {i}, "the {i}th"', f"u{i}@example.com", i / 7) for i in range(1, 20_001)),
        )
        # A hostile value, to see the guard work end to end.
        db.execute("UPDATE users SET name = '=HYPERLINK(\"http://evil\")' WHERE id = 7")
    return path


def user_rows(path: Path) -> Iterator[sqlite3.Row]:
    # A server-side cursor: rows are fetched as the export goes, on streamkit's
    # source thread, and the connection is closed there when the export ends.
    db = sqlite3.connect(path, check_same_thread=False)
    db.row_factory = sqlite3.Row
    try:
        yield from db.execute("SELECT id, name, email, score FROM users ORDER BY id")
    finally:
        db.close()


def export_app(path: Path) -> object:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["path"].rsplit(".", 1)[-1]
        if kind == "csv":
            media, cm = b"text/csv; charset=utf-8; header=present", csv_chunks(user_rows(path))
        else:
            media, cm = (
                b"application/jsonl",
                jsonl_chunks((dict(row) for row in user_rows(path)), trailer=True),
            )
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", media)]}
        )
        async with cm as chunks:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


@pytest.fixture(scope="module")
def export_url(database: Path) -> Iterator[str]:
    with run_server(export_app(database)) as url:  # type: ignore[arg-type]
        yield url


def expected_users(path: Path) -> list[tuple[int, str, str, float]]:
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT id, name, email, score FROM users ORDER BY id"))


def test_csv_export_of_a_database_matches_it_row_for_row(export_url: str, database: Path) -> None:
    with httpx.stream("GET", f"{export_url}/users.csv", timeout=30) as response:
        body = b"".join(response.iter_bytes())
        sizes = response.num_bytes_downloaded
    assert sizes == len(body)
    header, *rows = list(csv.reader(io.StringIO(body.decode())))
    assert header == ["id", "name", "email", "score"]
    expected = expected_users(database)
    assert len(rows) == len(expected) == 20_000
    for got, (id_, name, email, score) in zip(rows, expected, strict=True):
        shown = "'" + name if name.startswith("=") else name  # the formula guard
        assert got == [str(id_), shown, email, repr(score)]


def test_jsonl_export_of_a_database_matches_it_row_for_row(export_url: str, database: Path) -> None:
    decoder = JSONLDecoder()
    values = []
    with httpx.stream("GET", f"{export_url}/users.jsonl", timeout=30) as response:
        assert response.headers["content-type"] == "application/jsonl"
        for chunk in response.iter_bytes():
            values.extend(decoder.feed(chunk))
    values.extend(decoder.close())
    *rows, end = values
    assert end == {"type": "end", "count": 20_000}
    expected = expected_users(database)
    assert [(r["id"], r["name"], r["email"], r["score"]) for r in rows] == expected


async def test_leaving_an_export_early_closes_the_database_cursor(database: Path) -> None:
    before = threading.active_count()
    async with csv_chunks(user_rows(database)) as chunks:
        await anext(chunks)
    assert_no_thread_left(before)


_cells = st.none() | st.integers() | st.text() | st.floats(allow_nan=False) | st.booleans()


@given(
    st.lists(st.fixed_dictionaries({"a": _cells, "b": st.none() | st.text()}), max_size=40),
    st.booleans(),
)
def test_the_csv_batch_path_writes_what_the_row_path_writes(
    rows: list[dict[str, object]], guard: bool
) -> None:
    # Plain dict rows take a column-at-a-time batch path; a mapping that is not
    # a dict always takes the exact row-by-row path. The bytes must agree.
    batched = CSVEncoder(["a", "b"], formula_guard=guard)
    exact = CSVEncoder(["a", "b"], formula_guard=guard)
    first, rest = rows[:1], rows[1:]
    fast = batched.encode_many(first) + batched.encode_many(rest) + batched.finish()
    slow = (
        exact.encode_many([MappingProxyType(r) for r in first])
        + exact.encode_many([MappingProxyType(r) for r in rest])
        + exact.finish()
    )
    assert fast == slow


def test_jsonl_fast_path_writes_what_the_full_path_writes() -> None:
    values: list[object] = [{"a": 1}, {1: "int key"}, [2**70], {"d": Decimal("1.5")}, None]
    stream = b"".join(jsonl_encoder()(v) for v in values)
    assert stream == b"".join(encode_jsonl(v) for v in values)
