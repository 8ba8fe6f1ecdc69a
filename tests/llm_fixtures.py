"""Shared by the LLM tests: the recorded provider streams in
``../shared/fixtures/llm`` (tests skip when the folder is absent), which
provider each is of and its expected outcome; checkers for the invariants of
a uniform stream; provider streams that record being closed; the fixtures as
each provider's SDK yields them; and the Hypothesis building blocks of the
per-provider "any stream keeps the invariants" properties."""

from __future__ import annotations

import importlib
import json
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast, overload

import anyio
import httpx
import pytest
from hypothesis import strategies as st
from pydantic import BaseModel

from streamkit.llm import (
    Error,
    Finish,
    LLMEvent,
    LLMResult,
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
    accumulate,
    ndjson,
    sse_json,
)

T = TypeVar("T")

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "llm"


def fixtures_or_skip() -> Path:
    if not (FIXTURES / "expected.jsonl").is_file():
        pytest.skip(f"the LLM fixtures are not present ({FIXTURES})")
    return FIXTURES


def expected_outcomes() -> dict[str, dict[str, Any]]:
    path = FIXTURES / "expected.jsonl"
    if not path.is_file():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            out[record["fixture"]] = record["expected"]
    return out


def wire_items(name: str) -> list[Any]:
    """The provider payloads of a fixture, as the wire gives them (dicts)."""
    path = fixtures_or_skip() / name
    data = path.read_bytes()
    if name.endswith(".sse"):
        return list(sse_json([data]))
    if name.endswith(".ndjson"):
        return list(ndjson([data]))
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


#: Every recorded fixture, by the provider (``normalize``'s name for it) whose
#: adapter reads it; in each provider's order.
FIXTURE_PROVIDERS: dict[str, str] = {
    "openai_chat_text_usage.sse": "openai_chat",
    "openai_chat_parallel_tools.sse": "openai_chat",
    "openrouter_chat_tool_idless_fragments.sse": "openai_chat",
    "derived/openai_compat_midstream_error.sse": "openai_chat",
    "openai_responses_text.sse": "openai_responses",
    "openai_responses_function_call.sse": "openai_responses",
    "openai_responses_error_quota.jsonl": "openai_responses",
    "anthropic_tool_use.sse": "anthropic",
    "anthropic_thinking_text.jsonl": "anthropic",
    "anthropic_max_tokens_truncated_tool.sse": "anthropic",
    "derived/anthropic_midstream_overloaded_error.sse": "anthropic",
    "gemini_text_thought_signature.jsonl": "gemini",
    "gemini_function_call.jsonl": "gemini",
    "vertex_gemini_streamed_function_args.jsonl": "gemini",
    "ollama_generate_midstream_error.ndjson": "ollama",
    "derived/ollama_chat_tools_from_docs.ndjson": "ollama",
}


def fixtures_of(provider: str) -> list[str]:
    """The recorded fixtures of one provider."""
    return [name for name, of in FIXTURE_PROVIDERS.items() if of == provider]


def check_outcome(result: LLMResult, expected: dict[str, Any]) -> None:
    """Compare an accumulated result with a fixture's expected outcome."""
    assert result.text == expected["text"]
    assert result.reasoning == expected["reasoning"]
    assert len(result.tool_calls) == len(expected["tool_calls"])
    for got, want in zip(result.tool_calls, expected["tool_calls"], strict=True):
        assert (got.id, got.name) == (want["id"], want["name"])
        assert got.args == want["args"]
        if want["args"] is None:
            assert got.args_json == want["args_raw"]
            assert got.parse_error
    want_usage = expected["usage"]
    if not want_usage:
        assert result.usage is None or not result.usage.as_dict()
    else:
        assert result.usage is not None
        for name, value in want_usage.items():
            assert getattr(result.usage, name) == value, name
    assert result.finish == expected["finish"]
    want_error = expected["error"]
    if want_error is None:
        assert result.error is None
    else:
        assert result.error is not None
        assert result.error.message == want_error["message"]
        if "type" in want_error:
            assert result.error.kind == want_error["type"]
        if "code" in want_error and want_error["code"] is not None:
            assert result.error.code == str(want_error["code"])


def check_fixture(events: Iterable[LLMEvent], name: str) -> None:
    """The events read from fixture ``name`` keep the invariants and give its
    expected outcome."""
    events = list(events)
    check_invariants(events)
    check_outcome(accumulate(events), expected_outcomes()[name])


