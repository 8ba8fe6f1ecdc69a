"""from_ollama: Ollama's native /api/chat and /api/generate streams (the
documented NDJSON lines, and objects shaped like the ``ollama`` client's
pydantic responses) and their quirks. What from_ollama shares with the other
adapters is tested in test_llm_adapters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamkit.llm import (
    Error,
    Finish,
    LLMEvent,
    ReasoningStart,
    TextStart,
    ToolCallEnd,
    Usage,
    accumulate,
)
from streamkit.llm._ollama import from_ollama

from .llm_fixtures import (
    OllamaGenerateResponse,
    Upstream,
    check_read_cleanly,
    checked,
    maybe,
    scalars,
    wire_items,
)


def test_the_generate_fixture_keeps_the_text_sent_before_the_error() -> None:
    """The documented example's tokens are " Yes", ".", "I", "can": joined
    as they come, without spaces added."""
    result = accumulate(from_ollama(wire_items("ollama_generate_midstream_error.ndjson")))
    assert result.text == " Yes.Ican"
    assert result.error is not None
    assert result.finish is None


# -- the ollama client (its objects mirrored in llm_fixtures) --------------------------------------


class ResponseError(Exception):
    """Like ``ollama.ResponseError``: what the client raises for an error line."""

    def __init__(self, error: str, status_code: int = -1) -> None:
        super().__init__(error)
        self.error = error
        self.status_code = status_code


def test_generate_lines_as_client_objects_give_the_same_events() -> None:
    last = {"model": "gemma4", "response": "", "done": True, "done_reason": "stop", "eval_count": 4}
    items = [*wire_items("ollama_generate_midstream_error.ndjson")[:-1], last]
    objects = [OllamaGenerateResponse.model_validate(item) for item in items]
    assert list(from_ollama(objects)) == list(from_ollama(items))


# -- building lines --------------------------------------------------------------------------------


def chat(content: str = "", **message: Any) -> dict[str, Any]:
    return {
        "model": "llama3.2",
        "created_at": "2025-07-07T20:22:19Z",
        "message": {"role": "assistant", "content": content, **message},
        "done": False,
    }


def done(reason: str | None = "stop", **extra: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "model": "llama3.2",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "prompt_eval_count": 12,
        "eval_count": 5,
        "total_duration": 100,
        **extra,
    }
    if reason is not None:
        line["done_reason"] = reason
    return line


def tool(name: str, arguments: Any, **extra: Any) -> dict[str, Any]:
    return {"function": {"name": name, "arguments": arguments}, **extra}


def run(*items: Any) -> list[LLMEvent]:
    return checked(from_ollama(items))


# -- content, thinking, tool calls -----------------------------------------------------------------


def test_thinking_is_reasoning_and_content_is_text() -> None:
    events = run(chat(thinking="hmm "), chat(thinking="ok"), chat("Hi"), chat(" there"), done())
    result = accumulate(events)
    assert (result.reasoning, result.text, result.finish) == ("hmm ok", "Hi there", "stop")
    assert events[0].model == "llama3.2"  # type: ignore[union-attr]
    kinds = [e.type for e in events]
    assert kinds.index("reasoning-end") < kinds.index("text-start")


def test_text_blocks_open_once_per_kind_switch() -> None:
    events = run(chat(thinking="a"), chat("b"), chat(thinking="c"), chat("d"), done())
    starts = [e for e in events if isinstance(e, TextStart | ReasoningStart)]
    assert [type(e) for e in starts] == [ReasoningStart, TextStart, ReasoningStart, TextStart]


def test_generate_lines_read_response_and_thinking() -> None:
    lines = [
        {"model": "m", "response": "", "thinking": "plan", "done": False},
        {"model": "m", "response": "Yes", "done": False},
        {"model": "m", "response": "", "done": True, "done_reason": "length", "eval_count": 1},
    ]
    result = accumulate(run(*lines))
    assert (result.reasoning, result.text, result.finish) == ("plan", "Yes", "length")


def test_tool_calls_arrive_whole_with_object_arguments() -> None:
    events = run(
        chat("Checking."),
        chat(tool_calls=[tool("a", {"city": "Tokyo", "n": [1, 2]}), tool("b", {}, id="call_x")]),
        chat(tool_calls=[tool("c", '{"already": "text"}')]),
        done(),
    )
    ends = [e for e in events if isinstance(e, ToolCallEnd)]
    assert [(e.call_id, e.name, e.args) for e in ends] == [
        ("call_0", "a", {"city": "Tokyo", "n": [1, 2]}),
        ("call_x", "b", {}),
        ("call_2", "c", {"already": "text"}),
    ]
    kinds = [e.type for e in events]
    assert kinds.index("text-end") < kinds.index("tool-call-start")
    assert events[-1] == Finish("tool_calls", "stop")


def test_a_repeated_call_id_is_replaced_to_keep_ids_unique() -> None:
    events = run(chat(tool_calls=[tool("a", {}, id="x")]), chat(tool_calls=[tool("b", {}, id="x")]))
    assert [c.id for c in accumulate(events).tool_calls] == ["x", "call_1"]


def test_a_tool_call_without_a_function_is_ignored() -> None:
    events = run(chat(tool_calls=[{"id": "x"}, "nonsense"]), done())
    assert events[-1] == Finish("stop", "stop")


# -- the done line: usage and finish ---------------------------------------------------------------


def test_usage_comes_from_the_done_line() -> None:
    events = run(chat("x"), done())
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.as_dict() == {"input_tokens": 12, "output_tokens": 5}
    assert usage.raw == {"prompt_eval_count": 12, "eval_count": 5, "total_duration": 100}
    assert [e.type for e in events][-3:] == ["usage", "text-end", "finish"]


def test_a_cached_prompt_has_no_input_count() -> None:
    line = done()
    del line["prompt_eval_count"]
    usage = next(e for e in run(chat("x"), line) if isinstance(e, Usage))
    assert usage.as_dict() == {"output_tokens": 5}


@pytest.mark.parametrize(
    ("raw", "finish"),
    [
        ("stop", Finish("stop", "stop")),
        ("length", Finish("length", "length")),
        ("load", Finish("other", "load")),
        ("unload", Finish("other", "unload")),
        (None, Finish("stop", None)),
    ],
)
def test_done_reasons_are_unified(raw: str | None, finish: Finish) -> None:
    assert run(chat("x"), done(raw))[-1] == finish


def test_length_after_tool_calls_stays_length() -> None:
    assert run(chat(tool_calls=[tool("f", {})]), done("length"))[-1] == Finish("length", "length")


# -- errors and the upstream -----------------------------------------------------------------------


def test_an_error_line_ends_the_stream() -> None:
    events = run(chat("a"), {"error": "model 'x' not found"}, chat("never"), done())
    error = events[-1]
    assert isinstance(error, Error)
    assert (error.message, error.status, error.provider) == ("model 'x' not found", None, "ollama")
    assert accumulate(events).text == "a"


def test_an_openai_style_error_object_from_a_proxy_is_read_too() -> None:
    error = run({"error": {"message": "overloaded", "type": "server_error"}})[-1]
    assert isinstance(error, Error)
    assert (error.message, error.kind, error.retryable) == ("overloaded", "server_error", True)


def test_the_clients_response_error_becomes_an_error_event_without_its_fake_status() -> None:
    message = "an error was encountered while running the model"
    upstream = Upstream([], chat("x"), error=ResponseError(message))
    error = checked(from_ollama(upstream.items()))[-1]
    assert isinstance(error, Error)
    assert (error.message, error.status, error.kind) == (message, None, "ResponseError")
    assert upstream.closed == 1


def test_a_response_error_with_an_http_status_keeps_it() -> None:
    def upstream() -> Iterator[Any]:
        raise ResponseError("busy", 503)
        yield  # pragma: no cover

    error = list(from_ollama(upstream()))[-1]
    assert isinstance(error, Error)
    assert (error.message, error.status, error.retryable) == ("busy", 503, True)


# -- properties ------------------------------------------------------------------------------------

_words = st.sampled_from(["a", "bc", " ", ""]) | st.text(max_size=3)
_tools = st.fixed_dictionaries(
    {
        "function": st.fixed_dictionaries(
            {
                "name": maybe(st.sampled_from(["f", "g"])),
                "arguments": maybe(st.dictionaries(st.sampled_from(["x", "y"]), scalars)),
            },
            optional={"index": maybe(st.integers(0, 2))},
        )
    },
    optional={"id": maybe(st.sampled_from(["t1", "t2"]))},
)
_chat = st.builds(
    lambda message: {"model": "m", "message": message, "done": False},
    st.fixed_dictionaries(
        {"role": st.just("assistant"), "content": maybe(_words)},
        optional={
            "thinking": maybe(_words),
            "tool_calls": maybe(st.lists(_tools, min_size=1, max_size=2)),
        },
    ),
)
_generate = st.fixed_dictionaries(
    {"model": st.just("m"), "response": maybe(_words), "done": st.just(False)},
    optional={"thinking": maybe(_words)},
)
_done = st.fixed_dictionaries(
    {"done": st.just(True), "message": st.just({"role": "assistant", "content": ""})},
    optional={
        "done_reason": maybe(st.sampled_from(["stop", "length", "load"])),
        "prompt_eval_count": maybe(st.integers(0, 99)),
        "eval_count": maybe(st.integers(0, 99)),
    },
)
_error = st.fixed_dictionaries({"error": maybe(_words)})


@st.composite
def _streams(draw: st.DrawFn) -> list[Any]:
    """Content lines, then (usually) a done line; now and then an error line
    somewhere, or lines after the end."""
    lines: list[Any] = draw(st.lists(_chat | _generate, max_size=6))
    ending = draw(st.sampled_from(["done", "done", "done", "error", "none"]))
    if ending != "none":
        lines.insert(draw(st.integers(0, len(lines))), draw(_done if ending == "done" else _error))
    if draw(st.booleans()):
        lines.extend(draw(st.lists(_chat, max_size=2)))
    return lines


@given(_streams())
def test_any_plausible_stream_keeps_the_invariants(items: list[Any]) -> None:
    check_read_cleanly(from_ollama(items))
