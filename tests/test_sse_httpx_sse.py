"""Cross-check streamkit's SSE encoder and decoder against a real client.

Streams written with :func:`~streamkit.encode_sse` and
:func:`~streamkit.encode_comment` are served by a real uvicorn server, one body
chunk per event, and read back twice over loopback: by httpx + httpx-sse
(``connect_sse`` / ``aconnect_sse``) and by :class:`~streamkit.SSEDecoder` fed
the bytes of ``response.iter_bytes()``. Where httpx-sse follows the WHATWG
spec both must yield the same events, and the events the spec prescribes.

Where httpx-sse 0.4.3 deviates from the spec (research notes ``sse.md``
section 8.1), one ``test_deviation_*`` test per deviation asserts what each
decoder does. Those tests fail when httpx-sse changes: the known-deviation
notes (and the ``encode_comment`` docstring, which cites the phantom-event
bug) then need updating, and the test can become an agreement test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any, Final, NamedTuple

import httpx
import pytest
from httpx_sse import ServerSentEvent as HttpxSSEEvent
from httpx_sse import aconnect_sse, connect_sse
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from streamkit import ServerSentEvent, SSEDecoder, encode_comment, encode_sse, json_event
from streamkit.testing import run_server
from tests.strategies import event_ids, retries, single_line, splits, texts, tricky_text

E = ServerSentEvent
BOM: Final = b"\xef\xbb\xbf"
TIMEOUT: Final = httpx.Timeout(10.0)
FIXED_HINT: Final = (
    "httpx-sse no longer behaves as documented in sse.md section 8.1 (known deviations); "
    "update the notes and docstrings that cite it, then turn this into an agreement test"
)

# --- the streams ------------------------------------------------------------

#: A stream as the app is given it: events (encoded with the stream's
#: separator) and pre-encoded frames (comments between events, raw bytes).
Item = ServerSentEvent | bytes


class Stream(NamedTuple):
    items: list[Item]
    sep: str = "\n"

    def chunks(self) -> list[bytes]:
        """One body chunk per item."""
        return [
            encode_sse(item, sep=self.sep) if isinstance(item, ServerSentEvent) else item
            for item in self.items
        ]


JSON_OBJECTS: Final[list[Any]] = [
    {"text": "line\u2028sep\u2029para\x85nel", "n": 1, "nested": {"list": [1, 2.5, None]}},
    ["multi\nline", "cr\r", "tab\t", 'quote"', "é🎉"],
    "a JSON string",
    0,
]

#: Streams on which httpx-sse is spec-correct: both decoders must agree.
AGREEING: Final[dict[str, Stream]] = {
    "multi-line-data": Stream(
        [
            E("line one\nline two\nline three"),
            E("crlf\r\ninside"),
            E("cr\rinside"),
            E("mixed\r\nline\rendings\n"),
            E("trailing newline\n"),
            E("\nleading newline"),
            E("blank\n\nline inside"),
            E(" leading space"),
            E("  two leading spaces"),
            E("data: looks like a field\nid: 99\nevent: nope\n\nretry: 1"),
            E(": looks like a comment"),
        ]
    ),
    "empty-data": Stream([E(""), E("\n"), E("\n\n"), E(" "), E("", event="empty"), E("x")]),
    "unicode": Stream(
        [
            E("héllo wörld 中文 🎉"),
            E("line\u2028separator"),
            E("paragraph\u2029separator"),
            E("next\x85line"),
            E("vt\x0bff\x0cfs\x1cgs\x1drs\x1e"),
            E("nul\0inside"),
            E("\ufeffBOM inside data, not at the start of the stream"),
            E("all\u2028at\u2029once\x85\r\nand a real line break", event="ünïcode"),
        ]
    ),
    "json": Stream(
        [
            json_event(JSON_OBJECTS[0]),
            json_event(JSON_OBJECTS[1], event="update", id="j1"),
            json_event(JSON_OBJECTS[2], retry=100),
            json_event(JSON_OBJECTS[3], comment="zero"),
        ]
    ),
    "ids-and-types": Stream(
        [
            E("no id yet"),
            E("a", id="1"),
            E("b"),  # the id is sticky
            E("c", id="2", event="update"),
            E("d", event=""),  # empty type means "message"
            E("e", id="ünï id with spaces "),
            E("f", id=" leading space"),
            E("g", event="type:with:colons"),
            E("h", id=""),  # resets the last event id
            E("i"),
        ]
    ),
    "retry": Stream(
        [
            E("a", retry=0),
            E("b", retry=3000),
            E("c"),  # retry is reported only with the block that carried it
            E("d", retry=2**31, id="7", event="t"),
        ]
    ),
    "comments": Stream(
        [
            # A comment-only block before any id: neither decoder dispatches it.
            E(comment="before any id"),
            encode_comment("keep-alive"),
            E("a", comment="attached to an event"),
            E("b", id="1", comment="multi\nline\r\ncomment"),
            encode_comment("ping"),
            encode_comment(""),
            encode_comment("two\nlines"),
            E("c"),
            encode_comment("trailing keep-alive"),
        ]
    ),
    "crlf-separator": Stream(
        [
            E(comment="first"),
            E("one\ntwo", id="1", event="t", retry=10),
            encode_comment("ping", sep="\r\n"),
            E("crlf\r\ninside", comment="c"),
            E(""),
            json_event({"k": "v\u2028"}),
            E("last\n"),
        ],
        sep="\r\n",
    ),
    "many-small-events": Stream(
        [E(str(i), id=str(i), event="tick" if i % 2 else None) for i in range(300)]
    ),
    "large-event": Stream(
        [E("x" * 100_000 + "\n" + "y" * 70_000, id="big"), E("é" * 40_000 + "\r\n🎉" * 5_000)]
    ),
}

#: Values of ``retry`` that int() accepts but the spec (ASCII digits only) does not.
INT_ONLY_RETRIES: Final = {
    "negative": ("-5", -5),
    "underscore": ("1_000", 1000),
    "fullwidth-digits": ("\uff11\uff10\uff10\uff10", 1000),  # full-width "1000"
    "arabic-indic-digit": ("\u0663", 3),  # ARABIC-INDIC DIGIT THREE
    "plus-sign": ("+7", 7),
    "extra-space": (" 5", 5),  # the field value after the one stripped space is " 5"
    "trailing-space": ("5 ", 5),
}
#: Values of ``retry`` that both ignore.
BOGUS_RETRIES: Final = {"decimal": "1.5", "suffix": "1000x", "empty": "", "hex": "0x10"}


def retry_stream(value: str) -> Stream:
    return Stream([f"retry: {value}\ndata: x\n\n".encode()])


# Streams for the deviation tests. streamkit's encoder cannot produce a BOM or
# a bogus retry value, so those are written by hand.
DEVIATIONS: Final[dict[str, Stream]] = {
    "blocks-without-data": Stream([E(id="1"), E(retry=5000), E(event="update"), E("first data")]),
    "comment-block-after-id": Stream([E("a", id="1"), b": ping\n\n", E(comment="ping"), E("b")]),
    "comment-line-after-id": Stream(
        [E("a", id="1"), encode_comment("ping"), encode_comment("ping"), E("b")]
    ),
    # The BOM is sent as a chunk of its own (TCP may merge it with the next).
    "bom": Stream([BOM, E("first"), E("second")]),
    "bom-before-id": Stream([BOM + encode_sse(E("first", id="1", event="t")), E("second")]),
    **{f"retry-{name}": retry_stream(value) for name, (value, _) in INT_ONLY_RETRIES.items()},
    **{f"retry-{name}": retry_stream(value) for name, value in BOGUS_RETRIES.items()},
}

#: name -> body chunks; the hypothesis test adds and removes its own entries.
STREAMS: dict[str, list[bytes]] = {
    name: stream.chunks() for name, stream in {**AGREEING, **DEVIATIONS}.items()
}
_random_names = (f"random-{i}" for i in itertools.count())


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve ``STREAMS[name]`` at ``/stream/{name}``, one body chunk per item."""
    assert scope["type"] == "http"
    path: str = scope["path"]
    chunks = STREAMS.get(path.removeprefix("/stream/")) if path.startswith("/stream/") else None
    if chunks is None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found"})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")],
        }
    )
    for chunk in chunks:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


