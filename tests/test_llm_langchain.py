"""from_langchain: real langchain-core AIMessageChunk streams shaped like those
of ChatOpenAI and ChatAnthropic, LangChain's fake chat models driven through
stream() / astream() / astream_events(), and the quirks of those streams. What
from_langchain shares with the other adapters is tested in test_llm_adapters."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    FakeListChatModelError,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.tool import tool_call_chunk

from streamkit.llm import (
    Error,
    Finish,
    LLMEvent,
    ReasoningEnd,
    StreamStart,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    accumulate,
)
from streamkit.llm._langchain import LangChainAdapter, from_langchain

from .llm_fixtures import check_invariants, check_read_cleanly, checked, maybe, scalars


def run(*items: Any) -> list[LLMEvent]:
    return checked(from_langchain(items))


# -- an OpenAI-style model: string content, tool_call_chunks, usage last ---------------------------


def openai_stream() -> list[AIMessageChunk]:
    """What ChatOpenAI(stream_usage=True).stream() yields for a reply with
    text and two parallel tool calls."""
    run_id = "chatcmpl-AbC123"
    metadata = {"model_provider": "openai"}

    def chunk(**fields: Any) -> AIMessageChunk:
        fields.setdefault("content", "")
        return AIMessageChunk(id=run_id, response_metadata=dict(metadata), **fields)

    return [
        chunk(),
        chunk(content="Let me"),
        chunk(content=" check both."),
        chunk(
            tool_call_chunks=[tool_call_chunk(name="get_weather", args="", id="call_1", index=0)]
        ),
        chunk(tool_call_chunks=[tool_call_chunk(args='{"city": ', index=0)]),
        chunk(tool_call_chunks=[tool_call_chunk(args='"Paris"}', index=0)]),
        chunk(tool_call_chunks=[tool_call_chunk(name="get_time", args="", id="call_2", index=1)]),
        chunk(tool_call_chunks=[tool_call_chunk(args='{"tz": "CET"}', index=1)]),
        AIMessageChunk(
            content="",
            id=run_id,
            response_metadata={
                "finish_reason": "tool_calls",
                "model_name": "gpt-4o-2024-08-06",
                "system_fingerprint": "fp_1",
                "model_provider": "openai",
            },
        ),
        AIMessageChunk(
            content="",
            id=run_id,
            usage_metadata={
                "input_tokens": 80,
                "output_tokens": 40,
                "total_tokens": 120,
                "input_token_details": {"audio": 0, "cache_read": 64},
                "output_token_details": {"audio": 0, "reasoning": 0},
            },
            chunk_position="last",
        ),
    ]


def test_an_openai_style_stream() -> None:
    events = run(*openai_stream())
    result = accumulate(events)
    assert result.text == "Let me check both."
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [
        ("call_1", "get_weather", {"city": "Paris"}),
        ("call_2", "get_time", {"tz": "CET"}),
    ]
    assert result.usage is not None
    assert result.usage.as_dict() == {
        "input_tokens": 80,
        "output_tokens": 40,
        "total_tokens": 120,
        "cache_read_tokens": 64,
        "reasoning_tokens": 0,
    }
    assert (result.finish, result.raw_finish, result.error) == ("tool_calls", "tool_calls", None)
    assert events[0] == StreamStart("langchain", "chatcmpl-AbC123")
    kinds = [e.type for e in events]
    assert kinds.index("text-end") < kinds.index("tool-call-start")
    assert kinds[-2:] == ["usage", "finish"]  # the finish waited for the usage chunk


def test_the_merged_message_agrees_with_the_events() -> None:
    """LangChain's own ``+`` of the chunks gives the same calls and usage."""
    chunks = openai_stream()
    merged = chunks[0]
    for item in chunks[1:]:
        merged = merged + item
    result = accumulate(from_langchain(chunks))
    assert [(c["id"], c["name"], c["args"]) for c in merged.tool_calls] == [
        (c.id, c.name, c.args) for c in result.tool_calls
    ]
    assert merged.content == result.text
    assert merged.usage_metadata is not None
    assert result.usage is not None
    assert merged.usage_metadata["total_tokens"] == result.usage.total_tokens


