"""file_chunks and safe_join: reading files for streaming, without HTTP."""

from __future__ import annotations

import gc
import os
import stat
import threading
import warnings
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from pathlib import Path

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamkit
from streamkit import FileNotServable, file_chunks, safe_join
from streamkit._streams.files import DEFAULT_FILE_CHUNK_SIZE, open_regular_file

#: A generous bound for anything that should take milliseconds.
WAIT = 5.0


def open_fds_to(path: Path) -> list[int]:
    """The descriptors of this process that point at ``path`` (Linux)."""
    target = os.path.realpath(path)
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == target:
                found.append(int(name))
        except OSError:  # closed between listdir and readlink
            continue
    return found


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


async def read_all(chunks: AsyncGenerator[bytes, None]) -> list[bytes]:
    async with aclosing(chunks):
        return [chunk async for chunk in chunks]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory that Hypothesis examples can reuse (tmp_path is per test)."""
    return tmp_path_factory.mktemp("scratch")


# -- file_chunks: what is read -----------------------------------------------------


@pytest.mark.anyio
@given(
    data=st.binary(max_size=3000),
    start=st.integers(0, 3100),
    length=st.none() | st.integers(0, 3100),
    chunk_size=st.integers(1, 700) | st.sampled_from([DEFAULT_FILE_CHUNK_SIZE, 1 << 20]),
)
async def test_file_chunks_gives_exactly_the_slice(
    scratch: Path, data: bytes, start: int, length: int | None, chunk_size: int
) -> None:
    path = scratch / "slice.bin"
    path.write_bytes(data)
    end = None if length is None else start + length
    chunks = await read_all(file_chunks(path, start=start, end=end, chunk_size=chunk_size))
    assert b"".join(chunks) == data[start:end]
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)


@pytest.mark.anyio
async def test_file_chunks_reads_a_file_larger_than_a_hop_in_full_chunks(tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 3)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    chunks = await read_all(file_chunks(path))
    assert b"".join(chunks) == data
    assert [len(c) for c in chunks[:-1]] == [DEFAULT_FILE_CHUNK_SIZE] * (len(chunks) - 1)


@pytest.mark.anyio
async def test_file_chunks_accepts_str_and_pathlike(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello")
    assert await read_all(file_chunks(str(path))) == [b"hello"]
    assert await read_all(file_chunks(path, start=1, end=3)) == [b"el"]


@pytest.mark.anyio
async def test_an_empty_file_gives_no_chunk(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert await read_all(file_chunks(path)) == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "kwargs",
    [
        {"chunk_size": 0},
        {"chunk_size": -1},
        {"start": -1},
        {"start": 5, "end": 4},
        {"start": 0, "end": -1},
    ],
)
async def test_file_chunks_rejects_bad_arguments(tmp_path: Path, kwargs: dict[str, int]) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"0123456789")
    with pytest.raises(ValueError, match=r"chunk_size|byte range"):
        await read_all(file_chunks(path, **kwargs))
    assert not open_fds_to(path)


# -- file_chunks: what cannot be served ----------------------------------------------


def test_file_not_servable_is_public_and_an_os_error() -> None:
    assert streamkit.FileNotServable is FileNotServable
    assert issubclass(FileNotServable, OSError)
    assert issubclass(FileNotServable, streamkit.StreamkitError)


@pytest.mark.anyio
async def test_a_missing_file_is_not_servable(tmp_path: Path) -> None:
    with pytest.raises(FileNotServable):
        await read_all(file_chunks(tmp_path / "missing.bin"))


@pytest.mark.anyio
async def test_a_directory_is_not_servable(tmp_path: Path) -> None:
    with pytest.raises(FileNotServable, match="not a regular file"):
        await read_all(file_chunks(tmp_path))


@pytest.mark.anyio
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
async def test_a_fifo_is_not_servable_and_opening_it_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # A blocking open of a FIFO waits for a writer, on a worker thread that no
    # cancellation reaches. So the bound is a watchdog: after WAIT seconds it
    # opens the write end, which releases a reader stuck in open() (and
    # fails with ENXIO when no reader is waiting, as it should be).
    stuck = threading.Event()

    def release_a_stuck_reader() -> None:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return
        stuck.set()
        os.close(fd)

    watchdog = threading.Timer(WAIT, release_a_stuck_reader)
    watchdog.start()
    try:
        with pytest.raises(FileNotServable, match="not a regular file"):
            await read_all(file_chunks(fifo))
    finally:
        watchdog.cancel()
        watchdog.join(WAIT)
    assert not stuck.is_set(), "opening the FIFO waited for a writer"


@pytest.mark.anyio
async def test_a_character_device_is_not_servable() -> None:
    if not os.path.exists("/dev/null"):
        pytest.skip("needs /dev/null")
    with pytest.raises(FileNotServable, match="not a regular file"):
        await read_all(file_chunks("/dev/null"))


@pytest.mark.anyio
@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
async def test_an_unreadable_file_is_not_servable(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can read a file with mode 000")
    path = tmp_path / "secret.bin"
    path.write_bytes(b"secret")
    path.chmod(0)
    try:
        with pytest.raises(FileNotServable):
            await read_all(file_chunks(path))
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


@pytest.mark.parametrize("name", ["a\0b", "x" * 5000])
def test_a_name_the_os_refuses_is_not_servable(tmp_path: Path, name: str) -> None:
    with pytest.raises(FileNotServable):
        open_regular_file(tmp_path / name)


@pytest.mark.anyio
async def test_a_symlink_to_a_regular_file_is_served(tmp_path: Path) -> None:
    (tmp_path / "real.bin").write_bytes(b"data")
    (tmp_path / "link.bin").symlink_to(tmp_path / "real.bin")
    assert await read_all(file_chunks(tmp_path / "link.bin")) == [b"data"]


def test_open_regular_file_stats_what_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"12345")
    opened = open_regular_file(path)
    try:
        path.write_bytes(b"1234567890")  # the same inode, rewritten
        replacement = tmp_path / "b.bin"
        replacement.write_bytes(b"x" * 99)
        replacement.replace(path)  # the name now points at another file
        assert opened.size == 5
        assert opened.file.read() == b"1234567890"  # still the inode it opened
    finally:
        opened.close()
    assert opened.file.closed


# -- file_chunks: the file is closed -----------------------------------------------------


@pytest.fixture
def ten_chunks(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ten.bin"
    path.write_bytes(os.urandom(10 * 1024))
    yield path
    assert not open_fds_to(path), "a test left the file open"


@needs_proc
@pytest.mark.anyio
async def test_the_file_is_open_while_read_and_closed_at_the_end(ten_chunks: Path) -> None:
    chunks = file_chunks(ten_chunks, chunk_size=1024)
    async with aclosing(chunks):
        first = await anext(chunks)
        assert len(first) == 1024
        assert len(open_fds_to(ten_chunks)) == 1  # the check below can fail
        rest = [chunk async for chunk in chunks]
        assert len(rest) == 9
        assert not open_fds_to(ten_chunks)  # closed by the end of iteration itself


#: See test_closing_file_chunks_early_also_closes_its_inner_generator: on trio
#: the unclosed inner generator warns when it is collected. The tests below
#: are about the file, so they let that (pinned) warning pass.
inner_generator_warning = pytest.mark.filterwarnings(
    "ignore:Async generator 'streamkit._streams.files.range_chunks' was garbage collected"
    ":ResourceWarning"
)


@needs_proc
@inner_generator_warning
@pytest.mark.anyio
async def test_the_file_is_closed_when_the_generator_is_closed_early(ten_chunks: Path) -> None:
    chunks = file_chunks(ten_chunks, chunk_size=1024)
    await anext(chunks)
    assert len(open_fds_to(ten_chunks)) == 1
    await chunks.aclose()
    assert not open_fds_to(ten_chunks)


@needs_proc
@pytest.mark.anyio
async def test_the_file_is_closed_when_the_reader_is_cancelled(ten_chunks: Path) -> None:
    received = 0
    chunks = file_chunks(ten_chunks, chunk_size=1024)
    with anyio.CancelScope() as scope:
        async for _ in chunks:
            received += 1
            assert len(open_fds_to(ten_chunks)) == 1
            # The next read (a worker-thread hop inside the generator) is
            # where the cancellation lands: the generator itself must close
            # the file, without anyone calling aclose().
            scope.cancel()
    assert scope.cancelled_caught
    assert received == 1
    assert not open_fds_to(ten_chunks)
    await chunks.aclose()  # already finished: a no-op


@needs_proc
@inner_generator_warning
@pytest.mark.anyio
async def test_the_file_is_closed_when_a_task_reading_it_is_cancelled(ten_chunks: Path) -> None:
    got_one = anyio.Event()

    async def reader() -> None:
        async with aclosing(file_chunks(ten_chunks, chunk_size=1024)) as chunks:
            async for _ in chunks:
                got_one.set()
                await anyio.sleep_forever()

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await got_one.wait()
            assert len(open_fds_to(ten_chunks)) == 1
            tg.cancel_scope.cancel()
    assert not open_fds_to(ten_chunks)


@needs_proc
@inner_generator_warning
@pytest.mark.anyio
async def test_the_file_is_closed_when_the_consumer_fails(ten_chunks: Path) -> None:
    with pytest.raises(RuntimeError, match="consumer"):
        async with aclosing(file_chunks(ten_chunks, chunk_size=1024)) as chunks:
            async for _ in chunks:
                raise RuntimeError("the consumer failed")
    assert not open_fds_to(ten_chunks)


@pytest.mark.parametrize("anyio_backend", ["trio"])  # the backend whose hooks tell
@pytest.mark.anyio
async def test_closing_file_chunks_early_also_closes_its_inner_generator(
    ten_chunks: Path,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = file_chunks(ten_chunks, chunk_size=1024)
        await anext(chunks)
        await chunks.aclose()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


# -- file_chunks: the file changes while being read ------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("new_size", [0, 1500, 2048, 9999])
async def test_a_file_truncated_while_read_raises_instead_of_ending_short(
    tmp_path: Path, new_size: int
) -> None:
    path = tmp_path / "shrinks.bin"
    data = os.urandom(10 * 1024)
    path.write_bytes(data)
    received = bytearray()
    with pytest.raises(OSError, match="changed while being sent") as caught:
        async with aclosing(file_chunks(path, chunk_size=1024)) as chunks:
            async for chunk in chunks:
                received += chunk
                if len(received) == 1024:
                    os.truncate(path, new_size)
    assert not isinstance(caught.value, FileNotServable)
    assert len(received) < len(data)
    assert data.startswith(bytes(received))  # what came before the error is right


@pytest.mark.anyio
async def test_a_range_cut_off_by_truncation_raises_too(tmp_path: Path) -> None:
    path = tmp_path / "shrinks.bin"
    path.write_bytes(os.urandom(10 * 1024))
    with pytest.raises(OSError, match="changed while being sent"):
        async with aclosing(file_chunks(path, start=4096, end=8192, chunk_size=1024)) as chunks:
            async for _ in chunks:
                os.truncate(path, 6000)


@pytest.mark.anyio
async def test_a_file_that_grows_while_read_is_read_to_its_size_when_opened(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grows.bin"
    data = os.urandom(4096)
    path.write_bytes(data)
    received = bytearray()
    async with aclosing(file_chunks(path, chunk_size=1024)) as chunks:
        async for chunk in chunks:
            if not received:
                with path.open("ab") as f:
                    f.write(b"appended later")
            received += chunk
    assert bytes(received) == data


# -- safe_join -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """base/files (the root) with files, a subdirectory and symlinks, next to
    base/files-private (a sibling whose name starts with the root's)."""
    base = tmp_path_factory.mktemp("tree")
    root = base / "files"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    (root / "...").write_text("dots")
    (root / "é.txt").write_text("e")
    private = base / "files-private"
    private.mkdir()
    (private / "secret.txt").write_text("secret")
    (base / "outside.txt").write_text("outside")
    (root / "to-outside").symlink_to(base / "outside.txt")
    (root / "to-private").symlink_to(private)
    (root / "to-etc").symlink_to("/etc")
    (root / "to-parent").symlink_to("..")
    (root / "to-sub").symlink_to("sub")
    (root / "to-b").symlink_to(root / "sub" / "b.txt")
    (base / "root-link").symlink_to(root)
    return root


def inside(root: Path, found: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(found)]) == real_root


