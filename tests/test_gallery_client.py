"""examples/gallery_client.py against the gallery, served for real."""

from __future__ import annotations

import csv
import importlib.util
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from streamkit.demo import create_app
from streamkit.demo.fake_llm import FakeLLM
from streamkit.demo.recipes.files import COLUMNS
from streamkit.demo.recipes.json_objects import reading
from streamkit.demo.recipes.text import TEXT
from streamkit.testing import run_server

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gallery_client.py"
TIMEOUT = httpx.Timeout(10.0, read=30.0)
PROVIDER_ENV = (
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_MODEL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY",
)

#: Leaving an httpx response early (a live feed is left with a break) closes
#: the connection but leaves httpx's inner async generators to the garbage
#: collector, which trio reports as ResourceWarnings. Nothing leaks.
httpx_generators_left_to_gc = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <async_generator object "
    r"(Response|BoundAsyncStream|AsyncResponseStream|PoolByteStream|"
    r"HTTP11ConnectionByteStream|AsyncHTTP11Connection)\.:"
    "pytest.PytestUnraisableExceptionWarning"
)


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_gallery_client", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gc = load_example()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gallery")


@pytest.fixture(scope="module")
def url(data_dir: Path) -> Iterator[str]:
    with run_server(create_app(data_dir=data_dir, fast=True), fail_on_app_error=False) as base:
        yield base


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture
def no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider recipes use the gallery's own fake; nothing leaves 127.0.0.1."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)


def answer_prefix(prompt: str) -> str:
    return str(FakeLLM(fast=True).answer(prompt)[0])


def ticker_number(event_id: str | None) -> int:
    assert event_id is not None
    return int(event_id.rpartition("-")[2])


# -- text ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/stream/text/characters", "/stream/text/words"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_read_text_streams_chunk_by_chunk(client: httpx.Client, path: str, mode: str) -> None:
    seen: list[str] = []
    chunks = gc.read_text(client, path, mode=mode, on_chunk=seen.append)
    # The words endpoint sends each word with a space after it.
    assert "".join(chunks) == (TEXT if path.endswith("characters") else TEXT + " ")
    assert len(chunks) > 1
    assert seen == chunks


