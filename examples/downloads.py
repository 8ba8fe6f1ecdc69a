"""File downloads: a large file with resume, user-chosen files under a root,
and a generated stream.

Run it (after ``pip install -e ".[demo]"``)::

    python examples/downloads.py

then try::

    curl -O http://127.0.0.1:8000/download/large-file          # 256 MiB
    curl -C - -O http://127.0.0.1:8000/download/large-file     # resume it
    curl -r 0-99 http://127.0.0.1:8000/download/large-file | xxd | head
    curl -i http://127.0.0.1:8000/files/readme.txt
    curl -i http://127.0.0.1:8000/files/../examples/downloads.py   # 404
    curl -O http://127.0.0.1:8000/download/report.csv          # generated

The files are created on first run in a ``streamkit-downloads`` folder of
the system's temporary directory.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from streamkit.starlette import FileStreamResponse

LARGE_FILE_SIZE = 256 * 1024 * 1024


def prepare_files(directory: Path, large_size: int = LARGE_FILE_SIZE) -> Path:
    """Create the example's files (once): a large binary file, and a public
    folder with a few small ones."""
    directory.mkdir(parents=True, exist_ok=True)
    large = directory / "large-file.bin"
    if not large.exists() or large.stat().st_size != large_size:
        block = hashlib.shake_256(b"streamkit").digest(1024 * 1024)
        with open(large, "wb") as out:
            for offset in range(0, large_size, len(block)):
                out.write(block[: large_size - offset])
    public = directory / "public"
    public.mkdir(exist_ok=True)
    (public / "readme.txt").write_text("Files under this folder can be downloaded by name.\n")
    (public / "notes").mkdir(exist_ok=True)
    (public / "notes" / "résumé.txt").write_text("A name that is not ASCII.\n")
    return directory


def report_rows(count: int) -> Iterator[bytes]:
    """A generated export: bytes made on the fly, size unknown in advance."""
    yield b"id,value\r\n"
    for n in range(count):
        yield f"{n},{n * n}\r\n".encode()


def make_app(directory: Path) -> Starlette:
    public = directory / "public"

    async def large_file(request: Request) -> FileStreamResponse:
        # Range, If-Range, ETag, 304 and HEAD are handled by the response.
        return FileStreamResponse(directory / "large-file.bin", filename="large-file.bin")

    async def public_file(request: Request) -> FileStreamResponse:
        # The name comes from the user: root= refuses anything outside.
        return FileStreamResponse(request.path_params["name"], root=public)

    async def report(request: Request) -> FileStreamResponse:
        return FileStreamResponse(report_rows(100_000), filename="report.csv")

    return Starlette(
        routes=[
            Route("/download/large-file", large_file, methods=["GET", "HEAD"]),
            Route("/files/{name:path}", public_file, methods=["GET", "HEAD"]),
            Route("/download/report.csv", report),
        ]
    )


def main() -> None:
    import uvicorn

    directory = prepare_files(Path(tempfile.gettempdir()) / "streamkit-downloads")
    uvicorn.run(make_app(directory), host="127.0.0.1", port=8000, timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