@pytest.mark.parametrize(
    "user_path",
    [
        "",
        ".",
        "./",
        "..",
        "../",
        "../files-private/secret.txt",
        "a/../../x",
        "a/..",
        "sub/../../outside.txt",
        "/etc/passwd",
        "//server/x",
        "/",
        "C:x",
        "c:/x",
        "C:\\x",
        "\\..\\x",
        "\\\\server\\x",
        "a\\b",
        "sub\\b.txt",
        "a\0b",
        "a.txt\0.png",
        "a\nb",
        "a\x7fb",
        # symlinks that lead out of the root
        "to-outside",
        "to-private/secret.txt",
        "to-private",  # its real path has the root as a string prefix
        "to-etc/passwd",
        "to-parent/outside.txt",
        "to-parent/files-private/secret.txt",
        "a:b",  # looks like a drive letter
    ],
)
def test_safe_join_refuses(tree: Path, user_path: str) -> None:
    assert safe_join(tree, user_path) is None


@pytest.mark.parametrize(
    ("user_path", "expected"),
    [
        ("a.txt", "a.txt"),
        ("sub/b.txt", "sub/b.txt"),
        ("sub//b.txt", "sub/b.txt"),
        ("./a.txt", "a.txt"),
        ("sub/./b.txt", "sub/b.txt"),
        ("sub/", "sub"),
        ("...", "..."),
        ("é.txt", "é.txt"),
        ("missing.txt", "missing.txt"),  # existence is not checked here
        ("to-sub/b.txt", "sub/b.txt"),  # a symlink that stays inside
        ("to-b", "sub/b.txt"),
        ("ab:c", "ab:c"),  # a colon elsewhere than a drive letter's place
        ("to-parent/files/a.txt", "a.txt"),  # out through a symlink and back in
    ],
)
def test_safe_join_allows(tree: Path, user_path: str, expected: str) -> None:
    found = safe_join(tree, user_path)
    assert found == Path(os.path.realpath(tree)) / expected
    assert inside(tree, found)


