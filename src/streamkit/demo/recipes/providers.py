"""Real provider SDKs behind streaming endpoints: OpenAI (or any
OpenAI-compatible server), Anthropic and Gemini.

Configuration comes from the environment, read at each request:

* ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_MODEL``: without a base
  URL and a key, the gallery's own fake ``/v1/chat/completions`` is used, so
  this recipe runs out of the box; with a key only, api.openai.com;
* ``ANTHROPIC_API_KEY`` (``ANTHROPIC_BASE_URL``, ``ANTHROPIC_MODEL``);
* ``GEMINI_API_KEY`` (``GEMINI_MODEL``).

What it shows:

* **Streaming vs not.** ``/providers/openai/stream`` sends tokens as they
  come; ``/providers/openai/complete`` waits for the whole answer and sends
  JSON; ``/providers/openai/stream-sync`` streams from a plain ``def``
  endpoint with the sync client (the SDK stream is read on a thread).
* **Failing before the first byte.** The first chunk is awaited *before*
  the response starts: transient failures (connection errors, 429, 5xx) are
  retried with :func:`streamkit.retry_until_first`; a rejected API key is
  not retried and becomes a real ``401``/``502`` status, not a ``200`` with
  an empty body.
* **Disconnects cancel the upstream.** When the client hangs up, the
  response closes the output, which closes the adapter, which closes the SDK
  stream and its HTTP request: the provider stops generating. Point the
  recipe at the gallery's fake and watch ``/ai/streams``: the upstream
  stream shows ``cancelled``.

The SDKs are imported when a route is called, so the module (and the
gallery) works without them; a missing SDK or key is a ``503``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterator
from typing import Any, Final

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from streamkit import retry_until_first
from streamkit.demo.fake_llm import MODEL as FAKE_MODEL
from streamkit.llm import from_anthropic, from_gemini, from_openai_chat, to_text
from streamkit.starlette import TextStreamResponse

#: Tries in all before the first chunk (the first try and two retries).
ATTEMPTS: Final = 3


class Prompt(BaseModel):
    prompt: str = "Say hello"
    max_tokens: int | None = None


def _unavailable(what: str) -> HTTPException:
    return HTTPException(503, f"{what} is not configured or not installed")


def openai_settings(request: Request) -> tuple[str | None, str, str]:
    """(base URL, API key, model) from the environment, defaulting to the
    gallery's own fake OpenAI-compatible endpoint."""
    base_url = os.environ.get("OPENAI_BASE_URL")
    api_key = os.environ.get("OPENAI_API_KEY")
    if base_url is None and api_key is None:
        return f"{str(request.base_url).rstrip('/')}/v1", "demo", FAKE_MODEL
    default_model = FAKE_MODEL if base_url and "127.0.0.1" in base_url else "gpt-4o-mini"
    return base_url, api_key or "none", os.environ.get("OPENAI_MODEL", default_model)


async def _close(stream: object) -> None:
    close = getattr(stream, "aclose", None) or getattr(stream, "close", None)
    if close is not None:
        result = close()
        if inspect.isawaitable(result):
            await result


async def first_then_rest(
    factory: Callable[[], Awaitable[AsyncIterable[Any]]],
    *,
    transient: Callable[[BaseException], bool],
    to_http: Callable[[Exception], HTTPException | None],
    client: object,
) -> AsyncGenerator[Any, None]:
    """Open the upstream and get its first chunk now (retrying transient
    failures), raising an ``HTTPException`` if that fails; returns a stream
    of that chunk and the rest, which closes the SDK stream, then the
    ``client`` (its connection pool), when closed."""
    opened: list[object] = [client]

    async def make() -> AsyncIterable[Any]:
        stream = await factory()
        opened.append(stream)  # to close the SDK stream itself, not only its iterator
        return stream

    upstream = retry_until_first(make, attempts=ATTEMPTS, backoff=0.2, retry_on=transient)
    try:
        first = await anext(upstream)
    except StopAsyncIteration:
        first = None
    except Exception as exc:
        for stream in reversed(opened):
            await _close(stream)
        http = to_http(exc)
        if http is None:
            raise
        raise http from exc

    async def chunks() -> AsyncGenerator[Any, None]:
        try:
            if first is not None:
                yield first
                async for chunk in upstream:
                    yield chunk
        finally:
            await upstream.aclose()
            for stream in reversed(opened):
                await _close(stream)

    return chunks()


def _openai_transient(exc: BaseException) -> bool:
    import openai

    return isinstance(
        exc, openai.APIConnectionError | openai.RateLimitError | openai.InternalServerError
    )


def _openai_http(exc: Exception) -> HTTPException | None:
    import openai

    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return HTTPException(401, "the upstream rejected the API key")
    if isinstance(exc, openai.APIStatusError):
        return HTTPException(502, f"the upstream answered {exc.status_code}")
    if isinstance(exc, openai.APIConnectionError):
        return HTTPException(502, "the upstream could not be reached")
    return None


