"""OpenAI Chat Completions streams (and OpenAI-compatible servers).

Items are ``chat.completion.chunk`` payloads: the openai SDK's
``ChatCompletionChunk`` objects or the dicts of the wire (``sse_json``).
What the adapter copes with, beyond the plain shape:

* tool-call fragments keyed by ``index``, with the id and name only on the
  first fragment; a fragment with the same index but a new id and name is a
  new call (Ollama's ``/v1`` once sent every parallel call as index 0); a
  missing index continues the last call;
* ``refusal`` deltas (a refusal block), ``reasoning_content`` / ``reasoning``
  deltas (DeepSeek, vLLM, OpenRouter, Ollama);
* the usage chunk with empty ``choices`` that follows the finish chunk when
  ``stream_options={"include_usage": True}`` (the finish is held for it), and
  usage attached to other chunks by some gateways;
* ``{"error": {...}}`` payloads, which OpenAI-compatible servers send after
  an HTTP 200 when they fail mid-stream;
* with ``n > 1``, only the first choice (index 0) is read.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import Any, Final, overload

from streamkit.llm._access import Record, field, record, to_dict
from streamkit.llm._builder import EventBuilder
from streamkit.llm._drive import drive
from streamkit.llm._events import FinishReason, LLMEvent, Usage

__all__ = ["OpenAIChatAdapter", "from_openai_chat"]

_FINISH: Final[dict[str, FinishReason]] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}

_TEXT: Final = "text"
_REFUSAL: Final = "refusal"
_REASONING: Final = "reasoning"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def chat_usage(usage: Any) -> Usage:
    """A Chat Completions ``usage`` object as a :class:`Usage`."""
    prompt_details = field(usage, "prompt_tokens_details")
    completion_details = field(usage, "completion_tokens_details")
    return Usage(
        input_tokens=_int(field(usage, "prompt_tokens")),
        output_tokens=_int(field(usage, "completion_tokens")),
        total_tokens=_int(field(usage, "total_tokens")),
        cache_read_tokens=_int(field(prompt_details, "cached_tokens")),
        reasoning_tokens=_int(field(completion_details, "reasoning_tokens")),
        raw=to_dict(usage),
    )


class OpenAIChatAdapter:
    """Sans-I/O adapter: ``feed(chunk)`` for each chunk, ``end()`` at the end
    of the stream, events from ``builder.drain()``."""

    __slots__ = ("_generation", "_keys", "_last_tool", "_tool_ids", "builder")

    def __init__(self, provider: str = "openai") -> None:
        self.builder = EventBuilder(provider)
        self._last_tool: int | None = None
        self._tool_ids: dict[int, str] = {}  # provider index -> id of its current call
        self._keys: dict[int, tuple[str, int, int]] = {}  # provider index -> builder key
        self._generation = 0

    def feed(self, chunk: Any) -> None:
        builder = self.builder
        fields = record(chunk)
        error = fields.get("error")
        if error:
            self._error(error)
            return
        if not builder.started:
            builder.start(fields.get("id"), fields.get("model"))
        for choice in fields.get("choices") or ():
            choice_fields = record(choice)
            index = choice_fields.get("index")
            if index not in (0, None):
                continue
            delta = choice_fields.get("delta")
            if delta is not None:
                self._delta(record(delta))
            reason = choice_fields.get("finish_reason")
            if reason:
                builder.finish(_FINISH.get(reason, "other"), reason)
        usage = fields.get("usage")
        if usage:
            builder.usage(chat_usage(usage))

    def _delta(self, delta: Record) -> None:
        builder = self.builder
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            builder.end(_TEXT)
            builder.reasoning(_REASONING, reasoning)
        content = delta.get("content")
        if content:
            builder.end(_REASONING)
            builder.text(_TEXT, content)
        refusal = delta.get("refusal")
        if refusal:
            builder.text(_REFUSAL, refusal, kind="refusal")
        calls = delta.get("tool_calls")
        if calls:
            builder.end_blocks()
            for call in calls:
                self._tool(record(call))

    def _tool(self, call: Record) -> None:
        builder = self.builder
        index = _int(call.get("index"))
        if index is None:
            index = self._last_tool if self._last_tool is not None else 0
        function = record(call.get("function"))
        call_id = call.get("id")
        name = function.get("name")
        seen = self._tool_ids.get(index)
        key = self._keys.get(index)
        if key is None or (call_id and name and seen is not None and seen != call_id):
            # A new call; with an index already used, the previous call ends.
            if key is not None:
                builder.tool_end(key)
            self._generation += 1
            key = self._keys[index] = ("tool", index, self._generation)
        if call_id:
            self._tool_ids[index] = call_id
        self._last_tool = index
        builder.tool_start(key, call_id=call_id or None, name=name or None)
        arguments = function.get("arguments")
        if arguments:
            builder.tool_args(key, arguments)

    def _error(self, error: Any) -> None:
        message = field(error, "message")
        code = field(error, "code")
        status = _int(code) if _int(code) is not None else None
        if status is None and isinstance(code, str) and code.isdigit():
            status = int(code)
        self.builder.error(
            str(message) if message else "the upstream reported an error",
            code=None if code is None else str(code),
            kind=None if field(error, "type") is None else str(field(error, "type")),
            status=status,
            raw=to_dict(error),
        )

    def end(self) -> None:
        """The stream ended (``[DONE]`` or the end of the body)."""


@overload
def from_openai_chat(
    stream: AsyncIterable[Any], *, provider: str = "openai"
) -> AsyncGenerator[LLMEvent, None]: ...


@overload
def from_openai_chat(
    stream: Iterable[Any], *, provider: str = "openai"
) -> Generator[LLMEvent, None, None]: ...


def from_openai_chat(
    stream: Iterable[Any] | AsyncIterable[Any], *, provider: str = "openai"
) -> Generator[LLMEvent, None, None] | AsyncGenerator[LLMEvent, None]:
    """Uniform events from an OpenAI Chat Completions stream.

    ``stream`` is what ``client.chat.completions.create(..., stream=True)``
    returns (sync or async), or the payloads of any OpenAI-compatible server
    read with :func:`~streamkit.llm.sse_json`. Ask for
    ``stream_options={"include_usage": True}`` to get usage. Returns an async
    generator for an async stream, a generator for a sync one; closing it
    closes the upstream.

    Example::

        stream = await client.chat.completions.create(
            model="gpt-4o", messages=messages, stream=True,
            stream_options={"include_usage": True},
        )
        return SSEResponse(to_sse(from_openai_chat(stream)))
    """
    return drive(OpenAIChatAdapter(provider), stream)
