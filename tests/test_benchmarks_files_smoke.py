"""Smoke test for benchmarks/bench_files.py: it runs, verifies and reports.

Speed and memory are never asserted: the figures depend on the machine, and a
quick run (a 64 MiB file, one pass) is far too small for them to mean
anything. The run writes the file to a temporary directory, starts uvicorn,
granian and a plain socket server in subprocesses on 127.0.0.1, and downloads
the file from each; it must then report a figure for every line and a
byte-for-byte match (SHA-256) for every line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_FILES = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_files.py"

LINES = (
    "uvicorn h11: streamkit FileStreamResponse(path)",
    "uvicorn h11: Starlette FileResponse(path)",
    "uvicorn h11: streamkit FileStreamResponse(file_chunks(path), size=)",
    "granian: streamkit FileStreamResponse(path)",
    "granian: Starlette FileResponse(path)",
    "granian: streamkit FileStreamResponse(file_chunks(path), size=)",
    "granian: streamkit FileStreamResponse(path), pathsend hidden",
    "granian: Starlette FileResponse(path), pathsend hidden",
    "plain socket: os.sendfile, no ASGI (reference)",
)

SUMMARY_LINES = (
    "All 9 lines delivered the file byte for byte.",
    "MB/s, uvicorn h11: streamkit / FileResponse",
    "MB/s, granian, pathsend (granian sends): streamkit / FileResponse",
    "speed: MB/s, uvicorn h11: streamkit / FileResponse",
    "memory: uvicorn h11: streamkit FileStreamResponse(path): peak RSS growth",
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/stat")
@pytest.mark.timeout(240)
def test_bench_files_quick_runs_verifies_and_reports_every_line() -> None:
    for module in ("uvicorn", "granian"):
        pytest.importorskip(module)
    result = subprocess.run(
        [sys.executable, str(BENCH_FILES), "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for line in LINES:
        # The table row: the line, its MB/s, CPU, RSS and others' CPU figures.
        figures = re.search(
            rf"^{re.escape(line)} +[\d,]+ +\d+\.\d+ +\d+\.\d+ +\d+\.\d +-?\d+\.\d\d +\d+\.\d\d  \S",
            out,
            re.MULTILINE,
        )
        assert figures is not None, f"no figures for {line!r}:\n{out}"
        assert f"verified {line}: whole body SHA-256 equals the file's: ok" in out, out
    for line in SUMMARY_LINES:
        assert line in out, out