# -- an Anthropic-style model: content blocks with an index ----------------------------------------


def anthropic_stream() -> list[AIMessageChunk]:
    """What ChatAnthropic(thinking=...).stream() yields: thinking with its
    signature, text, then a tool_use block whose input streams as
    input_json_delta (repeated in tool_call_chunks), usage in increments."""
    msg = "msg_01XFDUDYJgAACzvnptvVoYEL"

    def input_json(partial: str) -> AIMessageChunk:
        return AIMessageChunk(
            content=[{"type": "input_json_delta", "partial_json": partial, "index": 2}],
            tool_call_chunks=[tool_call_chunk(args=partial, index=2)],
            id=msg,
        )

    return [
        AIMessageChunk(
            content=[],
            id=msg,
            usage_metadata={
                "input_tokens": 472,
                "output_tokens": 2,
                "total_tokens": 474,
                "input_token_details": {"cache_read": 100, "cache_creation": 20},
            },
            response_metadata={"model_name": "claude-sonnet-4-5-20250929"},
        ),
        AIMessageChunk(
            content=[{"type": "thinking", "thinking": "", "signature": "", "index": 0}], id=msg
        ),
        AIMessageChunk(
            content=[{"type": "thinking", "thinking": "The user wants ", "index": 0}], id=msg
        ),
        AIMessageChunk(
            content=[{"type": "thinking", "thinking": "the weather.", "index": 0}], id=msg
        ),
        AIMessageChunk(
            content=[{"type": "thinking", "signature": "EqQBCkYIBx", "index": 0}], id=msg
        ),
        AIMessageChunk(content=[{"type": "text", "text": "I'll look", "index": 1}], id=msg),
        AIMessageChunk(content=[{"type": "text", "text": " it up.", "index": 1}], id=msg),
        AIMessageChunk(
            content=[
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "get_weather",
                    "input": {},
                    "index": 2,
                }
            ],
            tool_call_chunks=[tool_call_chunk(name="get_weather", args="", id="toolu_01", index=2)],
            id=msg,
        ),
        *(input_json(partial) for partial in ("", '{"location": "SF"', "}")),
        AIMessageChunk(
            content=[],
            id=msg,
            usage_metadata={"input_tokens": 0, "output_tokens": 89, "total_tokens": 89},
            response_metadata={"stop_reason": "tool_use", "stop_sequence": None},
        ),
        AIMessageChunk(content=[], id=msg, chunk_position="last"),
    ]


def test_an_anthropic_style_stream() -> None:
    events = run(*anthropic_stream())
    result = accumulate(events)
    assert result.reasoning == "The user wants the weather."
    assert result.signatures == ["EqQBCkYIBx"]
    assert result.text == "I'll look it up."
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [
        ("toolu_01", "get_weather", {"location": "SF"})
    ]
    assert result.usage is not None
    assert result.usage.as_dict() == {
        "input_tokens": 472,
        "output_tokens": 91,
        "total_tokens": 563,
        "cache_read_tokens": 100,
        "cache_write_tokens": 20,
    }
    assert (result.finish, result.raw_finish) == ("tool_calls", "tool_use")
    assert [e.type for e in events if "start" in e.type or "end" in e.type] == [
        "start",
        "reasoning-start",
        "reasoning-end",
        "text-start",
        "text-end",
        "tool-call-start",
        "tool-call-end",
    ]
    # tool_use / input_json_delta content blocks repeat the tool_call_chunks: read once
    start = next(e for e in events if isinstance(e, ToolCallStart))
    assert (start.call_id, start.index) == ("toolu_01", 0)


