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
from typing import Any, Final, Self, TypeVar

from streamkit._errors import DecodeError, EncodeError, InvalidEventError
from streamkit._formats.jsonenc import dumps, escape_line_separators, loads

__all__ = [
    "ServerSentEvent",
    "encode_comment",
    "encode_sse",
    "format_sse",
    "json_event",
]

#: The separators a server may use. The spec also allows a bare CR, but
#: httpx-sse delivers CR-terminated events one chunk late and hand-written
#: clients often mishandle it, so streamkit refuses to emit it.
_SEPARATORS: Final = frozenset({"\n", "\r\n"})

_E = TypeVar("_E", bound="ServerSentEvent")


def _valid_text(field: str, value: object) -> str:
    """The full check of a text field: a str (a subclass becomes a plain str)
    that can be encoded as UTF-8."""
    if type(value) is not str:
        if not isinstance(value, str):
            raise InvalidEventError(
                f"ServerSentEvent {field} must be a str or None, got {type(value).__name__}"
            )
        value = str.__str__(value)
    # A lone surrogate (from a bad decode upstream, or "\ud800" in source) has
    # no UTF-8 form; catch it here rather than mid-stream in the encoder.
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError as exc:
            raise InvalidEventError(
                f"ServerSentEvent {field} contains a lone surrogate "
                f"{value[exc.start]!r} at index {exc.start}, which cannot be encoded as UTF-8"
            ) from None
    return value


def _valid_line(field: str, value: object) -> str:
    text = _valid_text(field, value)
    for char, name in (("\r", "CR"), ("\n", "LF")):
        index = text.find(char)
        if index != -1:
            raise InvalidEventError(
                f"ServerSentEvent {field} contains a {name} ({char!r}) at index {index}; "
                f"a line break would end the {field} field early and inject what follows "
                f"as new fields. Use a single-line value."
            )
    return text


def _valid_id(value: object) -> str:
    text = _valid_line("id", value)
    index = text.find("\0")
    if index != -1:
        raise InvalidEventError(
            f"ServerSentEvent id contains NUL at index {index}; clients ignore an id "
            f"field containing NUL, so the id would be silently lost"
        )
    return text


def _valid_retry(value: object) -> int:
    if type(value) is bool or not isinstance(value, int) or value < 0:
        raise InvalidEventError(
            f"ServerSentEvent retry must be an int >= 0 (milliseconds), got {value!r}"
        )
    return int(value)  # an IntEnum member becomes its plain value


def _split_lines(text: str) -> list[str]:
    """Split on CRLF, LF and CR only (never ``str.splitlines``, which also
    splits on U+2028, U+0085, form feed and others that SSE treats as text)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


@dataclass(frozen=True, slots=True, init=False)
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

    def __new__(
        cls,
        data: str | None = None,
        *,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        comment: str | None = None,
    ) -> Self:
        # The hot path of every SSE stream, so: a cheap test per field that
        # passes for the common case (plain ASCII str, single line), and the
        # full check only when it fails.
        if data is not None and (type(data) is not str or not data.isascii()):
            data = _valid_text("data", data)
        if event is not None and (
            type(event) is not str or "\n" in event or "\r" in event or not event.isascii()
        ):
            event = _valid_line("event", event)
        if id is not None and (
            type(id) is not str or "\n" in id or "\r" in id or "\0" in id or not id.isascii()
        ):
            id = _valid_id(id)
        if retry is not None and (type(retry) is not int or retry < 0):
            retry = _valid_retry(retry)
        if comment is not None and (type(comment) is not str or not comment.isascii()):
            comment = _valid_text("comment", comment)
        if data is None and event is None and id is None and retry is None and comment is None:
            raise InvalidEventError(
                "ServerSentEvent needs at least one of data, event, id, retry or comment; "
                "an empty event is a bare blank line, which some clients turn into a "
                "phantom empty message"
            )
        if cls is not ServerSentEvent:
            return _build_subclass(cls, data, event, id, retry, comment)
        self: Self = unchecked_event(data, event, id, retry, comment)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling and copying rebuild through __new__, so they validate too.
        return (_rebuild, (type(self), self.data, self.event, self.id, self.retry, self.comment))

    def __post_init__(self) -> None:
        # Reached only from the generated __init__ of a dataclass subclass,
        # after __new__ has validated the same arguments.
        pass

    def json(self) -> Any:
        """Parse ``data`` as JSON (for events read by :class:`~streamkit.SSEDecoder`).

        Raises:
            DecodeError: ``data`` is missing or is not valid JSON.
        """
        if self.data is None:
            raise DecodeError("ServerSentEvent has no data to parse as JSON")
        try:
            return loads(self.data)
        except ValueError as exc:
            raise DecodeError(f"ServerSentEvent data is not valid JSON: {exc}") from None


class _Builder:
    """Has exactly ServerSentEvent's slots but no frozen ``__setattr__``."""

    __slots__ = ("comment", "data", "event", "id", "retry")


