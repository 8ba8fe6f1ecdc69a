"""The HTTP rules of serving a file, without I/O: Range, conditional requests,
validators and Content-Disposition (RFC 9110, RFC 6266, RFC 8187).

Everything here is a pure function of header values and the file's size and
modification time, so the rules are tested exhaustively without a server.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "MAX_RANGES",
    "Decision",
    "content_disposition",
    "evaluate",
    "http_date",
    "multipart_layout",
    "parse_range",
    "strong_etag",
]

#: More range specs than this in one header and the header is ignored (the
#: whole file is sent): serving thousands of tiny overlapping ranges is a
#: known amplification and CPU attack, and no real client asks for more.
MAX_RANGES: Final = 100

#: Numbers longer than this are not converted (int() of a huge digit string
#: is slow, and Python refuses past 4,300 digits); no file is that large.
_MAX_DIGITS: Final = 19
_HUGE: Final = 10**_MAX_DIGITS

#: RFC 8187 attr-char: what a filename* value may carry unescaped.
_ATTR_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~"
)


# -- validators ---------------------------------------------------------------


def strong_etag(size: int, mtime_ns: int) -> str:
    """An entity tag from a file's size and modification time (quoted).

    The pair changes whenever the content is replaced or rewritten in place
    by ordinary means, which is what nginx and Apache rely on too; it is used
    as a strong validator so that ``If-Range`` can match it.
    """
    return f'"{mtime_ns:x}-{size:x}"'


def http_date(timestamp: float) -> str:
    """An IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``), whole seconds."""
    return email.utils.formatdate(math.floor(timestamp), usegmt=True)


def _parse_http_date(value: str) -> int | None:
    """Seconds since the epoch, or None when the value is not a date."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": GMT all the same (RFC 9110 5.6.7)
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return int(parsed.timestamp())
    except (OverflowError, ValueError, OSError):
        return None


_ETAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


def _etags(value: str) -> list[tuple[bool, str]] | Literal["*"] | None:
    """The entity tags of an If-Match/If-None-Match value as (weak, tag);
    ``"*"``; or None when the value does not parse (the header is ignored)."""
    stripped = value.strip()
    if stripped == "*":
        return "*"
    tags: list[tuple[bool, str]] = []
    position, end = 0, len(value)
    while position < end:
        # Empty list elements (", ,") are allowed and ignored (RFC 9110 5.6.1.2).
        while position < end and value[position] in " \t,":
            position += 1
        if position == end:
            break
        match = _ETAG.match(value, position)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


# -- Range ----------------------------------------------------------------------


def _digits(text: str) -> str | None:
    """The significant digits of a number (leading zeros dropped), or None
    if ``text`` is not a non-empty run of ASCII digits."""
    if not text or not (text.isascii() and text.isdigit()):
        return None
    return text.lstrip("0") or "0"


def _number(digits: str) -> int:
    """The value of significant ``digits``; past 19 of them, one huge value
    (no file is that large, and int() of thousands of digits is slow)."""
    return _HUGE if len(digits) > _MAX_DIGITS else int(digits)


def _before(a: str, b: str) -> bool:
    """Whether the number with significant digits ``a`` is below ``b``."""
    return (len(a), a) < (len(b), b)


def parse_range(
    value: str, size: int, *, max_ranges: int = MAX_RANGES
) -> list[tuple[int, int]] | None:
    """The byte ranges a ``Range`` header asks for, as sorted, merged
    ``(start, stop)`` pairs (``stop`` exclusive).

    Returns:
        None when the header must be ignored and the whole file sent: not
        the ``bytes`` unit, malformed, a range whose last position is before
        its first, or more than ``max_ranges`` ranges. An empty list when the
        header is valid but no range is satisfiable (416).
    """
    unit, equals, ranges = value.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    specs = [spec.strip(" \t") for spec in ranges.split(",")]
    specs = [spec for spec in specs if spec]  # empty list elements are allowed
    if not specs or len(specs) > max_ranges:
        return None
    wanted: list[tuple[int, int]] = []
    for spec in specs:
        first, dash, last = spec.partition("-")
        if not dash:
            return None
        first, last = first.strip(" \t"), last.strip(" \t")
        if not first:  # suffix: the last N bytes
            suffix = _digits(last)
            if suffix is None:
                return None
            length = _number(suffix)
            if length > 0 and size > 0:
                wanted.append((max(0, size - length), size))
            continue
        first_digits = _digits(first)
        if first_digits is None:
            return None
        start = _number(first_digits)
        if last:
            last_digits = _digits(last)
            if last_digits is None or _before(last_digits, first_digits):
                return None
            stop = min(_number(last_digits) + 1, size)
        else:
            stop = size
        if start < size:
            wanted.append((start, stop))
    wanted.sort()
    merged: list[tuple[int, int]] = []
    for start, stop in wanted:
        if merged and start <= merged[-1][1]:  # overlapping or adjacent
            if stop > merged[-1][1]:
                merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def multipart_layout(
    ranges: Sequence[tuple[int, int]], size: int, media_type: str, boundary: str
) -> tuple[list[bytes], bytes, int]:
    """The framing of a ``multipart/byteranges`` body: the bytes before each
    part's data, the closing bytes, and the total Content-Length."""
    heads = []
    for index, (start, stop) in enumerate(ranges):
        lead = "--" if index == 0 else "\r\n--"
        heads.append(
            f"{lead}{boundary}\r\nContent-Type: {media_type}\r\n"
            f"Content-Range: bytes {start}-{stop - 1}/{size}\r\n\r\n".encode("latin-1")
        )
    tail = f"\r\n--{boundary}--\r\n".encode("latin-1")
    length = sum(len(head) for head in heads) + sum(b - a for a, b in ranges) + len(tail)
    return heads, tail, length


