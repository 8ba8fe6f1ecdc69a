"""The output protocols of streamkit.llm, without a server: exact frames for
small streams, the error paths, the options, sync and async alike, the
recorded OpenAI streams, and properties over arbitrary valid event streams
(an OpenAI-compatible stream read back by from_openai_chat gives the same
result; a UI message stream keeps the AI SDK's ordering rules and keys)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamkit._formats.sse import ServerSentEvent
from streamkit._formats.sse_decoder import SSEDecoder
from streamkit.llm import accumulate, from_openai_chat
from streamkit.llm._builder import parse_args
from streamkit.llm._events import (
    FINISH_REASONS,
    Error,
    Finish,
    FinishReason,
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
from streamkit.llm._outputs import (
    GENERIC_ERROR_TEXT,
    OPENAI_FINISH,
    VERCEL_FINISH,
    LLMStreamError,
    to_jsonl,
    to_openai_chat_sse,
    to_sse,
    to_text,
    to_vercel_ui,
)

from .llm_fixtures import Upstream, async_iter, check_invariants, fixtures_of, wire_items
from .strategies import splits


def small_stream(terminal: LLMEvent | None = None) -> list[LLMEvent]:
    """Reasoning, text, and a tool call: the shapes every output handles."""
    return [
        StreamStart("openai", "chatcmpl-abc", "gpt-test"),
        ReasoningStart("reasoning-0"),
        ReasoningDelta("reasoning-0", "Think."),
        ReasoningEnd("reasoning-0", signature="sig"),
        TextStart("text-1"),
        TextDelta("text-1", "Hi "),
        TextDelta("text-1", "there"),
        TextEnd("text-1"),
        ToolCallStart("call_1", "lookup", 0),
        ToolCallDelta("call_1", '{"q":'),
        ToolCallDelta("call_1", '"x"}'),
        ToolCallEnd("call_1", "lookup", '{"q":"x"}', {"q": "x"}),
        Usage(10, 5, 15, reasoning_tokens=2, raw={"secret": 1}),
        terminal if terminal is not None else Finish("tool_calls", "tool_calls"),
    ]


def overloaded() -> Error:
    return Error(
        "Overloaded (key sk-123)",
        code="529",
        kind="overloaded_error",
        status=529,
        retryable=True,
        provider="anthropic",
        raw={"x": 1},
    )


def one_text(text: str, terminal: LLMEvent, *, start: StreamStart | None = None) -> list[LLMEvent]:
    """A stream of one text block, then ``terminal``."""
    return [start or StreamStart("x"), TextStart("t"), TextDelta("t", text), TextEnd("t"), terminal]


def frames(data: bytes) -> list[bytes]:
    """The frames of an SSE body (each ends with a blank line)."""
    assert data.endswith(b"\n\n")
    return [frame + b"\n\n" for frame in data[:-2].split(b"\n\n")]


def payloads(data: bytes) -> list[Any]:
    """The data of each ``data:`` frame, parsed (``[DONE]`` kept as is)."""
    out: list[Any] = []
    for frame in frames(data):
        assert frame.startswith(b"data: "), frame
        assert frame.count(b"\n") == 2, frame
        body = frame[6:-2]
        out.append("[DONE]" if body == b"[DONE]" else orjson.loads(body))
    return out


# -- to_text ----------------------------------------------------------------------------


def test_to_text_gives_text_and_refusal_but_not_reasoning_or_tools() -> None:
    events: list[LLMEvent] = [
        *small_stream()[:-1],
        TextStart("refusal-2", kind="refusal"),
        TextDelta("refusal-2", "I can't."),
        TextEnd("refusal-2"),
        Finish("refusal"),
    ]
    assert list(to_text(events)) == ["Hi ", "there", "I can't."]


def test_to_text_raises_after_the_text_on_an_error() -> None:
    events = one_text("partial", overloaded())
    got: list[str] = []
    with pytest.raises(LLMStreamError) as caught:
        got.extend(to_text(events))
    assert got == ["partial"]
    assert caught.value.error == overloaded()
    assert "Overloaded" in str(caught.value)


@pytest.mark.anyio
async def test_to_text_async_raises_after_the_text_on_an_error() -> None:
    events = one_text("partial", overloaded())
    got: list[str] = []
    with pytest.raises(LLMStreamError):
        async for text in to_text(async_iter(events)):
            got.append(text)  # noqa: PERF401 - the text before the raise is the point
    assert got == ["partial"]


# -- to_sse and to_jsonl ---------------------------------------------------------------------


def test_to_sse_sends_each_event_under_its_type_without_raw() -> None:
    got = list(to_sse(small_stream()))
    assert [e.event for e in got] == [e.type for e in small_stream()]
    assert got[0] == ServerSentEvent(
        '{"provider":"openai","response_id":"chatcmpl-abc","model":"gpt-test"}', event="start"
    )
    assert got[5] == ServerSentEvent('{"block_id":"text-1","text":"Hi "}', event="text-delta")
    assert got[10] == ServerSentEvent(
        '{"call_id":"call_1","args_delta":"\\"x\\"}"}', event="tool-call-delta"
    )
    assert orjson.loads(got[11].data or "") == {
        "call_id": "call_1",
        "name": "lookup",
        "args_json": '{"q":"x"}',
        "args": {"q": "x"},
        "parse_error": None,
    }
    assert orjson.loads(got[12].data or "") == {
        "input_tokens": 10,
        "output_tokens": 5,
        "total_tokens": 15,
        "cache_read_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": 2,
    }
    assert got[-1] == ServerSentEvent(
        '{"reason":"tool_calls","raw_reason":"tool_calls"}', event="finish"
    )


@pytest.mark.parametrize("expose", [False, True])
def test_to_sse_and_to_jsonl_sanitise_error_messages_unless_exposed(expose: bool) -> None:
    events: list[LLMEvent] = [StreamStart("x"), overloaded()]
    want = {
        "message": "Overloaded (key sk-123)" if expose else GENERIC_ERROR_TEXT,
        "code": "529",
        "kind": "overloaded_error",
        "status": 529,
        "retryable": True,
        "provider": "anthropic",
    }
    sse = list(to_sse(events, expose_errors=expose))[-1]
    assert sse.event == "error"
    assert orjson.loads(sse.data or "") == want
    assert list(to_jsonl(events, expose_errors=expose))[-1] == {"type": "error", **want}


def test_to_sse_escapes_unicode_line_separators() -> None:
    events = one_text("a\u2028b", Finish("stop"))
    data = list(to_sse(events))[2].data or ""
    assert "\u2028" not in data
    assert orjson.loads(data)["text"] == "a\u2028b"


def test_to_jsonl_puts_the_type_first_and_drops_raw() -> None:
    records = list(to_jsonl(small_stream()))
    assert [next(iter(r)) for r in records] == ["type"] * len(records)
    assert records[3] == {
        "type": "reasoning-end",
        "block_id": "reasoning-0",
        "signature": "sig",
        "redacted": None,
    }
    assert "raw" not in records[12]


def test_events_after_the_terminal_one_are_not_read() -> None:
    consumed: list[LLMEvent] = []

    def upstream() -> Iterator[LLMEvent]:
        stream: list[LLMEvent] = [StreamStart("x"), Finish("stop"), TextStart("late")]
        for event in stream:
            consumed.append(event)
            yield event

    assert [r["type"] for r in to_jsonl(upstream())] == ["start", "finish"]
    assert len(consumed) == 2


def endless_text() -> Upstream[LLMEvent]:
    return Upstream([StreamStart("x"), TextStart("t")], TextDelta("t", "more"))


def test_closing_an_output_closes_its_upstream() -> None:
    upstream = endless_text()
    stream = upstream.items()  # held, so that only an explicit close can end it
    output = to_vercel_ui(stream)
    next(output)
    output.close()
    assert upstream.closed == 1


@pytest.mark.anyio
async def test_closing_an_async_output_closes_its_upstream() -> None:
    upstream = endless_text()
    stream = upstream.aitems()  # held, so that only an explicit aclose can end it
    output = to_openai_chat_sse(stream)
    await anext(output)
    await output.aclose()
    assert upstream.closed == 1


# -- to_openai_chat_sse --------------------------------------------------------------------------


def chunk_json(delta: Any, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-abc",
        "object": "chat.completion.chunk",
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


def without_created(values: list[Any]) -> list[Any]:
    out = []
    for value in values:
        if isinstance(value, dict) and "error" not in value:
            assert isinstance(value.pop("created"), int)
        out.append(value)
    return out


def test_openai_chat_frames_of_a_small_stream() -> None:
    body = b"".join(to_openai_chat_sse(small_stream()))
    assert all(
        frame.startswith(b'data: {"id":"chatcmpl-abc","object"') for frame in frames(body)[:-1]
    )
    assert without_created(payloads(body)) == [
        chunk_json({"role": "assistant", "content": ""}),
        chunk_json({"reasoning_content": "Think."}),
        chunk_json({"content": "Hi "}),
        chunk_json({"content": "there"}),
        chunk_json(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": ""},
                    }
                ]
            }
        ),
        chunk_json({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
        chunk_json({"tool_calls": [{"index": 0, "function": {"arguments": '"x"}'}}]}),
        chunk_json({}, "tool_calls"),
        "[DONE]",
    ]
    created = {p["created"] for p in payloads(body)[:-1]}
    assert len(created) == 1


def test_openai_chat_usage_chunk_only_with_include_usage() -> None:
    body = b"".join(to_openai_chat_sse(small_stream(), include_usage=True))
    got = without_created(payloads(body))
    assert got[0] == chunk_json({"role": "assistant", "content": ""}, usage=None)
    assert got[-3] == chunk_json({}, "tool_calls", usage=None)
    assert got[-2] == {
        "id": "chatcmpl-abc",
        "object": "chat.completion.chunk",
        "model": "gpt-test",
        "choices": [],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }
    assert got[-1] == "[DONE]"
    plain = payloads(b"".join(to_openai_chat_sse(small_stream())))
    assert not any("usage" in p for p in plain if isinstance(p, dict))


def test_openai_chat_usage_fills_in_missing_counts() -> None:
    events: list[LLMEvent] = [
        StreamStart("x"),
        Usage(input_tokens=7, cache_read_tokens=3),
        Finish("stop"),
    ]
    usage = payloads(b"".join(to_openai_chat_sse(events, include_usage=True)))[-2]["usage"]
    assert usage == {
        "prompt_tokens": 7,
        "completion_tokens": 0,
        "total_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 3},
    }


def test_openai_chat_no_usage_chunk_when_the_stream_had_no_usage() -> None:
    events: list[LLMEvent] = [StreamStart("x"), Finish("stop")]
    got = payloads(b"".join(to_openai_chat_sse(events, include_usage=True)))
    assert [p["choices"][0]["finish_reason"] for p in got[:-1]] == [None, "stop"]


@pytest.mark.parametrize(
    ("field", "key"),
    [("reasoning_content", "reasoning_content"), ("reasoning", "reasoning"), (None, None)],
)
def test_openai_chat_reasoning_field(field: str | None, key: str | None) -> None:
    body = b"".join(to_openai_chat_sse(small_stream(), reasoning_field=field))
    deltas = [p["choices"][0]["delta"] for p in payloads(body)[:-1]]
    if key is None:
        assert not any("reason" in k for d in deltas for k in d)
    else:
        assert deltas[1] == {key: "Think."}


def test_openai_chat_refusal_goes_in_the_refusal_field_and_ends_with_stop() -> None:
    events: list[LLMEvent] = [
        StreamStart("x"),
        TextStart("r", kind="refusal"),
        TextDelta("r", "I can't help."),
        TextEnd("r"),
        Finish("refusal"),
    ]
    got = payloads(b"".join(to_openai_chat_sse(events)))
    assert got[1]["choices"][0]["delta"] == {"refusal": "I can't help."}
    assert got[2]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("reason", FINISH_REASONS)
def test_openai_chat_finish_reason_mapping(reason: FinishReason) -> None:
    got = payloads(b"".join(to_openai_chat_sse([StreamStart("x"), Finish(reason)])))
    want = {"refusal": "stop", "error": "stop", "other": "stop"}.get(reason, reason)
    assert got[-2]["choices"][0]["finish_reason"] == want == OPENAI_FINISH[reason]


def test_openai_chat_tool_indices_are_dense_in_start_order() -> None:
    events: list[LLMEvent] = [StreamStart("x")]
    for call_id, index in (("a", 3), ("b", 7)):
        events.append(ToolCallStart(call_id, "f", index))
    events += [
        ToolCallDelta("b", "{}"),
        ToolCallDelta("a", "{}"),
        ToolCallEnd("a", "f", "{}", {}),
        ToolCallEnd("b", "f", "{}", {}),
        Finish("tool_calls"),
    ]
    got = payloads(b"".join(to_openai_chat_sse(events)))
    calls = [p["choices"][0]["delta"]["tool_calls"][0] for p in got[1:5]]
    # One call after the other, as OpenAI sends them: b waits for a's end.
    assert [(c["index"], c.get("id")) for c in calls] == [(0, "a"), (0, None), (1, "b"), (1, None)]


@pytest.mark.parametrize(
    ("response_id", "want"),
    [("chatcmpl-xyz", "chatcmpl-xyz"), ("msg_01", "msg_01"), (None, None)],
)
def test_openai_chat_id_model_and_created_are_the_same_on_every_chunk(
    response_id: str | None, want: str | None
) -> None:
    events = one_text("a", Finish("stop"), start=StreamStart("x", response_id, None))
    got = payloads(b"".join(to_openai_chat_sse(events, model="my-model")))[:-1]
    ids = {p["id"] for p in got}
    assert len(ids) == 1
    (the_id,) = ids
    assert the_id == want if want else the_id.startswith("chatcmpl-") and len(the_id) > 20
    assert {p["model"] for p in got} == {"my-model"}
    assert len({p["created"] for p in got}) == 1


@pytest.mark.parametrize("expose", [False, True])
def test_openai_chat_error_frame_and_no_done(expose: bool) -> None:
    events = one_text("a", overloaded())
    body = b"".join(to_openai_chat_sse(events, expose_errors=expose))
    assert frames(body)[-1] == (
        b'data: {"error":{"message":"'
        + (b"Overloaded (key sk-123)" if expose else GENERIC_ERROR_TEXT.encode())
        + b'","type":"overloaded_error","param":null,"code":"529"}}\n\n'
    )
    assert b"[DONE]" not in body


def test_openai_chat_a_stream_that_just_stops_ends_with_an_error() -> None:
    events: list[LLMEvent] = [StreamStart("x"), TextStart("t"), TextDelta("t", "a")]
    got = payloads(b"".join(to_openai_chat_sse(events, expose_errors=True)))
    assert got[-1]["error"]["type"] == "incomplete"
    assert "without a finish" in got[-1]["error"]["message"]


def test_openai_chat_a_stream_without_stream_start_still_starts_with_the_role() -> None:
    got = payloads(
        b"".join(to_openai_chat_sse([TextStart("t"), TextDelta("t", "a"), Finish("stop")]))
    )
    assert [p["choices"][0]["delta"] for p in got[:-1]] == [
        {"role": "assistant", "content": ""},
        {"content": "a"},
        {},
    ]


def test_openai_chat_escapes_unicode_line_separators() -> None:
    events: list[LLMEvent] = [
        StreamStart("x", model="m\u2029"),
        TextStart("t"),
        TextDelta("t", "\u2028"),
        Finish("stop"),
    ]
    body = b"".join(to_openai_chat_sse(events))
    assert "\u2028".encode() not in body
    assert "\u2029".encode() not in body
    assert payloads(body)[1]["choices"][0]["delta"]["content"] == "\u2028"


# -- to_vercel_ui ----------------------------------------------------------------------------


def test_vercel_ui_parts_of_a_small_stream() -> None:
    body = b"".join(to_vercel_ui(small_stream(), message_id="msg-1"))
    assert payloads(body) == [
        {"type": "start", "messageId": "msg-1"},
        {"type": "start-step"},
        {"type": "reasoning-start", "id": "reasoning-0"},
        {"type": "reasoning-delta", "id": "reasoning-0", "delta": "Think."},
        {"type": "reasoning-end", "id": "reasoning-0"},
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "Hi "},
        {"type": "text-delta", "id": "text-1", "delta": "there"},
        {"type": "text-end", "id": "text-1"},
        {"type": "tool-input-start", "toolCallId": "call_1", "toolName": "lookup"},
        {"type": "tool-input-delta", "toolCallId": "call_1", "inputTextDelta": '{"q":'},
        {"type": "tool-input-delta", "toolCallId": "call_1", "inputTextDelta": '"x"}'},
        {
            "type": "tool-input-available",
            "toolCallId": "call_1",
            "toolName": "lookup",
            "input": {"q": "x"},
        },
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "tool-calls"},
        "[DONE]",
    ]
    assert frames(body)[0] == b'data: {"type":"start","messageId":"msg-1"}\n\n'


def test_vercel_ui_without_a_message_id_lets_the_client_make_one() -> None:
    got = payloads(b"".join(to_vercel_ui([StreamStart("x"), Finish("stop")])))
    assert got == [
        {"type": "start"},
        {"type": "start-step"},
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "stop"},
        "[DONE]",
    ]


@pytest.mark.parametrize("reason", FINISH_REASONS)
def test_vercel_ui_finish_reason_mapping(reason: FinishReason) -> None:
    got = payloads(b"".join(to_vercel_ui([StreamStart("x"), Finish(reason)])))
    want = {
        "stop": "stop",
        "length": "length",
        "tool_calls": "tool-calls",
        "content_filter": "content-filter",
        "refusal": "content-filter",
        "error": "error",
        "other": "other",
    }[reason]
    assert got[-2] == {"type": "finish", "finishReason": want}
    assert VERCEL_FINISH[reason] == want


def test_vercel_ui_finish_reason_can_be_left_out_for_old_strict_clients() -> None:
    got = payloads(b"".join(to_vercel_ui([StreamStart("x"), overloaded()], finish_reason=False)))
    assert got[-2] == {"type": "finish"}


def test_vercel_ui_unparsable_tool_input_is_a_tool_input_error_with_the_raw_text() -> None:
    args_json = '{"q": "unterminated'
    args, error = parse_args(args_json)
    events: list[LLMEvent] = [
        StreamStart("x"),
        ToolCallStart("c", "search", 0, provider_executed=True),
        ToolCallDelta("c", args_json),
        ToolCallEnd("c", "search", args_json, args, error),
        Finish("tool_calls"),
    ]
    got = payloads(b"".join(to_vercel_ui(events)))
    assert got[2] == {
        "type": "tool-input-start",
        "toolCallId": "c",
        "toolName": "search",
        "providerExecuted": True,
    }
    assert got[4] == {
        "type": "tool-input-error",
        "toolCallId": "c",
        "toolName": "search",
        "input": args_json,
        "errorText": f"Invalid JSON arguments for 'search': {error}",
        "providerExecuted": True,
    }


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({}, GENERIC_ERROR_TEXT),
        ({"expose_errors": True}, "Overloaded (key sk-123)"),
        ({"error_text": lambda e: f"busy, retry: {e.retryable}"}, "busy, retry: True"),
    ],
)
def test_vercel_ui_error_part_then_finish_and_done(options: dict[str, Any], text: str) -> None:
    events = one_text("a", overloaded())
    got = payloads(b"".join(to_vercel_ui(events, **options)))
    assert got[-4:] == [
        {"type": "error", "errorText": text},
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "error"},
        "[DONE]",
    ]


def test_vercel_ui_a_stream_that_just_stops_ends_with_an_error() -> None:
    got = payloads(b"".join(to_vercel_ui([StreamStart("x"), TextStart("t")], expose_errors=True)))
    assert got[-4]["type"] == "error"
    assert "without a finish" in got[-4]["errorText"]
    assert got[-1] == "[DONE]"


def test_vercel_ui_a_stream_without_stream_start_still_starts() -> None:
    got = payloads(b"".join(to_vercel_ui([TextStart("t"), TextEnd("t"), Finish("stop")])))
    assert [p if p == "[DONE]" else p["type"] for p in got] == [
        "start",
        "start-step",
        "text-start",
        "text-end",
        "finish-step",
        "finish",
        "[DONE]",
    ]


# -- sync and async give the same output ---------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("terminal", [None, overloaded()])
async def test_async_outputs_equal_sync_outputs(terminal: LLMEvent | None) -> None:
    events = small_stream(terminal)
    assert [t async for t in to_text(async_iter(events[:-1]))] == list(to_text(events[:-1]))
    assert [e async for e in to_sse(async_iter(events))] == list(to_sse(events))
    assert [r async for r in to_jsonl(async_iter(events))] == list(to_jsonl(events))
    ui = [b async for b in to_vercel_ui(async_iter(events), message_id="m")]
    assert ui == list(to_vercel_ui(events, message_id="m"))
    chat = [b async for b in to_openai_chat_sse(async_iter(events), include_usage=True)]
    assert without_created(payloads(b"".join(chat))) == without_created(
        payloads(b"".join(to_openai_chat_sse(events, include_usage=True)))
    )


# -- the recorded OpenAI streams ----------------------------------------------------------------


def reread(body: bytes, pieces: Sequence[bytes] | None = None) -> list[LLMEvent]:
    """An OpenAI-compatible body decoded with streamkit's SSEDecoder and read
    back with from_openai_chat (as a client of our server would)."""
    decoder = SSEDecoder()
    items: list[Any] = []
    for piece in pieces if pieces is not None else [body]:
        for event in decoder.feed(piece):
            assert event.data is not None
            if event.data == "[DONE]":
                break
            items.append(event.json())
    return list(from_openai_chat(items))


@pytest.mark.parametrize("name", fixtures_of("openai_chat"))
def test_fixture_round_trips_through_the_openai_chat_output(name: str) -> None:
    original = list(from_openai_chat(wire_items(name)))
    body = b"".join(to_openai_chat_sse(original, include_usage=True, expose_errors=True))
    again = reread(body)
    check_invariants(again)
    want, got = accumulate(original), accumulate(again)
    assert (got.text, got.refusal, got.reasoning, got.finish) == (
        want.text,
        want.refusal,
        want.reasoning,
        want.finish,
    )
    assert [(c.id, c.name, c.args) for c in got.tool_calls] == [
        (c.id, c.name, c.args) for c in want.tool_calls
    ]
    assert (got.usage and got.usage.as_dict()) == (want.usage and want.usage.as_dict())
    assert (got.error and got.error.message) == (want.error and want.error.message)
    start = original[0]
    assert isinstance(start, StreamStart)
    if start.response_id:
        assert isinstance(again[0], StreamStart)
        assert again[0].response_id == start.response_id


@pytest.mark.parametrize("name", fixtures_of("openai_chat"))
def test_fixture_as_a_ui_message_stream_keeps_the_ordering_rules(name: str) -> None:
    events = list(from_openai_chat(wire_items(name)))
    parts = payloads(b"".join(to_vercel_ui(events)))
    check_ui_parts(parts)
    result = accumulate(events)
    text = "".join(p["delta"] for p in parts if isinstance(p, dict) and p["type"] == "text-delta")
    assert text == result.text
    inputs = [
        (p["toolCallId"], p["toolName"], p["input"])
        for p in parts
        if isinstance(p, dict) and p["type"] == "tool-input-available"
    ]
    assert inputs == [(c.id, c.name, c.args) for c in result.tool_calls]
    assert any(isinstance(p, dict) and p["type"] == "error" for p in parts) == bool(result.error)


# -- properties over arbitrary valid event streams ---------------------------------------------

names = st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=8)
#: Error codes: ASCII, because from_openai_chat reads a code that
#: str.isdigit() accepts as an HTTP status, and int() refuses some of those
#: (superscripts such as "²").
codes = st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)
texts = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def tool_args(draw: st.DrawFn) -> list[str]:
    """A tool call's argument fragments: usually a JSON object cut at random
    points, sometimes broken or empty."""
    kind = draw(st.sampled_from(["object", "object", "broken", "empty"]))
    if kind == "empty":
        return draw(st.sampled_from([[], [" "]]))
    ints = st.integers(-(2**63), 2**63 - 1)  # orjson reads larger ones as floats
    value = draw(st.dictionaries(names, ints | texts | st.booleans(), max_size=3))
    text = orjson.dumps(value).decode()
    if kind == "broken":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))] or "{"
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if text[a:b]]


@st.composite
def event_streams(draw: st.DrawFn) -> list[LLMEvent]:
    """A uniform stream: blocks of text, refusal, reasoning and tool calls,
    interleaved, with usage anywhere, ending with a finish or an error."""
    blocks: list[list[LLMEvent]] = []
    for i in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "refusal", "reasoning", "tool"]))
        if kind == "tool":
            call_id, name = f"call_{i}", draw(names)
            fragments = draw(tool_args())
            joined = "".join(fragments)
            args_json = joined if joined.strip() else "{}"
            args, error = parse_args(args_json)
            blocks.append(
                [
                    ToolCallStart(call_id, name, draw(st.integers(0, 50))),
                    *(ToolCallDelta(call_id, f) for f in fragments),
                    ToolCallEnd(call_id, name, args_json, args, error),
                ]
            )
        elif kind == "reasoning":
            block_id = f"reasoning-{i}"
            deltas = draw(st.lists(texts, max_size=4))
            blocks.append(
                [
                    ReasoningStart(block_id),
                    *(ReasoningDelta(block_id, d) for d in deltas),
                    ReasoningEnd(block_id),
                ]
            )
        else:
            block_id = f"{kind}-{i}"
            deltas = draw(st.lists(texts, max_size=4))
            blocks.append(
                [
                    TextStart(block_id, kind="refusal" if kind == "refusal" else "text"),
                    *(TextDelta(block_id, d) for d in deltas),
                    TextEnd(block_id),
                ]
            )
    counts = st.none() | st.integers(0, 10_000)
    for _ in range(draw(st.integers(0, 2))):
        usage = Usage(draw(counts), draw(counts), draw(counts), draw(counts), None, draw(counts))
        blocks.append([usage])
    events: list[LLMEvent] = [
        StreamStart("hypothesis", draw(st.none() | names), draw(st.none() | names))
    ]
    while blocks:  # interleave: advance a random open block by one event
        block = blocks[draw(st.integers(0, len(blocks) - 1))]
        events.append(block.pop(0))
        if not block:
            blocks.remove(block)
    if draw(st.booleans()):
        events.append(Finish(draw(st.sampled_from(FINISH_REASONS))))
    else:
        events.append(
            Error(draw(names), code=draw(st.none() | codes), kind=draw(st.none() | names))
        )
    check_invariants(events)
    return events


@given(events=event_streams(), data=st.data())
def test_openai_chat_output_read_back_gives_the_same_result(
    events: list[LLMEvent], data: st.DataObject
) -> None:
    body = b"".join(to_openai_chat_sse(events, include_usage=True, expose_errors=True))
    again = reread(body, data.draw(splits(body)))
    check_invariants(again)
    indices = [
        call["index"]
        for p in payloads(body)
        if isinstance(p, dict) and p.get("choices")
        for call in p["choices"][0]["delta"].get("tool_calls", ())
    ]
    assert indices == sorted(indices), "tool calls go out one after another"
    assert sorted(set(indices)) == list(range(len(set(indices))))
    want, got = accumulate(events), accumulate(again)
    assert got.text == want.text
    assert got.refusal == want.refusal
    assert got.reasoning == want.reasoning
    assert sorted((c.id, c.name, c.args_json) for c in got.tool_calls) == sorted(
        (c.id, c.name, c.args_json) for c in want.tool_calls
    )
    by_id = {c.id: c for c in got.tool_calls}
    for call in want.tool_calls:
        assert by_id[call.id].args == call.args
        assert (by_id[call.id].parse_error is None) == (call.parse_error is None)
    assert got.finish == (None if want.finish is None else OPENAI_FINISH[want.finish])
    if want.error is not None:
        assert got.error is not None
        assert got.error.message == want.error.message
        assert got.error.code == want.error.code
        assert got.usage is None  # no usage chunk after an error
    elif want.usage is not None:
        assert got.usage is not None
        usage = want.usage
        prompt, completion = usage.input_tokens or 0, usage.output_tokens or 0
        total = usage.total_tokens if usage.total_tokens is not None else prompt + completion
        assert (got.usage.input_tokens, got.usage.output_tokens, got.usage.total_tokens) == (
            prompt,
            completion,
            total,
        )
        assert got.usage.cache_read_tokens == usage.cache_read_tokens
        assert got.usage.reasoning_tokens == usage.reasoning_tokens


#: The keys of each part in the strict (z.strictObject) chunk schemas of
#: ai@5.0.92, the oldest AI SDK release whose schema takes ``finishReason``:
#: (required, optional). Parts streamkit never sends are not listed.
UI_PART_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "start": ({"type"}, {"messageId", "messageMetadata"}),
    "start-step": ({"type"}, set()),
    "text-start": ({"type", "id"}, {"providerMetadata"}),
    "text-delta": ({"type", "id", "delta"}, {"providerMetadata"}),
    "text-end": ({"type", "id"}, {"providerMetadata"}),
    "reasoning-start": ({"type", "id"}, {"providerMetadata"}),
    "reasoning-delta": ({"type", "id", "delta"}, {"providerMetadata"}),
    "reasoning-end": ({"type", "id"}, {"providerMetadata"}),
    "tool-input-start": ({"type", "toolCallId", "toolName"}, {"providerExecuted", "dynamic"}),
    "tool-input-delta": ({"type", "toolCallId", "inputTextDelta"}, set()),
    "tool-input-available": (
        {"type", "toolCallId", "toolName", "input"},
        {"providerExecuted", "providerMetadata", "dynamic"},
    ),
    "tool-input-error": (
        {"type", "toolCallId", "toolName", "input", "errorText"},
        {"providerExecuted", "providerMetadata", "dynamic"},
    ),
    "error": ({"type", "errorText"}, set()),
    "finish-step": ({"type"}, set()),
    "finish": ({"type"}, {"finishReason", "messageMetadata"}),
}
UI_FINISH_REASONS = {"stop", "length", "content-filter", "tool-calls", "error", "other"}


def check_ui_parts(parts: list[Any]) -> None:
    """The rules the AI SDK's processUIMessageStream enforces, and more."""
    assert parts[-1] == "[DONE]"
    assert parts.count("[DONE]") == 1
    parts = parts[:-1]
    kinds = [p["type"] for p in parts]
    assert kinds[:2] == ["start", "start-step"]
    assert kinds.count("start") == 1
    assert kinds.count("finish") == 1
    assert kinds[-1] == "finish"
    assert kinds[-2] == "finish-step"
    assert kinds.count("error") <= 1
    assert ("error" not in kinds) or kinds[-3] == "error"
    open_text: set[str] = set()
    open_reasoning: set[str] = set()
    seen: set[str] = set()
    tools: dict[str, str] = {}  # open tool call -> name
    for part in parts:
        kind = part["type"]
        required, optional = UI_PART_KEYS[kind]
        assert required <= part.keys() <= required | optional, part
        for key in ("id", "delta", "toolCallId", "toolName", "inputTextDelta", "errorText"):
            assert key not in part or isinstance(part[key], str), part
        if kind in ("text-start", "reasoning-start"):
            assert part["id"] not in seen, "a part id reused"
            seen.add(part["id"])
            (open_text if kind == "text-start" else open_reasoning).add(part["id"])
        elif kind in ("text-delta", "text-end"):
            assert part["id"] in open_text, part
            if kind == "text-end":
                open_text.remove(part["id"])
        elif kind in ("reasoning-delta", "reasoning-end"):
            assert part["id"] in open_reasoning, part
            if kind == "reasoning-end":
                open_reasoning.remove(part["id"])
        elif kind == "tool-input-start":
            assert part["toolCallId"] not in tools
            assert part["toolCallId"] not in seen
            seen.add(part["toolCallId"])
            tools[part["toolCallId"]] = part["toolName"]
        elif kind == "tool-input-delta":
            assert part["toolCallId"] in tools, part
        elif kind in ("tool-input-available", "tool-input-error"):
            assert tools.pop(part["toolCallId"]) == part["toolName"]
            if kind == "tool-input-available":
                assert isinstance(part["input"], dict)
            else:
                assert isinstance(part["input"], str)
        elif kind == "finish" and "finishReason" in part:
            assert part["finishReason"] in UI_FINISH_REASONS
    assert not open_text
    assert not open_reasoning
    assert not tools


