"""Property tests for the SSE encoder/decoder pair."""

from __future__ import annotations

import contextlib

from hypothesis import example, given
from hypothesis import strategies as st

from streamkit import (
    DecodeError,
    InvalidEventError,
    ServerSentEvent,
    SSEDecoder,
    encode_sse,
    format_sse,
)

from .strategies import events, retries, splits, texts, tricky_text


def reference_decode(stream: bytes) -> tuple[list[ServerSentEvent], str, int | None]:
    """The WHATWG algorithm (HTML 9.2.5-9.2.6) transcribed literally, character by
    character, with no attention to speed: the oracle for the real decoder."""
    text = stream.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "\r\n":
            lines.append("".join(current))
            current = []
            if char == "\r" and text[i + 1 : i + 2] == "\n":
                i += 1
        else:
            current.append(char)
        i += 1
    # Whatever is in `current` is an unterminated line: discarded at EOF.
    out: list[ServerSentEvent] = []
    data, event_type, id_buffer, last_event_id = "", "", "", ""
    retry: int | None = None
    block_retry: int | None = None
    for line in lines:
        if line == "":
            last_event_id = id_buffer
            if data == "":
                event_type, block_retry = "", None
                continue
            if data.endswith("\n"):
                data = data[:-1]
            out.append(
                ServerSentEvent(
                    data, event=event_type or None, id=last_event_id or None, retry=block_retry
                )
            )
            data, event_type, block_retry = "", "", None
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            field, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "event":
            event_type = value
        elif field == "data":
            data += value + "\n"
        elif field == "id" and "\0" not in value:
            id_buffer = value
        elif field == "retry" and value != "" and all(c in "0123456789" for c in value):
            retry = block_retry = int(value)
    return out, last_event_id, retry


def decode_in_pieces(pieces: list[bytes], **options: object) -> list[ServerSentEvent]:
    decoder = SSEDecoder(**options)  # type: ignore[arg-type]
    return [event for piece in pieces for event in decoder.feed(piece)]


def expected_from(sent: list[ServerSentEvent]) -> list[ServerSentEvent]:
    """What a conforming client receives for a sequence of encoded events."""
    out: list[ServerSentEvent] = []
    last = ""
    for event in sent:
        if event.id is not None:
            last = event.id
        if event.data is not None:
            data = event.data.replace("\r\n", "\n").replace("\r", "\n")
            out.append(
                ServerSentEvent(data, event=event.event or None, id=last or None, retry=event.retry)
            )
    return out


@given(st.lists(events(), max_size=8), st.sampled_from(["\n", "\r\n"]), st.data())
def test_any_events_round_trip_under_any_split(
    sent: list[ServerSentEvent], sep: str, data: st.DataObject
) -> None:
    wire = b"".join(encode_sse(event, sep=sep) for event in sent)
    pieces = data.draw(splits(wire))
    assert decode_in_pieces(pieces) == expected_from(sent)


# Streams built from the pieces of the grammar, so that the generated input
# hits fields, comments, bare names, BOMs, NULs and every kind of line ending.
_fragments = st.sampled_from(
    [
        "data",
        "data:",
        "data: ",
        "event:",
        "event: x",
        "id:",
        "id: 1",
        "id: \0",
        "retry:",
        "retry: 5",
        "retry: -1",
        "retry: \uff15"  # full-width digit five,
        ":",
        ": c",
        " ",
        "\ufeff",
        "\0",
        "Data:",
        "é",
        "\u2028",
    ]
)
_line_ends = st.sampled_from(["\n", "\r", "\r\n", "\n\n", "\r\r", "\r\n\r\n"])
_streams = st.lists(
    st.tuples(st.lists(_fragments | tricky_text, max_size=3).map("".join), _line_ends).map("".join),
    max_size=12,
).map(lambda parts: "".join(parts).encode())


def _only(ending: str) -> st.SearchStrategy[bytes]:
    """Streams whose line endings are all ``ending`` (the decoder's fast path)."""
    line = st.lists(_fragments | tricky_text.map(lambda t: t.replace("\r", "").replace("\n", "")))
    return st.lists(
        st.tuples(line.map("".join), st.sampled_from([1, 1, 1, 2, 3])).map(
            lambda pair: pair[0] + ending * pair[1]
        ),
        max_size=12,
    ).map(lambda parts: "".join(parts).encode())


_any_streams = (
    _streams
    | _only("\n")
    | _only("\r\n")
    | st.builds(lambda s: "\ufeff".encode() + s, _streams | _only("\n"))
)


