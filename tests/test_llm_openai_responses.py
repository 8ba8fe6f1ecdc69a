"""from_openai_responses: the quirks of the Responses event protocol, its error
shapes, and the recorded quota error as the openai SDK delivers it. What
from_openai_responses shares with the other adapters is tested in
test_llm_adapters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamkit.llm import (
    Error,
    Finish,
    LLMEvent,
    ReasoningEnd,
    ReasoningStart,
    TextDelta,
    TextStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    accumulate,
)
from streamkit.llm._openai_responses import OpenAIResponsesAdapter, from_openai_responses

from .llm_fixtures import (
    check_fixture,
    check_invariants,
    checked,
    mostly,
    openai_responses_objects,
    record,
    record_streams,
    wire_items,
)


def test_the_quota_fixture_as_the_sdk_delivers_it_gives_the_same_outcome() -> None:
    """The recorded ``error`` event is nested (``{"error": {...}}``), not the
    SDK's declared flat ``ResponseErrorEvent``: the SDK raises ``APIError``
    for it instead of yielding it, and the driver turns that into the error."""
    openai = pytest.importorskip("openai")
    name = "openai_responses_error_quota.jsonl"
    items = wire_items(name)
    at = next(i for i, item in enumerate(items) if item["type"] == "error")

    def upstream() -> Iterator[Any]:
        yield from openai_responses_objects(items[:at])
        # Recent SDKs are built on httpx2, older ones on httpx: the
        # exception only keeps the request.
        request = cast(Any, httpx.Request("POST", "https://api.openai.com/v1/responses"))
        raise openai.APIError(items[at]["error"]["message"], request, body=items[at]["error"])

    check_fixture(from_openai_responses(upstream()), name)


# -- building events ----------------------------------------------------------------------------


def created(response_id: str = "resp_1", model: str = "gpt-5") -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": response_id, "model": model}}


def completed(usage: dict[str, Any] | None = None, **response: Any) -> dict[str, Any]:
    return {
        "type": "response.completed",
        "response": {"id": "resp_1", "status": "completed", "usage": usage, **response},
    }


def text_delta(delta: str, item: str = "msg_1", content_index: int = 0) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "item_id": item,
        "content_index": content_index,
        "delta": delta,
    }


def call_added(item: str = "fc_1", call_id: str = "call_1", name: str = "f") -> dict[str, Any]:
    return {
        "type": "response.output_item.added",
        "item": {"type": "function_call", "id": item, "call_id": call_id, "name": name},
    }


def args_delta(delta: str, item: str = "fc_1") -> dict[str, Any]:
    return {"type": "response.function_call_arguments.delta", "item_id": item, "delta": delta}


def args_done(arguments: str, item: str = "fc_1") -> dict[str, Any]:
    return {
        "type": "response.function_call_arguments.done",
        "item_id": item,
        "arguments": arguments,
    }


def call_done(
    arguments: str, item: str = "fc_1", call_id: str = "call_1", name: str = "f"
) -> dict[str, Any]:
    return {
        "type": "response.output_item.done",
        "item": {
            "type": "function_call",
            "id": item,
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
        },
    }


def run(items: list[Any]) -> list[LLMEvent]:
    return checked(from_openai_responses(items))


# -- tool calls ---------------------------------------------------------------------------------


def test_a_call_is_reported_by_its_call_id_not_its_item_id() -> None:
    events = run(
        [
            created(),
            call_added("fc_9", "call_abc", "get"),
            args_delta('{"a": 1}', "fc_9"),
            args_done('{"a": 1}', "fc_9"),
            completed(),
        ]
    )
    start = next(e for e in events if isinstance(e, ToolCallStart))
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert (start.call_id, start.name, start.index) == ("call_abc", "get", 0)
    assert all(e.call_id == "call_abc" for e in events if isinstance(e, ToolCallDelta))
    assert (end.call_id, end.args) == ("call_abc", {"a": 1})
    assert events[-1] == Finish("tool_calls", "completed")


def test_arguments_sent_only_with_done_are_the_calls_arguments() -> None:
    """BerriAI/litellm #27144: some models send no argument deltas."""
    events = run(
        [
            created(),
            call_added(),
            args_done('{"x": [1, 2]}'),
            call_done('{"x": [1, 2]}'),
            completed(),
        ]
    )
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [d.args_delta for d in deltas] == ['{"x": [1, 2]}']
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert (end.args_json, end.args) == ('{"x": [1, 2]}', {"x": [1, 2]})


def test_a_call_seen_only_in_output_item_done_is_reported_whole() -> None:
    events = run([created(), call_done('{"q": "s"}', "fc_2", "call_2", "search"), completed()])
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert (end.call_id, end.name, end.args) == ("call_2", "search", {"q": "s"})
    assert events[-1] == Finish("tool_calls", "completed")


