"""JSON Lines, JSON text sequences (RFC 7464) and their decoders.

JSON Lines (jsonlines.org; NDJSON is the same format) puts one JSON value per
line, each line ended by LF. JSON text sequences put an RS byte (0x1E) before
each value and an LF after it, which lets a reader tell a truncated last value
from a complete one. Both are written compact by orjson, so a value can never
contain a raw line break.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from streamkit._errors import DecodeError
from streamkit._formats.feeding import as_bytes, refuse_after
from streamkit._formats.jsonenc import DecimalMode, default_handler, dumps_with, loads

__all__ = [
    "DEFAULT_MAX_LINE_SIZE",
    "JSONLDecoder",
    "JSONSeqDecoder",
    "encode_json_seq",
    "encode_jsonl",
    "jsonl_encoder",
]

#: 16 MiB: far above ordinary records (a few KiB), and a bound on what a
#: client buffers for a line that never ends.
DEFAULT_MAX_LINE_SIZE: Final = 16 * 1024 * 1024

_RS: Final = b"\x1e"
#: What a blank line may hold: NDJSON lets readers skip empty lines; spaces,
#: tabs and the CR of a CRLF are whitespace around any JSON text.
_BLANK: Final = b" \t\r"


def jsonl_encoder(
    *, default: Callable[[Any], Any] | None = None, decimal: DecimalMode = "str"
) -> Callable[[Any], bytes]:
    """A function encoding one value as a JSON Lines record (options resolved once).

    See :func:`encode_jsonl` for what it accepts.
    """
    handler = default_handler(default, decimal)
    newline = orjson.OPT_APPEND_NEWLINE
    # The common case first, with the fewest orjson options (each costs time
    # per value): dicts with non-string keys, integers over 64 bits and every
    # error take the full path, which writes the same bytes when it succeeds.
    fast = newline | orjson.OPT_SERIALIZE_NUMPY
    dumps = orjson.dumps

    def encode(obj: Any) -> bytes:
        try:
            return dumps(obj, default=handler, option=fast)
        except TypeError:
            return dumps_with(handler, obj, newline)

    return encode


def encode_jsonl(
    obj: Any, *, default: Callable[[Any], Any] | None = None, decimal: DecimalMode = "str"
) -> bytes:
    """Encode ``obj`` as one JSON Lines record: compact JSON and an LF.

    Serialises dicts, lists, strings, numbers, booleans, None, dataclasses,
    ``datetime``/``date``/``time`` (ISO 8601), ``UUID``, enums, tuples, sets,
    pydantic models (``model_dump(mode="json")``) and numpy scalars and
    arrays; dicts may have non-string keys (written as strings).

    Args:
        obj: the value.
        default: called for other types; returns something serialisable or
            raises ``TypeError``.
        decimal: ``Decimal`` as a JSON string (``"str"``, the default: every
            reader keeps the digits) or as a JSON number with exactly its
            digits (``"number"``; readers that parse numbers as floats round it).

    Raises:
        EncodeError: a value has no JSON form; the message names its type.

    Example::

        >>> encode_jsonl({"id": 1, "at": date(2026, 1, 2)})
        b'{"id":1,"at":"2026-01-02"}\\n'
    """
    return dumps_with(default_handler(default, decimal), obj, orjson.OPT_APPEND_NEWLINE)


def encode_json_seq(
    obj: Any, *, default: Callable[[Any], Any] | None = None, decimal: DecimalMode = "str"
) -> bytes:
    """Encode ``obj`` as one RFC 7464 JSON text sequence element: RS, JSON, LF.

    Takes the same values and options as :func:`encode_jsonl`.
    """
    return _RS + encode_jsonl(obj, default=default, decimal=decimal)


def _loads(text: bytes, line: int, offset: int) -> Any:
    try:
        return loads(text)
    except ValueError as exc:
        raise DecodeError(
            f"invalid JSON at line {line} (stream offset {offset}): {exc}",
            line=line,
            offset=offset,
        ) from None


class JSONLDecoder:
    """Decode a JSON Lines (NDJSON) stream incrementally.

    Lines end at LF, optionally preceded by CR; blank lines (and lines of only
    spaces or tabs) are skipped, as NDJSON allows. A last line without an LF
    is decoded by :meth:`close`.

    Args:
        max_line_size: the most bytes one line may have.

    Raises:
        DecodeError: from :meth:`feed` or :meth:`close`, for a line that is
            not valid JSON (invalid UTF-8 included) or is too long, with
            ``line`` and ``offset`` saying where. After an error the decoder
            refuses further input.

    Example::

        >>> decoder = JSONLDecoder()
        >>> decoder.feed(b'{"a": 1}\\n{"a"')
        [{'a': 1}]
        >>> decoder.feed(b': 2}\\n')
        [{'a': 2}]
    """

    __slots__ = ("_buf", "_failed", "_line_no", "_max_line", "_offset")

    def __init__(self, *, max_line_size: int = DEFAULT_MAX_LINE_SIZE) -> None:
        if max_line_size < 1:
            raise ValueError("max_line_size must be positive")
        self._max_line = max_line_size
        self._buf = bytearray()
        self._line_no = 0  # lines completed so far
        self._offset = 0  # stream offset of the first byte of self._buf
        self._failed: DecodeError | None = None

    @property
    def pending(self) -> bool:
        """Whether part of a line is buffered (:meth:`close` would decode it)."""
        return bool(self._buf.strip(_BLANK))

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Feed the next bytes; return the values of the lines they complete."""
        out: list[Any] = []
        try:
            self._feed(data, out)
        except DecodeError as exc:
            exc.partial = list(out)
            self._failed = exc
            raise
        return out

    def close(self) -> list[Any]:
        """End of stream: decode a last line that has no LF (empty if none)."""
        if self._failed is not None:
            raise refuse_after("JSONLDecoder", self._failed)
        out: list[Any] = []
        if self._buf.strip(_BLANK):
            try:
                out.append(_loads(bytes(self._buf), self._line_no + 1, self._offset))
            except DecodeError as exc:
                self._failed = exc
                raise
        self._buf.clear()
        return out

    def _feed(self, data: bytes | bytearray | memoryview, out: list[Any]) -> None:
        if self._failed is not None:
            raise refuse_after("JSONLDecoder", self._failed)
        data = as_bytes(data)
        buf = self._buf
        if b"\n" not in data:
            buf += data
            if len(buf) > self._max_line:
                raise self._too_long()
            return
        buf += data
        text = bytes(buf)
        cut = text.rfind(b"\n") + 1
        buf[:] = text[cut:]
        offset = self._offset
        for line in text[:cut].split(b"\n")[:-1]:
            self._line_no += 1
            if len(line) > self._max_line:
                self._offset = offset
                raise self._too_long(len(line), current=True)
            stripped = line.strip(_BLANK)
            if stripped:
                try:
                    out.append(loads(stripped))
                except ValueError as exc:
                    raise DecodeError(
                        f"invalid JSON at line {self._line_no} (stream offset {offset}): {exc}",
                        line=self._line_no,
                        offset=offset,
                    ) from None
            offset += len(line) + 1
        self._offset = offset
        if len(buf) > self._max_line:
            raise self._too_long()

    def _too_long(self, size: int | None = None, *, current: bool = False) -> DecodeError:
        line = self._line_no if current else self._line_no + 1
        size = len(self._buf) if size is None else size
        return DecodeError(
            f"JSON Lines line {line} exceeds max_line_size ({self._max_line} bytes; "
            f"at least {size}) at stream offset {self._offset}",
            line=line,
            offset=self._offset,
        )


