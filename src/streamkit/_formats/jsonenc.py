"""JSON encoding shared by every format that carries JSON (SSE data, JSON Lines).

orjson does the work. It already serialises dataclasses, ``datetime``/``date``/
``time`` (ISO 8601), ``UUID``, enums and tuples natively; the default handler
below adds what users stream from web apps: pydantic models (through their own
``model_dump``), ``Decimal`` (as a string, so no precision is lost) and sets.
Anything else raises :class:`~streamkit.EncodeError` naming the type, instead of
orjson's bare ``TypeError``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import orjson

from streamkit._errors import EncodeError

__all__ = [
    "DecimalMode",
    "default_handler",
    "dumps",
    "dumps_with",
    "escape_line_separators",
    "loads",
]

#: Integers as dictionary keys are common in Python data (``{1: "a"}``) and the
#: stdlib ``json`` module turns them into strings; do the same instead of failing.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

_LS = "\u2028".encode()
_PS = "\u2029".encode()


DecimalMode = Literal["str", "number"]


def _default(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)
    if dump is not None and callable(dump):
        # pydantic v2: mode="json" gives plain JSON types and applies the
        # model's own serialisers and aliases settings.
        return dump(mode="json")
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError


def _default_decimal_number(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        # The exact digits as a JSON number, not a float (which would round).
        if not obj.is_finite():
            raise TypeError(f"Decimal {obj} has no JSON number form")
        return orjson.Fragment(str(obj))
    return _default(obj)


def _chain(first: Callable[[Any], Any], user_default: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def handler(obj: Any) -> Any:
        try:
            return first(obj)
        except TypeError:
            return user_default(obj)

    return handler


def default_handler(
    default: Callable[[Any], Any] | None = None, decimal: DecimalMode = "str"
) -> Callable[[Any], Any]:
    """The orjson ``default`` for the given options (build it once per stream)."""
    if decimal not in ("str", "number"):
        raise ValueError(f"decimal must be 'str' or 'number', got {decimal!r}")
    base = _default if decimal == "str" else _default_decimal_number
    return base if default is None else _chain(base, default)


def dumps_with(handler: Callable[[Any], Any], obj: Any, option: int = 0) -> bytes:
    """``orjson.dumps`` with streamkit's options and a prepared handler."""
    try:
        return orjson.dumps(obj, default=handler, option=_OPTIONS | option)
    except TypeError as exc:  # orjson.JSONEncodeError subclasses TypeError
        if "64-bit" in str(exc):
            # JSON numbers have no size limit but orjson's integers do: write
            # this value with the stdlib encoder instead, exactly.
            return _dumps_stdlib(handler, obj, option)
        raise EncodeError(f"cannot encode as JSON: {exc}") from exc


def _dumps_stdlib(handler: Callable[[Any], Any], obj: Any, option: int) -> bytes:
    def default(value: Any) -> Any:
        # What orjson serialises natively, then streamkit's handler.
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, enum.Enum):
            return value.value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
        if callable(tolist):
            return tolist()
        result = handler(value)
        if isinstance(result, orjson.Fragment):
            raise TypeError("Decimal numbers with integers over 64 bits")
        return result

    try:
        data = json.dumps(
            obj, default=default, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError too
        raise EncodeError(f"cannot encode as JSON: {exc}") from exc
    return data + b"\n" if option & orjson.OPT_APPEND_NEWLINE else data


def dumps(obj: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """Serialise ``obj`` to compact JSON bytes.

    Args:
        obj: the value to serialise.
        default: called for objects neither orjson nor streamkit knows; it must
            return something serialisable or raise ``TypeError``.

    Raises:
        EncodeError: the value (or something inside it) has no JSON form; the
            message names the offending type.
    """
    return dumps_with(default_handler(default), obj)


#: A run of digits long enough that an integer might not fit in 64 bits
#: (2**63 has 19 digits): orjson would read such an integer as a float.
_LONG_DIGITS = re.compile(rb"\d{19,}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: bytes | str) -> Any:
    """Parse JSON like ``orjson.loads``, but read integers of any size exactly.

    orjson reads an integer that does not fit in 64 bits as a float, losing
    digits; such documents go to the stdlib parser, which keeps them.

    Raises:
        ValueError: ``data`` is not valid JSON (including NaN and Infinity).
    """
    raw = data.encode() if isinstance(data, str) else data
    value = orjson.loads(raw)  # orjson alone decides what is valid JSON
    if _LONG_DIGITS.search(raw) is None:
        return value
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:  # deeper than the stack allows (orjson: 1024 levels)
        raise ValueError("JSON nested too deeply") from None


def escape_line_separators(data: bytes) -> bytes:
    """Escape U+2028 and U+2029 in JSON text as ``\\u2028`` / ``\\u2029``.

    Both characters are legal inside JSON strings, and SSE splits lines on CR
    and LF only, but clients that split with Unicode-aware ``splitlines()``
    cut the payload in two at them. The escaped form decodes to the same
    string, so this is lossless. (Outside strings JSON cannot contain them,
    so a plain byte replacement is safe.)
    """
    if _LS in data:
        data = data.replace(_LS, b"\\u2028")
    if _PS in data:
        data = data.replace(_PS, b"\\u2029")
    return data
