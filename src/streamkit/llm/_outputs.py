"""The output protocols: uniform events → what a client reads.

Each output takes a sync or async iterable of :mod:`uniform events
<streamkit.llm._events>` and returns a generator of the same kind (an async
generator for an async stream), ready to hand to a streamkit response:

=========================  ==========================  =========================
output                     items                       response
=========================  ==========================  =========================
:func:`to_text`            ``str`` (text deltas)       ``TextStreamResponse``
:func:`to_sse`             ``ServerSentEvent``         ``SSEResponse``
:func:`to_jsonl`           ``dict``                    ``JSONLResponse``
:func:`to_openai_chat_sse` ``bytes`` (SSE frames)      ``OpenAIChatResponse``
:func:`to_vercel_ui`       ``bytes`` (SSE frames)      ``VercelUIResponse``
=========================  ==========================  =========================

Errors: an :class:`~streamkit.llm.Error` event becomes the protocol's own
error frame, with a generic message unless ``expose_errors=True`` (provider
messages can carry account or request details); plain text has no error
frame, so :func:`to_text` raises :class:`LLMStreamError` instead and the
response aborts the transfer. A stream that ends without a terminal event is
reported as an error by the two protocols that have a terminator. Closing an
output closes its upstream, so a client hanging up stops the provider request.

Each output is a small state machine (``feed(event)`` → item or None) run by
one shared driver; the per-token paths build frames from prebuilt bytes and
one ``orjson.dumps`` of the text, with no dataclass conversion.
"""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Generator, Iterable
from dataclasses import fields
from typing import Any, Final, Protocol, TypeVar, overload

import orjson

from streamkit._errors import StreamkitError
from streamkit._formats.jsonenc import dumps, escape_line_separators
from streamkit._formats.sse import ServerSentEvent, unchecked_event
from streamkit.llm._events import (
    Error,
    Finish,
    FinishReason,
    LLMEvent,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    StreamStart,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)

