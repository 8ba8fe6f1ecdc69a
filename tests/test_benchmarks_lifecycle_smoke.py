"""Smoke test for benchmarks/bench_lifecycle.py: it runs and reports its figures.

Timing and memory are never asserted: the figures depend on the machine, and a
quick run is far too small for them to mean anything. The run starts uvicorn
servers in subprocesses on 127.0.0.1, holds a few dozen streams open on each,
and stops them with SIGTERM.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH_LIFECYCLE = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_lifecycle.py"

RESULT_LINES = (
    "a. Memory per idle SSE connection: 50 connections",
    "b. Client disconnect to the source's finally: median of 5",
    "c. SIGTERM to exit with 20 open streams",
    "streamkit SSEResponse",
    "Starlette StreamingResponse",
    "sse-starlette",
    "memory: streamkit KiB per idle connection",
    "shutdown: streamkit exit",
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")
def test_bench_lifecycle_quick_runs_and_reports_figures() -> None:
    for module in ("sse_starlette", "uvicorn", "httpx"):
        pytest.importorskip(module)
    result = subprocess.run(
        [sys.executable, str(BENCH_LIFECYCLE), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for line in RESULT_LINES:
        assert line in result.stdout, result.stdout
