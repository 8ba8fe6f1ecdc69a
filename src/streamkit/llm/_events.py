"""The uniform LLM stream events: one vocabulary for every provider.

A stream is a sequence of these frozen dataclasses, each with a ``type``
discriminator, shaped like blocks: a block (text, reasoning, a tool call)
opens, gets deltas, and closes; blocks may interleave (parallel tool calls)
but never reopen. Usage is a cumulative snapshot (a later one replaces an
earlier one). Exactly one terminal event ends every stream: :class:`Finish`
or :class:`Error`, after the last usage, with every block closed first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "FINISH_REASONS",
    "Error",
    "Finish",
    "FinishReason",
    "LLMEvent",
    "ReasoningDelta",
    "ReasoningEnd",
    "ReasoningStart",
    "StreamStart",
    "TextDelta",
    "TextEnd",
    "TextStart",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolCallStart",
    "Usage",
]

FinishReason: TypeAlias = Literal[
    "stop", "length", "tool_calls", "content_filter", "refusal", "error", "other"
]
FINISH_REASONS: tuple[FinishReason, ...] = (
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "refusal",
    "error",
    "other",
)


@dataclass(frozen=True, slots=True)
class StreamStart:
    """The stream began: the provider's response id and model, if given."""

    provider: str
    response_id: str | None = None
    model: str | None = None
    type: Literal["start"] = field(default="start", init=False)


@dataclass(frozen=True, slots=True)
class TextStart:
    """A text block opens. ``kind="refusal"`` for a model's refusal text."""

    block_id: str
    kind: Literal["text", "refusal"] = "text"
    type: Literal["text-start"] = field(default="text-start", init=False)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """More text for an open text block."""

    block_id: str
    text: str
    type: Literal["text-delta"] = field(default="text-delta", init=False)


@dataclass(frozen=True, slots=True)
class TextEnd:
    """A text block closes."""

    block_id: str
    type: Literal["text-end"] = field(default="text-end", init=False)


@dataclass(frozen=True, slots=True)
class ReasoningStart:
    """A reasoning (thinking) block opens; ``kind="summary"`` when the
    provider streams a summary of its reasoning rather than the reasoning."""

    block_id: str
    kind: Literal["raw", "summary"] = "raw"
    type: Literal["reasoning-start"] = field(default="reasoning-start", init=False)


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """More reasoning text for an open reasoning block."""

    block_id: str
    text: str
    type: Literal["reasoning-delta"] = field(default="reasoning-delta", init=False)


@dataclass(frozen=True, slots=True)
class ReasoningEnd:
    """A reasoning block closes, with the provider's signature (Anthropic,
    Gemini) or redacted content, to send back in the next request."""

    block_id: str
    signature: str | None = None
    redacted: str | None = None
    type: Literal["reasoning-end"] = field(default="reasoning-end", init=False)


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    """A tool call opens. ``call_id`` is the id the client sends back with
    the result (synthesised as ``call_<index>`` when the provider has none);
    ``index`` is the call's position among this response's calls."""

    call_id: str
    name: str
    index: int
    provider_executed: bool = False
    type: Literal["tool-call-start"] = field(default="tool-call-start", init=False)


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call's arguments, as raw JSON text."""

    call_id: str
    args_delta: str
    type: Literal["tool-call-delta"] = field(default="tool-call-delta", init=False)


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    """A tool call closes: ``args_json`` is the whole argument text (the
    deltas joined; ``"{}"`` when there were none), ``args`` its parsed value,
    or None with ``parse_error`` saying why (truncated or invalid JSON)."""

    call_id: str
    name: str
    args_json: str
    args: dict[str, Any] | None
    parse_error: str | None = None
    type: Literal["tool-call-end"] = field(default="tool-call-end", init=False)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts so far, as cumulative totals: a later ``Usage`` replaces
    an earlier one. ``output_tokens`` includes reasoning tokens, of which
    ``reasoning_tokens`` is the part; None where the provider did not say.
    ``raw`` is the provider's own usage object."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    raw: dict[str, Any] | None = field(default=None, compare=False)
    type: Literal["usage"] = field(default="usage", init=False)

    def as_dict(self) -> dict[str, int]:
        """The counts the provider gave, without the absent ones."""
        return {
            name: value
            for name in (
                "input_tokens",
                "output_tokens",
                "total_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
                "reasoning_tokens",
            )
            if (value := getattr(self, name)) is not None
        }


@dataclass(frozen=True, slots=True)
class Finish:
    """The stream ended normally. ``reason`` is unified across providers;
    ``raw_reason`` is the provider's own value."""

    reason: FinishReason
    raw_reason: str | None = None
    type: Literal["finish"] = field(default="finish", init=False)


@dataclass(frozen=True, slots=True)
class Error:
    """The stream failed: a provider error sent in the stream (after an
    HTTP 200), an SDK exception raised while iterating, or a stream that
    ended without a finish signal.

    Attributes:
        message: the provider's message.
        code: the provider's error code, if any.
        kind: its error type (``overloaded_error``, ``insufficient_quota``,
            ``incomplete`` for a stream cut short, ...).
        status: an HTTP status, when one is known.
        retryable: whether the same request may succeed if retried
            (overloaded, rate limited, server errors).
        provider: which adapter produced it.
        raw: the provider's error object.
    """

    message: str
    code: str | None = None
    kind: str | None = None
    status: int | None = None
    retryable: bool = False
    provider: str = ""
    raw: dict[str, Any] | None = field(default=None, compare=False)
    type: Literal["error"] = field(default="error", init=False)


LLMEvent: TypeAlias = (
    StreamStart
    | TextStart
    | TextDelta
    | TextEnd
    | ReasoningStart
    | ReasoningDelta
    | ReasoningEnd
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | Usage
    | Finish
    | Error
)
