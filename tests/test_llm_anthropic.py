"""from_anthropic: the quirks of the Messages event protocol, and the recorded
streams as the anthropic SDK delivers them: it skips pings, raises for an
error event, and ``messages.stream()`` adds helper events of its own. What
from_anthropic shares with the other adapters is tested in test_llm_adapters."""

from __future__ import annotations

from typing import Any

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
    ToolCallEnd,
    ToolCallStart,
    Usage,
    accumulate,
)
from streamkit.llm._anthropic import AnthropicAdapter, from_anthropic

from .llm_fixtures import (
    ANTHROPIC_REQUEST,
    ANTHROPIC_SDK,
    Upstream,
    anthropic_sdk_stream,
    anthropic_status_error,
    check_fixture,
    check_invariants,
    checked,
    fixtures_of,
    junk,
    mostly,
    record,
    record_streams,
    wire_items,
)


@pytest.mark.parametrize("name", fixtures_of("anthropic"))
def test_fixture_as_the_sdk_delivers_it_gives_the_expected_outcome(name: str) -> None:
    check_fixture(from_anthropic(anthropic_sdk_stream(wire_items(name))), name)


@pytest.mark.parametrize("name", fixtures_of("anthropic"))
def test_the_sdks_message_stream_helper_gives_the_same_events(name: str) -> None:
    """``messages.stream()`` yields its own helper events besides the raw ones."""
    client = ANTHROPIC_SDK.for_fixture(name)
    with client.messages.stream(**ANTHROPIC_REQUEST) as stream:
        helper = list(from_anthropic(stream))
    assert helper == list(from_anthropic(ANTHROPIC_SDK.request(client)))


def test_an_error_event_the_sdk_raises_gives_the_same_error_with_the_streams_status() -> None:
    """The SDK raises for the error event: the same events before it, the
    same error, with the stream's HTTP status (200) and no raw payload of
    its own."""
    items = wire_items("derived/anthropic_midstream_overloaded_error.sse")
    *from_sdk, got = from_anthropic(anthropic_sdk_stream(items))
    *from_wire, want = from_anthropic(items)
    assert from_sdk == from_wire
    assert isinstance(got, Error)
    assert isinstance(want, Error)
    assert (got.message, got.kind, got.retryable, got.status) == (
        want.message,
        want.kind,
        want.retryable,
        200,
    )


# -- building events ----------------------------------------------------------------------------


def message_start(usage: dict[str, Any] | None = None, **message: Any) -> dict[str, Any]:
    body = {
        "id": "msg_1",
        "model": "claude",
        "usage": usage or {"input_tokens": 5, "output_tokens": 1},
    }
    return {"type": "message_start", "message": {**body, **message}}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **body: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": body}


def text(index: int, value: str) -> dict[str, Any]:
    return delta(index, type="text_delta", text=value)


def args(index: int, value: str) -> dict[str, Any]:
    return delta(index, type="input_json_delta", partial_json=value)


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(reason: str | None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": reason, "stop_sequence": None},
        "usage": usage or {"output_tokens": 9},
    }


STOP = {"type": "message_stop"}


def run(items: list[Any]) -> list[LLMEvent]:
    return checked(from_anthropic(items))


def usages(events: list[LLMEvent]) -> list[dict[str, int]]:
    return [e.as_dict() for e in events if isinstance(e, Usage)]


# -- usage --------------------------------------------------------------------------------------


def test_cumulative_usage_replaces_and_is_never_summed() -> None:
    start_usage = {
        "input_tokens": 100,
        "cache_read_input_tokens": 50,
        "cache_creation_input_tokens": 20,
        "output_tokens": 1,
    }
    events = run(
        [
            message_start(start_usage),
            text(0, "hi"),
            message_delta(None, {"output_tokens": 30}),
            # Server tools raise the input count mid-stream; output stays cumulative.
            message_delta("end_turn", {"output_tokens": 45, "input_tokens": 180}),
            STOP,
        ]
    )
    assert usages(events) == [
        {
            "input_tokens": 100,
            "output_tokens": 1,
            "cache_read_tokens": 50,
            "cache_write_tokens": 20,
        },
        {
            "input_tokens": 100,
            "output_tokens": 30,
            "cache_read_tokens": 50,
            "cache_write_tokens": 20,
        },
        {
            "input_tokens": 180,
            "output_tokens": 45,
            "cache_read_tokens": 50,
            "cache_write_tokens": 20,
        },
    ]
    assert accumulate(events).usage == Usage(180, 45, None, 50, 20)