# --- reading a stream both ways ---------------------------------------------


class Seen(NamedTuple):
    """An event as a client sees it, normalised to httpx-sse's representation."""

    event: str
    data: str
    id: str
    retry: int | None


def from_httpx_sse(sse: HttpxSSEEvent) -> Seen:
    return Seen(sse.event, sse.data, sse.id, sse.retry)


def from_streamkit(event: ServerSentEvent) -> Seen:
    assert event.data is not None  # the decoder only dispatches events with data
    return Seen(event.event or "message", event.data, event.id or "", event.retry)


def spec_events(items: Sequence[Item]) -> list[Seen]:
    """What a spec-conforming client yields for ``items`` (events and comments)."""
    seen: list[Seen] = []
    last_id = ""
    for item in items:
        if isinstance(item, bytes):
            continue  # only comments between events in the agreeing streams
        if item.id is not None:
            last_id = item.id
        if item.data is not None:
            data = item.data.replace("\r\n", "\n").replace("\r", "\n")
            seen.append(Seen(item.event or "message", data, last_id, item.retry))
    return seen


class Decoded(NamedTuple):
    """What streamkit's decoder made of a stream, and the bytes it was fed."""

    wire: bytes
    events: list[ServerSentEvent]
    decoder: SSEDecoder

    @property
    def seen(self) -> list[Seen]:
        return [from_streamkit(event) for event in self.events]