__all__ = [
    "GENERIC_ERROR_TEXT",
    "OPENAI_FINISH",
    "VERCEL_FINISH",
    "LLMStreamError",
    "openai_error_frame",
    "to_jsonl",
    "to_openai_chat_sse",
    "to_sse",
    "to_text",
    "to_vercel_ui",
    "vercel_error_frame",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: What a client is told about a failed stream unless the app exposes errors
#: (the AI SDK's own default text, so a UI built on it shows the same thing).
GENERIC_ERROR_TEXT: Final = "An error occurred."

#: The message of the error synthesised for a stream that just stops.
INCOMPLETE_TEXT: Final = "the stream ended without a finish or an error event"


class LLMStreamError(StreamkitError):
    """The model's stream failed (raised by :func:`to_text`, whose plain text
    has no way to say so in-band).

    Attributes:
        error: the :class:`~streamkit.llm.Error` event that ended the stream.
    """

    def __init__(self, error: Error) -> None:
        super().__init__(f"the model's stream failed: {error.message}")
        self.error = error


def _incomplete() -> Error:
    return Error(INCOMPLETE_TEXT, kind="incomplete", retryable=True, provider="streamkit")


def _error_fields(error: Error, expose: bool) -> dict[str, Any]:
    return {
        "message": error.message if expose else GENERIC_ERROR_TEXT,
        "code": error.code,
        "kind": error.kind,
        "status": error.status,
        "retryable": error.retryable,
        "provider": error.provider,
    }


# -- the driver -------------------------------------------------------------------


class _Encoder(Protocol[T_co]):
    done: bool

    def feed(self, event: LLMEvent) -> T_co | None: ...

    def end(self) -> T_co | None:
        """The upstream ended (without a terminal event if not ``done``)."""
        ...


def _run_sync(events: Iterable[LLMEvent], encoder: _Encoder[T]) -> Generator[T, None, None]:
    iterator = iter(events)
    feed = encoder.feed
    try:
        for event in iterator:
            out = feed(event)
            if out is not None:
                yield out
            if encoder.done:
                return
        out = encoder.end()
        if out is not None:
            yield out
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def _run_async(
    events: AsyncIterable[LLMEvent], encoder: _Encoder[T]
) -> AsyncGenerator[T, None]:
    iterator = aiter(events)
    feed = encoder.feed
    try:
        async for event in iterator:
            out = feed(event)
            if out is not None:
                yield out
            if encoder.done:
                return
        out = encoder.end()
        if out is not None:
            yield out
    finally:
        # Leaving ``async for`` does not close an async generator: do it now,
        # so the provider request stops with the client.
        close = getattr(iterator, "aclose", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result


def _run(
    events: Iterable[LLMEvent] | AsyncIterable[LLMEvent], encoder: _Encoder[T]
) -> Generator[T, None, None] | AsyncGenerator[T, None]:
    if isinstance(events, AsyncIterable):
        return _run_async(events, encoder)
    return _run_sync(events, encoder)


# -- plain text -----------------------------------------------------------------------


class _Text:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False

    def feed(self, event: LLMEvent) -> str | None:
        if type(event) is TextDelta:
            return event.text
        if isinstance(event, Error):
            raise LLMStreamError(event)
        if isinstance(event, Finish):
            self.done = True
        return None

    def end(self) -> None:
        return None


@overload
def to_text(events: AsyncIterable[LLMEvent]) -> AsyncGenerator[str, None]: ...


@overload
def to_text(events: Iterable[LLMEvent]) -> Generator[str, None, None]: ...


def to_text(
    events: Iterable[LLMEvent] | AsyncIterable[LLMEvent],
) -> Generator[str, None, None] | AsyncGenerator[str, None]:
    """The text of a stream, delta by delta (refusal text included, reasoning
    and tool calls left out), for a ``TextStreamResponse``.

    Raises:
        LLMStreamError: on an :class:`~streamkit.llm.Error` event, after the
            text before it: a plain text body cannot carry an error, so the
            response aborts the transfer and the client sees it truncated.

    Example::

        return TextStreamResponse(to_text(from_openai_chat(stream)))
    """
    return _run(events, _Text())


# -- one SSE event or JSON record per uniform event ---------------------------------------


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name not in ("type", "raw"))


_FIELDS: Final[dict[type, tuple[str, ...]]] = {
    cls: _field_names(cls)
    for cls in (
        StreamStart,
        TextStart,
        TextEnd,
        ReasoningStart,
        ReasoningEnd,
        ToolCallStart,
        ToolCallEnd,
        Usage,
        Finish,
    )
}


def _fields(event: LLMEvent, expose: bool) -> dict[str, Any]:
    """The event's fields without ``type`` and ``raw``; errors sanitised."""
    if type(event) is TextDelta or type(event) is ReasoningDelta:
        return {"block_id": event.block_id, "text": event.text}
    if type(event) is ToolCallDelta:
        return {"call_id": event.call_id, "args_delta": event.args_delta}
    if type(event) is Error:
        return _error_fields(event, expose)
    cls = type(event)
    names = _FIELDS.get(cls)
    if names is None:
        raise TypeError(f"not a streamkit.llm event: {cls.__name__}")
    return {name: getattr(event, name) for name in names}


class _SSE:
    __slots__ = ("done", "expose")

    def __init__(self, expose: bool) -> None:
        self.expose = expose
        self.done = False

    def feed(self, event: LLMEvent) -> ServerSentEvent:
        if type(event) is TextDelta or type(event) is ReasoningDelta:
            raw = orjson.dumps({"block_id": event.block_id, "text": event.text})
        else:
            if isinstance(event, Finish | Error):
                self.done = True
            raw = dumps(_fields(event, self.expose))
        data = escape_line_separators(raw).decode()
        # Valid by construction: one line of JSON, a constant ASCII type.
        sse: ServerSentEvent = unchecked_event(data, event.type, None, None)
        return sse

    def end(self) -> None:
        return None


class _JSONL:
    __slots__ = ("done", "expose")

    def __init__(self, expose: bool) -> None:
        self.expose = expose
        self.done = False

    def end(self) -> None:
        return None

    def feed(self, event: LLMEvent) -> dict[str, Any]:
        if isinstance(event, Finish | Error):
            self.done = True
        record: dict[str, Any] = {"type": event.type}
        record.update(_fields(event, self.expose))
        return record


@overload
def to_sse(
    events: AsyncIterable[LLMEvent], *, expose_errors: bool = False
) -> AsyncGenerator[ServerSentEvent, None]: ...


@overload
def to_sse(
    events: Iterable[LLMEvent], *, expose_errors: bool = False
) -> Generator[ServerSentEvent, None, None]: ...


def to_sse(
    events: Iterable[LLMEvent] | AsyncIterable[LLMEvent], *, expose_errors: bool = False
) -> Generator[ServerSentEvent, None, None] | AsyncGenerator[ServerSentEvent, None]:
    """One Server-Sent Event per uniform event, for an ``SSEResponse``:
    ``event:`` is the event's ``type`` (``text-delta``, ``tool-call-end``,
    ...) and the data its fields as compact JSON, without ``type`` and
    ``raw``. An error's message is replaced by :data:`GENERIC_ERROR_TEXT`
    unless ``expose_errors``; its kind, code, status and retryable flag are
    kept.

    Example::

        return SSEResponse(to_sse(from_openai_chat(stream)))
        # event: text-delta
        # data: {"block_id":"text-0","text":"Hel"}
    """
    return _run(events, _SSE(expose_errors))


@overload
def to_jsonl(
    events: AsyncIterable[LLMEvent], *, expose_errors: bool = False
) -> AsyncGenerator[dict[str, Any], None]: ...


@overload
def to_jsonl(
    events: Iterable[LLMEvent], *, expose_errors: bool = False
) -> Generator[dict[str, Any], None, None]: ...


def to_jsonl(
    events: Iterable[LLMEvent] | AsyncIterable[LLMEvent], *, expose_errors: bool = False
) -> Generator[dict[str, Any], None, None] | AsyncGenerator[dict[str, Any], None]:
    """One plain dict per uniform event (``type`` first, no ``raw``; errors
    sanitised as by :func:`to_sse`), for a ``JSONLResponse``::

        return JSONLResponse(to_jsonl(from_openai_chat(stream)))
        # {"type":"text-delta","block_id":"text-0","text":"Hel"}
    """
    return _run(events, _JSONL(expose_errors))


# -- OpenAI Chat Completions chunks -------------------------------------------------------

#: Unified reason → the ``finish_reason`` OpenAI clients know. A refusal ends
#: with "stop", as OpenAI's own refusal streams do (the text came as
#: ``refusal`` deltas); "error" and "other" have no OpenAI value: "stop".
OPENAI_FINISH: Final[dict[FinishReason, str]] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "stop",
    "error": "stop",
    "other": "stop",
}

