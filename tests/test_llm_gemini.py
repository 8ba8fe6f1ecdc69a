"""from_gemini: the quirks of Gemini and Vertex AI streams, and of google-genai's
GenerateContentResponse objects. What from_gemini shares with the other
adapters is tested in test_llm_adapters."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from google.genai import errors, types
from hypothesis import given
from hypothesis import strategies as st

from streamkit.llm import (
    Error,
    Finish,
    LLMEvent,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    TextStart,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    accumulate,
)
from streamkit.llm._gemini import from_gemini, gemini_usage

from .llm_fixtures import (
    Upstream,
    check_invariants,
    check_read_cleanly,
    checked,
    fixtures_of,
    maybe,
    scalars,
    wire_items,
)
from .llm_fixtures import gemini_objects as sdk


@pytest.mark.parametrize("name", fixtures_of("gemini"))
def test_the_sdk_objects_have_snake_case_fields_and_bytes_signatures(name: str) -> None:
    """The camelCase wire payloads validate (the SDK's alias generator) into
    objects with snake_case attributes: what test_llm_adapters reads as the
    SDK's objects is not the wire dicts again."""
    items = wire_items(name)
    objects = sdk(items)
    assert objects[-1].usage_metadata is not None
    assert (
        objects[-1].usage_metadata.total_token_count
        == items[-1]["usageMetadata"]["totalTokenCount"]
    )
    assert objects[0].response_id == items[0]["responseId"]
    assert not hasattr(objects[0], "usageMetadata")


@pytest.mark.parametrize("name", fixtures_of("gemini"))
def test_snake_case_dicts_give_the_same_events(name: str) -> None:
    """``model_dump()`` output: snake_case keys, bytes signatures."""
    items = wire_items(name)
    dumped = [obj.model_dump(exclude_none=True) for obj in sdk(items)]
    assert list(from_gemini(dumped)) == list(from_gemini(items))


def test_the_signature_of_a_function_call_part_comes_just_before_the_call() -> None:
    items = wire_items("gemini_function_call.jsonl")
    events = list(from_gemini(items))
    at = next(i for i, e in enumerate(events) if isinstance(e, ReasoningEnd))
    end = events[at]
    assert isinstance(end, ReasoningEnd)
    assert isinstance(events[at + 1], ToolCallStart)
    signature = items[0]["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert (end.signature, end.redacted) == (signature, None)
    assert accumulate(events).signatures == [signature]


def test_the_signature_of_the_final_empty_text_part_is_kept() -> None:
    items = wire_items("gemini_text_thought_signature.jsonl")
    result = accumulate(from_gemini(sdk(items)))  # bytes in the SDK, base64 here
    assert result.signatures == [
        items[-1]["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    ]


# -- building chunks -------------------------------------------------------------------------------


def chunk(
    *parts: dict[str, Any],
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    item: dict[str, Any] = {"candidates": [candidate], "responseId": "r1", **extra}
    if usage is not None:
        item["usageMetadata"] = usage
    return item


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"text": value, **extra}


def thought(value: str, **extra: Any) -> dict[str, Any]:
    return {"text": value, "thought": True, **extra}


def call(name: str | None = None, args: Any = None, **extra: Any) -> dict[str, Any]:
    function: dict[str, Any] = dict(extra)
    if name is not None:
        function["name"] = name
    if args is not None:
        function["args"] = args
    return {"functionCall": function}


def partial(path: str, **value: Any) -> dict[str, Any]:
    return {"jsonPath": path, **value}


def run(*items: Any) -> list[LLMEvent]:
    return checked(from_gemini(items))


# -- text, reasoning and signatures ----------------------------------------------------------------


def test_thought_parts_are_reasoning_and_a_switch_of_kind_opens_a_new_block() -> None:
    events = run(
        chunk(thought("think "), thought("more")),
        chunk(text("answer")),
        chunk(thought("again"), finish="STOP"),
    )
    result = accumulate(events)
    assert (result.reasoning, result.text, result.finish) == ("think moreagain", "answer", "stop")
    starts = [e for e in events if isinstance(e, ReasoningStart | TextStart)]
    assert [type(e) for e in starts] == [ReasoningStart, TextStart, ReasoningStart]
    assert len({e.block_id for e in starts}) == 3
    deltas = [e for e in events if isinstance(e, ReasoningDelta)]
    assert deltas[0].block_id == deltas[1].block_id != deltas[2].block_id


def test_a_signature_on_a_thought_part_signs_that_block_and_closes_it() -> None:
    signature = base64.b64encode(b"sig-1").decode()
    events = run(
        chunk(thought("a")),
        chunk(thought("b", thoughtSignature=signature)),
        chunk(thought("c")),
        chunk(text("x"), finish="STOP"),
    )
    ends = [e for e in events if isinstance(e, ReasoningEnd)]
    assert [e.signature for e in ends] == [signature, None]
    assert accumulate(events).reasoning == "abc"


def test_a_bytes_signature_from_the_sdk_is_base64_encoded() -> None:
    item = types.GenerateContentResponse(
        candidates=[
            types.Candidate(
                content=types.Content(
                    role="model",
                    parts=[types.Part(text="plan", thought=True, thought_signature=b"\x00\xffsig")],
                ),
                finish_reason=types.FinishReason.STOP,
            )
        ]
    )
    result = accumulate(from_gemini([item]))
    assert result.signatures == [base64.b64encode(b"\x00\xffsig").decode()]
    assert (result.reasoning, result.finish) == ("plan", "stop")


def test_a_signature_on_a_text_part_comes_before_that_text() -> None:
    events = run(chunk(text("hello", thoughtSignature="c2ln")), chunk(text(" you"), finish="STOP"))
    kinds = [e.type for e in events]
    assert kinds[:5] == ["start", "reasoning-start", "reasoning-end", "text-start", "text-delta"]
    assert accumulate(events).text == "hello you"


def test_empty_text_parts_without_a_signature_are_ignored() -> None:
    events = run(chunk(text("")), chunk(text("hi"), text("")), chunk(text(""), finish="STOP"))
    assert [e.type for e in events] == ["start", "text-start", "text-delta", "text-end", "finish"]


def test_parts_of_other_kinds_and_other_candidates_are_ignored() -> None:
    item = chunk({"inlineData": {"mimeType": "image/png", "data": "AA=="}}, text("one"))
    item["candidates"].append({"index": 1, "content": {"parts": [text("two")]}})
    result = accumulate(run(item, chunk(finish="STOP")))
    assert result.text == "one"


# -- function calls --------------------------------------------------------------------------------


def test_whole_calls_get_ids_by_position_unless_gemini_gives_one() -> None:
    events = run(
        chunk(call("a", {"x": 1}), call("b", {}, id="fc-7"), call("c")),
        chunk(finish="STOP"),
    )
    ends = [e for e in events if isinstance(e, ToolCallEnd)]
    assert [(e.call_id, e.name, e.args) for e in ends] == [
        ("call_0", "a", {"x": 1}),
        ("fc-7", "b", {}),
        ("call_2", "c", {}),
    ]
    assert events[-1] == Finish("tool_calls", "STOP")


def test_a_repeated_call_id_is_replaced_to_keep_ids_unique() -> None:
    events = run(chunk(call("a", {}, id="x"), call("b", {}, id="x")), chunk(finish="STOP"))
    assert [c.id for c in accumulate(events).tool_calls] == ["x", "call_1"]


def test_a_call_closes_the_open_text_block() -> None:
    events = run(chunk(text("let me check")), chunk(call("f", {"q": "x"}), finish="STOP"))
    kinds = [e.type for e in events]
    assert kinds.index("text-end") < kinds.index("tool-call-start")


def test_streamed_arguments_are_rebuilt_from_their_json_paths() -> None:
    events = run(
        chunk(call("book", willContinue=True)),
        chunk(
            call(
                partialArgs=[
                    partial("$.city", stringValue="San ", willContinue=True),
                    partial("$.guests", numberValue=2),
                ],
                willContinue=True,
            )
        ),
        chunk(
            call(
                partialArgs=[
                    partial("$.city", stringValue="Francisco"),
                    partial("$.options.breakfast", boolValue=True),
                    partial("$.options['late checkout']", nullValue="NULL_VALUE"),
                    partial("$.rooms[1].beds", numberValue=1.5),
                    partial("$.tags[0]", stringValue="a"),
                ],
                willContinue=True,
            )
        ),
        chunk(call()),
        chunk(finish="STOP"),
    )
    start = next(e for e in events if isinstance(e, ToolCallStart))
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert (start.call_id, start.name) == ("call_0", "book")
    assert end.args == {
        "city": "San Francisco",
        "guests": 2,
        "options": {"breakfast": True, "late checkout": None},
        "rooms": [None, {"beds": 1.5}],
        "tags": ["a"],
    }
    assert end.args_json.startswith('{"city":"San Francisco","guests":2,')


def test_a_streamed_call_starts_as_soon_as_its_name_is_known() -> None:
    adapter_events = list(from_gemini([chunk(call("slow", willContinue=True))]))
    assert [e.type for e in adapter_events[:2]] == ["start", "tool-call-start"]


def test_a_string_value_without_will_continue_replaces_the_previous_one() -> None:
    events = run(
        chunk(call("f", willContinue=True)),
        chunk(call(partialArgs=[partial("$.a", stringValue="x")], willContinue=True)),
        chunk(call(partialArgs=[partial("$.a", stringValue="y")], willContinue=True)),
        chunk(call(), finish="STOP"),
    )
    assert next(e for e in events if isinstance(e, ToolCallEnd)).args == {"a": "y"}


def test_streamed_calls_without_terminator_end_at_the_next_call_or_the_finish() -> None:
    events = run(
        chunk(call("f", willContinue=True)),
        chunk(call(partialArgs=[partial("$.a", numberValue=1)], willContinue=True)),
        chunk(call("g", willContinue=True)),
        chunk(call(partialArgs=[partial("$.b", numberValue=2)], willContinue=True)),
        chunk(finish="STOP"),
    )
    ends = [e for e in events if isinstance(e, ToolCallEnd)]
    assert [(e.call_id, e.name, e.args) for e in ends] == [
        ("call_0", "f", {"a": 1}),
        ("call_1", "g", {"b": 2}),
    ]


def test_a_streamed_call_cut_off_by_the_end_of_the_stream_is_still_closed() -> None:
    events = run(
        chunk(call("f", willContinue=True)),
        chunk(
            call(
                partialArgs=[partial("$.a", stringValue="x", willContinue=True)], willContinue=True
            )
        ),
    )
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert end.args == {"a": "x"}
    assert isinstance(events[-1], Error)
    assert events[-1].kind == "incomplete"


def test_streamed_arguments_from_sdk_objects_equal_those_from_dicts() -> None:
    items = [
        chunk(call("f", willContinue=True)),
        chunk(
            call(
                partialArgs=[
                    partial("$.n", numberValue=3),
                    partial("$.x", numberValue=0.5),
                    partial("$.ok", boolValue=False),
                    partial("$.none", nullValue="NULL_VALUE"),
                    partial("$.s", stringValue="a", willContinue=True),
                ],
                willContinue=True,
            )
        ),
        chunk(call(partialArgs=[partial("$.s", stringValue="b")], willContinue=True)),
        chunk(call(), finish="STOP"),
    ]
    events = list(from_gemini(sdk(items)))
    assert events == list(from_gemini(items))
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert end.args == {"n": 3, "x": 0.5, "ok": False, "none": None, "s": "ab"}


def test_malformed_json_paths_are_ignored() -> None:
    events = run(
        chunk(call("f", willContinue=True)),
        chunk(
            call(
                partialArgs=[
                    partial("a.b", stringValue="no root"),
                    partial("$..x", stringValue="bad step"),
                    partial("$", stringValue="the root itself"),
                    partial("$[0]", stringValue="a list at the root"),
                    partial("$.big[99999999]", stringValue="too far"),
                    partial("$.ok", stringValue="yes"),
                    {"stringValue": "no path"},
                    partial("$.no_value"),
                ],
                willContinue=True,
            )
        ),
        chunk(call(), finish="STOP"),
    )
    assert next(e for e in events if isinstance(e, ToolCallEnd)).args == {"ok": "yes"}


def test_a_stray_terminator_is_ignored() -> None:
    events = run(chunk(call()), chunk(text("hi"), finish="STOP"))
    assert accumulate(events).tool_calls == []


# -- usage -----------------------------------------------------------------------------------------


def test_usage_is_cumulative_replaced_not_summed_and_sent_once_at_the_end() -> None:
    def usage(candidates: int) -> dict[str, Any]:
        return {
            "promptTokenCount": 10,
            "candidatesTokenCount": candidates,
            "thoughtsTokenCount": 4,
            "cachedContentTokenCount": 6,
            "totalTokenCount": 14 + candidates,
        }

    events = run(
        chunk(text("a"), usage=usage(1)),
        chunk(text("b"), usage=usage(1)),
        chunk(text("c"), usage=usage(3), finish="STOP"),
    )
    usages = [e for e in events if isinstance(e, Usage)]
    assert len(usages) == 1  # the running totals of every chunk: only the last is sent
    assert [e.type for e in events[-3:]] == ["text-end", "usage", "finish"]
    assert usages[-1] == Usage(
        input_tokens=10,
        output_tokens=7,
        total_tokens=17,
        cache_read_tokens=6,
        reasoning_tokens=4,
    )
    assert usages[-1].raw == usage(3)


def test_the_usage_so_far_is_sent_before_an_error() -> None:
    events = run(
        chunk(text("a"), usage={"promptTokenCount": 5, "candidatesTokenCount": 1}),
        {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}},
    )
    assert [e.type for e in events[-3:]] == ["usage", "text-end", "error"]
    usage = events[-3]
    assert isinstance(usage, Usage)
    assert (usage.input_tokens, usage.output_tokens) == (5, 1)


def test_usage_metadata_without_counts_is_not_a_usage() -> None:
    events = run(chunk(text("a"), usage={"trafficType": "ON_DEMAND"}), chunk(finish="STOP"))
    assert not [e for e in events if isinstance(e, Usage)]


def test_gemini_usage_reads_sdk_objects_and_skips_count_less_metadata() -> None:
    assert gemini_usage({"trafficType": "ON_DEMAND"}) is None
    meta = types.GenerateContentResponseUsageMetadata(
        prompt_token_count=3, candidates_token_count=2, thoughts_token_count=1, total_token_count=6
    )
    usage = gemini_usage(meta)
    assert usage is not None
    assert usage.as_dict() == {
        "input_tokens": 3,
        "output_tokens": 3,
        "total_tokens": 6,
        "reasoning_tokens": 1,
    }
    assert usage.raw is not None
    assert usage.raw["prompt_token_count"] == 3


def test_usage_without_thoughts_has_no_reasoning_count() -> None:
    events = run(
        chunk(text("a"), usage={"promptTokenCount": 2, "candidatesTokenCount": 1}, finish="STOP")
    )
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.as_dict() == {"input_tokens": 2, "output_tokens": 1}


# -- finish ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("UNEXPECTED_TOOL_CALL", "error"),
        ("LANGUAGE", "other"),
        ("OTHER", "other"),
        ("TOO_MANY_TOOL_CALLS", "other"),
        ("FINISH_REASON_UNSPECIFIED", "other"),
        ("SOMETHING_NEW", "other"),
    ],
)
def test_finish_reasons_are_unified(raw: str, reason: str) -> None:
    events = run(chunk(text("x"), finish=raw))
    assert events[-1] == Finish(reason, raw)  # type: ignore[arg-type]


def test_stop_after_calls_is_tool_calls_but_max_tokens_stays_length() -> None:
    assert run(chunk(call("f", {}), finish="STOP"))[-1] == Finish("tool_calls", "STOP")
    assert run(chunk(call("f", {}), finish="MAX_TOKENS"))[-1] == Finish("length", "MAX_TOKENS")


@pytest.mark.parametrize("as_sdk", [False, True])
def test_a_blocked_prompt_is_a_content_filter_finish(as_sdk: bool) -> None:
    items: list[Any] = [
        {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "responseId": "r"}
    ]
    if as_sdk:
        items = sdk(items)
    events = list(from_gemini(items))
    check_invariants(events)
    assert events[-1] == Finish("content_filter", "PROHIBITED_CONTENT")


def test_prompt_feedback_without_a_block_reason_is_not_a_finish() -> None:
    events = run(chunk(text("ok"), promptFeedback={"safetyRatings": []}), chunk(finish="STOP"))
    assert events[-1] == Finish("stop", "STOP")


# -- errors and the upstream -----------------------------------------------------------------------


QUOTA = {"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED"}}


