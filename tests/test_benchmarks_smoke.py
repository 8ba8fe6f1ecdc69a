"""Smoke test for benchmarks/bench_sse.py: it runs and reports its ratios.

Timing is never asserted: the figures depend on the machine, and a quick run is
far too small for them to mean anything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH_SSE = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_sse.py"


def test_bench_sse_quick_runs_and_reports_ratios() -> None:
    for module in ("sse_starlette", "fastapi", "httpx_sse"):
        pytest.importorskip(module)
    result = subprocess.run(
        [sys.executable, str(BENCH_SSE), "--quick"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for peer in ("sse-starlette", "fastapi", "fastapi model", "httpx-sse"):
        assert f"/ {peer} " in result.stdout, result.stdout