# -- the decision -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """What to answer: ``status`` 200 (whole file), 206 (``ranges``), 304,
    412 or 416."""

    status: int
    ranges: tuple[tuple[int, int], ...] = ()


def evaluate(
    method: str,
    headers: Mapping[str, str],
    *,
    size: int,
    etag: str | None,
    last_modified: float | None,
    max_ranges: int = MAX_RANGES,
) -> Decision:
    """Apply the preconditions and the Range header of a request in the
    order of RFC 9110 section 13.2.2.

    ``headers`` maps lower-case names to values (Starlette's ``Headers``
    does). ``etag`` is this file's strong entity tag, ``last_modified`` its
    modification time in seconds.
    """
    modified = None if last_modified is None else math.floor(last_modified)
    safe = method in ("GET", "HEAD")
    # 1-2. If-Match, else If-Unmodified-Since: 412 when they fail.
    if_match = headers.get("if-match")
    if if_match is not None:
        tags = _etags(if_match)
        if tags is not None and not (
            tags == "*"
            or (etag is not None and any(not weak and tag == etag for weak, tag in tags))
        ):
            return Decision(412)
    else:
        since = headers.get("if-unmodified-since")
        date = None if since is None else _parse_http_date(since)
        if date is not None and modified is not None and modified > date:
            return Decision(412)
    # 3-4. If-None-Match, else If-Modified-Since: 304 for GET and HEAD.
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = _etags(if_none_match)
        if tags is not None and (
            tags == "*" or (etag is not None and any(tag == _opaque(etag) for _, tag in tags))
        ):
            return Decision(304 if safe else 412)
    elif safe:
        since = headers.get("if-modified-since")
        date = None if since is None else _parse_http_date(since)
        if date is not None and modified is not None and modified <= date:
            return Decision(304)
    # 5. Range, for GET only, subject to If-Range.
    range_value = headers.get("range")
    if method != "GET" or range_value is None:
        return Decision(200)
    if_range = headers.get("if-range")
    if if_range is not None and not _if_range_holds(if_range, etag, modified):
        return Decision(200)
    ranges = parse_range(range_value, size, max_ranges=max_ranges)
    if ranges is None:
        return Decision(200)
    if not ranges:
        return Decision(416)
    if ranges == [(0, size)]:
        return Decision(200)  # the whole file: no need for a 206
    return Decision(206, tuple(ranges))


def _opaque(etag: str) -> str:
    return etag[2:] if etag.startswith("W/") else etag


def _if_range_holds(value: str, etag: str | None, modified: int | None) -> bool:
    """If-Range: an entity tag must match strongly, a date exactly."""
    value = value.strip()
    if value.startswith(('"', "W/")):
        return etag is not None and not value.startswith("W/") and value == etag
    date = _parse_http_date(value)
    return date is not None and modified is not None and date == modified


# -- Content-Disposition ------------------------------------------------------------


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` value for a download (RFC 6266, RFC 8187).

    Always an ASCII ``filename=`` (accents folded, other characters, quotes,
    backslashes and control characters replaced by ``_``), plus
    ``filename*=UTF-8''...`` with the exact name when the ASCII one lost
    anything. Path separators are replaced too: a name is never a path.

    Example::

        >>> content_disposition("€ rates.csv")
        'attachment; filename="_ rates.csv"; filename*=UTF-8\\'\\'%E2%82%AC%20rates.csv'
    """
    if disposition not in ("attachment", "inline"):
        raise ValueError(f'disposition must be "attachment" or "inline", got {disposition!r}')
    name = "".join(
        "_" if ch in "/\\" or unicodedata.category(ch)[0] == "C" else ch for ch in filename
    )
    name = name.strip() or "download"
    folded = unicodedata.normalize("NFKD", name)
    fallback = "".join(
        ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_"
        for ch in folded
        if not unicodedata.combining(ch)
    )
    if fallback == name:
        return f'{disposition}; filename="{name}"'
    encoded = "".join(
        ch if ch in _ATTR_CHARS else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))
        for ch in name
    )
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