@pytest.mark.parametrize(
    ("raised", "provider"), [(False, "gemini"), (True, "vertex")], ids=["a-chunk", "raised"]
)
def test_an_error_ends_the_stream_with_its_code_and_status(raised: bool, provider: str) -> None:
    """Gemini's error body, as a chunk of the stream or in the ClientError
    that google-genai raises while iterating: ``code`` is the HTTP status,
    ``status`` the kind."""
    if raised:
        upstream = Upstream([], chunk(text("part")), error=errors.ClientError(429, QUOTA))
        events = checked(from_gemini(upstream.items(), provider=provider))
        assert upstream.closed == 1
    else:
        events = run(chunk(text("part")), QUOTA, chunk(text("never")))
    error = events[-1]
    assert isinstance(error, Error)
    assert (error.message, error.code, error.kind, error.status, error.retryable) == (
        "Quota exceeded.",
        "429",
        "RESOURCE_EXHAUSTED",
        429,
        True,
    )
    assert (error.provider, error.raw) == (provider, QUOTA["error"])
    assert accumulate(events).text == "part"


# -- properties ------------------------------------------------------------------------------------

_words = st.sampled_from(["a", "bc", " ", "é", ""]) | st.text(max_size=3)


Maybe = Callable[[st.SearchStrategy[Any]], st.SearchStrategy[Any]]


