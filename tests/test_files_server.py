"""FileStreamResponse under a real uvicorn server, read by httpx: Range,
conditional requests, HEAD, 404s, byte sources, resumption, truncation and
memory."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Message

from streamkit._formats.httpfile import strong_etag
from streamkit.starlette import FileStreamResponse
from streamkit.testing import run_server

from .test_files import open_fds_to
from .test_httpfile import RangeHeader, assert_canonical, parse_multipart, range_headers

SIZE = 1_000_003  # not a multiple of any chunk size
MTIME_NS = 1_700_000_000_123_456_789
ETAG = strong_etag(SIZE, MTIME_NS)
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"
EARLIER = "Tue, 14 Nov 2023 22:13:19 GMT"
LATER = "Tue, 14 Nov 2023 22:13:21 GMT"
DATA = os.urandom(SIZE)
SMALL = os.urandom(257)
PAYLOAD = bytes(range(256)) * 40  # what the byte sources give: 10 pieces of 1024
NON_ASCII = "rapport-été.pdf"


# -- the site --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """base/files: what is served; base/files-private: what must not be."""
    base = tmp_path_factory.mktemp("site")
    root = base / "files"
    (root / "sub").mkdir(parents=True)
    (root / "data.bin").write_bytes(DATA)
    os.utime(root / "data.bin", ns=(MTIME_NS, MTIME_NS))
    (root / "small.bin").write_bytes(SMALL)
    (root / "empty.bin").write_bytes(b"")
    (root / "notes.txt").write_bytes(b"line one\nline two\n" * 100)
    (root / "movie.mp4").write_bytes(b"\0\0\0\x18ftypmp42")
    (root / "blob.qqqz").write_bytes(b"?")
    (root / NON_ASCII).write_bytes(b"%PDF-1.7")
    (root / "sub" / "inner.txt").write_bytes(b"inner")
    (base / "files-private").mkdir()
    (base / "files-private" / "secret.txt").write_bytes(b"secret")
    (root / "to-private").symlink_to(base / "files-private")
    return root


def make_app(root: Path) -> Starlette:
    async def files(request: Request) -> FileStreamResponse:
        return FileStreamResponse(request.path_params["name"], root=str(root))

    async def direct(request: Request) -> FileStreamResponse:
        return FileStreamResponse(root / request.path_params["name"])

    async def inline(request: Request) -> FileStreamResponse:
        return FileStreamResponse(root / "notes.txt", content_disposition="inline")

    async def renamed(request: Request) -> FileStreamResponse:
        return FileStreamResponse(root / "data.bin", filename="report.csv")

    async def source(request: Request) -> FileStreamResponse:
        kind, mode = request.path_params["kind"], request.path_params["mode"]
        pieces = [PAYLOAD[i : i + 1024] for i in range(0, len(PAYLOAD), 1024)]
        size: int | None = {
            "unsized": None,
            "sized": len(PAYLOAD),
            "more": len(PAYLOAD) - 500,  # the source overflows in the middle of a chunk
            "more-at-boundary": len(PAYLOAD) - 1024,  # ... right after a chunk
            "fewer": len(PAYLOAD) + 1024,
        }[mode]

        def sync_pieces() -> Iterator[bytes]:
            yield from pieces

        async def async_pieces() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        content = sync_pieces() if kind == "sync" else async_pieces()
        # chunk_size=1024: one piece per chunk, so that a mismatch shows only
        # after some of the body has been sent.
        return FileStreamResponse(content, filename="backup.bin", size=size, chunk_size=1024)

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/files/{name:path}", files, methods=["GET", "HEAD", "POST"]),
            Route("/direct/{name:path}", direct),
            Route("/inline", inline),
            Route("/renamed", renamed),
            Route("/source/{kind}/{mode}", source),
            Route("/health", health),
        ]
    )


@pytest.fixture(scope="module")
def site(root: Path) -> Iterator[str]:
    """A server that must log no error: any 500 fails the module."""
    with run_server(make_app(root)) as url:
        yield url


@pytest.fixture(scope="module")
def lenient(root: Path) -> Iterator[str]:
    """A server for the tests that make the app fail on purpose."""
    with run_server(make_app(root), fail_on_app_error=False) as url:
        yield url


@pytest.fixture(scope="module")
def client(site: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site, timeout=10) as client:
        yield client


class _AppErrorLogged(logging.Handler):
    """Set once uvicorn has logged an exception from the app. Added to the
    root logger after pytest's handlers, so it runs after they have
    formatted the record."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "uvicorn.error" and record.getMessage().startswith(
            "Exception in ASGI application"
        ):
            self.seen.set()


