"""Folding a uniform event stream into its final result."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any, overload

from streamkit.llm._events import (
    Error,
    Finish,
    FinishReason,
    LLMEvent,
    ReasoningDelta,
    ReasoningEnd,
    TextDelta,
    TextStart,
    ToolCallEnd,
    Usage,
)

__all__ = ["LLMResult", "ToolCall", "accumulate"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call: ``args`` parsed, or None with ``parse_error``."""

    id: str
    name: str
    args: dict[str, Any] | None
    args_json: str
    parse_error: str | None = None


@dataclass(slots=True)
class LLMResult:
    """What a stream amounted to.

    Attributes:
        text: the text, all blocks joined (refusal text included).
        refusal: the refusal text alone, if the model refused.
        reasoning: the reasoning text, all blocks joined.
        signatures: the reasoning blocks' signatures, in order.
        tool_calls: the tool calls, in the order they completed.
        usage: the last usage snapshot, or None if none came.
        finish: the unified finish reason, or None if the stream failed.
        raw_finish: the provider's own finish reason.
        error: the error that ended the stream, or None.
    """

    text: str = ""
    refusal: str = ""
    reasoning: str = ""
    signatures: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish: FinishReason | None = None
    raw_finish: str | None = None
    error: Error | None = None


class _Folder:
    __slots__ = ("reasoning", "refusal", "refusal_blocks", "result", "text")

    def __init__(self) -> None:
        self.result = LLMResult()
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.reasoning: list[str] = []
        self.refusal_blocks: set[str] = set()

    def add(self, event: LLMEvent) -> None:
        if isinstance(event, TextDelta):
            self.text.append(event.text)
            if event.block_id in self.refusal_blocks:
                self.refusal.append(event.text)
        elif isinstance(event, ReasoningDelta):
            self.reasoning.append(event.text)
        elif isinstance(event, TextStart):
            if event.kind == "refusal":
                self.refusal_blocks.add(event.block_id)
        elif isinstance(event, ToolCallEnd):
            self.result.tool_calls.append(
                ToolCall(event.call_id, event.name, event.args, event.args_json, event.parse_error)
            )
        elif isinstance(event, ReasoningEnd):
            if event.signature:
                self.result.signatures.append(event.signature)
        elif isinstance(event, Usage):
            self.result.usage = event
        elif isinstance(event, Finish):
            self.result.finish = event.reason
            self.result.raw_finish = event.raw_reason
        elif isinstance(event, Error):
            self.result.error = event

    def done(self) -> LLMResult:
        result = self.result
        result.text = "".join(self.text)
        result.refusal = "".join(self.refusal)
        result.reasoning = "".join(self.reasoning)
        return result


async def _accumulate_async(events: AsyncIterable[LLMEvent]) -> LLMResult:
    folder = _Folder()
    async for event in events:
        folder.add(event)
    return folder.done()


@overload
def accumulate(events: AsyncIterable[LLMEvent]) -> Awaitable[LLMResult]: ...


@overload
def accumulate(events: Iterable[LLMEvent]) -> LLMResult: ...


def accumulate(
    events: Iterable[LLMEvent] | AsyncIterable[LLMEvent],
) -> LLMResult | Awaitable[LLMResult]:
    """The final result of an event stream: text, reasoning, tool calls with
    parsed arguments, usage, finish reason and error.

    Given an async iterable, returns an awaitable::

        result = await accumulate(from_openai_chat(stream))
    """
    if isinstance(events, AsyncIterable):
        return _accumulate_async(events)
    folder = _Folder()
    for event in events:
        folder.add(event)
    return folder.done()
