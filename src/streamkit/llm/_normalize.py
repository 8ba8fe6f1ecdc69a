"""``normalize``: the adapter picked from the first item of a stream."""

from __future__ import annotations

import importlib
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Generator,
    Iterable,
    Iterator,
)
from typing import Any, overload

from streamkit.llm._access import field
from streamkit.llm._builder import EventBuilder
from streamkit.llm._drive import _close_async, _close_sync
from streamkit.llm._events import LLMEvent
from streamkit.llm._wire import ndjson, sse_json

__all__ = ["detect_provider", "normalize"]

#: Which module and function read each provider's items.
_ADAPTERS = {
    "openai_chat": ("streamkit.llm._openai_chat", "from_openai_chat"),
    "openai_responses": ("streamkit.llm._openai_responses", "from_openai_responses"),
    "anthropic": ("streamkit.llm._anthropic", "from_anthropic"),
    "gemini": ("streamkit.llm._gemini", "from_gemini"),
    "langchain": ("streamkit.llm._langchain", "from_langchain"),
    "ollama": ("streamkit.llm._ollama", "from_ollama"),
}

_GEMINI_KEYS = (
    "candidates",
    "usageMetadata",
    "usage_metadata",
    "promptFeedback",
    "prompt_feedback",
)

_ANTHROPIC_TYPES = frozenset(
    {
        "message_start",
        "message_delta",
        "message_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "ping",
    }
)


def detect_provider(item: Any) -> str | None:
    """The adapter for a stream whose first item is ``item`` (a wire dict or
    an SDK object): ``"openai_chat"``, ``"openai_responses"``,
    ``"anthropic"``, ``"gemini"``, ``"langchain"``, ``"ollama"``, or None."""
    name = type(item).__name__
    if name.endswith("MessageChunk") or name == "AIMessage":
        return "langchain"
    if name == "GenerateContentResponse":
        return "gemini"
    if name == "ChatCompletionChunk":
        return "openai_chat"
    kind = field(item, "type")
    if isinstance(kind, str):
        if kind.startswith("response."):
            return "openai_responses"
        if kind in _ANTHROPIC_TYPES:
            return "anthropic"
        if kind == "error":
            # Both send {"type": "error", ...}; only the Responses API numbers events.
            return "openai_responses" if field(item, "sequence_number") is not None else "anthropic"
    if field(item, "object") == "chat.completion.chunk" or field(item, "choices") is not None:
        return "openai_chat"
    if any(field(item, key) is not None for key in _GEMINI_KEYS):
        return "gemini"
    if isinstance(field(item, "event"), str) and str(field(item, "event")).startswith("on_"):
        return "langchain"
    if field(item, "done") is not None or field(item, "created_at") is not None:
        return "ollama"
    error = field(item, "error")
    if isinstance(error, str):
        return "ollama"  # {"error": "..."}: Ollama's mid-stream error line
    if error is not None:
        return "openai_chat"  # {"error": {...}}: OpenAI-compatible servers
    return None


def _adapter(provider: str) -> Any:
    module, function = _ADAPTERS[provider]
    return getattr(importlib.import_module(module), function)


class _Rejoined:
    """The first item put back in front of the rest, closing the upstream
    when closed."""

    __slots__ = ("_first", "_iterator", "_stream")

    def __init__(self, first: Any, iterator: Iterator[Any], stream: object) -> None:
        self._first: list[Any] = [first]
        self._iterator = iterator
        self._stream = stream

    def __iter__(self) -> _Rejoined:
        return self

    def __next__(self) -> Any:
        if self._first:
            return self._first.pop()
        return next(self._iterator)

    def close(self) -> None:
        _close_sync(self._stream, self._iterator if self._iterator is not self._stream else None)


class _ARejoined:
    __slots__ = ("_first", "_iterator", "_stream")

    def __init__(self, first: Any, iterator: AsyncIterator[Any], stream: object) -> None:
        self._first: list[Any] = [first]
        self._iterator = iterator
        self._stream = stream

    def __aiter__(self) -> _ARejoined:
        return self

    async def __anext__(self) -> Any:
        if self._first:
            return self._first.pop()
        return await anext(self._iterator)

    async def aclose(self) -> None:
        await _close_async(
            self._stream, self._iterator if self._iterator is not self._stream else None
        )


def _unknown(first: Any) -> list[LLMEvent]:
    builder = EventBuilder("unknown")
    if first is _EMPTY:
        builder.close()
    else:
        builder.error(
            f"cannot tell which provider streams items like {type(first).__name__} "
            f"{str(first)[:80]!r}; call the provider's adapter directly",
            kind="unknown_provider",
            retryable=False,
        )
    return builder.drain()


_EMPTY: Any = object()


def _is_sse(first: bytes) -> bool:
    """Wire bytes: SSE or NDJSON, told apart by the first bytes."""
    return first.lstrip()[:6].startswith((b"data:", b"event:", b":", b"id:", b"retry:"))


def _normalize_sync(stream: Iterable[Any]) -> Generator[LLMEvent, None, None]:
    iterator = iter(stream)
    try:
        first = next(iterator, _EMPTY)
    except Exception as exc:
        builder = EventBuilder("unknown")
        builder.exception(exc)
        _close_sync(stream, iterator)
        yield from builder.drain()
        return
    if isinstance(first, (bytes, bytearray)):
        source = _Rejoined(bytes(first), iterator, stream)
        payloads = sse_json(source) if _is_sse(bytes(first)) else ndjson(source)
        yield from _normalize_sync(payloads)
        return
    provider = None if first is _EMPTY else detect_provider(first)
    if provider is None:
        _close_sync(stream, iterator)
        yield from _unknown(first)
        return
    yield from _adapter(provider)(_Rejoined(first, iterator, stream))


async def _normalize_async(stream: AsyncIterable[Any]) -> AsyncGenerator[LLMEvent, None]:
    iterator = aiter(stream)
    try:
        first = await anext(iterator, _EMPTY)
    except Exception as exc:
        builder = EventBuilder("unknown")
        builder.exception(exc)
        await _close_async(stream, iterator)
        for event in builder.drain():
            yield event
        return
    if isinstance(first, (bytes, bytearray)):
        source = _ARejoined(bytes(first), iterator, stream)
        payloads = sse_json(source) if _is_sse(bytes(first)) else ndjson(source)
        async for event in _normalize_async(payloads):
            yield event
        return
    provider = None if first is _EMPTY else detect_provider(first)
    if provider is None:
        await _close_async(stream, iterator)
        for event in _unknown(first):
            yield event
        return
    events = _adapter(provider)(_ARejoined(first, iterator, stream))
    try:
        async for event in events:
            yield event
    finally:
        await events.aclose()


@overload
def normalize(stream: AsyncIterable[Any]) -> AsyncGenerator[LLMEvent, None]: ...


@overload
def normalize(stream: Iterable[Any]) -> Generator[LLMEvent, None, None]: ...


def normalize(
    stream: Iterable[Any] | AsyncIterable[Any],
) -> Generator[LLMEvent, None, None] | AsyncGenerator[LLMEvent, None]:
    """Uniform events from any supported provider stream, the adapter picked
    from the first item: SDK objects or wire dicts of OpenAI Chat
    Completions and compatible servers, the OpenAI Responses API, Anthropic
    Messages, Gemini (google-genai), LangChain message chunks and
    ``astream_events``, Ollama; or raw body bytes (SSE or NDJSON).

    An item of no known shape ends the stream with an error event naming it
    (call the adapter directly then).
    """
    if isinstance(stream, AsyncIterable):
        return _normalize_async(stream)
    return _normalize_sync(stream)
