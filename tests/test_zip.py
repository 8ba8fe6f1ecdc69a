"""zip_chunks: streamed ZIP archives, read back with the stdlib zipfile."""

from __future__ import annotations

import io
import os
import stat
import struct
import sys
import threading
import tracemalloc
import zipfile
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from streamkit._streams.zipping import (
    ZIP32_LIMIT,
    ZIP32_MAX_ENTRIES,
    ZipMember,
    ZipSource,
    _Cornered,
    _Plan,
    _plan,
    _truncates_at_headers,
    zip_chunks,
)
from streamkit.starlette import StreamResponse
from streamkit.testing import run_server

from .fakes import CloseableIterator
from .strategies import splits

pytestmark = pytest.mark.anyio

WHEN = datetime(2024, 5, 6, 7, 8, 9)
#: Text that deflates to a different size at levels 1, 6 and 9.
TEXT = b"".join(
    f"{i},{i * 7 % 1000},user{i % 97}@example.com,{i * i % 10007}\n".encode() for i in range(20000)
)


async def archive(members: object, **options: int) -> zipfile.ZipFile:
    chunks = zip_chunks(members, **options)  # type: ignore[arg-type]
    with anyio.fail_after(30):
        data = b"".join([chunk async for chunk in chunks])
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    return zf


def contents(zf: zipfile.ZipFile) -> dict[str, bytes]:
    return {name: zf.read(name) for name in zf.namelist()}


def dos_time(when: datetime) -> tuple[int, int, int, int, int, int]:
    """What a ZIP's MS-DOS timestamp keeps of ``when``: seconds rounded down to even."""
    return (when.year, when.month, when.day, when.hour, when.minute, when.second // 2 * 2)


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def apieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for piece in pieces(data, size):
        await anyio.lowlevel.checkpoint()
        yield piece


def deflated_size(data: bytes, level: int, size: int = 64 * 1024) -> int:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return sum(len(compressor.compress(p)) for p in pieces(data, size)) + len(compressor.flush())


def assert_no_thread_left(before: set[threading.Thread]) -> None:
    """Every thread started since ``before`` has ended, within a bounded wait.
    trio's cache of worker threads is the test runner's (its guest mode waits
    for I/O on one), not streamkit's, so it is left out."""
    started = [t for t in threading.enumerate() if t not in before]
    runner = [t for t in started if t.name.startswith("Trio thread")]
    for thread in started:
        if thread not in runner:
            thread.join(5)
            assert not thread.is_alive(), f"thread {thread.name!r} is still running"
    assert threading.active_count() <= len(before) + len(runner)


def zip_version(data: bytes) -> int:
    """The "version needed" of the first local header: 45 for Zip64, 20 otherwise."""
    signature, version = struct.unpack_from("<4sH", data)
    assert signature == b"PK\x03\x04"
    return int(version)


# --- round trips -------------------------------------------------------------


async def test_bytes_sync_and_async_members_round_trip() -> None:
    def rows() -> Iterator[bytes]:
        for i in range(1000):
            yield f"row {i}\n".encode()

    zf = await archive(
        [
            ZipMember("notes.txt", b"hello\n" * 100, modified=WHEN),
            ZipMember("data/rows.csv", rows(), modified=WHEN, mode=0o600),
            ZipMember("data/stream.bin", apieces(TEXT, 1000), modified=WHEN),
            ("photo.jpg", b"\xff\xd8\xff" + bytes(5000)),
        ]
    )
    assert contents(zf) == {
        "notes.txt": b"hello\n" * 100,
        "data/rows.csv": b"".join(f"row {i}\n".encode() for i in range(1000)),
        "data/stream.bin": TEXT,
        "photo.jpg": b"\xff\xd8\xff" + bytes(5000),
    }
    infos = {info.filename: info for info in zf.infolist()}
    assert [info.date_time for info in zf.infolist()[:3]] == [dos_time(WHEN)] * 3
    assert infos["notes.txt"].external_attr >> 16 == stat.S_IFREG | 0o644
    assert infos["data/rows.csv"].external_attr >> 16 == stat.S_IFREG | 0o600
    assert infos["notes.txt"].compress_type == zipfile.ZIP_DEFLATED
    assert infos["photo.jpg"].compress_type == zipfile.ZIP_STORED


async def test_members_without_a_time_get_the_time_of_the_call() -> None:
    before = datetime.now()
    zf = await archive([("a.txt", b"a"), ("b.txt", b"b")])
    after = datetime.now()
    stamps = {info.date_time for info in zf.infolist()}
    assert len(stamps) == 1
    assert dos_time(before) <= stamps.pop() <= dos_time(after)


async def test_path_members_take_size_time_and_mode_from_the_file(tmp_path: Path) -> None:
    text = tmp_path / "report.txt"
    text.write_bytes(TEXT)
    picture = tmp_path / "picture.png"
    picture.write_bytes(os.urandom(100_000))
    text.chmod(0o640)
    picture.chmod(0o604)
    os.utime(text, (1_700_000_001, 1_700_000_001))
    os.utime(picture, (1_600_000_000, 1_600_000_000))
    zf = await archive([("r/report.txt", text), ("r/picture.png", str(picture))])
    report, png = zf.infolist()
    assert contents(zf) == {"r/report.txt": TEXT, "r/picture.png": picture.read_bytes()}
    assert report.date_time == dos_time(datetime.fromtimestamp(1_700_000_001))
    assert png.date_time == dos_time(datetime.fromtimestamp(1_600_000_000))
    assert report.external_attr >> 16 == stat.S_IFREG | 0o640
    assert png.external_attr >> 16 == stat.S_IFREG | 0o604
    assert (report.compress_type, png.compress_type) == (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED)
    assert png.compress_size == png.file_size == 100_000


async def test_an_explicit_time_and_mode_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"a")
    zf = await archive([ZipMember("a.txt", path, modified=WHEN, mode=0o400)])
    (info,) = zf.infolist()
    assert info.date_time == dos_time(WHEN)
    assert info.external_attr >> 16 == stat.S_IFREG | 0o400