def test_usage_keys_the_provider_did_not_send_stay_absent() -> None:
    events = run(
        [message_start({"input_tokens": 11, "output_tokens": 1}), message_delta("end_turn")]
    )
    assert usages(events)[-1] == {"input_tokens": 11, "output_tokens": 9}


def test_thinking_tokens_are_the_reasoning_tokens() -> None:
    usage = {"output_tokens": 40, "output_tokens_details": {"thinking_tokens": 25}}
    events = run([message_start(), message_delta("end_turn", usage)])
    assert usages(events)[-1]["reasoning_tokens"] == 25


def test_usage_without_message_start_is_still_read() -> None:
    events = run([message_delta("end_turn", {"output_tokens": 3, "input_tokens": 2})])
    assert usages(events) == [{"input_tokens": 2, "output_tokens": 3}]


# -- finish -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "refusal"),
        ("pause_turn", "other"),
        ("a_future_reason", "other"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason: str, finish: str) -> None:
    events = run([message_start(), text(0, "x"), message_delta(stop_reason), STOP])
    assert events[-1] == Finish(finish, stop_reason)  # type: ignore[arg-type]


def test_the_finish_comes_after_the_last_usage_and_closes_blocks() -> None:
    events = run(
        [
            message_start(),
            block_start(0, {"type": "text", "text": ""}),
            text(0, "a"),
            message_delta("end_turn"),
            STOP,
        ]
    )
    assert [e.type for e in events[-3:]] == ["usage", "text-end", "finish"]


def test_a_stream_without_a_stop_reason_ends_with_an_error() -> None:
    events = run([message_start(), text(0, "partial"), STOP])
    assert isinstance(events[-1], Error)
    assert (events[-1].kind, events[-1].retryable) == ("incomplete", True)


# -- blocks -------------------------------------------------------------------------------------


def test_thinking_with_its_signature_then_text() -> None:
    events = run(
        [
            message_start(),
            block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
            delta(0, type="thinking_delta", thinking="Let me think."),
            delta(0, type="thinking_delta", thinking=""),
            delta(0, type="signature_delta", signature="sig=="),
            block_stop(0),
            block_start(1, {"type": "text", "text": ""}),
            text(1, "Answer."),
            block_stop(1),
            message_delta("end_turn"),
        ]
    )
    end = next(e for e in events if isinstance(e, ReasoningEnd))
    assert (end.signature, end.redacted) == ("sig==", None)
    result = accumulate(events)
    assert (result.reasoning, result.text, result.signatures) == (
        "Let me think.",
        "Answer.",
        ["sig=="],
    )
    # The reasoning block closed before the text block opened.
    assert events.index(end) < next(i for i, e in enumerate(events) if isinstance(e, TextDelta))


