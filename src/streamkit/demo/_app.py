"""The gallery app: every recipe's router, the pages, and the lifespan that
creates the data and runs the background feeds."""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

import anyio
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from streamkit.demo._state import Demo, default_data_dir, prepare_data
from streamkit.demo.fake_llm import FakeLLM
from streamkit.demo.recipes import ai, comparison, files, json_objects, live, providers, tasks, text

__all__ = ["RECIPES", "Recipe", "create_app"]


@dataclass(frozen=True, slots=True)
class Recipe:
    """One entry of the index page."""

    section: str
    method: str
    path: str
    description: str
    #: Where the link goes (a page for the streams a browser shows best).
    href: str | None = None


RECIPES: Final = (
    Recipe("Pages", "GET", "/pages/chat", "Chat with the fake LLM, with a Stop button"),
    Recipe("Pages", "GET", "/pages/ticker", "Live stock ticker chart (SSE, resumable)"),
    Recipe("Pages", "GET", "/pages/progress", "Progress bars: a long task and a 202 job"),
    Recipe("Pages", "GET", "/pages/logs", "Tail of a growing log file (SSE)"),
    Recipe("Pages", "GET", "/pages/downloads", "Downloads and exports"),
    Recipe("Pages", "GET", "/pages/comparison", "Buffered vs streamed, measured"),
    Recipe("Text", "GET", "/stream/text/characters", "Text character by character (async)"),
    Recipe(
        "Text",
        "GET",
        "/stream/text/characters?mode=sync",
        "Character by character from a sync generator",
    ),
    Recipe("Text", "GET", "/stream/text/words", "Text word by word (sync generator)"),
    Recipe("Text", "GET", "/stream/text/words?mode=async", "Word by word, async generator"),
    Recipe("JSON", "GET", "/stream/json/jsonl", "Objects as JSON Lines, with an end trailer"),
    Recipe("JSON", "GET", "/stream/json/sse", "Objects as Server-Sent Events"),
    Recipe("JSON", "GET", "/stream/large-data", "A million rows in 64 KiB chunks (JSONL)"),
    Recipe("Files", "GET", "/download/large-file", "A large file; Range requests resume it"),
    Recipe("Files", "GET", "/export/users/csv", "The users table as CSV (Excel-ready)"),
    Recipe("Files", "GET", "/export/data/jsonl", "The users table as JSON Lines"),
    Recipe(
        "Files",
        "GET",
        "/stream/database-results?country=FR",
        "SQLite query results through a server-side cursor",
    ),
    Recipe("Live", "GET", "/stream/stock-ticker", "Prices from a replay log; Last-Event-ID"),
    Recipe("Live", "GET", "/stream/live-logs", "New lines of a log file; id = byte offset"),
    Recipe("AI", "GET", "/ai/chat-stream?prompt=Hello", "The fake LLM's answer as plain text"),
    Recipe("AI", "GET", "/ai/chat-stream-sse?prompt=Hello", "The answer as SSE with metadata"),
    Recipe("AI", "POST", "/v1/chat/completions", "OpenAI-compatible API over the fake LLM"),
    Recipe("AI", "POST", "/api/chat", "Vercel AI SDK UI message stream (useChat)"),
    Recipe("AI", "GET", "/ai/streams", "Recent fake-LLM streams: completed or cancelled"),
    Recipe("AI", "POST", "/providers/openai/stream", "Real OpenAI SDK, streamed (env config)"),
    Recipe("AI", "POST", "/providers/openai/complete", "Real OpenAI SDK, not streamed"),
    Recipe("AI", "POST", "/providers/anthropic/stream", "Anthropic SDK (ANTHROPIC_API_KEY)"),
    Recipe("AI", "POST", "/providers/gemini/stream", "Gemini SDK (GEMINI_API_KEY)"),
    Recipe("Tasks", "GET", "/process/long-task", "Progress records of work done in the stream"),
    Recipe("Tasks", "POST", "/jobs", "202 + Location; GET /jobs/{id}/events streams status"),
    Recipe("Compare", "GET", "/demo/comparison", "TTFB and peak memory, buffered vs streamed"),
    Recipe("Compare", "GET", "/demo/comparison/buffered", "All rows built, then sent"),
    Recipe("Compare", "GET", "/demo/comparison/streamed", "The same rows, streamed"),
)

PAGES: Final = ("chat", "ticker", "progress", "logs", "downloads", "comparison")


@cache
def _page_source(name: str) -> str:
    pages = resources.files("streamkit.demo").joinpath("pages")
    style = pages.joinpath("style.css").read_text(encoding="utf-8")
    source = pages.joinpath(f"{name}.html").read_text(encoding="utf-8")
    return source.replace("/*STYLE*/", style)


def page(name: str) -> str:
    """A page's HTML (the shared style inlined: no external resources)."""
    return _page_source(name)


def index_html() -> str:
    rows: list[str] = []
    section = None
    for recipe in RECIPES:
        if recipe.section != section:
            section = recipe.section
            rows.append(f'<tr><th colspan="3">{html.escape(section)}</th></tr>')
        path = html.escape(recipe.path)
        link = f'<a href="{path}">{path}</a>' if recipe.method == "GET" else f"<code>{path}</code>"
        rows.append(
            f"<tr><td>{recipe.method}</td><td>{link}</td>"
            f"<td>{html.escape(recipe.description)}</td></tr>"
        )
    return page("index").replace("<!--RECIPES-->", "\n".join(rows))


def create_app(data_dir: Path | str | None = None, *, fast: bool = False) -> FastAPI:
    """The gallery: every recipe and page in one FastAPI app.

    Args:
        data_dir: where the generated files go (a SQLite database, a large
            file, a growing log); default ``<tmp>/streamkit-demo``. They are
            created at startup if missing.
        fast: a smaller database and file, and much shorter delays (tests).
    """
    demo = Demo(
        data_dir=Path(data_dir) if data_dir is not None else default_data_dir(),
        fast=fast,
        llm=FakeLLM(fast=fast),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(prepare_data, demo)
        async with anyio.create_task_group() as tg:
            demo.task_group = tg
            tg.start_soon(live.publish_prices, demo)
            tg.start_soon(live.write_logs, demo)
            try:
                yield
            finally:
                demo.task_group = None
                demo.ticker.close()  # ticker subscribers end
                tg.cancel_scope.cancel()  # the feeds, and jobs still running

    app = FastAPI(title="streamkit demo gallery", lifespan=lifespan)
    app.state.demo = demo
    for router in (
        text.router(demo),
        json_objects.router(demo),
        files.router(demo),
        live.router(demo),
        ai.router(demo),
        providers.router(),
        tasks.router(demo),
        comparison.router(demo),
    ):
        app.include_router(router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(index_html())

    def add_page(name: str) -> None:
        async def show() -> HTMLResponse:
            return HTMLResponse(page(name))

        app.add_api_route(
            f"/pages/{name}", show, response_class=HTMLResponse, include_in_schema=False
        )

    for name in PAGES:
        add_page(name)
    return app