def test_standard_v1_content_blocks() -> None:
    """``output_version="v1"``: reasoning / text / tool_call_chunk blocks."""
    events = run(
        AIMessageChunk(content=[{"type": "reasoning", "reasoning": "hmm", "index": 0}]),
        AIMessageChunk(content=[{"type": "reasoning", "extras": {"signature": "sig"}, "index": 0}]),
        AIMessageChunk(content=[{"type": "text", "text": "ok", "index": 1}]),
        AIMessageChunk(
            content=[
                {"type": "tool_call_chunk", "id": "c1", "name": "f", "args": '{"a":1}', "index": 2}
            ],
            tool_call_chunks=[tool_call_chunk(id="c1", name="f", args='{"a":1}', index=2)],
            chunk_position="last",
        ),
    )
    result = accumulate(events)
    assert (result.reasoning, result.signatures, result.text) == ("hmm", ["sig"], "ok")
    assert [(c.id, c.args) for c in result.tool_calls] == [("c1", {"a": 1})]
    assert result.finish == "tool_calls"


def test_reasoning_summaries_and_redacted_thinking() -> None:
    events = run(
        AIMessageChunk(
            content=[
                {
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": "s"}],
                    "index": 0,
                }
            ]
        ),
        AIMessageChunk(content=[{"type": "redacted_thinking", "data": "opaque", "index": 1}]),
        AIMessageChunk(content=[{"type": "text", "text": "x", "index": 2}]),
    )
    assert accumulate(events).reasoning == "s"
    assert [e.type for e in events][:3] == ["start", "reasoning-start", "reasoning-delta"]
    assert events[2:4][0].type == "reasoning-delta"
    assert [(e.signature, e.redacted) for e in events if isinstance(e, ReasoningEnd)] == [
        (None, None),
        (None, "opaque"),
    ]
    assert events[1].kind == "summary"  # type: ignore[union-attr]


def test_reasoning_content_in_additional_kwargs() -> None:
    result = accumulate(
        run(
            AIMessageChunk(content="", additional_kwargs={"reasoning_content": "think"}),
            AIMessageChunk(content="answer"),
        )
    )
    assert (result.reasoning, result.text) == ("think", "answer")


def test_a_provider_executed_tool_block_without_tool_call_chunks() -> None:
    """Anthropic's server_tool_use blocks have no tool_call_chunks."""
    events = run(
        AIMessageChunk(
            content=[
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "index": 0}
            ]
        ),
        AIMessageChunk(
            content=[{"type": "input_json_delta", "partial_json": '{"q": "x"}', "index": 0}]
        ),
        AIMessageChunk(content=[{"type": "text", "text": "Found it.", "index": 1}]),
    )
    start = next(e for e in events if isinstance(e, ToolCallStart))
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert (start.call_id, start.name, start.provider_executed) == (
        "srvtoolu_1",
        "web_search",
        True,
    )
    assert end.args == {"q": "x"}


# -- tool call merging -----------------------------------------------------------------------------


def test_chunk_position_last_closes_the_open_calls() -> None:
    adapter = LangChainAdapter()
    adapter.feed(
        AIMessageChunk(
            content="", tool_call_chunks=[tool_call_chunk(name="f", args="{}", id="a", index=0)]
        )
    )
    assert not [e for e in adapter.builder.drain() if isinstance(e, ToolCallEnd)]
    adapter.feed(AIMessageChunk(content="", chunk_position="last"))
    ends = [e for e in adapter.builder.drain() if isinstance(e, ToolCallEnd)]
    assert [(e.call_id, e.args) for e in ends] == [("a", {})]


def test_a_new_id_and_name_on_a_used_index_is_a_new_call() -> None:
    events = run(
        AIMessageChunk(
            content="", tool_call_chunks=[tool_call_chunk(name="f", args="{}", id="a", index=0)]
        ),
        AIMessageChunk(
            content="", tool_call_chunks=[tool_call_chunk(name="g", args="{}", id="b", index=0)]
        ),
    )
    assert [(c.id, c.name) for c in accumulate(events).tool_calls] == [("a", "f"), ("b", "g")]