def test_redacted_thinking_is_a_reasoning_block_with_its_data() -> None:
    events = run(
        [
            message_start(),
            block_start(0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p..."}),
            block_stop(0),
            message_delta("end_turn"),
        ]
    )
    assert any(isinstance(e, ReasoningStart) for e in events)
    end = next(e for e in events if isinstance(e, ReasoningEnd))
    assert (end.redacted, end.signature) == ("EmwKAhgBEgy3va3p...", None)


def test_a_tool_use_block_is_a_tool_call_by_its_id() -> None:
    events = run(
        [
            message_start(),
            block_start(0, {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {}}),
            args(0, ""),
            args(0, '{"city": '),
            args(0, '"Paris"}'),
            block_stop(0),
            message_delta("tool_use"),
        ]
    )
    start = next(e for e in events if isinstance(e, ToolCallStart))
    assert (start.call_id, start.name, start.index, start.provider_executed) == (
        "toolu_1",
        "get",
        0,
        False,
    )
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert (end.args_json, end.args) == ('{"city": "Paris"}', {"city": "Paris"})


def test_a_tool_without_arguments_gets_an_empty_object() -> None:
    events = run(
        [
            message_start(),
            block_start(0, {"type": "tool_use", "id": "t", "name": "now"}),
            args(0, ""),
            block_stop(0),
            message_delta("tool_use"),
        ]
    )
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert (end.args_json, end.args, end.parse_error) == ("{}", {}, None)


def test_server_tool_use_is_provider_executed_and_its_result_is_ignored() -> None:
    events = run(
        [
            message_start(),
            block_start(0, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"}),
            args(0, '{"query": "x"}'),
            block_stop(0),
            block_start(
                1, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
            ),
            block_stop(1),
            block_start(2, {"type": "text", "text": ""}),
            text(2, "Found it."),
            delta(2, type="citations_delta", citation={"type": "web_search_result_location"}),
            block_stop(2),
            message_delta("end_turn"),
        ]
    )
    start = next(e for e in events if isinstance(e, ToolCallStart))
    assert (start.call_id, start.name, start.provider_executed) == (
        "srvtoolu_1",
        "web_search",
        True,
    )
    result = accumulate(events)
    assert (result.text, result.finish) == ("Found it.", "stop")
    assert [(c.id, c.args) for c in result.tool_calls] == [("srvtoolu_1", {"query": "x"})]


def test_a_tool_cut_off_by_max_tokens_ends_with_a_parse_error() -> None:
    events = run(
        [
            message_start(),
            block_start(0, {"type": "tool_use", "id": "t", "name": "f"}),
            args(0, '{"a": "unfinished'),
            message_delta("max_tokens"),
            STOP,
        ]
    )
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert (end.args_json, end.args) == ('{"a": "unfinished', None)
    assert end.parse_error
    assert events[-1] == Finish("length", "max_tokens")


def test_a_repeated_tool_id_is_made_unique() -> None:
    """A malformed stream: ids stay unique (the builder renames the repeats)."""
    tool = {"type": "tool_use", "id": "toolu_1", "name": "f"}
    events = run(
        [
            message_start(),
            block_start(0, tool),
            block_stop(0),
            block_start(1, tool),
            block_stop(1),
            block_start(1, tool),
            message_delta("tool_use"),
        ]
    )
    starts = [e.call_id for e in events if isinstance(e, ToolCallStart)]
    assert starts == ["toolu_1", "call_1", "call_2"]


def test_interleaved_blocks_are_kept_apart_by_index() -> None:
    events = run(
        [
            message_start(),
            block_start(0, {"type": "tool_use", "id": "a", "name": "f"}),
            block_start(1, {"type": "tool_use", "id": "b", "name": "g"}),
            args(1, '{"y": 2}'),
            args(0, '{"x": 1}'),
            block_stop(1),
            block_stop(0),
            message_delta("tool_use"),
        ]
    )
    ends = [(e.call_id, e.args) for e in events if isinstance(e, ToolCallEnd)]
    assert ends == [("b", {"y": 2}), ("a", {"x": 1})]


def test_the_start_carries_the_message_id_and_model() -> None:
    events = run([message_start(id="msg_9", model="claude-x"), message_delta("end_turn")])
    start = events[0]
    assert (start.response_id, start.model, start.provider) == ("msg_9", "claude-x", "anthropic")  # type: ignore[union-attr]


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "retryable"),
    [
        ("overloaded_error", True),
        ("rate_limit_error", True),
        ("api_error", True),
        ("invalid_request_error", False),
    ],
)
def test_an_in_stream_error_event_ends_the_stream(error_type: str, retryable: bool) -> None:
    error = {"type": "error", "error": {"type": error_type, "message": "Nope"}}
    events = run(
        [
            message_start(),
            block_start(0, {"type": "text", "text": ""}),
            text(0, "Hel"),
            error,
            text(0, "ignored"),
        ]
    )
    last = events[-1]
    assert isinstance(last, Error)
    assert (last.message, last.kind, last.retryable, last.provider) == (
        "Nope",
        error_type,
        retryable,
        "anthropic",
    )
    assert accumulate(events).text == "Hel"
    assert events[-2].type == "text-end"


def test_an_error_event_of_an_odd_shape_still_ends_the_stream() -> None:
    for odd in (
        {"type": "error"},
        {"type": "error", "error": "boom"},
        {"type": "error", "error": 5},
    ):
        last = run([message_start(), odd])[-1]
        assert isinstance(last, Error)
        assert last.message


