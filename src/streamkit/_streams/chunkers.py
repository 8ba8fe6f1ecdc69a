"""Chunkers: items in, encoded and coalesced byte chunks out.

Every format's chunker is the same pipeline with a different encoder: pull
items from any source (sync ones on a thread), encode each to bytes, and hand
the consumer everything that is ready as one chunk of up to ``chunk_size``
bytes. Nothing waits to fill a chunk: when the source is slow, each piece goes
out as soon as it is encoded. Only ``flush_interval`` (opt-in, for bulk exports
that tolerate latency) waits up to that long for a fuller chunk.

They are async context managers because they run one producer task::

    async with sse_chunks(events) as chunks:
        async for chunk in chunks:
            await send(chunk)
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from streamkit._formats.sse import ServerSentEvent, encode_comment, encode_sse, json_event
from streamkit._streams.pump import DEFAULT_CHUNK_SIZE, Limits, pump_chunks
from streamkit._streams.sources import DEFAULT_CLOSE_TIMEOUT

__all__ = ["coalesce", "encoded_chunks", "sse_chunks", "to_sse_bytes"]

T = TypeVar("T")

# Tuples, not unions: isinstance() with "A | B" builds the union on every call.
_BYTES = (bytes, bytearray, memoryview)
_FRAMES = (ServerSentEvent, bytes, bytearray, memoryview)


def _identity(piece: bytes) -> bytes:
    if not isinstance(piece, _BYTES):
        raise TypeError(f"coalesce() takes byte pieces, got {type(piece).__name__}")
    return bytes(piece)


def encoded_chunks(
    items: Iterable[T] | AsyncIterable[T],
    encode: Callable[[T], bytes],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    flush_interval: float | None = None,
    heartbeat: float = 0.0,
    heartbeat_frame: bytes = b"",
    first_item: float | None = None,
    idle: float | None = None,
    total: float | None = None,
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
    """Encode ``items`` with ``encode`` and coalesce the bytes into chunks.

    The building block of every chunker (:func:`sse_chunks` and the JSON Lines
    and CSV ones): use it to stream a format of your own.

    Args:
        items: any sync or async iterable.
        encode: turns one item into its bytes; an exception it raises ends the
            stream (after the chunks before it) with a note naming the item's
            index.
        chunk_size: the most bytes per chunk (a single larger piece is sent
            whole rather than copied apart).
        flush_interval: if set, wait up to this many seconds for a chunk to
            fill before sending it; by default ready data is sent at once.
        heartbeat: send ``heartbeat_frame`` after this many seconds without
            data (0 = never).
        first_item, idle, total: timeouts in seconds, raising
            :class:`~streamkit.FirstItemTimeout`, :class:`~streamkit.IdleTimeout`
            or :class:`~streamkit.TotalTimeout` from the iteration.
        close_timeout: the longest wait for the source to close on exit.

    Returns:
        An async context manager giving an async iterator of chunks. Leaving
        the block stops the producer task and closes the source.
    """
    if heartbeat and not heartbeat_frame:
        raise ValueError("heartbeat needs a non-empty heartbeat_frame")
    return pump_chunks(
        items,
        encode,
        chunk_size=chunk_size,
        flush_interval=flush_interval,
        limits=Limits(heartbeat=heartbeat, first_item=first_item, idle=idle, total=total),
        heartbeat_frame=heartbeat_frame,
        close_timeout=close_timeout,
    )


def coalesce(
    pieces: Iterable[bytes] | AsyncIterable[bytes],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    flush_interval: float | None = None,
) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
    """Combine byte pieces into chunks of up to ``chunk_size`` bytes.

    What the source already has ready goes out together; when the source is
    slow, each piece goes out at once. The concatenation of the chunks is
    always exactly the concatenation of the pieces.

    Example::

        async with coalesce(rows_as_bytes()) as chunks:
            async for chunk in chunks:
                await send(chunk)
    """
    return pump_chunks(pieces, _identity, chunk_size=chunk_size, flush_interval=flush_interval)


def to_sse_bytes(item: object, *, sep: str = "\n") -> bytes:
    """Encode one item of an SSE stream.

    A :class:`~streamkit.ServerSentEvent` is encoded; ``bytes`` pass through as
    pre-encoded frames; a ``str`` becomes the data of a ``message`` event; any
    other value is sent as JSON data (see :func:`~streamkit.json_event`).
    """
    if isinstance(item, _FRAMES):
        return encode_sse(item, sep=sep)
    if isinstance(item, str):
        return encode_sse(ServerSentEvent(item), sep=sep)
    return encode_sse(json_event(item), sep=sep)


def sse_chunks(
    items: Iterable[Any] | AsyncIterable[Any],
    *,
    sep: str = "\n",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    flush_interval: float | None = None,
    heartbeat: float = 0.0,
    heartbeat_frame: bytes | None = None,
    first_item: float | None = None,
    idle: float | None = None,
    total: float | None = None,
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
    """Stream items as Server-Sent Events, coalesced into chunks.

    Items may be :class:`~streamkit.ServerSentEvent` values, pre-encoded
    ``bytes``, ``str`` (sent as data) or anything JSON-serialisable (sent as
    JSON data). The other arguments are those of :func:`encoded_chunks`; the
    default heartbeat frame is the comment line ``:\\n``, which clients ignore
    and which never causes phantom events.

    Example::

        async with sse_chunks(events(), heartbeat=15) as chunks:
            async for chunk in chunks:
                await send(chunk)
    """
    if sep not in ("\n", "\r\n"):
        encode_comment(sep=sep)  # raises the separator error

    def encode(item: object) -> bytes:
        return to_sse_bytes(item, sep=sep)

    return encoded_chunks(
        items,
        encode,
        chunk_size=chunk_size,
        flush_interval=flush_interval,
        heartbeat=heartbeat,
        heartbeat_frame=encode_comment(sep=sep) if heartbeat_frame is None else heartbeat_frame,
        first_item=first_item,
        idle=idle,
        total=total,
        close_timeout=close_timeout,
    )
