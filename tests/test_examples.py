"""The example apps, run under a real server and read by real clients."""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from httpx_sse import connect_sse

from streamkit import JSONLDecoder, SSEDecoder
from streamkit.testing import read_sse, run_server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hello_url() -> Iterator[str]:
    app = load_example("hello_sse").app
    with run_server(app, fail_on_app_error=False) as url:
        yield url


def test_hello_sse_serves_the_page(hello_url: str) -> None:
    response = httpx.get(f"{hello_url}/", timeout=10)
    assert response.status_code == 200
    assert 'new EventSource("/clock")' in response.text


def test_hello_sse_clock_streams_json_ticks_with_ids(hello_url: str) -> None:
    decoder = SSEDecoder()
    events = []
    with httpx.stream("GET", f"{hello_url}/clock", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        for chunk in response.iter_bytes():
            events.extend(decoder.feed(chunk))
            if len(events) >= 2:
                break
    assert [e.event for e in events[:2]] == ["tick", "tick"]
    assert [e.id for e in events[:2]] == ["1", "2"]
    assert events[1].json()["n"] == 2


def test_hello_sse_clock_reads_the_same_with_httpx_sse(hello_url: str) -> None:
    with (
        httpx.Client(timeout=10) as client,
        connect_sse(client, "GET", f"{hello_url}/clock") as source,
    ):
        first = next(iter(source.iter_sse()))
    assert first.event == "tick"
    assert first.id == "1"


@pytest.fixture(scope="module")
def export_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    example = load_example("export_users")
    path = example.create_database(tmp_path_factory.mktemp("db") / "users.sqlite3", rows=3000)
    with run_server(example.make_app(path)) as url:
        yield url


def test_export_users_csv_is_excel_ready_and_complete(export_url: str) -> None:
    response = httpx.get(f"{export_url}/export/users.csv", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="users.csv"'
    assert response.content.startswith(b"\xef\xbb\xbfid,name,email\r\n")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1] == ["1", "User 1", "user1@example.com"]
    assert len(rows) == 3001


def test_export_users_jsonl_ends_with_a_trailer(export_url: str) -> None:
    response = httpx.get(f"{export_url}/export/users.jsonl", timeout=30)
    decoder = JSONLDecoder()
    values = decoder.feed(response.content) + decoder.close()
    assert values[0] == {"id": 1, "name": "User 1", "email": "user1@example.com"}
    assert values[-1] == {"type": "end", "count": 3000}


@pytest.fixture(scope="module")
def feed_url() -> Iterator[str]:
    app = load_example("resumable_feed").make_app(interval=0.01)
    with run_server(app) as url:
        yield url


def _number(event_id: str | None) -> int:
    assert event_id is not None
    return int(event_id.rpartition("-")[2])


def test_resumable_feed_resumes_after_the_last_event_id(feed_url: str) -> None:
    first = read_sse(f"{feed_url}/feed", 3)
    assert [e.event for e in first] == ["price"] * 3
    numbers = [_number(e.id) for e in first]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    # Hang up, let the feed move on, and come back with the last id seen.
    time.sleep(0.1)
    resumed = read_sse(f"{feed_url}/feed", 5, headers={"Last-Event-ID": str(first[-1].id)})
    assert [_number(e.id) for e in resumed] == list(range(numbers[-1] + 1, numbers[-1] + 6))
    assert all(isinstance(e.json()["price"], float) for e in resumed)


def test_resumable_feed_sends_reset_for_an_unknown_id(feed_url: str) -> None:
    events = read_sse(f"{feed_url}/feed", 2, headers={"Last-Event-ID": "from-before-a-restart"})
    assert events[0].event == "reset"
    assert events[1].event == "price"


def test_resumable_feed_page_handles_reset(feed_url: str) -> None:
    page = httpx.get(f"{feed_url}/", timeout=10).text
    assert 'addEventListener("reset"' in page


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    example = load_example("downloads")
    directory = example.prepare_files(tmp_path_factory.mktemp("downloads"), large_size=8_000_005)
    with run_server(example.make_app(directory)) as url:
        yield url, directory


def test_downloads_large_file_resumes_where_it_stopped(downloads: tuple[str, Path]) -> None:
    url, directory = downloads
    expected = (directory / "large-file.bin").read_bytes()
    received = bytearray()
    with httpx.stream("GET", f"{url}/download/large-file", timeout=30) as response:
        assert response.headers["content-length"] == str(len(expected))
        assert response.headers["accept-ranges"] == "bytes"
        etag = response.headers["etag"]
        for chunk in response.iter_bytes():
            received += chunk
            if len(received) > 1_000_000:
                break  # hang up part way
    resumed = httpx.get(
        f"{url}/download/large-file",
        headers={"Range": f"bytes={len(received)}-", "If-Range": etag},
        timeout=30,
    )
    assert resumed.status_code == 206
    assert resumed.headers["content-range"] == (
        f"bytes {len(received)}-{len(expected) - 1}/{len(expected)}"
    )
    assert bytes(received) + resumed.content == expected


def test_downloads_public_files_by_name_and_nothing_outside(downloads: tuple[str, Path]) -> None:
    url, _ = downloads
    readme = httpx.get(f"{url}/files/readme.txt", timeout=10)
    assert readme.status_code == 200
    assert readme.headers["content-type"] == "text/plain; charset=utf-8"
    assert readme.text.startswith("Files under this folder")
    accented = httpx.get(f"{url}/files/notes/r%C3%A9sum%C3%A9.txt", timeout=10)
    assert accented.status_code == 200
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.txt" in accented.headers["content-disposition"]
    for escape in ("%2e%2e/large-file.bin", "notes/%2e%2e/%2e%2e/large-file.bin", "notes"):
        assert httpx.get(f"{url}/files/{escape}", timeout=10).status_code == 404


def test_downloads_generated_report_is_streamed_whole(downloads: tuple[str, Path]) -> None:
    url, _ = downloads
    response = httpx.get(f"{url}/download/report.csv", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="report.csv"'
    lines = response.text.splitlines()
    assert lines[0] == "id,value"
    assert lines[-1] == "99999,9999800001"
    assert len(lines) == 100_001
