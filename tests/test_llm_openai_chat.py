"""from_openai_chat: the quirks of OpenAI Chat Completions streams and of
OpenAI-compatible servers. What from_openai_chat shares with the other
adapters is tested in test_llm_adapters."""

from __future__ import annotations

from typing import Any

from streamkit.llm import (
    Error,
    Finish,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    accumulate,
    from_openai_chat,
)

from .llm_fixtures import check_invariants


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> Any:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "c1", "model": "m", "choices": choices, **extra}


def test_the_finish_waits_for_the_usage_chunk_that_follows_it() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    events = list(
        from_openai_chat([chunk({"content": "hi"}), chunk({}, "stop"), chunk(None, usage=usage)])
    )
    check_invariants(events)
    usage_at = next(i for i, e in enumerate(events) if isinstance(e, Usage))
    assert [e.type for e in events[usage_at:]] == ["usage", "text-end", "finish"]
    assert events[-1] == Finish("stop", "stop")


def test_parallel_calls_sharing_index_zero_stay_separate() -> None:
    """Ollama's /v1 once sent every parallel call with index 0."""
    events = list(
        from_openai_chat(
            [
                chunk({"tool_calls": [_call(0, "a", "f", '{"x": 1}')]}),
                chunk({"tool_calls": [_call(0, "b", "g", '{"y": 2}')]}),
                chunk({}, "tool_calls"),
            ]
        )
    )
    check_invariants(events)
    ends = [e for e in events if isinstance(e, ToolCallEnd)]
    assert [(e.call_id, e.name, e.args) for e in ends] == [
        ("a", "f", {"x": 1}),
        ("b", "g", {"y": 2}),
    ]


def _call(index: int | None, call_id: str | None, name: str | None, args: str | None) -> Any:
    call: dict[str, Any] = {"function": {}}
    if index is not None:
        call["index"] = index
    if call_id is not None:
        call["id"] = call_id
    if name is not None:
        call["function"]["name"] = name
    if args is not None:
        call["function"]["arguments"] = args
    return call


def test_fragments_before_the_name_are_held_until_it_is_known() -> None:
    events = list(
        from_openai_chat(
            [
                chunk({"tool_calls": [_call(0, None, None, '{"a"')]}),
                chunk({"tool_calls": [_call(0, "id1", "tool", ": 1}")]}),
                chunk({}, "tool_calls"),
            ]
        )
    )
    check_invariants(events)
    start = next(e for e in events if isinstance(e, ToolCallStart))
    assert (start.call_id, start.name) == ("id1", "tool")
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert end.args == {"a": 1}


def test_null_and_empty_arguments_mean_no_arguments() -> None:
    events = list(
        from_openai_chat(
            [chunk({"tool_calls": [_call(0, "id", "ping", None)]}), chunk({}, "tool_calls")]
        )
    )
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert (end.args_json, end.args, end.parse_error) == ("{}", {}, None)


def test_reasoning_fields_of_compatible_servers_become_reasoning() -> None:
    result = accumulate(
        from_openai_chat(
            [
                chunk({"reasoning_content": "think "}),
                chunk({"reasoning": "more"}),
                chunk({"content": "answer"}),
                chunk({}, "stop"),
            ]
        )
    )
    assert (result.reasoning, result.text, result.finish) == ("think more", "answer", "stop")


def test_a_refusal_is_a_refusal_block() -> None:
    result = accumulate(
        from_openai_chat([chunk({"refusal": "I can't"}), chunk({"refusal": " help."}, "stop")])
    )
    assert result.refusal == "I can't help."
    assert result.finish == "stop"


def test_only_the_first_choice_is_read() -> None:
    items = [
        {
            "choices": [
                {"index": 1, "delta": {"content": "B"}},
                {"index": 0, "delta": {"content": "A"}},
            ]
        },
        chunk({}, "stop"),
    ]
    assert accumulate(from_openai_chat(items)).text == "A"


def test_a_chunk_the_adapter_cannot_read_is_an_error_not_a_raise() -> None:
    events = list(from_openai_chat([chunk({"content": "ok"}), {"choices": 5}, chunk({}, "stop")]))
    check_invariants(events)
    assert isinstance(events[-1], Error)
    assert events[-1].kind == "adapter_error"
    assert "TypeError" in events[-1].message


def test_items_of_unknown_shapes_are_ignored() -> None:
    items = [
        chunk({"content": "ok"}),
        {"choices": "nonsense"},
        {"object": "other"},
        chunk({}, "stop"),
    ]
    result = accumulate(from_openai_chat(items))
    assert (result.text, result.finish, result.error) == ("ok", "stop", None)
