"""Light concurrency primitives for the per-stream tasks.

Every open stream runs a producer task and a disconnect listener, and waits on
one event at a time. With thousands of idle streams open, what each of those
costs is the memory of the server, so on asyncio they are native objects (a
task, a future) instead of an anyio task group (a task handle, an event and a
group of its own per task), with anyio's semantics kept: the child runs inside
an anyio cancel scope, so shields and nested scopes in user code behave as
under a task group, and it is always awaited before the owner goes on. Other
back-ends (trio) use anyio directly.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Protocol

import anyio

__all__ = ["ChildTask", "Signal", "new_signal", "on_asyncio", "wait_until"]


def on_asyncio() -> bool:
    """True when the current task runs on asyncio (as anyio sees it)."""
    return anyio.get_cancelled_exc_class() is asyncio.CancelledError


class Signal(Protocol):
    """A one-shot event: one task waits, another sets it. Only one waiter:
    on asyncio, a cancelled wait cancels the shared future."""

    def set(self) -> None: ...

    async def wait(self) -> None: ...


class _FutureSignal:
    """A one-shot event on asyncio: a bare future (an ``asyncio.Event`` also
    allocates a waiter queue)."""

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def set(self) -> None:
        if not self._future.done():  # a cancelled wait cancels the future
            self._future.set_result(None)

    async def wait(self) -> None:
        await self._future


def new_signal() -> Signal:
    """A fresh one-shot event for the running back-end."""
    if on_asyncio():
        return _FutureSignal()
    return anyio.Event()


async def wait_until(signal: Signal, deadline: float) -> None:
    """Wait for ``signal`` to be set, or until ``deadline`` (on the clock of
    ``anyio.current_time()``), whichever comes first."""
    if deadline == math.inf:
        await signal.wait()
    elif isinstance(signal, _FutureSignal):
        # A timer, not a cancel scope: no scope object per wait.
        handle = asyncio.get_running_loop().call_at(deadline, signal.set)
        try:
            await signal.wait()
        finally:
            handle.cancel()
    else:
        with anyio.move_on_after(deadline - anyio.current_time()):
            await signal.wait()


class ChildTask:
    """Run ``fn()`` as a child task for the duration of an ``async with`` block.

    Leaving the block cancels the child (through its own cancel scope) and
    waits for it to finish, as a task group would. The child must handle its
    own exceptions: a ``BaseException`` escaping it (other than its
    cancellation) is re-raised when the block is left.

    ``plain=True`` is for a child that runs no user code and needs no cleanup
    (the disconnect listener awaits the server's ``receive``): on asyncio it
    is then cancelled as a bare task, without a cancel scope of its own.
    """

    __slots__ = ("_fn", "_group", "_plain", "_scope", "_task")

    def __init__(self, fn: Callable[[], Coroutine[Any, Any, None]], *, plain: bool = False) -> None:
        self._fn = fn
        self._plain = plain
        self._scope: anyio.CancelScope | None = None
        self._task: asyncio.Task[None] | None = None
        self._group: anyio.abc.TaskGroup | None = None

    async def _run(self) -> None:
        assert self._scope is not None
        with self._scope:
            await self._fn()

    async def __aenter__(self) -> None:
        if on_asyncio():
            loop = asyncio.get_running_loop()
            if self._plain:
                self._task = loop.create_task(self._fn())
                return
            # Cancelled before it starts, the child still runs up to its first
            # checkpoint, as under a task group (its cleanup then runs).
            self._scope = anyio.CancelScope()
            self._task = loop.create_task(self._run())
        else:
            self._group = anyio.create_task_group()
            await self._group.__aenter__()
            self._group.start_soon(self._fn)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task = self._task
        if task is None:
            assert self._group is not None
            self._group.cancel_scope.cancel()
            return await self._group.__aexit__(exc_type, exc, tb)
        if self._scope is None:
            task.cancel()
        else:
            self._scope.cancel()
        if not task.done():
            with anyio.CancelScope(shield=True):
                await asyncio.wait((task,))
        if not task.cancelled():
            error = task.exception()
            if error is not None:
                raise error
        return None
