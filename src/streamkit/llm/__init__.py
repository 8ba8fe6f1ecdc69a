"""LLM streams: provider adapters to one uniform event stream, and the
output protocols browsers and SDKs consume.

Adapters (``from_openai_chat``, ...) turn what an SDK or a provider's HTTP
stream yields into :mod:`uniform events <streamkit.llm>`; outputs
(``to_text``, ``to_sse``, ...) turn events into what a client reads;
:func:`accumulate` folds events into the final result.
"""

from streamkit.llm._accumulate import LLMResult, ToolCall, accumulate
from streamkit.llm._events import (
    FINISH_REASONS,
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
from streamkit.llm._normalize import detect_provider, normalize
from streamkit.llm._openai_chat import from_openai_chat
from streamkit.llm._wire import ndjson, sse_json

__all__ = [
    "FINISH_REASONS",
    "Error",
    "Finish",
    "FinishReason",
    "LLMEvent",
    "LLMResult",
    "ReasoningDelta",
    "ReasoningEnd",
    "ReasoningStart",
    "StreamStart",
    "TextDelta",
    "TextEnd",
    "TextStart",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolCallStart",
    "Usage",
    "accumulate",
    "detect_provider",
    "from_openai_chat",
    "ndjson",
    "normalize",
    "sse_json",
]
