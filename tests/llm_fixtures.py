"""Shared by the LLM tests: the recorded provider streams in
``../shared/fixtures/llm`` (tests skip when the folder is absent), their
expected outcomes, and a checker for the invariants of a uniform stream."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from streamkit.llm import (
    Error,
    Finish,
    LLMEvent,
    LLMResult,
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
    ndjson,
    sse_json,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "llm"


def fixtures_or_skip() -> Path:
    if not (FIXTURES / "expected.jsonl").is_file():
        pytest.skip(f"the LLM fixtures are not present ({FIXTURES})")
    return FIXTURES


def expected_outcomes() -> dict[str, dict[str, Any]]:
    path = FIXTURES / "expected.jsonl"
    if not path.is_file():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            out[record["fixture"]] = record["expected"]
    return out


def wire_items(name: str) -> list[Any]:
    """The provider payloads of a fixture, as the wire gives them (dicts)."""
    path = fixtures_or_skip() / name
    data = path.read_bytes()
    if name.endswith(".sse"):
        return list(sse_json([data]))
    if name.endswith(".ndjson"):
        return list(ndjson([data]))
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def check_outcome(result: LLMResult, expected: dict[str, Any]) -> None:
    """Compare an accumulated result with a fixture's expected outcome."""
    assert result.text == expected["text"]
    assert result.reasoning == expected["reasoning"]
    assert len(result.tool_calls) == len(expected["tool_calls"])
    for got, want in zip(result.tool_calls, expected["tool_calls"], strict=True):
        assert (got.id, got.name) == (want["id"], want["name"])
        assert got.args == want["args"]
        if want["args"] is None:
            assert got.args_json == want["args_raw"]
            assert got.parse_error
    want_usage = expected["usage"]
    if not want_usage:
        assert result.usage is None or not result.usage.as_dict()
    else:
        assert result.usage is not None
        for name, value in want_usage.items():
            assert getattr(result.usage, name) == value, name
    assert result.finish == expected["finish"]
    want_error = expected["error"]
    if want_error is None:
        assert result.error is None
    else:
        assert result.error is not None
        assert result.error.message == want_error["message"]
        if "type" in want_error:
            assert result.error.kind == want_error["type"]
        if "code" in want_error and want_error["code"] is not None:
            assert result.error.code == str(want_error["code"])


_BLOCK_TYPES = {
    TextStart: ("open", "text"),
    TextDelta: ("delta", "text"),
    TextEnd: ("close", "text"),
    ReasoningStart: ("open", "reasoning"),
    ReasoningDelta: ("delta", "reasoning"),
    ReasoningEnd: ("close", "reasoning"),
}


def check_invariants(events: Sequence[LLMEvent]) -> None:
    """The invariants every uniform stream keeps (see streamkit.llm)."""
    assert events, "a stream has at least its terminal event"
    assert isinstance(events[0], StreamStart)
    assert sum(isinstance(e, StreamStart) for e in events) == 1
    terminal = [i for i, e in enumerate(events) if isinstance(e, Finish | Error)]
    assert terminal == [len(events) - 1], "exactly one terminal event, last"
    open_blocks: dict[str, str] = {}
    closed: set[str] = set()
    open_calls: set[str] = set()
    closed_calls: set[str] = set()
    args: dict[str, list[str]] = {}
    for event in events[1:-1]:
        kind = _BLOCK_TYPES.get(type(event))
        if kind is not None:
            action, family = kind
            block_id = event.block_id  # type: ignore[union-attr]
            if action == "open":
                assert block_id not in open_blocks, "opened twice"
                assert block_id not in closed, "reopened"
                open_blocks[block_id] = family
            else:
                assert open_blocks.get(block_id) == family, f"{event} outside its block"
                if action == "close":
                    del open_blocks[block_id]
                    closed.add(block_id)
        elif isinstance(event, ToolCallStart):
            assert event.call_id not in open_calls
            assert event.call_id not in closed_calls
            open_calls.add(event.call_id)
            args[event.call_id] = []
        elif isinstance(event, ToolCallDelta):
            assert event.call_id in open_calls
            args[event.call_id].append(event.args_delta)
        elif isinstance(event, ToolCallEnd):
            assert event.call_id in open_calls
            open_calls.discard(event.call_id)
            closed_calls.add(event.call_id)
            joined = "".join(args[event.call_id])
            assert event.args_json == (joined if joined.strip() else "{}")
            assert (event.args is None) == (event.parse_error is not None)
        else:
            assert isinstance(event, Usage), f"unexpected {event!r}"
    assert not open_blocks, "blocks left open before the terminal event"
    assert not open_calls, "tool calls left open before the terminal event"
