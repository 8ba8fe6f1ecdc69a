"""The README's example runs as shown, under a real server."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

from streamkit.testing import read_sse, run_server

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example() -> ModuleType:
    text = README.read_text()
    code = re.search(r"```python\n(import anyio\n.*?)```", text, re.S)
    assert code is not None, "the README's example is gone"
    module = ModuleType("readme_example")
    exec(compile(code.group(1), str(README), "exec"), module.__dict__)
    return module


def test_the_readme_example_streams_ticks_and_resumes_after_the_last_id() -> None:
    app = readme_example().app
    with run_server(app) as url:
        first = read_sse(f"{url}/ticks", 1)
        resumed = read_sse(f"{url}/ticks", 1, headers={"Last-Event-ID": "41"})
        bogus = read_sse(f"{url}/ticks", 1, headers={"Last-Event-ID": "<script>"})
    assert [(e.data, e.id) for e in first] == [("tick 1", "1")]
    assert [(e.data, e.id) for e in resumed] == [("tick 42", "42")]
    assert [e.id for e in bogus] == ["1"]
