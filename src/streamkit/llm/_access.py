"""Reading provider items that are plain dicts or SDK objects alike.

SDK types (pydantic models in openai and anthropic, google-genai's types)
expose the wire fields as attributes, dicts as keys; ``field`` reads either
without converting the object (``model_dump()`` per token would cost more
than the whole adapter).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Protocol

__all__ = ["Record", "field", "record", "to_dict"]


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


class Record(Protocol):
    """What :func:`record` returns: ``get`` a field by its wire name."""

    def get(self, name: str, /) -> Any: ...


class _Fields:
    """``get`` over an object whose fields are not in a ``__dict__``."""

    __slots__ = ("_item",)

    def __init__(self, item: Any) -> None:
        self._item = item

    def get(self, name: str, default: Any = None, /) -> Any:
        value = field(self._item, name)
        return default if value is None else value


_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


def record(item: Any) -> Record:
    """The fields of a wire dict or an SDK object, to read with ``get``.

    A dict is returned as it is, and so is the ``__dict__`` of a pydantic
    model (merged with its extra fields, if it has any): one call per object,
    then plain dict lookups, where :func:`field` pays its checks per field.
    Names a pydantic class defines as properties are not included.
    """
    kind = type(item)
    if kind is dict:
        return item  # type: ignore[no-any-return]
    if item is None or kind in _NOT_RECORDS:
        return _EMPTY
    fields = getattr(item, "__dict__", None)
    if fields is not None and _class_names(kind) is not None:
        extra = getattr(item, "__pydantic_extra__", None)
        return {**fields, **extra} if extra else fields
    if isinstance(item, Mapping):
        return item
    return _Fields(item)


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