@contextlib.contextmanager
def failing_app(base_url: str) -> Iterator[httpx.Client]:
    """A client for requests the app fails on; on the way out, wait until the
    server thread has logged the failure, and check that it did.

    The wait is also what keeps these tests reliable: on Python 3.11 both
    the server thread (logging the app's traceback) and pytest (reporting a
    failure, an xfail included) parse source with ``ast``, and two threads
    doing that at once can fail with "SystemError: AST constructor recursion
    depth mismatch" (CPython gh-106905, pytest-dev/pytest#10763).
    """
    handler = _AppErrorLogged()
    root_logger = logging.getLogger()
    root_logger.addHandler(handler)
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            yield client
    finally:
        logged = handler.seen.wait(5)
        root_logger.removeHandler(handler)
    assert logged, "the app did not fail"


# -- checking a response -------------------------------------------------------------


def check(
    response: httpx.Response,
    status: int,
    ranges: tuple[tuple[int, int], ...] = (),
    *,
    data: bytes = DATA,
    media_type: str = "application/octet-stream",
    etag: str | None = ETAG,
    last_modified: str | None = LAST_MODIFIED,
    head: bool = False,
) -> None:
    """Everything a response to a file request must say, and its body against
    the file's bytes."""
    headers = response.headers
    body = response.content
    assert response.status_code == status, (status, headers, body[:200])
    size = len(data)
    if etag is not None:
        assert headers["etag"] == etag
    if last_modified is not None:
        assert headers["last-modified"] == last_modified
    if status == 304:
        # Only what a cache needs (RFC 9110 15.4.5): no representation metadata.
        assert "etag" in headers
        assert "last-modified" in headers
        for name in ("content-type", "content-range", "content-disposition", "content-length"):
            assert name not in headers
        assert body == b""
        return
    assert headers["accept-ranges"] == "bytes"
    assert "transfer-encoding" not in headers  # the length is always known
    if status == 200:
        assert headers["content-type"] == media_type
        assert headers["content-length"] == str(size)
        assert "content-range" not in headers
        assert body == (b"" if head else data)
    elif status == 206 and len(ranges) == 1:
        ((start, stop),) = ranges
        assert headers["content-type"] == media_type
        assert headers["content-range"] == f"bytes {start}-{stop - 1}/{size}"
        assert headers["content-length"] == str(stop - start)
        assert body == data[start:stop]
    elif status == 206:
        match = re.fullmatch(
            r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,\-./:=?]{1,70})",
            headers["content-type"],
        )
        assert match is not None, headers["content-type"]
        assert "content-range" not in headers
        assert headers["content-length"] == str(len(body))
        parts = parse_multipart(body, match.group(1))
        assert parts == [(media_type, f"bytes {a}-{b - 1}/{size}", data[a:b]) for a, b in ranges]
    elif status == 416:
        assert headers["content-range"] == f"bytes */{size}"
        assert headers["content-length"] == "0"
        assert body == b""
    elif status == 412:
        assert headers["content-length"] == "0"
        assert "content-range" not in headers
        assert body == b""
    else:  # pragma: no cover
        raise AssertionError(f"unexpected status {status}")


# -- the matrix ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    headers: dict[str, str]
    status: int
    ranges: tuple[tuple[int, int], ...] = ()


def spread(count: int) -> str:
    """``count`` one-byte ranges far enough apart not to merge."""
    return "bytes=" + ",".join(f"{i * 1000}-{i * 1000}" for i in range(count))