_DONE: Final = b"data: [DONE]\n\n"
_ROLE: Final = b'{"role":"assistant","content":""}'


def openai_error_frame(
    message: str, *, type: str | None = "server_error", code: str | None = None
) -> bytes:
    """The frame OpenAI-compatible servers (vLLM, LiteLLM) send for a failure
    after the first byte: ``data: {"error": {"message", "type", "param",
    "code"}}``; openai-python raises ``openai.APIError`` with that message."""
    body = {"error": {"message": message, "type": type, "param": None, "code": code}}
    return b"data: " + escape_line_separators(dumps(body)) + b"\n\n"


def _usage_json(usage: Usage) -> dict[str, Any]:
    # CompletionUsage requires the three counts: an unknown one is sent as 0.
    prompt = usage.input_tokens or 0
    completion = usage.output_tokens or 0
    total = usage.total_tokens if usage.total_tokens is not None else prompt + completion
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
    }
    if usage.cache_read_tokens is not None:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cache_read_tokens}
    if usage.reasoning_tokens is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def _json(value: str) -> bytes:
    return escape_line_separators(orjson.dumps(value))


class _OpenAIChat:
    __slots__ = (
        "active",
        "done",
        "ended",
        "expose",
        "head",
        "include_usage",
        "model",
        "prefix",
        "queued",
        "reasoning_key",
        "refusals",
        "suffix",
        "tools",
        "usage",
    )

    def __init__(
        self, model: str, include_usage: bool, reasoning_field: str | None, expose: bool
    ) -> None:
        self.model = model
        self.include_usage = include_usage
        self.reasoning_key = (
            None if reasoning_field is None else b"{" + _json(reasoning_field) + b":"
        )
        self.expose = expose
        self.done = False
        self.head = b""  # 'data: {"id":...,"model":...' : the same on every chunk
        self.prefix = b""  # head + the choice up to its delta
        # With include_usage, OpenAI sends "usage": null on every other chunk.
        self.suffix = (
            b',"logprobs":null,"finish_reason":null}]'
            + (b',"usage":null' if include_usage else b"")
            + b"}\n\n"
        )
        self.refusals: set[str] = set()
        self.tools: dict[str, bytes] = {}  # call id -> '{"tool_calls":[{"index":i,'
        # Tool calls go out one after another, as OpenAI sends them: the
        # frames of a call that starts while another is streaming wait here.
        self.active: str | None = None
        self.queued: dict[str, list[bytes]] = {}
        self.ended: set[str] = set()  # queued calls that are complete
        self.usage: Usage | None = None

    def _start(self, response_id: str | None, model: str | None) -> bytes:
        if not response_id:
            response_id = f"chatcmpl-{uuid.uuid4().hex}"
        head = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model or self.model,
        }
        self.head = b"data: " + escape_line_separators(dumps(head))[:-1]
        self.prefix = self.head + b',"choices":[{"index":0,"delta":'
        return self.prefix + _ROLE + self.suffix

    def feed(self, event: LLMEvent) -> bytes | None:
        if not self.head and type(event) is not StreamStart:  # a stream without its StreamStart
            return self._start(None, None) + (self.feed(event) or b"")
        if type(event) is TextDelta:
            key = b'{"refusal":' if event.block_id in self.refusals else b'{"content":'
            return self.prefix + key + _json(event.text) + b"}" + self.suffix
        if type(event) is ToolCallDelta:
            head = self.tools.get(event.call_id)
            if head is None:
                return None
            args = _json(event.args_delta)
            frame = self.prefix + head + b'"function":{"arguments":' + args + b"}}]}" + self.suffix
            if event.call_id != self.active:
                queued = self.queued.get(event.call_id)
                if queued is not None:
                    queued.append(frame)
                    return None
            return frame
        if type(event) is ReasoningDelta:
            if self.reasoning_key is None:
                return None
            return self.prefix + self.reasoning_key + _json(event.text) + b"}" + self.suffix
        if type(event) is StreamStart:
            return self._start(event.response_id, event.model)
        return self._other(event)

    def _other(self, event: LLMEvent) -> bytes | None:
        if isinstance(event, TextStart):
            if event.kind == "refusal":
                self.refusals.add(event.block_id)
        elif isinstance(event, ToolCallStart):
            index = len(self.tools)  # dense and in order: clients index a list by it
            self.tools[event.call_id] = b'{"tool_calls":[{"index":%d,' % index
            call = {
                "index": index,
                "id": event.call_id,
                "type": "function",
                "function": {"name": event.name, "arguments": ""},
            }
            frame = (
                self.prefix + escape_line_separators(dumps({"tool_calls": [call]})) + self.suffix
            )
            if self.active is None:
                self.active = event.call_id
                return frame
            self.queued[event.call_id] = [frame]
        elif isinstance(event, ToolCallEnd):
            if event.call_id == self.active:
                self.active = None
                return self._flush() or None
            if event.call_id in self.queued:
                self.ended.add(event.call_id)
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finish):
            return self._flush(everything=True) + self._finish(
                OPENAI_FINISH.get(event.reason, "stop")
            )
        elif isinstance(event, Error):
            self.done = True
            message = event.message if self.expose else GENERIC_ERROR_TEXT
            error = openai_error_frame(message, type=event.kind or "server_error", code=event.code)
            return self._flush(everything=True) + error
        return None

    def _flush(self, *, everything: bool = False) -> bytes:
        """The frames of the queued calls, up to the first one still open."""
        out: list[bytes] = []
        while self.queued and (everything or self.active is None):
            call_id = next(iter(self.queued))
            out += self.queued.pop(call_id)
            if call_id in self.ended:
                self.ended.discard(call_id)
            else:
                self.active = call_id
        return b"".join(out)

    def _finish(self, reason: str) -> bytes:
        self.done = True
        parts = [
            self.prefix,
            b'{},"logprobs":null,"finish_reason":"',
            reason.encode(),
            b'"}]',
            b',"usage":null}\n\n' if self.include_usage else b"}\n\n",
        ]
        if self.include_usage and self.usage is not None:
            usage = dumps(_usage_json(self.usage))
            parts += [self.head, b',"choices":[],"usage":', usage, b"}\n\n"]
        parts.append(_DONE)
        return b"".join(parts)

    def end(self) -> bytes | None:
        if self.done:
            return None
        return self.feed(_incomplete())