@pytest.mark.anyio
async def test_aread_text_streams_chunk_by_chunk(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        chunks = await gc.aread_text(client, "/stream/text/characters")
    assert "".join(chunks) == TEXT
    assert len(chunks) > 1


# -- JSON objects ----------------------------------------------------------------------------


def test_readings_as_jsonl_and_sse(client: httpx.Client) -> None:
    expected = [reading(n) for n in range(1, 13)]
    assert gc.read_readings_jsonl(client, 12) == expected
    assert gc.read_readings_sse(client, 12) == expected


@pytest.mark.anyio
async def test_readings_as_jsonl_and_sse_async(url: str) -> None:
    expected = [reading(n) for n in range(1, 8)]
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        assert await gc.aread_readings_jsonl(client, 7) == expected
        assert await gc.aread_readings_sse(client, 7) == expected


def test_large_data_is_counted_row_by_row(client: httpx.Client) -> None:
    result = gc.read_large_data(client, rows=30_000)
    assert result.rows == 30_000
    expected = sum(reading(n)["celsius"] for n in range(1, 30_001)) / 30_000
    assert result.mean_celsius == pytest.approx(expected)


# -- files -----------------------------------------------------------------------------------


def test_download_is_interrupted_then_resumed_with_range(
    client: httpx.Client, data_dir: Path, tmp_path: Path
) -> None:
    server_file = (data_dir / "large-file.bin").read_bytes()
    dest = tmp_path / "large-file.bin"
    first = gc.download_large_file(client, dest, stop_after=1024 * 1024)
    assert not first.complete
    assert first.resumed_from == 0
    assert first.path.name == "large-file.bin.part"
    assert first.path.stat().st_size == first.received == 1024 * 1024
    assert first.total == len(server_file)
    assert not dest.exists()

    rest = gc.download_large_file(client, dest)
    assert rest.complete
    assert rest.path == dest
    assert rest.resumed_from == 1024 * 1024
    assert rest.received == len(server_file) - 1024 * 1024
    assert dest.read_bytes() == server_file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["large-file.bin"]


def test_download_starts_over_when_the_part_is_stale(
    client: httpx.Client, data_dir: Path, tmp_path: Path
) -> None:
    server_file = (data_dir / "large-file.bin").read_bytes()
    dest = tmp_path / "large-file.bin"
    (tmp_path / "large-file.bin.part").write_bytes(b"bytes of another version")
    (tmp_path / "large-file.bin.etag").write_text('"another-version"')
    result = gc.download_large_file(client, dest)  # If-Range fails: a 200, the whole file
    assert result.complete
    assert result.resumed_from == 0
    assert dest.read_bytes() == server_file


def test_download_of_a_whole_part_gets_a_416_and_completes(
    client: httpx.Client, data_dir: Path, tmp_path: Path
) -> None:
    server_file = (data_dir / "large-file.bin").read_bytes()
    dest = tmp_path / "large-file.bin"
    stopped = gc.download_large_file(client, dest, stop_after=len(server_file))
    assert not stopped.complete
    result = gc.download_large_file(client, dest)  # Range: bytes=<size>- → 416
    assert result.complete
    assert result.received == 0
    assert dest.read_bytes() == server_file


def test_csv_export_is_saved_under_its_name(client: httpx.Client, tmp_path: Path) -> None:
    path = gc.save_csv_export(client, tmp_path)
    assert path == tmp_path / "users.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    with open(path, encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == 5000
    assert [int(row["id"]) for row in rows] == list(range(1, 5001))
    assert [p.name for p in tmp_path.iterdir()] == ["users.csv"]


def test_jsonl_export_is_saved_once_complete(client: httpx.Client, tmp_path: Path) -> None:
    path, count = gc.save_jsonl_export(client, tmp_path)
    assert path == tmp_path / "users.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert count == len(records) == 5000
    assert records[0]["id"] == 1
    assert set(records[0]) == set(COLUMNS)


def test_database_results_match_the_database(client: httpx.Client, data_dir: Path) -> None:
    rows = gc.query_database(client, country="FR", min_spend=500)
    with sqlite3.connect(data_dir / "demo.sqlite3") as db:
        ids = [
            i
            for (i,) in db.execute(
                "SELECT id FROM users WHERE country = 'FR' AND spend >= 500 ORDER BY id"
            )
        ]
    assert [row["id"] for row in rows] == ids
    assert ids
    assert all(row["country"] == "FR" and row["spend"] >= 500 for row in rows)
    assert len(gc.query_database(client)) == 5000


@pytest.mark.anyio
async def test_database_results_async(client: httpx.Client, url: str) -> None:
    expected = gc.query_database(client, country="JP", min_spend=900)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as aclient:
        rows = await gc.aquery_database(aclient, country="JP", min_spend=900)
    assert rows == expected
    assert rows


# -- live feeds ------------------------------------------------------------------------------


def check_ticker_resumed(first: Any, resumed: Any) -> None:
    assert [e.event for e in first.events + resumed.events] == ["price"] * 6
    numbers = [ticker_number(e.id) for e in first.events + resumed.events]
    assert numbers == list(range(numbers[0], numbers[0] + 6))  # no gap, no repeat
    assert first.last_event_id == first.events[-1].id
    assert set(resumed.events[0].json()) == {"time", "ACME", "GLOBEX", "INITECH"}


def test_ticker_resumes_after_the_last_event_id(client: httpx.Client) -> None:
    first = gc.follow_ticker(client, 3)
    resumed = gc.follow_ticker(client, 3, last_event_id=first.last_event_id)
    check_ticker_resumed(first, resumed)


def test_ticker_history_and_unknown_ids(client: httpx.Client) -> None:
    history = gc.follow_ticker(client, 4, history=4)
    numbers = [ticker_number(e.id) for e in history.events]
    assert numbers == list(range(numbers[0], numbers[0] + 4))
    reset = gc.follow_ticker(client, 2, last_event_id="gone-1")
    assert [e.event for e in reset.events] == ["reset", "price"]


@pytest.mark.anyio
@httpx_generators_left_to_gc
async def test_ticker_resumes_async(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        first = await gc.afollow_ticker(client, 3)
        resumed = await gc.afollow_ticker(client, 3, last_event_id=first.last_event_id)
    check_ticker_resumed(first, resumed)


def check_logs_resumed(first: Any, resumed: Any, log: bytes) -> None:
    assert {e.event for e in first.events + resumed.events} == {"log"}
    offset = int(first.last_event_id)
    for event in resumed.events:  # the lines right after the first read's, in order
        line = log[offset : log.index(b"\n", offset)].decode()
        assert event.data == line
        offset += len(line) + 1
        assert int(event.id) == offset


def test_log_tail_resumes_at_the_next_line(client: httpx.Client, data_dir: Path) -> None:
    first = gc.tail_logs(client, 3, backlog=2)
    resumed = gc.tail_logs(client, 3, last_event_id=first.last_event_id)
    check_logs_resumed(first, resumed, (data_dir / "app.log").read_bytes())
    info = gc.tail_logs(client, 2, level="INFO", backlog=50)
    assert all(" INFO " in e.data for e in info.events)


@pytest.mark.anyio
@httpx_generators_left_to_gc
async def test_log_tail_resumes_async(url: str, data_dir: Path) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        first = await gc.atail_logs(client, 2)
        resumed = await gc.atail_logs(client, 3, last_event_id=first.last_event_id)
    check_logs_resumed(first, resumed, (data_dir / "app.log").read_bytes())


# -- AI --------------------------------------------------------------------------------------


def test_the_fake_llm_says_the_same_in_every_protocol(client: httpx.Client, url: str) -> None:
    seen: list[str] = []
    text = gc.chat_text(client, "Hi there", max_tokens=15, on_chunk=seen.append)
    sse = gc.chat_sse(client, "Hi there", max_tokens=15)
    sdk = gc.chat_openai(url, "Hi there", max_tokens=15)
    assert answer_prefix("Hi there").startswith(text.text)
    assert text.text.startswith("You asked: “Hi there”.")
    assert len(seen) > 1
    assert sse.text == sdk.text == text.text
    assert sse.finish == sdk.finish == "length"
    assert sse.model == sdk.model == "streamkit-fake-1"
    assert sse.usage["output_tokens"] == sdk.usage["completion_tokens"] == 15
    assert gc.stream_status(client, text.stream_id) == "completed"
    assert text.stream_id in {r["id"] for r in gc.recent_streams(client)}


@pytest.mark.anyio
async def test_the_fake_llm_async(client: httpx.Client, url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as aclient:
        text = await gc.achat_text(aclient, "Hello", max_tokens=10)
        sse = await gc.achat_sse(aclient, "Hello", max_tokens=10)
    assert text.text == sse.text
    assert answer_prefix("Hello").startswith(text.text)
    assert sse.finish == "length"
    assert gc.stream_status(client, sse.stream_id) == "completed"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # AsyncOpenAI: asyncio only
async def test_the_fake_llm_with_the_async_openai_sdk(url: str) -> None:
    answer = await gc.achat_openai(url, "Hello", max_tokens=10)
    assert answer_prefix("Hello").startswith(answer.text)
    assert answer.finish == "length"
    assert answer.usage["completion_tokens"] == 10


def test_hanging_up_cancels_the_answer(client: httpx.Client) -> None:
    stopped = gc.chat_text_and_stop(client, "Something long, please", chunks=3)
    assert answer_prefix("Something long, please").startswith(stopped.text)
    assert gc.wait_for_stream_end(client, stopped.stream_id) == "cancelled"


def test_vercel_ui_message_stream(client: httpx.Client) -> None:
    answer = gc.chat_vercel_ui(client, "Hello")
    assert answer.text == answer_prefix("Hello")
    assert answer.finish == "stop"
    assert gc.stream_status(client, answer.stream_id) == "completed"


@pytest.mark.usefixtures("no_provider_env")
def test_provider_recipes_over_the_gallerys_own_fake(client: httpx.Client) -> None:
    for endpoint in ("openai/stream", "openai/stream-sync"):
        text = gc.provider_stream(client, endpoint, "Say hello", max_tokens=8)
        assert text
        assert answer_prefix("Say hello").startswith(text)
    complete = gc.provider_complete(client, "Say hello", max_tokens=8)
    assert answer_prefix("Say hello").startswith(complete["text"])
    assert complete["finish_reason"] == "length"
    for endpoint in ("anthropic/stream", "gemini/stream"):
        with pytest.raises(httpx.HTTPStatusError) as caught:
            gc.provider_stream(client, endpoint)
        assert caught.value.response.status_code == 503
        assert "not configured" in caught.value.response.text


# -- tasks -----------------------------------------------------------------------------------


def check_progress(records: list[dict[str, Any]], steps: int) -> None:
    assert records[-1]["final"] is True
    assert records[-1]["done"] == steps
    assert records[-1]["fraction"] == 1.0
    done = [r["done"] for r in records]
    assert done == sorted(done)


def test_long_task_progress(client: httpx.Client) -> None:
    check_progress(gc.watch_long_task(client, steps=30), 30)


@pytest.mark.anyio
async def test_long_task_progress_async(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        check_progress(await gc.awatch_long_task(client, steps=20), 20)


def check_job(job: Any, steps: int) -> None:
    assert job.location == f"/jobs/{job.accepted['id']}"
    assert job.accepted["status"] == "queued"
    assert job.updates[0][0] == "status"
    event, last = job.updates[-1]
    assert (event, last["status"]) == ("status", "done")
    progress = [data["done"] for event, data in job.updates if event == "progress"]
    assert progress == sorted(progress)
    assert all(0 <= done <= steps for done in progress)
    assert job.final["status"] == "done"
    assert job.final["result"]["processed"] == steps


def test_job_is_followed_to_its_end(client: httpx.Client) -> None:
    check_job(gc.run_job(client, steps=40), 40)


@pytest.mark.anyio
@httpx_generators_left_to_gc
async def test_job_is_followed_to_its_end_async(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        check_job(await gc.arun_job(client, steps=25), 25)


# -- buffered vs streamed, and the command line ----------------------------------------------


def test_comparison(client: httpx.Client) -> None:
    timings = gc.compare_buffered_and_streamed(client, rows=3000)
    assert timings["buffered"].bytes == timings["streamed"].bytes > 300_000
    for timing in timings.values():
        assert 0 <= timing.ttfb_ms <= timing.total_ms
    report = gc.comparison_report(client, rows=3000)
    assert report["rows"] == 3000
    assert report["buffered"]["bytes"] == report["streamed"]["bytes"] == timings["streamed"].bytes


@pytest.mark.usefixtures("no_provider_env")
@pytest.mark.parametrize("use_async", [False, True])
def test_main_prints_a_summary_per_recipe(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], use_async: bool
) -> None:
    recipes = ["text", "jsonl", "download", "csv", "ticker", "chat-sse", "openai", "job"]
    argv = ["--base-url", url, "--output-dir", str(tmp_path)]
    argv += [arg for name in recipes for arg in ("--recipe", name)]
    assert gc.main(argv + (["--async"] if use_async else [])) == 0
    out = capsys.readouterr().out
    assert [line[3:] for line in out.splitlines() if line.startswith("== ")] == recipes
    assert "FAILED" not in out
    assert (tmp_path / "large-file.bin").exists()
    assert (tmp_path / "users.csv").exists()


def test_main_lists_the_recipes(capsys: pytest.CaptureFixture[str]) -> None:
    assert gc.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == list(gc.RECIPES)