def test_the_sdk_status_error_mid_stream_is_an_error_with_status_and_retryable() -> None:
    """The SDK's ``message`` is the repr of the body; the event has the
    provider's own message (``api_message``)."""
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    upstream = Upstream([message_start()], text(0, "Hello"), error=anthropic_status_error(body))
    last = checked(from_anthropic(upstream.items()))[-1]
    assert isinstance(last, Error)
    assert (last.message, last.kind, last.status, last.retryable) == (
        "Overloaded",
        "overloaded_error",
        200,
        True,
    )
    assert upstream.closed == 1


def test_pings_unknown_events_and_the_sdk_helper_events_are_ignored() -> None:
    items = [
        message_start(),
        {"type": "ping"},
        block_start(0, {"type": "text", "text": ""}),
        text(0, "ok"),
        # What messages.stream() yields besides the raw events.
        {"type": "text", "text": "ok", "snapshot": "ok"},
        {"type": "a_new_event", "index": 0},
        delta(0, type="a_new_delta", stuff=1),
        block_start(1, {"type": "a_new_block"}),
        {"no_type": 1},
        "not a record",
        block_stop(0),
        message_delta("end_turn"),
        STOP,
    ]
    result = accumulate(run(items))
    assert (result.text, result.finish, result.error, result.tool_calls) == ("ok", "stop", None, [])


def test_the_adapter_is_sans_io() -> None:
    adapter = AnthropicAdapter()
    adapter.feed(message_start())
    adapter.feed(text(0, "hi"))
    assert [e.type for e in adapter.builder.drain()] == [
        "start",
        "usage",
        "text-start",
        "text-delta",
    ]
    adapter.feed(block_stop(0))
    adapter.feed(message_delta("end_turn"))
    adapter.end()
    adapter.builder.close()
    assert [e.type for e in adapter.builder.drain()] == ["text-end", "usage", "finish"]


# -- property: any sequence keeps the invariants ------------------------------------------------

_indexes = mostly(st.integers(min_value=0, max_value=2))
_text = mostly(st.text(max_size=8))
_json_bits = mostly(st.sampled_from(["", "{", "}", '"a"', ":", "1", '{"a": 1}']))


_usage = st.fixed_dictionaries(
    {},
    optional={
        "input_tokens": mostly(st.integers(0, 99)),
        "output_tokens": mostly(st.integers(0, 99)),
        "cache_read_input_tokens": st.integers(0, 99),
        "cache_creation_input_tokens": st.integers(0, 99),
    },
)
_block = mostly(
    st.one_of(
        record("text", text=_text),
        record("thinking", thinking=_text, signature=_text),
        record("redacted_thinking", data=_text),
        record("tool_use", id=st.sampled_from(["t1", "t2"]), name=_text, input=junk),
        record("server_tool_use", id=st.just("s1"), name=_text),
        record("web_search_tool_result", tool_use_id=_text),
    )
)
_delta = mostly(
    st.one_of(
        record("text_delta", text=_text),
        record("input_json_delta", partial_json=_json_bits),
        record("thinking_delta", thinking=_text),
        record("signature_delta", signature=_text),
        record("citations_delta", citation=junk),
    )
)
_reasons = st.sampled_from(["end_turn", "tool_use", "max_tokens", "refusal", "new"])
_plausible = st.one_of(
    record(
        "message_start", message=st.fixed_dictionaries({}, optional={"id": _text, "usage": _usage})
    ),
    record("content_block_start", index=_indexes, content_block=_block),
    record("content_block_delta", index=_indexes, delta=_delta),
    record("content_block_stop", index=_indexes),
    record(
        "message_delta",
        delta=st.fixed_dictionaries({"stop_reason": mostly(_reasons)}),
        usage=_usage,
    ),
    record("message_stop"),
    record("ping"),
)


@given(
    record_streams(
        _plausible,
        record(
            "error", error=st.fixed_dictionaries({}, optional={"type": _text, "message": _text})
        ),
        record("a_new_event", index=_indexes),
    )
)
def test_any_sequence_of_events_keeps_the_invariants(items: list[Any]) -> None:
    check_invariants(list(from_anthropic(items)))
