"""What every provider adapter does alike, each test run over all of them
(and, where it reads the same streams, over ``normalize``):

* the recorded fixtures give their expected outcomes, as wire dicts and as
  the provider's SDK objects, from sync and async upstreams alike, and
  through the SDK's own client where it has one to test;
* stopping early closes the upstream, sync or async;
* an exception from the upstream ends the stream with an error event and
  closes the upstream; a stream cut off before its end is an error too;
* no sequence of items, recorded or arbitrary, makes an adapter raise or
  break the invariants.

Each adapter is described by its ``first`` items and a ``delta`` item (a
piece of text) that can follow them any number of times, and by its recorded
fixtures. Provider quirks are tested in each provider's own file.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk

from streamkit.llm import (
    Error,
    LLMEvent,
    TextDelta,
    accumulate,
    from_anthropic,
    from_gemini,
    from_langchain,
    from_ollama,
    from_openai_chat,
    from_openai_responses,
    normalize,
)

from .llm_fixtures import (
    ANTHROPIC_SDK,
    FIXTURE_PROVIDERS,
    OPENAI_RESPONSES_SDK,
    Reader,
    SDKClient,
    Upstream,
    anthropic_sdk_stream,
    check_fixture,
    check_invariants,
    checked,
    fixtures_of,
    gemini_objects,
    json_values,
    ollama_chat_objects,
    openai_chat_objects,
    openai_responses_objects,
    read_sync_and_async,
    sdk_generators_left_to_gc,
    wire_items,
)


@dataclass(frozen=True)
class Adapter:
    #: The provider, as ``normalize`` names it.
    name: str
    read: Reader
    #: Items that open a stream, before any text.
    first: tuple[Any, ...]
    #: An item with the text "tok", which may follow ``first`` any number of times.
    delta: Any
    #: The wire items as the provider's SDK yields them, and the module of those objects.
    sdk: Callable[[Iterable[Any]], list[Any]] | None = None
    sdk_module: str = ""
    #: The fixtures the SDK yields whole (for the others it raises at the error event).
    sdk_fixtures: tuple[str, ...] = ()
    #: The SDK's own client, reading a fixture from a fake HTTP transport.
    sdk_client: SDKClient | None = None

    @property
    def fixtures(self) -> list[str]:
        return fixtures_of(self.name)


def gemini_chunk(text: str) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
        "responseId": "r1",
    }


ADAPTERS = [
    Adapter(
        "openai_chat",
        from_openai_chat,
        first=(),
        delta={
            "id": "c1",
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "tok"}, "finish_reason": None}],
        },
        sdk=openai_chat_objects,
        sdk_module="openai.types.chat.",
        sdk_fixtures=(
            "openai_chat_text_usage.sse",
            "openai_chat_parallel_tools.sse",
            "openrouter_chat_tool_idless_fragments.sse",
        ),
    ),
    Adapter(
        "openai_responses",
        from_openai_responses,
        first=({"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5"}},),
        delta={
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "content_index": 0,
            "delta": "tok",
        },
        sdk=openai_responses_objects,
        sdk_module="openai.types.responses.",
        sdk_fixtures=("openai_responses_text.sse", "openai_responses_function_call.sse"),
        sdk_client=OPENAI_RESPONSES_SDK,
    ),
    Adapter(
        "anthropic",
        from_anthropic,
        first=(
            {
                "type": "message_start",
                "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 5}},
            },
        ),
        delta={
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "tok"},
        },
        sdk=lambda items: list(anthropic_sdk_stream(items)),
        sdk_module="anthropic.types.",
        sdk_fixtures=(
            "anthropic_tool_use.sse",
            "anthropic_thinking_text.jsonl",
            "anthropic_max_tokens_truncated_tool.sse",
        ),
        sdk_client=ANTHROPIC_SDK,
    ),
    Adapter(
        "gemini",
        from_gemini,
        first=(),
        delta=gemini_chunk("tok"),
        sdk=gemini_objects,
        sdk_module="google.genai.types",
        sdk_fixtures=tuple(fixtures_of("gemini")),
    ),
    Adapter("langchain", from_langchain, first=(), delta=AIMessageChunk(content="tok")),
    Adapter(
        "ollama",
        from_ollama,
        first=(),
        delta={
            "model": "llama3.2",
            "created_at": "2025-07-07T20:22:19Z",
            "message": {"role": "assistant", "content": "tok"},
            "done": False,
        },
        sdk=ollama_chat_objects,
        sdk_module=__name__.rpartition(".")[0] + ".llm_fixtures",
        sdk_fixtures=("derived/ollama_chat_tools_from_docs.ndjson",),
    ),
]
BY_NAME = {adapter.name: adapter for adapter in ADAPTERS}
assert set(FIXTURE_PROVIDERS.values()) <= set(BY_NAME)

each_adapter = pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
#: The adapter itself, or normalize finding it from the first item.
each_reader = pytest.mark.parametrize("via", ["adapter", "normalize"])


def reader(adapter: Adapter, via: str) -> Reader:
    return adapter.read if via == "adapter" else normalize


def fixture_cases(*, sdk_only: bool = False, sdk_client: bool = False) -> list[Any]:
    """(adapter, fixture) for every fixture; for those the SDK yields whole;
    or for those of an adapter whose SDK's own client is tested."""
    return [
        pytest.param(BY_NAME[provider], name, id=name)
        for name, provider in FIXTURE_PROVIDERS.items()
        if not sdk_only or name in BY_NAME[provider].sdk_fixtures
        if not sdk_client or BY_NAME[provider].sdk_client is not None
    ]


