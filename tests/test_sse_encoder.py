"""The SSE event value and encoder: validation, helpers and pass-through."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from streamkit import (
    DecodeError,
    EncodeError,
    InvalidEventError,
    ServerSentEvent,
    encode_comment,
    encode_sse,
    json_event,
)


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\r\nb", "\n", "x\ndata: injected"])
def test_line_break_in_event_or_id_is_refused_not_stripped(field: str, value: str) -> None:
    with pytest.raises(InvalidEventError, match=f"{field} contains a (CR|LF)") as info:
        ServerSentEvent("x", **{field: value})  # type: ignore[arg-type]
    assert "at index" in str(info.value)


def test_nul_in_id_is_refused() -> None:
    with pytest.raises(InvalidEventError, match="id contains NUL at index 1"):
        ServerSentEvent("x", id="1\0")


def test_nul_in_event_and_data_is_allowed() -> None:
    assert encode_sse(ServerSentEvent("a\0", event="b\0")) == b"event: b\0\ndata: a\0\n\n"


@pytest.mark.parametrize("retry", [True, False, -1, 1.5, "10", 10.0])
def test_retry_must_be_a_non_negative_int(retry: Any) -> None:
    with pytest.raises(InvalidEventError, match="retry must be an int >= 0"):
        ServerSentEvent("x", retry=retry)


def test_retry_accepts_int_subclasses_and_writes_digits() -> None:
    class Delay(enum.IntEnum):
        SHORT = 250

    assert encode_sse(ServerSentEvent("x", retry=Delay.SHORT)) == b"data: x\nretry: 250\n\n"


@pytest.mark.parametrize("field", ["data", "event", "id", "comment"])
@pytest.mark.parametrize("value", [1, b"bytes", ["x"]])
def test_fields_must_be_text(field: str, value: object) -> None:
    with pytest.raises(InvalidEventError, match=f"{field} must be a str or None, got"):
        ServerSentEvent(**{field: value})  # type: ignore[arg-type]


def test_str_subclass_is_accepted_as_plain_text() -> None:
    class Name(str):
        pass

    event = ServerSentEvent(Name("x"), event=Name("e"))
    assert type(event.data) is str
    assert type(event.event) is str
    assert encode_sse(event) == b"event: e\ndata: x\n\n"


@pytest.mark.parametrize("field", ["data", "event", "id", "comment"])
def test_lone_surrogate_is_refused_at_construction(field: str) -> None:
    with pytest.raises(InvalidEventError, match=f"{field} contains a lone surrogate"):
        ServerSentEvent(**{field: "ok\ud800"})  # type: ignore[arg-type]


def test_an_event_with_no_field_is_refused() -> None:
    with pytest.raises(InvalidEventError, match="at least one of"):
        ServerSentEvent()


def test_event_is_frozen_and_slotted() -> None:
    event = ServerSentEvent("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")


def test_only_data_is_positional() -> None:
    with pytest.raises(TypeError):
        ServerSentEvent("x", "event")  # type: ignore[call-arg]


def test_events_compare_and_hash_by_value() -> None:
    assert ServerSentEvent("x", id="1") == ServerSentEvent("x", id="1")
    assert len({ServerSentEvent("x"), ServerSentEvent("x"), ServerSentEvent("y")}) == 2


@pytest.mark.parametrize("sep", ["\r", "", "\n\n", " "])
def test_separator_must_be_lf_or_crlf(sep: str) -> None:
    with pytest.raises(ValueError, match="sep must be"):
        encode_sse(ServerSentEvent("x"), sep=sep)
    with pytest.raises(ValueError, match="sep must be"):
        encode_comment("x", sep=sep)


@pytest.mark.parametrize(
    "frame", [b"data: raw\n\n", bytearray(b"data: raw\n\n"), memoryview(b"data: raw\n\n")]
)
def test_bytes_pass_through_unchanged(frame: bytes) -> None:
    out = encode_sse(frame)
    assert out == b"data: raw\n\n"
    assert type(out) is bytes


@pytest.mark.parametrize("value", ["text", 1, {"data": "x"}, None])
def test_other_values_are_refused_with_a_hint(value: Any) -> None:
    with pytest.raises(EncodeError, match="takes a ServerSentEvent or bytes"):
        encode_sse(value)


def test_subclass_of_event_encodes_like_the_base() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Tagged(ServerSentEvent):
        pass

    assert encode_sse(Tagged("x", id="1"), sep="\r\n") == b"id: 1\r\ndata: x\r\n\r\n"


def test_encoder_never_writes_a_bom() -> None:
    assert not encode_sse(ServerSentEvent("\ufeffx")).startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("", b":\n"),
        ("ping", b": ping\n"),
        ("a\nb", b": a\n: b\n"),
        ("a\r\n\rb", b": a\n:\n: b\n"),
    ],
)
def test_encode_comment_has_no_trailing_blank_line(text: str, wire: bytes) -> None:
    assert encode_comment(text) == wire
    assert encode_comment(text, sep="\r\n") == wire.replace(b"\n", b"\r\n")


def test_encode_comment_refuses_bad_text() -> None:
    with pytest.raises(InvalidEventError):
        encode_comment("\udfff")
    with pytest.raises(InvalidEventError):
        encode_comment(5)  # type: ignore[arg-type]


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class User(pydantic.BaseModel):
    name: str
    joined: dt.date
    tags: list[str] = []


def test_json_event_serialises_common_types() -> None:
    obj = {
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "day": dt.date(2026, 1, 2),
        "uid": uuid.UUID(int=1),
        "point": Point(1, 2),
        "user": User(name="Ada", joined=dt.date(2020, 5, 1)),
        "price": Decimal("1.10"),
        "colour": Colour.RED,
        "pair": (1, 2),
        "set": {3},
        1: "int key",
    }
    event = json_event(obj, event="snapshot", id="9")
    assert event.event == "snapshot"
    assert event.id == "9"
    assert event.json() == {
        "when": "2026-01-02T03:04:05+00:00",
        "day": "2026-01-02",
        "uid": "00000000-0000-0000-0000-000000000001",
        "point": {"x": 1, "y": 2},
        "user": {"name": "Ada", "joined": "2020-05-01", "tags": []},
        "price": "1.10",
        "colour": "red",
        "pair": [1, 2],
        "set": [3],
        "1": "int key",
    }


def test_json_event_names_the_type_it_cannot_encode() -> None:
    class Opaque:
        pass

    with pytest.raises(EncodeError, match="Opaque"):
        json_event({"x": Opaque()})


def test_json_event_uses_the_default_hook_for_unknown_types() -> None:
    class Money:
        cents = 150

    event = json_event({"m": Money()}, default=lambda o: o.cents)
    assert event.data == '{"m":150}'


def test_json_event_escapes_unicode_line_separators() -> None:
    event = json_event({"t": "a\u2028b\u2029c"})
    assert event.data == '{"t":"a\\u2028b\\u2029c"}'
    assert event.json() == {"t": "a\u2028b\u2029c"}


def test_json_event_is_one_data_line() -> None:
    assert encode_sse(json_event({"text": "line1\nline2"})) == b'data: {"text":"line1\\nline2"}\n\n'


def test_json_parses_data_and_reports_bad_json() -> None:
    assert ServerSentEvent("[1, 2]").json() == [1, 2]
    with pytest.raises(DecodeError, match="not valid JSON"):
        ServerSentEvent("{").json()
    with pytest.raises(DecodeError, match="no data"):
        ServerSentEvent(id="1").json()
