"""The EventBuilder keeps the stream invariants whatever an adapter tells it,
and accumulate folds streams into their result."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamkit.llm import (
    Error,
    Finish,
    ReasoningEnd,
    StreamStart,
    TextStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    accumulate,
)
from streamkit.llm._builder import EventBuilder, error_from_exception, parse_args

from .llm_fixtures import check_invariants

keys = st.sampled_from(["a", "b", ("tool", 0), ("tool", 1), 7])
texts = st.text(max_size=5)
reasons = st.sampled_from(["stop", "length", "tool_calls", "content_filter", "refusal", "other"])

calls = st.one_of(
    st.tuples(st.just("start"), st.none() | st.text(max_size=3), st.none() | st.text(max_size=3)),
    st.tuples(st.just("text"), keys, texts),
    st.tuples(st.just("refusal"), keys, texts),
    st.tuples(st.just("reasoning"), keys, texts),
    st.tuples(st.just("signature"), keys, st.none() | texts),
    st.tuples(st.just("end"), keys),
    st.tuples(st.just("end_blocks"), keys),
    st.tuples(
        st.just("tool_start"),
        keys,
        st.none() | st.text(max_size=3),
        st.none() | st.text(max_size=3),
    ),
    st.tuples(st.just("tool_args"), keys, st.sampled_from(["", "{", '"x"', ":1", "}", "[1]"])),
    st.tuples(st.just("tool_end"), keys, st.none() | st.sampled_from(["{}", '{"a":1}', "{"])),
    st.tuples(st.just("tool_call"), keys, st.text(max_size=3), st.none() | st.just({"q": 1})),
    st.tuples(st.just("usage"), st.integers(0, 9)),
    st.tuples(st.just("add_usage"), st.integers(0, 9)),
    st.tuples(st.just("finish"), reasons, st.booleans()),
    st.tuples(st.just("error"), texts),
)


def apply(builder: EventBuilder, call: tuple[Any, ...]) -> None:
    name, *args = call
    if name == "start":
        builder.start(args[0], args[1])
    elif name == "text":
        builder.text(args[0], args[1])
    elif name == "refusal":
        builder.text(args[0], args[1], kind="refusal")
    elif name == "reasoning":
        builder.reasoning(args[0], args[1])
    elif name == "signature":
        builder.reasoning_signature(args[0], args[1])
    elif name == "end":
        builder.end(args[0])
    elif name == "end_blocks":
        builder.end_blocks(except_key=args[0])
    elif name == "tool_start":
        builder.tool_start(args[0], call_id=args[1], name=args[2])
    elif name == "tool_args":
        builder.tool_args(args[0], args[1])
    elif name == "tool_end":
        builder.tool_end(args[0], full_args=args[1])
    elif name == "tool_call":
        builder.tool_call(args[0], name=args[1], args=args[2])
    elif name == "usage":
        builder.usage(Usage(input_tokens=args[0], output_tokens=args[0]))
    elif name == "add_usage":
        builder.add_usage(Usage(input_tokens=args[0]))
    elif name == "finish":
        builder.finish(args[0], args[0], stop_with_calls=args[1])
    elif name == "error":
        builder.error(args[0] or "failed")


@given(st.lists(calls, max_size=40))
def test_any_sequence_of_observations_gives_a_valid_stream(sequence: list[tuple[Any, ...]]) -> None:
    builder = EventBuilder("test")
    events = []
    for call in sequence:
        apply(builder, call)
        events.extend(builder.drain())
    builder.close()
    events.extend(builder.drain())
    check_invariants(events)
    # Nothing follows the terminal event, even if the adapter keeps talking.
    for call in sequence:
        apply(builder, call)
    builder.close()
    assert builder.drain() == []


@given(st.lists(calls, max_size=40))
def test_without_a_finish_signal_the_stream_ends_with_an_error(
    sequence: list[tuple[Any, ...]],
) -> None:
    builder = EventBuilder("test")
    for call in sequence:
        if call[0] not in ("finish", "error"):
            apply(builder, call)
    builder.close()
    events = builder.drain()
    check_invariants(events)
    assert isinstance(events[-1], Error)
    assert events[-1].kind == "incomplete"


@given(st.lists(st.integers(0, 100), min_size=1, max_size=10))
def test_add_usage_sums_increments_and_usage_replaces(increments: list[int]) -> None:
    builder = EventBuilder("test")
    for value in increments:
        builder.add_usage(Usage(input_tokens=value, output_tokens=1))
    assert builder.last_usage is not None
    assert builder.last_usage.input_tokens == sum(increments)
    assert builder.last_usage.output_tokens == len(increments)
    builder.usage(Usage(input_tokens=3))
    assert builder.last_usage.input_tokens == 3


def test_the_finish_comes_after_usage_that_arrives_later() -> None:
    builder = EventBuilder("p")
    builder.text("t", "hi")
    builder.finish("stop", "stop")
    builder.usage(Usage(input_tokens=1))
    builder.close()
    assert [e.type for e in builder.drain()] == [
        "start",
        "text-start",
        "text-delta",
        "usage",
        "text-end",
        "finish",
    ]


def test_a_closed_key_opens_a_new_block() -> None:
    builder = EventBuilder("p")
    builder.text("t", "a")
    builder.end("t")
    builder.text("t", "b")
    builder.finish("stop")
    builder.close()
    starts = [e.block_id for e in builder.drain() if isinstance(e, TextStart)]
    assert len(starts) == 2
    assert starts[0] != starts[1]


def test_a_key_that_changes_kind_closes_the_old_block_first() -> None:
    builder = EventBuilder("p")
    builder.reasoning(0, "think")
    builder.text(0, "say")
    types = [e.type for e in builder.drain()]
    assert types[:5] == [
        "start",
        "reasoning-start",
        "reasoning-delta",
        "reasoning-end",
        "text-start",
    ]


def test_tool_deltas_wait_for_the_name_and_ids_are_synthesised() -> None:
    builder = EventBuilder("p")
    builder.tool_args("k", '{"a":')
    assert builder.drain() == []
    builder.tool_start("k", name="f")
    builder.tool_args("k", "1}")
    builder.finish("tool_calls")
    builder.close()
    events = builder.drain()
    assert events[0] == StreamStart("p")
    assert events[1] == ToolCallStart("call_0", "f", 0)
    assert [e.args_delta for e in events if isinstance(e, ToolCallDelta)] == ['{"a":', "1}"]
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert (end.args, end.args_json) == ({"a": 1}, '{"a":1}')


def test_full_arguments_are_used_when_no_deltas_came() -> None:
    builder = EventBuilder("p")
    builder.tool_start("k", call_id="c", name="f")
    builder.tool_end("k", full_args='{"x": [1]}')
    events = builder.drain()
    assert ToolCallDelta("c", '{"x": [1]}') in events
    assert next(e for e in events if isinstance(e, ToolCallEnd)).args == {"x": [1]}


def test_stop_with_calls_becomes_tool_calls_only_when_calls_were_seen() -> None:
    for with_call, expected in ((True, "tool_calls"), (False, "stop")):
        builder = EventBuilder("p")
        if with_call:
            builder.tool_call("k", name="f", args={"a": 1})
        else:
            builder.text("t", "x")
        builder.finish("stop", "STOP", stop_with_calls=True)
        builder.close()
        assert builder.drain()[-1] == Finish(expected, "STOP")  # type: ignore[arg-type]


def test_signatures_go_with_the_reasoning_end() -> None:
    builder = EventBuilder("p")
    builder.reasoning(1, "hm")
    builder.reasoning_signature(1, "sig")
    builder.end(1)
    end = next(e for e in builder.drain() if isinstance(e, ReasoningEnd))
    assert end.signature == "sig"


@pytest.mark.parametrize(
    ("text", "args", "error"),
    [
        ("{}", {}, None),
        ('{"a": [1, 2]}', {"a": [1, 2]}, None),
        ("[1]", None, "the arguments are a JSON list, not an object"),
        ('"s"', None, "the arguments are a JSON str, not an object"),
        ('{"a": ', None, "Expecting value: line 1 column 7 (char 6)"),
    ],
)
def test_parse_args(text: str, args: Any, error: str | None) -> None:
    assert parse_args(text) == (args, error)


def test_error_from_an_sdk_like_exception() -> None:
    class RateLimitError(Exception):
        status_code = 429

        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.body = {
                "error": {"type": "rate_limit_error", "code": "rate_limited", "message": "slow"}
            }

    fields = error_from_exception(RateLimitError("Error code: 429"))
    assert fields["status"] == 429
    assert fields["kind"] == "rate_limit_error"
    assert fields["code"] == "rate_limited"
    assert fields["message"] == "slow"
    assert fields["retryable"] is True
    plain = error_from_exception(ValueError("bad"))
    assert (plain["kind"], plain["message"], plain["retryable"]) == ("ValueError", "bad", False)
    network = error_from_exception(ConnectionResetError("reset"))
    assert network["retryable"] is True


def test_accumulate_collects_everything() -> None:
    builder = EventBuilder("p")
    builder.reasoning(0, "think")
    builder.reasoning_signature(0, "sig")
    builder.text(1, "Hello ")
    builder.text(1, "world")
    builder.text(2, "no", kind="refusal")
    builder.tool_call(3, name="f", args='{"a":1}')
    builder.tool_call(4, name="g", args="{")
    builder.usage(Usage(input_tokens=5, output_tokens=7))
    builder.finish("tool_calls", "tool_use")
    builder.close()
    result = accumulate(builder.drain())
    assert result.text == "Hello worldno"
    assert result.refusal == "no"
    assert result.reasoning == "think"
    assert result.signatures == ["sig"]
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [
        ("call_0", "f", {"a": 1}),
        ("call_1", "g", None),
    ]
    assert result.tool_calls[1].parse_error
    assert result.usage == Usage(input_tokens=5, output_tokens=7)
    assert (result.finish, result.raw_finish, result.error) == ("tool_calls", "tool_use", None)


def test_a_block_keyed_none_is_closed_like_any_other() -> None:
    builder = EventBuilder("p")
    builder.text(None, "x")
    builder.finish("stop")
    builder.close()
    events = builder.drain()
    check_invariants(events)
    assert [e.type for e in events] == ["start", "text-start", "text-delta", "text-end", "finish"]


def test_argument_fragments_that_are_not_text_are_ignored() -> None:
    builder = EventBuilder("p")
    builder.tool_start("k", call_id="c", name="f")
    builder.tool_args("k", {"not": "text"})  # type: ignore[arg-type]
    builder.tool_args("k", '{"a": 1}')
    builder.finish("tool_calls")
    builder.close()
    end = next(e for e in builder.drain() if isinstance(e, ToolCallEnd))
    assert end.args == {"a": 1}


def test_the_error_message_comes_from_the_body_before_the_sdks_printed_form() -> None:
    class APIStatusError(Exception):
        status_code = 200

        def __init__(self) -> None:
            self.body = {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
            }
            self.message = f"Error code: 200 - {self.body}"
            super().__init__(self.message)

    fields = error_from_exception(APIStatusError())
    assert fields["message"] == "Overloaded"
    assert fields["kind"] == "overloaded_error"
    assert fields["retryable"] is True