@overload
def to_openai_chat_sse(
    events: AsyncIterable[LLMEvent],
    *,
    model: str = "streamkit",
    include_usage: bool = False,
    reasoning_field: str | None = "reasoning_content",
    expose_errors: bool = False,
) -> AsyncGenerator[bytes, None]: ...


@overload
def to_openai_chat_sse(
    events: Iterable[LLMEvent],
    *,
    model: str = "streamkit",
    include_usage: bool = False,
    reasoning_field: str | None = "reasoning_content",
    expose_errors: bool = False,
) -> Generator[bytes, None, None]: ...


def to_openai_chat_sse(
    events: Iterable[LLMEvent] | AsyncIterable[LLMEvent],
    *,
    model: str = "streamkit",
    include_usage: bool = False,
    reasoning_field: str | None = "reasoning_content",
    expose_errors: bool = False,
) -> Generator[bytes, None, None] | AsyncGenerator[bytes, None]:
    """The stream as an OpenAI-compatible server sends it: ``data:`` frames
    of ``chat.completion.chunk`` JSON, then ``data: [DONE]``. Any OpenAI
    client (openai-python, openai-node, LangChain, the AI SDK's
    openai-compatible provider) reads it as a Chat Completions stream.

    Every chunk has the same ``id`` (``StreamStart.response_id`` as it is,
    so it matches the provider's logs, as OpenRouter passes on its ``gen-``
    ids; else a new ``chatcmpl-`` one), ``created`` and ``model``
    (the stream's model, else ``model``). The first delta is ``{"role":
    "assistant", "content": ""}``; text goes in ``content``, refusal text in
    ``refusal``, reasoning in ``reasoning_field`` (``"reasoning_content"``
    as DeepSeek and vLLM; ``"reasoning"`` as OpenRouter and Ollama; None
    drops it). A tool call's first fragment has its ``index`` (0, 1, ... in
    the order calls start), ``id``, ``type`` and name, the next ones only
    argument text; calls go out one after another, as OpenAI sends them
    (openai-python's stream helper takes a new call as the end of the
    previous one), so the fragments of a call that starts while another is
    streaming are held until that one ends. The finish chunk has an empty
    delta and the ``finish_reason`` (see :data:`OPENAI_FINISH`: refusal,
    error and other become "stop"). With ``include_usage`` (pass what the
    request asked:
    ``body.get("stream_options", {}).get("include_usage", False)``) a usage
    chunk with empty ``choices`` follows, if the stream reported usage.

    An :class:`~streamkit.llm.Error` (or a stream that just stops) ends with
    ``data: {"error": {"message", "type", "param", "code"}}`` and no
    ``[DONE]``: openai-python raises ``openai.APIError`` with the message
    (:data:`GENERIC_ERROR_TEXT` unless ``expose_errors``).
    """
    return _run(events, _OpenAIChat(model, include_usage, reasoning_field, expose_errors))


