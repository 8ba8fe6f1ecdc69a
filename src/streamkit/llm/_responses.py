"""Starlette / FastAPI responses for the two LLM wire protocols that clients
read with their own SDKs: an OpenAI-compatible Chat Completions stream and
the AI SDK's UI message stream.

Both are :class:`~streamkit.starlette.SSEResponse` subclasses, so they get
the whole streaming lifecycle (chunking, disconnects closing the upstream,
heartbeat comments, errors before the first byte as real HTTP statuses); what
they change is what the client is told when things go wrong, in the words its
SDK understands:

* a failure after the first byte (an exception, not an ``Error`` event, which
  the output encodes itself) sends the protocol's error frame before the
  transfer is aborted;
* a server shutdown sends a frame the SDK turns into an error, rather than
  the ``event: shutdown`` with empty data of a plain SSE stream, which
  openai-python would try to parse as JSON.

Importing this module imports starlette.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any, ClassVar, Final, TypeAlias

from starlette.background import BackgroundTask
from starlette.types import Receive, Scope, Send

from streamkit._formats.errorinfo import ErrorInfo
from streamkit._streams.sources import close_unstarted
from streamkit.llm._events import Error, LLMEvent
from streamkit.llm._outputs import (
    openai_error_frame,
    to_openai_chat_sse,
    to_vercel_ui,
    vercel_error_frame,
)
from streamkit.starlette import SSEResponse, StreamResponse

__all__ = ["OpenAIChatResponse", "VercelUIResponse"]

Events: TypeAlias = Iterable[LLMEvent] | AsyncIterable[LLMEvent]

#: What a client is told when the server closes a stream to shut down.
SHUTDOWN_TEXT: Final = "The server is shutting down."


class _LLMResponse(SSEResponse):
    """Closes the event stream itself on HEAD: the output generator wrapped
    around it was never started, so closing that alone would leave an
    upstream (an SDK stream holding an HTTP response) open."""

    events: Events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD":
            await close_unstarted(self.events)
        await super().__call__(scope, receive, send)


class OpenAIChatResponse(_LLMResponse):
    """Serve uniform events as an OpenAI-compatible Chat Completions stream
    (see :func:`~streamkit.llm.to_openai_chat_sse`), for an endpoint that
    ``openai.OpenAI(base_url=...)`` and every other OpenAI client can call.

    Args:
        events: a sync or async iterable of uniform events.
        model: the ``model`` of every chunk when the stream does not name one.
        include_usage: send the usage chunk; pass what the request asked for,
            ``body.get("stream_options", {}).get("include_usage", False)``.
        reasoning_field: the delta field for reasoning text, or None to drop it.
        expose_errors: send the provider's error messages (and exceptions'
            texts) instead of a generic text.
        options: as for :class:`~streamkit.starlette.SSEResponse`
            (``heartbeat``, ``send_timeout``, ...).

    A failure after the first byte sends ``data: {"error": {...}}``, on which
    openai-python raises ``openai.APIError``, and a shutdown sends the same
    frame saying so. Heartbeats are comment lines, which OpenAI clients skip.

    Example::

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> OpenAIChatResponse:
            body = await request.json()
            stream = await upstream.chat.completions.create(**body)
            return OpenAIChatResponse(
                from_openai_chat(stream),
                model=body["model"],
                include_usage=body.get("stream_options", {}).get("include_usage", False),
            )
    """

    def __init__(
        self,
        events: Events,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        model: str = "streamkit",
        include_usage: bool = False,
        reasoning_field: str | None = "reasoning_content",
        expose_errors: bool = False,
        **options: Any,
    ) -> None:
        self.events = events
        output = to_openai_chat_sse(
            events,
            model=model,
            include_usage=include_usage,
            reasoning_field=reasoning_field,
            expose_errors=expose_errors,
        )
        super().__init__(
            output,
            status_code,
            headers,
            media_type,
            background,
            expose_errors=expose_errors,
            **options,
        )

    def render_error(self, info: ErrorInfo) -> bytes:
        return openai_error_frame(info.message, code=info.code)

    def closing_frame(self) -> bytes | None:
        # Not SSEResponse's "event: shutdown" with empty data: openai-python
        # parses every event's data as JSON and would fail on it with a
        # JSONDecodeError; an error frame becomes an APIError saying why.
        return openai_error_frame(SHUTDOWN_TEXT, code="server_shutting_down")


class VercelUIResponse(_LLMResponse):
    """Serve uniform events in the AI SDK's UI message stream protocol v1
    (see :func:`~streamkit.llm.to_vercel_ui`), for ``useChat`` and the AI
    SDK's ``DefaultChatTransport``.

    Args:
        events: a sync or async iterable of uniform events.
        message_id: the assistant message's id (the client makes one if None).
        expose_errors: send the provider's error messages (and exceptions'
            texts) instead of the AI SDK's generic "An error occurred.".
        error_text: ``error_text(error) -> str``, the text of an ``Error``
            event's error part (overrides ``expose_errors`` for it).
        finish_reason: send ``finishReason`` in the ``finish`` part (False
            for clients on ai 5.0.0 to 5.0.91, whose strict schema rejects it).
        options: as for :class:`~streamkit.starlette.SSEResponse`.

    Adds the ``x-vercel-ai-ui-message-stream: v1`` header the AI SDK expects
    from custom backends (not its ``connection: keep-alive``, which HTTP/2
    forbids). A failure after the first byte sends an ``error`` part; a
    shutdown sends an ``error`` part saying the server is shutting down, then
    ``[DONE]``, so ``useChat`` ends in its error state (and the user can
    retry) rather than showing a cut-off answer as complete, which is what an
    ``abort`` part would do: ``useChat`` ignores it and reports "ready".

    Example::

        @app.post("/api/chat")
        async def chat(request: Request) -> VercelUIResponse:
            ui_messages = (await request.json())["messages"]
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=as_chat_messages(ui_messages), stream=True
            )  # as_chat_messages: your conversion of the UI messages
            return VercelUIResponse(from_openai_chat(stream))
    """

    default_headers: ClassVar[Mapping[str, str]] = {
        **StreamResponse.default_headers,
        "x-vercel-ai-ui-message-stream": "v1",
    }

    def __init__(
        self,
        events: Events,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        *,
        message_id: str | None = None,
        expose_errors: bool = False,
        error_text: Callable[[Error], str] | None = None,
        finish_reason: bool = True,
        **options: Any,
    ) -> None:
        self.events = events
        output = to_vercel_ui(
            events,
            message_id=message_id,
            expose_errors=expose_errors,
            error_text=error_text,
            finish_reason=finish_reason,
        )
        super().__init__(
            output,
            status_code,
            headers,
            media_type,
            background,
            expose_errors=expose_errors,
            **options,
        )

    def render_error(self, info: ErrorInfo) -> bytes:
        # The transfer is aborted right after it; useChat stops at the part.
        return vercel_error_frame(info.message)

    def closing_frame(self) -> bytes | None:
        # As the AI SDK's createUIMessageStream ends when its execute throws:
        # an error part, then [DONE]. useChat settles in status "error".
        return vercel_error_frame(SHUTDOWN_TEXT) + b"data: [DONE]\n\n"
