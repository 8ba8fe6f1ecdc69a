"""What the gallery's recipes share: settings, generated data files, the
fake LLM, the live feeds and the background jobs."""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import anyio
import anyio.abc

from streamkit import EventLog
from streamkit.demo.fake_llm import FakeLLM

__all__ = ["Demo", "default_data_dir", "prepare_data"]

#: Rows in the demo database: enough that buffering would hurt.
DATABASE_ROWS: Final = 120_000
#: Size of the large download (64 MiB: resuming it is worth it, creating it
#: takes a fraction of a second).
LARGE_FILE_SIZE: Final = 64 * 1024 * 1024

_FAST_DATABASE_ROWS: Final = 5_000
_FAST_LARGE_FILE_SIZE: Final = 3 * 1024 * 1024 + 5

_COUNTRIES: Final = ("FR", "DE", "GB", "US", "JP", "BR", "IN", "NG", "CA", "ES")


def default_data_dir() -> Path:
    """Where the gallery keeps its generated files unless told otherwise."""
    return Path(tempfile.gettempdir()) / "streamkit-demo"


@dataclass
class Demo:
    """The gallery's shared state (one per app)."""

    data_dir: Path
    fast: bool
    llm: FakeLLM
    #: The stock ticker's replay buffer.
    ticker: EventLog = field(default_factory=lambda: EventLog(maxlen=2000))
    #: Background work that outlives requests (jobs); set by the lifespan.
    task_group: anyio.abc.TaskGroup | None = None

    @property
    def database(self) -> Path:
        return self.data_dir / "demo.sqlite3"

    @property
    def large_file(self) -> Path:
        return self.data_dir / "large-file.bin"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "app.log"

    @property
    def database_rows(self) -> int:
        return _FAST_DATABASE_ROWS if self.fast else DATABASE_ROWS

    @property
    def large_file_size(self) -> int:
        return _FAST_LARGE_FILE_SIZE if self.fast else LARGE_FILE_SIZE

    def scaled(self, normal: float, fast: float) -> float:
        """A delay or interval: ``fast`` in fast mode, else ``normal``."""
        return fast if self.fast else normal


def _create_database(path: Path, rows: int) -> None:
    """A users table with ``rows`` rows (rebuilt if it has another count)."""
    if path.exists():
        try:
            with sqlite3.connect(path) as db:
                (count,) = db.execute("SELECT count(*) FROM users").fetchone()
            if count == rows:
                return
        except sqlite3.Error:
            pass
        path.unlink()
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    try:
        db.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "email TEXT NOT NULL, country TEXT NOT NULL, signed_up TEXT NOT NULL, "
            "spend REAL NOT NULL)"
        )
        db.executemany(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    i,
                    f"User {i}",
                    f"user{i}@example.com",
                    _COUNTRIES[i % len(_COUNTRIES)],
                    f"20{20 + i % 6}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    round((i * 7919 % 100_000) / 100, 2),
                )
                for i in range(1, rows + 1)
            ),
        )
        db.commit()
    finally:
        db.close()
    partial.replace(path)  # complete or absent, never half-made


def _create_large_file(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    block = hashlib.shake_256(b"streamkit").digest(1024 * 1024)
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as out:
        for offset in range(0, size, len(block)):
            out.write(block[: size - offset])
    partial.replace(path)


def prepare_data(demo: Demo) -> None:
    """Create the data files on first run (blocking: call it on a thread)."""
    demo.data_dir.mkdir(parents=True, exist_ok=True)
    _create_database(demo.database, demo.database_rows)
    _create_large_file(demo.large_file, demo.large_file_size)
    demo.log_file.touch()