# -- the AI SDK UI message stream -----------------------------------------------------------

#: Unified reason → the AI SDK's ``finishReason``. A refusal is reported as
#: "content-filter", as the AI SDK's own Anthropic provider maps Claude's
#: ``stop_reason: "refusal"``: the UI can tell the answer was withheld.
VERCEL_FINISH: Final[dict[FinishReason, str]] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool-calls",
    "content_filter": "content-filter",
    "refusal": "content-filter",
    "error": "error",
    "other": "other",
}


def _part(part: dict[str, Any]) -> bytes:
    return b"data: " + escape_line_separators(dumps(part)) + b"\n\n"


def vercel_error_frame(error_text: str) -> bytes:
    """An AI SDK ``error`` part: ``useChat`` ends in its error state with
    ``error.message == error_text``."""
    return _part({"type": "error", "errorText": error_text})


_START_STEP: Final = b'data: {"type":"start-step"}\n\n'
_FINISH_STEP: Final = b'data: {"type":"finish-step"}\n\n'


def _delta_prefix(kind: str, key: str, value: str, field: str) -> bytes:
    """``data: {"type":kind,key:value,field:`` (the delta and ``}`` follow)."""
    return b'data: {"type":"%s","%s":%s,"%s":' % (
        kind.encode(),
        key.encode(),
        _json(value),
        field.encode(),
    )