class JSONSeqDecoder:
    """Decode an RFC 7464 JSON text sequence (``application/json-seq``) incrementally.

    Each value starts with RS (0x1E); it is complete when the next RS arrives
    or the stream ends. As RFC 7464 section 2.4 requires, a value that does not
    end with LF is treated as truncated: :class:`DecodeError`, never a silently
    different value (a truncated number such as ``12`` of ``123`` would still
    parse).

    Args:
        max_size: the most bytes one value may have.
    """

    __slots__ = ("_buf", "_failed", "_index", "_max_size", "_offset", "_started")

    def __init__(self, *, max_size: int = DEFAULT_MAX_LINE_SIZE) -> None:
        if max_size < 1:
            raise ValueError("max_size must be positive")
        self._max_size = max_size
        self._buf = bytearray()
        self._index = 0  # values completed so far
        self._offset = 0  # stream offset of self._buf
        self._started = False
        self._failed: DecodeError | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Feed the next bytes; return the values they complete."""
        out: list[Any] = []
        try:
            self._feed(data, out, final=False)
        except DecodeError as exc:
            exc.partial = list(out)
            self._failed = exc
            raise
        return out

    def close(self) -> list[Any]:
        """End of stream: decode the last value."""
        out: list[Any] = []
        try:
            self._feed(b"", out, final=True)
        except DecodeError as exc:
            exc.partial = list(out)
            self._failed = exc
            raise
        return out

    def _feed(self, data: bytes | bytearray | memoryview, out: list[Any], *, final: bool) -> None:
        if self._failed is not None:
            raise refuse_after("JSONSeqDecoder", self._failed)
        data = as_bytes(data)
        if self._started and not final and _RS not in data:
            # Still inside one value: append (never rescanned until it ends).
            self._buf += data
            if len(self._buf) > self._max_size + 1:
                raise self._too_big(self._index + 1, self._offset)
            return
        self._buf += data
        text = bytes(self._buf)
        if not self._started:
            stripped = text.lstrip(b" \t\r\n")
            if not stripped:
                if len(text) > self._max_size:
                    raise self._too_big(1, self._offset)
                return
            if stripped[:1] != _RS:
                raise DecodeError(
                    "a JSON text sequence must start with RS (0x1E)", offset=self._offset
                )
            self._offset += len(text) - len(stripped)
            text = stripped
            self._started = True
        parts = text.split(_RS)
        # parts[0] is b"" (text starts with RS); the last part may be incomplete.
        complete = parts[1:] if final else parts[1:-1]
        offset = self._offset
        for part in complete:
            self._decode(part, offset, out)
            offset += len(part) + 1
        rest = b"" if final else _RS + parts[-1]
        self._offset = offset
        self._buf[:] = rest
        if len(rest) > self._max_size + 1:
            raise self._too_big(self._index + 1, offset)

    def _too_big(self, index: int, offset: int) -> DecodeError:
        return DecodeError(
            f"JSON text sequence value {index} exceeds max_size "
            f"({self._max_size} bytes) at stream offset {offset}",
            offset=offset,
        )

    def _decode(self, part: bytes, offset: int, out: list[Any]) -> None:
        if not part:
            return  # consecutive RS bytes: no element between them (RFC 7464 2.1)
        self._index += 1
        if len(part) > self._max_size:
            raise self._too_big(self._index, offset)
        if not part.endswith(b"\n"):
            raise DecodeError(
                f"JSON text sequence value {self._index} at stream offset {offset} does "
                f"not end with LF: it was truncated (RFC 7464 section 2.4)",
                offset=offset,
            )
        try:
            out.append(loads(part))
        except ValueError as exc:
            raise DecodeError(
                f"invalid JSON in sequence value {self._index} (stream offset {offset}): {exc}",
                offset=offset,
            ) from None
