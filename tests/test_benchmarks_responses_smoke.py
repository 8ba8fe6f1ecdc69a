"""Smoke test for benchmarks/bench_responses.py: it runs and reports its ratios.

Timing is never asserted: the figures depend on the machine, and a quick run is
far too small for them to mean anything. The run starts a uvicorn server in a
subprocess on 127.0.0.1 and streams a few thousand events through each line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH_RESPONSES = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_responses.py"

RATIO_LINES = (
    "server: events/s end to end, streamkit / sse-starlette",
    "server: events/s end to end, streamkit / FastAPI native SSE",
    "server: events/s end to end, streamkit / Litestar ServerSentEvent",
    "server: events/s end to end, streamkit / raw Starlette Streaming",
    "server: CPU per event, sse-starlette / streamkit",
)


def test_bench_responses_quick_runs_and_reports_ratios() -> None:
    for module in ("sse_starlette", "fastapi", "litestar", "uvicorn", "httpx"):
        pytest.importorskip(module)
    result = subprocess.run(
        [sys.executable, str(BENCH_RESPONSES), "--quick"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Every line delivered the same 2,000 data values" in result.stdout, result.stdout
    for line in RATIO_LINES:
        assert line in result.stdout, result.stdout