CASES = {
    "plain": Case({}, 200),
    "range-first-100": Case({"range": "bytes=0-99"}, 206, ((0, 100),)),
    "range-middle": Case({"range": "bytes=262144-524288"}, 206, ((262144, 524289),)),
    "range-last-byte": Case({"range": f"bytes={SIZE - 1}-{SIZE - 1}"}, 206, ((SIZE - 1, SIZE),)),
    "range-past-end-clamped": Case({"range": "bytes=999990-2000000"}, 206, ((999990, SIZE),)),
    "suffix": Case({"range": "bytes=-500"}, 206, ((SIZE - 500, SIZE),)),
    "suffix-larger-than-file": Case({"range": "bytes=-2000000"}, 200),
    "open": Case({"range": "bytes=1000000-"}, 206, ((1000000, SIZE),)),
    "whole-file-range": Case({"range": "bytes=0-"}, 200),
    "two-ranges": Case({"range": "bytes=0-0,-1"}, 206, ((0, 1), (SIZE - 1, SIZE))),
    "three-ranges-unsorted": Case(
        {"range": "bytes=500000-500999, 0-99,\t300000-300099"},
        206,
        ((0, 100), (300000, 300100), (500000, 501000)),
    ),
    "overlapping": Case(
        {"range": "bytes=0-499,100-599,2000-2999,2500-"},
        206,
        ((0, 600), (2000, SIZE)),
    ),
    "overlapping-into-one": Case({"range": "bytes=10-499,400-999"}, 206, ((10, 1000),)),
    "adjacent": Case({"range": "bytes=10-19,20-29"}, 206, ((10, 30),)),
    "hundred-ranges": Case(
        {"range": spread(100)}, 206, tuple((i * 1000, i * 1000 + 1) for i in range(100))
    ),
    "too-many-ranges": Case({"range": spread(101)}, 200),
    "unsatisfiable": Case({"range": f"bytes={SIZE}-"}, 416),
    "unsatisfiable-several": Case({"range": "bytes=2000000-2000010,-0"}, 416),
    "malformed": Case({"range": "bytes=abc"}, 200),
    "inverted": Case({"range": "bytes=5-4"}, 200),
    "other-unit": Case({"range": "items=0-1"}, 200),
    "if-range-etag": Case({"range": "bytes=0-99", "if-range": ETAG}, 206, ((0, 100),)),
    "if-range-stale-etag": Case({"range": "bytes=0-99", "if-range": '"stale"'}, 200),
    "if-range-weak-etag": Case({"range": "bytes=0-99", "if-range": f"W/{ETAG}"}, 200),
    "if-range-date": Case({"range": "bytes=0-99", "if-range": LAST_MODIFIED}, 206, ((0, 100),)),
    "if-range-other-date": Case({"range": "bytes=0-99", "if-range": LATER}, 200),
    "if-none-match": Case({"if-none-match": ETAG}, 304),
    "if-none-match-weak": Case({"if-none-match": f"W/{ETAG}"}, 304),
    "if-none-match-list": Case({"if-none-match": f'"a", {ETAG}'}, 304),
    "if-none-match-star": Case({"if-none-match": "*"}, 304),
    "if-none-match-other": Case({"if-none-match": '"other"'}, 200),
    "if-none-match-with-range": Case({"if-none-match": ETAG, "range": "bytes=0-9"}, 304),
    "if-none-match-beats-date": Case({"if-none-match": '"other"', "if-modified-since": LATER}, 200),
    "if-modified-since-same": Case({"if-modified-since": LAST_MODIFIED}, 304),
    "if-modified-since-later": Case({"if-modified-since": LATER}, 304),
    "if-modified-since-earlier": Case({"if-modified-since": EARLIER}, 200),
    "if-match-current": Case({"if-match": ETAG, "range": "bytes=0-9"}, 206, ((0, 10),)),
    "if-match-fails": Case({"if-match": '"other"'}, 412),
    "if-match-fails-before-range": Case({"if-match": '"other"', "range": "bytes=0-9"}, 412),
    "if-unmodified-since-fails": Case({"if-unmodified-since": EARLIER}, 412),
    "if-unmodified-since-holds": Case({"if-unmodified-since": LAST_MODIFIED}, 200),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_get(client: httpx.Client, case: Case) -> None:
    response = client.get("/files/data.bin", headers=case.headers)
    check(response, case.status, case.ranges)
    if case.status in (200, 206):
        assert response.headers["content-disposition"] == 'attachment; filename="data.bin"'


@pytest.mark.parametrize(
    "case",
    [c for c in CASES.values() if "range" not in c.headers],
    ids=[k for k, c in CASES.items() if "range" not in c.headers],
)
def test_head_has_the_headers_of_get_and_no_body(client: httpx.Client, case: Case) -> None:
    head = client.head("/files/data.bin", headers=case.headers)
    check(head, case.status, case.ranges, head=True)
    get = client.get("/files/data.bin", headers=case.headers)
    assert head.status_code == get.status_code
    same = {k: v for k, v in head.headers.items() if k != "date"}
    assert same == {k: v for k, v in get.headers.items() if k != "date"}


def test_head_ignores_range_as_rfc_9110_says(client: httpx.Client) -> None:
    # RFC 9110 14.2: "A server MUST ignore a Range header field received with
    # a request method that is unrecognized or for which range handling is not
    # defined. For this specification, GET is the only method for which range
    # handling is defined." So a HEAD with Range gets the 200's headers.
    response = client.head("/files/data.bin", headers={"range": "bytes=0-99"})
    check(response, 200, head=True)
    response = client.head("/files/data.bin", headers={"range": f"bytes={SIZE}-"})
    check(response, 200, head=True)


def test_range_is_ignored_for_post(client: httpx.Client) -> None:
    response = client.post("/files/data.bin", headers={"range": "bytes=0-99"})
    check(response, 200)
    assert client.post("/files/data.bin", headers={"if-none-match": ETAG}).status_code == 412


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("bytes=\u0661-\u0662".encode(), 200),  # Arabic-Indic digits, sent as UTF-8
        ("bytes=\uff10-\uff19".encode(), 200),  # fullwidth digits
        (b"bytes=0-9,\xa0", 200),  # a latin-1 byte the server decodes as NBSP
        (b"bytes=0-" + b"9" * 5000, 200),  # the whole file, through a huge number
        (b"bytes=" + b"9" * 5000 + b"-", 416),
    ],
)
def test_odd_range_bytes_are_never_a_server_error(
    client: httpx.Client, value: bytes, status: int
) -> None:
    check(client.get("/files/data.bin", headers={b"range": value}), status)