def read_httpx_sse(client: httpx.Client, name: str) -> list[Seen]:
    with connect_sse(client, "GET", f"/stream/{name}") as source:
        source.response.raise_for_status()
        return [from_httpx_sse(sse) for sse in source.iter_sse()]


def read_streamkit(client: httpx.Client, name: str) -> Decoded:
    decoder = SSEDecoder()
    wire = bytearray()
    events: list[ServerSentEvent] = []
    with client.stream("GET", f"/stream/{name}") as response:
        response.raise_for_status()
        assert response.headers["content-type"] == "text/event-stream"
        for chunk in response.iter_bytes():
            wire += chunk
            events += decoder.feed(chunk)
    return Decoded(bytes(wire), events, decoder)


async def aread_httpx_sse(client: httpx.AsyncClient, name: str) -> list[Seen]:
    async with aconnect_sse(client, "GET", f"/stream/{name}") as source:
        source.response.raise_for_status()
        return [from_httpx_sse(sse) async for sse in source.aiter_sse()]


async def aread_streamkit(client: httpx.AsyncClient, name: str) -> Decoded:
    decoder = SSEDecoder()
    wire = bytearray()
    events: list[ServerSentEvent] = []
    async with client.stream("GET", f"/stream/{name}") as response:
        response.raise_for_status()
        assert response.headers["content-type"] == "text/event-stream"
        async for chunk in response.aiter_bytes():
            wire += chunk
            events += decoder.feed(chunk)
    return Decoded(bytes(wire), events, decoder)


# --- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        yield client


# --- agreement: httpx-sse is spec-correct on these ------------------------------


def check_agreement(stream: Stream, from_sse: list[Seen], ours: Decoded) -> None:
    assert ours.wire == b"".join(stream.chunks()), "the bytes changed on the way"
    assert not ours.decoder.pending, "the stream ended inside an event"
    expected = spec_events(stream.items)
    assert from_sse == expected
    assert ours.seen == expected


