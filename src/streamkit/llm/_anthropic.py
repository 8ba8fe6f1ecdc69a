"""Anthropic Messages streams (``client.messages.create(..., stream=True)``).

Items are the stream's events: the anthropic SDK's ``RawMessageStreamEvent``
objects (what ``messages.create(stream=True)`` yields, and what
``messages.stream()`` yields besides its own helper events) or the dicts of
the wire (``sse_json``). What the adapter copes with, beyond the plain shape:

* a content block is identified by its ``index``; its deltas come strictly
  between its ``content_block_start`` and ``content_block_stop``;
* ``thinking`` blocks are reasoning, with the ``signature_delta`` that
  arrives just before their stop sent in :class:`~streamkit.llm.ReasoningEnd`;
  a ``redacted_thinking`` block is a reasoning block with only its
  ``redacted`` data; both must go back in the next request;
* ``tool_use`` blocks are tool calls; ``server_tool_use`` (and
  ``mcp_tool_use``) blocks are calls the provider runs itself
  (``provider_executed``); the first ``input_json_delta`` is often ``""``
  and a call without arguments may send nothing else (→ ``{}``);
* a tool block cut off by ``max_tokens`` gets no ``content_block_stop``: it
  is closed at the end of the stream, its truncated JSON with a parse error;
* usage: ``message_start`` gives the input and cache tokens (and a
  provisional output count); ``message_delta.usage`` is **cumulative** and
  may repeat or raise the input tokens, so each field it gives *replaces*
  the one before (summing double counts);
* ``event: error`` after the HTTP 200 (``overloaded_error``, ...) ends the
  stream with an error; so does the ``APIStatusError`` (status 200) that
  the SDK raises for it instead of yielding it;
* ``ping`` and unknown event or block types are ignored.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import Any, Final, overload

from streamkit.llm._access import field, to_dict
from streamkit.llm._builder import EventBuilder, error_from_exception
from streamkit.llm._drive import drive
from streamkit.llm._events import FinishReason, LLMEvent, Usage

__all__ = ["AnthropicAdapter", "anthropic_usage", "from_anthropic"]

_FINISH: Final[dict[str, FinishReason]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
    "pause_turn": "other",
}

#: Tool blocks the client runs (its own tools) and the provider runs.
_CLIENT_TOOLS: Final = frozenset({"tool_use"})
_PROVIDER_TOOLS: Final = frozenset({"server_tool_use", "mcp_tool_use"})


#: The block key of events without an ``index`` (malformed). Not None: the
#: builder's ``end_blocks(except_key=None)`` would never close a block keyed None.
_NO_INDEX: Final = "no-index"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def anthropic_usage(usage: Any, previous: Usage | None = None) -> Usage:
    """An Anthropic ``usage`` object as a :class:`Usage`: the counts it
    gives replace those of ``previous`` (they are cumulative), the others
    are kept from it."""
    details = field(usage, "output_tokens_details")
    values = (
        _int(field(usage, "input_tokens")),
        _int(field(usage, "output_tokens")),
        _int(field(usage, "cache_read_input_tokens")),
        _int(field(usage, "cache_creation_input_tokens")),
        _int(field(details, "thinking_tokens")),
    )
    if previous is not None:
        values = (
            previous.input_tokens if values[0] is None else values[0],
            previous.output_tokens if values[1] is None else values[1],
            previous.cache_read_tokens if values[2] is None else values[2],
            previous.cache_write_tokens if values[3] is None else values[3],
            previous.reasoning_tokens if values[4] is None else values[4],
        )
    return Usage(
        input_tokens=values[0],
        output_tokens=values[1],
        cache_read_tokens=values[2],
        cache_write_tokens=values[3],
        reasoning_tokens=values[4],
        raw=to_dict(usage),
    )


class _AnthropicBuilder(EventBuilder):
    """The builder, with the provider's message for the SDK's exceptions.

    For ``event: error`` the SDK raises ``APIStatusError(f"{body}", ...)``,
    whose ``message`` is the repr of the whole body; the provider's own
    message ("Overloaded") is ``body["error"]["message"]`` (also
    ``api_message`` in recent SDKs).
    """

    __slots__ = ()

    def exception(self, exc: BaseException) -> None:
        fields = error_from_exception(exc)
        body = getattr(exc, "body", None)
        message = field(body.get("error") if isinstance(body, dict) else None, "message")
        if isinstance(message, str) and message:
            fields["message"] = message
        self.error(**fields)


class AnthropicAdapter:
    """Sans-I/O adapter: ``feed(event)`` for each stream event, ``end()`` at
    the end of the stream, events from ``builder.drain()``."""

    __slots__ = ("builder",)

    def __init__(self, provider: str = "anthropic") -> None:
        self.builder: EventBuilder = _AnthropicBuilder(provider)

    def feed(self, event: Any) -> None:
        kind = field(event, "type")
        builder = self.builder
        if kind == "content_block_delta":  # nearly every event of a stream
            index = field(event, "index")
            if index is None:
                index = _NO_INDEX
            delta = field(event, "delta")
            delta_type = field(delta, "type")
            if delta_type == "text_delta":
                text = field(delta, "text")
                if isinstance(text, str):
                    builder.text(index, text)
            elif delta_type == "input_json_delta":
                partial = field(delta, "partial_json")
                if isinstance(partial, str):
                    builder.tool_args(index, partial)
            elif delta_type == "thinking_delta":
                thinking = field(delta, "thinking")
                if isinstance(thinking, str):
                    builder.reasoning(index, thinking)
            elif delta_type == "signature_delta":
                signature = _str(field(delta, "signature"))
                if signature:
                    builder.reasoning_signature(index, signature=signature)
            # citations_delta and unknown deltas: ignored
        elif kind == "content_block_start":
            index = field(event, "index")
            self._block_start(_NO_INDEX if index is None else index, field(event, "content_block"))
        elif kind == "content_block_stop":
            index = field(event, "index")
            builder.end(_NO_INDEX if index is None else index)
        elif kind == "message_start":
            message = field(event, "message")
            builder.start(_str(field(message, "id")), _str(field(message, "model")))
            usage = field(message, "usage")
            if usage:
                # A second message_start (seen from some proxies) starts afresh.
                builder.usage(anthropic_usage(usage))
        elif kind == "message_delta":
            reason = field(field(event, "delta"), "stop_reason")
            if isinstance(reason, str) and reason:
                builder.finish(_FINISH.get(reason, "other"), reason)
            usage = field(event, "usage")
            if usage:
                builder.usage(anthropic_usage(usage, builder.last_usage))
        elif kind == "error":
            self._error(field(event, "error"), event)
        # message_stop: the driver closes the stream at its end; ping and
        # unknown events: ignored.

    def _block_start(self, index: Any, block: Any) -> None:
        builder = self.builder
        block_type = field(block, "type")
        if block_type == "text":
            text = field(block, "text")
            if isinstance(text, str):
                builder.text(index, text)  # normally "": the text comes in deltas
        elif block_type == "thinking":
            thinking = field(block, "thinking")
            if isinstance(thinking, str):
                builder.reasoning(index, thinking)
            signature = _str(field(block, "signature"))
            if signature:
                builder.reasoning_signature(index, signature=signature)
        elif block_type == "redacted_thinking":
            builder.reasoning_signature(index, redacted=_str(field(block, "data")))
        elif block_type in _CLIENT_TOOLS or block_type in _PROVIDER_TOOLS:
            if builder.is_open(index):  # an index reused without a stop
                builder.end(index)
            builder.tool_start(
                index,
                call_id=_str(field(block, "id")),
                name=_str(field(block, "name")),
                provider_executed=block_type in _PROVIDER_TOOLS,
            )
        # tool results (web_search_tool_result, ...) and unknown blocks: ignored

    def _error(self, error: Any, event: Any) -> None:
        message = error if isinstance(error, str) else field(error, "message")
        self.builder.error(
            str(message) if message else "the stream reported an error",
            kind=_str(field(error, "type")),
            raw=to_dict(error) or to_dict(event),
        )

    def end(self) -> None:
        """The stream ended (after ``message_stop``, or cut short)."""


@overload
def from_anthropic(
    stream: AsyncIterable[Any], *, provider: str = "anthropic"
) -> AsyncGenerator[LLMEvent, None]: ...


@overload
def from_anthropic(
    stream: Iterable[Any], *, provider: str = "anthropic"
) -> Generator[LLMEvent, None, None]: ...


def from_anthropic(
    stream: Iterable[Any] | AsyncIterable[Any], *, provider: str = "anthropic"
) -> Generator[LLMEvent, None, None] | AsyncGenerator[LLMEvent, None]:
    """Uniform events from an Anthropic Messages stream.

    ``stream`` is what ``client.messages.create(..., stream=True)`` returns
    (sync or async), the ``MessageStream`` of ``client.messages.stream()``,
    or the payloads of the HTTP body read with
    :func:`~streamkit.llm.sse_json`. Thinking signatures and redacted
    thinking come in :class:`~streamkit.llm.ReasoningEnd`; an ``overloaded_error``
    mid-stream is an :class:`~streamkit.llm.Error` with ``retryable=True``.
    Returns an async generator for an async stream, a generator for a sync
    one; closing it closes the upstream.

    Example::

        stream = await client.messages.create(
            model="claude-sonnet-4-5", max_tokens=1024, messages=messages,
            stream=True,
        )
        return SSEResponse(to_sse(from_anthropic(stream)))
    """
    return drive(AnthropicAdapter(provider), stream)
