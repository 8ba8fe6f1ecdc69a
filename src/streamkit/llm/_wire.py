"""Reading provider streams straight off the wire (bytes → JSON payloads).

For calling a provider or an OpenAI-compatible server (vLLM, LiteLLM,
Ollama's ``/v1``, OpenRouter) with an HTTP client instead of its SDK: the
body is decoded with streamkit's spec-exact decoders, and the payloads go to
an adapter::

    async with httpx.AsyncClient() as client:
        async with client.stream("POST", url, json=request) as response:
            async for event in from_openai_chat(sse_json(response.aiter_bytes())):
                ...
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import Any, overload

import orjson

from streamkit._errors import DecodeError
from streamkit._formats.jsonl import JSONLDecoder
from streamkit._formats.sse import ServerSentEvent
from streamkit._formats.sse_decoder import SSEDecoder

__all__ = ["ndjson", "sse_json"]


def _close_source(iterator: object) -> None:
    """Close the byte source now: leaving a ``for`` loop does not close the
    generator it iterates, and the source may hold an HTTP connection."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


async def _aclose_source(iterator: object) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


def _payload(event: ServerSentEvent) -> Any:
    data = event.data or ""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"an SSE event's data is not JSON: {data[:80]!r}") from exc
    if event.event and isinstance(value, dict) and "type" not in value:
        value["type"] = event.event  # named events whose payload does not repeat it
    return value


def _sse_sync(chunks: Iterable[bytes]) -> Generator[Any, None, None]:
    decoder = SSEDecoder()
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            for event in decoder.feed(chunk):
                if event.data is None:
                    continue
                if event.data == "[DONE]":
                    for _ in iterator:  # read the body to its end: see sse_json
                        pass
                    return
                yield _payload(event)
        for event in decoder.feed(b"\n\n"):  # an unterminated last event (see sse_json)
            if event.data is not None and event.data != "[DONE]":
                yield _payload(event)
    finally:
        _close_source(iterator)


async def _sse_async(chunks: AsyncIterable[bytes]) -> AsyncGenerator[Any, None]:
    decoder = SSEDecoder()
    iterator = aiter(chunks)
    try:
        async for chunk in iterator:
            for event in decoder.feed(chunk):
                if event.data is None:
                    continue
                if event.data == "[DONE]":
                    async for _ in iterator:  # read the body to its end: see sse_json
                        pass
                    return
                yield _payload(event)
        for event in decoder.feed(b"\n\n"):
            if event.data is not None and event.data != "[DONE]":
                yield _payload(event)
    finally:
        await _aclose_source(iterator)


@overload
def sse_json(chunks: AsyncIterable[bytes]) -> AsyncGenerator[Any, None]: ...


@overload
def sse_json(chunks: Iterable[bytes]) -> Generator[Any, None, None]: ...


def sse_json(
    chunks: Iterable[bytes] | AsyncIterable[bytes],
) -> Generator[Any, None, None] | AsyncGenerator[Any, None]:
    """The JSON payloads of an SSE body (bytes in any chunking).

    Comments (keep-alives such as OpenRouter's ``: OPENROUTER PROCESSING``)
    and events without data are skipped; ``data: [DONE]`` ends the stream. A
    last event without its closing blank line is still read (servers that
    end the body right after the last ``data:`` line are common), and a
    payload that is not JSON, such as one cut off in the middle, raises
    :class:`~streamkit.DecodeError` (the adapters turn it into an error event).
    Closing the result closes ``chunks`` (and so the HTTP response behind it).
    After ``[DONE]`` the rest of the body is read (and ignored) before the
    stream ends: an HTTP client can only reuse a connection whose response
    was read to its end, and a new connection per request costs more time
    to the first token than everything else in a proxy.
    """
    if isinstance(chunks, AsyncIterable):
        return _sse_async(chunks)
    return _sse_sync(chunks)


def _ndjson_sync(chunks: Iterable[bytes]) -> Generator[Any, None, None]:
    decoder = JSONLDecoder()
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            yield from decoder.feed(chunk)
        yield from decoder.close()
    finally:
        _close_source(iterator)


async def _ndjson_async(chunks: AsyncIterable[bytes]) -> AsyncGenerator[Any, None]:
    decoder = JSONLDecoder()
    iterator = aiter(chunks)
    try:
        async for chunk in iterator:
            for value in decoder.feed(chunk):
                yield value
        for value in decoder.close():
            yield value
    finally:
        await _aclose_source(iterator)


@overload
def ndjson(chunks: AsyncIterable[bytes]) -> AsyncGenerator[Any, None]: ...


@overload
def ndjson(chunks: Iterable[bytes]) -> Generator[Any, None, None]: ...


def ndjson(
    chunks: Iterable[bytes] | AsyncIterable[bytes],
) -> Generator[Any, None, None] | AsyncGenerator[Any, None]:
    """The JSON values of a newline-delimited JSON body (Ollama's native
    API); a last line without its newline is read too, and a line that is
    not JSON raises :class:`~streamkit.DecodeError`."""
    if isinstance(chunks, AsyncIterable):
        return _ndjson_async(chunks)
    return _ndjson_sync(chunks)