_BLOCK_TYPES = {
    TextStart: ("open", "text"),
    TextDelta: ("delta", "text"),
    TextEnd: ("close", "text"),
    ReasoningStart: ("open", "reasoning"),
    ReasoningDelta: ("delta", "reasoning"),
    ReasoningEnd: ("close", "reasoning"),
}


def check_invariants(events: Sequence[LLMEvent]) -> None:
    """The invariants every uniform stream keeps (see streamkit.llm)."""
    assert events, "a stream has at least its terminal event"
    assert isinstance(events[0], StreamStart)
    assert sum(isinstance(e, StreamStart) for e in events) == 1
    terminal = [i for i, e in enumerate(events) if isinstance(e, Finish | Error)]
    assert terminal == [len(events) - 1], "exactly one terminal event, last"
    open_blocks: dict[str, str] = {}
    closed: set[str] = set()
    open_calls: set[str] = set()
    closed_calls: set[str] = set()
    args: dict[str, list[str]] = {}
    for event in events[1:-1]:
        kind = _BLOCK_TYPES.get(type(event))
        if kind is not None:
            action, family = kind
            block_id = event.block_id  # type: ignore[union-attr]
            if action == "open":
                assert block_id not in open_blocks, "opened twice"
                assert block_id not in closed, "reopened"
                open_blocks[block_id] = family
            else:
                assert open_blocks.get(block_id) == family, f"{event} outside its block"
                if action == "close":
                    del open_blocks[block_id]
                    closed.add(block_id)
        elif isinstance(event, ToolCallStart):
            assert event.call_id not in open_calls
            assert event.call_id not in closed_calls
            open_calls.add(event.call_id)
            args[event.call_id] = []
        elif isinstance(event, ToolCallDelta):
            assert event.call_id in open_calls
            args[event.call_id].append(event.args_delta)
        elif isinstance(event, ToolCallEnd):
            assert event.call_id in open_calls
            open_calls.discard(event.call_id)
            closed_calls.add(event.call_id)
            joined = "".join(args[event.call_id])
            assert event.args_json == (joined if joined.strip() else "{}")
            assert (event.args is None) == (event.parse_error is not None)
        else:
            assert isinstance(event, Usage), f"unexpected {event!r}"
    assert not open_blocks, "blocks left open before the terminal event"
    assert not open_calls, "tool calls left open before the terminal event"


def checked(events: Iterable[LLMEvent]) -> list[LLMEvent]:
    """The events, once they are known to keep the invariants."""
    events = list(events)
    check_invariants(events)
    return events


def check_read_cleanly(events: Iterable[LLMEvent]) -> None:
    """The invariants hold and the adapter could read every item (an item it
    cannot read ends the stream with an ``adapter_error``)."""
    events = checked(events)
    assert not any(isinstance(e, Error) and e.kind == "adapter_error" for e in events)


# -- running an adapter over sync and async upstreams ------------------------------------------


class Reader(Protocol):
    """An adapter (``from_openai_chat`` ...) or ``normalize``: a generator of
    events for a sync stream, an async generator for an async one."""

    @overload
    def __call__(self, stream: AsyncIterable[Any], /) -> AsyncGenerator[LLMEvent, None]: ...

    @overload
    def __call__(self, stream: Iterable[Any], /) -> Generator[LLMEvent, None, None]: ...


async def async_iter(items: Iterable[T]) -> AsyncIterator[T]:
    """The items as an async stream."""
    for item in items:
        yield item


async def read_sync_and_async(
    read: Reader, items: Sequence[Any]
) -> tuple[list[LLMEvent], list[LLMEvent]]:
    """The events ``read`` gives for ``items`` as a sync and as an async stream."""
    return list(read(items)), [event async for event in read(async_iter(items))]


class Upstream(Generic[T]):
    """A stream that records being closed: ``first``, then ``again`` without
    end, or, given ``error``, ``again`` once and then the raise of ``error``.
    ``items()`` is it as a generator, ``aitems()`` as an async generator;
    ``closed`` counts the times one of them ran its ``finally``."""

    def __init__(self, first: Iterable[T], again: T, *, error: BaseException | None = None) -> None:
        self.first = list(first)
        self.again = again
        self.error = error
        self.closed = 0

    def _items(self) -> Iterator[T]:
        yield from self.first
        yield self.again
        if self.error is not None:
            raise self.error
        while True:
            yield self.again

    def items(self) -> Iterator[T]:
        try:
            yield from self._items()
        finally:
            self.closed += 1

    async def aitems(self) -> AsyncIterator[T]:
        try:
            for item in self._items():
                yield item
        finally:
            self.closed += 1


