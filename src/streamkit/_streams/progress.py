"""Progress records for long-running work, rate-limited for the wire."""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Sized
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio

from streamkit._formats.sse import ServerSentEvent, json_event
from streamkit._streams.sources import async_iter

__all__ = ["Progress", "progress"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """How far a piece of work has got.

    Attributes:
        done: units of work finished.
        total: units in all, if known.
        elapsed: seconds since the work started.
        rate: units per second so far (0.0 before any time has passed).
        fraction: ``done / total`` (0.0-1.0), if the total is known.
        eta: estimated seconds left, if the total and a rate are known.
        final: True on the last record, sent when the work is finished.
    """

    done: int
    total: int | None
    elapsed: float
    rate: float
    fraction: float | None
    eta: float | None
    final: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with ``"type": "progress"`` for JSON Lines streams."""
        return {
            "type": "progress",
            "done": self.done,
            "total": self.total,
            "fraction": self.fraction,
            "rate": round(self.rate, 3),
            "elapsed": round(self.elapsed, 3),
            "eta": None if self.eta is None else round(self.eta, 3),
            "final": self.final,
        }

    def to_event(self, *, event: str = "progress", id: str | None = None) -> ServerSentEvent:
        """The record as an SSE event (JSON data) named ``event``."""
        return json_event(self.to_dict(), event=event, id=id)


def _record(done: int, total: int | None, started: float, final: bool) -> Progress:
    elapsed = max(anyio.current_time() - started, 0.0)
    rate = done / elapsed if elapsed > 0 else 0.0
    if total is None:
        fraction = None
    elif total == 0:
        fraction = 1.0  # nothing to do is all done
    else:
        fraction = min(done / total, 1.0)
    eta = None
    if total is not None and rate > 0:
        eta = max(total - done, 0) / rate
    elif total is not None and done >= total:
        eta = 0.0
    return Progress(
        done=done, total=total, elapsed=elapsed, rate=rate, fraction=fraction, eta=eta, final=final
    )


async def progress(
    work: Iterable[Any] | AsyncIterable[Any],
    *,
    total: int | None = None,
    every: float = 0.5,
) -> AsyncGenerator[Progress, None]:
    """Drive ``work`` and report on it: each item it yields is one unit done.

    Yields a first record (``done=0``) at once, then at most one record per
    ``every`` seconds while the work runs, then a ``final`` record when it is
    finished. Sync work runs on a thread (see :func:`~streamkit.async_iter`),
    so blocking steps do not stall the server.

    Args:
        work: an iterable whose iteration does the work (e.g. a generator
            that processes one file per step).
        total: how many items to expect, for ``fraction`` and ``eta``; taken
            from ``len(work)`` when it has one.
        every: the minimum seconds between two records (0 = one per item).

    Example::

        async for p in progress(process(files), total=len(files), every=0.25):
            yield p.to_event()          # SSE
            # or: yield p.to_dict()     # JSON Lines
    """
    if not (every >= 0 and math.isfinite(every)):
        raise ValueError(f"every must be a finite number of seconds >= 0, got {every!r}")
    if total is None and isinstance(work, Sized):
        total = len(work)
    if total is not None and total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    started = anyio.current_time()
    done = 0
    iterator = async_iter(work)
    try:
        yield _record(done, total, started, final=False)
        last = anyio.current_time()
        async for _ in iterator:
            done += 1
            now = anyio.current_time()
            if now - last >= every:
                last = now
                yield _record(done, total, started, final=False)
    finally:
        await iterator.aclose()
    yield _record(done, total, started, final=True)