# -- the recorded fixtures ----------------------------------------------------------------------


@pytest.mark.parametrize(("adapter", "name"), fixture_cases())
@each_reader
def test_fixture_gives_the_expected_outcome(adapter: Adapter, name: str, via: str) -> None:
    check_fixture(reader(adapter, via)(wire_items(name)), name)


@pytest.mark.parametrize(("adapter", "name"), fixture_cases(sdk_only=True))
def test_fixture_as_sdk_objects_gives_the_same_events(adapter: Adapter, name: str) -> None:
    assert adapter.sdk is not None
    items = wire_items(name)
    objects = adapter.sdk(items)
    assert all(type(o).__module__.startswith(adapter.sdk_module) for o in objects)
    assert list(adapter.read(objects)) == list(adapter.read(items))


def async_cases() -> list[Any]:
    """Each fixture as wire dicts and, where the SDK yields it whole, as SDK
    objects; and each adapter's description: first items, then a few deltas."""
    cases = [
        pytest.param(adapter, name, "wire", id=f"{name}-wire")
        for adapter, name in (case.values for case in fixture_cases())
    ]
    cases += [
        pytest.param(adapter, name, "sdk", id=f"{name}-sdk")
        for adapter, name in (case.values for case in fixture_cases(sdk_only=True))
    ]
    cases += [pytest.param(a, None, "described", id=f"{a.name}-described") for a in ADAPTERS]
    return cases


@pytest.mark.anyio
@pytest.mark.parametrize(("adapter", "name", "form"), async_cases())
async def test_an_async_upstream_gives_the_same_events(
    adapter: Adapter, name: str | None, form: str
) -> None:
    if name is None:
        items: list[Any] = [*adapter.first, adapter.delta, adapter.delta, adapter.delta]
    else:
        items = wire_items(name)
        if form == "sdk":
            assert adapter.sdk is not None
            items = adapter.sdk(items)
    sync_events, async_events = await read_sync_and_async(adapter.read, items)
    check_invariants(async_events)
    assert async_events == sync_events


# -- the SDKs' own clients ---------------------------------------------------------------------


@pytest.mark.parametrize(("adapter", "name"), fixture_cases(sdk_client=True))
def test_the_sdks_own_stream_gives_the_expected_outcome(adapter: Adapter, name: str) -> None:
    assert adapter.sdk_client is not None
    stream = adapter.sdk_client.stream(name)
    check_fixture(adapter.read(stream), name)
    assert stream.response.is_closed


@sdk_generators_left_to_gc
@pytest.mark.anyio
@pytest.mark.parametrize(("adapter", "name"), fixture_cases(sdk_client=True))
async def test_the_sdks_own_async_stream_gives_the_same_events(adapter: Adapter, name: str) -> None:
    assert adapter.sdk_client is not None
    stream = await adapter.sdk_client.astream(name)
    got = [event async for event in adapter.read(stream)]
    assert got == list(adapter.read(adapter.sdk_client.delivers(wire_items(name))))
    gc.collect()  # the SDK's generators are finalised within this test


@sdk_generators_left_to_gc
@pytest.mark.anyio
@pytest.mark.parametrize(
    "adapter", [a for a in ADAPTERS if a.sdk_client is not None], ids=lambda a: a.name
)
async def test_stopping_early_closes_the_sdks_response(adapter: Adapter) -> None:
    assert adapter.sdk_client is not None
    stream = await adapter.sdk_client.astream(adapter.fixtures[0], endless=True)
    events = adapter.read(stream)
    async for event in events:
        if isinstance(event, TextDelta):
            break
    await events.aclose()
    assert stream.response.is_closed
    gc.collect()  # the SDK's generators are finalised within this test


# -- the upstream: closed when the consumer stops, errors as events -----------------------------


def first_text(events: Iterable[LLMEvent]) -> None:
    """Read events up to the first piece of text."""
    for event in events:
        if isinstance(event, TextDelta):
            return
    pytest.fail("the stream ended without text")