def test_parallel_calls_interleaved_by_item_id_stay_separate() -> None:
    events = run(
        [
            created(),
            call_added("fc_a", "call_a", "f"),
            call_added("fc_b", "call_b", "g"),
            args_delta('{"x"', "fc_a"),
            args_delta('{"y"', "fc_b"),
            args_delta(": 1}", "fc_a"),
            args_delta(": 2}", "fc_b"),
            args_done('{"y": 2}', "fc_b"),
            args_done('{"x": 1}', "fc_a"),
            completed(),
        ]
    )
    ends = [(e.call_id, e.name, e.args) for e in events if isinstance(e, ToolCallEnd)]
    assert ends == [("call_b", "g", {"y": 2}), ("call_a", "f", {"x": 1})]


def test_events_of_a_finished_call_are_ignored() -> None:
    events = run(
        [
            created(),
            call_added(),
            args_delta("{}"),
            args_done("{}"),
            args_delta('"late"'),
            call_done('{"other": 1}'),
            completed(),
        ]
    )
    ends = [e for e in events if isinstance(e, ToolCallEnd)]
    assert [(e.call_id, e.args_json) for e in ends] == [("call_1", "{}")]


def test_a_call_id_repeated_by_another_item_is_made_unique() -> None:
    """A malformed stream: ids stay unique (the builder renames the repeat)."""
    events = run(
        [
            created(),
            call_added("fc_1", "call_x"),
            call_added("fc_2", "call_x"),
            call_done("{}", "fc_2", "call_x"),
            call_done("{}", "fc_1", "call_x"),
            completed(),
        ]
    )
    calls = [(e.type, e.call_id) for e in events if isinstance(e, ToolCallStart | ToolCallEnd)]
    # fc_2's call is renamed; each item's done ends its own call.
    assert calls == [
        ("tool-call-start", "call_x"),
        ("tool-call-start", "call_1"),
        ("tool-call-end", "call_1"),
        ("tool-call-end", "call_x"),
    ]


def test_deltas_of_an_unannounced_call_wait_for_its_name() -> None:
    events = run(
        [
            created(),
            args_delta('{"k": 1}', "fc_x"),
            call_done('{"k": 1}', "fc_x", "call_x", "h"),
            completed(),
        ]
    )
    start = next(e for e in events if isinstance(e, ToolCallStart))
    assert (start.call_id, start.name) == ("call_x", "h")
    assert next(e for e in events if isinstance(e, ToolCallEnd)).args == {"k": 1}


def test_a_response_without_calls_finishes_with_stop() -> None:
    events = run([created(), text_delta("hi"), completed()])
    assert events[-1] == Finish("stop", "completed")


# -- text, refusal, reasoning -------------------------------------------------------------------


def test_each_content_part_is_its_own_text_block() -> None:
    events = run(
        [
            created(),
            text_delta("a", "msg_1", 0),
            {"type": "response.output_text.done", "item_id": "msg_1", "content_index": 0},
            text_delta("b", "msg_1", 1),
            text_delta("c", "msg_2", 0),
            completed(),
        ]
    )
    starts = [e for e in events if isinstance(e, TextStart)]
    assert len(starts) == 3
    assert accumulate(events).text == "abc"


def test_a_refusal_is_a_refusal_block() -> None:
    events = run(
        [
            created(),
            {
                "type": "response.refusal.delta",
                "item_id": "m",
                "content_index": 0,
                "delta": "I can't",
            },
            {
                "type": "response.refusal.delta",
                "item_id": "m",
                "content_index": 0,
                "delta": " help.",
            },
            {"type": "response.refusal.done", "item_id": "m", "content_index": 0, "refusal": "-"},
            completed(),
        ]
    )
    assert next(e for e in events if isinstance(e, TextStart)).kind == "refusal"
    assert accumulate(events).refusal == "I can't help."


def summary_delta(delta: str, index: int, item: str = "rs_1") -> dict[str, Any]:
    return {
        "type": "response.reasoning_summary_text.delta",
        "item_id": item,
        "summary_index": index,
        "delta": delta,
    }


def test_reasoning_summaries_are_summary_blocks_one_per_part() -> None:
    events = run(
        [
            created(),
            summary_delta("First.", 0),
            {"type": "response.reasoning_summary_part.done", "item_id": "rs_1", "summary_index": 0},
            summary_delta("Second.", 1),
            {
                "type": "response.output_item.done",
                "item": {"type": "reasoning", "id": "rs_1", "summary": [{}, {}]},
            },
            text_delta("answer"),
            completed(),
        ]
    )
    starts = [e for e in events if isinstance(e, ReasoningStart)]
    assert [s.kind for s in starts] == ["summary", "summary"]
    result = accumulate(events)
    assert (result.reasoning, result.text) == ("First.Second.", "answer")
    # Both summary blocks closed before the text began.
    text_at = next(i for i, e in enumerate(events) if isinstance(e, TextStart))
    assert sum(isinstance(e, ReasoningEnd) for e in events[:text_at]) == 2