class _VercelUI:
    __slots__ = (
        "blocks",
        "done",
        "error_text",
        "expose",
        "finish_reason",
        "message_id",
        "started",
        "tools",
    )

    def __init__(
        self,
        message_id: str | None,
        expose: bool,
        error_text: Callable[[Error], str] | None,
        finish_reason: bool,
    ) -> None:
        self.message_id = message_id
        self.expose = expose
        self.error_text = error_text
        self.finish_reason = finish_reason
        self.done = False
        self.started = False
        # The constant head of each open block's and tool call's delta parts.
        self.blocks: dict[str, bytes] = {}
        self.tools: dict[str, tuple[bytes, bool]] = {}  # call id -> (head, provider-executed)

    def _start(self) -> bytes:
        self.started = True
        start: dict[str, Any] = {"type": "start"}
        if self.message_id is not None:
            start["messageId"] = self.message_id
        return _part(start) + _START_STEP

    def feed(self, event: LLMEvent) -> bytes | None:
        if not self.started and type(event) is not StreamStart:  # a stream without its StreamStart
            return self._start() + (self.feed(event) or b"")
        if type(event) is TextDelta or type(event) is ReasoningDelta:
            head = self.blocks.get(event.block_id)
            if head is None:  # a delta outside its block: sent as is, the client decides
                kind = "text-delta" if type(event) is TextDelta else "reasoning-delta"
                head = _delta_prefix(kind, "id", event.block_id, "delta")
            return head + _json(event.text) + b"}\n\n"
        if type(event) is ToolCallDelta:
            tool = self.tools.get(event.call_id)
            if tool is None:
                head = _delta_prefix(
                    "tool-input-delta", "toolCallId", event.call_id, "inputTextDelta"
                )
            else:
                head = tool[0]
            return head + _json(event.args_delta) + b"}\n\n"
        if type(event) is StreamStart:
            return None if self.started else self._start()
        return self._other(event)

    def _other(self, event: LLMEvent) -> bytes | None:
        if isinstance(event, TextStart | ReasoningStart):
            kind = "text" if isinstance(event, TextStart) else "reasoning"
            self.blocks[event.block_id] = _delta_prefix(
                f"{kind}-delta", "id", event.block_id, "delta"
            )
            return _part({"type": f"{kind}-start", "id": event.block_id})
        if isinstance(event, TextEnd | ReasoningEnd):
            self.blocks.pop(event.block_id, None)
            kind = "text" if isinstance(event, TextEnd) else "reasoning"
            return _part({"type": f"{kind}-end", "id": event.block_id})
        if isinstance(event, ToolCallStart):
            head = _delta_prefix("tool-input-delta", "toolCallId", event.call_id, "inputTextDelta")
            self.tools[event.call_id] = (head, event.provider_executed)
            start: dict[str, Any] = {
                "type": "tool-input-start",
                "toolCallId": event.call_id,
                "toolName": event.name,
            }
            if event.provider_executed:
                start["providerExecuted"] = True
            return _part(start)
        if isinstance(event, ToolCallEnd):
            return self._tool_end(event)
        if isinstance(event, Finish):
            return self._finish(VERCEL_FINISH.get(event.reason, "other"))
        if isinstance(event, Error):
            return self._error(event)
        return None  # usage: the protocol has no part for it

    def _tool_end(self, event: ToolCallEnd) -> bytes:
        part: dict[str, Any] = {
            "type": "tool-input-available",
            "toolCallId": event.call_id,
            "toolName": event.name,
            "input": event.args,
        }
        if event.args is None:
            # The model's own malformed output, not a server secret: the AI
            # SDK shows invalid tool calls' error text to the client too.
            part["type"] = "tool-input-error"
            part["input"] = event.args_json
            part["errorText"] = f"Invalid JSON arguments for {event.name!r}: {event.parse_error}"
        tool = self.tools.pop(event.call_id, None)
        if tool is not None and tool[1]:
            part["providerExecuted"] = True
        return _part(part)

    def _finish(self, reason: str) -> bytes:
        self.done = True
        finish: dict[str, Any] = {"type": "finish"}
        if self.finish_reason:
            finish["finishReason"] = reason
        return _FINISH_STEP + _part(finish) + _DONE

    def _error(self, error: Error) -> bytes:
        if self.error_text is not None:
            text = self.error_text(error)
        else:
            text = error.message if self.expose else GENERIC_ERROR_TEXT
        # The AI SDK's own server ends a failed model stream exactly so
        # (streamText → toUIMessageStream): the error part, then finish-step
        # and finish with finishReason "error", then [DONE]. useChat stops at
        # the error part and settles in status "error" (its processing
        # throws on it); readUIMessageStream reports the error and goes on,
        # so the finish and [DONE] let it end cleanly instead of waiting for
        # the connection to close.
        return vercel_error_frame(text) + self._finish("error")

    def end(self) -> bytes | None:
        if self.done:
            return None
        return self.feed(_incomplete())