def test_safe_join_takes_the_root_as_str_or_path(tree: Path) -> None:
    assert safe_join(str(tree), "a.txt") == safe_join(tree, "a.txt")


def test_safe_join_resolves_a_root_that_is_itself_a_symlink(tree: Path) -> None:
    link = tree.parent / "root-link"
    assert safe_join(link, "a.txt") == Path(os.path.realpath(tree)) / "a.txt"
    assert safe_join(link, "to-outside") is None


def test_safe_join_compares_whole_components_not_string_prefixes(tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    private = tmp_path / "files-private"
    private.mkdir()
    (private / "x").write_text("x")
    (root / "leak").symlink_to(private / "x")
    assert str(private / "x").startswith(str(root))  # what a prefix check would admit
    assert safe_join(root, "leak") is None
    assert safe_join(root, "../files-private/x") is None


def test_safe_join_refuses_what_is_not_a_str(tree: Path) -> None:
    assert safe_join(tree, b"a.txt") is None  # type: ignore[arg-type]
    assert safe_join(tree, None) is None  # type: ignore[arg-type]


def test_safe_join_with_a_nul_in_the_root_refuses() -> None:
    assert safe_join("/tmp\0x", "a.txt") is None


#: Path pieces that matter to traversal, mixed with arbitrary text.
path_pieces = st.one_of(
    st.sampled_from(
        [
            "..",
            ".",
            "/",
            "//",
            "\\",
            "\0",
            "C:",
            "c:\\",
            "a",
            "sub",
            "b.txt",
            "é",
            "%2e%2e",
            " ",
            "to-outside",
            "to-private",
            "to-parent",
            "to-etc",
            "to-sub",
            "\u2024\u2024",  # one dot leader, twice: not ".." to the OS
        ]
    ),
    st.text(max_size=5),
)


@given(st.lists(path_pieces, max_size=12).map("".join) | st.text())
def test_safe_join_never_leaves_the_root(tree: Path, user_path: str) -> None:
    found = safe_join(tree, user_path)
    if found is not None:
        assert found.is_absolute()
        assert inside(tree, found), (user_path, found)
        assert str(found) == os.path.realpath(found)  # symlinks already resolved


@given(st.lists(st.sampled_from(["a.txt", "sub", "b.txt", "...", "to-sub", "x"]), min_size=1))
def test_safe_join_allows_plain_relative_names(tree: Path, names: list[str]) -> None:
    found = safe_join(tree, "/".join(names))
    assert found is not None
    assert inside(tree, found)
