"""Reading provider items that are plain dicts or SDK objects alike.

SDK types (pydantic models in openai and anthropic, google-genai's types)
expose the wire fields as attributes, dicts as keys; ``field`` reads either
without converting the object (``model_dump()`` per token would cost more
than the whole adapter).
"""

from __future__ import annotations

from typing import Any

__all__ = ["field", "to_dict"]


_NOT_RECORDS = (str, bytes, int, float, bool, list, tuple)


def field(item: Any, name: str) -> Any:
    """``item[name]`` for a dict, ``item.name`` for an object; None if absent
    or if ``item`` is not a record at all (a string has no fields, only
    methods)."""
    if type(item) is dict:
        return item.get(name)
    if item is None or isinstance(item, _NOT_RECORDS):
        return None
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)


def to_dict(item: Any) -> dict[str, Any] | None:
    """A plain dict of an SDK object or a dict (for ``raw`` fields)."""
    if item is None:
        return None
    if isinstance(item, dict):
        return item
    dump = getattr(item, "model_dump", None) or getattr(item, "to_json_dict", None)
    if dump is not None:
        try:
            value = dump()
        except Exception:  # pragma: no cover - an SDK object that cannot dump itself
            return None
        return value if isinstance(value, dict) else None
    return None
