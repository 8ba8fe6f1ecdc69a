"""Smoke test for benchmarks/bench_llm.py: it runs and reports its figures.

Timing is never asserted: a quick run is far too small for it to mean
anything. The run starts three uvicorn servers in subprocesses on 127.0.0.1.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH_LLM = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_llm.py"

STREAMS = (
    "openai chat, dicts",
    "openai chat, SDK objects",
    "openai responses, dicts",
    "anthropic, dicts",
    "anthropic, SDK objects",
    "gemini, dicts",
    "gemini, SDK objects",
    "langchain, AIMessageChunk",
    "ollama, dicts",
)


def test_bench_llm_quick_runs_and_reports_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH_LLM), "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for stream in STREAMS:
        row = next((line for line in out.splitlines() if line.startswith(stream)), None)
        assert row is not None, f"no row for {stream}"
        assert len(re.findall(r"\d+\.\d\d", row)) == 7, row  # a figure per column
    for line in (
        "upstream directly",
        "raw Starlette proxy (bytes relayed)",
        "streamkit proxy (normalised, re-encoded)",
        "per token: slowest adapter + output",
        "added time to first token, streamkit proxy vs upstream directly",
    ):
        assert line in out, line
