"""JSON encoding shared by every format that carries JSON (SSE data, JSON Lines).

orjson does the work. It already serialises dataclasses, ``datetime``/``date``/
``time`` (ISO 8601), ``UUID``, enums and tuples natively; the default handler
below adds what users stream from web apps: pydantic models (through their own
``model_dump``), ``Decimal`` (as a string, so no precision is lost) and sets.
Anything else raises :class:`~streamkit.EncodeError` naming the type, instead of
orjson's bare ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from streamkit._errors import EncodeError

__all__ = ["dumps", "escape_line_separators"]

#: Integers as dictionary keys are common in Python data (``{1: "a"}``) and the
#: stdlib ``json`` module turns them into strings; do the same instead of failing.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

_LS = "\u2028".encode()
_PS = "\u2029".encode()


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


def _chain(user_default: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def handler(obj: Any) -> Any:
        try:
            return _default(obj)
        except TypeError:
            return user_default(obj)

    return handler


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
    handler = _default if default is None else _chain(default)

    try:
        return orjson.dumps(obj, default=handler, option=_OPTIONS)
    except TypeError as exc:  # orjson.JSONEncodeError subclasses TypeError
        raise EncodeError(f"cannot encode as JSON: {exc}") from exc


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