def test_fragments_without_an_index_continue_the_last_call_and_ids_are_synthesised() -> None:
    events = run(
        AIMessageChunk(
            content="", tool_call_chunks=[tool_call_chunk(name="f", args='{"x"', index=None)]
        ),
        AIMessageChunk(content="", tool_call_chunks=[tool_call_chunk(args=": 1}", index=None)]),
    )
    assert [(c.id, c.name, c.args) for c in accumulate(events).tool_calls] == [
        ("call_0", "f", {"x": 1})
    ]


def test_an_id_already_used_by_another_call_is_replaced_to_keep_ids_unique() -> None:
    events = run(
        AIMessageChunk(
            content="",
            tool_call_chunks=[
                tool_call_chunk(name="f", args="{}", id="a", index=0),
                tool_call_chunk(name="g", args="{}", id="a", index=1),
            ],
        ),
    )
    assert [(c.id, c.name) for c in accumulate(events).tool_calls] == [("a", "f"), ("call_1", "g")]


def test_a_whole_ai_message_from_a_model_that_does_not_stream() -> None:
    message = AIMessage(
        content="Calling.",
        tool_calls=[{"name": "f", "args": {"a": 1}, "id": "t1", "type": "tool_call"}],
        response_metadata={"finish_reason": "tool_calls"},
    )
    result = accumulate(run(message))
    assert (result.text, result.finish) == ("Calling.", "tool_calls")
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [("t1", "f", {"a": 1})]


def test_a_whole_message_with_tool_content_blocks_has_its_calls_once() -> None:
    """Anthropic's (non-streamed) content repeats the calls as tool_use blocks."""
    message = AIMessage(
        content=[
            {"type": "text", "text": "Calling."},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
        ],
        tool_calls=[{"name": "f", "args": {"a": 1}, "id": "t1", "type": "tool_call"}],
        response_metadata={"stop_reason": "tool_use"},
    )
    result = accumulate(run(message))
    assert [(c.id, c.args) for c in result.tool_calls] == [("t1", {"a": 1})]
    assert (result.text, result.finish) == ("Calling.", "tool_calls")


# -- usage and finish ------------------------------------------------------------------------------


def test_usage_increments_are_summed() -> None:
    events = run(
        AIMessageChunk(
            content="a", usage_metadata={"input_tokens": 10, "output_tokens": 1, "total_tokens": 11}
        ),
        AIMessageChunk(
            content="b",
            usage_metadata={
                "input_tokens": 0,
                "output_tokens": 5,
                "total_tokens": 5,
                "output_token_details": {"reasoning": 3},
            },
        ),
    )
    usages = [e for e in events if isinstance(e, Usage)]
    assert [u.as_dict() for u in usages] == [
        {"input_tokens": 10, "output_tokens": 1, "total_tokens": 11},
        {"input_tokens": 10, "output_tokens": 6, "total_tokens": 16, "reasoning_tokens": 3},
    ]


@pytest.mark.parametrize(
    ("metadata", "finish"),
    [
        ({"finish_reason": "stop"}, Finish("stop", "stop")),
        ({"finish_reason": "length"}, Finish("length", "length")),
        ({"finish_reason": "tool_calls"}, Finish("tool_calls", "tool_calls")),
        ({"finish_reason": "function_call"}, Finish("tool_calls", "function_call")),
        ({"finish_reason": "content_filter"}, Finish("content_filter", "content_filter")),
        ({"stop_reason": "end_turn"}, Finish("stop", "end_turn")),
        ({"stop_reason": "stop_sequence"}, Finish("stop", "stop_sequence")),
        ({"stop_reason": "max_tokens"}, Finish("length", "max_tokens")),
        (
            {"stop_reason": "model_context_window_exceeded"},
            Finish("length", "model_context_window_exceeded"),
        ),
        ({"stop_reason": "tool_use"}, Finish("tool_calls", "tool_use")),
        ({"stop_reason": "refusal"}, Finish("refusal", "refusal")),
        ({"stop_reason": "pause_turn"}, Finish("other", "pause_turn")),
        ({"done_reason": "stop"}, Finish("stop", "stop")),
        ({"done_reason": "length"}, Finish("length", "length")),
        ({"done_reason": "load"}, Finish("other", "load")),
        ({"finish_reason": "STOP"}, Finish("stop", "STOP")),
        ({"finish_reason": "MAX_TOKENS"}, Finish("length", "MAX_TOKENS")),
        ({"finish_reason": "SAFETY"}, Finish("content_filter", "SAFETY")),
        ({"finish_reason": "something_new"}, Finish("other", "something_new")),
        ({"model_name": "no reason"}, Finish("stop", None)),
    ],
)
def test_finish_reasons_are_unified(metadata: dict[str, Any], finish: Finish) -> None:
    events = run(
        AIMessageChunk(content="x"), AIMessageChunk(content="", response_metadata=metadata)
    )
    assert events[-1] == finish


