"""Table-driven SSE tests: (event, wire bytes) pairs run in both directions,
then decode-only cases taken from the WHATWG spec and the web-platform-tests."""

from __future__ import annotations

import pytest

from streamkit import ServerSentEvent, SSEDecoder, encode_sse

E = ServerSentEvent


def decoded(event: ServerSentEvent, last_event_id: str = "") -> list[ServerSentEvent]:
    """What a spec-conforming decoder yields for ``event`` on its own."""
    if event.data is None:
        return []
    last = event.id if event.id is not None else last_event_id
    return [
        ServerSentEvent(
            event.data.replace("\r\n", "\n").replace("\r", "\n"),
            event=event.event or None,
            id=last or None,
            retry=event.retry,
        )
    ]


# (name, event, wire bytes with sep="\n")
BOTH_WAYS: list[tuple[str, ServerSentEvent, bytes]] = [
    ("data only", E("hello"), b"data: hello\n\n"),
    ("empty data is an event", E(""), b"data: \n\n"),
    ("leading space survives", E(" x"), b"data:  x\n\n"),
    ("colon in data", E("a: b"), b"data: a: b\n\n"),
    ("multi-line data LF", E("a\nb"), b"data: a\ndata: b\n\n"),
    ("multi-line data CRLF arrives as LF", E("a\r\nb"), b"data: a\ndata: b\n\n"),
    ("multi-line data CR arrives as LF", E("a\rb"), b"data: a\ndata: b\n\n"),
    ("trailing newline", E("a\n"), b"data: a\ndata: \n\n"),
    ("only a newline", E("\n"), b"data: \ndata: \n\n"),
    ("blank lines inside data", E("a\n\nb"), b"data: a\ndata: \ndata: b\n\n"),
    ("NUL in data", E("a\0b"), b"data: a\0b\n\n"),
    ("unicode line separators are text", E("a\u2028b\x85c"), "data: a\u2028b\x85c\n\n".encode()),
    ("non-ASCII", E("héllo 🌊"), "data: héllo 🌊\n\n".encode()),
    ("event type", E("x", event="update"), b"event: update\ndata: x\n\n"),
    ("empty event type means message", E("x", event=""), b"event: \ndata: x\n\n"),
    ("id", E("x", id="42"), b"id: 42\ndata: x\n\n"),
    ("empty id resets", E("x", id=""), b"id: \ndata: x\n\n"),
    ("retry", E("x", retry=3000), b"data: x\nretry: 3000\n\n"),
    ("retry zero", E("x", retry=0), b"data: x\nretry: 0\n\n"),
    (
        "all fields in order",
        E("d", event="e", id="i", retry=1, comment="c"),
        b": c\nid: i\nevent: e\ndata: d\nretry: 1\n\n",
    ),
    ("comment only", E(comment="keep"), b": keep\n\n"),
    ("empty comment", E(comment=""), b":\n\n"),
    ("multi-line comment", E(comment="a\r\nb\n\nc"), b": a\n: b\n:\n: c\n\n"),
    ("id-only control block", E(id="7"), b"id: 7\n\n"),
    ("retry-only control block", E(retry=10), b"retry: 10\n\n"),
    ("event-only block", E(event="x"), b"event: x\n\n"),
]


