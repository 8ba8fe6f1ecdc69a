"""CSV: rows of any shape to RFC 4180 bytes, safe to open in a spreadsheet.

Writing is done by the stdlib ``csv`` module (RFC 4180 quoting with the
``excel`` dialect, CRLF line endings); this module turns the rows users have
(dicts, tuples, dataclasses, pydantic models, database rows) into cells, and
guards against formula injection: a cell starting with ``=``, ``+``, ``-``,
``@``, tab, CR, LF or NUL is run as a formula by Excel, LibreOffice and Google
Sheets, so such text gets a leading ``'`` (OWASP's advice), while real numbers
like ``-5`` or ``+3.2`` are left alone. Quoting alone does not help: the
spreadsheet unquotes the cell and then evaluates it.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import enum
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any, Final, Literal
from uuid import UUID

import orjson

from streamkit._errors import EncodeError

__all__ = ["CSVEncoder"]

#: The first characters that make a spreadsheet evaluate a cell (OWASP CSV
#: injection, plus NUL from OWASP ASVS 1.2.10).
_TRIGGERS: Final = frozenset("=+-@\t\r\n\0")
#: Text that is a plain number: a spreadsheet reads it as one, not as a formula.
_NUMBER: Final = re.compile(r"[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
#: Cell types the csv module already writes as Python prints them.
_NATIVE: Final = frozenset({int, float, bool, type(None), Decimal})

_UTF8_BOM: Final = "\ufeff"
#: Column types the batch path writes as they are.
_PLAIN_NUMBERS: Final = frozenset({int, float, bool, type(None), Decimal})
_TEXT_OR_NONE: Final = frozenset({str, type(None)})
_TRIGGER_AT_START: Final = re.compile("(?:^|\n)[=+\\-@\t\r\n\0]")


def guard_formula(text: str) -> str:
    """``text``, with a leading ``'`` if a spreadsheet would run it as a formula."""
    if text and text[0] in _TRIGGERS and _NUMBER.fullmatch(text) is None:
        return "'" + text
    return text


def _cell(value: object, guard: bool) -> object:
    """A value the csv module writes correctly, for anything but plain numbers."""
    if isinstance(value, str):
        return guard_formula(value) if guard else value
    if type(value) in _NATIVE:
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _cell(value.value, guard)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raise EncodeError(
            f"a CSV cell cannot hold {type(value).__name__}: decode it to text "
            f"(or base64-encode it) first"
        )
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        # Nested data as JSON text, which reads back unambiguously.
        try:
            encoded = orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as exc:
            raise EncodeError(
                f"a {type(value).__name__} cell is written as JSON, and {exc}"
            ) from None
        return encoded.decode()
    if isinstance(value, int | float):  # bool and int subclasses, IntEnum handled above
        return value
    text = str(value)
    return guard_formula(text) if guard else text


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset | Decimal):
        return list(value) if not isinstance(value, Decimal) else str(value)
    raise TypeError


def _as_mapping(row: object) -> Mapping[str, Any] | None:
    """The row as a mapping of column name to value, or None for a sequence row."""
    if isinstance(row, Mapping):
        return row
    mapping = getattr(row, "_mapping", None)  # SQLAlchemy Row
    if isinstance(mapping, Mapping):
        return mapping
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    dump = getattr(row, "model_dump", None)  # pydantic v2
    if callable(dump):
        result = dump()
        if isinstance(result, Mapping):
            return result
    keys = getattr(row, "keys", None)  # sqlite3.Row and other mapping-like rows
    if callable(keys) and not isinstance(row, list | tuple):
        return {key: row[key] for key in keys()}  # type: ignore[index]
    return None