def _gemini_streams(maybe: Maybe, reasons: list[str]) -> st.SearchStrategy[list[Any]]:
    """Streams of chunks shaped like Gemini's, ``maybe`` spoiling leaf values."""
    signatures = maybe(st.sampled_from(["c2ln", "YWJj", ""]))
    partials = st.fixed_dictionaries(
        {"jsonPath": maybe(st.sampled_from(["$.a", "$.b.c", "$.l[0]", "$.l[2]", "$['k']", "x"]))},
        optional={
            "stringValue": maybe(_words),
            "numberValue": maybe(st.integers(-5, 5) | st.floats(-2, 2)),
            "boolValue": maybe(st.booleans()),
            "nullValue": st.just("NULL_VALUE"),
            "willContinue": maybe(st.booleans()),
        },
    )
    calls = st.one_of(
        # a whole call
        st.fixed_dictionaries(
            {"name": maybe(st.sampled_from(["f", "g"]))},
            optional={
                "args": maybe(st.dictionaries(st.sampled_from(["x", "y"]), scalars, max_size=2)),
                "id": maybe(st.sampled_from(["id1", "id2"])),
            },
        ),
        # Vertex: the start of a streamed call, its arguments, its terminator
        st.fixed_dictionaries(
            {"name": st.sampled_from(["f", "g"]), "willContinue": maybe(st.just(True))}
        ),
        st.fixed_dictionaries(
            {"partialArgs": maybe(st.lists(partials, max_size=3))},
            optional={"willContinue": maybe(st.booleans())},
        ),
        st.just({}),
    )
    parts = st.one_of(
        st.fixed_dictionaries({"text": maybe(_words)}, optional={"thoughtSignature": signatures}),
        st.fixed_dictionaries(
            {"text": maybe(_words), "thought": maybe(st.just(True))},
            optional={"thoughtSignature": signatures},
        ),
        st.fixed_dictionaries(
            {"functionCall": maybe(calls)}, optional={"thoughtSignature": signatures}
        ),
        st.just({"inlineData": {"mimeType": "image/png", "data": "AA=="}}),
    )
    counts = st.fixed_dictionaries(
        {},
        optional={
            name: maybe(st.integers(0, 50))
            for name in (
                "promptTokenCount",
                "candidatesTokenCount",
                "thoughtsTokenCount",
                "totalTokenCount",
                "cachedContentTokenCount",
            )
        },
    )
    chunks = st.builds(
        lambda parts, finish, index, usage, extra: {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "index": index, **finish}
            ],
            **usage,
            **extra,
        },
        st.lists(parts, max_size=3),
        st.just({})
        | st.just({})
        | st.fixed_dictionaries({"finishReason": maybe(st.sampled_from(reasons))}),
        st.sampled_from([0, 0, 0, 1, None]),
        st.just({}) | st.fixed_dictionaries({"usageMetadata": maybe(counts)}),
        st.fixed_dictionaries(
            {},
            optional={
                "responseId": maybe(st.just("r")),
                "modelVersion": maybe(st.just("m")),
                "promptFeedback": maybe(
                    st.fixed_dictionaries({}, optional={"blockReason": maybe(st.just("SAFETY"))})
                ),
            },
        ),
    )
    errors = st.fixed_dictionaries(
        {
            "error": maybe(
                st.fixed_dictionaries(
                    {"message": maybe(_words), "code": maybe(st.integers(0, 600))},
                    optional={"status": maybe(st.sampled_from(["INTERNAL", "UNAVAILABLE"]))},
                )
            )
        }
    )

    @st.composite
    def streams(draw: st.DrawFn) -> list[Any]:
        """Chunks, now and then an error chunk among them."""
        items: list[Any] = draw(st.lists(chunks, max_size=8))
        if draw(st.integers(0, 4)) == 0:
            items.insert(draw(st.integers(0, len(items))), draw(errors))
        return items

    return streams()


_REASONS = ["STOP", "MAX_TOKENS", "SAFETY", "IMAGE_OTHER", "MALFORMED_FUNCTION_CALL"]
_streams = _gemini_streams(maybe, [*_REASONS, "SOMETHING_NEW"])
_valid_streams = _gemini_streams(lambda value: value, _REASONS)


@given(_streams)
def test_any_plausible_stream_keeps_the_invariants(items: list[Any]) -> None:
    check_read_cleanly(from_gemini(items))


@given(_valid_streams)
def test_plausible_streams_read_the_same_as_sdk_objects(items: list[Any]) -> None:
    sdk_items = [item if "error" in item else sdk([item])[0] for item in items]
    assert list(from_gemini(sdk_items)) == list(from_gemini(items))
