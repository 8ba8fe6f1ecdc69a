"""Stream a database table as CSV and JSON Lines, in constant memory.

Run it (after ``pip install -e ".[demo]"``)::

    python examples/export_users.py

then download http://127.0.0.1:8000/export/users.csv or
http://127.0.0.1:8000/export/users.jsonl. The SQLite database (50,000 users)
is generated on first run next to the system's temporary files.

Each export reads the table through a server-side cursor on streamkit's
source thread and sends ~64 KiB chunks; the CSV is safe to open in Excel (a
byte order mark, and the formula-injection guard on). The response classes of
``streamkit.starlette`` (coming next) will wrap this ASGI-level pattern.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from streamkit import csv_chunks, jsonl_chunks

DATABASE = Path(tempfile.gettempdir()) / "streamkit-example-users.sqlite3"


def create_database(path: Path = DATABASE, rows: int = 50_000) -> Path:
    if not path.exists():
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
            db.executemany(
                "INSERT INTO users VALUES (?, ?, ?)",
                ((i, f"User {i}", f"user{i}@example.com") for i in range(1, rows + 1)),
            )
    return path


def users(path: Path) -> Iterator[sqlite3.Row]:
    db = sqlite3.connect(path, check_same_thread=False)
    db.row_factory = sqlite3.Row
    try:
        yield from db.execute("SELECT id, name, email FROM users ORDER BY id")
    finally:
        db.close()  # runs on the source thread, also when the client leaves early


class Export:
    """A raw ASGI endpoint streaming the users table (Starlette passes a
    non-function endpoint the ASGI scope, receive and send as they are)."""

    def __init__(self, kind: str, path: Path) -> None:
        self.kind = kind
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.kind == "csv":
            chunker = csv_chunks(users(self.path), bom=True)
            headers = [
                (b"content-type", b"text/csv; charset=utf-8; header=present"),
                (b"content-disposition", b'attachment; filename="users.csv"'),
            ]
        else:
            chunker = jsonl_chunks((dict(row) for row in users(self.path)), trailer=True)
            headers = [(b"content-type", b"application/jsonl")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async with chunker as chunks:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def make_app(path: Path | None = None) -> Starlette:
    path = create_database() if path is None else path
    return Starlette(
        routes=[
            Route("/export/users.csv", Export("csv", path)),
            Route("/export/users.jsonl", Export("jsonl", path)),
        ]
    )


def main() -> None:
    import uvicorn

    uvicorn.run(make_app(), host="127.0.0.1", port=8000)


if __name__ == "__main__":
    main()
