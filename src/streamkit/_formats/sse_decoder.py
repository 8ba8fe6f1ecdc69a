"""Server-Sent Events: the incremental decoder.

An exact implementation of the WHATWG HTML "Parsing an event stream" and
"Interpreting an event stream" algorithms (section 9.2.5 and 9.2.6), fed bytes
as they arrive and returning the events completed by each feed. It never
touches a socket, so any client (httpx, aiohttp, a test) can drive it.

Where common clients deviate from the spec, this one does not:

* lines end at CRLF, LF or CR only; a CR at the end of one feed followed by LF
  at the start of the next is one line ending, and the line is not held back
  waiting to find out (a CR-terminated event is delivered at once);
* a blank line dispatches an event only when ``data`` was set, so keep-alive
  comments, id-only and retry-only blocks produce no phantom events;
* one leading UTF-8 BOM is stripped, even when split across feeds;
* an event cut off by the end of the stream is never returned.

It is also bounded: a line or an event larger than the configured limit raises
:class:`~streamkit.DecodeError` instead of growing memory, and buffering is
linear in the input however it is split.
"""

from __future__ import annotations

from typing import Final, Literal

from streamkit._errors import DecodeError
from streamkit._formats.sse import ServerSentEvent

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEDecoder"]

#: 16 MiB. Far above ordinary events (LLM token deltas are tens of bytes, JSON
#: records a few KiB), high enough for the base64 images that multimodal
#: streams carry in one event, and low enough that a hostile or broken upstream
#: that never sends a blank line cannot make a client buffer without bound.
DEFAULT_MAX_EVENT_SIZE: Final = 16 * 1024 * 1024

_BOM: Final = b"\xef\xbb\xbf"