def test_a_range_with_thousands_of_leading_zeros_is_not_a_server_error(
    client: httpx.Client,
) -> None:
    response = client.get("/files/data.bin", headers={"range": "bytes=" + "0" * 5000 + "1-"})
    assert response.status_code == 206, response.status_code
    assert response.headers["content-range"].startswith("bytes 1-")


def test_multiple_ranges_of_a_text_file_keep_its_media_type_in_each_part(
    client: httpx.Client, root: Path
) -> None:
    data = (root / "notes.txt").read_bytes()
    response = client.get("/files/notes.txt", headers={"range": "bytes=0-3,10-19"})
    check(
        response,
        206,
        ((0, 4), (10, 20)),
        data=data,
        media_type="text/plain; charset=utf-8",
        etag=None,
        last_modified=None,
    )


def test_an_empty_file(client: httpx.Client) -> None:
    response = client.get("/files/empty.bin")
    check(response, 200, data=b"", etag=None, last_modified=None)
    response = client.get("/files/empty.bin", headers={"range": "bytes=0-"})
    check(response, 416, data=b"", etag=None, last_modified=None)


def test_the_validators_come_from_the_file(client: httpx.Client, root: Path) -> None:
    info = os.stat(root / "data.bin")
    assert info.st_mtime_ns == MTIME_NS
    response = client.head("/files/data.bin")
    assert response.headers["etag"] == strong_etag(info.st_size, info.st_mtime_ns)
    assert response.headers["last-modified"] == LAST_MODIFIED


def test_a_changed_file_gets_a_new_etag_and_if_range_then_sends_it_whole(
    client: httpx.Client, root: Path
) -> None:
    path = root / "changing.bin"
    path.write_bytes(b"version one")
    os.utime(path, ns=(MTIME_NS, MTIME_NS))
    old = client.head("/files/changing.bin").headers["etag"]
    path.write_bytes(b"version two")  # the same size
    os.utime(path, ns=(MTIME_NS + 1000, MTIME_NS + 1000))  # the same second, too
    response = client.get("/files/changing.bin", headers={"range": "bytes=8-", "if-range": old})
    assert response.headers["etag"] != old
    check(response, 200, data=b"version two", etag=None)
    assert client.get("/files/changing.bin", headers={"if-none-match": old}).status_code == 200