async def test_times_outside_the_zip_range_are_clamped() -> None:
    zf = await archive(
        [
            ZipMember("old.txt", b"x", modified=datetime(1970, 1, 1, 12)),
            ZipMember("future.txt", b"x", modified=datetime(2100, 1, 1)),
        ]
    )
    old, future = zf.infolist()
    assert old.date_time == (1980, 1, 1, 0, 0, 0)
    assert future.date_time == dos_time(datetime.fromtimestamp(2**31 - 1))


async def test_an_empty_archive_is_a_valid_zip() -> None:
    zf = await archive([])
    assert zf.namelist() == []


async def test_empty_members_round_trip() -> None:
    def nothing() -> Iterator[bytes]:
        yield from ()

    async def anothing() -> AsyncIterator[bytes]:
        empty: list[bytes] = []
        for chunk in empty:
            yield chunk

    zf = await archive(
        [("a.txt", b""), ("b.txt", nothing()), ("c.txt", anothing()), ("d.jpg", b""), ("e", [b""])]
    )
    assert contents(zf) == dict.fromkeys(["a.txt", "b.txt", "c.txt", "d.jpg", "e"], b"")


async def test_directories_are_entries_with_directory_modes() -> None:
    zf = await archive(
        [("docs/", b""), ZipMember("private/", b"", mode=0o700), ("docs/readme.txt", b"hi")]
    )
    docs, private, readme = zf.infolist()
    assert [info.is_dir() for info in (docs, private, readme)] == [True, True, False]
    assert docs.external_attr >> 16 == stat.S_IFDIR | 0o755
    assert private.external_attr >> 16 == stat.S_IFDIR | 0o700
    assert docs.external_attr & 0x10  # the MS-DOS directory flag
    assert zf.read("docs/readme.txt") == b"hi"


async def test_async_and_iterated_members_round_trip() -> None:
    async def amembers() -> AsyncIterator[ZipMember | tuple[str, bytes]]:
        yield ("a.txt", b"a")
        yield ZipMember("b.txt", apieces(TEXT, 4096))

    def smembers() -> Iterator[tuple[str, bytes]]:
        yield ("c.txt", b"c")

    assert contents(await archive(amembers())) == {"a.txt": b"a", "b.txt": TEXT}
    assert contents(await archive(smembers())) == {"c.txt": b"c"}


