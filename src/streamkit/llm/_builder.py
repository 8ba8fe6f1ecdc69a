"""The state machine every adapter drives, which keeps the stream invariants.

An adapter reads provider items and tells an :class:`EventBuilder` what it
saw ("text for block 0", "tool call 1 has arguments ...", "finish reason
stop", "usage ..."). The builder emits the uniform events and guarantees, for
every provider alike:

* one :class:`StreamStart` first;
* a block opens before its deltas and closes after them, and never reopens
  (text for a closed key opens a new block with a new id);
* a tool call's deltas wait until its name is known; its end carries the
  whole argument text and the parsed arguments or a parse error;
* usage is a cumulative snapshot;
* exactly one terminal event, after the last usage, with every open block
  closed first: the finish is held until the stream ends, so a usage chunk
  that follows the provider's finish signal still comes before it; a stream
  that ends without a finish signal ends with an :class:`Error`; after an
  error, nothing more is emitted.

Adapters are sans-I/O: ``feed(item)`` then ``drain()`` the events; the
drivers in :mod:`streamkit.llm._drive` do the iterating.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, Literal

import orjson

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

__all__ = ["EventBuilder", "error_from_exception", "parse_args"]

#: Provider error types after which the same request may well succeed.
RETRYABLE_KINDS: Final = frozenset(
    {
        "overloaded_error",
        "rate_limit_error",
        "api_error",
        "server_error",
        "rate_limit_exceeded",
        "internal_error",
        "timeout",
        "incomplete",
        "UNAVAILABLE",
        "RESOURCE_EXHAUSTED",
        "INTERNAL",
        "DEADLINE_EXCEEDED",
    }
)


def retryable_status(status: int | None) -> bool:
    return status is not None and (status in (408, 409, 429) or status >= 500)


def parse_args(args_json: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a tool call's argument text: (the object, None) or (None, why)."""
    try:
        value = orjson.loads(args_json)
    except orjson.JSONDecodeError:
        try:  # the standard library's message says where, in characters
            json.loads(args_json)
        except ValueError as exc:
            return None, str(exc)
        return None, "invalid JSON"  # pragma: no cover - orjson is stricter only on NaN etc.
    if not isinstance(value, dict):
        return None, f"the arguments are a JSON {type(value).__name__}, not an object"
    return value, None


#: "No key" for ``end_blocks``: None is a key like any other.
_NO_KEY: Final[Any] = object()


class _Block:
    __slots__ = ("block_id", "kind", "redacted", "signature")

    def __init__(self, block_id: str, kind: str) -> None:
        self.block_id = block_id
        self.kind = kind
        self.signature: str | None = None
        self.redacted: str | None = None


class _Tool:
    __slots__ = ("call_id", "index", "name", "parts", "pending", "provider_executed", "started")

    def __init__(self, call_id: str | None, name: str | None, index: int, executed: bool) -> None:
        self.call_id = call_id
        self.name = name
        self.index = index
        self.provider_executed = executed
        self.parts: list[str] = []
        self.pending: list[str] = []  # deltas held until the name is known
        self.started = False


