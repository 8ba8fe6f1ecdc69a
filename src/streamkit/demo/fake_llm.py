"""A built-in fake LLM: uniform :mod:`streamkit.llm` events with realistic
timing, so every AI recipe runs without an API key.

The first token comes after about 300 ms (a real model's time to first
token), then one every 20-60 ms; ``fast=True`` divides the waits by ten or
so for tests. Every stream is recorded, and a stream that stops before its
end (the client hung up, the Stop button) is recorded as ``cancelled``:
``GET /ai/streams`` shows it, which makes server-side cancellation visible.

Prompts drive the answer: one containing "long" gets a long answer (twenty
paragraphs), one containing "error" fails part way with a retryable
``overloaded_error``, as a provider's mid-stream error would.
"""

from __future__ import annotations

import itertools
import random
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

import anyio

from streamkit.llm import (
    Error,
    Finish,
    LLMEvent,
    StreamStart,
    TextDelta,
    TextEnd,
    TextStart,
    Usage,
)

__all__ = ["MODEL", "FakeLLM", "StreamRecord"]

#: The model name the fake reports.
MODEL: Final = "streamkit-fake-1"

#: How many finished streams are remembered for ``GET /ai/streams``.
HISTORY: Final = 100

_PARAGRAPHS: Final = (
    "Streaming sends each token to the client as soon as the model produces it, "
    "so the first words appear in a few hundred milliseconds instead of after "
    "the whole answer has been generated.",
    "On the server, the answer is an async generator: the response reads it, "
    "encodes each piece and sends it in the same step. Nothing is buffered, so "
    "memory stays flat however long the answer is.",
    "When the reader goes away, the response notices the disconnect, closes the "
    "generator and with it the upstream request, so the provider stops "
    "generating tokens nobody will read.",
    "Server-Sent Events add structure to the stream: named events, ids the "
    "browser sends back when it reconnects, and comments that keep idle "
    "connections open through proxies.",
    "Errors that happen before the first byte become real HTTP statuses; errors "
    "after it are reported in the stream's own format, and the transfer is cut "
    "so that a partial answer never passes for a whole one.",
)

Status = Literal["streaming", "completed", "failed", "cancelled"]


@dataclass
class StreamRecord:
    """What happened to one fake stream."""

    id: str
    prompt: str
    status: Status = "streaming"
    tokens: int = 0
    started: float = field(default_factory=time.time)
    ended: float | None = None


def _tokens(text: str) -> list[str]:
    """Word-ish tokens with their leading space, long words split in two (as
    a real tokenizer would)."""
    tokens: list[str] = []
    for word in re.findall(r"\s*\S+", text):
        if len(word) > 8:
            tokens += [word[: len(word) // 2], word[len(word) // 2 :]]
        else:
            tokens.append(word)
    return tokens


class FakeLLM:
    """The fake model. :meth:`stream` is what a provider adapter would give:
    an async generator of uniform events, one terminal event last."""

    def __init__(self, *, fast: bool = False) -> None:
        self.fast = fast
        self.first_token_delay = 0.03 if fast else 0.3
        self.token_delay = (0.005, 0.012) if fast else (0.02, 0.06)
        self._records: deque[StreamRecord] = deque(maxlen=HISTORY)

    def answer(self, prompt: str) -> tuple[str, bool]:
        """The answer's text for ``prompt``, and whether it fails part way."""
        lowered = prompt.lower()
        rng = random.Random(prompt)
        count = 20 if "long" in lowered else 3
        start = rng.randrange(len(_PARAGRAPHS))
        cycle = itertools.islice(itertools.cycle(_PARAGRAPHS), start, start + count)
        text = "\n\n".join(cycle)
        if prompt.strip():
            text = f"You asked: “{prompt.strip()[:80]}”. {text}"
        return text, "error" in lowered

    def records(self) -> list[dict[str, Any]]:
        """The recent streams, newest first, as JSON-ready dicts."""
        return [asdict(record) for record in reversed(self._records)]

    def record(self, stream_id: str) -> StreamRecord | None:
        """The record of one stream, if it is still remembered."""
        return next((r for r in self._records if r.id == stream_id), None)

    def stream(
        self,
        prompt: str,
        *,
        max_tokens: int | None = None,
        stream_id: str | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        """Answer ``prompt`` token by token.

        The stream is recorded at once (before iteration starts), so its id
        can be handed to the client, e.g. in a response header.
        """
        record = StreamRecord(id=stream_id or f"fake-{secrets.token_hex(6)}", prompt=prompt[:200])
        self._records.append(record)
        return self._generate(record, max_tokens)

    async def _generate(
        self, record: StreamRecord, max_tokens: int | None
    ) -> AsyncGenerator[LLMEvent, None]:
        text, fails = self.answer(record.prompt)
        tokens = _tokens(text)
        truncated = max_tokens is not None and max_tokens < len(tokens)
        if truncated:
            tokens = tokens[:max_tokens]
        fail_at = len(tokens) // 3 if fails else None
        usage = Usage(input_tokens=max(1, len(record.prompt.split())))
        try:
            yield StreamStart(provider="fake", response_id=f"chatcmpl-{record.id}", model=MODEL)
            await anyio.sleep(self.first_token_delay)
            yield TextStart("text-0")
            for n, token in enumerate(tokens):
                if n == fail_at:
                    yield TextEnd("text-0")
                    record.status = "failed"
                    yield Error(
                        "The fake model is overloaded; try again.",
                        kind="overloaded_error",
                        status=529,
                        retryable=True,
                        provider="fake",
                    )
                    return
                yield TextDelta("text-0", token)
                record.tokens += 1
                await anyio.sleep(random.uniform(*self.token_delay))
            yield TextEnd("text-0")
            input_tokens = usage.input_tokens or 0
            yield Usage(
                input_tokens=input_tokens,
                output_tokens=record.tokens,
                total_tokens=input_tokens + record.tokens,
            )
            # Marked before the last yield: a consumer that stops right after
            # the terminal event has had the whole answer.
            record.status = "completed"
            yield Finish("length" if truncated else "stop")
        finally:
            record.ended = time.time()
            if record.status == "streaming":
                # Closed (GeneratorExit) or cancelled before the end: the
                # client hung up or pressed Stop.
                record.status = "cancelled"