class SSEDecoder:
    """Decode a ``text/event-stream`` body incrementally.

    Args:
        max_event_size: the most bytes of data one event may carry (its
            data as UTF-8, lines joined with LF).
        max_line_size: the most bytes one line may have, excluding its line
            ending; defaults to room for one ``data:`` line of
            ``max_event_size`` bytes.
        last_event_id: the last event id to start from, e.g. the one a
            reconnecting client sent as ``Last-Event-ID``.
        errors: ``"strict"`` (default) raises :class:`DecodeError` on invalid
            UTF-8; ``"replace"`` substitutes U+FFFD as browsers do.

    Attributes:
        last_event_id: the id a reconnecting client should send in
            ``Last-Event-ID`` ("" for none). Set when a block ends, so an id
            in an event cut off by the end of the stream does not count.
        retry: the most recent valid ``retry`` value in milliseconds, or None.

    Decoded events have ``event`` set to None when the type is the default
    ``message``, ``id`` set to the last event id in force when the event was
    dispatched (None when empty, as the spec's ``lastEventId`` is sticky), and
    ``retry`` set when the event's own block carried a valid ``retry`` field.

    Example::

        >>> decoder = SSEDecoder()
        >>> decoder.feed(b"id: 1\\ndata: hel")
        []
        >>> decoder.feed(b"lo\\n\\n")
        [ServerSentEvent(data='hello', event=None, id='1', retry=None, comment=None)]
    """

    __slots__ = (
        "_at_start",
        "_buf",
        "_data",
        "_data_size",
        "_errors",
        "_event",
        "_failed",
        "_id_buffer",
        "_line_no",
        "_max_event",
        "_max_line",
        "_offset",
        "_pending_retry",
        "_skip_lf",
        "last_event_id",
        "retry",
    )

    def __init__(
        self,
        *,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        max_line_size: int | None = None,
        last_event_id: str = "",
        errors: Literal["strict", "replace"] = "strict",
    ) -> None:
        if max_event_size < 1 or (max_line_size is not None and max_line_size < 1):
            raise ValueError("max_event_size and max_line_size must be positive")
        if errors not in ("strict", "replace"):
            raise ValueError(f"errors must be 'strict' or 'replace', got {errors!r}")
        self._max_event = max_event_size
        # "data: " is 6 bytes: by default a single-line event of the maximum
        # size fits on one line, and the event limit is the one that reports it.
        self._max_line = max_event_size + 6 if max_line_size is None else max_line_size
        self._errors = errors
        self.last_event_id = last_event_id
        self.retry: int | None = None
        self._id_buffer = last_event_id
        self._buf = bytearray()  # the current unterminated line
        self._at_start = True  # no byte past a possible BOM seen yet
        self._skip_lf = False  # the previous feed ended in CR
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._pending_retry: int | None = None
        self._line_no = 0  # lines completed so far
        self._offset = 0  # stream offset of the first byte of self._buf
        self._failed: DecodeError | None = None

    @property
    def pending(self) -> bool:
        """Whether part of an event is buffered (it is lost if the stream ends now)."""
        return bool(self._buf or self._data)

    def feed(self, data: bytes | bytearray | memoryview) -> list[ServerSentEvent]:
        """Feed the next bytes of the stream; return the events they complete.

        Raises:
            DecodeError: invalid UTF-8 (with ``errors="strict"``), a line or
                event over its size limit, or a feed after an earlier failure.
                ``line`` and ``offset`` on the error say where.
        """
        if self._failed is not None:
            raise DecodeError(
                f"SSEDecoder cannot continue after an earlier error: {self._failed}",
                line=self._failed.line,
                offset=self._failed.offset,
            )
        if type(data) is not bytes:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"feed() takes bytes, got {type(data).__name__}")
            data = bytes(data)
        out: list[ServerSentEvent] = []
        try:
            self._feed(data, out)
        except DecodeError as exc:
            exc.partial = list(out)
            self._failed = exc
            raise
        return out

    def _feed(self, data: bytes, out: list[ServerSentEvent]) -> None:
        if self._at_start:
            # Strip one leading BOM (WHATWG: "a single leading U+FEFF"), also
            # when its three bytes arrive in separate feeds.
            data = bytes(self._buf) + data
            if len(data) < 3 and _BOM.startswith(data):
                self._buf[:] = data
                return
            self._buf.clear()
            self._at_start = False
            if data.startswith(_BOM):
                data = data[3:]
                self._offset = 3
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":  # the LF of a CRLF split across feeds
                data = data[1:]
                self._offset += 1
        if not data:
            return
        buf = self._buf
        if b"\n" not in data and b"\r" not in data:
            # Still inside one line: append (amortised linear, never rescanned
            # until the line ends) and enforce the bound as it grows.
            buf += data
            if len(buf) > self._max_line:
                raise self._line_too_long(len(buf))
            return
        if buf:
            buf += data
            data = bytes(buf)
            buf.clear()
        # bytes.splitlines splits on exactly CRLF, LF and CR (unlike
        # str.splitlines), which is the SSE definition of a line ending.
        lines = data.splitlines(keepends=True)
        last = lines[-1][-1]
        tail = b""
        if last == 13:  # CR: complete, but an LF may follow in the next feed
            self._skip_lf = True
        elif last != 10:
            tail = lines.pop()
        self._process(lines, out)
        if tail:
            buf += tail
            if len(buf) > self._max_line:
                raise self._line_too_long(len(buf))

    def _process(self, lines: list[bytes], out: list[ServerSentEvent]) -> None:
        max_line = self._max_line
        errors = self._errors
        data = self._data
        for raw in lines:
            content = raw.rstrip(b"\r\n")
            size = len(content)
            if size > max_line:
                raise self._line_too_long(size)
            self._line_no += 1
            if not size:
                # A blank line: dispatch (WHATWG 9.2.6). The last event id is
                # updated even when there is no data to dispatch.
                self.last_event_id = self._id_buffer
                if data:
                    out.append(
                        ServerSentEvent._trusted(
                            "\n".join(data),
                            self._event or None,
                            self.last_event_id or None,
                            self._pending_retry,
                        )
                    )
                    data.clear()
                    self._data_size = 0
                self._event = ""
                self._pending_retry = None
                self._offset += len(raw)
                continue
            try:
                line = content.decode("utf-8", errors)
            except UnicodeDecodeError as exc:
                raise DecodeError(
                    f"invalid UTF-8 in SSE stream at line {self._line_no}, byte {exc.start} "
                    f"of the line (stream offset {self._offset + exc.start}): {exc.reason}",
                    line=self._line_no,
                    offset=self._offset + exc.start,
                ) from None
            field, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if field == "data":
                # Count the value's bytes (the line less "data:" and the
                # stripped space, all ASCII) plus the LF that joins it to the
                # next line, so the limit is on the data the event carries.
                self._data_size += size - (len(line) - len(value)) + 1
                if self._data_size - 1 > self._max_event:
                    raise DecodeError(
                        f"SSE event exceeds max_event_size ({self._max_event} bytes of data) "
                        f"at line {self._line_no} (stream offset {self._offset})",
                        line=self._line_no,
                        offset=self._offset,
                    )
                data.append(value)
            elif field == "event":
                self._event = value
            elif field == "id" and "\0" not in value:  # an id with NUL is ignored entirely
                self._id_buffer = value
            elif field == "retry" and value.isascii() and value.isdigit():
                # Only ASCII digits: no sign, no spaces, no "_" (unlike int()).
                self.retry = self._pending_retry = int(value)
            # Anything else is a comment (empty field name) or an unknown field:
            # both are ignored.
            self._offset += len(raw)

    def _line_too_long(self, size: int) -> DecodeError:
        return DecodeError(
            f"SSE line {self._line_no + 1} exceeds max_line_size ({self._max_line} bytes; "
            f"at least {size} buffered) at stream offset {self._offset}",
            line=self._line_no + 1,
            offset=self._offset,
        )