# -- the fixtures as the providers' SDKs yield them ---------------------------------------------


def openai_chat_objects(items: Iterable[Any]) -> list[Any]:
    """Chat Completions chunks as the openai SDK's ``ChatCompletionChunk``."""
    types = pytest.importorskip("openai.types.chat")
    return [types.ChatCompletionChunk.model_validate(item) for item in items]


def openai_responses_objects(items: Iterable[Any]) -> list[Any]:
    """The items as the openai SDK yields them: its ``Stream`` builds each
    event with the SDK's lenient ``construct_type`` (no validation), which
    is also why strict validation is not used here: the SDK declares
    ``input_tokens_details.cache_write_tokens`` required, and recorded
    streams do not have it."""
    types = pytest.importorskip("openai.types.responses")
    from openai._models import construct_type

    return [construct_type(type_=types.ResponseStreamEvent, value=item) for item in items]


def anthropic_status_error(body: dict[str, Any]) -> Exception:
    """What the anthropic SDK raises for an ``event: error`` (after the 200):
    ``APIStatusError(f"{body}", ...)`` with the stream's response."""
    anthropic = pytest.importorskip("anthropic")
    # Recent SDKs are built on httpx2, older ones on httpx: the exception
    # only reads the response's request, status and headers.
    request = httpx.Request("POST", "https://api.anthropic.com/v1/messages")
    response = cast(Any, httpx.Response(200, request=request))
    error: Exception = anthropic.APIStatusError(f"{body}", response=response, body=body)
    return error


def anthropic_sdk_stream(items: Iterable[Any]) -> Iterator[Any]:
    """The items as ``messages.create(stream=True)`` yields them: each event
    validated as the SDK's ``RawMessageStreamEvent``; ``ping`` skipped and
    ``error`` raised, as the SDK's ``Stream`` does (neither is a member of
    that union, so the dict path alone covers them as events)."""
    types = pytest.importorskip("anthropic.types")
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(types.RawMessageStreamEvent)
    for item in items:
        if item["type"] == "ping":
            continue
        if item["type"] == "error":
            raise anthropic_status_error(item)
        yield adapter.validate_python(item)


def gemini_objects(items: Iterable[Any]) -> list[Any]:
    """Gemini chunks as google-genai's ``GenerateContentResponse``."""
    from google.genai import types

    return [types.GenerateContentResponse.model_validate(item) for item in items]


# The ``ollama`` client's objects: pydantic models with the wire's fields. The
# ``ollama`` package is not a dependency; these mirror its ``_types.py``.


class OllamaFunction(BaseModel):
    name: str
    arguments: Mapping[str, Any]


class OllamaToolCall(BaseModel):
    function: OllamaFunction


class OllamaMessage(BaseModel):
    role: str
    content: str | None = None
    thinking: str | None = None
    tool_calls: list[OllamaToolCall] | None = None


class OllamaChatResponse(BaseModel):
    model: str | None = None
    created_at: str | None = None
    done: bool | None = None
    done_reason: str | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None
    message: OllamaMessage


class OllamaGenerateResponse(BaseModel):
    model: str | None = None
    created_at: str | None = None
    done: bool | None = None
    done_reason: str | None = None
    response: str
    thinking: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None


def ollama_chat_objects(items: Iterable[Any]) -> list[Any]:
    """/api/chat lines as the ollama client's ``ChatResponse``."""
    return [OllamaChatResponse.model_validate(item) for item in items]


# -- the fixtures through the SDKs' own clients ------------------------------------------------


def sse_body(name: str) -> bytes:
    """The fixture as an HTTP body (a ``.jsonl`` fixture framed as SSE)."""
    data = (fixtures_or_skip() / name).read_bytes()
    if not name.endswith(".jsonl"):
        return data
    lines = [line for line in data.decode().splitlines() if line.strip()]
    return "".join(
        f"event: {json.loads(line)['type']}\ndata: {line}\n\n" for line in lines
    ).encode()