# -- what is not served --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/files/missing.bin",
        "/files/sub",
        "/files/sub/",
        "/files/../files-private/secret.txt",  # httpx removes the dot segments: a 404 anyway
        "/files/%2e%2e/files-private/secret.txt",
        "/files/..%2ffiles-private%2fsecret.txt",
        "/files/sub%2f..%2f..%2ffiles-private/secret.txt",
        "/files//etc/passwd",
        "/files/%2fetc%2fpasswd",
        "/files/to-private/secret.txt",  # a symlink out of the root
        "/files/a%00b",
        "/files/C:%5cwindows",
        "/direct/missing.bin",
        "/direct/sub",
    ],
)
def test_what_cannot_be_served_is_a_404(client: httpx.Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert "content-disposition" not in response.headers
    assert b"secret" not in response.content


def test_the_404_tests_reach_the_files(client: httpx.Client) -> None:
    # The positive control of the test above: the same routes serve what is inside.
    assert client.get("/files/sub/inner.txt").content == b"inner"
    assert client.get("/files/sub//inner.txt").content == b"inner"
    assert client.get("/direct/small.bin").content == SMALL


def test_fastapi_path_parameter_with_root(root: Path) -> None:
    api = FastAPI()

    @api.get("/download/{name:path}")
    async def download(name: str) -> FileStreamResponse:
        return FileStreamResponse(name, root=str(root))

    with run_server(api) as url, httpx.Client(base_url=url, timeout=10) as client:
        for path in (
            "/download/missing.bin",
            "/download/sub",
            "/download/%2e%2e/files-private/secret.txt",
            "/download/to-private/secret.txt",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/json"
            assert response.json() == {"detail": "Not Found"}
        check(client.get("/download/data.bin"), 200)
        check(
            client.get("/download/data.bin", headers={"range": "bytes=-3"}),
            206,
            ((SIZE - 3, SIZE),),
        )


# -- media types and names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("movie.mp4", "video/mp4"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("blob.qqqz", "application/octet-stream"),
        ("data.bin", "application/octet-stream"),
        (NON_ASCII, "application/pdf"),
    ],
)
def test_the_media_type_is_guessed_from_the_name(
    client: httpx.Client, name: str, media_type: str
) -> None:
    assert client.head(f"/files/{name}").headers["content-type"] == media_type


def test_a_non_ascii_name_gets_an_ascii_fallback_and_filename_star(client: httpx.Client) -> None:
    response = client.get(f"/files/{NON_ASCII}")
    assert response.status_code == 200
    assert response.content == b"%PDF-1.7"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"rapport-ete.pdf\"; filename*=UTF-8''rapport-%C3%A9t%C3%A9.pdf"
    )


def test_inline_disposition(client: httpx.Client) -> None:
    response = client.head("/inline")
    assert response.headers["content-disposition"] == 'inline; filename="notes.txt"'


def test_a_filename_names_the_download_and_picks_the_media_type(client: httpx.Client) -> None:
    response = client.get("/renamed", headers={"range": "bytes=0-9"})
    check(response, 206, ((0, 10),), media_type="text/csv; charset=utf-8")
    assert response.headers["content-disposition"] == 'attachment; filename="report.csv"'


# -- byte sources -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_source_without_size_is_chunked(client: httpx.Client, kind: str) -> None:
    response = client.get(f"/source/{kind}/unsized")
    assert response.status_code == 200
    assert response.content == PAYLOAD
    assert "content-length" not in response.headers
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="backup.bin"'
    assert "accept-ranges" not in response.headers  # a source cannot seek


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_source_with_size_has_a_content_length(client: httpx.Client, kind: str) -> None:
    response = client.get(f"/source/{kind}/sized")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(PAYLOAD))
    assert "transfer-encoding" not in response.headers
    assert response.content == PAYLOAD
    head = client.head(f"/source/{kind}/sized")
    assert head.headers["content-length"] == str(len(PAYLOAD))
    assert head.content == b""


def read_fully(client: httpx.Client, url: str) -> tuple[int, bytes]:
    received = bytearray()
    with client.stream("GET", url) as response:
        for chunk in response.iter_bytes():
            received += chunk
    return response.status_code, bytes(received)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("mode", ["more", "fewer"])
def test_a_source_that_breaks_its_size_is_an_incomplete_transfer(
    lenient: str, kind: str, mode: str
) -> None:
    with failing_app(lenient) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            read_fully(client, f"/source/{kind}/{mode}")
        assert client.get("/health").text == "ok"


