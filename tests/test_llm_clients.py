"""The LLM response classes against real clients on a real server.

* The official ``openai`` SDK calls an endpoint returning
  ``OpenAIChatResponse`` and reassembles what a fake model sent: text,
  reasoning, two parallel tool calls with streamed arguments, usage; errors,
  exceptions, heartbeats and server shutdowns arrive as the SDK expects.
* The ``ai`` npm package (the AI SDK) reads an endpoint returning
  ``VercelUIResponse`` with the same code ``useChat`` runs (``AbstractChat`` +
  ``DefaultChatTransport``, see ``tests/js/read-ui-message.mjs``), in its
  current version and in ai@5.0.92, whose strict schemas reject any
  undocumented key.

Without ``node`` (or npm, or ``openai``) the tests that need it skip locally
and fail when ``CI`` is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamkit._formats.jsonl import JSONLDecoder
from streamkit._formats.sse_decoder import SSEDecoder
from streamkit.llm._events import (
    Error,
    Finish,
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
from streamkit.llm._outputs import GENERIC_ERROR_TEXT, to_jsonl, to_sse, to_text
from streamkit.starlette import (
    SHUTDOWN_TEXT,
    JSONLResponse,
    OpenAIChatResponse,
    SSEResponse,
    TextStreamResponse,
    VercelUIResponse,
    close_open_streams,
)
from streamkit.testing import run_server

from .llm_fixtures import check_invariants

if TYPE_CHECKING:
    import openai
else:
    try:
        import openai
    except ImportError:  # pragma: no cover - see need_openai
        openai = None

JS_DIR: Final = Path(__file__).parent / "js"
READER: Final = JS_DIR / "read-ui-message.mjs"
#: Seconds a client may take for one whole exchange with the test server.
CLIENT_TIMEOUT: Final = 30.0
#: Seconds for `npm ci` (a cold npm cache downloads ~30 MB).
NPM_TIMEOUT: Final = 300.0

# -- the fake model -------------------------------------------------------------------------

REASONING = ["The user wants ", "the weather ", "and news."]
TEXT = ["Let me ", "check — ", "one moment ☀️."]
CALLS = [
    ("call_weather", "get_weather", ['{"city": ', '"Paris", ', '"unit": "c"}']),
    ("call_news", "search_news", ['{"query"', ': "Paris"', ', "limit": 3}']),
]
USAGE = Usage(input_tokens=42, output_tokens=17, total_tokens=59, reasoning_tokens=5)


def model_events(ending: str = "finish") -> list[LLMEvent]:
    """What the fake model says: reasoning, text, then two parallel tool
    calls whose argument fragments interleave. ``ending``: "finish", or
    "error" for a provider error after the text."""
    events: list[LLMEvent] = [StreamStart("fake", "chatcmpl-fake123", "fake-model-1")]
    events += [
        ReasoningStart("reasoning-0"),
        *(ReasoningDelta("reasoning-0", t) for t in REASONING),
    ]
    events += [ReasoningEnd("reasoning-0"), TextStart("text-1")]
    events += [*(TextDelta("text-1", t) for t in TEXT), TextEnd("text-1")]
    if ending == "error":
        return [
            *events,
            Error(
                "Overloaded; request req_8 for org-secret",
                code="overloaded",
                kind="overloaded_error",
                status=529,
                retryable=True,
                provider="fake",
            ),
        ]
    events += [ToolCallStart(call_id, name, i) for i, (call_id, name, _) in enumerate(CALLS)]
    for fragments in zip(*(parts for _, _, parts in CALLS), strict=True):
        events += [
            ToolCallDelta(call_id, part)
            for (call_id, _, _), part in zip(CALLS, fragments, strict=True)
        ]
    for call_id, name, parts in CALLS:
        args = "".join(parts)
        events.append(ToolCallEnd(call_id, name, args, json.loads(args)))
    return [*events, USAGE, Finish("tool_calls", "tool_calls")]


def test_the_fake_model_keeps_the_stream_invariants() -> None:
    check_invariants(model_events())
    check_invariants(model_events("error"))


async def fake_model(
    ending: str = "finish", *, first_delay: float = 0.0, raise_after_text: bool = False
) -> AsyncIterator[LLMEvent]:
    """The events, one scheduler step apart (a slow first one if asked)."""
    await anyio.sleep(first_delay)
    for event in model_events(ending):
        if raise_after_text and isinstance(event, TextEnd):
            raise RuntimeError("the database password is hunter2")
        yield event
        await anyio.sleep(0)


class EndlessModel:
    """Text forever; ``sending`` is set once the stream has been under way
    for a moment (its first bytes are out)."""

    def __init__(self) -> None:
        self.sending = threading.Event()

    async def events(self) -> AsyncIterator[LLMEvent]:
        yield StreamStart("fake", "chatcmpl-endless", "fake-model-1")
        yield TextStart("text-0")
        yield TextDelta("text-0", "Once upon a time")
        await anyio.sleep(0.3)
        self.sending.set()
        while True:
            await anyio.sleep(0.05)
            yield TextDelta("text-0", ".")


def app_for(respond: Callable[[Request], Response], path: str) -> Starlette:
    async def endpoint(request: Request) -> Response:
        request.state.body = await request.json()
        return respond(request)

    return Starlette(routes=[Route(path, endpoint, methods=["POST"])])


def require(what: str, found: bool) -> None:
    """Skip a test for a missing tool locally; fail it in CI."""
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is required in CI")
        pytest.skip(f"{what} is not available")


# -- the openai SDK -------------------------------------------------------------------------------

CHAT_PATH: Final = "/v1/chat/completions"
REQUEST: Final[dict[str, Any]] = {
    "model": "fake-model-1",
    "messages": [{"role": "user", "content": "Weather and news for Paris?"}],
}


@pytest.fixture
def need_openai() -> None:
    require("the openai package", openai is not None)


#: The openai SDK's async client on asyncio only: on trio, the SDK leaves its
#: own inner async generators to the garbage collector after [DONE], which
#: trio reports as ResourceWarnings. (The server side runs on uvicorn's
#: asyncio loop either way.)
on_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])


def chat_app(
    *,
    ending: str = "finish",
    fake: dict[str, Any] | None = None,
    sync: bool = False,
    **options: Any,
) -> Starlette:
    def respond(request: Request) -> Response:
        body = request.state.body
        events = model_events(ending) if sync else fake_model(ending, **(fake or {}))
        return OpenAIChatResponse(
            events,
            model=body["model"],
            include_usage=body.get("stream_options", {}).get("include_usage", False),
            **options,
        )

    return app_for(respond, CHAT_PATH)


def async_client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=CLIENT_TIMEOUT
    )


def check_completion(completion: Any, *, usage: bool) -> None:
    """What the SDK's own accumulator made of the stream."""
    choice = completion.choices[0]
    message = choice.message
    assert completion.id == "chatcmpl-fake123"
    assert completion.model == "fake-model-1"
    assert message.role == "assistant"
    assert message.content == "".join(TEXT)
    # The SDK keeps the fields it does not know (reasoning_content) as extras.
    assert message.model_extra.get("reasoning_content") == "".join(REASONING)
    calls = [(c.id, c.type, c.function.name, c.function.arguments) for c in message.tool_calls]
    assert calls == [(i, "function", n, "".join(p)) for i, n, p in CALLS]
    assert choice.finish_reason == "tool_calls"
    if usage:
        assert completion.usage is not None
        assert (
            completion.usage.prompt_tokens,
            completion.usage.completion_tokens,
            completion.usage.total_tokens,
            completion.usage.completion_tokens_details.reasoning_tokens,
        ) == (42, 17, 59, 5)
    else:
        assert completion.usage is None