@pytest.mark.parametrize(
    ("event", "wire"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_encode_gives_the_wire_bytes(event: ServerSentEvent, wire: bytes) -> None:
    assert encode_sse(event) == wire


@pytest.mark.parametrize(
    ("event", "wire"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_encode_with_crlf_uses_crlf_everywhere(event: ServerSentEvent, wire: bytes) -> None:
    assert encode_sse(event, sep="\r\n") == wire.replace(b"\n", b"\r\n")


@pytest.mark.parametrize(
    ("event", "wire"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_decode_gives_the_event(event: ServerSentEvent, wire: bytes) -> None:
    decoder = SSEDecoder()
    assert decoder.feed(wire) == decoded(event)
    assert not decoder.pending
    if event.id is not None:
        assert decoder.last_event_id == event.id
    if event.retry is not None:
        assert decoder.retry == event.retry


@pytest.mark.parametrize(
    ("event", "wire"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_decode_byte_by_byte_gives_the_event(event: ServerSentEvent, wire: bytes) -> None:
    decoder = SSEDecoder()
    out = [ev for i in range(len(wire)) for ev in decoder.feed(wire[i : i + 1])]
    assert out == decoded(event)


def D(data: str, event: str | None = None, id: str | None = None, retry: int | None = None) -> E:
    return ServerSentEvent(data, event=event, id=id, retry=retry)


# (name, wire bytes, events a conforming decoder dispatches)
DECODE_ONLY: list[tuple[str, bytes, list[ServerSentEvent]]] = [
    # WHATWG HTML 9.2.6, the four examples.
    ("spec: YHOO", b"data: YHOO\ndata: +2\ndata: 10\n\n", [D("YHOO\n+2\n10")]),
    (
        "spec: ids and leading spaces",
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
        b"data:  third event\n\n",
        [D("first event", id="1"), D("second event"), D(" third event")],
    ),
    ("spec: bare data fields", b"data\n\ndata\ndata\n\ndata:", [D(""), D("\n")]),
    ("spec: optional space", b"data:test\n\ndata: test\n\n", [D("test"), D("test")]),
    # Line endings (WHATWG 9.2.5: CRLF, LF or CR).
    ("CR line endings", b"data: a\rdata: b\r\r", [D("a\nb")]),
    ("CRLF line endings", b"data: a\r\ndata: b\r\n\r\n", [D("a\nb")]),
    ("mixed line endings", b"data: a\rdata: b\ndata: c\r\n\n", [D("a\nb\nc")]),
    ("LF CR is two line endings", b"data: a\n\r", [D("a")]),
    # BOM (WPT format-bom, format-bom-2).
    ("one leading BOM is stripped", b"\xef\xbb\xbfdata: 1\n\n", [D("1")]),
    (
        "a second BOM is part of the field name",
        b"\xef\xbb\xbf\xef\xbb\xbfdata: 1\n\ndata: 2\n\n",
        [D("2")],
    ),
    ("a BOM later in the stream is text", b"data: 1\n\n\xef\xbb\xbfdata: 2\n\n", [D("1")]),
    # Comments (WPT format-comments).
    ("comments between data lines", b"data:1\r:\0\n:\r\ndata:2\n:\n\n", [D("1\n2")]),
    ("comment with a leading space", b" :not a comment\ndata: x\n\n", [D("x")]),
    # Fields.
    ("only one space is stripped", b"data:   x\n\n", [D("  x")]),
    ("tab is not stripped", b"data:\tx\n\n", [D("\tx")]),
    ("field names are case-sensitive", b"Data: x\ndata: y\n\n", [D("y")]),
    ("space before the colon makes another field", b"data : x\ndata: y\n\n", [D("y")]),
    ("unknown fields are ignored", b"foo: bar\ndata: x\nbar\n\n", [D("x")]),
    ("value keeps later colons", b"data: a:b:c\n\n", [D("a:b:c")]),
    ("last event field wins", b"event: a\nevent: b\ndata: x\n\n", [D("x", event="b")]),
    (
        "event type resets between events",
        b"event: a\ndata: x\n\ndata: y\n\n",
        [D("x", event="a"), D("y")],
    ),
    ("empty event type is message", b"event:\ndata: x\n\n", [D("x")]),
    # id (WPT format-field-id, format-field-id-2, format-field-id-null).
    ("id is sticky", b"id: 1\ndata: a\n\ndata: b\n\n", [D("a", id="1"), D("b", id="1")]),
    ("empty id resets", b"id: 1\ndata: a\n\nid\ndata: b\n\n", [D("a", id="1"), D("b")]),
    (
        "id with NUL is ignored",
        b"id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n",
        [D("a", id="1"), D("b", id="1")],
    ),
    ("id-only block sets the id for the next event", b"id: 5\n\ndata: x\n\n", [D("x", id="5")]),
    ("id after data in the same block", b"data: x\nid: 3\n\n", [D("x", id="3")]),
    # retry (WPT format-field-retry, format-field-retry-bogus, format-field-retry-empty).
    ("retry with data", b"retry: 10\ndata: x\n\n", [D("x", retry=10)]),
    ("retry with a letter is ignored", b"retry: 1000x\ndata: x\n\n", [D("x")]),
    ("negative retry is ignored", b"retry: -5\ndata: x\n\n", [D("x")]),
    ("retry with underscore is ignored", b"retry: 1_000\ndata: x\n\n", [D("x")]),
    ("full-width digits are ignored", "retry: \uff11\uff12\ndata: x\n\n".encode(), [D("x")]),
    ("empty retry is ignored", b"retry\ndata: x\n\n", [D("x")]),
    ("retry with spaces is ignored", b"retry: 1 0\ndata: x\n\n", [D("x")]),
    # Dispatch.
    (
        "no phantom event from a keep-alive after an id",
        b"id: 1\ndata: a\n\n: ping\n\n",
        [D("a", id="1")],
    ),
    ("blank lines alone dispatch nothing", b"\n\n\r\n\r\r", []),
    ("event-only block dispatches nothing", b"event: x\n\n", []),
    ("an unterminated event is discarded", b"data: a\n\ndata: b\n", [D("a")]),
    ("an unterminated last line is discarded", b"data: a\n\ndata: b", [D("a")]),
    ("NUL in data", b"data: \0\n\n", [D("\0")]),
    ("U+2028 does not split lines", "data: a\u2028b\n\n".encode(), [D("a\u2028b")]),
    ("form feed and NEL do not split lines", b"data: a\x0cb\x1cc\n\n", [D("a\x0cb\x1cc")]),
]


@pytest.mark.parametrize(
    ("wire", "expected"), [c[1:] for c in DECODE_ONLY], ids=[c[0] for c in DECODE_ONLY]
)
def test_decoder_follows_the_spec(wire: bytes, expected: list[ServerSentEvent]) -> None:
    assert SSEDecoder().feed(wire) == expected


@pytest.mark.parametrize(
    ("wire", "expected"), [c[1:] for c in DECODE_ONLY], ids=[c[0] for c in DECODE_ONLY]
)
def test_decoder_follows_the_spec_byte_by_byte(
    wire: bytes, expected: list[ServerSentEvent]
) -> None:
    decoder = SSEDecoder()
    assert [ev for i in range(len(wire)) for ev in decoder.feed(wire[i : i + 1])] == expected