# --- compression ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("photo.jpg", zipfile.ZIP_STORED),
        ("PHOTO.JPEG", zipfile.ZIP_STORED),
        ("backup.zip", zipfile.ZIP_STORED),
        ("logs/app.tar.gz", zipfile.ZIP_STORED),
        ("slides.pptx", zipfile.ZIP_STORED),
        ("font.woff2", zipfile.ZIP_STORED),
        ("notes.txt", zipfile.ZIP_DEFLATED),
        ("data.csv", zipfile.ZIP_DEFLATED),
        ("Makefile", zipfile.ZIP_DEFLATED),
        ("jpg", zipfile.ZIP_DEFLATED),  # a name, not an extension
        ("dir.zip/notes", zipfile.ZIP_DEFLATED),  # only the last segment counts
    ],
)
async def test_compressed_types_are_stored_and_others_deflated(name: str, method: int) -> None:
    zf = await archive([(name, TEXT)])
    assert zf.getinfo(name).compress_type == method
    assert zf.read(name) == TEXT


async def test_compress_overrides_the_guess_both_ways() -> None:
    zf = await archive(
        [ZipMember("a.jpg", TEXT, compress=True), ZipMember("b.txt", TEXT, compress=False)]
    )
    a, b = zf.infolist()
    assert a.compress_type == zipfile.ZIP_DEFLATED
    assert a.compress_size < len(TEXT) // 2
    assert b.compress_type == zipfile.ZIP_STORED
    assert b.compress_size == len(TEXT)


async def test_stored_generators_are_deflated_at_level_0_not_buffered() -> None:
    zf = await archive([ZipMember("a.bin", pieces(TEXT, 1000), compress=False)])
    (info,) = zf.infolist()
    assert info.compress_type == zipfile.ZIP_DEFLATED
    # Level 0: stored blocks, a few bytes of framing each; level 1 would be 3x smaller.
    assert len(TEXT) < info.compress_size < len(TEXT) * 1.01
    assert zf.read("a.bin") == TEXT


