"""Smoke test for benchmarks/bench_streams.py: it runs and reports its ratios.

Timing is never asserted: the figures depend on the machine, and a quick run is
far too small for them to mean anything. The run starts a uvicorn server in a
subprocess on 127.0.0.1 and streams a few thousand events through it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH_STREAMS = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_streams.py"

RATIO_LINES = (
    "server: fewer body messages, streamkit vs one send per item",
    "server: items/s end to end, streamkit / one send per item",
    "server: items/s end to end, streamkit / sse-starlette",
    "drain (asyncio): async_iter / iterate_in_threadpool",
    "drain (trio): async_iter / iterate_in_threadpool",
)


def test_bench_streams_quick_runs_and_reports_ratios() -> None:
    for module in ("sse_starlette", "uvicorn", "httpx", "trio"):
        pytest.importorskip(module)
    result = subprocess.run(
        [sys.executable, str(BENCH_STREAMS), "--quick"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Received bytes identical on every line" in result.stdout, result.stdout
    for line in RATIO_LINES:
        assert line in result.stdout, result.stdout
