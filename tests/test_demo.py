"""The demo gallery, every recipe through a real uvicorn server and real clients."""

from __future__ import annotations

import csv
import io
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from streamkit import JSONLDecoder, ServerSentEvent, SSEDecoder
from streamkit.demo import RECIPES, create_app
from streamkit.demo.fake_llm import MODEL, FakeLLM, _tokens
from streamkit.demo.recipes.text import TEXT
from streamkit.testing import read_sse, run_server

ROWS = 5_000  # the fast database


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def url(data_dir: Path) -> Iterator[str]:
    # Some tests provoke errors after the first byte (logged by streamkit,
    # and by uvicorn as an incomplete response).
    with run_server(create_app(data_dir, fast=True), fail_on_app_error=False) as base_url:
        yield base_url


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as http:
        yield http


def jsonl(content: bytes) -> list[Any]:
    decoder = JSONLDecoder()
    return decoder.feed(content) + decoder.close()


def sse(content: bytes) -> list[ServerSentEvent]:
    return SSEDecoder().feed(content)


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.02)


def expected_answer(prompt: str, max_tokens: int | None = None) -> str:
    text, _ = FakeLLM().answer(prompt)
    return "".join(_tokens(text)[:max_tokens])


# -- index and pages ---------------------------------------------------------------------