def unchecked_event(
    data: str | None,
    event: str | None,
    id: str | None,
    retry: int | None,
    comment: str | None = None,
) -> Any:
    """A ServerSentEvent holding these values, which must already be valid.

    ``ServerSentEvent.__new__`` calls it after validating, and the decoder,
    whose values come from parsed lines (which cannot hold CR or LF) and
    already follow the spec's rules.

    Filling a frozen slotted instance costs five ``object.__setattr__`` calls
    (about 1 us). Filling a plain object with the same slots and then switching
    its class (allowed between identical layouts) costs a quarter of that.
    """
    self: Any = _Builder()
    self.data = data
    self.event = event
    self.id = id
    self.retry = retry
    self.comment = comment
    self.__class__ = ServerSentEvent
    return self


def _build_subclass(
    cls: type[_E],
    data: str | None,
    event: str | None,
    id: str | None,
    retry: int | None,
    comment: str | None,
) -> _E:
    # A subclass may add slots, so its layout can differ from _Builder's.
    new = object.__new__(cls)
    for name, value in (
        ("data", data),
        ("event", event),
        ("id", id),
        ("retry", retry),
        ("comment", comment),
    ):
        object.__setattr__(new, name, value)
    return new


def _rebuild(
    cls: type[_E],
    data: str | None,
    event: str | None,
    id: str | None,
    retry: int | None,
    comment: str | None,
) -> _E:
    return cls(data, event=event, id=id, retry=retry, comment=comment)


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


def encode_sse(
    event: ServerSentEvent | bytes | bytearray | memoryview, *, sep: str = "\n"
) -> bytes:
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
    if (
        data is not None
        and event.comment is None
        and event.retry is None
        and "\n" not in data
        and "\r" not in data
    ):
        # The shapes nearly every stream sends: single-line data with or
        # without an id and an event type. One format, one encode.
        type_, id_ = event.event, event.id
        if type_ is None:
            if id_ is None:
                return f"data: {data}{sep}{sep}".encode()
            return f"id: {id_}{sep}data: {data}{sep}{sep}".encode()
        if id_ is None:
            return f"event: {type_}{sep}data: {data}{sep}{sep}".encode()
        return f"id: {id_}{sep}event: {type_}{sep}data: {data}{sep}{sep}".encode()
    lines: list[str] = []
    if event.comment is not None:
        lines.extend(f": {line}" if line else ":" for line in _split_lines(event.comment))
    if event.id is not None:
        lines.append(f"id: {event.id}")
    if event.event is not None:
        lines.append(f"event: {event.event}")
    if data is not None:
        if "\r" in data:
            data = data.replace("\r\n", "\n").replace("\r", "\n")
        # One "data: " line per line, made by a single replace in C.
        lines.append("data: " + data.replace("\n", f"{sep}data: "))
    if event.retry is not None:
        lines.append(f"retry: {int(event.retry)}")
    lines.append("")
    lines.append("")
    return sep.join(lines).encode()


def format_sse(
    data: str | None = None,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
    sep: str = "\n",
) -> bytes:
    """Validate and encode one event in a single call, without building an event.

    ``format_sse(...)`` returns exactly ``encode_sse(ServerSentEvent(...),
    sep=sep)`` and raises exactly what that would raise; it is the faster
    spelling for code that makes frames on the fly.

    Example::

        >>> format_sse("hello", id="1")
        b'id: 1\ndata: hello\n\n'
    """
    if (
        sep == "\n"
        and retry is None
        and comment is None
        and type(data) is str
        and data.isascii()
        and "\r" not in data
        and (
            id is None
            or (
                type(id) is str
                and id.isascii()
                and "\n" not in id
                and "\r" not in id
                and "\0" not in id
            )
        )
    ):
        # The common shapes, checked the way ServerSentEvent checks them.
        lines = data.replace("\n", "\ndata: ") if "\n" in data else data  # a line each
        if event is None:
            if id is None:
                return f"data: {lines}\n\n".encode()
            return f"id: {id}\ndata: {lines}\n\n".encode()
        if type(event) is str and event.isascii() and "\n" not in event and "\r" not in event:
            if id is None:
                return f"event: {event}\ndata: {lines}\n\n".encode()
            return f"id: {id}\nevent: {event}\ndata: {lines}\n\n".encode()
    return encode_sse(
        ServerSentEvent(data, event=event, id=id, retry=retry, comment=comment), sep=sep
    )


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
    text = _valid_text("comment", text)
    if not text:
        return f":{sep}".encode()
    if "\n" not in text and "\r" not in text:
        return f": {text}{sep}".encode()
    return "".join(f": {line}{sep}" if line else f":{sep}" for line in _split_lines(text)).encode()


def _passthrough(event: object) -> bytes:
    if isinstance(event, (bytes, bytearray, memoryview)):
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
