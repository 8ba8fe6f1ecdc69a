"""Smoke test for benchmarks/bench_exports.py: it runs and reports its ratios.

Timing is never asserted: the figures depend on the machine, and a quick run is
far too small for them to mean anything. The run starts uvicorn servers in
subprocesses on 127.0.0.1 and streams a few thousand rows through each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH_EXPORTS = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_exports.py"

RATIO_LINES = (
    "encode: jsonl_chunks / plain orjson loop, one join",
    "encode: jsonl_chunks / plain orjson loop, join per 256 rows",
    "encode: csv_chunks, guard on (default) / plain csv.writer loop",
    "server: MB/s, streamkit / FastAPI, async def, dicts",
    "server: MB/s, streamkit / FastAPI, Iterable[Item]",
    "server: MB/s, streamkit / Django recipe, sync generator",
    "memory (jsonl): peak RSS growth",
    "memory (csv): peak RSS growth",
)


def test_bench_exports_quick_runs_and_reports_ratios() -> None:
    for module in ("fastapi", "uvicorn", "httpx"):
        pytest.importorskip(module)
    result = subprocess.run(
        [sys.executable, str(BENCH_EXPORTS), "--quick"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Outputs byte-identical within each format on every pass" in result.stdout, result.stdout
    for line in RATIO_LINES:
        assert line in result.stdout, result.stdout
