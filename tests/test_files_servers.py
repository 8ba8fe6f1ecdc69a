"""FileStreamResponse on other ASGI servers: granian (which offers the
``http.response.pathsend`` extension) and hypercorn (which does not).

Each server runs as a subprocess started from its command line; a middleware
in the app records the types of the ASGI messages the response sent, and
``/sent`` reports them, so the tests see whether the path was handed to the
server or the bytes were streamed. Last, its behaviour behind Starlette's
GZipMiddleware, which the docs describe.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .processes import free_port, wait_until_listening

SERVER = textwrap.dedent(
    """
    import os
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from streamkit.starlette import FileStreamResponse

    FILE = os.environ["STREAMKIT_TEST_FILE"]
    sent = []

    async def download(request):
        return FileStreamResponse(FILE)

    async def report(request):
        return JSONResponse(sent)

    inner = Starlette(routes=[Route("/file", download, methods=["GET", "HEAD"]),
                              Route("/sent", report)])

    async def app(scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/file":
            return await inner(scope, receive, send)
        types = []

        async def recording(message):
            types.append(message["type"])
            await send(message)

        try:
            await inner(scope, receive, recording)
        finally:
            sent.append(types)
    """
)

SIZE = 3 * 1024 * 1024 + 17


def command(name: str, port: int) -> list[str]:
    if name == "granian":
        return [
            *("granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)),
            *("--log-level", "warning", "files_app:app"),
        ]
    return [
        *("hypercorn", "files_app:app", "--bind", f"127.0.0.1:{port}"),
        *("--log-level", "warning"),
    ]


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    directory = tmp_path_factory.mktemp("files")
    data = os.urandom(SIZE)
    path = directory / "payload.bin"
    path.write_bytes(data)
    (directory / "files_app.py").write_text(SERVER)
    return path, data


@pytest.fixture(scope="module", params=["granian", "hypercorn"])
def server(request: pytest.FixtureRequest, content: tuple[Path, bytes]) -> Iterator[str]:
    name: str = request.param
    pytest.importorskip(name)
    path, _ = content
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", *command(name, port)],
        cwd=path.parent,
        env={**os.environ, "PYTHONPATH": str(path.parent), "STREAMKIT_TEST_FILE": str(path)},
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port, process, name)
        yield f"{name}|http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def last_sent(url: str) -> list[str]:
    reports: list[list[str]] = httpx.get(f"{url}/sent", timeout=10).json()
    return reports[-1]


def test_the_whole_file_is_sent_with_pathsend_where_offered(
    server: str, content: tuple[Path, bytes]
) -> None:
    name, url = server.split("|")
    _, data = content
    response = httpx.get(f"{url}/file", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(SIZE)
    assert response.content == data
    sent = last_sent(url)
    if name == "granian":
        assert sent == ["http.response.start", "http.response.pathsend"]
    else:
        assert "http.response.pathsend" not in sent
        assert sent[-1] == "http.response.body"


def test_a_range_is_streamed_by_the_app_on_every_server(
    server: str, content: tuple[Path, bytes]
) -> None:
    _, url = server.split("|")
    _, data = content
    response = httpx.get(f"{url}/file", headers={"Range": "bytes=1000-1999999"}, timeout=30)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 1000-1999999/{SIZE}"
    assert response.content == data[1000:2000000]
    assert "http.response.pathsend" not in last_sent(url)


def test_several_ranges_come_as_multipart_on_every_server(
    server: str, content: tuple[Path, bytes]
) -> None:
    _, url = server.split("|")
    _, data = content
    response = httpx.get(f"{url}/file", headers={"Range": "bytes=0-9,-10"}, timeout=30)
    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert data[:10] in response.content
    assert data[-10:] in response.content
    assert len(response.content) == int(response.headers["content-length"])


def test_head_sends_headers_only_on_every_server(server: str) -> None:
    _, url = server.split("|")
    response = httpx.head(f"{url}/file", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(SIZE)
    assert response.content == b""
    assert "http.response.pathsend" not in last_sent(url)


# -- behind Starlette's GZipMiddleware (uvicorn, in-process) ------------------


def test_behind_gzip_a_whole_text_file_is_compressed_and_ranges_are_not(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.requests import Request
    from starlette.routing import Route

    from streamkit.starlette import FileStreamResponse
    from streamkit.testing import run_server

    data = b"hello world\n" * 100_000
    path = tmp_path / "notes.txt"
    path.write_bytes(data)

    async def download(request: Request) -> FileStreamResponse:
        return FileStreamResponse(path)

    app = Starlette(routes=[Route("/f", download)], middleware=[Middleware(GZipMiddleware)])
    with run_server(app) as url:
        whole = httpx.get(f"{url}/f", headers={"Accept-Encoding": "gzip"}, timeout=10)
        part = httpx.get(
            f"{url}/f", headers={"Accept-Encoding": "gzip", "Range": "bytes=10-99999"}, timeout=10
        )
    assert whole.headers["content-encoding"] == "gzip"
    assert "content-length" not in whole.headers
    assert whole.content == data  # httpx decodes it
    assert part.status_code == 206
    assert "content-encoding" not in part.headers
    assert part.content == data[10:100_000]