def router() -> APIRouter:
    api = APIRouter(tags=["providers"])

    @api.post("/providers/openai/stream", response_class=TextStreamResponse)
    async def openai_stream(body: Prompt, request: Request) -> TextStreamResponse:
        """Stream an OpenAI(-compatible) answer as text."""
        try:
            import openai
        except ImportError:
            raise _unavailable("the openai SDK") from None
        base_url, api_key, model = openai_settings(request)
        client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0)

        def create() -> Awaitable[AsyncIterable[Any]]:
            return client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": body.prompt}],
                max_tokens=body.max_tokens,
                stream=True,
                stream_options={"include_usage": True},
            )

        chunks = await first_then_rest(
            create, transient=_openai_transient, to_http=_openai_http, client=client
        )
        return TextStreamResponse(to_text(from_openai_chat(chunks)))

    @api.post("/providers/openai/stream-sync", response_class=TextStreamResponse)
    def openai_stream_sync(body: Prompt, request: Request) -> TextStreamResponse:
        """The same from a sync endpoint and the sync client: FastAPI runs
        the endpoint on a thread, streamkit reads the SDK stream on one."""
        try:
            import openai
        except ImportError:
            raise _unavailable("the openai SDK") from None
        base_url, api_key, model = openai_settings(request)
        client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=2)
        try:  # the SDK retries transient errors itself (max_retries)
            stream = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": body.prompt}],
                max_tokens=body.max_tokens,
                stream=True,
            )
        except openai.APIError as exc:
            client.close()
            raise _openai_http(exc) or HTTPException(502, "upstream error") from exc

        def chunks() -> Iterator[Any]:
            # Closed on streamkit's thread when the client hangs up: the SDK
            # stream (its HTTP response), then the client's connection pool.
            with client, stream:
                yield from stream

        return TextStreamResponse(to_text(from_openai_chat(chunks())))

    @api.post("/providers/openai/complete")
    async def openai_complete(body: Prompt, request: Request) -> dict[str, Any]:
        """Not streamed: wait for the whole answer, send JSON."""
        try:
            import openai
        except ImportError:
            raise _unavailable("the openai SDK") from None
        base_url, api_key, model = openai_settings(request)
        try:
            async with openai.AsyncOpenAI(
                base_url=base_url, api_key=api_key, max_retries=2
            ) as client:
                completion = await client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": body.prompt}],
                    max_tokens=body.max_tokens,
                )
        except openai.APIError as exc:
            raise _openai_http(exc) or HTTPException(502, "upstream error") from exc
        choice = completion.choices[0]
        return {
            "text": choice.message.content,
            "finish_reason": choice.finish_reason,
            "usage": completion.usage.model_dump() if completion.usage else None,
        }

    @api.post("/providers/anthropic/stream", response_class=TextStreamResponse)
    async def anthropic_stream(body: Prompt) -> TextStreamResponse:
        """Stream a Claude answer as text (needs ``ANTHROPIC_API_KEY``)."""
        api_key = os.environ.get("ANTHROPIC_API_KEY")
        try:
            import anthropic
        except ImportError:
            raise _unavailable("the anthropic SDK") from None
        if not api_key:
            raise _unavailable("ANTHROPIC_API_KEY")
        client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=os.environ.get("ANTHROPIC_BASE_URL"), max_retries=0
        )

        def transient(exc: BaseException) -> bool:
            return isinstance(exc, anthropic.APIConnectionError | anthropic.RateLimitError) or (
                isinstance(exc, anthropic.APIStatusError) and exc.status_code >= 500
            )

        def to_http(exc: Exception) -> HTTPException | None:
            if isinstance(exc, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
                return HTTPException(401, "the upstream rejected the API key")
            if isinstance(exc, anthropic.APIStatusError):
                return HTTPException(502, f"the upstream answered {exc.status_code}")
            if isinstance(exc, anthropic.APIConnectionError):
                return HTTPException(502, "the upstream could not be reached")
            return None

        async def create() -> AsyncIterable[Any]:
            stream: AsyncIterable[Any] = await client.messages.create(
                model=os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-6"),
                max_tokens=body.max_tokens or 1024,
                messages=[{"role": "user", "content": body.prompt}],
                stream=True,
            )
            return stream

        chunks = await first_then_rest(create, transient=transient, to_http=to_http, client=client)
        return TextStreamResponse(to_text(from_anthropic(chunks)))

    @api.post("/providers/gemini/stream", response_class=TextStreamResponse)
    async def gemini_stream(body: Prompt) -> TextStreamResponse:
        """Stream a Gemini answer as text (needs ``GEMINI_API_KEY``)."""
        api_key = os.environ.get("GEMINI_API_KEY")
        try:
            from google import genai
            from google.genai import errors
        except ImportError:
            raise _unavailable("the google-genai SDK") from None
        if not api_key:
            raise _unavailable("GEMINI_API_KEY")
        client = genai.Client(api_key=api_key)

        def transient(exc: BaseException) -> bool:
            return isinstance(exc, errors.ServerError) or (
                isinstance(exc, errors.ClientError) and exc.code == 429
            )

        def to_http(exc: Exception) -> HTTPException | None:
            if isinstance(exc, errors.ClientError) and exc.code in (400, 401, 403):
                return HTTPException(401, "the upstream rejected the API key")
            if isinstance(exc, errors.APIError):
                return HTTPException(502, f"the upstream answered {exc.code}")
            return None

        async def create() -> AsyncIterable[Any]:
            return await client.aio.models.generate_content_stream(
                model=os.environ.get("GEMINI_MODEL", "gemini-2.5-flash"), contents=body.prompt
            )

        chunks = await first_then_rest(
            create, transient=transient, to_http=to_http, client=client.aio
        )
        return TextStreamResponse(to_text(from_gemini(chunks)))

    return api