@pytest.mark.anyio
@on_asyncio
@pytest.mark.usefixtures("need_openai")
async def test_the_openai_sdk_stream_helper_reassembles_text_tool_calls_and_usage() -> None:
    with run_server(chat_app()) as url:
        client = async_client(url)
        async with client.chat.completions.stream(
            **REQUEST, stream_options={"include_usage": True}
        ) as stream:
            events = [event async for event in stream]
            completion = await stream.get_final_completion()
        await client.close()
    check_completion(completion, usage=True)
    # The first chunk's "content": "" is a delta too, as with OpenAI itself.
    deltas = [e.delta for e in events if e.type == "content.delta"]
    assert deltas == ["", *TEXT]
    done = [(e.name, e.arguments) for e in events if e.type == "tool_calls.function.arguments.done"]
    assert done == [(name, "".join(parts)) for _, name, parts in CALLS]


@pytest.mark.anyio
@on_asyncio
@pytest.mark.usefixtures("need_openai")
async def test_the_openai_sdk_reads_raw_chunks_without_usage_unless_asked() -> None:
    from openai.lib.streaming.chat import ChatCompletionStreamState

    with run_server(chat_app()) as url:
        client = async_client(url)
        chunks = [c async for c in await client.chat.completions.create(**REQUEST, stream=True)]
        await client.close()
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(chunk)
    check_completion(state.get_final_completion(), usage=False)
    assert all(chunk.usage is None and chunk.choices for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"


@pytest.mark.usefixtures("need_openai")
def test_the_sync_openai_client_reads_the_same_stream_from_sync_events() -> None:
    from openai.lib.streaming.chat import ChatCompletionStreamState

    with run_server(chat_app(sync=True)) as url:
        client = openai.OpenAI(
            base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=CLIENT_TIMEOUT
        )
        with client.chat.completions.create(
            **REQUEST, stream=True, stream_options={"include_usage": True}
        ) as stream:
            chunks = list(stream)
        client.close()
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(chunk)
    check_completion(state.get_final_completion(), usage=True)
    assert chunks[-1].choices == []


@pytest.mark.anyio
@on_asyncio
@pytest.mark.usefixtures("need_openai")
@pytest.mark.parametrize(
    ("expose", "message"),
    [(True, "Overloaded; request req_8 for org-secret"), (False, GENERIC_ERROR_TEXT)],
)
async def test_a_model_error_makes_the_openai_sdk_raise_api_error(
    expose: bool, message: str
) -> None:
    with run_server(chat_app(ending="error", expose_errors=expose)) as url:
        client = async_client(url)
        text: list[str] = []
        with pytest.raises(openai.APIError) as caught:
            async for chunk in await client.chat.completions.create(**REQUEST, stream=True):
                text.append(chunk.choices[0].delta.content or "")  # noqa: PERF401
        await client.close()
    assert "".join(text) == "".join(TEXT)
    assert caught.value.message == message
    assert (caught.value.type, caught.value.code) == ("overloaded_error", "overloaded")


@pytest.mark.anyio
@on_asyncio
@pytest.mark.usefixtures("need_openai")
async def test_an_exception_after_the_first_byte_makes_the_openai_sdk_raise_api_error() -> None:
    app = chat_app(fake={"raise_after_text": True})
    with run_server(app, fail_on_app_error=False) as url:
        client = async_client(url)
        with pytest.raises(openai.APIError) as caught:
            async for _ in await client.chat.completions.create(**REQUEST, stream=True):
                pass
        await client.close()
    assert caught.value.message == "The stream failed because of an internal error."
    assert "hunter2" not in str(caught.value.body)


@pytest.mark.anyio
@on_asyncio
@pytest.mark.usefixtures("need_openai")
async def test_heartbeats_before_the_first_chunk_do_not_disturb_the_openai_sdk() -> None:
    app = chat_app(heartbeat=0.05, fake={"first_delay": 0.4})
    with run_server(app) as url:
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
            raw = await http.post(f"{url}{CHAT_PATH}", json=REQUEST)
        client = async_client(url)
        async with client.chat.completions.stream(**REQUEST) as stream:
            completion = await stream.get_final_completion()
        await client.close()
    assert raw.content.startswith(b":\n"), raw.content[:40]  # a heartbeat came first
    assert raw.content.endswith(b"data: [DONE]\n\n")
    check_completion(completion, usage=False)


@pytest.mark.anyio
@on_asyncio
@pytest.mark.usefixtures("need_openai")
async def test_a_server_shutdown_makes_the_openai_sdk_raise_api_error() -> None:
    model = EndlessModel()
    app = app_for(lambda request: OpenAIChatResponse(model.events()), CHAT_PATH)
    with run_server(app) as url:
        client = async_client(url)
        stream = await client.chat.completions.create(**REQUEST, stream=True)
        with pytest.raises(openai.APIError) as caught:
            async for chunk in stream:
                if model.sending.is_set() and chunk.choices[0].delta.content == ".":
                    assert close_open_streams() == 1
        await client.close()
    assert caught.value.message == SHUTDOWN_TEXT
    assert caught.value.code == "server_shutting_down"


@pytest.mark.anyio
@on_asyncio
@pytest.mark.usefixtures("need_openai")
async def test_the_openai_sdk_chokes_on_a_plain_sse_shutdown_event() -> None:
    """Why OpenAIChatResponse does not end with SSEResponse's closing event:
    the SDK parses every event's data as JSON, and ``event: shutdown`` has
    none."""
    chunk = {
        "id": "chatcmpl-plain",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}],
    }

    async def chunks() -> AsyncIterator[dict[str, Any]]:
        while True:
            yield chunk
            await anyio.sleep(0.05)

    app = app_for(lambda request: SSEResponse(chunks()), CHAT_PATH)
    with run_server(app) as url:
        client = async_client(url)
        stream = await client.chat.completions.create(**REQUEST, stream=True)
        with pytest.raises(json.JSONDecodeError):
            async for _ in stream:
                close_open_streams()
        await client.close()