def test_stop_after_tool_calls_is_tool_calls() -> None:
    """OpenAI says "stop" for a call forced with tool_choice."""
    events = run(
        AIMessageChunk(
            content="", tool_call_chunks=[tool_call_chunk(name="f", args="{}", id="a", index=0)]
        ),
        AIMessageChunk(content="", response_metadata={"finish_reason": "stop"}),
    )
    assert events[-1] == Finish("tool_calls", "stop")


def test_strings_from_an_output_parser_are_text() -> None:
    result = accumulate(run("Hel", "", "lo"))
    assert (result.text, result.finish) == ("Hello", "stop")


# -- real LangChain models -------------------------------------------------------------------------


def test_a_fake_chat_model_through_stream() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="Hello big world")]))
    events = run(*model.stream("hi"))
    assert accumulate(events).text == "Hello big world"
    assert events[-1] == Finish("stop", None)
    assert isinstance(events[0], StreamStart)
    assert events[0].response_id is not None
    assert events[0].response_id.startswith("lc_run--")


def test_the_generator_of_stream_is_the_upstream() -> None:
    model = FakeListChatModel(responses=["abc"])
    events = list(from_langchain(model.stream("hi")))
    check_invariants(events)
    assert accumulate(events).text == "abc"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # LangChain runs on asyncio
async def test_a_fake_chat_model_through_astream_gives_the_same_events() -> None:
    sync_events = list(from_langchain(FakeListChatModel(responses=["hello"]).stream("hi")))
    async_events = [
        e async for e in from_langchain(FakeListChatModel(responses=["hello"]).astream("hi"))
    ]
    check_invariants(async_events)
    # The run ids differ; everything after the start is the same.
    assert async_events[1:] == sync_events[1:]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # LangChain runs on asyncio
async def test_astream_events_reads_the_chat_model_stream_events() -> None:
    model = FakeListChatModel(responses=["hey you"])
    events = [e async for e in from_langchain(model.astream_events("hi", version="v2"))]
    check_invariants(events)
    result = accumulate(events)
    assert (result.text, result.finish) == ("hey you", "stop")


def test_only_the_first_chat_model_run_of_astream_events_is_read() -> None:
    def event(kind: str, run_id: str, chunk: Any = None) -> dict[str, Any]:
        data = {} if chunk is None else {"chunk": chunk}
        return {"event": kind, "run_id": run_id, "name": "model", "data": data, "parent_ids": []}

    items = [
        event("on_chain_start", "chain"),
        event("on_chat_model_start", "r1"),
        event("on_chat_model_stream", "r1", AIMessageChunk(content="first ")),
        event("on_chat_model_stream", "r2", AIMessageChunk(content="other ")),
        event("on_chat_model_stream", "r1", AIMessageChunk(content="answer")),
        event("on_chat_model_end", "r1"),
        event("on_tool_start", "t1"),
        event("on_chat_model_stream", "r3", AIMessageChunk(content="second model")),
        event("on_chain_stream", "chain", AIMessageChunk(content="not a model event")),
        event("on_chain_end", "chain"),
    ]
    assert accumulate(run(*items)).text == "first answer"