def test_raw_reasoning_text_is_a_raw_reasoning_block() -> None:
    delta = {"type": "response.reasoning_text.delta", "item_id": "rs", "content_index": 0}
    events = run([created(), {**delta, "delta": "think"}, completed()])
    assert next(e for e in events if isinstance(e, ReasoningStart)).kind == "raw"
    assert accumulate(events).reasoning == "think"


def test_encrypted_reasoning_comes_as_redacted_content() -> None:
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA..."}
    events = run([created(), {"type": "response.output_item.done", "item": item}, completed()])
    end = next(e for e in events if isinstance(e, ReasoningEnd))
    assert end.redacted == "gAAA..."


# -- terminal events ----------------------------------------------------------------------------


def test_usage_of_the_terminal_response_is_mapped() -> None:
    usage = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 40, "cache_write_tokens": 7},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 130,
    }
    events = run([created(), text_delta("x"), completed(usage)])
    got = next(e for e in events if isinstance(e, Usage))
    assert got.as_dict() == {
        "input_tokens": 100,
        "output_tokens": 30,
        "total_tokens": 130,
        "cache_read_tokens": 40,
        "cache_write_tokens": 7,
        "reasoning_tokens": 12,
    }
    assert [e.type for e in events[-3:]] == ["usage", "text-end", "finish"]


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("max_output_tokens", "length"),
        ("content_filter", "content_filter"),
        ("max_messages", "other"),
        (None, "other"),
    ],
)
def test_an_incomplete_response_finishes_with_its_reason(reason: str | None, finish: str) -> None:
    incomplete = {
        "type": "response.incomplete",
        "response": {
            "status": "incomplete",
            "incomplete_details": None if reason is None else {"reason": reason},
            "usage": {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12},
        },
    }
    events = run([created(), text_delta("cut"), incomplete])
    assert events[-1] == Finish(finish, reason or "incomplete")  # type: ignore[arg-type]
    assert [e.type for e in events[-3:]] == ["usage", "text-end", "finish"]


def flat_error_as_the_sdk_object() -> Any:
    types = pytest.importorskip("openai.types.responses")
    return types.ResponseErrorEvent(
        type="error", code="server_error", message="oops", sequence_number=1
    )


NESTED_ERROR = {
    "type": "error",
    "sequence_number": 2,
    "error": {"type": "invalid_request_error", "code": "bad", "message": "no", "param": "x"},
}


@pytest.mark.parametrize(
    ("ending", "want", "raw"),
    [
        pytest.param(
            lambda: [
                text_delta("x"),
                {
                    "type": "response.failed",
                    "response": {
                        "status": "failed",
                        "error": {"code": "server_error", "message": "boom"},
                    },
                },
            ],
            ("boom", "server_error", "server_error", True),
            {"code": "server_error", "message": "boom"},
            id="a-failed-response",
        ),
        pytest.param(
            lambda: [
                {
                    "type": "error",
                    "code": "rate_limit_exceeded",
                    "message": "slow down",
                    "param": None,
                    "sequence_number": 3,
                }
            ],
            ("slow down", "rate_limit_exceeded", "rate_limit_exceeded", True),
            {"code": "rate_limit_exceeded", "sequence_number": 3},
            id="the-flat-error-shape-the-sdk-declares",
        ),
        pytest.param(
            lambda: [flat_error_as_the_sdk_object()],
            ("oops", "server_error", "server_error", True),
            {"code": "server_error", "message": "oops"},
            id="the-flat-error-shape-as-the-sdk-object",
        ),
        pytest.param(
            # The failure after it does not replace the first error.
            lambda: [
                NESTED_ERROR,
                {"type": "response.failed", "response": {"error": {"code": "o", "message": "?"}}},
            ],
            ("no", "bad", "invalid_request_error", False),
            {"type": "invalid_request_error", "param": "x"},
            id="the-nested-error-shape-as-recorded",
        ),
    ],
)
def test_an_error_ends_the_stream_with_its_fields(
    ending: Callable[[], list[Any]], want: tuple[Any, ...], raw: dict[str, Any]
) -> None:
    error = run([created(), *ending()])[-1]
    assert isinstance(error, Error)
    assert (error.message, error.code, error.kind, error.retryable) == want
    assert error.raw is not None
    assert raw.items() <= error.raw.items()


