"""The gallery's pages in a real browser: headless Chromium, driven by
Playwright, against the gallery under a real server.

Skipped when Chromium or Playwright is missing, except on CI (``CI`` set),
where that is a failure: the pages are the gallery's point. Every wait is
bounded, and the browser may only reach 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest

from streamkit.demo import create_app
from streamkit.testing import run_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

#: Milliseconds for any single wait in the page.
WAIT_MS = 15_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run on CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = create_app(tmp_path_factory.mktemp("demo-browser"), fast=True)
    with run_server(app, fail_on_app_error=False) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("no chromium on PATH")
    assert executable is not None
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _local_only(route: Route) -> None:
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.route("**/*", _local_only)
    try:
        yield context.new_page()
    finally:
        context.close()


def _answer_length(page: Page) -> int:
    length = page.evaluate("document.getElementById('answer').textContent.length")
    assert isinstance(length, int)
    return length


def test_chat_text_appears_incrementally(url: str, page: Page) -> None:
    page.goto(f"{url}/pages/chat")
    page.fill("#prompt", "Why stream?")
    page.click("#send")
    page.wait_for_function("document.getElementById('answer').textContent.length > 0")
    samples = [_answer_length(page)]
    deadline = time.monotonic() + WAIT_MS / 1000
    while page.evaluate("document.body.dataset.state") == "streaming":
        assert time.monotonic() < deadline, "the answer did not finish in time"
        time.sleep(0.05)
        samples.append(_answer_length(page))
    assert page.evaluate("document.body.dataset.state") == "done"
    growing = sorted(set(samples))
    assert samples == sorted(samples)  # it only grows
    assert len(growing) >= 4, samples  # seen part way several times, not all at once
    final = _answer_length(page)
    assert final > growing[0]
    page.wait_for_selector("#server-status[data-status='completed']")


@pytest.mark.parametrize("mode", ["text", "sse"])
def test_chat_stop_cancels_the_stream_on_the_server(url: str, page: Page, mode: str) -> None:
    page.goto(f"{url}/pages/chat")
    page.select_option("#mode", mode)
    page.fill("#prompt", f"Tell me a long story ({mode})")
    page.click("#send")
    page.wait_for_function("document.getElementById('answer').textContent.length > 40")
    page.click("#stop")
    # The page asks the server what became of its stream...
    page.wait_for_selector("#server-status[data-status='cancelled']")
    assert page.evaluate("document.body.dataset.state") == "stopped"
    # ... and the server's own report agrees.
    records = httpx.get(f"{url}/ai/streams", timeout=10).json()
    mine = [r for r in records if r["prompt"] == f"Tell me a long story ({mode})"]
    assert mine[0]["status"] == "cancelled"
    assert mine[0]["tokens"] < 1000  # a long answer has well over 1000 tokens
    stopped_at = _answer_length(page)
    time.sleep(0.3)
    assert _answer_length(page) == stopped_at  # nothing more arrives


def test_progress_bars_reach_100_percent(url: str, page: Page) -> None:
    page.goto(f"{url}/pages/progress")
    page.click("#task-start")
    page.wait_for_function("document.getElementById('task-pct').textContent === '100%'")
    assert page.evaluate("document.getElementById('task-bar').value") == 1
    assert "done in" in (page.text_content("#task-eta") or "")
    page.click("#job-start")
    page.wait_for_function("document.getElementById('job-pct').textContent === '100%'")
    page.wait_for_function("document.getElementById('job-status').textContent.startsWith('done')")
    assert page.evaluate("document.getElementById('job-bar').value") == 1


def test_ticker_chart_and_log_tail_follow_their_feeds(url: str, page: Page) -> None:
    page.goto(f"{url}/pages/ticker")
    page.wait_for_function("Number(document.getElementById('count').textContent) >= 10")
    assert page.text_content("#last-id") != "none"
    painted = page.evaluate(
        """() => {
            const c = document.getElementById('chart');
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            return data.some((v, i) => i % 4 === 3 && v > 0);
        }"""
    )
    assert painted
    page.goto(f"{url}/pages/logs")
    page.wait_for_function("document.getElementById('lines').childElementCount >= 5")
    assert (page.text_content("#offset") or "").isdigit()


def test_index_and_downloads_pages_link_the_recipes(url: str, page: Page, tmp_path: Path) -> None:
    page.goto(f"{url}/")
    assert page.locator("#recipes a").count() >= 20
    page.goto(f"{url}/pages/downloads")
    with page.expect_download() as info:
        page.click("a[href='/export/users/csv']")
    target = tmp_path / "users.csv"
    info.value.save_as(target)
    assert target.read_bytes().startswith(b"\xef\xbb\xbfid,name,email")