#: The SDK's ``AsyncStream.close()`` closes the HTTP response but not its own
#: inner async generators, which are left to the garbage collector when the
#: stream raises or is stopped early; trio warns about that (ResourceWarning).
#: Nothing of streamkit's leaks: the response is closed (the tests assert it).
sdk_generators_left_to_gc = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <async_generator object (AsyncStream|SSEDecoder)\.:"
    "pytest.PytestUnraisableExceptionWarning"
)


def _as_sent(items: list[Any]) -> Iterable[Any]:
    return items


@dataclass(frozen=True)
class SDKClient:
    """A provider SDK's own client, its HTTP transport answering with a
    fixture's body: the SDK's ``Stream`` decodes it (and raises where it
    raises)."""

    #: The SDK's package, and its sync client class (``"Async" + client`` is the async one).
    package: str
    client: str
    base_url: str
    #: The streaming request: a stream, or for the async client an awaitable of one.
    request: Callable[[Any], Any]
    #: What the SDK yields for a fixture's wire items, for the adapter to read.
    delivers: Callable[[list[Any]], Iterable[Any]] = _as_sent

    def for_fixture(self, name: str, *, asynchronous: bool = False, endless: bool = False) -> Any:
        """The client; ``endless`` (async only): the body does not end after
        the fixture, so that only closing the response can end it."""
        sdk = pytest.importorskip(self.package)
        # The HTTP library the SDK is built on: httpx2 in recent SDKs, httpx before.
        http = importlib.import_module(sdk.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])
        body = sse_body(name)

        async def without_end() -> AsyncIterator[bytes]:
            yield body
            while True:  # SSE comments, which the SDK skips
                await anyio.sleep(0)
                yield b": more\n\n"

        def answer(request: Any) -> Any:
            content = without_end() if endless else body
            return http.Response(
                200, headers={"content-type": "text/event-stream"}, content=content
            )

        transport = http.MockTransport(answer)
        client = getattr(sdk, "Async" + self.client if asynchronous else self.client)
        http_client = (http.AsyncClient if asynchronous else http.Client)(transport=transport)
        return client(
            api_key="test", base_url=self.base_url, http_client=http_client, max_retries=0
        )

    def stream(self, name: str) -> Any:
        return self.request(self.for_fixture(name))

    async def astream(self, name: str, *, endless: bool = False) -> Any:
        return await self.request(self.for_fixture(name, asynchronous=True, endless=endless))


ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "claude-streamkit-test",
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "hi"}],
}
ANTHROPIC_SDK = SDKClient(
    "anthropic",
    "Anthropic",
    "http://test",
    lambda client: client.messages.create(**ANTHROPIC_REQUEST, stream=True),
    anthropic_sdk_stream,
)
OPENAI_RESPONSES_SDK = SDKClient(
    "openai",
    "OpenAI",
    "http://test/v1",
    lambda client: client.responses.create(model="gpt-5", input="hi", stream=True),
)


# -- Hypothesis: provider items, usually well-formed ---------------------------------------------

#: Values of the wrong type for a field.
scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=4)
#: What may stand where a record is expected.
junk: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.integers(), st.lists(st.integers(), max_size=2), st.just({})
)
#: Any JSON value (what a decoder may give for an item of a foreign stream).
json_values = st.recursive(
    scalars | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the plausible value, sometimes a value of the wrong type."""
    return st.one_of(value, value, value, scalars)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = junk) -> Any:
    """``good``, or one time in six ``bad``: malformed values stay rare
    enough for the sequences to get deep into the state machine."""
    return st.tuples(st.integers(0, 5), good, bad).map(lambda t: t[2] if t[0] == 0 else t[1])


def record(kind: str, **fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    """A record of type ``kind`` with each of ``fields``, usually well-formed."""
    return st.fixed_dictionaries(
        {"type": st.just(kind), **{name: mostly(value) for name, value in fields.items()}}
    )


def record_streams(
    plausible: st.SearchStrategy[Any], *rare: st.SearchStrategy[Any]
) -> st.SearchStrategy[list[Any]]:
    """Streams of up to 25 records: ``plausible`` ones, and one time in six
    one of the ``rare`` ones or junk."""
    return st.lists(mostly(plausible, st.one_of(*rare, junk)), max_size=25)