def test_an_error_without_a_message_still_ends_the_stream() -> None:
    events = run([created(), {"type": "error"}, text_delta("ignored")])
    assert isinstance(events[-1], Error)
    assert events[-1].message
    assert not any(isinstance(e, TextDelta) for e in events)


def test_the_start_carries_the_response_id_and_model() -> None:
    events = run([created("resp_7", "gpt-x"), completed()])
    start = events[0]
    assert (start.response_id, start.model, start.provider) == ("resp_7", "gpt-x", "openai")  # type: ignore[union-attr]


def test_unknown_event_types_are_ignored() -> None:
    items = [
        created(),
        {"type": "response.in_progress", "response": {}},
        {"type": "response.web_search_call.searching", "item_id": "ws", "output_index": 0},
        {"type": "response.custom_tool_call_input.delta", "item_id": "ct", "delta": "x"},
        {"type": "response.output_item.added", "item": {"type": "web_search_call", "id": "ws"}},
        {"type": "response.brand_new_event", "whatever": [1, 2]},
        {"no_type": True},
        "not even a record",
        text_delta("ok"),
        completed(),
    ]
    result = accumulate(run(items))
    assert (result.text, result.finish, result.error, result.tool_calls) == ("ok", "stop", None, [])


def test_the_adapter_is_sans_io() -> None:
    adapter = OpenAIResponsesAdapter()
    adapter.feed(created())
    adapter.feed(text_delta("hi"))
    assert [e.type for e in adapter.builder.drain()] == ["start", "text-start", "text-delta"]
    adapter.feed(completed())
    adapter.end()
    adapter.builder.close()
    assert [e.type for e in adapter.builder.drain()] == ["text-end", "finish"]


# -- property: any sequence keeps the invariants ------------------------------------------------

_ids = mostly(st.sampled_from(["fc_1", "fc_2", "msg_1", "rs_1"]))
_indexes = mostly(st.integers(min_value=0, max_value=2))
_text = mostly(st.text(max_size=8))
_json_bits = mostly(st.sampled_from(["", "{", "}", '"a"', ":", "1", ",", "[", "]", '{"a": 1}']))


_usage = st.fixed_dictionaries(
    {},
    optional={
        "input_tokens": mostly(st.integers(0, 99)),
        "output_tokens": mostly(st.integers(0, 99)),
        "total_tokens": st.integers(0, 99),
        "input_tokens_details": st.fixed_dictionaries({}, optional={"cached_tokens": _indexes}),
    },
)
_response = st.fixed_dictionaries(
    {},
    optional={
        "id": _text,
        "model": _text,
        "status": _text,
        "usage": mostly(_usage),
        "incomplete_details": mostly(
            st.fixed_dictionaries({"reason": st.sampled_from(["max_output_tokens", "x"])})
        ),
        "error": mostly(st.fixed_dictionaries({}, optional={"code": _text, "message": _text})),
    },
)
_item = st.fixed_dictionaries(
    {"type": mostly(st.sampled_from(["function_call", "message", "reasoning", "web_search"]))},
    optional={
        "id": _ids,
        # "call_<n>" as the builder's synthesised ids, to exercise clashes.
        "call_id": mostly(st.sampled_from(["call_1", "call_2"])),
        "name": mostly(st.sampled_from(["f", "g", ""])),
        "arguments": _json_bits,
        "content": st.lists(st.just({}), max_size=2) | st.none(),
        "summary": st.lists(st.just({}), max_size=2) | st.none(),
        "encrypted_content": _text,
    },
)
_located = {"item_id": _ids, "content_index": _indexes}
_plausible = st.one_of(
    record("response.output_text.delta", delta=_text, **_located),
    record("response.refusal.delta", delta=_text, **_located),
    record("response.reasoning_text.delta", delta=_text, **_located),
    record(
        "response.reasoning_summary_text.delta", delta=_text, item_id=_ids, summary_index=_indexes
    ),
    record("response.function_call_arguments.delta", item_id=_ids, delta=_json_bits),
    record("response.function_call_arguments.done", item_id=_ids, arguments=_json_bits, name=_text),
    record("response.output_text.done", **_located),
    record("response.content_part.done", **_located),
    record("response.reasoning_summary_part.done", item_id=_ids, summary_index=_indexes),
    record("response.output_item.added", item=_item),
    record("response.output_item.done", item=_item),
    record("response.created", response=_response),
    record("response.completed", response=_response),
    record("response.incomplete", response=_response),
)


@given(
    record_streams(
        _plausible,
        record("response.failed", response=_response),
        record("error", code=_text, message=_text, error=st.text(max_size=3)),
        record("response.something_new", delta=_text),
    )
)
def test_any_sequence_of_events_keeps_the_invariants(items: list[Any]) -> None:
    check_invariants(list(from_openai_responses(items)))
