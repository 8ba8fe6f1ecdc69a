"""Guards on the public surface: what is exported, and what importing costs."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

import streamkit
from streamkit import (
    DecodeError,
    EncodeError,
    FileNotServable,
    FirstItemTimeout,
    IdleTimeout,
    InvalidEventError,
    StreamkitError,
    StreamTimeout,
    TotalTimeout,
)

EXPECTED_ALL = [
    "CSVEncoder",
    "DecodeError",
    "EncodeError",
    "ErrorInfo",
    "EventLog",
    "FileNotServable",
    "FirstItemTimeout",
    "IdleTimeout",
    "InvalidEventError",
    "JSONLDecoder",
    "JSONSeqDecoder",
    "Progress",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamTimeout",
    "StreamkitError",
    "TotalTimeout",
    "ZipMember",
    "async_iter",
    "catch_errors",
    "coalesce",
    "content_disposition",
    "csv_chunks",
    "describe_error",
    "encode_comment",
    "encode_json_seq",
    "encode_jsonl",
    "encode_sse",
    "encoded_chunks",
    "exponential_backoff",
    "file_chunks",
    "format_sse",
    "heartbeat",
    "json_array_chunks",
    "json_event",
    "json_seq_chunks",
    "jsonl_chunks",
    "progress",
    "retry_until_first",
    "safe_join",
    "sse_chunks",
    "sse_error_frame",
    "with_timeouts",
    "zip_chunks",
]


def test_all_is_sorted_and_lists_exactly_the_public_names() -> None:
    assert streamkit.__all__ == sorted(streamkit.__all__)
    assert streamkit.__all__ == EXPECTED_ALL
    # Submodules (the private layers, and streamkit.starlette once imported)
    # are attributes of the package but not exported names.
    public = {
        name
        for name, value in vars(streamkit).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(EXPECTED_ALL)


@pytest.mark.parametrize("name", EXPECTED_ALL)
def test_every_public_name_has_a_docstring(name: str) -> None:
    assert getattr(streamkit, name).__doc__


def test_import_streamkit_does_not_import_starlette() -> None:
    code = (
        "import sys, streamkit; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'starlette'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_streamkit_llm_imports_no_sdk_framework_or_client() -> None:
    code = (
        "import sys, streamkit, streamkit.llm; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'starlette', 'openai', 'anthropic', 'google', 'langchain_core', 'httpx', 'stream_zip'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


LLM_ALL = [
    "Error",
    "FINISH_REASONS",
    "Finish",
    "FinishReason",
    "LLMEvent",
    "LLMResult",
    "LLMStreamError",
    "ReasoningDelta",
    "ReasoningEnd",
    "ReasoningStart",
    "StreamStart",
    "TextDelta",
    "TextEnd",
    "TextStart",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolCallStart",
    "Usage",
    "accumulate",
    "detect_provider",
    "from_anthropic",
    "from_gemini",
    "from_langchain",
    "from_ollama",
    "from_openai_chat",
    "from_openai_responses",
    "ndjson",
    "normalize",
    "sse_json",
    "to_jsonl",
    "to_openai_chat_sse",
    "to_sse",
    "to_text",
    "to_vercel_ui",
]

STARLETTE_ALL = [
    "CSVResponse",
    "FileStreamResponse",
    "JSONLResponse",
    "OpenAIChatResponse",
    "SSEResponse",
    "StreamResponse",
    "TextStreamResponse",
    "VercelUIResponse",
    "close_open_streams",
    "last_event_id",
]


@pytest.mark.parametrize(
    ("module", "expected"),
    [("streamkit.llm", LLM_ALL), ("streamkit.starlette", STARLETTE_ALL)],
)
def test_subpackage_all_lists_exactly_the_public_names(module: str, expected: list[str]) -> None:
    imported = importlib.import_module(module)
    # (The order of __all__ is ruff's RUF022 check.)
    assert sorted(imported.__all__) == sorted(expected)
    for name in expected:
        assert hasattr(imported, name), name


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (InvalidEventError, ValueError),
        (DecodeError, ValueError),
        (EncodeError, TypeError),
        (FileNotServable, OSError),
        (StreamTimeout, TimeoutError),
        (FirstItemTimeout, StreamTimeout),
        (IdleTimeout, StreamTimeout),
        (TotalTimeout, StreamTimeout),
    ],
)
def test_errors_subclass_the_base_and_the_builtin_they_refine(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, StreamkitError)
    assert issubclass(error, builtin)


def test_error_tree_is_drawn_in_the_module_docstring() -> None:
    doc = sys.modules["streamkit._errors"].__doc__ or ""
    for name in (
        "StreamkitError",
        "InvalidEventError",
        "DecodeError",
        "EncodeError",
        "FileNotServable",
        "StreamTimeout",
        "FirstItemTimeout",
        "IdleTimeout",
        "TotalTimeout",
    ):
        assert name in doc


def test_version_matches_the_package_metadata() -> None:
    from importlib.metadata import version

    assert streamkit.__version__ == version("streamkit")


def test_the_starlette_adapter_exports_documented_names() -> None:
    import streamkit.starlette as adapter

    assert adapter.__all__ == sorted(adapter.__all__)
    for name in adapter.__all__:
        assert getattr(adapter, name).__doc__, name
