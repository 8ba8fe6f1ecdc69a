"""Export chunkers: JSON Lines, JSON text sequences, JSON arrays and CSV.

Each is :func:`~streamkit.encoded_chunks` with the format's encoder, so rows
from a database cursor, a generator or an async driver are encoded in batches
and sent as ~64 KiB chunks, in bounded memory, with the source closed on exit.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Literal, TypedDict, cast

from typing_extensions import Unpack

from streamkit._formats.csvenc import CSVEncoder
from streamkit._formats.jsonenc import DecimalMode, default_handler, dumps_with
from streamkit._formats.jsonl import jsonl_encoder
from streamkit._streams.pump import DEFAULT_CHUNK_SIZE, Limits, pump_chunks
from streamkit._streams.sources import DEFAULT_CLOSE_TIMEOUT

__all__ = [
    "JSON_HEARTBEAT",
    "ChunkOptions",
    "JSONChunkOptions",
    "csv_chunks",
    "json_array_chunks",
    "json_seq_chunks",
    "jsonl_chunks",
]

#: A heartbeat for every JSON format here: a blank line is skipped by JSON
#: Lines readers, and is whitespace inside a JSON array or a json-seq element.
JSON_HEARTBEAT: Final = b"\n"

Trailer = bool | Callable[[int], Any]


class ChunkOptions(TypedDict, total=False):
    """Options every export chunker takes; see :func:`~streamkit.encoded_chunks`."""

    chunk_size: int
    flush_interval: float | None
    first_item: float | None
    idle: float | None
    total: float | None
    close_timeout: float | None


class JSONChunkOptions(ChunkOptions, total=False):
    """The JSON chunkers also take a heartbeat (a blank line by default)."""

    heartbeat: float
    heartbeat_frame: bytes


def _chunks(
    items: Iterable[Any] | AsyncIterable[Any],
    encode: Callable[[Any], bytes],
    encode_many: Callable[[list[Any]], bytes],
    options: JSONChunkOptions,
    *,
    head: bytes | None = None,
    tail: Callable[[int], bytes] | None = None,
) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
    heartbeat = options.get("heartbeat", 0.0)
    frame = options.get("heartbeat_frame", JSON_HEARTBEAT)
    if heartbeat and not frame:
        raise ValueError("heartbeat needs a non-empty heartbeat_frame")
    return pump_chunks(
        items,
        encode,
        encode_many=encode_many,
        head=head,
        tail=tail,
        chunk_size=options.get("chunk_size", DEFAULT_CHUNK_SIZE),
        flush_interval=options.get("flush_interval"),
        limits=Limits(
            heartbeat=heartbeat,
            first_item=options.get("first_item"),
            idle=options.get("idle"),
            total=options.get("total"),
        ),
        heartbeat_frame=frame,
        close_timeout=options.get("close_timeout", DEFAULT_CLOSE_TIMEOUT),
    )


def _trailer_tail(
    trailer: Trailer, encode: Callable[[Any], bytes]
) -> Callable[[int], bytes] | None:
    if trailer is False:
        return None
    if trailer is True:
        return lambda count: encode({"type": "end", "count": count})
    make = trailer
    return lambda count: encode(make(count))


def jsonl_chunks(
    items: Iterable[Any] | AsyncIterable[Any],
    *,
    default: Callable[[Any], Any] | None = None,
    decimal: DecimalMode = "str",
    trailer: Trailer = False,
    **options: Unpack[JSONChunkOptions],
) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
    """Stream items as JSON Lines (``application/jsonl``, alias ``application/x-ndjson``).

    Each item becomes one compact JSON line (see :func:`~streamkit.encode_jsonl`
    for the types and the ``default`` and ``decimal`` options).

    Args:
        trailer: after the last item, when the source ended normally, send a
            last record so clients can tell a complete stream from one cut
            off: ``True`` sends ``{"type": "end", "count": N}``, a function
            of the count sends what it returns. A stream that fails gets none.
        heartbeat: send a blank line after this many idle seconds (0 = never).

    The remaining options are those of :func:`~streamkit.encoded_chunks`.

    Example::

        async with jsonl_chunks(rows(), trailer=True) as chunks:
            async for chunk in chunks:
                await send(chunk)
    """
    encode = jsonl_encoder(default=default, decimal=decimal)

    def encode_many(batch: list[Any]) -> bytes:
        return b"".join(map(encode, batch))

    return _chunks(items, encode, encode_many, options, tail=_trailer_tail(trailer, encode))


def json_seq_chunks(
    items: Iterable[Any] | AsyncIterable[Any],
    *,
    default: Callable[[Any], Any] | None = None,
    decimal: DecimalMode = "str",
    trailer: Trailer = False,
    **options: Unpack[JSONChunkOptions],
) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
    """Stream items as an RFC 7464 JSON text sequence (``application/json-seq``):
    each value preceded by RS (0x1E) and followed by LF, so a reader can tell
    a value cut off by a broken connection from a complete one.

    Takes the options of :func:`jsonl_chunks`.
    """
    line = jsonl_encoder(default=default, decimal=decimal)

    def encode(item: Any) -> bytes:
        return b"\x1e" + line(item)

    def encode_many(batch: list[Any]) -> bytes:
        return b"".join(map(encode, batch))

    return _chunks(items, encode, encode_many, options, tail=_trailer_tail(trailer, encode))


def _members(fields: Mapping[str, Any], dump: Callable[[Any], bytes]) -> bytes:
    """``"a":1,"b":2`` (the inside of a JSON object), or b"" for no fields."""
    if not isinstance(fields, Mapping):
        raise TypeError(f"object fields must be a mapping, got {type(fields).__name__}")
    return dump(dict(fields))[1:-1]


def json_array_chunks(
    items: Iterable[Any] | AsyncIterable[Any],
    *,
    key: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | Callable[[int], Mapping[str, Any]] | None = None,
    default: Callable[[Any], Any] | None = None,
    decimal: DecimalMode = "str",
    **options: Unpack[JSONChunkOptions],
) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
    """Stream items as one JSON array (``application/json``), written as it goes.

    Without ``key`` the body is ``[item,item,...]`` (``[]`` when there are no
    items). With ``key`` it is an object with the array under that key,
    ``before`` fields ahead of it and ``after`` fields behind it (a mapping,
    or a function of the item count)::

        {"page": 1, "items": [...], "count": 1250}

    If the source fails the closing brackets are never sent, so the body is
    not valid JSON and no client can mistake it for a complete answer.

    The other options are those of :func:`jsonl_chunks`.
    """
    handler = default_handler(default, decimal)

    def dump(value: Any) -> bytes:
        return dumps_with(handler, value)

    if key is None and (before is not None or after is not None):
        raise ValueError("before= and after= need key=: a bare array has no other fields")
    started = False

    def encode(item: Any) -> bytes:
        nonlocal started
        if started:
            return b"," + dump(item)
        started = True
        return dump(item)

    def encode_many(batch: list[Any]) -> bytes:
        nonlocal started
        body = b",".join(map(dump, batch))
        if started:
            return b"," + body
        started = True
        return body

    if key is None:
        head = b"["

        def tail(count: int) -> bytes:
            return b"]"

    else:
        opening = _members(before or {}, dump)
        head = b"{" + opening + (b"," if opening else b"") + dump(key) + b":["

        def tail(count: int) -> bytes:
            fields = after(count) if callable(after) else (after or {})
            closing = _members(fields, dump)
            return b"]" + (b"," if closing else b"") + closing + b"}"

    return _chunks(items, encode, encode_many, options, head=head, tail=tail)


def csv_chunks(
    rows: Iterable[Any] | AsyncIterable[Any],
    *,
    encoder: CSVEncoder | None = None,
    fieldnames: Sequence[str] | None = None,
    header: bool = True,
    labels: Mapping[str, str] | None = None,
    bom: bool = False,
    formula_guard: bool = True,
    extra: Literal["raise", "ignore"] = "raise",
    **options: Unpack[ChunkOptions],
) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
    """Stream rows as CSV (``text/csv; charset=utf-8; header=present``).

    Rows may be dicts, tuples or lists, dataclasses, pydantic models or
    database rows (``sqlite3.Row``, SQLAlchemy rows); see
    :class:`~streamkit.CSVEncoder` for the cell rules and the options, or pass
    a configured ``encoder`` (for instance ``CSVEncoder.excel(...)``). Rows
    are encoded a ready batch at a time. An export with no rows still has its
    header, when the field names are known.

    CSV has no heartbeat: any filler would be a row. The other options are
    those of :func:`~streamkit.encoded_chunks`.

    Example::

        async with csv_chunks(db.execute("SELECT * FROM users"), bom=True) as chunks:
            async for chunk in chunks:
                await send(chunk)
    """
    if encoder is None:
        encoder = CSVEncoder(
            fieldnames,
            header=header,
            labels=labels,
            bom=bom,
            formula_guard=formula_guard,
            extra=extra,
        )
    csv_encoder = encoder

    def tail(count: int) -> bytes:
        return csv_encoder.finish()

    # ChunkOptions is JSONChunkOptions without the (optional) heartbeat keys.
    shared = cast("JSONChunkOptions", options)
    return _chunks(rows, csv_encoder.encode, csv_encoder.encode_many, shared, tail=tail)
