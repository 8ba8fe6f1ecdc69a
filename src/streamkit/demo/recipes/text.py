"""Text streamed as it is produced: character by character and word by word,
from sync and async generators, with ``TextStreamResponse``.

``curl -N http://127.0.0.1:8000/stream/text/words`` shows the words arrive
one at a time. A sync generator (blocking ``time.sleep``) runs on a thread of
its own, so it never stalls the server; an async one runs on the event loop.
Both are closed at once when the client hangs up.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import anyio
from fastapi import APIRouter

from streamkit.demo._state import Demo
from streamkit.starlette import TextStreamResponse

TEXT = (
    "Streaming turns a long wait into a steady trickle: the reader sees the "
    "first words at once, and the server never holds the whole text in memory.\n"
)

Mode = Literal["async", "sync"]


def router(demo: Demo) -> APIRouter:
    api = APIRouter(tags=["text"])
    char_delay = demo.scaled(0.03, 0.001)
    word_delay = demo.scaled(0.15, 0.002)

    def chars_sync() -> Iterator[str]:
        for char in TEXT:
            yield char
            time.sleep(char_delay)  # blocking is fine: this runs on a thread

    async def chars_async() -> AsyncIterator[str]:
        for char in TEXT:
            yield char
            await anyio.sleep(char_delay)

    def words_sync() -> Iterator[str]:
        for word in TEXT.split(" "):
            yield word + " "
            time.sleep(word_delay)

    async def words_async() -> AsyncIterator[str]:
        for word in TEXT.split(" "):
            yield word + " "
            await anyio.sleep(word_delay)

    @api.get("/stream/text/characters", response_class=TextStreamResponse)
    async def characters(mode: Mode = "async") -> TextStreamResponse:
        """The text one character at a time (``?mode=sync`` for a sync generator)."""
        return TextStreamResponse(chars_async() if mode == "async" else chars_sync())

    @api.get("/stream/text/words", response_class=TextStreamResponse)
    async def words(mode: Mode = "sync") -> TextStreamResponse:
        """The text one word at a time (``?mode=async`` for an async generator)."""
        return TextStreamResponse(words_sync() if mode == "sync" else words_async())

    return api