@overload
def to_vercel_ui(
    events: AsyncIterable[LLMEvent],
    *,
    message_id: str | None = None,
    expose_errors: bool = False,
    error_text: Callable[[Error], str] | None = None,
    finish_reason: bool = True,
) -> AsyncGenerator[bytes, None]: ...


@overload
def to_vercel_ui(
    events: Iterable[LLMEvent],
    *,
    message_id: str | None = None,
    expose_errors: bool = False,
    error_text: Callable[[Error], str] | None = None,
    finish_reason: bool = True,
) -> Generator[bytes, None, None]: ...


def to_vercel_ui(
    events: Iterable[LLMEvent] | AsyncIterable[LLMEvent],
    *,
    message_id: str | None = None,
    expose_errors: bool = False,
    error_text: Callable[[Error], str] | None = None,
    finish_reason: bool = True,
) -> Generator[bytes, None, None] | AsyncGenerator[bytes, None]:
    """The stream in the AI SDK's UI message stream protocol (v1, AI SDK 5
    and later), which ``useChat`` reads; serve it with ``VercelUIResponse``
    (which adds the ``x-vercel-ai-ui-message-stream: v1`` header).

    Parts: ``start`` (with ``messageId`` if given, else the client makes
    one), ``start-step``; ``text-start`` / ``text-delta`` / ``text-end`` and
    ``reasoning-*`` with the block ids; ``tool-input-start``,
    ``tool-input-delta`` (the raw argument text), then
    ``tool-input-available`` with the parsed input, or ``tool-input-error``
    with the raw text when it is not a JSON object; ``finish-step``,
    ``finish`` with the ``finishReason`` (see :data:`VERCEL_FINISH`; a
    refusal is "content-filter"), and ``data: [DONE]``. Only the fields of
    the strict schemas of ai@5.0.92 are used; ``finish_reason=False`` drops
    ``finishReason``, for clients on ai 5.0.0 to 5.0.91, whose strict schema
    rejects it (``tool-input-error`` needs ai >= 5.0.7).

    An :class:`~streamkit.llm.Error` (or a stream that just stops) sends an
    ``error`` part whose ``errorText`` is ``error_text(error)`` if given, the
    provider's message with ``expose_errors``, else :data:`GENERIC_ERROR_TEXT`
    (the AI SDK masks errors too), then ``finish-step``, ``finish``
    ("error") and ``[DONE]``, as the AI SDK's own server does; ``useChat``
    then ends in its error state.
    """
    return _run(events, _VercelUI(message_id, expose_errors, error_text, finish_reason))