def test_the_openai_response_headers() -> None:
    with run_server(chat_app()) as url:
        response = httpx.post(f"{url}{CHAT_PATH}", json=REQUEST, timeout=CLIENT_TIMEOUT)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "connection" not in response.headers  # forbidden in HTTP/2


# -- the plain outputs in streamkit's own responses --------------------------------------------


def plain_app() -> Starlette:
    async def text(request: Request) -> Response:
        ending = request.query_params.get("ending", "finish")
        return TextStreamResponse(to_text(fake_model(ending)))

    async def sse(request: Request) -> Response:
        return SSEResponse(to_sse(fake_model()))

    async def jsonl(request: Request) -> Response:
        return JSONLResponse(to_jsonl(fake_model("error")))

    return Starlette(routes=[Route("/text", text), Route("/sse", sse), Route("/jsonl", jsonl)])


def test_text_ends_cleanly_or_is_cut_off_on_a_model_error() -> None:
    with (
        run_server(plain_app(), fail_on_app_error=False) as url,
        httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT) as client,
    ):
        assert client.get("/text").text == "".join(TEXT)
        received: list[str] = []
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("GET", "/text?ending=error") as response,
        ):
            received.extend(response.iter_text())
    assert "".join(received) == "".join(TEXT)


def test_sse_and_jsonl_outputs_arrive_as_sent() -> None:
    with (
        run_server(plain_app()) as url,
        httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT) as client,
    ):
        decoder = SSEDecoder()
        events = decoder.feed(client.get("/sse").content)
        records = JSONLDecoder().feed(client.get("/jsonl").content)
    assert [(e.event, e.json()) for e in events] == [
        (e.type, {k: v for k, v in r.items() if k != "type"})
        for e, r in zip(model_events(), to_jsonl(model_events()), strict=True)
    ]
    assert records == list(to_jsonl(model_events("error")))
    assert records[-1]["message"] == GENERIC_ERROR_TEXT