def test_a_model_that_fails_mid_stream_gives_an_error_event() -> None:
    model = FakeListChatModel(responses=["hello"], error_on_chunk_number=2)
    events = list(from_langchain(model.stream("hi")))
    check_invariants(events)
    error = events[-1]
    assert isinstance(error, Error)
    assert error.kind == FakeListChatModelError.__name__
    assert accumulate(events).text == "he"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # LangChain runs on asyncio
async def test_a_model_that_fails_mid_astream_gives_an_error_event() -> None:
    model = FakeListChatModel(responses=["hello"], error_on_chunk_number=3)
    events = [e async for e in from_langchain(model.astream("hi"))]
    check_invariants(events)
    assert isinstance(events[-1], Error)
    assert accumulate(events).text == "hel"


# -- properties ------------------------------------------------------------------------------------

_words = st.sampled_from(["", "a", "bc", " "]) | st.text(max_size=3)
_indexes = st.none() | st.integers(0, 2)


_tool_chunks = st.builds(
    tool_call_chunk,
    name=st.none() | st.sampled_from(["f", "g"]),
    args=st.none() | st.sampled_from(["", "{", '"a": 1', "}", "{}"]),
    id=st.none() | st.sampled_from(["id1", "id2"]),
    index=_indexes,
)
_blocks = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["text", "thinking", "reasoning", "tool_use", "input_json_delta", "x"]
        )
    },
    optional={
        "text": maybe(_words),
        "thinking": maybe(_words),
        "reasoning": maybe(_words),
        "signature": maybe(st.just("sig")),
        "partial_json": maybe(st.sampled_from(["{", "}"])),
        "id": maybe(st.just("t")),
        "name": maybe(st.just("f")),
        "index": maybe(_indexes),
    },
)
_usage = st.fixed_dictionaries(
    {
        "input_tokens": st.integers(0, 9),
        "output_tokens": st.integers(0, 9),
        "total_tokens": st.integers(0, 18),
    },
    optional={
        "input_token_details": st.fixed_dictionaries(
            {}, optional={"cache_read": st.integers(0, 9)}
        ),
        "output_token_details": st.fixed_dictionaries(
            {}, optional={"reasoning": st.integers(0, 9)}
        ),
    },
)
_metadata = st.fixed_dictionaries(
    {},
    optional={
        "finish_reason": st.sampled_from(["stop", "length", "tool_calls", "STOP"]),
        "stop_reason": st.sampled_from(["end_turn", "tool_use", "refusal"]),
        "done_reason": st.sampled_from(["stop", "load"]),
    },
)
_real_chunks = st.builds(
    AIMessageChunk,
    content=_words | st.lists(_blocks, max_size=2),
    tool_call_chunks=st.lists(_tool_chunks, max_size=2),
    usage_metadata=st.none() | _usage,
    response_metadata=_metadata,
    chunk_position=st.none() | st.just("last"),
)
_dict_chunks = st.fixed_dictionaries(
    {},
    optional={
        "content": maybe(_words | st.lists(maybe(_blocks), max_size=2)),
        "tool_call_chunks": maybe(st.lists(maybe(_tool_chunks), max_size=2)),
        "usage_metadata": maybe(_usage),
        "response_metadata": maybe(_metadata),
        "additional_kwargs": maybe(st.fixed_dictionaries({"reasoning_content": maybe(_words)})),
        "chunk_position": maybe(st.just("last")),
        "type": st.sampled_from(["AIMessageChunk", "ai"]),
        "tool_calls": maybe(st.lists(st.fixed_dictionaries({"name": scalars, "args": scalars}))),
    },
)
_events = st.builds(
    lambda kind, run_id, chunk: {"event": kind, "run_id": run_id, "data": {"chunk": chunk}},
    st.sampled_from(["on_chat_model_stream", "on_chat_model_end", "on_tool_start"]),
    st.sampled_from(["r1", "r2"]),
    _real_chunks,
)
_items = _real_chunks | _dict_chunks | _events | _words


@given(st.lists(_items, max_size=8))
def test_any_sequence_of_plausible_items_keeps_the_invariants(items: list[Any]) -> None:
    check_read_cleanly(from_langchain(items))