@given(events=event_streams(), finish_reason=st.booleans())
def test_vercel_ui_output_keeps_the_ordering_rules_and_documented_keys(
    events: list[LLMEvent], finish_reason: bool
) -> None:
    parts = payloads(b"".join(to_vercel_ui(events, finish_reason=finish_reason)))
    check_ui_parts(parts)
    finish = next(p for p in parts if p != "[DONE]" and p["type"] == "finish")
    assert ("finishReason" in finish) == finish_reason
    want = accumulate(events)
    deltas = [p for p in parts if p != "[DONE]" and p["type"] == "text-delta"]
    assert "".join(p["delta"] for p in deltas) == want.text
    args = {
        p["toolCallId"]: p["input"]
        for p in parts
        if p != "[DONE]" and p["type"] in ("tool-input-available", "tool-input-error")
    }
    assert args == {c.id: c.args if c.args is not None else c.args_json for c in want.tool_calls}


@given(events=event_streams())
def test_sse_and_jsonl_outputs_carry_every_event(events: list[LLMEvent]) -> None:
    sse = list(to_sse(events))
    records = list(to_jsonl(events))
    assert [e.event for e in sse] == [r["type"] for r in records] == [e.type for e in events]
    assert [orjson.loads(e.data or "") for e in sse] == [
        {k: v for k, v in r.items() if k != "type"} for r in records
    ]
    assert (
        "".join(to_text(e for e in events if not isinstance(e, Error))) == accumulate(events).text
    )
