"""Reading provider items that are plain dicts or SDK objects alike.

SDK types (pydantic models in openai and anthropic, google-genai's types)
expose the wire fields as attributes, dicts as keys; ``field`` reads either
without converting the object (``model_dump()`` per token would cost more
than the whole adapter).
"""

from __future__ import annotations

from typing import Any

__all__ = ["field", "to_dict"]


_NOT_RECORDS: frozenset[type] = frozenset({str, bytes, int, float, bool, list, tuple})
_MISSING: Any = object()
#: For each pydantic model class, the names its class defines (properties,
#: methods): a name that is neither one of them nor an instance field is
#: absent, which is found without the slow AttributeError path of pydantic's
#: ``__getattr__`` (several microseconds per miss).
_CLASS_NAMES: dict[type, frozenset[str]] = {}


def _class_names(kind: type) -> frozenset[str] | None:
    names = _CLASS_NAMES.get(kind)
    if names is None:
        if not hasattr(kind, "model_fields"):
            return None
        names = _CLASS_NAMES[kind] = frozenset(dir(kind))
    return names


def field(item: Any, name: str) -> Any:
    """``item[name]`` for a dict, ``item.name`` for an object; None if absent
    or if ``item`` is not a record at all (a string has no fields, only
    methods)."""
    kind = type(item)
    if kind is dict:
        return item.get(name)
    if item is None or kind in _NOT_RECORDS:
        return None
    fields = getattr(item, "__dict__", None)
    if fields is not None:
        value = fields.get(name, _MISSING)
        if value is not _MISSING:
            return value
        names = _class_names(kind)
        if names is not None:  # a pydantic model
            extra = getattr(item, "__pydantic_extra__", None)
            if extra:
                value = extra.get(name, _MISSING)
                if value is not _MISSING:
                    return value
            return getattr(item, name, None) if name in names else None
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