@pytest.mark.anyio
@pytest.mark.parametrize("size", [len(PAYLOAD) - 500, len(PAYLOAD) + 1024])
async def test_the_response_itself_fails_when_a_source_breaks_its_size(size: int) -> None:
    # The guarantee at the ASGI level, whatever the server checks on its own
    # (uvicorn also refuses a body that disagrees with its Content-Length).
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(PAYLOAD), 1024):
            yield PAYLOAD[i : i + 1024]

    response = FileStreamResponse(pieces(), size=size, chunk_size=1024)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    with anyio.fail_after(5), pytest.raises(OSError, match="announced"):
        await response(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert (b"content-length", str(size).encode()) in sent[0]["headers"]
    bodies = sent[1:]
    assert all(m["type"] == "http.response.body" and m["more_body"] for m in bodies)
    assert 0 < sum(len(m["body"]) for m in bodies) < size  # never ended as if whole


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_source_with_more_than_its_size_right_after_a_chunk_is_incomplete(
    lenient: str, kind: str
) -> None:
    # Today: a 200 with exactly size= bytes, which looks like a whole download.
    with failing_app(lenient) as client, pytest.raises(httpx.RemoteProtocolError):
        read_fully(client, f"/source/{kind}/more-at-boundary")


# -- Hypothesis through the server ----------------------------------------------------------

server_settings = settings(max_examples=50, deadline=None)


@server_settings
@given(range_headers(size=len(SMALL)))
def test_any_range_header_is_served_as_the_grammar_says(
    client: httpx.Client, header: RangeHeader
) -> None:
    value = header.value.strip(" \t")  # a field value has no outer whitespace
    response = client.get("/files/small.bin", headers={b"range": value.encode()})
    status = response.status_code
    if header.wanted is None or header.wanted == frozenset(range(len(SMALL))):
        check(response, 200, data=SMALL, etag=None, last_modified=None)
    elif not header.wanted:
        check(response, 416, data=SMALL, etag=None, last_modified=None)
    else:
        assert status == 206
        ranges = ranges_of(response, len(SMALL))
        assert frozenset(p for a, b in ranges for p in range(a, b)) == header.wanted
        check(response, 206, ranges, data=SMALL, etag=None, last_modified=None)


def ranges_of(response: httpx.Response, size: int) -> tuple[tuple[int, int], ...]:
    """The ranges a 206 says it holds (its Content-Range, or its parts'), which
    must be sorted, disjoint and not adjacent."""
    if "content-range" in response.headers:
        values = [response.headers["content-range"]]
    else:
        boundary = response.headers["content-type"].partition("boundary=")[2]
        values = [crange for _, crange, _ in parse_multipart(response.content, boundary)]
    ranges = []
    for value in values:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", value)
        assert match is not None, value
        assert int(match.group(3)) == size
        ranges.append((int(match.group(1)), int(match.group(2)) + 1))
    assert_canonical(ranges, size)
    return tuple(ranges)


field_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\t"))


@server_settings
@given(
    field_values
    | field_values.map(lambda s: "bytes=" + s)
    | st.text(alphabet="0123456789-, ", min_size=1).map(lambda s: "bytes=" + s)
)
def test_arbitrary_range_headers_never_give_a_server_error(
    client: httpx.Client, value: str
) -> None:
    value = value.strip(" \t")
    response = client.get("/files/data.bin", headers={"range": value})
    assert response.status_code in (200, 206, 416)
    if response.status_code == 206:
        check(response, 206, ranges_of(response, SIZE))
    else:
        check(response, response.status_code)


# -- hanging up, resuming ------------------------------------------------------------------------


def wait_until_closed(path: Path, timeout: float = 5.0) -> None:
    """The server (a thread of this process) has closed ``path``: polled, as
    nothing signals it."""
    deadline = time.monotonic() + timeout
    while open_fds_to(path):
        assert time.monotonic() < deadline, f"{path.name} is still open"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {}),
        ("HEAD", {}),
        ("GET", {"range": "bytes=0-9,20-29"}),
        ("GET", {"range": f"bytes={SIZE}-"}),
        ("GET", {"if-none-match": ETAG}),
        ("GET", {"if-match": '"other"'}),
    ],
)
def test_the_server_closes_the_file_after_every_kind_of_answer(
    client: httpx.Client, root: Path, method: str, headers: dict[str, str]
) -> None:
    response = client.request(method, "/files/data.bin", headers=headers)
    assert response.status_code in (200, 206, 304, 412, 416)
    wait_until_closed(root / "data.bin")


