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

import re
from collections.abc import Iterable
from typing import Final, Literal

from streamkit._errors import DecodeError
from streamkit._formats.feeding import as_bytes, refuse_after
from streamkit._formats.sse import ServerSentEvent, unchecked_event

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEDecoder"]

#: 16 MiB. Far above ordinary events (LLM token deltas are tens of bytes, JSON
#: records a few KiB), high enough for the base64 images that multimodal
#: streams carry in one event, and low enough that a hostile or broken upstream
#: that never sends a blank line cannot make a client buffer without bound.
DEFAULT_MAX_EVENT_SIZE: Final = 16 * 1024 * 1024

_BOM: Final = b"\xef\xbb\xbf"

#: The block shapes nearly every server sends: an optional id, an optional
#: event type, one data line, and an optional id after it (FastAPI writes the
#: id last). Each field name may be followed by one space, which is not part
#: of the value. An id containing NUL does not match, so the general path
#: ignores that field as it must. Possessive quantifiers (``*+``, ``?+``)
#: make a block that does not match fail in linear time, not by backtracking.
_BLOCK = (
    r"(?:(id): ?+([^\n\0]*+)\n)?+(?:event: ?+([^\n]*+)\n)?+data: ?+([^\n]*+)"
    r"(?:\n(id): ?+([^\n\0]*+))?+"
)
_common_block = re.compile(_BLOCK).fullmatch
#: A region made only of such blocks, each ended by a blank line: verified in
#: one C pass, then its fields extracted in another.
_all_common = re.compile(f"(?:{_BLOCK}\n\n)*+").fullmatch
_common_fields = re.compile(f"{_BLOCK}\n\n").findall


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
        "_fast_max",
        "_id_buffer",
        "_idle",
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
        # No partial line, event or CR pending, no error, BOM question settled:
        # a feed of whole events can then be decoded in one go (see feed()).
        self._idle = False
        # A feed no larger than both limits cannot cross either of them.
        self._fast_max = min(self._max_line, self._max_event)

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
        if (
            self._idle
            and type(data) is bytes
            and len(data) <= self._fast_max
            and data.endswith(b"\n\n")
            and b"\r" not in data
        ):
            # The common case, one or more whole events (servers flush events
            # one at a time): decode once, split at blank lines, done.
            try:
                text = data.decode()
            except UnicodeDecodeError:
                return self._feed_general(data)
            lines = text.count("\n")
            self._line_no += lines
            self._offset += len(data)
            if lines == 2 and text[:5] == "data:":
                # Exactly one event of one data line: the commonest feed.
                value = text[6:-2] if text[5] == " " else text[5:-2]
                return [unchecked_event(value, None, self.last_event_id or None, None)]
            if lines <= 5 and (match := _common_block(text, 0, len(text) - 2)) is not None:
                # One event of the common shapes (at most 4 lines).
                has_id, id_, type_, value, has_later_id, later_id = match.groups()
                if has_later_id:
                    self._id_buffer = self.last_event_id = later_id  # the last id wins
                elif has_id:
                    self._id_buffer = self.last_event_id = id_
                return [unchecked_event(value, type_ or None, self.last_event_id or None, None)]
            out: list[ServerSentEvent] = []
            self._complete(text, 0, len(text), out)
            return out
        return self._feed_general(data)

    def _feed_general(self, data: bytes | bytearray | memoryview) -> list[ServerSentEvent]:
        if self._failed is not None:
            raise refuse_after("SSEDecoder", self._failed)
        data = as_bytes(data)
        out: list[ServerSentEvent] = []
        try:
            self._feed(data, out)
        except DecodeError as exc:
            exc.partial = list(out)
            self._failed = exc
            self._idle = False
            raise
        self._idle = not (
            self._at_start
            or self._skip_lf
            or self._buf
            or self._data
            or self._event
            or self._pending_retry is not None
            or self._id_buffer != self.last_event_id
        )
        return out

    def _feed(self, data: bytes, out: list[ServerSentEvent]) -> None:
        if not data:
            return  # (and a CR at the end of the last feed still awaits its LF)
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
        if self._fast(data, out):
            return
        # The general path, line by line: bare CRs, invalid UTF-8, or input
        # large enough that a limit might be crossed. bytes.splitlines splits
        # on exactly CRLF, LF and CR (unlike str.splitlines), which is the SSE
        # definition of a line ending.
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

    def _fast(self, data: bytes, out: list[ServerSentEvent]) -> bool:
        """Decode every complete line of ``data`` at once, when that provably
        gives what the line-by-line path would; return False otherwise.

        The conditions: lines end in LF or CRLF only (so the complete part
        ends at the last LF), the complete part is no larger than either
        size limit (so no line or event in it can cross one), and it is valid
        UTF-8 (or, in replace mode, needed no replacement, whose U+FFFD would
        count differently towards the limits).
        """
        cut = data.rfind(b"\n") + 1
        if cut > self._max_line or self._data_size + cut > self._max_event:
            return False
        crs = data.count(b"\r")
        if crs and (data.find(b"\r", cut) != -1 or crs != data.count(b"\r\n")):
            return False
        region = data if cut == len(data) else data[:cut]
        try:
            text = region.decode("utf-8", self._errors)
        except UnicodeDecodeError:
            return False
        if self._errors == "replace" and "\ufffd" in text:
            return False
        if crs:
            text = text.replace("\r\n", "\n")
        self._text(text, out)
        self._line_no += text.count("\n")
        self._offset += cut
        if cut < len(data):
            self._buf += data[cut:]
            if len(self._buf) > self._max_line:
                raise self._line_too_long(len(self._buf))
        return True

    def _text(self, text: str, out: list[ServerSentEvent]) -> None:
        """Interpret complete lines (``text`` ends with LF): the events they
        finish, then the lines of the event still being sent."""
        last_blank = text.rfind("\n\n")
        if last_blank == -1:
            # No blank line after a line in this text (one at its very start,
            # ending a line from an earlier feed, shows up as a first "").
            self._lines(text[:-1].split("\n"), out)
            return
        end = last_blank + 2  # just past the last blank line
        start = 0
        if (
            self._data
            or self._event
            or self._pending_retry is not None
            or self._id_buffer != self.last_event_id
        ):
            # The first block continues an event begun in an earlier feed.
            start = text.find("\n\n") + 2
            self._lines(text[: start - 2].split("\n"), out)
            self._dispatch(out)
        if end > start:
            self._complete(text, start, end, out)
        if end < len(text):  # the lines after the last blank line
            self._lines(text[end:-1].split("\n"), out)

    def _complete(self, text: str, start: int, end: int, out: list[ServerSentEvent]) -> None:
        """Interpret ``text[start:end]``: whole events, each ended by a blank
        line, starting with nothing pending."""
        if _all_common(text, start, end) is not None:
            last_id = self.last_event_id
            for has_id, id_, type_, value, has_later_id, later_id in _common_fields(
                text, start, end
            ):
                if has_later_id:
                    last_id = later_id  # the last id field wins
                elif has_id:
                    last_id = id_
                out.append(unchecked_event(value, type_ or None, last_id or None, None))
            self._id_buffer = self.last_event_id = last_id
            return
        self._blocks(text[start : end - 2].split("\n\n"), out)

    def _blocks(self, blocks: list[str], out: list[ServerSentEvent]) -> None:
        """Interpret whole events (each block ended with a blank line), starting
        with nothing pending. The hot loop: shapes that need no per-line work
        are recognised first, and the rest is interpreted inline."""
        for block in blocks:
            if "\n" not in block:
                if block[:5] == "data:":
                    # One data line and nothing else: default type, same id.
                    value = block[6:] if block[5:6] == " " else block[5:]
                    out.append(unchecked_event(value, None, self.last_event_id or None, None))
                    continue
                lines: Iterable[str] = (block,)
            elif block[:6] == "data: " and block.count("\ndata: ") == block.count("\n"):
                # Only "data: " lines (values cannot hold LF): join in C.
                value = block[6:].replace("\ndata: ", "\n")
                out.append(unchecked_event(value, None, self.last_event_id or None, None))
                continue
            elif (match := _common_block(block)) is not None:
                # id, event and one data line, in the orders servers use.
                has_id, id_, type_, value, has_later_id, later_id = match.groups()
                if has_later_id:
                    self._id_buffer = self.last_event_id = later_id  # the last id wins
                elif has_id:
                    self._id_buffer = self.last_event_id = id_
                out.append(unchecked_event(value, type_ or None, self.last_event_id or None, None))
                continue
            else:
                lines = block.split("\n")
            data: list[str] = []
            type_ = ""
            retry = None
            for line in lines:
                # The three common fields by prefix; the rest the general way.
                if line[:5] == "data:":
                    data.append(line[6:] if line[5:6] == " " else line[5:])
                elif line[:3] == "id:":
                    value = line[4:] if line[3:4] == " " else line[3:]
                    if "\0" not in value:  # an id with NUL is ignored entirely
                        self._id_buffer = value
                elif line[:6] == "event:":
                    type_ = line[7:] if line[6:7] == " " else line[6:]
                elif line:
                    # (An empty line can only come before the first line, as
                    # extra blank lines after the last event: no-ops; or after
                    # the last, where the dispatch below does the same.)
                    field, _, value = line.partition(":")
                    if value[:1] == " ":
                        value = value[1:]
                    if field == "retry" and value.isascii() and value.isdigit():
                        self.retry = retry = int(value)
                    elif field == "data":  # "data" with no colon: an empty line of data
                        data.append(value)
                    elif field == "event":
                        type_ = value
                    elif field == "id":
                        self._id_buffer = value
            self.last_event_id = self._id_buffer
            if data:
                out.append(
                    unchecked_event(
                        "\n".join(data), type_ or None, self.last_event_id or None, retry
                    )
                )

    def _process(self, lines: list[bytes], out: list[ServerSentEvent]) -> None:
        max_line = self._max_line
        errors = self._errors
        for raw in lines:
            content = raw.rstrip(b"\r\n")
            size = len(content)
            if size > max_line:
                raise self._line_too_long(size)
            self._line_no += 1
            if size:
                try:
                    line = content.decode("utf-8", errors)
                except UnicodeDecodeError as exc:
                    raise DecodeError(
                        f"invalid UTF-8 in SSE stream at line {self._line_no}, byte {exc.start} "
                        f"of the line (stream offset {self._offset + exc.start}): {exc.reason}",
                        line=self._line_no,
                        offset=self._offset + exc.start,
                    ) from None
                self._lines((line,), out)
            else:
                self._dispatch(out)
            self._offset += len(raw)

    def _dispatch(self, out: list[ServerSentEvent]) -> None:
        # A blank line (WHATWG 9.2.6). The last event id is updated even when
        # there is no data to dispatch.
        self.last_event_id = self._id_buffer
        if self._data:
            out.append(
                unchecked_event(
                    "\n".join(self._data),
                    self._event or None,
                    self.last_event_id or None,
                    self._pending_retry,
                )
            )
            self._data = []
            self._data_size = 0
        self._event = ""
        self._pending_retry = None

    def _lines(self, lines: Iterable[str], out: list[ServerSentEvent]) -> None:
        """Interpret complete lines, already decoded and without line endings."""
        for line in lines:
            if not line:
                self._dispatch(out)
                continue
            field, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if field == "data":
                # Count the value's bytes plus the LF that joins it to the
                # next line, so the limit is on the data the event carries.
                self._data_size += (len(value) if value.isascii() else len(value.encode())) + 1
                if self._data_size - 1 > self._max_event:
                    raise DecodeError(
                        f"SSE event exceeds max_event_size ({self._max_event} bytes of data) "
                        f"at line {self._line_no} (stream offset {self._offset})",
                        line=self._line_no,
                        offset=self._offset,
                    )
                self._data.append(value)
            elif field == "event":
                self._event = value
            elif field == "id" and "\0" not in value:  # an id with NUL is ignored entirely
                self._id_buffer = value
            elif field == "retry" and value.isascii() and value.isdigit():
                # Only ASCII digits: no sign, no spaces, no "_" (unlike int()).
                self.retry = self._pending_retry = int(value)
            # Anything else is a comment (empty field name) or an unknown field:
            # both are ignored.

    def _line_too_long(self, size: int) -> DecodeError:
        return DecodeError(
            f"SSE line {self._line_no + 1} exceeds max_line_size ({self._max_line} bytes; "
            f"at least {size} buffered) at stream offset {self._offset}",
            line=self._line_no + 1,
            offset=self._offset,
        )