async def test_a_stored_generator_member_streams_in_bounded_memory(tmp_path: Path) -> None:
    # 64 MiB from a generator with compress=False: stream-zip's buffered
    # NO_COMPRESSION mode would hold all of it; level-0 deflate holds a few chunks.
    member_size = 64 * 1024 * 1024

    def blocks() -> Iterator[bytes]:
        for i in range(member_size // 65536):
            yield bytes([i % 251]) * 65536  # a new object each time

    out = tmp_path / "big.zip"
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        with out.open("wb") as file, anyio.fail_after(60):
            async for chunk in zip_chunks([ZipMember("big.bin", blocks(), compress=False)]):
                file.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - baseline < 8 * 1024 * 1024, f"peak grew by {peak - baseline} bytes"
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo("big.bin").file_size == member_size
        assert zf.testzip() is None


@pytest.mark.parametrize("sized", [True, False], ids=["known size", "unknown size"])
async def test_the_default_level_is_6(sized: bool) -> None:
    sizes = {level: deflated_size(TEXT, level) for level in (1, 6, 9)}
    assert len(set(sizes.values())) == 3  # the data tells the levels apart
    source: Iterable[bytes] | bytes = TEXT if sized else pieces(TEXT, 64 * 1024)
    zf = await archive([("t.txt", source)])
    assert zf.getinfo("t.txt").compress_size == sizes[6]


@pytest.mark.parametrize("level", [0, 1, 9])
@pytest.mark.parametrize("sized", [True, False], ids=["known size", "unknown size"])
async def test_the_level_applies_to_every_deflated_member(level: int, sized: bool) -> None:
    source: Iterable[bytes] | bytes = TEXT if sized else pieces(TEXT, 64 * 1024)
    zf = await archive([("t.txt", source), ("u.txt", TEXT)], level=level)
    assert zf.getinfo("t.txt").compress_size == deflated_size(TEXT, level)
    assert zf.getinfo("u.txt").compress_size == deflated_size(TEXT, level)


# --- Zip32 or Zip64 --------------------------------------------------------------

GIB = 1024**3


def kind(plan: _Plan) -> str:
    return ("stored" if plan.stored else "zip") + plan.width


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # stored, with the size and CRC up front
        ({"stored": True, "size": 10, "crc": 1}, "stored32"),
        ({"stored": True, "size": 5 * GIB, "crc": 1}, "stored64"),
        ({"stored": True, "size": ZIP32_LIMIT - 200, "crc": 1}, "stored32"),
        ({"stored": True, "size": ZIP32_LIMIT, "crc": 1}, "stored64"),
        ({"stored": True, "size": 10, "crc": 1, "offset": ZIP32_LIMIT - 50}, "stored64"),
        ({"stored": True, "size": 10, "crc": 1, "index": ZIP32_MAX_ENTRIES - 1}, "stored32"),
        ({"stored": True, "size": 10, "crc": 1, "index": ZIP32_MAX_ENTRIES}, "stored64"),
        # "stored" without a CRC: deflate level 0, never stream-zip's buffering
        ({"stored": True, "size": 10, "crc": None}, "zip32"),
        ({"stored": True, "size": None, "crc": None}, "zip64"),
        # deflated: Zip32 only when the worst case still fits
        ({"stored": False, "size": 10, "crc": None}, "zip32"),
        ({"stored": False, "size": ZIP32_LIMIT - 1024 * 1024, "crc": None}, "zip64"),
        ({"stored": False, "size": 5 * GIB, "crc": None}, "zip64"),
        ({"stored": False, "size": 10, "crc": None, "offset": ZIP32_LIMIT}, "zip64"),
        ({"stored": False, "size": None, "crc": None}, "zip64"),
        # dodging stream-zip's truncation: a 5-byte name makes a Zip32 header
        # of 44 bytes and a Zip64 one of 64; a header must not end a block
        ({"stored": False, "size": 10, "crc": None, "partial": 1024 - 44}, "zip64"),
        ({"stored": False, "size": 10, "crc": None, "partial": 1024 - 64}, "zip32"),
        ({"stored": False, "size": 10, "crc": None, "partial": 1024 - 45}, "zip32"),
        ({"stored": True, "size": 10, "crc": 1, "partial": 1024 - 44}, "stored64"),
        ({"stored": False, "size": None, "crc": None, "partial": 1024 - 64}, "zip32"),
        ({"stored": False, "size": None, "crc": None, "partial": 1024 - 44}, "zip64"),
    ],
)
def test_the_method_is_chosen_from_what_is_known(options: dict[str, object], expected: str) -> None:
    arguments: dict[str, object] = {"level": 6, "offset": 0, "index": 0, "name_length": 5}
    arguments.update(options, chunk_size=1024)
    plan = _plan(**arguments)  # type: ignore[arg-type]
    assert kind(plan) == expected
    assert plan.level == (0 if options["stored"] or plan.stored else 6)


@pytest.mark.parametrize(
    "options",
    [
        {"stored": True, "size": 5 * GIB, "crc": 1},
        {"stored": False, "size": None, "crc": None, "index": ZIP32_MAX_ENTRIES},
        {"stored": False, "size": None, "crc": None, "offset": ZIP32_LIMIT + 1},
    ],
)
def test_a_member_that_must_be_zip64_and_would_be_cut_short_is_refused(
    options: dict[str, object],
) -> None:
    arguments: dict[str, object] = {"level": 6, "offset": 0, "index": 0, "name_length": 5}
    arguments.update(options, partial=1024 - 64, chunk_size=1024)
    with pytest.raises(_Cornered):
        _plan(**arguments)  # type: ignore[arg-type]


def raw_stream_zip(members: list[tuple[str, bytes]], chunk_size: int) -> bytes:
    """What stream-zip itself makes of deflated Zip32 members, for comparison."""
    from stream_zip import ZIP_32, stream_zip

    return b"".join(
        stream_zip(
            [(name, WHEN, 0o644, ZIP_32, [data]) for name, data in members],
            chunk_size=chunk_size,
            get_compressobj=lambda: zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS),
        )
    )


def is_complete(data: bytes) -> bool:
    return data[-22:-18] == b"PK\x05\x06"


