"""Downloads and exports: a large file with Range resume, a database table
as CSV and JSON Lines, and query results read through a server-side cursor.

Everything here runs in constant memory whatever the size: the file is read
256 KiB at a time; the database rows come from a cursor on a thread of their
own (``sqlite3`` blocks), a batch at a time, and a client that reads slowly
slows the query down instead of growing the server's memory. When the client
hangs up, the generator is closed on the thread that runs it, so the cursor
and connection are closed there too.

Try::

    curl -O http://127.0.0.1:8000/download/large-file
    curl -C - -O http://127.0.0.1:8000/download/large-file   # resume it
    curl -OJ http://127.0.0.1:8000/export/users/csv
    curl -N 'http://127.0.0.1:8000/stream/database-results?country=FR'
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query

from streamkit.demo._state import Demo
from streamkit.starlette import CSVResponse, FileStreamResponse, JSONLResponse

#: Rows fetched per ``fetchmany`` call: big enough to amortise the call,
#: small enough that the first rows go out at once.
FETCH_SIZE: Final = 500

COLUMNS: Final = ("id", "name", "email", "country", "signed_up", "spend")


def connect(path: Path) -> sqlite3.Connection:
    # check_same_thread=False: the generator may be closed from another
    # thread than the one that opened it if it was never started.
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    db.row_factory = sqlite3.Row
    return db


def query_rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> Iterator[dict[str, Any]]:
    """The results of ``sql``, read ``FETCH_SIZE`` rows at a time through a
    cursor: the database hands rows over as they are needed, never all."""
    db = connect(path)
    try:
        cursor = db.execute(sql, params)
        while batch := cursor.fetchmany(FETCH_SIZE):
            for row in batch:
                yield dict(row)
    finally:
        db.close()  # also when the client hangs up part way


def router(demo: Demo) -> APIRouter:
    api = APIRouter(tags=["files"])

    @api.api_route("/download/large-file", methods=["GET", "HEAD"])
    async def large_file() -> FileStreamResponse:
        """A large binary file: Content-Length, Range (resume with
        ``curl -C -``), If-Range, ETag and 304s are handled by the response."""
        return FileStreamResponse(demo.large_file, filename="large-file.bin")

    @api.get("/export/users/csv", response_class=CSVResponse)
    def users_csv() -> CSVResponse:
        """The users table as CSV, ready for Excel (a BOM; formula guard on)."""
        rows = query_rows(demo.database, f"SELECT {', '.join(COLUMNS)} FROM users ORDER BY id")
        return CSVResponse(rows, fieldnames=list(COLUMNS), bom=True, filename="users.csv")

    @api.get("/export/data/jsonl", response_class=JSONLResponse)
    def data_jsonl() -> JSONLResponse:
        """The users table as JSON Lines, with an end trailer."""
        rows = query_rows(demo.database, f"SELECT {', '.join(COLUMNS)} FROM users ORDER BY id")
        return JSONLResponse(
            rows,
            trailer=True,
            headers={"content-disposition": 'attachment; filename="users.jsonl"'},
        )

    @api.get("/stream/database-results", response_class=JSONLResponse)
    def database_results(
        country: Annotated[str | None, Query(pattern="^[A-Z]{2}$")] = None,
        min_spend: Annotated[float, Query(ge=0)] = 0.0,
    ) -> JSONLResponse:
        """Query results streamed as the cursor yields them (JSON Lines)."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM users WHERE spend >= ?"
        params: tuple[Any, ...] = (min_spend,)
        if country is not None:
            sql += " AND country = ?"
            params += (country,)
        return JSONLResponse(query_rows(demo.database, sql + " ORDER BY id", params), trailer=True)

    return api