class CSVEncoder:
    """Encode rows as CSV bytes, header first.

    Args:
        fieldnames: the columns, in order. Mapping-like rows (dicts, database
            rows, dataclasses, pydantic models) are read by these names; when
            omitted they are taken from the first such row. Rows that are
            tuples or lists are written as they are.
        header: write a header row (the labels, or the field names).
        labels: header text per field name, e.g. ``{"email": "E-mail"}``.
        dialect: a ``csv`` dialect name or class; ``"excel"`` (the default)
            is RFC 4180: comma, double quotes, CRLF line endings.
        bom: start with a UTF-8 byte order mark, which Excel needs to read
            UTF-8 (other readers then see a U+FEFF before the first header).
        formula_guard: prefix ``'`` to text cells (and header cells) that a
            spreadsheet would evaluate as a formula; numbers are untouched.
            This changes such cells: a reader that needs the exact text must
            strip the ``'`` (or turn the guard off for machine consumers).
        extra: what to do with keys of a mapping row that are not columns:
            ``"raise"`` (an :class:`~streamkit.EncodeError` naming them) or
            ``"ignore"``. Missing keys always give empty cells.

    Cells: ``None`` is empty; text, numbers and booleans as Python prints
    them; dates and times in ISO 8601; enums by value; UUIDs as text; lists
    and dicts as JSON; ``bytes`` raise :class:`~streamkit.EncodeError`.

    Example::

        >>> encoder = CSVEncoder(["name", "score"])
        >>> encoder.encode({"name": "=cmd()", "score": -5})
        b"name,score\\r\\n'=cmd(),-5\\r\\n"
    """

    def __init__(
        self,
        fieldnames: Sequence[str] | None = None,
        *,
        header: bool = True,
        labels: Mapping[str, str] | None = None,
        dialect: str | type[csv.Dialect] = "excel",
        bom: bool = False,
        formula_guard: bool = True,
        extra: Literal["raise", "ignore"] = "raise",
    ) -> None:
        if extra not in ("raise", "ignore"):
            raise ValueError(f"extra must be 'raise' or 'ignore', got {extra!r}")
        if isinstance(fieldnames, str):
            raise TypeError("fieldnames must be a sequence of names, not one string")
        self._header = header
        self._labels = dict(labels or {})
        self._bom = bom
        self._guard = formula_guard
        self._extra = extra
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, dialect=dialect)
        self._started = False
        self._rows = 0
        self._fields: list[str] | None = None
        self._field_set: frozenset[str] = frozenset()
        self._getter: Callable[[Mapping[str, Any]], Any] | None = None
        if fieldnames is not None:
            self._set_fields(list(fieldnames))

    @classmethod
    def excel(cls, fieldnames: Sequence[str] | None = None, **options: Any) -> CSVEncoder:
        """An encoder for files people open in Excel: UTF-8 with a BOM (without
        it Excel on Windows reads UTF-8 as the local code page), CRLF line
        endings, the formula guard on."""
        options.setdefault("bom", True)
        return cls(fieldnames, dialect="excel", **options)

    @property
    def media_type(self) -> str:
        """``text/csv; charset=utf-8; header=present`` (or ``absent``)."""
        present = "present" if self._header else "absent"
        return f"text/csv; charset=utf-8; header={present}"

    @property
    def fieldnames(self) -> list[str] | None:
        """The columns, once known."""
        return None if self._fields is None else list(self._fields)

    def _set_fields(self, fields: list[str]) -> None:
        self._fields = fields
        self._field_set = frozenset(fields)
        # itemgetter fetches all columns of a full row in one C call.
        if len(fields) == 1:
            only = fields[0]
            self._getter = lambda mapping: (mapping[only],)
        elif fields:
            self._getter = itemgetter(*fields)
        else:
            self._getter = lambda mapping: ()

    def encode(self, row: object) -> bytes:
        """Encode one row (preceded by the BOM and header on the first call)."""
        return self.encode_many((row,))

    def encode_many(self, rows: Iterable[object]) -> bytes:
        """Encode several rows in one go (faster than one :meth:`encode` each).

        Raises:
            EncodeError: a row cannot be written; the message names the row
                by its 0-based index in the stream.
        """
        batch = rows if isinstance(rows, list) else list(rows)
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        fast = self._plain_batch(batch) if self._started else None
        if fast is not None:
            self._writer.writerows(fast)
            self._rows += len(batch)
            return buffer.getvalue().encode()
        started, fields, count = self._started, self._fields, self._rows
        try:
            cells = [self._cells(row) for row in batch]
        except BaseException:
            # Nothing of this call is written: if it was the first, the BOM
            # and header must still come with the next one.
            self._started, self._rows = started, count
            if fields is None and self._fields is not None:
                self._fields, self._getter = None, None
            raise
        self._writer.writerows(cells)
        return buffer.getvalue().encode()

    def finish(self) -> bytes:
        """What the end of the file needs: the BOM and header if no row was
        ever written (so an empty export still has its columns), else nothing."""
        if self._started:
            return b""
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        self._start(None)
        return buffer.getvalue().encode()

    def _plain_batch(self, batch: list[object]) -> list[tuple[object, ...]] | None:
        """The cells of a batch of plain rows, checked a column at a time in C,
        or None when any row or cell needs the row-by-row path.

        Plain means: dict rows with exactly the columns (so no unknown or
        missing keys), whose cells are numbers, None, or text that needs no
        formula guard. Everything else (and every error) is left to _cells.
        """
        fields = self._fields
        getter = self._getter
        if not fields or getter is None or len(fields) == 1:
            return None
        if set(map(type, batch)) != {dict} or set(map(len, batch)) != {len(fields)}:  # type: ignore[arg-type]
            return None
        try:
            # Same length as the columns and every column present: no other keys.
            values: list[tuple[object, ...]] = list(map(getter, batch))  # type: ignore[arg-type]
        except KeyError:
            return None
        for column in range(len(fields)):
            cells = list(map(itemgetter(column), values))
            types = set(map(type, cells))
            if types <= _PLAIN_NUMBERS:
                continue
            if types <= _TEXT_OR_NONE:
                # One C-level search of the column joined by LF for a trigger at
                # the start of a cell. A cell that merely contains LF followed by
                # a trigger is a false alarm, which only costs the fast path.
                text = "\n".join(filter(None, cells))
                if self._guard and _TRIGGER_AT_START.search(text) is not None:
                    return None
                continue
            return None
        return values

    def _start(self, first_mapping: Mapping[Any, Any] | None) -> None:
        self._started = True
        if self._bom:
            self._buffer.write(_UTF8_BOM)
        if self._fields is None and first_mapping is not None:
            self._set_fields(list(first_mapping))  # the keys as they are, for lookups
        if self._header and self._fields is not None:
            self._writer.writerow(
                [
                    guard_formula(text) if self._guard else text
                    for text in (str(self._labels.get(f, f)) for f in self._fields)
                ]
            )

    def _cells(self, row: object) -> list[object]:
        index = self._rows
        self._rows += 1
        if type(row) is dict:
            mapping: Mapping[str, Any] | None = row
        elif isinstance(row, (list, tuple)):
            mapping = None
        elif isinstance(row, (str, bytes, bytearray)):
            raise EncodeError(
                f"CSV row {index} is a {type(row).__name__}, not a row: wrap it in a "
                f"list to write it as one cell"
            )
        else:
            mapping = _as_mapping(row)
        if not self._started:
            self._start(mapping)
        if mapping is None:
            try:
                values: list[object] = list(row)  # type: ignore[call-overload]
            except TypeError:
                raise EncodeError(
                    f"CSV row {index} is a {type(row).__name__}: expected a mapping, "
                    f"a sequence, a dataclass or a model"
                ) from None
        else:
            values = self._values(mapping, index)
        guard = self._guard
        for i, value in enumerate(values):
            if type(value) is str:
                if guard and value and value[0] in _TRIGGERS:
                    values[i] = guard_formula(value)
            elif type(value) not in _NATIVE:
                try:
                    values[i] = _cell(value, guard)
                except EncodeError as exc:
                    raise EncodeError(f"CSV row {index}, column {i + 1}: {exc}") from None
        return values

    def _values(self, mapping: Mapping[Any, Any], index: int) -> list[object]:
        fields = self._fields
        if fields is None or self._getter is None:
            raise EncodeError(
                f"CSV row {index} is a mapping, but the columns are unknown: the first "
                f"row was a sequence; pass fieldnames= to name them"
            )
        if not mapping.keys() <= self._field_set:
            unknown = [key for key in mapping if key not in self._field_set]
            if self._extra == "raise":
                raise EncodeError(
                    f"CSV row {index} has keys that are not columns: "
                    f"{', '.join(map(repr, unknown))} (columns: {', '.join(map(str, fields))}); "
                    f"pass extra='ignore' to drop them"
                )
        try:
            values: list[object] = list(self._getter(mapping))
        except KeyError:  # missing keys: empty cells
            values = [mapping.get(field) for field in fields]
        return values
