"""JSON Lines and JSON text sequences (RFC 7464): the encoders' wire bytes, the
incremental decoders' framing, limits and errors, and property tests that split
the input at arbitrary points."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamkit import (
    DecodeError,
    EncodeError,
    JSONLDecoder,
    JSONSeqDecoder,
    encode_json_seq,
    encode_jsonl,
)
from streamkit._formats.jsonl import jsonl_encoder

from .strategies import splits, texts

RS = b"\x1e"

Decoder = JSONLDecoder | JSONSeqDecoder


# -- helpers -----------------------------------------------------------------


def feed_all(decoder: Decoder, pieces: list[bytes]) -> list[Any]:
    """Feed every piece, then close: all the values."""
    out = [value for piece in pieces for value in decoder.feed(piece)]
    return out + decoder.close()


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


Outcome = tuple[list[Any], tuple[type[Exception], int | None, int | None] | None]


def outcome(factory: Callable[[], Decoder], pieces: list[bytes]) -> Outcome:
    """Every value decoded before the first error (``partial`` included), and
    where that error was. Any exception other than DecodeError escapes."""
    decoder = factory()
    got: list[Any] = []
    try:
        for piece in pieces:
            got.extend(decoder.feed(piece))
        got.extend(decoder.close())
    except DecodeError as exc:
        got.extend(exc.partial)
        return got, (type(exc), exc.line, exc.offset)
    return got, None


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


@dataclasses.dataclass(frozen=True)
class Order:
    id: int
    total: Decimal
    placed: dt.date
    tags: frozenset[str]


class Opaque:
    """A type no JSON encoder knows."""


# -- encoding: (value, wire bytes) both ways ---------------------------------

# (name, value, wire): values that are plain JSON, so decoding gives them back.
BOTH_WAYS: list[tuple[str, Any, bytes]] = [
    ("null", None, b"null\n"),
    ("booleans", [True, False], b"[true,false]\n"),
    ("object is compact", {"id": 1, "name": "a"}, b'{"id":1,"name":"a"}\n'),
    ("key order is kept", {"b": 1, "a": 2}, b'{"b":1,"a":2}\n'),
    ("empty containers", [[], {}, ""], b'[[],{},""]\n'),
    ("nested", {"a": [{"b": {"c": None}}]}, b'{"a":[{"b":{"c":null}}]}\n'),
    ("largest int64", 2**63 - 1, b"9223372036854775807\n"),
    ("smallest int64", -(2**63), b"-9223372036854775808\n"),
    ("float shortest form", 0.1, b"0.1\n"),
    ("float with exponent", 1e-7, b"1e-7\n"),
    ("LF in a string is escaped", "a\nb", b'"a\\nb"\n'),
    ("CRLF in a string is escaped", "a\r\nb", b'"a\\r\\nb"\n'),
    ("RS in a string is escaped", "a\x1eb", b'"a\\u001eb"\n'),
    ("NUL is escaped", "\0", b'"\\u0000"\n'),
    ("quote and backslash", 'a"\\', b'"a\\"\\\\"\n'),
    ("non-ASCII is raw UTF-8", "é🌊", '"é🌊"\n'.encode()),
    ("U+2028 is raw: lines end at LF only", "a\u2028b", '"a\u2028b"\n'.encode()),
]


@pytest.mark.parametrize(
    ("value", "wire"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_encode_jsonl_gives_the_wire_bytes(value: Any, wire: bytes) -> None:
    assert encode_jsonl(value) == wire
    assert jsonl_encoder()(value) == wire


@pytest.mark.parametrize(
    ("value", "wire"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_encode_json_seq_is_rs_json_lf(value: Any, wire: bytes) -> None:
    assert encode_json_seq(value) == RS + wire


@pytest.mark.parametrize(
    ("value", "wire"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_jsonl_decoder_gives_the_value_whole_and_byte_by_byte(value: Any, wire: bytes) -> None:
    decoder = JSONLDecoder()
    assert decoder.feed(wire) == [value]
    assert not decoder.pending
    assert decoder.close() == []
    assert feed_all(JSONLDecoder(), byte_by_byte(wire)) == [value]


@pytest.mark.parametrize(
    ("value", "wire"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_json_seq_decoder_gives_the_value_whole_and_byte_by_byte(value: Any, wire: bytes) -> None:
    assert feed_all(JSONSeqDecoder(), [RS + wire]) == [value]
    assert feed_all(JSONSeqDecoder(), byte_by_byte(RS + wire)) == [value]


UTC = dt.UTC
CET = dt.timezone(dt.timedelta(hours=1))

# (name, value, wire): Python values with a JSON form; decoding gives that form.
ENCODE_ONLY: list[tuple[str, Any, bytes]] = [
    ("naive datetime", dt.datetime(2026, 1, 2, 3, 4, 5), b'"2026-01-02T03:04:05"\n'),
    (
        "datetime with microseconds",
        dt.datetime(2026, 1, 2, 3, 4, 5, 6),
        b'"2026-01-02T03:04:05.000006"\n',
    ),
    ("aware datetime UTC", dt.datetime(2026, 1, 2, tzinfo=UTC), b'"2026-01-02T00:00:00+00:00"\n'),
    ("aware datetime CET", dt.datetime(2026, 1, 2, tzinfo=CET), b'"2026-01-02T00:00:00+01:00"\n'),
    ("date", dt.date(2026, 1, 2), b'"2026-01-02"\n'),
    ("time", dt.time(13, 4, 5, 400), b'"13:04:05.000400"\n'),
    ("UUID", UUID(int=1), b'"00000000-0000-0000-0000-000000000001"\n'),
    ("Decimal is a string by default", Decimal("1.10"), b'"1.10"\n'),
    ("Decimal NaN is a string by default", Decimal("NaN"), b'"NaN"\n'),
    ("Decimal exponent keeps its digits", Decimal("1.5E+30"), b'"1.5E+30"\n'),
    ("enum by value", Colour.RED, b'"red"\n'),
    ("int enum by value", Level.HIGH, b"3\n"),
    ("tuple is an array", (1, "a"), b'[1,"a"]\n'),
    ("set is an array", {7}, b"[7]\n"),
    ("frozenset is an array", frozenset({"x"}), b'["x"]\n'),
    ("dataclass is an object", Point(1, 2), b'{"x":1,"y":2}\n'),
    (
        "dataclass fields use the default handler",
        Order(7, Decimal("9.99"), dt.date(2026, 3, 1), frozenset({"gift"})),
        b'{"id":7,"total":"9.99","placed":"2026-03-01","tags":["gift"]}\n',
    ),
    ("int keys become strings", {1: "a", 2: [3]}, b'{"1":"a","2":[3]}\n'),
    (
        "types nest",
        {"at": [dt.date(2026, 1, 2), (Decimal("0.5"), Colour.RED)]},
        b'{"at":["2026-01-02",["0.5","red"]]}\n',
    ),
]


@pytest.mark.parametrize(
    ("value", "wire"), [c[1:] for c in ENCODE_ONLY], ids=[c[0] for c in ENCODE_ONLY]
)
def test_python_values_encode_to_their_json_form(value: Any, wire: bytes) -> None:
    assert encode_jsonl(value) == wire
    assert encode_json_seq(value) == RS + wire
    assert JSONLDecoder().feed(wire) == [json.loads(wire)]


def test_pydantic_models_are_encoded_through_model_dump_in_json_mode() -> None:
    pydantic = pytest.importorskip("pydantic")
    item_model = pydantic.create_model(
        "Item",
        id=(int, ...),
        price=(Decimal, ...),
        when=(dt.datetime, ...),
        tags=(set[str], ...),
    )
    item = item_model(id=1, price=Decimal("2.50"), when=dt.datetime(2026, 1, 2), tags={"a"})
    expected = item.model_dump_json().encode() + b"\n"
    assert encode_jsonl(item) == expected
    assert encode_jsonl([item]) == b"[" + expected[:-1] + b"]\n"
    assert JSONLDecoder().feed(expected) == [item.model_dump(mode="json")]


def test_numpy_scalars_and_arrays_are_encoded() -> None:
    np = pytest.importorskip("numpy")
    value = {"a": np.arange(3, dtype=np.int64), "b": np.float64(0.5), "c": np.int32(-2)}
    assert encode_jsonl(value) == b'{"a":[0,1,2],"b":0.5,"c":-2}\n'


# -- decimals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (Decimal("1.10"), b"1.10\n"),
        (Decimal("-0"), b"-0\n"),
        (Decimal("123456789012345678901234567890.123"), b"123456789012345678901234567890.123\n"),
        (Decimal("1E+2"), b"1E+2\n"),
        (Decimal("1E-7"), b"1E-7\n"),
    ],
)
def test_decimal_number_mode_writes_the_exact_digits_as_a_json_number(
    value: Decimal, wire: bytes
) -> None:
    assert encode_jsonl(value, decimal="number") == wire
    assert encode_jsonl({"v": value}, decimal="number") == b'{"v":' + wire[:-1] + b"}\n"
    assert jsonl_encoder(decimal="number")(value) == wire


@pytest.mark.parametrize("text", ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"])
def test_non_finite_decimal_in_number_mode_is_an_encode_error(text: str) -> None:
    with pytest.raises(EncodeError, match="Decimal"):
        encode_jsonl(Decimal(text), decimal="number")
    with pytest.raises(EncodeError, match="Decimal"):
        encode_jsonl([1, {"x": Decimal(text)}], decimal="number")


def test_unknown_decimal_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="decimal must be"):
        encode_jsonl(Decimal(1), decimal="float")  # type: ignore[arg-type]


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_finite_decimal_keeps_its_digits_in_number_mode(value: Decimal) -> None:
    wire = encode_jsonl(value, decimal="number")
    assert wire == str(value).encode() + b"\n"
    back = json.loads(wire, parse_float=Decimal, parse_int=Decimal)
    assert str(back) == str(value)


# -- encode errors and the default hook --------------------------------------


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (Opaque(), "Opaque"),
        ({"deep": [1, (Opaque(),)]}, "Opaque"),
        (object(), "object"),
        (b"bytes", "bytes"),
        (1 + 2j, "complex"),
    ],
)
def test_unknown_types_raise_encode_error_naming_the_type(value: object, type_name: str) -> None:
    with pytest.raises(EncodeError, match=type_name):
        encode_jsonl(value)
    with pytest.raises(EncodeError, match=type_name):
        encode_json_seq(value)


def test_encode_error_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        encode_jsonl(Opaque())


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**40, -(10**40)])
def test_ints_beyond_64_bits_round_trip_exactly(value: int) -> None:
    wire = encode_jsonl({"n": [value]})
    assert wire == b'{"n":[' + str(value).encode() + b"]}\n"
    assert feed_all(JSONLDecoder(), [wire]) == [{"n": [value]}]
    assert feed_all(JSONSeqDecoder(), [RS + wire]) == [{"n": [value]}]


def test_text_that_is_not_utf8_encodable_is_an_encode_error() -> None:
    with pytest.raises(EncodeError, match="surrogates"):
        encode_jsonl(["\ud800"])


def test_text_that_is_not_utf8_encodable_next_to_a_big_int_is_an_encode_error() -> None:
    with pytest.raises(EncodeError):
        encode_jsonl([2**64, "\ud800"])


def test_default_hook_handles_other_types() -> None:
    def default(obj: object) -> object:
        if isinstance(obj, Opaque):
            return {"opaque": True}
        raise TypeError

    assert encode_jsonl([Opaque()], default=default) == b'[{"opaque":true}]\n'
    assert encode_json_seq(Opaque(), default=default) == RS + b'{"opaque":true}\n'
    assert jsonl_encoder(default=default)(Opaque()) == b'{"opaque":true}\n'


def test_default_hook_does_not_replace_the_built_in_handling() -> None:
    def default(obj: object) -> object:
        return "from hook"

    assert encode_jsonl([Decimal("1.5"), {2}], default=default) == b'["1.5",[2]]\n'


def test_default_hook_refusing_a_type_is_an_encode_error_naming_it() -> None:
    def default(obj: object) -> object:
        raise TypeError

    with pytest.raises(EncodeError, match="Opaque"):
        encode_jsonl(Opaque(), default=default)


# -- JSONLDecoder: framing -----------------------------------------------------

# (name, wire, values)
JSONL_DECODE: list[tuple[str, bytes, list[Any]]] = [
    ("LF", b'{"a":1}\n[2]\n', [{"a": 1}, [2]]),
    ("CRLF", b'{"a":1}\r\n[2]\r\n', [{"a": 1}, [2]]),
    ("mixed LF and CRLF", b"1\r\n2\n3\r\n", [1, 2, 3]),
    ("blank lines are skipped", b"\n\n1\n\n\n2\n\n", [1, 2]),
    ("blank CRLF lines are skipped", b"\r\n1\r\n\r\n2\r\n", [1, 2]),
    ("whitespace-only lines are skipped", b" \n\t\n \t \r\n1\n  \t\n", [1]),
    ("spaces around a value", b"  [1, 2]  \n\t{ }\t\n", [[1, 2], {}]),
    ("JSON whitespace inside a value", b'{ "a" : [ 1 , 2 ] }\n', [{"a": [1, 2]}]),
    ("scalars", b'1\n-2.5\n"s"\ntrue\nfalse\nnull\n', [1, -2.5, "s", True, False, None]),
    ("a lone CR is not a line ending", b"1\r", [1]),
    ("last line without LF (close)", b"[1]\n[2]", [[1], [2]]),
    ("last line without LF, CR kept", b"[1]\r", [[1]]),
    ("empty stream", b"", []),
    ("only blank lines", b"\n\r\n \n", []),
]


@pytest.mark.parametrize(
    ("wire", "values"), [c[1:] for c in JSONL_DECODE], ids=[c[0] for c in JSONL_DECODE]
)
def test_jsonl_decoder_framing(wire: bytes, values: list[Any]) -> None:
    assert feed_all(JSONLDecoder(), [wire]) == values
    assert feed_all(JSONLDecoder(), byte_by_byte(wire)) == values


def test_docstring_example_decodes_across_feeds() -> None:
    decoder = JSONLDecoder()
    assert decoder.feed(b'{"a": 1}\n{"a"') == [{"a": 1}]
    assert decoder.pending
    assert decoder.feed(b": 2}\n") == [{"a": 2}]
    assert not decoder.pending


def test_close_decodes_a_final_line_without_lf() -> None:
    decoder = JSONLDecoder()
    assert decoder.feed(b'[1]\n{"last": true}') == [[1]]
    assert decoder.pending
    assert decoder.close() == [{"last": True}]
    assert not decoder.pending
    assert decoder.close() == []


def test_pending_ignores_buffered_whitespace() -> None:
    decoder = JSONLDecoder()
    assert not decoder.pending
    decoder.feed(b"[1]\n \t")
    assert not decoder.pending
    decoder.feed(b"[")
    assert decoder.pending
    assert decoder.feed(b"2]\n") == [[2]]
    assert not decoder.pending


def test_close_of_an_unfinished_value_is_a_decode_error_with_its_position() -> None:
    decoder = JSONLDecoder()
    decoder.feed(b"[1]\r\n[2, ")
    with pytest.raises(DecodeError, match="line 2") as info:
        decoder.close()
    assert (info.value.line, info.value.offset) == (2, 5)


def test_close_of_only_whitespace_is_empty() -> None:
    decoder = JSONLDecoder()
    decoder.feed(b"[1]\n  \t\r")
    assert decoder.close() == []


@pytest.mark.parametrize(
    "data", [memoryview(b"[1]\n[2]\n"), memoryview(b"xx[1]\n[2]\n")[2:]], ids=["view", "slice"]
)
def test_jsonl_decoder_accepts_memoryview(data: memoryview) -> None:
    assert JSONLDecoder().feed(data) == [[1], [2]]


def test_jsonl_decoder_accepts_bytearray() -> None:
    assert JSONLDecoder().feed(bytearray(b"[1]\n[2]\n")) == [[1], [2]]


def test_jsonl_decoder_refuses_text() -> None:
    with pytest.raises(TypeError, match="bytes"):
        JSONLDecoder().feed('{"a": 1}\n')  # type: ignore[arg-type]


# -- JSONLDecoder: errors ------------------------------------------------------

# (name, wire, values before the error, line, offset)
JSONL_ERRORS: list[tuple[str, bytes, list[Any], int, int]] = [
    ("invalid JSON on line 2", b'[1]\n{"a" 1}\n', [[1]], 2, 4),
    (
        "line numbers count blank and CRLF lines",
        b"[1]\r\n\r\n  \r\n[2]\nnope\n[3]\n",
        [[1], [2]],
        5,
        15,
    ),
    ("two values on one line", b"[1] [2]\n", [], 1, 0),
    ("invalid UTF-8", b'"ok"\n"\xff"\n', ["ok"], 2, 5),
    ("lone surrogate escape", b'"\\ud800"\n', [], 1, 0),
    ("NaN is not JSON", b"NaN\n", [], 1, 0),
    ("a form feed is not JSON whitespace", b"1\n\x0c\n", [1], 2, 2),
    ("nesting beyond orjson's limit", b"[" * 2000 + b"]" * 2000 + b"\n", [], 1, 0),
    ("truncated last line (close)", b'[1]\n{"a":', [[1]], 2, 4),
]


@pytest.mark.parametrize(
    ("wire", "before", "line", "offset"),
    [c[1:] for c in JSONL_ERRORS],
    ids=[c[0] for c in JSONL_ERRORS],
)
def test_jsonl_decode_error_says_where(
    wire: bytes, before: list[Any], line: int, offset: int
) -> None:
    expected = (before, (DecodeError, line, offset))
    assert outcome(JSONLDecoder, [wire]) == expected
    assert outcome(JSONLDecoder, byte_by_byte(wire)) == expected


LONG_INT = b"12345678901234567890"  # 20 digits: too long for orjson's integers

# Lines orjson refuses; the same lines holding a long integer too.
REFUSED = [
    (b'"\\ud800"', b'["\\ud800",' + LONG_INT + b"]"),
    (b'"\xed\xa0\x80"', b'["\xed\xa0\x80",' + LONG_INT + b"]"),
    (b"\xef\xbb\xbf[1]", b"\xef\xbb\xbf[" + LONG_INT + b"]"),
    (b"[" * 5000 + b"]" * 5000, b"[" * 100_000 + LONG_INT + b"]" * 100_000),
]
REFUSED_IDS = ["lone surrogate escape", "UTF-8 encoded surrogate", "UTF-8 BOM", "deep nesting"]


@pytest.mark.parametrize("line", [r[0] for r in REFUSED], ids=REFUSED_IDS)
def test_lines_orjson_refuses_are_decode_errors(line: bytes) -> None:
    with pytest.raises(DecodeError):
        JSONLDecoder().feed(line + b"\n")
    with pytest.raises(DecodeError):
        JSONSeqDecoder().feed(RS + line + b"\n" + RS)


@pytest.mark.parametrize("line", [r[1] for r in REFUSED], ids=REFUSED_IDS)
def test_the_same_lines_holding_a_long_integer_are_decode_errors_too(line: bytes) -> None:
    with pytest.raises(DecodeError):
        JSONLDecoder().feed(line + b"\n")
    with pytest.raises(DecodeError):
        JSONSeqDecoder().feed(RS + line + b"\n" + RS)


def test_decode_error_partial_holds_values_from_the_same_feed() -> None:
    decoder = JSONLDecoder()
    assert decoder.feed(b"[0]\n[1]") == [[0]]
    with pytest.raises(DecodeError) as info:
        decoder.feed(b"\n[2]\n{oops\n[3]\n")
    assert info.value.partial == [[1], [2]]
    assert (info.value.line, info.value.offset) == (4, 12)
    assert f"line {info.value.line}" in str(info.value)


def test_decoder_refuses_input_after_an_error() -> None:
    decoder = JSONLDecoder()
    with pytest.raises(DecodeError):
        decoder.feed(b"[1]\nbad\n")
    for data in (b"[2]\n", b"", b"[3]"):
        with pytest.raises(DecodeError, match="earlier error") as info:
            decoder.feed(data)
        assert (info.value.line, info.value.offset) == (2, 4)
        assert info.value.partial == []


def test_decode_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid JSON"):
        JSONLDecoder().feed(b"{\n")


# -- JSONLDecoder: the line size limit ----------------------------------------


def test_a_line_of_exactly_max_line_size_is_accepted() -> None:
    assert feed_all(JSONLDecoder(max_line_size=5), [b"[1,2]\n[3]\n"]) == [[1, 2], [3]]
    assert feed_all(JSONLDecoder(max_line_size=5), [b"[1,2]"]) == [[1, 2]]


def test_a_longer_line_is_a_decode_error_with_its_position() -> None:
    wire = b"[1]\n[1,22]\n[3]\n"
    expected = ([[1]], (DecodeError, 2, 4))
    assert outcome(lambda: JSONLDecoder(max_line_size=5), [wire]) == expected
    assert outcome(lambda: JSONLDecoder(max_line_size=5), byte_by_byte(wire)) == expected


def test_a_line_that_never_ends_is_refused_once_it_exceeds_the_limit() -> None:
    decoder = JSONLDecoder(max_line_size=8)
    assert decoder.feed(b"[1]\n") == [[1]]
    decoder.feed(b'"' + b"x" * 7)  # 8 bytes buffered: still within the limit
    with pytest.raises(DecodeError, match="max_line_size") as info:
        decoder.feed(b"x")  # no LF yet, but the line can no longer fit
    assert (info.value.line, info.value.offset) == (2, 4)


def test_blank_lines_count_towards_the_limit_too() -> None:
    with pytest.raises(DecodeError, match="max_line_size"):
        JSONLDecoder(max_line_size=4).feed(b" " * 5)


@pytest.mark.parametrize("size", [0, -1])
def test_max_line_size_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        JSONLDecoder(max_line_size=size)


# An unterminated last line must decode (at close) exactly as the same line
# ended by LF would.
LAST_LINES = [
    b"[1]",
    b"[1]\r",
    b" [1] ",
    b"",
    b"  \t",
    b"\r",
    b"x",
    b"[1",
    b"\x0b[1]",
    b"\x0c",
    b"\x0b \x0c",
]


@pytest.mark.parametrize("last", LAST_LINES)
def test_last_line_without_lf_decodes_like_the_same_line_with_lf(last: bytes) -> None:
    head = b"[0]\n"
    assert outcome(JSONLDecoder, [head + last]) == outcome(JSONLDecoder, [head + last + b"\n"])


# -- JSONSeqDecoder ------------------------------------------------------------

# (name, wire, values)
SEQ_DECODE: list[tuple[str, bytes, list[Any]]] = [
    ("two values", RS + b'{"a":1}\n' + RS + b"[2]\n", [{"a": 1}, [2]]),
    ("scalars", RS + b"1\n" + RS + b'"s"\n' + RS + b"null\n", [1, "s", None]),
    ("consecutive RS are skipped", RS * 3 + b"1\n" + RS * 2 + b"2\n" + RS, [1, 2]),
    ("pretty-printed value", RS + b'{\n  "a": [\n    1\n  ]\n}\n', [{"a": [1]}]),
    ("CRLF after a value", RS + b"1\r\n" + RS + b"2\r\n", [1, 2]),
    ("whitespace before the first RS", b" \t\r\n\n" + RS + b"1\n", [1]),
    ("whitespace inside a value", RS + b"  [1, 2]  \n", [[1, 2]]),
    ("empty stream", b"", []),
    ("only whitespace", b" \r\n\t", []),
    ("only RS", RS * 4, []),
]


@pytest.mark.parametrize(
    ("wire", "values"), [c[1:] for c in SEQ_DECODE], ids=[c[0] for c in SEQ_DECODE]
)
def test_json_seq_decoder_framing(wire: bytes, values: list[Any]) -> None:
    assert feed_all(JSONSeqDecoder(), [wire]) == values
    assert feed_all(JSONSeqDecoder(), byte_by_byte(wire)) == values


def test_a_json_seq_value_is_complete_when_the_next_rs_arrives() -> None:
    decoder = JSONSeqDecoder()
    assert decoder.feed(RS + b"[1]\n") == []
    assert decoder.feed(RS) == [[1]]
    assert decoder.feed(b"[2]\n") == []
    assert decoder.close() == [[2]]


# (name, wire, values before the error, offset of the failing value's RS)
SEQ_ERRORS: list[tuple[str, bytes, list[Any], int]] = [
    ("truncated last value (no LF)", RS + b"1\n" + RS + b"123", [1], 3),
    ("truncated number mid-stream", RS + b"12" + RS + b"3\n", [], 0),
    ("truncated object", RS + b'{"a":1}\n' + RS + b'{"a":', [{"a": 1}], 9),
    ("value not ending with LF", RS + b"[1]" + RS, [], 0),
    ("LF then trailing text", RS + b"1\nx" + RS + b"2\n", [], 0),
    ("invalid JSON", RS + b"1\n" + RS + b"{x}\n" + RS, [1], 3),
    ("invalid UTF-8", RS + b'"\xff"\n' + RS, [], 0),
    ("RS and LF but no JSON", RS + b"\n" + RS, [], 0),
    ("text before the first RS", b"1\n" + RS + b"2\n", [], 0),
    ("text after leading whitespace", b"  [1]\n" + RS + b"2\n", [], 0),
    ("plain JSON Lines is not a sequence", b'{"a":1}\n', [], 0),
]


@pytest.mark.parametrize(
    ("wire", "before", "offset"), [c[1:] for c in SEQ_ERRORS], ids=[c[0] for c in SEQ_ERRORS]
)
def test_json_seq_decode_error_says_where(wire: bytes, before: list[Any], offset: int) -> None:
    expected = (before, (DecodeError, None, offset))
    assert outcome(JSONSeqDecoder, [wire]) == expected
    assert outcome(JSONSeqDecoder, byte_by_byte(wire)) == expected


def test_truncation_is_reported_as_such() -> None:
    decoder = JSONSeqDecoder()
    decoder.feed(RS + b"123")
    with pytest.raises(DecodeError, match="truncated"):
        decoder.close()


def test_json_seq_decoder_refuses_input_after_an_error() -> None:
    decoder = JSONSeqDecoder()
    with pytest.raises(DecodeError):
        decoder.feed(RS + b"nope\n" + RS)
    with pytest.raises(DecodeError, match="earlier error"):
        decoder.feed(RS + b"1\n")
    with pytest.raises(DecodeError, match="earlier error"):
        decoder.close()


def test_json_seq_partial_holds_values_from_the_same_feed() -> None:
    decoder = JSONSeqDecoder()
    with pytest.raises(DecodeError) as info:
        decoder.feed(RS + b"1\n" + RS + b"2\n" + RS + b"bad\n" + RS)
    assert info.value.partial == [1, 2]
    assert info.value.offset == 6


def test_json_seq_value_of_exactly_max_size_is_accepted() -> None:
    wire = RS + b"[1,2]\n" + RS + b"1\n"  # the first value is 6 bytes with its LF
    assert feed_all(JSONSeqDecoder(max_size=6), [wire]) == [[1, 2], 1]
    assert feed_all(JSONSeqDecoder(max_size=6), byte_by_byte(wire)) == [[1, 2], 1]


def test_json_seq_value_over_max_size_is_refused_before_it_ends() -> None:
    decoder = JSONSeqDecoder(max_size=6)
    assert decoder.feed(RS + b"1\n" + RS + b"[1,2,") == [1]
    with pytest.raises(DecodeError, match="max_size") as info:
        decoder.feed(b"3]")  # 7 bytes of the second value, no RS in sight
    assert info.value.offset == 3


@pytest.mark.parametrize("size", [0, -1])
def test_max_size_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        JSONSeqDecoder(max_size=size)


def test_json_seq_decoder_accepts_memoryview() -> None:
    decoder = JSONSeqDecoder()
    assert decoder.feed(memoryview(RS + b"[1]\n")) == []
    assert decoder.feed(memoryview(RS + b"[2]\n" + RS)) == [[1], [2]]


def test_json_seq_decoder_accepts_bytearray() -> None:
    decoder = JSONSeqDecoder()
    assert decoder.feed(bytearray(RS + b"[1]\n")) == []
    assert decoder.feed(bytearray(RS + b"[2]\n" + RS)) == [[1], [2]]


# -- property tests ------------------------------------------------------------

#: Text biased towards what matters to JSON and to the two framings.
json_text = texts | st.lists(
    st.sampled_from(["\n", "\r", "\r\n", "\x1e", '"', "\\", "\0", "\u2028", "\ufeff", "é", "😀"])
    | st.characters(codec="utf-8")
).map("".join)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text
)

#: Any value that JSON represents exactly (and Python compares by value).
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(json_text, children, max_size=5)
    ),
    max_leaves=10,
)


@given(st.lists(json_values, max_size=6), st.data())
def test_any_json_values_round_trip_as_json_lines_under_any_split(
    values: list[Any], data: st.DataObject
) -> None:
    wire = b"".join(encode_jsonl(value) for value in values)
    # One record per line, each one standard JSON.
    lines = wire.split(b"\n")
    assert lines[-1] == b""
    assert [json.loads(line) for line in lines[:-1]] == values
    assert feed_all(JSONLDecoder(), data.draw(splits(wire))) == values


@given(st.lists(json_values, max_size=6), st.data())
def test_any_json_values_round_trip_as_a_json_sequence_under_any_split(
    values: list[Any], data: st.DataObject
) -> None:
    wire = b"".join(encode_json_seq(value) for value in values)
    texts_ = wire.split(RS)
    assert texts_[0] == b""
    assert all(text.endswith(b"\n") for text in texts_[1:])
    assert [json.loads(text) for text in texts_[1:]] == values
    assert feed_all(JSONSeqDecoder(), data.draw(splits(wire))) == values


@given(st.lists(json_values, min_size=1, max_size=4), st.data())
def test_blank_lines_and_crlf_between_records_change_nothing(
    values: list[Any], data: st.DataObject
) -> None:
    seps = data.draw(st.lists(st.sampled_from([b"\n", b"\r\n", b"\n\n", b" \t\r\n"]), min_size=1))
    wire = b"".join(
        encode_jsonl(value)[:-1] + seps[i % len(seps)] for i, value in enumerate(values)
    )
    assert feed_all(JSONLDecoder(), data.draw(splits(wire))) == values


#: Bytes that are sometimes nearly valid, to reach the interesting branches.
noisy_bytes = st.binary(max_size=300) | st.lists(
    st.sampled_from(
        [
            *(b"\n", b"\r\n", b"\r", RS, b" ", b"\t", b"\x0c", b"\x00", b"\xff", b"\xc3"),
            *(b"[1]", b'{"a":', b"}", b'"', b"[", b"]", b",", b"\\", b"null", b"12"),
            b"12345678901234567890",
        ]
    ),
    max_size=60,
).map(b"".join)

jsonl_options = st.sampled_from(
    [{}, {"max_line_size": 1}, {"max_line_size": 4}, {"max_line_size": 16}]
)
seq_options = st.sampled_from([{}, {"max_size": 1}, {"max_size": 4}, {"max_size": 16}])


@given(noisy_bytes, st.data(), jsonl_options)
def test_arbitrary_bytes_make_jsonl_decoder_raise_only_decode_error(
    stream: bytes, data: st.DataObject, options: dict[str, int]
) -> None:
    decoder = JSONLDecoder(**options)
    with contextlib.suppress(DecodeError):
        feed_all(decoder, data.draw(splits(stream)))


@given(noisy_bytes, st.data(), seq_options)
def test_arbitrary_bytes_make_json_seq_decoder_raise_only_decode_error(
    stream: bytes, data: st.DataObject, options: dict[str, int]
) -> None:
    decoder = JSONSeqDecoder(**options)
    with contextlib.suppress(DecodeError):
        feed_all(decoder, data.draw(splits(stream)))


@given(noisy_bytes, st.data(), jsonl_options)
def test_how_jsonl_input_is_split_never_changes_the_outcome(
    stream: bytes, data: st.DataObject, options: dict[str, int]
) -> None:
    def factory() -> JSONLDecoder:
        return JSONLDecoder(**options)

    assert outcome(factory, data.draw(splits(stream))) == outcome(factory, [stream])


@given(noisy_bytes, st.data(), seq_options)
def test_how_json_seq_input_is_split_never_changes_the_outcome(
    stream: bytes, data: st.DataObject, options: dict[str, int]
) -> None:
    def factory() -> JSONSeqDecoder:
        return JSONSeqDecoder(**options)

    assert outcome(factory, data.draw(splits(stream))) == outcome(factory, [stream])


@given(noisy_bytes, jsonl_options)
def test_an_unterminated_last_line_decodes_as_if_it_had_an_lf(
    stream: bytes, options: dict[str, int]
) -> None:
    def factory() -> JSONLDecoder:
        return JSONLDecoder(**options)

    if not stream.endswith(b"\n"):
        assert outcome(factory, [stream]) == outcome(factory, [stream + b"\n"])