def test_a_download_resumes_after_a_hang_up(client: httpx.Client, root: Path) -> None:
    received = bytearray()
    with client.stream("GET", "/files/data.bin") as response:
        assert response.status_code == 200
        etag = response.headers["etag"]
        for chunk in response.iter_bytes():
            received += chunk
            if len(received) >= 300_000:
                break  # hang up, with most of the file still to come
    assert len(received) < SIZE
    wait_until_closed(root / "data.bin")  # the server let go of the file
    rest = client.get(
        "/files/data.bin", headers={"range": f"bytes={len(received)}-", "if-range": etag}
    )
    check(rest, 206, ((len(received), SIZE),))
    assert bytes(received) + rest.content == DATA


def test_a_file_truncated_while_served_aborts_the_transfer(lenient: str, root: Path) -> None:
    path = root / "shrinking.bin"
    with path.open("wb") as f:
        f.truncate(256 << 20)  # sparse: more than the socket buffers can hold
    received = 0
    with failing_app(lenient) as client:
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("GET", "/files/shrinking.bin") as response,
        ):
            assert response.headers["content-length"] == str(256 << 20)
            for chunk in response.iter_bytes():
                if received == 0:
                    os.truncate(path, 1 << 20)
                received += len(chunk)
        assert received < 256 << 20
        wait_until_closed(path)
        assert client.get("/health").text == "ok"
    path.unlink()


# -- memory with a slow reader --------------------------------------------------------------------

SERVER = textwrap.dedent(
    """
    import socket, sys, threading

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from streamkit.starlette import FileStreamResponse

    async def big(request):
        return FileStreamResponse(sys.argv[1])

    async def health(request):
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/big", big), Route("/health", health)])
    config = uvicorn.Config(
        app, http="h11", loop="asyncio", lifespan="off", ws="none", log_level="warning"
    )
    server = uvicorn.Server(config)

    def exit_when_stdin_closes():
        sys.stdin.buffer.read()
        server.should_exit = True

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])
    """
)


def rss(pid: int) -> int:
    """The resident set size of a process, in bytes (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")
def test_a_slow_reader_of_a_large_file_keeps_server_memory_flat(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(1 << 30)  # 1 GiB, sparse: costs no disk
    script = tmp_path / "file_server.py"
    script.write_text(SERVER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(big)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{read_port(proc)}"
        with httpx.Client(base_url=url, timeout=10) as client:
            # Warm up: imports, the worker threads, the first buffers.
            warm = client.get("/big", headers={"range": "bytes=0-4194303"})
            assert len(warm.content) == 4 << 20
            baseline = peak = rss(proc.pid)
            received = 0
            deadline = time.monotonic() + 20
            with client.stream("GET", "/big") as response:
                assert response.headers["content-length"] == str(1 << 30)
                for chunk in response.iter_raw(64 * 1024):
                    received += len(chunk)
                    if received % (1 << 20) < len(chunk):  # about every MiB
                        peak = max(peak, rss(proc.pid))
                        time.sleep(0.01)  # a slow reader: 100 MB/s at most
                    if received >= 128 << 20:
                        break  # hang up with 896 MiB still to send
                    assert time.monotonic() < deadline, "reading took too long"
            assert received >= 128 << 20
            growth = peak - baseline
            assert growth < 16 << 20, f"the server grew by {growth >> 20} MiB"
            assert client.get("/health").text == "ok"
            assert rss(proc.pid) - baseline < 16 << 20
    finally:
        err = stop(proc)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert b"Traceback" not in err, err.decode(errors="replace")


def read_port(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """The port the child prints once it listens (bounded: a reader thread)."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    match = re.fullmatch(rb"PORT (\d+)\n", lines[0]) if lines else None
    assert match is not None, f"no port from the server within {timeout} s: {lines}"
    return int(match.group(1))


def stop(proc: subprocess.Popen[bytes]) -> bytes:
    """Close the child's stdin (it exits), wait a bounded time, kill if need
    be; return what it wrote to stderr."""
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=15)
        raise AssertionError("the server did not exit when its stdin closed") from None
    return err