def test_index_links_every_get_recipe_and_names_the_others(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    for recipe in RECIPES:
        path = recipe.path.replace("&", "&amp;")
        if recipe.method == "GET":
            assert f'href="{path}"' in response.text
        else:
            assert f"<code>{path}</code>" in response.text


@pytest.mark.parametrize("page", ["chat", "ticker", "progress", "logs", "downloads", "comparison"])
def test_pages_are_self_contained_html(client: httpx.Client, page: str) -> None:
    response = client.get(f"/pages/{page}")
    assert response.status_code == 200
    assert "<style>" in response.text
    assert "/*STYLE*/" not in response.text
    # No external resources: no CDN scripts, styles or fonts.
    assert 'src="http' not in response.text
    assert "<link" not in response.text


# -- text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/stream/text/characters",
        "/stream/text/characters?mode=sync",
        "/stream/text/words",
        "/stream/text/words?mode=async",
    ],
)
def test_text_arrives_in_pieces(url: str, path: str) -> None:
    pieces: list[bytes] = []
    with httpx.stream("GET", f"{url}{path}", timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        pieces.extend(response.iter_raw())
    assert b"".join(pieces).decode().strip() == TEXT.strip()
    assert len(pieces) > 5  # sent as produced, not as one body


# -- JSON ----------------------------------------------------------------------------------


def test_json_objects_as_jsonl_end_with_a_trailer(client: httpx.Client) -> None:
    response = client.get("/stream/json/jsonl", params={"count": 5})
    assert response.headers["content-type"] == "application/jsonl"
    values = jsonl(response.content)
    assert [v["seq"] for v in values[:-1]] == [1, 2, 3, 4, 5]
    assert values[-1] == {"type": "end", "count": 5}


def test_json_objects_as_sse_events_with_ids(client: httpx.Client) -> None:
    response = client.get("/stream/json/sse", params={"count": 4})
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = sse(response.content)
    assert [e.event for e in events] == ["reading"] * 4 + ["done"]
    assert [e.id for e in events[:4]] == ["1", "2", "3", "4"]
    assert events[2].json()["seq"] == 3
    assert events[-1].json() == {"count": 4}


def test_large_data_comes_in_bounded_chunks(url: str) -> None:
    decoder = JSONLDecoder()
    values: list[Any] = []
    sizes: list[int] = []
    with httpx.stream("GET", f"{url}/stream/large-data?rows=60000", timeout=30) as response:
        for chunk in response.iter_raw():
            sizes.append(len(chunk))
            values.extend(decoder.feed(chunk))
    values.extend(decoder.close())
    assert len(values) == 60_001
    assert values[-1] == {"type": "end", "count": 60_000}
    assert sum(sizes) > 3_000_000
    assert len(sizes) > 20  # chunks, not one body


# -- files and exports ---------------------------------------------------------------------


def test_large_file_download_resumes_with_range(url: str, data_dir: Path) -> None:
    expected = (data_dir / "large-file.bin").read_bytes()
    received = bytearray()
    with httpx.stream("GET", f"{url}/download/large-file", timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(expected))
        assert response.headers["accept-ranges"] == "bytes"
        assert 'filename="large-file.bin"' in response.headers["content-disposition"]
        etag = response.headers["etag"]
        for chunk in response.iter_bytes():
            received += chunk
            if len(received) > 500_000:
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


def test_large_file_head_and_conditional_get(client: httpx.Client, data_dir: Path) -> None:
    head = client.head("/download/large-file")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str((data_dir / "large-file.bin").stat().st_size)
    again = client.get("/download/large-file", headers={"If-None-Match": head.headers["etag"]})
    assert again.status_code == 304


def test_users_csv_export_is_complete_and_excel_ready(client: httpx.Client) -> None:
    response = client.get("/export/users/csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert response.headers["content-disposition"] == 'attachment; filename="users.csv"'
    assert response.content.startswith(b"\xef\xbb\xbfid,name,email,country,signed_up,spend\r\n")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == ROWS + 1
    assert rows[1][:3] == ["1", "User 1", "user1@example.com"]


def test_data_jsonl_export_ends_with_the_count(client: httpx.Client) -> None:
    response = client.get("/export/data/jsonl")
    assert response.headers["content-type"] == "application/jsonl"
    values = jsonl(response.content)
    assert values[0]["email"] == "user1@example.com"
    assert values[-1] == {"type": "end", "count": ROWS}


def test_database_results_stream_the_filtered_query(client: httpx.Client) -> None:
    response = client.get("/stream/database-results", params={"country": "FR"})
    values = jsonl(response.content)
    rows, trailer = values[:-1], values[-1]
    assert trailer == {"type": "end", "count": ROWS // 10}
    assert {row["country"] for row in rows} == {"FR"}
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    assert client.get("/stream/database-results?country=france").status_code == 422


def test_database_is_real_and_large_outside_fast_mode(tmp_path: Path) -> None:
    from streamkit.demo._state import DATABASE_ROWS

    assert DATABASE_ROWS >= 100_000


# -- live feeds ----------------------------------------------------------------------------


def _number(event_id: str | None) -> int:
    assert event_id is not None
    return int(event_id.rpartition("-")[2])


def test_stock_ticker_resumes_after_the_last_event_id(url: str) -> None:
    first = read_sse(f"{url}/stream/stock-ticker", 3)
    assert [e.event for e in first] == ["price"] * 3
    assert set(first[0].json()) == {"time", "ACME", "GLOBEX", "INITECH"}
    numbers = [_number(e.id) for e in first]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    time.sleep(0.1)  # the feed moves on while we are away
    resumed = read_sse(
        f"{url}/stream/stock-ticker", 4, headers={"Last-Event-ID": str(first[-1].id)}
    )
    assert [_number(e.id) for e in resumed] == list(range(numbers[-1] + 1, numbers[-1] + 5))


def test_stock_ticker_replays_history_and_resets_unknown_ids(url: str) -> None:
    history = read_sse(f"{url}/stream/stock-ticker?history=5", 5, timeout=5)
    numbers = [_number(e.id) for e in history]
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    reset = read_sse(f"{url}/stream/stock-ticker", 2, headers={"Last-Event-ID": "old-1"})
    assert [e.event for e in reset] == ["reset", "price"]


def test_live_logs_tail_the_file_and_resume_at_the_byte_offset(url: str, data_dir: Path) -> None:
    first = read_sse(f"{url}/stream/live-logs?backlog=3", 5)
    assert {e.event for e in first} == {"log"}
    log = (data_dir / "app.log").read_bytes()
    for event in first:  # each id is the offset just after its line
        end, line = int(str(event.id)), str(event.data).encode()
        assert log[end - len(line) - 1 : end] == line + b"\n"
    time.sleep(0.1)
    resumed = read_sse(f"{url}/stream/live-logs", 3, headers={"Last-Event-ID": str(first[-1].id)})
    log = (data_dir / "app.log").read_bytes()
    start = int(str(first[-1].id))
    next_line = log[start : log.index(b"\n", start)].decode()
    assert resumed[0].data == next_line  # no gap, no repeat
    assert int(str(resumed[0].id)) == start + len(next_line) + 1


def test_live_logs_filter_reset_and_heartbeat(url: str) -> None:
    errors = read_sse(f"{url}/stream/live-logs?level=WARNING&backlog=50", 2, timeout=20)
    assert all(" WARNING " in str(e.data) for e in errors)
    reset = read_sse(f"{url}/stream/live-logs", 2, headers={"Last-Event-ID": "12x"})
    assert reset[0].event == "reset"
    # Nothing matches: only heartbeats (comment lines) flow.
    with httpx.stream(
        "GET", f"{url}/stream/live-logs?grep=no-such-text&heartbeat=0.1", timeout=10
    ) as response:
        body = b""
        for chunk in response.iter_raw():
            body += chunk
            if body.count(b":\n") >= 2:
                break
    assert body == b":\n:\n"


# -- AI ------------------------------------------------------------------------------------


def test_chat_stream_is_the_answer_as_plain_text(client: httpx.Client) -> None:
    response = client.get("/ai/chat-stream", params={"prompt": "Hi", "max_tokens": 12})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == expected_answer("Hi", 12)
    posted = client.post("/ai/chat-stream", json={"prompt": "Hi", "max_tokens": 12})
    assert posted.text == response.text
    record = client.get(f"/ai/streams/{posted.headers['x-stream-id']}").json()
    assert record["status"] == "completed"
    assert record["tokens"] == 12


def test_chat_stream_sse_carries_the_metadata(client: httpx.Client) -> None:
    response = client.post("/ai/chat-stream-sse", json={"prompt": "Hi", "max_tokens": 6})
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = sse(response.content)
    kinds = [e.event for e in events]
    assert kinds[:2] == ["start", "text-start"]
    assert kinds[-3:] == ["text-end", "usage", "finish"]
    assert events[0].json()["model"] == MODEL
    text = "".join(e.json()["text"] for e in events if e.event == "text-delta")
    assert text == expected_answer("Hi", 6)
    assert events[-2].json()["output_tokens"] == 6
    assert events[-1].json()["reason"] == "length"


def test_fake_llm_timing_is_realistic_in_normal_mode() -> None:
    llm = FakeLLM()
    assert 0.2 <= llm.first_token_delay <= 0.5
    assert llm.token_delay == (0.02, 0.06)


def test_hanging_up_cancels_the_stream_on_the_server(url: str, client: httpx.Client) -> None:
    with httpx.stream("GET", f"{url}/ai/chat-stream?prompt=a+long+story", timeout=10) as r:
        stream_id = r.headers["x-stream-id"]
        received = b""
        for chunk in r.iter_raw():
            received += chunk
            if len(received) > 50:
                break
    wait_for(lambda: client.get(f"/ai/streams/{stream_id}").json()["status"] == "cancelled")
    record = client.get(f"/ai/streams/{stream_id}").json()
    assert 0 < record["tokens"] < 500
    assert any(r["id"] == stream_id for r in client.get("/ai/streams").json())


def test_a_failing_answer_is_cut_off_or_reported(url: str, client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):  # text cannot say "error": cut off
        httpx.get(f"{url}/ai/chat-stream?prompt=error", timeout=10)
    events = sse(client.get("/ai/chat-stream-sse", params={"prompt": "error"}).content)
    assert events[-1].event == "error"
    assert "text-delta" in [e.event for e in events]


def test_openai_sdk_reads_the_fake_chat_completions(url: str) -> None:
    with openai.OpenAI(base_url=f"{url}/v1", api_key="x") as sdk:
        stream = sdk.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Hi"}],
            max_tokens=10,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == expected_answer("Hi", 10)
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 10
        whole = sdk.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=10
        )
        assert whole.choices[0].message.content == text
        assert whole.choices[0].finish_reason == "length"
        with pytest.raises(openai.AuthenticationError):
            sdk.with_options(api_key="bad-key").chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Hi"}]
            )
        assert [m.id for m in sdk.models.list()] == [MODEL]


def test_vercel_ui_message_stream(client: httpx.Client) -> None:
    body = {"messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}]}
    response = client.post("/api/chat", json=body)
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    events = sse(response.content)
    assert events[-1].data == "[DONE]"
    parts = [e.json() for e in events[:-1]]
    assert parts[0]["type"] == "start"
    text = "".join(p["delta"] for p in parts if p["type"] == "text-delta")
    assert text == expected_answer("Hi")
    assert parts[-1]["type"] == "finish"


# -- real SDK recipe, pointed at the gallery's own fake ------------------------------------


@pytest.fixture
def openai_env(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.setenv("OPENAI_MODEL", MODEL)
    return url


@pytest.mark.parametrize("route", ["stream", "stream-sync"])
def test_provider_recipe_streams_from_an_openai_compatible_url(
    openai_env: str, client: httpx.Client, route: str
) -> None:
    response = client.post(f"/providers/openai/{route}", json={"prompt": "Hi", "max_tokens": 8})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == expected_answer("Hi", 8)


def test_provider_recipe_defaults_to_the_gallery_itself(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    response = client.post("/providers/openai/stream", json={"prompt": "Yo", "max_tokens": 5})
    assert response.text == expected_answer("Yo", 5)


def test_provider_recipe_non_streaming_endpoint(openai_env: str, client: httpx.Client) -> None:
    response = client.post("/providers/openai/complete", json={"prompt": "Hi", "max_tokens": 8})
    assert response.json()["text"] == expected_answer("Hi", 8)
    assert response.json()["usage"]["completion_tokens"] == 8


def test_provider_recipe_bad_key_is_a_real_status_before_the_first_byte(
    openai_env: str, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "bad-key")
    for route in ("stream", "stream-sync", "complete"):
        response = client.post(f"/providers/openai/{route}", json={"prompt": "Hi"})
        assert response.status_code == 401, route
        assert response.json() == {"detail": "the upstream rejected the API key"}


def test_provider_recipe_retries_then_reports_an_unreachable_upstream(
    openai_env: str,
    client: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="streamkit"):
        response = client.post("/providers/openai/stream", json={"prompt": "Hi"})
    assert response.status_code == 502
    assert response.json() == {"detail": "the upstream could not be reached"}
    assert time.monotonic() - started >= 0.35  # three tries, 0.2 s apart
    retries = [
        r.getMessage() for r in caplog.records if "failed before the first" in r.getMessage()
    ]
    assert [m.split(" failed")[0] for m in retries] == [
        "streamkit: attempt 1 of 3",
        "streamkit: attempt 2 of 3",
    ]


def test_provider_recipe_disconnect_cancels_the_upstream(
    openai_env: str, client: httpx.Client
) -> None:
    prompt = f"a long story {time.monotonic_ns()}"
    with httpx.stream(
        "POST", f"{openai_env}/providers/openai/stream", json={"prompt": prompt}, timeout=10
    ) as response:
        assert response.status_code == 200
        received = b""
        for chunk in response.iter_raw():
            received += chunk
            if len(received) > 40:
                break

    def upstream_cancelled() -> bool:
        records = [r for r in client.get("/ai/streams").json() if r["prompt"] == prompt]
        return bool(records) and records[0]["status"] == "cancelled"

    wait_for(upstream_cancelled)


def test_other_providers_need_their_keys(
    url: str, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    for provider in ("anthropic", "gemini"):
        response = client.post(f"/providers/{provider}/stream", json={"prompt": "Hi"})
        assert response.status_code == 503
    # A key, and an upstream that answers 404: a real error status, not a 200.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "x")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    response = client.post("/providers/anthropic/stream", json={"prompt": "Hi"})
    assert response.status_code == 502, response.text


# -- tasks ---------------------------------------------------------------------------------


def test_long_task_streams_progress_to_the_end(client: httpx.Client) -> None:
    response = client.get("/process/long-task", params={"steps": 30})
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    records = [e.json() for e in sse(response.content)]
    assert {e["type"] for e in records} == {"progress"}
    assert records[0]["done"] == 0
    fractions = [r["fraction"] for r in records]
    assert fractions == sorted(fractions)
    assert records[-1]["final"] is True
    assert records[-1]["fraction"] == 1.0
    assert records[-1]["done"] == 30


def test_job_is_accepted_runs_without_its_client_and_streams_status(
    url: str, client: httpx.Client
) -> None:
    created = client.post("/jobs", json={"steps": 60})
    assert created.status_code == 202
    location = created.headers["location"]
    assert location == f"/jobs/{created.json()['id']}"
    first = read_sse(f"{url}{location}/events", 2)
    assert first[0].event == "status"
    assert first[1].event in ("progress", "status")
    # The client has hung up; the job goes on.
    wait_for(lambda: client.get(location).json()["status"] == "done")
    status = client.get(location).json()
    assert status["done"] == 60
    assert status["result"]["processed"] == 60
    # Following a finished job: its final status, then the stream ends.
    events = sse(client.get(f"{location}/events").content)
    assert [e.event for e in events] == ["status"]
    assert events[0].json()["status"] == "done"
    assert client.get("/jobs/nope").status_code == 404


def test_job_events_resume_after_the_last_event_id(url: str, client: httpx.Client) -> None:
    location = client.post("/jobs", json={"steps": 200}).headers["location"]
    first = read_sse(f"{url}{location}/events", 3)
    last = first[-1].id
    assert last is not None
    wait_for(lambda: client.get(location).json()["status"] == "done")
    rest = sse(client.get(f"{location}/events", headers={"Last-Event-ID": last}).content)
    assert _number(rest[0].id) == _number(last) + 1
    assert rest[-1].event == "status"
    assert rest[-1].json()["status"] == "done"


# -- buffered vs streamed ------------------------------------------------------------------


def test_buffered_and_streamed_send_the_same_bytes(client: httpx.Client) -> None:
    buffered = client.get("/demo/comparison/buffered", params={"rows": 1000})
    streamed = client.get("/demo/comparison/streamed", params={"rows": 1000})
    assert buffered.content == streamed.content
    assert "content-length" in buffered.headers
    assert "content-length" not in streamed.headers


def test_comparison_measures_first_byte_and_memory(client: httpx.Client) -> None:
    report = client.get("/demo/comparison", params={"rows": 20_000}).json()
    buffered, streamed = report["buffered"], report["streamed"]
    assert report["rows"] == 20_000
    assert buffered["bytes"] == streamed["bytes"] > 2_000_000
    assert 0 < streamed["ttfb_ms"] < buffered["ttfb_ms"]
    assert streamed["ttfb_ms"] <= streamed["total_ms"]
    assert 0 < streamed["peak_memory_bytes"] < buffered["peak_memory_bytes"]
    assert buffered["peak_memory_bytes"] > buffered["bytes"]  # it held the whole body


# -- python -m streamkit.demo --------------------------------------------------------------


def test_python_m_streamkit_demo_serves_the_gallery(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "streamkit.demo", "--port", str(port)]
    command += ["--data-dir", str(tmp_path), "--fast"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert "streamkit demo gallery" in response.text
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate(timeout=5)
    assert f"http://127.0.0.1:{port}/".encode() in output