class EventBuilder:
    """Collects the uniform events of one stream; see the module docstring."""

    __slots__ = (
        "_blocks",
        "_call_ids",
        "_count",
        "_deferred",
        "_finish",
        "_started",
        "_tool_count",
        "_tools",
        "_usage",
        "done",
        "out",
        "provider",
        "saw_tool_calls",
    )

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.out: list[LLMEvent] = []
        self.done = False
        self.saw_tool_calls = False
        self._started = False
        self._blocks: dict[object, _Block] = {}
        self._count = 0
        self._tools: dict[object, _Tool] = {}
        self._tool_count = 0
        self._call_ids: set[str] = set()
        self._usage: Usage | None = None
        self._deferred: Callable[[], Usage] | None = None
        self._finish: tuple[FinishReason, str | None, bool] | None = None

    def drain(self) -> list[LLMEvent]:
        """The events produced since the last call."""
        out = self.out
        self.out = []
        return out

    # -- start -----------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started

    def start(self, response_id: str | None = None, model: str | None = None) -> None:
        if not self._started and not self.done:
            self._started = True
            self.out.append(StreamStart(self.provider, response_id, model))

    def _ensure_started(self) -> None:
        if not self._started:
            self._started = True
            self.out.append(StreamStart(self.provider))

    # -- text and reasoning -----------------------------------------------------------

    def _open(self, key: object, kind: str, sub: str) -> _Block:
        block = self._blocks.get(key)
        if block is not None and block.kind == kind:
            return block
        if block is not None:  # the key now names another kind of block
            self.end(key)
        self._ensure_started()
        block = _Block(f"{kind}-{self._count}", kind)
        self._count += 1
        self._blocks[key] = block
        if kind == "reasoning":
            self.out.append(ReasoningStart(block.block_id, sub))  # type: ignore[arg-type]
        else:
            self.out.append(TextStart(block.block_id, sub))  # type: ignore[arg-type]
        return block

    def text(self, key: object, text: str, kind: Literal["text", "refusal"] = "text") -> None:
        """Text for the text block ``key`` (opened on first use)."""
        if self.done or not text:
            return
        block = self._open(key, "text" if kind == "text" else "refusal", kind)
        self.out.append(TextDelta(block.block_id, text))

    def reasoning(self, key: object, text: str, kind: Literal["raw", "summary"] = "raw") -> None:
        """Reasoning text for the reasoning block ``key`` (opened on first use)."""
        if self.done or not text:
            return
        block = self._open(key, "reasoning", kind)
        self.out.append(ReasoningDelta(block.block_id, text))

    def reasoning_signature(
        self, key: object, signature: str | None = None, redacted: str | None = None
    ) -> None:
        """A signature (or redacted content) for the reasoning block ``key``,
        sent with its end; opens the block if it has not been seen."""
        if self.done:
            return
        block = self._open(key, "reasoning", "raw")
        if signature:
            block.signature = (block.signature or "") + signature
        if redacted:
            block.redacted = (block.redacted or "") + redacted

    def is_open(self, key: object) -> bool:
        return key in self._blocks or (key in self._tools and not self.done)

    def end(self, key: object) -> None:
        """Close the block or tool call ``key`` if it is open."""
        block = self._blocks.pop(key, None)
        if block is not None:
            if block.kind == "reasoning":
                self.out.append(ReasoningEnd(block.block_id, block.signature, block.redacted))
            else:
                self.out.append(TextEnd(block.block_id))
            return
        if key in self._tools:
            self.tool_end(key)

    def end_blocks(self, *, except_key: object = _NO_KEY) -> None:
        """Close every open text and reasoning block (but ``except_key``)."""
        for key in [k for k in self._blocks if except_key is _NO_KEY or k != except_key]:
            self.end(key)

    # -- tool calls ---------------------------------------------------------------------

    def tool_start(
        self,
        key: object,
        *,
        call_id: str | None = None,
        name: str | None = None,
        index: int | None = None,
        provider_executed: bool = False,
    ) -> None:
        """A tool call ``key`` begins (or more is learnt about it: an id, a
        name). Its deltas are held until the name is known."""
        if self.done:
            return
        tool = self._tools.get(key)
        if tool is None:
            tool = _Tool(call_id or None, name, self._tool_count if index is None else index, False)
            tool.provider_executed = provider_executed
            self._tool_count += 1
            self._tools[key] = tool
            self.saw_tool_calls = True
        else:
            if call_id and tool.call_id is None:
                tool.call_id = call_id
            if name and not tool.name:
                tool.name = name
        if not tool.started and tool.name:
            self._start_tool(tool)

    def _start_tool(self, tool: _Tool) -> None:
        self._ensure_started()
        call_id = tool.call_id or f"call_{tool.index}"
        if call_id in self._call_ids:  # ids must be unique in a stream
            base, n = f"call_{tool.index}", 1
            call_id = base
            while call_id in self._call_ids:
                call_id = f"{base}_{n}"
                n += 1
        self._call_ids.add(call_id)
        tool.call_id = call_id
        tool.started = True
        assert tool.name is not None
        self.out.append(ToolCallStart(tool.call_id, tool.name, tool.index, tool.provider_executed))
        for part in tool.pending:
            self.out.append(ToolCallDelta(tool.call_id, part))
        tool.pending.clear()

    def tool_args(self, key: object, delta: str) -> None:
        """A fragment of the arguments of tool call ``key``."""
        if self.done or not delta or not isinstance(delta, str):
            return
        tool = self._tools.get(key)
        if tool is None:
            self.tool_start(key)
            tool = self._tools[key]
        tool.parts.append(delta)
        if tool.started:
            assert tool.call_id is not None
            self.out.append(ToolCallDelta(tool.call_id, delta))
        else:
            tool.pending.append(delta)

    def tool_end(self, key: object, full_args: str | None = None) -> None:
        """Tool call ``key`` is complete. ``full_args``: the whole argument
        text when the provider gives it (used if no deltas were seen)."""
        tool = self._tools.pop(key, None)
        if tool is None or self.done:
            return
        if not tool.started:
            if not tool.name:
                tool.name = ""
            self._start_tool(tool)
        assert tool.call_id is not None
        assert tool.name is not None
        args_json = "".join(tool.parts)
        if not args_json and full_args:
            args_json = full_args
            self.out.append(ToolCallDelta(tool.call_id, full_args))
        if not args_json.strip():
            args_json = "{}"  # no arguments at all: an empty object
        args, error = parse_args(args_json)
        self.out.append(ToolCallEnd(tool.call_id, tool.name, args_json, args, error))

    def tool_call(
        self,
        key: object,
        *,
        name: str,
        args: str | dict[str, Any] | None,
        call_id: str | None = None,
        index: int | None = None,
    ) -> None:
        """A whole tool call at once (Gemini, Ollama): start, one delta, end."""
        if self.done:
            return
        if key in self._tools:  # the same key again: a new call
            self.tool_end(key)
        text = args if isinstance(args, str) else orjson.dumps(args or {}).decode()
        self.tool_start(key, call_id=call_id, name=name, index=index)
        self.tool_args(key, text)
        self.tool_end(key)

    # -- usage, finish, errors ---------------------------------------------------------------

    def usage(self, usage: Usage) -> None:
        """A cumulative usage snapshot (replaces the previous one)."""
        if self.done:
            return
        self._ensure_started()
        self._deferred = None  # replaced by this newer snapshot
        self._usage = usage
        self.out.append(usage)

    def defer_usage(self, make: Callable[[], Usage]) -> None:
        """A cumulative usage snapshot, built and sent only if no newer one
        replaces it before the stream ends (for providers that resend their
        running totals on every chunk: one event, not one per chunk)."""
        if not self.done:
            self._deferred = make

    def _flush_usage(self) -> None:
        make = self._deferred
        if make is not None:
            self._deferred = None
            self.usage(make())

    def add_usage(self, increment: Usage) -> None:
        """A usage increment (LangChain's chunks): summed into the snapshot."""
        previous = self._usage
        if previous is None:
            self.usage(increment)
            return

        def plus(a: int | None, b: int | None) -> int | None:
            return b if a is None else a if b is None else a + b

        self.usage(
            Usage(
                plus(previous.input_tokens, increment.input_tokens),
                plus(previous.output_tokens, increment.output_tokens),
                plus(previous.total_tokens, increment.total_tokens),
                plus(previous.cache_read_tokens, increment.cache_read_tokens),
                plus(previous.cache_write_tokens, increment.cache_write_tokens),
                plus(previous.reasoning_tokens, increment.reasoning_tokens),
                increment.raw,
            )
        )

    @property
    def last_usage(self) -> Usage | None:
        if self._deferred is not None:
            self._flush_usage()
        return self._usage

    def finish(
        self, reason: FinishReason, raw_reason: str | None = None, *, stop_with_calls: bool = False
    ) -> None:
        """The provider's finish signal; sent when the stream ends (after
        any usage still to come). ``stop_with_calls``: the provider says
        "stop" for tool calls too (Gemini, Ollama, Responses), so "stop"
        becomes "tool_calls" when calls were seen."""
        if not self.done:
            self._finish = (reason, raw_reason, stop_with_calls)

    def error(
        self,
        message: str,
        *,
        code: str | None = None,
        kind: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        """End the stream with an error (open blocks closed first)."""
        if self.done:
            return
        self._ensure_started()
        self._flush_usage()  # what was used so far still counts
        self._close_all()
        if retryable is None:
            retryable = retryable_status(status) or (kind in RETRYABLE_KINDS)
        self.out.append(Error(message, code, kind, status, retryable, self.provider, raw))
        self.done = True

    def exception(self, exc: BaseException) -> None:
        """End the stream with an error describing an exception the upstream
        raised while being iterated (an SDK's ``APIError``, a network error)."""
        self.error(**error_from_exception(exc))

    def close(self) -> None:
        """The upstream has ended: close what is open and send the terminal
        event (the finish, or an error if there was no finish signal)."""
        if self.done:
            return
        self._flush_usage()
        if self._finish is None:
            self.error(
                "the stream ended without a finish reason",
                kind="incomplete",
                retryable=True,
            )
            return
        self._ensure_started()
        self._close_all()
        reason, raw_reason, stop_with_calls = self._finish
        if stop_with_calls and reason == "stop" and self.saw_tool_calls:
            reason = "tool_calls"
        self.out.append(Finish(reason, raw_reason))
        self.done = True

    def _close_all(self) -> None:
        self.end_blocks()
        for key in list(self._tools):
            self.tool_end(key)


def error_from_exception(exc: BaseException) -> dict[str, Any]:
    """The fields of an :class:`Error` for an exception: the message, and the
    HTTP status, error type and code that SDK exceptions carry."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = getattr(exc, "code", None) if isinstance(getattr(exc, "code", None), int) else None
    body = getattr(exc, "body", None)
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        detail = body if isinstance(body, dict) else {}
    kind = getattr(exc, "type", None) or detail.get("type") or type(exc).__name__
    code = getattr(exc, "code", None)
    if code is None or isinstance(code, int):
        code = detail.get("code")
    # The body's own message first: SDKs' ``message`` is often the whole body
    # printed ("Error code: 529 - {'type': 'error', ...}").
    message = (
        detail.get("message") or getattr(exc, "message", None) or str(exc) or type(exc).__name__
    )
    network = isinstance(exc, (TimeoutError, ConnectionError)) or type(exc).__name__ in (
        "APIConnectionError",
        "APITimeoutError",
        "ReadTimeout",
        "ConnectError",
        "RemoteProtocolError",
        "ReadError",
    )
    return {
        "message": str(message),
        "code": None if code is None else str(code),
        "kind": str(kind),
        "status": status,
        "retryable": network or retryable_status(status) or str(kind) in RETRYABLE_KINDS,
        "raw": detail or None,
    }
