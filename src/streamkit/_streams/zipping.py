"""Streaming ZIP archives: files, bytes and generators in, ``application/zip`` out.

:func:`zip_chunks` builds the archive with stream-zip (the optional ``zip``
extra) while it is sent: nothing touches the disk, and memory stays at a few
chunks per stream plus the central directory, whatever the members weigh.

Deflate is CPU-bound (50-350 MB/s per core; research notes, section 6), so
the archive is built on a thread of its own (a
:class:`~streamkit._streams.sources.SyncDrain`), which hands finished chunks to
the event loop in batches. Member sources are read where they belong:

* paths and bytes on the zip thread;
* sync iterables on the zip thread too, so they may block, and they are
  closed there (their ``finally`` runs where it was entered);
* async iterables on the event loop: when the zip thread needs data it asks
  the loop for the next ~``chunk_size`` bytes (``anyio.from_thread.run`` with
  the loop's token, so asyncio and trio alike) and waits for them.

Closing or cancelling the stream stops the thread at its next check (per
chunk read, per block of a CRC pass), cancels a pending async read, closes the
current sources (sync ones on the zip thread, async ones with ``aclose()``),
and waits for all that before it returns.

stream-zip 0.0.84 cuts an archive short, silently, when a member's local
header ends exactly on a ``chunk_size`` boundary (uktrade/stream-zip#189). The
thread keeps the exact byte offset of every member, so it sees that coming
and writes the member in its other width (Zip32 and Zip64 headers differ by
20 bytes); and it raises, rather than end a truncated archive, if stream-zip
stops early anyway.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import stat
import threading
import zlib
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
)
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, TypeGuard, TypeVar, cast

import anyio
import anyio.from_thread
import anyio.lowlevel

from streamkit._streams.pump import DEFAULT_CHUNK_SIZE
from streamkit._streams.sources import (
    DEFAULT_CLOSE_TIMEOUT,
    SyncDrain,
    aclose_quietly,
    close_unstarted,
)

if TYPE_CHECKING:
    from stream_zip import MemberFile, Method

__all__ = ["COMPRESSED_EXTENSIONS", "DEFAULT_LEVEL", "MIN_CHUNK_SIZE", "ZipMember", "zip_chunks"]

T = TypeVar("T")

ZipSource = str | os.PathLike[str] | bytes | Iterable[bytes] | AsyncIterable[bytes]

#: Deflate level 6, zlib's own default. stream-zip defaults to 9, which
#: measured about 5x slower than 6 on text (22.5 against ~120 MB/s) for the
#: same ratio (23.5 vs 23.6 MiB out of 128 MiB; research notes, section 6).
DEFAULT_LEVEL: Final = 6

#: Smaller chunks would cost one send per few bytes; and the Zip32/Zip64
#: switch that dodges stream-zip's truncation (20 bytes) needs chunks > 20 bytes.
MIN_CHUNK_SIZE: Final = 1024

#: Extensions of formats that are already compressed: deflating them again
#: costs CPU (about 57 MB/s on incompressible data) and saves nothing, so
#: ``compress=None`` stores them as they are.
COMPRESSED_EXTENSIONS: Final = frozenset(
    {
        # archives and compressed streams
        *("zip", "gz", "tgz", "bz2", "tbz", "tbz2", "xz", "txz", "lz", "lz4", "lzma"),
        *("zst", "zstd", "br", "7z", "rar", "cab", "jar", "war", "apk", "ipa", "whl"),
        *("deb", "rpm", "dmg", "nupkg", "crx", "xpi"),
        # images
        *("jpg", "jpeg", "png", "gif", "webp", "avif", "heic", "heif", "jxl", "jp2"),
        # audio and video
        *("mp3", "mp4", "m4a", "m4v", "mov", "mkv", "webm", "ogg", "oga", "ogv"),
        *("opus", "flac", "aac", "wma", "wmv", "3gp", "avi", "flv"),
        # documents that are zip archives or deflated inside
        *("pdf", "docx", "xlsx", "pptx", "odt", "ods", "odp", "odg", "epub", "xps"),
        # fonts
        *("woff", "woff2"),
    }
)

#: The largest offset and size a Zip32 record can hold.
ZIP32_LIMIT: Final = 0xFFFF_FFFF
#: A Zip32 central directory counts its entries in 16 bits.
ZIP32_MAX_ENTRIES: Final = 0xFFFF
#: The CRC pass over a stored file reads blocks this large: few system calls,
#: and a stop request is still seen within a fraction of a millisecond
#: (zlib.crc32 runs at about 6 GB/s).
_CRC_BLOCK: Final = 1024 * 1024
#: Chunks the zip thread may run ahead of the client: enough to keep the
#: thread compressing while the loop sends, few enough to bound memory.
_RUN_AHEAD_CHUNKS: Final = 4
#: ZIP's MS-DOS timestamps start in 1980, and stream-zip writes the extended
#: timestamp as a signed 32-bit count of seconds.
_EARLIEST: Final = datetime(1980, 1, 1)  # local time, as DOS times are
_LATEST_TIMESTAMP: Final = 2**31 - 1

Width = Literal["32", "64"]


class _Stopped(Exception):
    """Raised on the zip thread when the consumer has gone; never seen outside."""


class _End:
    """The end of an iterator, as returned from the event loop to the thread."""


_END: Final = _End()


@dataclass(frozen=True, slots=True)
class ZipMember:
    """One file (or directory) of a streamed ZIP archive.

    Args:
        name: the path inside the archive, ``/``-separated, relative, with no
            ``.``, ``..`` or empty segments, no backslashes or control
            characters. A name ending in ``/`` with ``source=b""`` is a
            directory entry.
        source: a filesystem path (``str`` or ``os.PathLike``), ``bytes``, or a
            sync or async iterable of ``bytes`` chunks.
        modified: the modification time (naive datetimes are local time, as
            ZIP's own timestamps are). Default: the file's mtime for paths,
            else the time :func:`zip_chunks` was called. Kept to 2 seconds in
            the MS-DOS field, to 1 second in the extended one; clamped to
            1980..2038, the range those fields hold.
        mode: Unix permission bits (0 to 0o7777). Default: from the file for
            paths, else 0o644 (0o755 for directories).
        compress: True deflates, False stores; None (the default) stores the
            already-compressed types of :data:`COMPRESSED_EXTENSIONS` (judged
            by the name) and deflates the rest.
        size: the uncompressed size, when known (for a path it is read from
            the file). It lets a member under 4 GiB be Zip32 rather than Zip64
            (see the Safari note in docs/zip.md); for iterables an upper bound
            is enough, for bytes and paths it must be exact.

    Raises:
        ValueError: a name that is unsafe to extract, a directory entry with
            content, a mode or size out of range.
        TypeError: a field of the wrong type.
    """

    name: str
    source: ZipSource
    _: KW_ONLY
    modified: datetime | None = None
    mode: int | None = None
    compress: bool | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        name, source, mode, size = self.name, self.source, self.mode, self.size
        if not isinstance(name, str):
            raise TypeError(f"a ZIP member name must be a str, got {type(name).__name__}")
        problem = _name_problem(name)
        if problem is not None:
            raise ValueError(f"ZIP member name {name!r} is refused: {problem}")
        if not isinstance(source, str | os.PathLike | Iterable | AsyncIterable):
            raise TypeError(
                f"ZIP member {name!r}: source must be a path, bytes or an iterable of bytes, "
                f"got {type(source).__name__}"
            )
        if name.endswith("/") and not (_is_bytes(source) and len(source) == 0):
            raise ValueError(
                f"ZIP member {name!r}: a directory entry (a name ending in '/') takes source=b''"
            )
        if self.modified is not None and not isinstance(self.modified, datetime):
            raise TypeError(f"ZIP member {name!r}: modified must be a datetime")
        if mode is not None and (not _is_int(mode) or not 0 <= mode <= 0o7777):
            raise ValueError(
                f"ZIP member {name!r}: mode must be permission bits from 0 to 0o7777, got {mode!r}"
            )
        if self.compress is not None and not isinstance(self.compress, bool):
            raise TypeError(f"ZIP member {name!r}: compress must be True, False or None")
        if size is not None and (not _is_int(size) or size < 0):
            raise ValueError(f"ZIP member {name!r}: size must be an int >= 0, got {size!r}")
        if size is not None and _is_bytes(source) and size != len(source):
            raise ValueError(f"ZIP member {name!r}: size={size} but the bytes are {len(source)}")


def _is_bytes(source: object) -> TypeGuard[bytes | bytearray | memoryview]:
    return isinstance(source, bytes | bytearray | memoryview)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _name_problem(name: str) -> str | None:
    """Why ``name`` is unsafe as a member name ("zip slip"), or None if it is fine."""
    if not name or name == "/":
        return "it is empty"
    if "\\" in name:
        return "it contains a backslash (a path separator on Windows)"
    for index, char in enumerate(name):
        if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
            return f"it contains the control character {char!r} at index {index}"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid Unicode (a lone surrogate)"
    if len(encoded) > 0xFFFF:
        return "it is longer than the 65535 bytes a ZIP name can hold"
    if name.startswith("/"):
        return "it is absolute"
    if len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha():
        return "it starts with a Windows drive"
    segments = name.removesuffix("/").split("/")
    if ".." in segments:
        return "it has a '..' segment (it would extract outside the target folder)"
    if "." in segments:
        return "it has a '.' segment"
    if "" in segments:
        return "it has an empty segment ('//')"
    return None


def _stores(member: ZipMember) -> bool:
    """Whether the member is stored rather than deflated."""
    if member.compress is not None:
        return not member.compress
    last = member.name.rsplit("/", 1)[-1]
    _, dot, extension = last.rpartition(".")
    return bool(dot) and extension.lower() in COMPRESSED_EXTENSIONS


def _clamped(modified: datetime) -> datetime:
    if modified.replace(tzinfo=None) < _EARLIEST:
        return _EARLIEST.replace(tzinfo=modified.tzinfo)
    if modified.timestamp() > _LATEST_TIMESTAMP:
        return datetime.fromtimestamp(_LATEST_TIMESTAMP, modified.tzinfo)
    return modified


# -- the layout stream-zip writes, and the choice of each member's method ---------


def _header_length(width: Width, name_length: int) -> int:
    """A local header as stream-zip writes it: 30 fixed bytes, the name, a
    9-byte extended timestamp and, for Zip64, a 20-byte Zip64 field."""
    return 30 + name_length + 9 + (20 if width == "64" else 0)


def _deflate_bound(size: int) -> int:
    """The most bytes deflate can turn ``size`` bytes into (zlib's deflateBound,
    which stream-zip's ZIP_AUTO also relies on), plus a data descriptor."""
    return size + (size >> 12) + (size >> 14) + (size >> 25) + 7 + 16


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one member is written: stored or deflated, Zip32 or Zip64."""

    stored: bool
    width: Width
    level: int = 0
    size: int = 0
    crc: int = 0

    def method(self) -> Method:
        from stream_zip import NO_COMPRESSION_32, NO_COMPRESSION_64, ZIP_32, ZIP_64

        if self.stored:
            return (NO_COMPRESSION_32 if self.width == "32" else NO_COMPRESSION_64)(
                self.size, self.crc
            )
        return ZIP_32 if self.width == "32" else ZIP_64  # with _Zipper.compressobj

    def trailer_length(self) -> int:
        """The data descriptor after a deflated member's data."""
        return 0 if self.stored else 16 if self.width == "32" else 24


class _Cornered(Exception):
    """No method of the member dodges stream-zip's truncation."""


def _plan(
    *,
    stored: bool,
    size: int | None,
    crc: int | None,
    level: int,
    offset: int,
    index: int,
    name_length: int,
    partial: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> _Plan:
    """Choose the method of a member that starts at byte ``offset``.

    * Stored needs the size and CRC up front (``NO_COMPRESSION_32/64(size,
      crc)``); without a CRC a "stored" member is deflated at level 0, which
      streams at memory speed, where stream-zip's bare ``NO_COMPRESSION_*``
      would hold the whole member in memory.
    * Zip32 when the member surely ends below 4 GiB (a known size, deflated at
      its worst) and the archive has fewer than 65535 entries; else Zip64,
      which is right for any size but which some clients mishandle.
    * ``partial``, when stream-zip has the truncation bug: the bytes of the
      block being filled as the member starts. A header ending exactly on a
      block boundary would end the archive there, so the other width is taken;
      a member of unknown size then gets Zip32 (it fails loudly past 4 GiB).

    Raises:
        _Cornered: only Zip64 will do, and its header ends on a boundary.
    """
    known = stored and size is not None and crc is not None
    if index >= ZIP32_MAX_ENTRIES or size is None:
        widths: list[Width] = ["64"]
    else:
        end = offset + _header_length("32", name_length)
        end += size if known else _deflate_bound(size)
        widths = ["32", "64"] if end <= ZIP32_LIMIT else ["64"]
    if partial is not None:
        clear = [w for w in widths if (partial + _header_length(w, name_length)) % chunk_size]
        if not clear and size is None and index < ZIP32_MAX_ENTRIES and offset <= ZIP32_LIMIT:
            clear = ["32"]
        if not clear:
            raise _Cornered
        widths = clear
    if size is not None and crc is not None and known:
        return _Plan(True, widths[0], size=size, crc=crc)
    return _Plan(False, widths[0], level=0 if stored else level)


@functools.cache
def _truncates_at_headers() -> bool:
    """Whether this stream-zip ends the archive when a local header ends a
    block (0.0.84 does): tried on a member whose header is one block long."""
    from stream_zip import ZIP_32, stream_zip

    name = "x" * (100 - _header_length("32", 0))
    member: MemberFile = (name, datetime(2000, 1, 1), 0o644, ZIP_32, (b"x",))
    data = b"".join(stream_zip([member], chunk_size=100))
    return data[-22:-18] != b"PK\x05\x06"


# -- the archive ------------------------------------------------------------------


def _close(iterator: object) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def _as_member(item: object) -> ZipMember:
    if isinstance(item, ZipMember):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        return ZipMember(*item)
    raise TypeError(
        f"a ZIP member must be a ZipMember or a (name, source) tuple, got {type(item).__name__}"
    )


def _checked(name: str, chunk: object) -> bytes | bytearray | memoryview:
    if isinstance(chunk, bytes | bytearray):
        return chunk
    if isinstance(chunk, memoryview):
        return chunk.cast("B")
    raise TypeError(f"ZIP member {name!r}: chunks must be bytes, got {type(chunk).__name__}")


class _Counted:
    """A zlib compressor that counts its output: the archive's layout must be
    known to the byte (see :func:`_plan`)."""

    __slots__ = ("_compressor", "_zipper")

    def __init__(self, zipper: _Zipper) -> None:
        self._zipper = zipper
        self._compressor = zlib.compressobj(zipper.member_level, zlib.DEFLATED, -zlib.MAX_WBITS)

    def compress(self, data: bytes) -> bytes:
        out = self._compressor.compress(data)
        self._zipper.compressed += len(out)
        return out

    def flush(self, mode: int = zlib.Z_FINISH) -> bytes:
        out = self._compressor.flush(mode)
        self._zipper.compressed += len(out)
        return out


class _Zipper:
    """One archive being built: the state the event loop and the zip thread share."""

    def __init__(
        self,
        members: Iterable[Any] | AsyncIterable[Any],
        *,
        level: int,
        chunk_size: int,
    ) -> None:
        self.members = members
        self.listed: list[ZipMember] | None = None  # members given as a list, checked
        self.level = level
        self.chunk_size = chunk_size
        self.now = datetime.now()  # local time, as DOS times are
        self.names: set[str] = set()
        self.stop = threading.Event()  # the consumer has gone
        self.token: anyio.lowlevel.EventLoopToken | None = None
        self.pending: anyio.CancelScope | None = None  # an async read in progress
        self.open_async: list[AsyncIterator[Any]] = []  # for the loop to close
        self.lock = threading.Lock()
        self.reached = 0  # listed members whose sources the thread took over
        self.finished = False  # stream-zip has taken the last member
        # The exact layout so far, on the zip thread:
        self.emitted = 0  # archive bytes stream-zip has handed out
        self.offset = 0  # where the current member's local header starts
        self.plan: _Plan | None = None  # the current member's
        self.header = 0  # the current member's local header length
        self.compressed = 0  # the current member's deflated bytes so far
        self.member_level = level
        self.dodging = False  # stream-zip truncates at headers; see _plan

    def admit(self, item: object) -> ZipMember:
        """``item`` as a member, refused if its name is already taken."""
        member = _as_member(item)
        key = member.name.removesuffix("/")
        if key in self.names:
            raise ValueError(f"ZIP member name {member.name!r} is refused: it appears twice")
        self.names.add(key)
        return member

    # -- the event loop side --------------------------------------------------

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        self.token = anyio.lowlevel.current_token()
        drain: SyncDrain[bytes] = SyncDrain(
            self.produce(), max_buffer=_RUN_AHEAD_CHUNKS * self.chunk_size, measure=len
        )
        try:
            while (batch := await drain.next_batch()) is not None:
                for chunk in batch:
                    yield chunk
        finally:
            self.stop.set()
            if self.pending is not None:
                self.pending.cancel()  # the thread is waiting for an async source
            await drain.aclose(DEFAULT_CLOSE_TIMEOUT)
            await self.close_leftovers()

    async def close_leftovers(self) -> None:
        """Close what the thread left: async sources it was reading when it
        stopped, and the listed members it never reached."""
        with self.lock:
            leftovers, self.open_async = self.open_async, []
        for iterator in leftovers:
            await aclose_quietly(iterator)
        for member in (self.listed or [])[self.reached :]:
            await close_unstarted(member.source)

    @contextlib.contextmanager
    def cancelled_on_stop(self) -> Iterator[None]:
        with anyio.CancelScope() as scope:
            if self.stop.is_set():
                scope.cancel()
            self.pending = scope
            try:
                yield
            finally:
                self.pending = None

    async def next_item(self, iterator: AsyncIterator[Any]) -> object:
        with self.cancelled_on_stop():
            try:
                return await anext(iterator)
            except StopAsyncIteration:
                return _END
        return _END  # cancelled: the thread sees the stop

    async def next_chunks(self, iterator: AsyncIterator[Any]) -> tuple[list[Any], bool]:
        """Chunks up to ``chunk_size`` bytes (one round trip to the thread for
        many small chunks), and whether the source has ended."""
        chunks: list[Any] = []
        size = 0
        with self.cancelled_on_stop():
            try:
                while size < self.chunk_size:
                    chunk = await anext(iterator)
                    chunks.append(chunk)
                    size += len(chunk) if _is_bytes(chunk) else 1
            except StopAsyncIteration:
                return chunks, True
        return chunks, False

    # -- the zip thread ---------------------------------------------------------

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise _Stopped

    def from_loop(
        self, func: Callable[[AsyncIterator[Any]], Coroutine[Any, Any, T]], arg: AsyncIterator[Any]
    ) -> T:
        self.check_stop()
        result = anyio.from_thread.run(func, arg, token=self.token)
        self.check_stop()
        return result

    def open_async_source(self, source: AsyncIterable[Any]) -> AsyncIterator[Any]:
        iterator = aiter(source)
        with self.lock:
            self.open_async.append(iterator)
        return iterator

    def release_async(self, iterator: AsyncIterator[Any]) -> None:
        """Close a finished or failed async source from the thread. After a
        stop it is left to the loop, which closes it once the thread is done."""
        if self.stop.is_set():
            return
        with self.lock:
            self.open_async = [it for it in self.open_async if it is not iterator]
        anyio.from_thread.run(aclose_quietly, iterator, token=self.token)

    def compressobj(self) -> zlib._Compress:
        """stream-zip asks for a compressor as a deflated member's data starts."""
        expected = self.offset + self.header
        if self.dodging and self.emitted != expected:
            # Every header ends a block in this stream-zip: if the data does
            # not start where the layout says, the dodge cannot be trusted.
            raise RuntimeError(
                f"stream-zip wrote {self.emitted} bytes before a member's data, streamkit "
                f"expected {expected}: this version of stream-zip is not supported"
            )
        self.compressed = 0
        return cast("zlib._Compress", _Counted(self))

    def produce(self) -> Iterator[bytes]:
        from stream_zip import stream_zip

        self.dodging = _truncates_at_headers()
        members = self.entries()
        zipped = iter(
            stream_zip(members, chunk_size=self.chunk_size, get_compressobj=self.compressobj)
        )
        try:
            for block in zipped:
                self.emitted += len(block)
                yield block
            if not self.finished:
                raise RuntimeError(
                    "stream-zip ended the archive before its last member, which would leave it "
                    "truncated (uktrade/stream-zip#189); use another version of stream-zip"
                )
        finally:
            try:
                _close(zipped)
            finally:
                members.close()  # closes the current member's sources, on this thread

    def items(self) -> Generator[object, None, None]:
        if isinstance(self.members, AsyncIterable):
            iterator = self.open_async_source(self.members)
            try:
                while (item := self.from_loop(self.next_item, iterator)) is not _END:
                    yield item
            finally:
                self.release_async(iterator)
        else:
            sync = iter(self.members if self.listed is None else self.listed)
            try:
                for item in sync:
                    self.check_stop()
                    yield item
            finally:
                _close(sync)

    def entries(self) -> Generator[MemberFile, None, None]:
        listed = self.listed is not None  # already admitted
        items = self.items()
        try:
            for index, item in enumerate(items):
                member = item if isinstance(item, ZipMember) and listed else self.admit(item)
                with contextlib.ExitStack() as stack:
                    self.reached = index + 1
                    yield self.entry(member, index, stack)
            self.finished = True
        finally:
            items.close()

    def entry(self, member: ZipMember, index: int, stack: contextlib.ExitStack) -> MemberFile:
        """The stream-zip tuple of a member; ``stack`` closes its source."""
        if self.plan is not None:  # where the previous member ended
            data = self.plan.size if self.plan.stored else self.compressed
            self.offset += self.header + data + self.plan.trailer_length()
        name, source = member.name, member.source
        modified = member.modified or self.now
        stored = _stores(member)
        size, crc = member.size, None
        chunks: Iterator[Any]
        if name.endswith("/"):
            mode = stat.S_IFDIR | (0o755 if member.mode is None else member.mode)
            stored, size, crc, chunks = True, 0, 0, iter(())
        elif isinstance(source, str | os.PathLike):
            file = stack.enter_context(open(source, "rb"))  # noqa: SIM115 - the stack closes it
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"ZIP member {name!r}: {os.fspath(source)!r} is not a file")
            if size is not None and size != info.st_size:
                raise ValueError(
                    f"ZIP member {name!r}: size={size} but the file has {info.st_size} bytes"
                )
            size = info.st_size
            modified = member.modified or datetime.fromtimestamp(info.st_mtime)
            permissions = stat.S_IMODE(info.st_mode) if member.mode is None else member.mode
            mode = stat.S_IFREG | permissions
            if stored:
                crc = self.crc_of(name, file, size)
            chunks = self.read_file(name, file, size)
        else:
            mode = stat.S_IFREG | (0o644 if member.mode is None else member.mode)
            if _is_bytes(source):
                content = memoryview(source).cast("B")
                size = len(content)
                if stored:
                    crc = zlib.crc32(content)
                chunks = self.slices(content)
            elif isinstance(source, AsyncIterable):
                iterator = self.open_async_source(source)
                stack.callback(self.release_async, iterator)
                chunks = self.async_chunks(name, iterator)
            else:
                sync = iter(source)
                stack.callback(_close, sync)
                chunks = self.sync_chunks(name, sync)
        stack.callback(_close, chunks)
        name_length = len(name.encode())
        try:
            self.plan = _plan(
                stored=stored,
                size=size,
                crc=crc,
                level=self.level,
                offset=self.offset,
                index=index,
                name_length=name_length,
                partial=self.offset - self.emitted if self.dodging else None,
                chunk_size=self.chunk_size,
            )
        except _Cornered:
            raise RuntimeError(
                f"stream-zip would cut the archive short at ZIP member {name!r} "
                "(uktrade/stream-zip#189); use another version of stream-zip or chunk_size"
            ) from None
        self.member_level = self.plan.level
        self.header = _header_length(self.plan.width, name_length)
        return name, _clamped(modified), mode, self.plan.method(), chunks

    def crc_of(self, name: str, file: io.BufferedReader, size: int) -> int:
        """The CRC-32 of the first ``size`` bytes of ``file``: a stored member
        needs it before its data. One extra read of the file, at several GB/s."""
        crc, remaining = 0, size
        view = memoryview(bytearray(min(_CRC_BLOCK, size)))
        while remaining:
            self.check_stop()
            count = file.readinto(view[: min(len(view), remaining)])
            if not count:
                raise ValueError(f"ZIP member {name!r}: the file shrank while being read")
            crc = zlib.crc32(view[:count], crc)
            remaining -= count
        file.seek(0)
        return crc

    def read_file(self, name: str, file: io.BufferedReader, size: int) -> Iterator[Any]:
        """The first ``size`` bytes of the file: the file as it was when the
        member was reached, even if something appends to it meanwhile."""
        remaining = size
        while remaining:
            self.check_stop()
            block = file.read(min(self.chunk_size, remaining))
            if not block:
                raise ValueError(f"ZIP member {name!r}: the file shrank while being read")
            remaining -= len(block)
            yield block

    def slices(self, data: memoryview) -> Iterator[Any]:
        for start in range(0, len(data), self.chunk_size):
            self.check_stop()
            yield data[start : start + self.chunk_size]

    def sync_chunks(self, name: str, source: Iterator[Any]) -> Iterator[Any]:
        for chunk in source:
            self.check_stop()
            yield _checked(name, chunk)

    def async_chunks(self, name: str, source: AsyncIterator[Any]) -> Iterator[Any]:
        while True:
            chunks, ended = self.from_loop(self.next_chunks, source)
            for chunk in chunks:
                yield _checked(name, chunk)
            if ended:
                return


class _ZipStream(AsyncGenerator[bytes, None]):
    """What :func:`zip_chunks` returns: an async generator of archive bytes
    that also closes the member sources when closed before it was iterated."""

    __slots__ = ("_generator", "_zipper")

    def __init__(self, zipper: _Zipper) -> None:
        self._zipper = zipper
        self._generator: AsyncGenerator[bytes, None] | None = None

    def _started(self) -> AsyncGenerator[bytes, None]:
        if self._generator is None:
            self._generator = self._zipper.chunks()
        return self._generator

    def __anext__(self) -> Coroutine[Any, Any, bytes]:
        return self._started().__anext__()

    def asend(self, value: None) -> Coroutine[Any, Any, bytes]:
        return self._started().asend(value)

    def athrow(self, *args: Any) -> Coroutine[Any, Any, bytes]:
        return self._started().athrow(*args)

    async def aclose(self) -> None:
        if self._generator is None:
            self._generator = _nothing()
            await self._zipper.close_leftovers()
            await close_unstarted(self._zipper.members)
        else:
            await self._generator.aclose()


async def _nothing() -> AsyncGenerator[bytes, None]:
    chunks: tuple[bytes, ...] = ()
    for chunk in chunks:
        yield chunk


def zip_chunks(
    members: Iterable[ZipMember | tuple[str, ZipSource]]
    | AsyncIterable[ZipMember | tuple[str, ZipSource]],
    *,
    level: int = DEFAULT_LEVEL,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> AsyncGenerator[bytes, None]:
    """Stream a ZIP archive of ``members`` as it is built.

    The archive is compressed on a thread of its own and comes out in chunks
    of at most ``chunk_size`` bytes; members are read as they are reached, so
    a 100 GB archive holds a few chunks in memory, plus a few hundred bytes
    per member for the central directory written at the end. Close the
    iterator (or cancel its consumer) to stop: the thread stops and every open
    member source is closed before ``aclose()`` returns.

    Args:
        members: :class:`ZipMember` objects or ``(name, source)`` tuples, in a
            list (checked at once: a bad name raises here, before any byte),
            or a sync or async iterable (each member checked when reached).
        level: the deflate level, 0 to 9; 6 (zlib's default) by default, about
            5x faster than 9 for nearly the same size.
        chunk_size: the largest chunk produced (at least :data:`MIN_CHUNK_SIZE`).

    Raises:
        ImportError: stream-zip is not installed (``pip install "streamkit[zip]"``).
        ValueError: a bad level or chunk size; for listed members, an unsafe
            or duplicate name (iterated members raise it when reached).

    Example::

        from streamkit.starlette import StreamResponse

        async def download(request):
            members = [("report.csv", report_rows()), ("photos/a.jpg", Path("a.jpg"))]
            return StreamResponse(
                zip_chunks(members),
                media_type="application/zip",
                headers={"content-disposition": 'attachment; filename="export.zip"'},
            )
    """
    try:
        import stream_zip  # noqa: F401 - imported here so that streamkit works without it
    except ImportError as exc:
        raise ImportError(
            'zip_chunks needs stream-zip: pip install "streamkit[zip]"', name=exc.name
        ) from exc
    if not _is_int(level) or not 0 <= level <= 9:
        raise ValueError(f"level must be an int from 0 (no compression) to 9, got {level!r}")
    if not _is_int(chunk_size) or chunk_size < MIN_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be an int >= {MIN_CHUNK_SIZE}, got {chunk_size!r}")
    if not isinstance(members, Iterable | AsyncIterable):
        raise TypeError(f"members must be an iterable, got {type(members).__name__}")
    zipper = _Zipper(members, level=level, chunk_size=chunk_size)
    if isinstance(members, list | tuple):
        zipper.listed = [zipper.admit(item) for item in members]
    return _ZipStream(zipper)