@given(_any_streams, st.data())
def test_decoder_agrees_with_the_reference_algorithm(stream: bytes, data: st.DataObject) -> None:
    expected, last_event_id, retry = reference_decode(stream)
    decoder = SSEDecoder()
    got = [event for piece in data.draw(splits(stream)) for event in decoder.feed(piece)]
    assert got == expected
    if not decoder.pending:
        assert decoder.last_event_id == last_event_id
        assert decoder.retry == retry


@given(texts.map(str.encode), st.data())
def test_decoder_agrees_with_the_reference_on_any_text(stream: bytes, data: st.DataObject) -> None:
    expected, _, _ = reference_decode(stream)
    assert decode_in_pieces(data.draw(splits(stream))) == expected


@given(st.binary(max_size=600), st.data(), st.sampled_from([None, 4, 16]))
def test_arbitrary_bytes_raise_only_decode_error(
    stream: bytes, data: st.DataObject, limit: int | None
) -> None:
    options: dict[str, object] = {} if limit is None else {"max_event_size": limit}
    with contextlib.suppress(DecodeError):
        decode_in_pieces(data.draw(splits(stream)), **options)


def _outcome(
    pieces: list[bytes], **options: object
) -> tuple[list[ServerSentEvent], tuple[int | None, int | None] | None]:
    decoder = SSEDecoder(**options)  # type: ignore[arg-type]
    got: list[ServerSentEvent] = []
    for piece in pieces:
        try:
            got.extend(decoder.feed(piece))
        except DecodeError as exc:
            got.extend(exc.partial)  # type: ignore[arg-type]
            return got, (exc.line, exc.offset)
    return got, None


@given(
    st.binary(max_size=300)
    | _any_streams
    | st.builds(lambda a, b: a + b"\xff" + b, _any_streams, _any_streams),
    st.data(),
    st.sampled_from([{}, {"max_line_size": 8}, {"max_event_size": 6}, {"errors": "replace"}]),
)
def test_how_the_input_is_split_never_changes_the_outcome(
    stream: bytes, data: st.DataObject, options: dict[str, object]
) -> None:
    whole = _outcome([stream], **options)
    assert _outcome(data.draw(splits(stream)), **options) == whole


@given(texts | tricky_text)
def test_any_event_type_is_refused_or_round_trips_exactly(value: str) -> None:
    try:
        event = ServerSentEvent("x", event=value)
    except InvalidEventError:
        assert "\r" in value or "\n" in value
        return
    (got,) = SSEDecoder().feed(encode_sse(event))
    assert got.event == (value or None)


@given(texts | tricky_text)
def test_any_id_is_refused_or_round_trips_exactly(value: str) -> None:
    try:
        event = ServerSentEvent("x", id=value)
    except InvalidEventError:
        assert "\r" in value or "\n" in value or "\0" in value
        return
    decoder = SSEDecoder()
    (got,) = decoder.feed(encode_sse(event))
    assert got.id == (value or None)
    assert decoder.last_event_id == value


@given(texts | tricky_text)
def test_any_data_round_trips_with_line_endings_normalised(value: str) -> None:
    (got,) = SSEDecoder().feed(encode_sse(ServerSentEvent(value)))
    assert got.data == value.replace("\r\n", "\n").replace("\r", "\n")


_field_values = st.none() | texts | tricky_text | st.sampled_from(["x\ny", "a\0", "\ud800"])


@given(
    _field_values,
    _field_values,
    _field_values,
    st.none() | retries | st.sampled_from([-1, True]),
    _field_values,
    st.sampled_from(["\n", "\r\n"]),
)
# The fast path once rewrote multi-line data before handing a non-ASCII
# event name to the general path, which then prefixed the lines twice.
@example(data="a\nb", event="\x80", id_=None, retry=None, comment=None, sep="\n")
def test_format_sse_equals_encoding_a_built_event(
    data: str | None,
    event: str | None,
    id_: str | None,
    retry: int | None,
    comment: str | None,
    sep: str,
) -> None:
    fields: dict[str, object] = {"event": event, "id": id_, "retry": retry, "comment": comment}
    try:
        expected: bytes | type[Exception] = encode_sse(
            ServerSentEvent(data, **fields),  # type: ignore[arg-type]
            sep=sep,
        )
    except InvalidEventError:
        expected = InvalidEventError
    try:
        got: bytes | type[Exception] = format_sse(data, sep=sep, **fields)  # type: ignore[arg-type]
    except InvalidEventError:
        got = InvalidEventError
    assert got == expected
