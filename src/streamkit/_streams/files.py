"""Reading files for streaming: a batched chunk reader and a safe path join.

Python-level file streaming is limited by the thread hop per read, not by
the disk or the socket: one ``anyio.to_thread`` round trip costs about as much
as reading 64 KiB from the page cache. So :func:`file_chunks` reads 256 KiB
chunks and, while the consumer keeps asking, several of them per hop (up to
1 MiB), which keeps memory bounded by that much per download.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import IO, Final

import anyio.to_thread

from streamkit._errors import FileNotServable

__all__ = [
    "DEFAULT_FILE_CHUNK_SIZE",
    "FileNotServable",
    "OpenFile",
    "file_chunks",
    "open_regular_file",
    "range_chunks",
    "safe_join",
]

#: 256 KiB: 64 KiB chunks (Starlette's FileResponse) spend most of their time
#: on the thread hop; 256 KiB and more run at several GB/s.
DEFAULT_FILE_CHUNK_SIZE: Final = 256 * 1024

#: At most this many bytes are read per thread hop (and held per download).
_MAX_BYTES_PER_HOP: Final = 1024 * 1024


class OpenFile:
    """A regular file opened for serving, with the stat of what was opened
    (not of whatever the path names by the time it is read)."""

    __slots__ = ("file", "path", "stat")

    def __init__(self, path: Path, file: IO[bytes], stat_result: os.stat_result) -> None:
        self.path = path
        self.file = file
        self.stat = stat_result

    @property
    def size(self) -> int:
        return self.stat.st_size

    def close(self) -> None:
        self.file.close()


def open_regular_file(path: str | os.PathLike[str]) -> OpenFile:
    """Open ``path`` for reading if it is a regular file (blocking: call it
    on a worker thread).

    Raises:
        FileNotServable: it does not exist, is a directory, a device, a FIFO
            or a socket, or cannot be opened (permissions, a name too long,
            a NUL byte).
    """
    target = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it has no
        # effect on the reads of a regular file.
        fd = os.open(
            target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        )
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL byte
        raise FileNotServable(f"cannot open {target}: {exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileNotServable(f"{target} is not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        file = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    return OpenFile(target, file, info)


def _read_batch(
    file: IO[bytes], position: int, stop: int, chunk_size: int, count: int
) -> list[bytes]:
    """Up to ``count`` chunks from ``position`` (never past ``stop``)."""
    file.seek(position)
    chunks = []
    for _ in range(count):
        want = min(chunk_size, stop - position)
        if want <= 0:
            break
        data = file.read(want)
        if not data:
            break
        chunks.append(data)
        position += len(data)
    return chunks


async def range_chunks(
    opened: OpenFile,
    ranges: Sequence[tuple[int, int]],
    *,
    chunk_size: int = DEFAULT_FILE_CHUNK_SIZE,
    heads: Sequence[bytes] = (),
    tail: bytes = b"",
) -> AsyncGenerator[bytes, None]:
    """The bytes of ``ranges`` of an open file, each preceded by its entry in
    ``heads`` (multipart framing) and followed at the end by ``tail``.

    Raises:
        OSError: the file is shorter than expected (it was truncated while
            being sent): the response must not end as if it were whole.
    """
    per_hop = max(1, _MAX_BYTES_PER_HOP // chunk_size)
    for index, (start, stop) in enumerate(ranges):
        if index < len(heads):
            yield heads[index]
        position = start
        count = 1  # grows while the consumer keeps asking: 1, 2, 4... per hop
        while position < stop:
            batch = await anyio.to_thread.run_sync(
                _read_batch, opened.file, position, stop, chunk_size, count
            )
            if not batch:
                raise OSError(
                    f"{opened.path} ended at byte {position}, expected {stop}: "
                    "it changed while being sent"
                )
            for data in batch:
                position += len(data)
                yield data
            count = min(count * 2, per_hop)
    if tail:
        yield tail


async def file_chunks(
    path: str | os.PathLike[str],
    *,
    start: int = 0,
    end: int | None = None,
    chunk_size: int = DEFAULT_FILE_CHUNK_SIZE,
) -> AsyncGenerator[bytes, None]:
    """Read a file as byte chunks, on worker threads, in constant memory.

    Args:
        path: the file (a regular file).
        start: the first byte offset to read.
        end: the offset to stop before (exclusive, like a slice); None reads
            to the end of the file as it was when opened.
        chunk_size: the most bytes per chunk (256 KiB by default). Several
            chunks are read per thread hop while the consumer keeps up, at
            most 1 MiB.

    The file is closed when the iteration ends, fails or is cancelled (close
    the generator, or use ``contextlib.aclosing``, if you stop early).

    Raises:
        FileNotServable: the path is not a readable regular file.
        ValueError: a negative ``start``, ``end`` before ``start``, or a
            ``chunk_size`` below 1.
        OSError: the file got shorter while being read.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range: start={start}, end={end}")
    opened = await anyio.to_thread.run_sync(open_regular_file, path)
    try:
        stop = opened.size if end is None else min(end, opened.size)
        if start < stop:
            # aclosing: leaving the loop early must close the inner generator
            # now, not when the garbage collector finds it.
            async with aclosing(
                range_chunks(opened, [(start, stop)], chunk_size=chunk_size)
            ) as chunks:
                async for chunk in chunks:
                    yield chunk
    finally:
        opened.close()


def safe_join(root: str | os.PathLike[str], user_path: str) -> Path | None:
    """The file ``user_path`` names under ``root``, or None if it would
    leave ``root`` (blocking: it resolves symlinks).

    Refused (None): NUL bytes and other control characters, backslashes,
    absolute paths (``/x``, ``C:x``, ``//server``), ``..`` segments, and
    anything whose real path, symlinks resolved, is not inside the real
    path of ``root``. The comparison is on whole path components, so
    ``/srv/files`` never admits ``/srv/files-private``. Whether the file
    exists is not checked here.
    """
    if not isinstance(user_path, str) or not user_path:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in user_path) or "\\" in user_path:
        return None
    if user_path.startswith("/") or (len(user_path) > 1 and user_path[1] == ":"):
        return None
    parts = [part for part in user_path.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    try:
        base = os.path.realpath(root)
        candidate = os.path.realpath(os.path.join(base, *parts))
        if os.path.commonpath([base, candidate]) != base:
            return None
    except (OSError, ValueError):
        return None
    return Path(candidate)
