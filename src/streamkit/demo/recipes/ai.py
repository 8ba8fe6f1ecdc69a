"""LLM answers streamed from the built-in fake model, in every protocol a
client may speak.

* ``/ai/chat-stream``: plain text (``to_text``), for ``fetch()`` readers and
  ``curl -N``;
* ``/ai/chat-stream-sse``: Server-Sent Events with the metadata
  (``to_sse``: ``start`` with the model, ``text-delta``, ``usage``,
  ``finish``), for ``EventSource``;
* ``/v1/chat/completions``: the OpenAI Chat Completions API, streaming or
  not, so ``openai.OpenAI(base_url="http://127.0.0.1:8000/v1")`` works;
* ``/api/chat``: the Vercel AI SDK's UI message stream, for ``useChat``.

With a real provider only the source changes: ``from_openai_chat(stream)``
(or ``from_anthropic``, ``from_gemini``...) instead of ``demo.llm.stream()``;
see the providers recipe. When the client hangs up, the response closes the
output, which closes the event stream (and, with a real provider, the
upstream request): ``GET /ai/streams`` shows such streams as ``cancelled``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from streamkit.demo._state import Demo
from streamkit.demo.fake_llm import MODEL
from streamkit.llm import accumulate, to_sse, to_text
from streamkit.starlette import (
    OpenAIChatResponse,
    SSEResponse,
    TextStreamResponse,
    VercelUIResponse,
)

#: The API key the fake OpenAI endpoint rejects with a 401.
REJECTED_KEY: Final = "bad-key"

MaxTokens = Annotated[int | None, Query(ge=1, le=100_000)]


class ChatRequest(BaseModel):
    """A prompt, or OpenAI-style messages (the last user message is the prompt)."""

    prompt: str = ""
    messages: list[dict[str, Any]] = []
    max_tokens: int | None = None


def _text_of(content: Any) -> str:
    """The text of an OpenAI message's content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The last user message's text: OpenAI messages (``content``) or the AI
    SDK's UI messages (``parts``)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            if "parts" in message:
                return _text_of(message["parts"])
            return _text_of(message.get("content"))
    return ""


def router(demo: Demo) -> APIRouter:
    api = APIRouter(tags=["ai"])
    llm = demo.llm

    def start(prompt: str, max_tokens: int | None) -> tuple[str, Any]:
        stream_id = f"fake-{secrets.token_hex(6)}"
        return stream_id, llm.stream(prompt, max_tokens=max_tokens, stream_id=stream_id)

    @api.get("/ai/chat-stream", response_class=TextStreamResponse)
    async def chat_text_get(prompt: str = "", max_tokens: MaxTokens = None) -> TextStreamResponse:
        """The answer as plain text (``x-stream-id``: its id in /ai/streams)."""
        stream_id, events = start(prompt, max_tokens)
        return TextStreamResponse(to_text(events), headers={"x-stream-id": stream_id})

    @api.post("/ai/chat-stream", response_class=TextStreamResponse)
    async def chat_text(body: ChatRequest) -> TextStreamResponse:
        """The answer as plain text; the Stop button of the chat page aborts it."""
        prompt = body.prompt or last_user_text(body.messages)
        stream_id, events = start(prompt, body.max_tokens)
        return TextStreamResponse(to_text(events), headers={"x-stream-id": stream_id})

    @api.get("/ai/chat-stream-sse", response_class=SSEResponse)
    async def chat_sse_get(prompt: str = "", max_tokens: MaxTokens = None) -> SSEResponse:
        """The answer as SSE events with metadata (for ``EventSource``)."""
        stream_id, events = start(prompt, max_tokens)
        return SSEResponse(to_sse(events), headers={"x-stream-id": stream_id})

    @api.post("/ai/chat-stream-sse", response_class=SSEResponse)
    async def chat_sse(body: ChatRequest) -> SSEResponse:
        """The answer as SSE events with metadata."""
        prompt = body.prompt or last_user_text(body.messages)
        stream_id, events = start(prompt, body.max_tokens)
        return SSEResponse(to_sse(events), headers={"x-stream-id": stream_id})

    @api.get("/ai/streams")
    async def streams() -> list[dict[str, Any]]:
        """The fake model's recent streams, newest first: ``completed``,
        ``failed``, ``cancelled`` (the client hung up) or ``streaming``."""
        return llm.records()

    @api.get("/ai/streams/{stream_id}")
    async def stream_status(stream_id: str) -> dict[str, Any]:
        """One stream's record."""
        record = llm.record(stream_id)
        if record is None:
            raise HTTPException(404, "no such stream (or forgotten)")
        return asdict(record)

    @api.get("/v1/models")
    async def models() -> dict[str, Any]:
        """The OpenAI models list, with the fake model."""
        return {
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "streamkit"}],
        }

    @api.post("/v1/chat/completions", response_model=None)
    async def chat_completions(
        body: dict[str, Any], request: Request
    ) -> OpenAIChatResponse | JSONResponse:
        """The OpenAI Chat Completions API over the fake model, streaming
        (``"stream": true``) or not. Any API key is accepted except
        ``bad-key``, which gets OpenAI's 401 (to try failures)."""
        if request.headers.get("authorization") == f"Bearer {REJECTED_KEY}":
            return JSONResponse(
                {
                    "error": {
                        "message": "Incorrect API key provided.",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
                status_code=401,
            )
        model = str(body.get("model") or MODEL)
        messages = body.get("messages")
        if not isinstance(messages, list):
            return JSONResponse(
                {"error": {"message": "messages is required", "type": "invalid_request_error"}},
                status_code=400,
            )
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        limit = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None
        stream_id, events = start(last_user_text(messages), limit)
        if body.get("stream"):
            options = body.get("stream_options") or {}
            return OpenAIChatResponse(
                events,
                model=model,
                include_usage=bool(options.get("include_usage", False)),
                headers={"x-stream-id": stream_id},
            )
        result = await accumulate(events)
        if result.error is not None:
            return JSONResponse(
                {"error": {"message": result.error.message, "type": result.error.kind}},
                status_code=503,
            )
        usage = result.usage
        return JSONResponse(
            {
                "id": f"chatcmpl-{stream_id}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.text},
                        "finish_reason": "length" if result.finish == "length" else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": usage.input_tokens if usage else 0,
                    "completion_tokens": usage.output_tokens if usage else 0,
                    "total_tokens": usage.total_tokens if usage else 0,
                },
            },
            headers={"x-stream-id": stream_id},
        )

    @api.post("/api/chat", response_class=VercelUIResponse)
    async def vercel_chat(body: dict[str, Any]) -> VercelUIResponse:
        """The Vercel AI SDK's UI message stream (``useChat``'s default endpoint)."""
        messages = body.get("messages")
        prompt = last_user_text(messages) if isinstance(messages, list) else ""
        stream_id, events = start(prompt, None)
        return VercelUIResponse(events, headers={"x-stream-id": stream_id})

    return api
