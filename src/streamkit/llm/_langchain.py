"""LangChain chat model streams (``model.stream()`` / ``astream()`` /
``astream_events(version="v2")``).

Items are ``AIMessageChunk`` objects, or the event dicts of
``astream_events`` (only ``on_chat_model_stream`` events are read, their
``data["chunk"]``). Plain strings (a chain ending in ``StrOutputParser``)
are text. What the adapter copes with, beyond the plain shape:

* ``content`` is a string (OpenAI-style models) or a list of content blocks
  with an ``index`` (Anthropic: ``text``, ``thinking`` with its
  ``signature``, ``redacted_thinking``; LangChain's standard ``text`` and
  ``reasoning`` blocks with ``output_version="v1"``; OpenAI Responses
  ``reasoning`` summaries): text and reasoning blocks keyed by that index,
  a block closed when another one starts;
  ``additional_kwargs["reasoning_content"]`` (DeepSeek, Qwen, Ollama) is
  reasoning too;
* tool calls come from ``tool_call_chunks`` (``name``, ``args`` text,
  ``id``, ``index``), merged by ``index``: a fragment with a known index but
  a new id and name is a new call, a fragment without an index continues the
  last call. The ``tool_use`` / ``input_json_delta`` / ``tool_call_chunk``
  content blocks that repeat them are not read twice; only when a chunk has
  no ``tool_call_chunks`` are they read (Anthropic's ``server_tool_use``
  blocks, run by the provider: ``provider_executed``). A chunk with
  ``chunk_position == "last"`` closes the open calls;
* a model that does not stream yields one whole ``AIMessage`` from
  ``stream()``: its parsed ``tool_calls`` are read then;
* ``usage_metadata`` on chunks is an **increment** (LangChain sums chunks
  with ``+``), so increments are summed into the cumulative usage:
  ``input_tokens``, ``output_tokens``, ``total_tokens``,
  ``input_token_details.cache_read`` / ``cache_creation``,
  ``output_token_details.reasoning``. ``ChatOpenAI`` streams usage only with
  ``stream_usage=True``;
* the finish reason is in ``response_metadata``: ``finish_reason``
  (OpenAI and compatible servers, Gemini's upper-case reasons),
  ``stop_reason`` (Anthropic), ``done_reason`` (Ollama). A "stop" after tool
  calls becomes ``tool_calls`` (OpenAI says "stop" for a forced tool call);
  a stream that ends normally without any reason (most fake and simple
  models) finishes with ``stop``: LangChain raises when a model fails, so a
  normal end is a finished answer;
* with ``astream_events``, an agent or chain may run several models (or
  the same one several times): only the **first** chat model run (the first
  ``run_id`` of an ``on_chat_model_stream`` event) is read, the others are
  ignored, since the uniform stream has a single answer;
* an exception raised by the model while streaming (LangChain re-raises
  the provider SDK's) becomes an error event.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import Any, Final, overload

from streamkit.llm._access import field, to_dict
from streamkit.llm._builder import EventBuilder
from streamkit.llm._drive import drive
from streamkit.llm._events import FinishReason, LLMEvent, Usage
from streamkit.llm._gemini import gemini_finish

__all__ = ["LangChainAdapter", "from_langchain", "langchain_usage"]

_FINISH: Final[dict[str, FinishReason]] = {
    # OpenAI finish_reason (and compatible servers); Ollama's done_reason
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    # Anthropic stop_reason
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
    "pause_turn": "other",
}

_STREAM_EVENT: Final = "on_chat_model_stream"
_TEXT: Final = ("text",)
_REASONING: Final = ("reasoning",)
#: Content block types that repeat what ``tool_call_chunks`` says.
_TOOL_BLOCKS: Final = frozenset(
    {"tool_use", "server_tool_use", "input_json_delta", "tool_call_chunk"}
)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _attr(item: Any, name: str) -> Any:
    """``field(item, name)`` without its ``isinstance`` checks when the
    attribute is there (they cost more than the rest of a chunk's reading);
    safe for the names read here, which no builtin type has."""
    if type(item) is dict:
        return item.get(name)
    value = getattr(item, name, None)
    if value is None and isinstance(item, dict):  # a dict subclass
        return item.get(name)
    return value


def _finish(raw: str) -> FinishReason:
    reason = _FINISH.get(raw)
    if reason is not None:
        return reason
    return gemini_finish(raw) if raw.isupper() else "other"


def langchain_usage(usage: Any) -> Usage:
    """A LangChain ``UsageMetadata`` (an increment) as a :class:`Usage`."""
    input_details = field(usage, "input_token_details")
    output_details = field(usage, "output_token_details")
    return Usage(
        input_tokens=_int(field(usage, "input_tokens")),
        output_tokens=_int(field(usage, "output_tokens")),
        total_tokens=_int(field(usage, "total_tokens")),
        cache_read_tokens=_int(field(input_details, "cache_read")),
        cache_write_tokens=_int(field(input_details, "cache_creation")),
        reasoning_tokens=_int(field(output_details, "reasoning")),
        raw=to_dict(usage),
    )


class LangChainAdapter:
    """Sans-I/O adapter: ``feed(item)`` for each ``AIMessageChunk`` (or
    ``astream_events`` event), ``end()`` at the end of the stream, events
    from ``builder.drain()``."""

    __slots__ = (
        "_current",
        "_finished",
        "_generation",
        "_ids",
        "_keys",
        "_last_tool",
        "_run",
        "_tool_ids",
        "builder",
    )

    def __init__(self, provider: str = "langchain") -> None:
        self.builder = EventBuilder(provider)
        self._current: object = None  # the key of the text/reasoning block last written
        self._finished = False
        self._run: object = None  # the run_id read, with astream_events
        self._last_tool: object = None
        self._tool_ids: dict[object, str] = {}  # provider index -> id of its current call
        self._keys: dict[object, tuple[str, object, int]] = {}  # provider index -> builder key
        self._generation = 0
        self._ids: dict[str, object] = {}  # call id -> builder key of the call that has it

    def feed(self, item: Any) -> None:
        if type(item) is dict and "event" in item:
            if item.get("event") != _STREAM_EVENT:
                return
            run = item.get("run_id")
            if self._run is None:
                self._run = run
            elif run != self._run:
                return
            item = _attr(item.get("data"), "chunk")
            if item is None:
                return
        elif type(item) is str:
            if item:
                self._text(_TEXT, item)
            return
        self._chunk(item)

    def _chunk(self, chunk: Any) -> None:
        builder = self.builder
        if not builder.started:
            chunk_id = _attr(chunk, "id")
            builder.start(chunk_id if isinstance(chunk_id, str) else None)
        extra = _attr(chunk, "additional_kwargs")
        if extra:
            reasoning = _attr(extra, "reasoning_content")
            if reasoning and isinstance(reasoning, str):
                self._reasoning(_REASONING, reasoning)
        content = _attr(chunk, "content")
        tool_chunks = _attr(chunk, "tool_call_chunks")
        # A whole AIMessage (from a model that does not stream): its calls
        # are read from ``tool_calls``, not from the content blocks.
        whole = not tool_chunks and _attr(chunk, "type") == "ai"
        if content:
            if type(content) is str:
                self._text(_TEXT, content)
            elif isinstance(content, list):
                for block in content:
                    self._block(block, not tool_chunks and not whole)
        if tool_chunks and isinstance(tool_chunks, list):
            for tool_chunk in tool_chunks:
                self._tool(
                    field(tool_chunk, "index"),
                    field(tool_chunk, "id"),
                    field(tool_chunk, "name"),
                    field(tool_chunk, "args"),
                )
        elif whole:
            self._whole_calls(_attr(chunk, "tool_calls"))
        if _attr(chunk, "chunk_position") == "last":  # the end of the model's message
            for key in self._keys.values():
                builder.tool_end(key)
            self._keys.clear()
            self._tool_ids.clear()
        usage = _attr(chunk, "usage_metadata")
        if usage:
            builder.add_usage(langchain_usage(usage))
        metadata = _attr(chunk, "response_metadata")
        if metadata:
            reason = (
                field(metadata, "finish_reason")
                or field(metadata, "stop_reason")
                or field(metadata, "done_reason")
            )
            if reason and isinstance(reason, str):
                self._finished = True
                builder.finish(_finish(reason), reason, stop_with_calls=True)

    # -- text and reasoning

    def _switch(self, key: object) -> None:
        self.builder.end_blocks(except_key=key)
        self._current = key

    def _text(self, key: object, text: str) -> None:
        if key != self._current:
            self._switch(key)
        self.builder.text(key, text)

    def _reasoning(self, key: object, text: str, kind: str = "raw") -> None:
        if key != self._current:
            self._switch(key)
        self.builder.reasoning(key, text, "summary" if kind == "summary" else "raw")

    def _block(self, block: Any, tools: bool) -> None:
        if type(block) is str:
            if block:
                self._text(_TEXT, block)
            return
        kind = field(block, "type")
        index = field(block, "index")
        if not isinstance(index, int | str):
            index = None
        key = ("block", index)
        if kind == "text":
            text = field(block, "text")
            if text and isinstance(text, str):
                self._text(key, text)
        elif kind == "thinking" or kind == "reasoning":
            text = field(block, kind)
            if text and isinstance(text, str):
                self._reasoning(key, text)
            summary = field(block, "summary")  # OpenAI Responses reasoning summaries
            if summary and isinstance(summary, list):
                for part in summary:
                    text = field(part, "text")
                    if text and isinstance(text, str):
                        self._reasoning(key, text, "summary")
            signature = field(block, "signature") or field(field(block, "extras"), "signature")
            if signature and isinstance(signature, str):
                self._signature(key, signature, None)
        elif kind == "redacted_thinking":
            data = field(block, "data")
            if data and isinstance(data, str):
                self._signature(key, None, data)
        elif tools and kind in _TOOL_BLOCKS:
            self._tool_block(block, kind, index)

    def _signature(self, key: object, signature: str | None, redacted: str | None) -> None:
        if key != self._current:
            self._switch(key)
        self.builder.reasoning_signature(key, signature, redacted)

    # -- tool calls

    def _tool_block(self, block: Any, kind: str, index: object) -> None:
        """A tool content block in a chunk without ``tool_call_chunks``."""
        args = field(block, "partial_json")
        if args is None:
            args = field(block, "args")
        self._tool(
            index,
            field(block, "id"),
            field(block, "name"),
            args if isinstance(args, str) else None,
            executed=kind == "server_tool_use",
        )

    def _tool(
        self, index: Any, call_id: Any, name: Any, args: Any, *, executed: bool = False
    ) -> None:
        builder = self.builder
        if not isinstance(index, int | str):
            index = self._last_tool if self._last_tool is not None else 0
        call_id = call_id if isinstance(call_id, str) and call_id else None
        name = name if isinstance(name, str) and name else None
        seen = self._tool_ids.get(index)
        key = self._keys.get(index)
        if key is None or (call_id and name and seen is not None and seen != call_id):
            # A new call; with an index already used, the previous call ends.
            if key is not None:
                builder.tool_end(key)
            builder.end_blocks()
            self._current = None
            self._generation += 1
            key = self._keys[index] = ("tool", index, self._generation)
        if call_id:
            self._tool_ids[index] = call_id
            owner = self._ids.setdefault(call_id, key)
            if owner != key:  # another call has this id: ids must stay unique
                call_id = None
        self._last_tool = index
        builder.tool_start(key, call_id=call_id, name=name, provider_executed=executed)
        if args and isinstance(args, str):
            builder.tool_args(key, args)

    def _whole_calls(self, calls: Any) -> None:
        """The parsed ``tool_calls`` of a whole ``AIMessage``."""
        if not calls or not isinstance(calls, list):
            return
        self.builder.end_blocks()
        self._current = None
        for call in calls:
            name = field(call, "name")
            args = field(call, "args")
            call_id = field(call, "id")
            self._generation += 1
            key = ("call", self._generation)
            if isinstance(call_id, str) and self._ids.setdefault(call_id, key) != key:
                call_id = None  # another call has this id: ids must stay unique
            self.builder.tool_call(
                key,
                name=name if isinstance(name, str) else "",
                args=args if isinstance(args, dict) else None,
                call_id=call_id if isinstance(call_id, str) and call_id else None,
            )

    def end(self) -> None:
        """The stream ended normally: without a finish reason from the
        model, that is a finished answer (LangChain raises on failures)."""
        if not self._finished:
            self.builder.finish("stop", None, stop_with_calls=True)


@overload
def from_langchain(
    stream: AsyncIterable[Any], *, provider: str = "langchain"
) -> AsyncGenerator[LLMEvent, None]: ...


@overload
def from_langchain(
    stream: Iterable[Any], *, provider: str = "langchain"
) -> Generator[LLMEvent, None, None]: ...


def from_langchain(
    stream: Iterable[Any] | AsyncIterable[Any], *, provider: str = "langchain"
) -> Generator[LLMEvent, None, None] | AsyncGenerator[LLMEvent, None]:
    """Uniform events from a LangChain chat model stream.

    ``stream`` is what ``model.stream(...)`` or ``model.astream(...)``
    returns (``AIMessageChunk`` objects), or ``model.astream_events(...,
    version="v2")`` (the first chat model run is read). For usage, ask the
    model for it (``ChatOpenAI(stream_usage=True)``). Returns an async
    generator for an async stream, a generator for a sync one; closing it
    closes the upstream.

    Example::

        model = init_chat_model("openai:gpt-4o", stream_usage=True)
        return SSEResponse(to_sse(from_langchain(model.astream(messages))))
    """
    return drive(LangChainAdapter(provider), stream)
