"""normalize: the adapter picked from the first item, upstream closed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from streamkit.llm import Error, accumulate, detect_provider, normalize

from .llm_fixtures import FIXTURES, check_invariants, check_outcome, expected_outcomes, wire_items

# The fixtures each adapter must read, by the provider normalize must find.
PROVIDERS = {
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


def test_every_fixture_is_covered() -> None:
    expected = expected_outcomes()
    if not expected:
        pytest.skip(f"the LLM fixtures are not present ({FIXTURES})")
    assert set(expected) == set(PROVIDERS)


@pytest.mark.parametrize(("name", "provider"), sorted(PROVIDERS.items()))
def test_the_provider_is_detected_from_the_first_item(name: str, provider: str) -> None:
    assert detect_provider(wire_items(name)[0]) == provider


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_normalize_gives_the_expected_outcome(name: str) -> None:
    events = list(normalize(wire_items(name)))
    check_invariants(events)
    check_outcome(accumulate(events), expected_outcomes()[name])


@pytest.mark.parametrize("name", sorted(n for n in PROVIDERS if not n.endswith(".jsonl")))
def test_normalize_reads_raw_body_bytes_in_any_chunking(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]
    events = list(normalize(pieces))
    check_invariants(events)
    check_outcome(accumulate(events), expected_outcomes()[name])


@pytest.mark.anyio
async def test_normalize_async_closes_the_upstream_when_stopped() -> None:
    items = wire_items("openai_chat_text_usage.sse")
    closed: list[bool] = []

    async def upstream() -> AsyncIterator[Any]:
        try:
            for item in items:
                yield item
        finally:
            closed.append(True)

    events = normalize(upstream())
    async for _ in events:
        break
    await events.aclose()
    assert closed == [True]


def test_normalize_sync_closes_the_upstream_when_stopped() -> None:
    items = wire_items("openai_chat_text_usage.sse")
    closed: list[bool] = []

    def upstream() -> Iterator[Any]:
        try:
            yield from items
        finally:
            closed.append(True)

    events = normalize(upstream())
    next(events)
    events.close()
    assert closed == [True]


def test_an_unknown_shape_is_an_error_event() -> None:
    events = list(normalize([{"what": "is this"}]))
    check_invariants(events)
    assert isinstance(events[-1], Error)
    assert events[-1].kind == "unknown_provider"


def test_an_empty_stream_is_an_incomplete_error() -> None:
    events = list(normalize([]))
    check_invariants(events)
    assert isinstance(events[-1], Error)
    assert events[-1].kind == "incomplete"


def test_an_upstream_that_fails_at_once_is_an_error_event() -> None:
    def upstream() -> Iterator[Any]:
        raise ConnectionResetError("reset")
        yield  # pragma: no cover

    events = list(normalize(upstream()))
    check_invariants(events)
    assert isinstance(events[-1], Error)
    assert events[-1].retryable