async def test_a_first_header_that_ends_a_block_does_not_truncate_the_archive() -> None:
    name = "n" * (1024 - 39)  # a Zip32 local header of exactly one block
    members = [(name, b"data"), ("b.txt", b"more")]
    if _truncates_at_headers():
        assert not is_complete(raw_stream_zip(members, 1024))  # what is dodged
    chunks = [chunk async for chunk in zip_chunks(members, chunk_size=1024)]
    zf = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert contents(zf) == dict(members)
    assert zf.testzip() is None


async def test_a_later_header_that_ends_a_block_does_not_truncate_the_archive() -> None:
    # The second header starts after the first member's deflated data and its
    # 16-byte descriptor: pick the name that makes it end on a block boundary.
    first = os.urandom(3000)
    after_first = (deflated_size(first, 6, 1024) + 16) % 1024
    name = "m" * ((-after_first - 39) % 1024)
    members = [("a.bin", first), (name, b"second"), ("c.txt", b"third")]
    if _truncates_at_headers():
        assert not is_complete(raw_stream_zip(members, 1024))
    zf = await archive(members, chunk_size=1024)
    assert contents(zf) == dict(members)


async def test_stream_zip_ending_early_is_an_error_not_a_truncated_archive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import stream_zip

    real = stream_zip.stream_zip

    def cut_short(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield next(iter(real(*args, **kwargs)))

    monkeypatch.setattr(stream_zip, "stream_zip", cut_short)
    with pytest.raises(RuntimeError, match="ended the archive before its last member"):
        await archive([("a.bin", os.urandom(5000)), ("b.txt", b"b")], chunk_size=1024)


async def test_a_known_size_makes_a_zip32_member_and_an_unknown_one_zip64() -> None:
    async def first(member: ZipMember) -> bytes:
        async with aclosing(zip_chunks([member], chunk_size=1024)) as chunks:
            return await anext(chunks)

    assert zip_version(await first(ZipMember("a.txt", b"abc"))) == 20
    assert zip_version(await first(ZipMember("a.txt", pieces(b"abc", 1), size=3))) == 20
    assert zip_version(await first(ZipMember("a.txt", pieces(b"abc", 1)))) == 45
    assert zip_version(await first(ZipMember("a.txt", pieces(b"abc", 1), size=5 * GIB))) == 45


async def test_an_upper_bound_of_the_size_is_enough_for_iterables() -> None:
    zf = await archive([ZipMember("a.txt", pieces(TEXT, 999), size=10 * len(TEXT))])
    assert zf.read("a.txt") == TEXT


# --- refusals ----------------------------------------------------------------------

BAD_NAMES = [
    ("", "empty"),
    ("/", "empty"),
    ("/etc/passwd", "absolute"),
    ("../evil.sh", r"'\.\.' segment"),
    ("a/../../evil.sh", r"'\.\.' segment"),
    ("a/..", r"'\.\.' segment"),
    ("a\\..\\evil", "backslash"),
    ("C:/Windows/evil.dll", "Windows drive"),
    ("c:evil", "Windows drive"),
    ("a\0.txt", "control character"),
    ("a\n.txt", "control character"),
    ("a\x7f", "control character"),
    ("a\x85", "control character"),
    ("./a.txt", r"'\.' segment"),
    ("a//b.txt", "empty segment"),
    ("a\udc80", "lone surrogate"),
    ("x" * 70_000, "65535"),
]


@pytest.mark.parametrize(("name", "reason"), BAD_NAMES)
def test_unsafe_names_are_refused_before_any_byte(name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        zip_chunks([("fine.txt", b"ok"), (name, b"x")])
    assert repr(name)[:40] in str(info.value)
    with pytest.raises(ValueError, match=reason):
        ZipMember(name, b"x")


@pytest.mark.parametrize(("name", "reason"), BAD_NAMES[:6])
async def test_unsafe_names_from_an_iterator_raise_when_reached(name: str, reason: str) -> None:
    reached = []

    def members() -> Iterator[tuple[str, bytes]]:
        reached.append("fine")
        yield ("fine.txt", b"ok")
        reached.append("bad")
        yield (name, b"x")

    chunks = zip_chunks(members())
    assert reached == []  # nothing is checked before the member is reached
    with pytest.raises(ValueError, match=reason), anyio.fail_after(5):
        async for _ in chunks:
            pass
    assert reached == ["fine", "bad"]


@pytest.mark.parametrize(
    "names", [["a.txt", "a.txt"], ["d/", "d/"], ["d/", "d"], ["x/y", "z", "x/y"]]
)
async def test_duplicate_names_are_refused(names: list[str]) -> None:
    members = [(name, b"") for name in names]
    with pytest.raises(ValueError, match="appears twice"):
        zip_chunks(members)
    with pytest.raises(ValueError, match="appears twice"), anyio.fail_after(5):
        async for _ in zip_chunks(iter(members)):
            pass


@pytest.mark.parametrize(
    ("member", "error", "match"),
    [
        (lambda: ZipMember("d/", b"content"), ValueError, "directory entry"),
        (lambda: ZipMember("d/", [b""]), ValueError, "directory entry"),
        (lambda: ZipMember("a", b"", mode=0o10000), ValueError, "mode"),
        (lambda: ZipMember("a", b"", mode=-1), ValueError, "mode"),
        (lambda: ZipMember("a", b"", size=-1), ValueError, "size"),
        (lambda: ZipMember("a", b"abc", size=4), ValueError, "size=4"),
        (lambda: ZipMember("a", 42), TypeError, "source"),  # type: ignore[arg-type]
        (lambda: ZipMember(b"a", b""), TypeError, "name"),  # type: ignore[arg-type]
        (lambda: ZipMember("a", b"", modified=0), TypeError, "datetime"),  # type: ignore[arg-type]
        (lambda: zip_chunks([("a", b"", 0o644)]), TypeError, "tuple"),  # type: ignore[list-item]
        (lambda: zip_chunks(["a.txt"]), TypeError, "ZipMember"),  # type: ignore[list-item]
    ],
)
def test_bad_members_are_refused(member: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        member()  # type: ignore[operator]


@pytest.mark.parametrize("level", [-1, 10, 6.0, True, None])
def test_a_bad_level_is_refused(level: object) -> None:
    with pytest.raises(ValueError, match="level"):
        zip_chunks([], level=level)  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk_size", [0, 1023, 1024.0, True])
def test_a_bad_chunk_size_is_refused(chunk_size: object) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        zip_chunks([], chunk_size=chunk_size)  # type: ignore[arg-type]


def test_missing_stream_zip_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "stream_zip", None)  # makes the import fail
    with pytest.raises(ImportError, match=r'pip install "streamkit\[zip\]"'):
        zip_chunks([("a.txt", b"a")])


async def test_a_path_member_with_a_wrong_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc")
    with pytest.raises(ValueError, match="size=2 but the file has 3 bytes"):
        await archive([ZipMember("a.txt", path, size=2)])


async def test_a_missing_file_raises_when_its_member_is_reached(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await archive([("a.txt", tmp_path / "missing.txt")])


# --- failures and closing ----------------------------------------------------------


async def test_an_error_in_a_sync_source_propagates() -> None:
    def failing() -> Iterator[bytes]:
        yield b"some data"
        raise RuntimeError("disk on fire")

    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="disk on fire"), anyio.fail_after(5):
        await archive([("a.txt", b"fine"), ("b.txt", failing())])
    assert_no_thread_left(before)


async def test_an_error_in_an_async_source_propagates() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"some data"
        await anyio.lowlevel.checkpoint()
        raise RuntimeError("upstream hung up")

    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="upstream hung up"), anyio.fail_after(5):
        await archive([("a.txt", failing())])
    assert_no_thread_left(before)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_chunk_that_is_not_bytes_is_refused(kind: str) -> None:
    async def text() -> AsyncIterator[str]:
        yield "not bytes"

    source = iter(["not bytes"]) if kind == "sync" else text()
    with pytest.raises(TypeError, match=r"'a\.txt': chunks must be bytes, got str"):
        await archive([("a.txt", source)])


async def test_closing_after_the_first_chunk_closes_a_sync_source_on_its_thread() -> None:
    ran_on: list[threading.Thread] = []
    closed_on: list[threading.Thread] = []

    def endless() -> Iterator[bytes]:
        ran_on.append(threading.current_thread())
        try:
            while True:
                yield os.urandom(4096)
        finally:
            closed_on.append(threading.current_thread())

    before = set(threading.enumerate())
    chunks = zip_chunks([("a.bin", endless())], chunk_size=1024)
    with anyio.fail_after(5):
        await anext(chunks)
        await chunks.aclose()
    assert closed_on == ran_on
    assert closed_on[0] is not threading.current_thread()
    closed_on[0].join(5)
    assert not closed_on[0].is_alive()
    assert_no_thread_left(before)


async def test_closing_after_the_first_chunk_cancels_a_waiting_async_source() -> None:
    closed = anyio.Event()
    waiting = anyio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        try:
            # Two chunks' worth of archive, well within what the thread may
            # run ahead of the consumer: the thread then asks for more.
            yield os.urandom(128 * 1024)
            waiting.set()  # the zip thread is now blocked on this source
            await anyio.sleep_forever()
        finally:
            closed.set()

    before = set(threading.enumerate())
    chunks = zip_chunks([ZipMember("a.bin", stalled(), compress=False)])
    with anyio.fail_after(5):
        await anext(chunks)
        await waiting.wait()
        await chunks.aclose()
    assert closed.is_set()
    assert_no_thread_left(before)


async def cancel_once(members: list[tuple[str, object]], ready: anyio.Event) -> None:
    """Consume the archive of ``members`` in a task, cancelled once ``ready`` is set."""

    async def consume() -> None:
        async for _ in zip_chunks(members, chunk_size=1024):  # type: ignore[arg-type]
            pass

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await ready.wait()
            tg.cancel_scope.cancel()


async def test_cancelling_the_consumer_closes_a_sync_source_on_its_thread() -> None:
    running = anyio.Event()
    closed_on: list[str] = []
    token = anyio.lowlevel.current_token()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield os.urandom(1024)
                if not running.is_set():
                    anyio.from_thread.run_sync(running.set, token=token)
        finally:
            closed_on.append(threading.current_thread().name)

    before = set(threading.enumerate())
    await cancel_once([("a.bin", endless())], running)
    assert closed_on == ["streamkit-sync-source"]
    assert_no_thread_left(before)


async def test_cancelling_while_an_async_source_waits_closes_it_and_the_rest() -> None:
    waiting = anyio.Event()
    closed = anyio.Event()
    unreached = CloseableIterator()

    async def stalled() -> AsyncIterator[bytes]:
        try:
            yield b"x"
            waiting.set()  # the zip thread is now blocked on this source
            await anyio.sleep_forever()
        finally:
            closed.set()

    before = set(threading.enumerate())
    await cancel_once([("a.bin", stalled()), ("b.bin", unreached)], waiting)
    assert closed.is_set()
    assert unreached.closed  # never reached, closed all the same
    assert_no_thread_left(before)


async def test_closing_before_iterating_closes_the_member_sources() -> None:
    first, second = CloseableIterator(), CloseableIterator()
    closed = anyio.Event()

    class Response:  # an async iterator that holds a connection from the start
        def __aiter__(self) -> Response:
            return self

        async def __anext__(self) -> bytes:
            return b"x"

        async def aclose(self) -> None:
            closed.set()

    chunks = zip_chunks([("a", first), ("b", second), ("c", Response())])  # type: ignore[list-item]
    await chunks.aclose()
    assert first.closed
    assert second.closed
    assert closed.is_set()
    assert [chunk async for chunk in chunks] == []


async def test_closing_early_closes_async_members_and_the_members_iterator() -> None:
    closed: list[str] = []

    async def data() -> AsyncIterator[bytes]:
        try:
            while True:
                yield os.urandom(1024)
        finally:
            closed.append("data")

    async def members() -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
        try:
            yield ("a.bin", data())
            yield ("b.bin", data())
        finally:
            closed.append("members")

    before = set(threading.enumerate())
    chunks = zip_chunks(members(), chunk_size=1024)
    with anyio.fail_after(5):
        await anext(chunks)
        await anext(chunks)
        await chunks.aclose()
    assert sorted(closed) == ["data", "members"]
    assert_no_thread_left(before)


async def test_sync_sources_run_on_the_zip_thread_and_async_ones_on_the_loop() -> None:
    seen: dict[str, set[str]] = {"sync": set(), "async": set()}

    def rows() -> Iterator[bytes]:
        for i in range(100):
            seen["sync"].add(threading.current_thread().name)
            yield TEXT[i * 1000 : (i + 1) * 1000]

    async def arows() -> AsyncIterator[bytes]:
        for i in range(100):
            await anyio.lowlevel.checkpoint()
            seen["async"].add(threading.current_thread().name)
            yield TEXT[i * 1000 : (i + 1) * 1000]

    zf = await archive([("a.txt", rows()), ("b.txt", arows())])
    assert zf.read("a.txt") == zf.read("b.txt") == TEXT[:100_000]
    assert seen == {"sync": {"streamkit-sync-source"}, "async": {"MainThread"}}


# --- a real server -----------------------------------------------------------------


def test_a_zip_download_through_a_real_server(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(TEXT)
    closed = threading.Event()
    closed_on: list[str] = []

    def rows() -> Iterator[bytes]:
        for i in range(10_000):
            yield f"{i}\n".encode()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield os.urandom(65536)
        finally:
            closed_on.append(threading.current_thread().name)
            closed.set()

    async def export(request: Request) -> StreamResponse:
        members: list[tuple[str, ZipSource]] = [
            ("report.txt", path),
            ("rows.csv", rows()),
            ("photo.jpg", b"\xff" * 999),
        ]
        return StreamResponse(zip_chunks(members), media_type="application/zip")

    async def forever(request: Request) -> StreamResponse:
        return StreamResponse(zip_chunks([("noise.bin", endless())]), media_type="application/zip")

    app = Starlette(routes=[Route("/export.zip", export), Route("/forever.zip", forever)])
    with run_server(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        response = client.get("/export.zip")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        zf = zipfile.ZipFile(io.BytesIO(response.content))
        assert zf.testzip() is None
        assert contents(zf) == {
            "report.txt": TEXT,
            "rows.csv": b"".join(f"{i}\n".encode() for i in range(10_000)),
            "photo.jpg": b"\xff" * 999,
        }
        # A client that hangs up: the endless member is closed on its thread.
        with client.stream("GET", "/forever.zip") as stream:
            assert next(stream.iter_bytes()).startswith(b"PK\x03\x04")
        assert closed.wait(10)
        assert closed_on == ["streamkit-sync-source"]


# --- property ----------------------------------------------------------------------

_segments = st.text(
    st.characters(codec="utf-8", categories=("L", "N")) | st.sampled_from("-_ .~é+"),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in {".", ".."})
_names = st.lists(_segments, min_size=1, max_size=3).map("/".join)


@st.composite
def _members(draw: st.DrawFn) -> list[tuple[str, bytes, bool | None, str, list[bytes]]]:
    names = draw(st.lists(_names, max_size=6, unique=True))
    members = []
    for name in names:
        data = draw(st.binary(max_size=3000) | st.just(TEXT[: draw(st.integers(0, 5000))]))
        compress = draw(st.none() | st.booleans())
        kind = draw(st.sampled_from(["bytes", "sync", "async"]))
        members.append((name, data, compress, kind, draw(splits(data))))
    return members


async def _async_pieces(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@given(_members(), st.sampled_from([1024, 1031, 64 * 1024]))
async def test_any_members_round_trip_exactly(
    members: list[tuple[str, bytes, bool | None, str, list[bytes]]], chunk_size: int
) -> None:
    built = []
    for name, data, compress, kind, parts in members:
        source: object = (
            data if kind == "bytes" else iter(parts) if kind == "sync" else _async_pieces(parts)
        )
        built.append(ZipMember(name, source, compress=compress, modified=WHEN))  # type: ignore[arg-type]
    chunks = [chunk async for chunk in zip_chunks(built, chunk_size=chunk_size)]
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    zf = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert zf.testzip() is None
    assert zf.namelist() == [name for name, *_ in members]
    for info, (_, data, compress, kind, _) in zip(zf.infolist(), members, strict=True):
        assert zf.read(info) == data
        assert info.date_time == dos_time(WHEN)
        if compress is False and kind == "bytes":
            assert info.compress_type == zipfile.ZIP_STORED
        if compress:
            assert info.compress_type == zipfile.ZIP_DEFLATED