@each_adapter
@each_reader
def test_stopping_early_closes_the_sync_upstream(adapter: Adapter, via: str) -> None:
    upstream = Upstream(adapter.first, adapter.delta)
    stream = upstream.items()  # held, so that only an explicit close can end it
    events = reader(adapter, via)(stream)
    first_text(events)
    assert upstream.closed == 0
    events.close()
    assert upstream.closed == 1


@pytest.mark.anyio
@each_adapter
@each_reader
async def test_stopping_early_closes_the_async_upstream(adapter: Adapter, via: str) -> None:
    upstream = Upstream(adapter.first, adapter.delta)
    stream = upstream.aitems()  # held, so that only an explicit aclose can end it
    events = reader(adapter, via)(stream)
    async for event in events:
        if isinstance(event, TextDelta):
            break
    assert upstream.closed == 0
    await events.aclose()
    assert upstream.closed == 1


class APIStatusError(Exception):
    """Shaped like the SDKs' exceptions for an HTTP error status."""

    def __init__(
        self, message: str, status_code: int, type: str, body: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.type = type
        self.body = body


#: An exception the upstream raises mid-stream, and the (message, status,
#: kind, retryable) of the error event it becomes.
FAILURES: list[Any] = [
    pytest.param(
        lambda: APIStatusError("upstream failed", 503, "server_error"),
        ("upstream failed", 503, "server_error", True),
        id="server-error",
    ),
    pytest.param(
        lambda: APIStatusError("bad request", 400, "invalid_request_error"),
        ("bad request", 400, "invalid_request_error", False),
        id="client-error",
    ),
    pytest.param(
        # Anthropic's overloaded status, the provider's message in the body.
        lambda: APIStatusError(
            "{'type': 'error', ...}",
            529,
            "overloaded_error",
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ),
        ("Overloaded", 529, "overloaded_error", True),
        id="overloaded-with-body",
    ),
    pytest.param(
        lambda: ConnectionError("reset by peer"),
        ("reset by peer", None, "ConnectionError", True),
        id="network",
    ),
]


def check_failure(events: list[LLMEvent], want: tuple[Any, ...]) -> None:
    check_invariants(events)
    error = events[-1]
    assert isinstance(error, Error)
    assert (error.message, error.status, error.kind, error.retryable) == want
    assert accumulate(events).text == "tok", "the text before the failure is kept"


@each_adapter
@pytest.mark.parametrize(("failure", "want"), FAILURES)
def test_an_exception_from_the_upstream_becomes_an_error_event_and_closes_it(
    adapter: Adapter, failure: Callable[[], Exception], want: tuple[Any, ...]
) -> None:
    upstream = Upstream(adapter.first, adapter.delta, error=failure())
    check_failure(list(adapter.read(upstream.items())), want)
    assert upstream.closed == 1


@pytest.mark.anyio
@each_adapter
async def test_an_exception_from_an_async_upstream_becomes_an_error_event(
    adapter: Adapter,
) -> None:
    upstream = Upstream(
        adapter.first, adapter.delta, error=APIStatusError("upstream failed", 503, "server_error")
    )
    events = [event async for event in adapter.read(upstream.aitems())]
    check_failure(events, ("upstream failed", 503, "server_error", True))
    assert upstream.closed == 1


@pytest.mark.parametrize(
    "adapter",
    # A LangChain stream has no end-of-stream signal of its own: it just ends.
    [a for a in ADAPTERS if a.name != "langchain"],
    ids=lambda a: a.name,
)
def test_a_stream_cut_off_before_its_end_is_an_incomplete_error(adapter: Adapter) -> None:
    events = checked(adapter.read([*adapter.first, adapter.delta]))
    error = events[-1]
    assert isinstance(error, Error)
    assert (error.kind, error.retryable) == ("incomplete", True)
    assert accumulate(events).text == "tok"


# -- properties -----------------------------------------------------------------------------------


@each_adapter
@given(st.lists(json_values, max_size=6))
def test_arbitrary_json_items_never_raise(adapter: Adapter, items: list[Any]) -> None:
    check_invariants(list(adapter.read(items)))


@pytest.mark.parametrize("adapter", [a for a in ADAPTERS if a.fixtures], ids=lambda a: a.name)
@given(st.data())
def test_recorded_items_in_any_order_or_subset_keep_the_invariants(
    adapter: Adapter, data: st.DataObject
) -> None:
    recorded = [wire_items(name) for name in adapter.fixtures]
    everything = [item for items in recorded for item in items]
    shuffled = data.draw(st.lists(st.sampled_from(everything), max_size=30))
    check_invariants(list(adapter.read(shuffled)))
    items = data.draw(st.sampled_from(recorded))
    kept = data.draw(st.lists(st.booleans(), min_size=len(items), max_size=len(items)))
    check_invariants(list(adapter.read([i for i, k in zip(items, kept, strict=True) if k])))
