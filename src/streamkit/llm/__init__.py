"""LLM streams: provider adapters to one uniform event stream, and the
output protocols browsers and SDKs consume.

Adapters (``from_openai_chat``, ``from_openai_responses``, ``from_anthropic``,
``from_gemini``, ``from_langchain``, ``from_ollama``, or ``normalize`` to pick
one from the first item) turn what an SDK or a provider's HTTP stream yields
into uniform events; outputs (``to_text``, ``to_sse``, ``to_openai_chat_sse``,
``to_vercel_ui``, ``to_jsonl``) turn events into what a client reads;
:func:`accumulate` folds events into the final result. The response classes
for the protocols are in :mod:`streamkit.starlette` (``OpenAIChatResponse``,
``VercelUIResponse``).
"""

from streamkit.llm._accumulate import LLMResult, ToolCall, accumulate
from streamkit.llm._anthropic import from_anthropic
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
from streamkit.llm._gemini import from_gemini
from streamkit.llm._langchain import from_langchain
from streamkit.llm._normalize import detect_provider, normalize
from streamkit.llm._ollama import from_ollama
from streamkit.llm._openai_chat import from_openai_chat
from streamkit.llm._openai_responses import from_openai_responses
from streamkit.llm._outputs import (
    LLMStreamError,
    to_jsonl,
    to_openai_chat_sse,
    to_sse,
    to_text,
    to_vercel_ui,
)
from streamkit.llm._wire import ndjson, sse_json

__all__ = [
    "FINISH_REASONS",
    "Error",
    "Finish",
    "FinishReason",
    "LLMEvent",
    "LLMResult",
    "LLMStreamError",
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
    "from_anthropic",
    "from_gemini",
    "from_langchain",
    "from_ollama",
    "from_openai_chat",
    "from_openai_responses",
    "ndjson",
    "normalize",
    "sse_json",
    "to_jsonl",
    "to_openai_chat_sse",
    "to_sse",
    "to_text",
    "to_vercel_ui",
]
