"""Server-Sent Events: the event value and the encoder.

The wire format is the ``text/event-stream`` format of the WHATWG HTML
standard, section 9.2 ("Server-sent events"). An event is a block of
``field: value`` lines ended by a blank line; the browser's ``EventSource``
(and any conforming client) turns each block into one event.

Two rules shape this module:

* A value is sent exactly or not at all. A line break inside ``event`` or
  ``id`` would end the field early and let the rest of the value become a new
  field (field injection), so such a value is refused when the event is built,
  never silently stripped. Data may span lines: it is split into one ``data:``
  line per line, which the client joins back with LF.
* The encoder is the hot path of every SSE response, so it builds one string
  and encodes it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, Final

import orjson

from streamkit._errors import DecodeError, EncodeError, InvalidEventError
from streamkit._formats.jsonenc import dumps, escape_line_separators

__all__ = [
    "ServerSentEvent",
    "encode_comment",
    "encode_sse",
    "json_event",
]

#: The separators a server may use. The spec also allows a bare CR, but
#: httpx-sse delivers CR-terminated events one chunk late and hand-written
#: clients often mishandle it, so streamkit refuses to emit it.
_SEPARATORS: Final = frozenset({"\n", "\r\n"})


def _check_text(field: str, value: object) -> str:
    if type(value) is not str:
        if isinstance(value, str):  # a str subclass: keep its text, drop the type
            return str.__str__(value)
        raise InvalidEventError(
            f"ServerSentEvent {field} must be a str or None, got {type(value).__name__}"
        )
    return value


def _check_encodable(field: str, value: str) -> None:
    # A lone surrogate (from a bad decode upstream, or "\ud800" in source) has
    # no UTF-8 form; catch it here rather than mid-stream in the encoder.
    # isascii() is O(1) on CPython, so ASCII values pay nothing.
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError as exc:
            raise InvalidEventError(
                f"ServerSentEvent {field} contains a lone surrogate "
                f"{value[exc.start]!r} at index {exc.start}, which cannot be encoded as UTF-8"
            ) from None


def _check_single_line(field: str, value: str) -> None:
    for char, name in (("\r", "CR"), ("\n", "LF")):
        index = value.find(char)
        if index != -1:
            raise InvalidEventError(
                f"ServerSentEvent {field} contains a {name} ({char!r}) at index {index}; "
                f"a line break would end the {field} field early and inject what follows "
                f"as new fields. Use a single-line value."
            )


def _split_lines(text: str) -> list[str]:
    """Split on CRLF, LF and CR only (never ``str.splitlines``, which also
    splits on U+2028, U+0085, form feed and others that SSE treats as text)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One Server-Sent Event: the value the encoder writes and the decoder reads.

    Args:
        data: the event's data; ``None`` sends no ``data`` field (the browser
            then dispatches no event, but ``id``/``retry`` still take effect),
            ``""`` sends an event with empty data. Line breaks (CRLF, LF or
            CR) become separate ``data:`` lines, which the client rejoins with
            LF; a CR or CRLF therefore arrives as LF.
        event: the event type (``message`` when omitted). Single line.
        id: the event id, echoed by a reconnecting browser in
            ``Last-Event-ID``. Single line, no NUL; ``""`` resets the client's
            last event id.
        retry: the reconnection delay in milliseconds, an ``int >= 0``.
        comment: a comment, ignored by clients; several lines allowed.

    Raises:
        InvalidEventError: a field has the wrong type, ``event`` or ``id``
            contains CR or LF, ``id`` contains NUL, ``retry`` is negative, a
            ``bool`` or not an ``int``, a value cannot be encoded as UTF-8, or
            no field is set at all.

    Example::

        >>> encode_sse(ServerSentEvent("hello\\nworld", event="greeting", id="7"))
        b'id: 7\\nevent: greeting\\ndata: hello\\ndata: world\\n\\n'
    """

    data: str | None = None
    _: KW_ONLY
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        data, event, id_, retry, comment = self.data, self.event, self.id, self.retry, self.comment
        if data is not None:
            if type(data) is not str:
                object.__setattr__(self, "data", data := _check_text("data", data))
            _check_encodable("data", data)
        if event is not None:
            if type(event) is not str:
                object.__setattr__(self, "event", event := _check_text("event", event))
            _check_single_line("event", event)
            _check_encodable("event", event)
        if id_ is not None:
            if type(id_) is not str:
                object.__setattr__(self, "id", id_ := _check_text("id", id_))
            _check_single_line("id", id_)
            index = id_.find("\0")
            if index != -1:
                raise InvalidEventError(
                    f"ServerSentEvent id contains NUL at index {index}; clients ignore an id "
                    f"field containing NUL, so the id would be silently lost"
                )
            _check_encodable("id", id_)
        if retry is not None and (type(retry) is bool or not isinstance(retry, int) or retry < 0):
            raise InvalidEventError(
                f"ServerSentEvent retry must be an int >= 0 (milliseconds), got {retry!r}"
            )
        if comment is not None:
            if type(comment) is not str:
                object.__setattr__(self, "comment", comment := _check_text("comment", comment))
            _check_encodable("comment", comment)
        if data is None and event is None and id_ is None and retry is None and comment is None:
            raise InvalidEventError(
                "ServerSentEvent needs at least one of data, event, id, retry or comment; "
                "an empty event is a bare blank line, which some clients turn into a "
                "phantom empty message"
            )

    @classmethod
    def _trusted(
        cls, data: str, event: str | None, id: str | None, retry: int | None
    ) -> ServerSentEvent:
        # The decoder's constructor: its values come from parsed lines, which
        # cannot hold CR or LF, and it has already applied the spec's rules,
        # so validating again would only cost time on the decoding hot path.
        self = object.__new__(cls)
        setattr_ = object.__setattr__
        setattr_(self, "data", data)
        setattr_(self, "event", event)
        setattr_(self, "id", id)
        setattr_(self, "retry", retry)
        setattr_(self, "comment", None)
        return self

    def json(self) -> Any:
        """Parse ``data`` as JSON (for events read by :class:`~streamkit.SSEDecoder`).

        Raises:
            DecodeError: ``data`` is missing or is not valid JSON.
        """
        if self.data is None:
            raise DecodeError("ServerSentEvent has no data to parse as JSON")
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"ServerSentEvent data is not valid JSON: {exc}") from None


def json_event(
    obj: Any,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
    default: Callable[[Any], Any] | None = None,
) -> ServerSentEvent:
    """Build an event whose data is ``obj`` serialised as compact JSON.

    orjson serialises dicts, lists, dataclasses, datetimes, UUIDs and enums;
    pydantic models go through their ``model_dump(mode="json")``, ``Decimal``
    becomes a string and sets become lists. U+2028 and U+2029 are escaped
    (``\\u2028``) so that clients splitting lines the Unicode way still get
    the whole payload; the JSON value is unchanged.

    Args:
        obj: the value to send.
        event, id, retry, comment: as for :class:`ServerSentEvent`.
        default: a fallback serialiser for types streamkit does not know.

    Raises:
        EncodeError: ``obj`` has no JSON form (the message names the type).
        InvalidEventError: another field is invalid.

    Example::

        >>> encode_sse(json_event({"pct": 40}, event="progress"))
        b'event: progress\\ndata: {"pct":40}\\n\\n'
    """
    data = escape_line_separators(dumps(obj, default=default)).decode()
    return ServerSentEvent(data, event=event, id=id, retry=retry, comment=comment)


def encode_sse(event: ServerSentEvent | bytes, *, sep: str = "\n") -> bytes:
    """Encode one event as UTF-8 wire bytes, ending with a blank line.

    Fields are written in the order comment, ``id``, ``event``, ``data``,
    ``retry``, always with one space after the colon (so data that starts with
    a space survives the client's stripping of exactly one).

    Args:
        event: the event, or ``bytes`` already in wire format, which are
            returned unchanged (a pass-through for pre-encoded frames; they
            are not checked).
        sep: the line separator, ``"\\n"`` (default) or ``"\\r\\n"``.

    Raises:
        ValueError: ``sep`` is not LF or CRLF.
        EncodeError: ``event`` is neither a :class:`ServerSentEvent` nor bytes.
    """
    if type(event) is not ServerSentEvent and not isinstance(event, ServerSentEvent):
        return _passthrough(event)
    if sep != "\n" and sep not in _SEPARATORS:
        _bad_separator(sep)
    data = event.data
    if event.event is None and event.id is None and event.comment is None and event.retry is None:
        # The common case, a data-only event: one format and one encode.
        assert data is not None  # __post_init__ refuses events with no field set
        if "\n" not in data and "\r" not in data:
            return f"data: {data}{sep}{sep}".encode()
        return f"data: {f'{sep}data: '.join(_split_lines(data))}{sep}{sep}".encode()
    lines: list[str] = []
    if event.comment is not None:
        lines.extend(f": {line}" if line else ":" for line in _split_lines(event.comment))
    if event.id is not None:
        lines.append(f"id: {event.id}")
    if event.event is not None:
        lines.append(f"event: {event.event}")
    if data is not None:
        if "\n" not in data and "\r" not in data:
            lines.append(f"data: {data}")
        else:
            lines.extend(f"data: {line}" for line in _split_lines(data))
    if event.retry is not None:
        lines.append(f"retry: {int(event.retry)}")
    lines.append("")
    lines.append("")
    return sep.join(lines).encode()


def encode_comment(text: str = "", *, sep: str = "\n") -> bytes:
    """Encode a comment line for use *between* events, e.g. a keep-alive.

    The result has no trailing blank line: ``encode_comment("ping")`` is
    ``b": ping\\n"``. Clients ignore comments either way, but a blank line
    after an event with an ``id`` makes httpx-sse and the OpenAI SDK emit a
    phantom empty event (and the SDK then fails to parse it as JSON). Each line
    of a multi-line comment is prefixed; ``""`` gives ``b":\\n"``.

    Raises:
        ValueError: ``sep`` is not LF or CRLF.
        InvalidEventError: ``text`` is not a str or cannot be encoded as UTF-8.
    """
    if sep not in _SEPARATORS:
        _bad_separator(sep)
    text = _check_text("comment", text)
    _check_encodable("comment", text)
    if not text:
        return f":{sep}".encode()
    if "\n" not in text and "\r" not in text:
        return f": {text}{sep}".encode()
    return "".join(f": {line}{sep}" if line else f":{sep}" for line in _split_lines(text)).encode()


def _passthrough(event: object) -> bytes:
    if isinstance(event, bytes | bytearray | memoryview):
        return bytes(event)
    raise EncodeError(
        f"encode_sse() takes a ServerSentEvent or bytes, got {type(event).__name__}; "
        f"wrap text as ServerSentEvent(data=...) or use json_event(obj) for JSON"
    )


def _bad_separator(sep: str) -> None:
    raise ValueError(
        f"sep must be '\\n' or '\\r\\n', got {sep!r}; a bare CR is allowed by the spec "
        f"but mishandled by common clients"
    )