@pytest.mark.parametrize("name", list(AGREEING))
def test_httpx_sse_and_streamkit_decode_the_same_events(client: httpx.Client, name: str) -> None:
    assert spec_events(AGREEING[name].items), "a stream with no events checks nothing"
    check_agreement(AGREEING[name], read_httpx_sse(client, name), read_streamkit(client, name))


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(AGREEING))
async def test_httpx_sse_and_streamkit_decode_the_same_events_async(
    base_url: str, name: str
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client:
        from_sse = await aread_httpx_sse(client, name)
        ours = await aread_streamkit(client, name)
    check_agreement(AGREEING[name], from_sse, ours)


def test_json_events_parse_back_to_the_same_values_in_both(client: httpx.Client) -> None:
    with connect_sse(client, "GET", "/stream/json") as source:
        assert [sse.json() for sse in source.iter_sse()] == JSON_OBJECTS
    assert [event.json() for event in read_streamkit(client, "json").events] == JSON_OBJECTS


@st.composite
def spec_correct_streams(draw: st.DrawFn) -> Stream:
    """Streams on which httpx-sse 0.4.3 is spec-correct: every block carries
    data (no id-only, retry-only or comment-only blocks), and comments between
    events are ``encode_comment`` lines with no blank line after them."""
    sep = draw(st.sampled_from(["\n", "\r\n"]))
    optional_text = st.none() | texts | tricky_text
    data_events = st.builds(
        ServerSentEvent,
        texts | tricky_text,
        event=st.none() | single_line,
        id=st.none() | event_ids,
        retry=st.none() | retries,
        comment=optional_text,
    )
    keepalives = st.builds(lambda text: encode_comment(text, sep=sep), texts | tricky_text)
    items: list[Item] = draw(st.lists(data_events | keepalives, min_size=1, max_size=8))
    return Stream(items, sep)


@settings(derandomize=True, deadline=None)  # reproducible; deadline: real network round trips
@given(stream=spec_correct_streams(), data=st.data())
def test_random_streams_cut_anywhere_decode_the_same(
    client: httpx.Client, stream: Stream, data: st.DataObject
) -> None:
    # Cut the stream at arbitrary points (inside a UTF-8 sequence, between the
    # CR and LF of a CRLF, ...); TCP may merge the chunks again, but often not.
    wire = b"".join(stream.chunks())
    name = next(_random_names)
    # (Empty chunks are dropped: they would put nothing on the wire.)
    STREAMS[name] = [chunk for chunk in data.draw(splits(wire), label="chunks") if chunk]
    try:
        check_agreement(stream, read_httpx_sse(client, name), read_streamkit(client, name))
    finally:
        del STREAMS[name]


# --- the known httpx-sse 0.4.3 deviations ------------------------------------


def test_deviation_httpx_sse_dispatches_blocks_without_data(client: httpx.Client) -> None:
    """Deviation 1: an id-only, retry-only or event-only block (a blank line
    with an empty data buffer) must not dispatch an event (WHATWG 9.2.6; a
    browser's EventSource dispatches nothing), but httpx-sse yields an event
    with empty data for each. The id and retry still take effect in both."""
    name = "blocks-without-data"
    assert read_httpx_sse(client, name) == [
        Seen("message", "", "1", None),
        Seen("message", "", "1", 5000),
        Seen("update", "", "1", None),
        Seen("message", "first data", "1", None),
    ], FIXED_HINT
    ours = read_streamkit(client, name)
    assert ours.seen == [Seen("message", "first data", "1", None)]
    assert ours.decoder.last_event_id == "1"
    assert ours.decoder.retry == 5000


def test_deviation_httpx_sse_phantom_event_on_blank_line_after_id(client: httpx.Client) -> None:
    """Deviation 2 (httpx-sse issue #35): httpx-sse dispatches on every blank
    line once any ``id:`` was seen, because the last event id is never empty
    again. A spec-correct keep-alive ``: ping\n\n`` (here written by hand, and
    by ``encode_sse(ServerSentEvent(comment="ping"))``) then yields an empty
    phantom message, which e.g. the OpenAI SDK fails to parse as JSON."""
    name = "comment-block-after-id"
    assert read_httpx_sse(client, name) == [
        Seen("message", "a", "1", None),
        Seen("message", "", "1", None),  # phantom: b": ping\n\n"
        Seen("message", "", "1", None),  # phantom: encode_sse(E(comment="ping"))
        Seen("message", "b", "1", None),
    ], FIXED_HINT
    assert read_streamkit(client, name).seen == [
        Seen("message", "a", "1", None),
        Seen("message", "b", "1", None),
    ]


def test_encode_comment_avoids_the_httpx_sse_phantom_event(client: httpx.Client) -> None:
    """The workaround for deviation 2: ``encode_comment`` writes ``: ping\n``
    with no blank line, so nothing is dispatched in either client."""
    assert encode_comment("ping") == b": ping\n"
    expected = [Seen("message", "a", "1", None), Seen("message", "b", "1", None)]
    assert read_httpx_sse(client, "comment-line-after-id") == expected
    assert read_streamkit(client, "comment-line-after-id").seen == expected


@pytest.mark.parametrize(
    ("name", "httpx_sse_events", "streamkit_events"),
    [
        # "\ufeffdata: first" is a line with the unknown field "\ufeffdata",
        # so the first block has no data and the first event is lost.
        (
            "bom",
            [Seen("message", "second", "", None)],
            [Seen("message", "first", "", None), Seen("message", "second", "", None)],
        ),
        # "\ufeffid: 1" is ignored, so the first event loses its id (and the
        # second one, which inherits it).
        (
            "bom-before-id",
            [Seen("t", "first", "", None), Seen("message", "second", "", None)],
            [Seen("t", "first", "1", None), Seen("message", "second", "1", None)],
        ),
    ],
)
def test_deviation_httpx_sse_does_not_strip_a_leading_bom(
    client: httpx.Client, name: str, httpx_sse_events: list[Seen], streamkit_events: list[Seen]
) -> None:
    """Deviation 3: the stream's first UTF-8 BOM must be ignored (WHATWG
    9.2.5), but httpx-sse decodes it as U+FEFF into the first line, garbling
    that line's field name. streamkit strips it, even as a chunk of its own."""
    assert read_httpx_sse(client, name) == httpx_sse_events, FIXED_HINT
    ours = read_streamkit(client, name)
    assert ours.wire.startswith(BOM)
    assert ours.seen == streamkit_events


@pytest.mark.parametrize("name", INT_ONLY_RETRIES)
def test_deviation_httpx_sse_parses_retry_with_int(client: httpx.Client, name: str) -> None:
    """Deviation 4: ``retry`` counts only when its value is all ASCII digits
    (WHATWG 9.2.6), but httpx-sse uses ``int()``, which also takes a sign,
    ``_``, surrounding spaces and non-ASCII digits. streamkit ignores them."""
    _, as_int = INT_ONLY_RETRIES[name]
    name = f"retry-{name}"
    assert read_httpx_sse(client, name) == [Seen("message", "x", "", as_int)], FIXED_HINT
    ours = read_streamkit(client, name)
    assert ours.seen == [Seen("message", "x", "", None)]
    assert ours.decoder.retry is None


@pytest.mark.parametrize("name", BOGUS_RETRIES)
def test_bogus_retry_is_ignored_by_both(client: httpx.Client, name: str) -> None:
    """Not a deviation: values ``int()`` rejects too are ignored by both."""
    expected = [Seen("message", "x", "", None)]
    assert read_httpx_sse(client, f"retry-{name}") == expected
    ours = read_streamkit(client, f"retry-{name}")
    assert ours.seen == expected
    assert ours.decoder.retry is None


def test_unknown_path_is_404(client: httpx.Client) -> None:
    assert client.get("/stream/no-such-stream").status_code == 404
    assert client.get("/elsewhere").status_code == 404
