"""A bounded log of recent events, so reconnecting SSE clients can resume.

A browser's ``EventSource`` reconnects by itself and sends the ``id`` of the
last event it saw as ``Last-Event-ID``. To resume, the server needs the events
sent since then: :class:`EventLog` keeps the most recent ones, numbers them,
and gives each subscriber the events after the id it names, then the live
ones, from one shared log (no queue per subscriber).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any, Final

import anyio

from streamkit._formats.sse import ServerSentEvent

__all__ = ["EventLog"]

#: What a subscriber gets when the events it asked for are gone (the client
#: was away too long, named an unknown id, or the server restarted): the
#: client should reload its state rather than trust the stream to be whole.
RESET_EVENT: Final = ServerSentEvent("", event="reset")


class EventLog:
    """The most recent ``maxlen`` events of a feed, for resumable streams.

    :meth:`append` numbers an event and wakes every subscriber;
    :meth:`subscribe` yields the events after a client's ``Last-Event-ID``
    (all of them still held), then new ones as they are appended::

        log = EventLog(maxlen=1000)

        @app.get("/feed")
        async def feed(request: Request) -> SSEResponse:
            return SSEResponse(log.subscribe(last_event_id(request)))

        # anywhere on the event loop:
        log.append({"price": 101.5}, event="tick")

    Ids are ``"<log>-<n>"``: the prefix is random per log, so an id from
    another process or from before a restart is recognised as unknown rather
    than taken for a position in this log. When the events a subscriber needs
    are no longer held (an unknown or malformed id, or a subscriber more than
    ``maxlen`` events behind), it gets ``gap_event`` (``event: reset`` by
    default; None to skip it) and continues with the oldest event held.

    The log is in memory, per process: with several server workers, each
    worker has its own, so a shared store (a Redis stream, a database table)
    is needed for resuming across workers. Call :meth:`append` from the event
    loop (from another thread: ``anyio.from_thread.run_sync(log.append, ...)``).

    Args:
        maxlen: how many events are kept (memory is bounded by this many).
        gap_event: sent when a subscriber has missed events the log no
            longer holds.
    """

    __slots__ = ("_changed", "_closed", "_events", "_first", "_next", "gap_event", "prefix")

    def __init__(self, maxlen: int = 1000, *, gap_event: ServerSentEvent | None = RESET_EVENT):
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, got {maxlen}")
        self._events: deque[ServerSentEvent] = deque(maxlen=maxlen)
        self._first = 1  # the number of the oldest event held
        self._next = 1  # the number the next event gets
        # Shared by every waiting subscriber: an anyio Event gives each waiter
        # its own future, so one subscriber's cancellation touches no other.
        self._changed: anyio.Event | None = None
        self._closed = False
        self.gap_event = gap_event
        #: The random part of this log's ids.
        self.prefix = secrets.token_hex(4)

    @property
    def maxlen(self) -> int:
        """How many events the log keeps."""
        maxlen = self._events.maxlen
        assert maxlen is not None
        return maxlen

    @property
    def last_id(self) -> str | None:
        """The id of the newest event, or None before the first."""
        return None if self._next == 1 else self._id(self._next - 1)

    def __len__(self) -> int:
        return len(self._events)

    def _id(self, number: int) -> str:
        return f"{self.prefix}-{number}"

    def append(
        self, data: Any = None, *, event: str | None = None, retry: int | None = None
    ) -> ServerSentEvent:
        """Add an event, give it the next id, and wake the subscribers.

        ``data`` is as for :class:`~streamkit.ServerSentEvent` when it is a
        ``str`` (or None); anything else is sent as JSON. A ready
        :class:`~streamkit.ServerSentEvent` (without an id) is also accepted.

        Returns:
            The event as the subscribers get it, with its id.

        Raises:
            ValueError: the log is closed, or the event already has an id.
            InvalidEventError: as for :class:`~streamkit.ServerSentEvent`.
        """
        from streamkit._formats.sse import json_event

        if self._closed:
            raise ValueError("the event log is closed")
        number = self._next
        if isinstance(data, ServerSentEvent):
            if data.id is not None:
                raise ValueError("EventLog gives events their ids; append one without an id")
            if event is not None or retry is not None:
                raise ValueError("pass event= and retry= on the ServerSentEvent itself")
            item = ServerSentEvent(
                data.data,
                event=data.event,
                id=self._id(number),
                retry=data.retry,
                comment=data.comment,
            )
        elif data is None or isinstance(data, str):
            item = ServerSentEvent(data, event=event, id=self._id(number), retry=retry)
        else:
            item = json_event(data, event=event, id=self._id(number), retry=retry)
        if len(self._events) == self.maxlen:
            self._first += 1
        self._events.append(item)
        self._next = number + 1
        self._wake()
        return item

    def close(self) -> None:
        """End every subscription (after the events they have not had yet)
        and refuse new events."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    def position(self, last_event_id: str | None) -> int | None:
        """The number of the event a client last saw, from its
        ``Last-Event-ID``: None when the id is not one of this log's (another
        log's, from before a restart, malformed, or not yet given out)."""
        if last_event_id is None:
            return None
        prefix, dash, number = last_event_id.partition("-")
        if prefix != self.prefix or not dash or not (number.isascii() and number.isdigit()):
            return None
        value = int(number)
        return value if value < self._next else None

    def covers(self, last_event_id: str) -> bool:
        """Whether every event after ``last_event_id`` is still held, so that
        resuming from it loses nothing."""
        seen = self.position(last_event_id)
        return seen is not None and seen + 1 >= self._first

    def subscribe(self, last_event_id: str | None = None) -> AsyncGenerator[ServerSentEvent, None]:
        """Yield the events after ``last_event_id``, then new ones as they are
        appended, until the log is closed.

        Without ``last_event_id`` (a first connection), the events appended
        from this call on are yielded (the position is taken now, not when
        iteration starts). With an id whose following events are no longer
        all held, ``gap_event`` comes first, then the oldest events held.
        """
        if last_event_id is None:
            return self._follow(self._next - 1, gap=False)
        position = self.position(last_event_id)
        if position is None or position + 1 < self._first:
            return self._follow(self._first - 1, gap=True)
        return self._follow(position, gap=False)

    async def _follow(self, seen: int, *, gap: bool) -> AsyncGenerator[ServerSentEvent, None]:
        """Events numbered after ``seen``; ``gap`` first if events were lost."""
        while True:
            if seen + 1 < self._first:  # events were dropped before being had
                gap, seen = True, self._first - 1
            if gap:
                gap = False
                if self.gap_event is not None:
                    yield self.gap_event
            if seen + 1 < self._next:
                seen += 1
                yield self._events[seen - self._first]
                continue
            if self._closed:
                return
            changed = self._changed
            if changed is None:
                changed = self._changed = anyio.Event()
            await changed.wait()