# -- the AI SDK (npm "ai") ----------------------------------------------------------------------

UI_PATH: Final = "/api/chat"
SDKS: Final = ["ai", "ai-v5"]


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, with tests/js/node_modules installed."""
    binary = shutil.which("node")
    require("node", binary is not None)
    assert binary is not None
    if not (JS_DIR / "node_modules" / "ai" / "package.json").is_file():
        npm = shutil.which("npm")
        require("npm", npm is not None)
        assert npm is not None
        subprocess.run(
            [npm, "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"],
            check=True,
            timeout=NPM_TIMEOUT,
            capture_output=True,
        )
    return binary


def read_ui(node: str, url: str, sdk: str) -> dict[str, Any]:
    """What the AI SDK's chat made of the stream at ``url``."""
    done = subprocess.run(
        [node, str(READER), url, sdk],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def ui_app(
    *, ending: str = "finish", fake: dict[str, Any] | None = None, **options: Any
) -> Starlette:
    def respond(request: Request) -> Response:
        # The request is the one useChat sends: the chat id and the messages.
        body = request.state.body
        assert body["messages"][-1]["parts"] == [{"type": "text", "text": "Hello"}]
        return VercelUIResponse(fake_model(ending, **(fake or {})), **options)

    return app_for(respond, UI_PATH)


def assistant_parts(result: dict[str, Any]) -> list[dict[str, Any]]:
    message = result["message"]
    assert message is not None
    assert message["role"] == "assistant"
    parts: list[dict[str, Any]] = message["parts"]
    return parts


def check_content_parts(parts: list[dict[str, Any]], *, tools: bool = True) -> None:
    assert parts[0] == {"type": "step-start"}
    reasoning = [p for p in parts if p["type"] == "reasoning"]
    text = [p for p in parts if p["type"] == "text"]
    assert [(p["text"], p["state"]) for p in reasoning] == [("".join(REASONING), "done")]
    assert [(p["text"], p["state"]) for p in text] == [("".join(TEXT), "done")]
    calls = [
        (p["toolCallId"], p["type"], p["state"], p["input"])
        for p in parts
        if p["type"].startswith("tool-")
    ]
    want = [
        (call_id, f"tool-{name}", "input-available", json.loads("".join(fragments)))
        for call_id, name, fragments in CALLS
    ]
    assert calls == (want if tools else [])


@pytest.mark.parametrize("sdk", SDKS)
def test_the_ai_sdk_chat_gets_text_reasoning_and_tool_calls(node: str, sdk: str) -> None:
    with run_server(ui_app(message_id="msg_fake")) as url:
        result = read_ui(node, f"{url}{UI_PATH}", sdk)
    assert (result["status"], result["error"], result["errors"]) == ("ready", None, [])
    assert result["finish"] == {
        "isAbort": False,
        "isDisconnect": False,
        "isError": False,
        "finishReason": "tool-calls",
    }
    assert result["message"]["id"] == "msg_fake"
    check_content_parts(assistant_parts(result))


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize(
    ("expose", "message"),
    [(True, "Overloaded; request req_8 for org-secret"), (False, GENERIC_ERROR_TEXT)],
)
def test_a_model_error_puts_the_ai_sdk_chat_in_its_error_state(
    node: str, sdk: str, expose: bool, message: str
) -> None:
    with run_server(ui_app(ending="error", expose_errors=expose)) as url:
        result = read_ui(node, f"{url}{UI_PATH}", sdk)
    assert result["status"] == "error"
    assert result["error"] == {"name": "Error", "message": message}
    assert result["errors"] == [message]
    assert result["finish"]["isError"] is True
    check_content_parts(assistant_parts(result), tools=False)


@pytest.mark.parametrize("sdk", SDKS)
def test_an_exception_after_the_first_byte_puts_the_ai_sdk_chat_in_its_error_state(
    node: str, sdk: str
) -> None:
    with run_server(ui_app(fake={"raise_after_text": True}), fail_on_app_error=False) as url:
        result = read_ui(node, f"{url}{UI_PATH}", sdk)
    assert result["status"] == "error"
    assert result["error"]["message"] == "The stream failed because of an internal error."
    assert result["finish"]["isError"] is True


@pytest.mark.parametrize("sdk", SDKS)
def test_a_server_shutdown_puts_the_ai_sdk_chat_in_its_error_state(node: str, sdk: str) -> None:
    model = EndlessModel()
    app = app_for(lambda request: VercelUIResponse(model.events()), UI_PATH)
    with run_server(app) as url:
        reader = subprocess.Popen(
            [node, str(READER), f"{url}{UI_PATH}", sdk],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert model.sending.wait(CLIENT_TIMEOUT), "the stream did not start"
            assert close_open_streams() == 1
            out, err = reader.communicate(timeout=CLIENT_TIMEOUT)
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.communicate()
    assert reader.returncode == 0, err
    result = json.loads(out)
    assert result["status"] == "error"
    assert result["error"]["message"] == SHUTDOWN_TEXT
    text = [p["text"] for p in assistant_parts(result) if p["type"] == "text"]
    assert text[0].startswith("Once upon a time")


def test_the_strict_ai_sdk_5_rejects_an_undocumented_key(node: str) -> None:
    """The check the other ai-v5 tests rely on: ai@5.0.92's strict schema
    turns any key it does not know into an error."""

    def respond(request: Request) -> Response:
        frames = [
            b'data: {"type":"start"}\n\n',
            b'data: {"type":"text-start","id":"t","extra":1}\n\n',
            b"data: [DONE]\n\n",
        ]
        return SSEResponse(frames, headers={"x-vercel-ai-ui-message-stream": "v1"})

    with run_server(app_for(respond, UI_PATH)) as url:
        strict = read_ui(node, f"{url}{UI_PATH}", "ai-v5")
        loose = read_ui(node, f"{url}{UI_PATH}", "ai")
    assert strict["status"] == "error"
    assert "extra" in strict["error"]["message"]
    assert loose["status"] == "ready"


def test_the_vercel_ui_response_headers() -> None:
    with run_server(ui_app()) as url:
        response = httpx.post(
            f"{url}{UI_PATH}",
            json={"messages": [{"parts": [{"type": "text", "text": "Hello"}]}]},
            timeout=CLIENT_TIMEOUT,
        )
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["x-accel-buffering"] == "no"
    assert "connection" not in response.headers  # the AI SDK's own server sends one
    assert response.text.endswith("data: [DONE]\n\n")


def test_head_closes_the_event_stream_unread() -> None:
    closed: list[str] = []

    class Upstream(Iterator[LLMEvent]):
        def __next__(self) -> LLMEvent:
            raise AssertionError("HEAD must not read the stream")

        def close(self) -> None:
            closed.append("closed")

    async def endpoint(request: Request) -> Response:
        return VercelUIResponse(Upstream())

    app = Starlette(routes=[Route(UI_PATH, endpoint, methods=["HEAD", "GET"])])
    with run_server(app) as url:
        response = httpx.head(f"{url}{UI_PATH}", timeout=CLIENT_TIMEOUT)
    assert response.status_code == 200
    assert closed == ["closed"]
