"""Small fakes and checks shared by the stream tests."""

from __future__ import annotations

import threading


class CloseableIterator:
    """An iterator that holds a resource from the moment it exists, until
    ``close()``: like a DB cursor or an open file."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> CloseableIterator:
        return self

    def __next__(self) -> int:
        return 1

    def close(self) -> None:
        self.closed = True


def assert_no_thread_left(before: int) -> None:
    """No thread started since ``before`` was counted is still alive (streamkit
    joins a source's thread before it returns from closing it)."""
    assert threading.active_count() <= before, [t.name for t in threading.enumerate()]
