"""streamkit: streaming helpers for ASGI web apps.

Server-Sent Events, JSON Lines, CSV, file downloads and LLM streams, encoded
exactly to their specs and streamed without leaks.

The package is layered; this module re-exports the public names:

* formats (pure, sans-I/O): :class:`ServerSentEvent`, :func:`encode_sse`,
  :func:`encode_comment`, :func:`format_sse`, :func:`json_event`, :class:`SSEDecoder`,
  :class:`ErrorInfo`, :func:`describe_error`, :func:`sse_error_frame`,
  :func:`encode_jsonl`, :func:`encode_json_seq`, :class:`JSONLDecoder`,
  :class:`JSONSeqDecoder`, :class:`CSVEncoder`, :func:`content_disposition`;
* streams (anyio, asyncio and trio): :func:`async_iter`, :func:`coalesce`,
  :func:`encoded_chunks`, :func:`sse_chunks`, :func:`heartbeat`,
  :func:`with_timeouts`, :func:`catch_errors`, :func:`retry_until_first`,
  :func:`progress`, :func:`jsonl_chunks`, :func:`json_seq_chunks`,
  :func:`json_array_chunks`, :func:`csv_chunks`, :class:`EventLog`,
  :func:`file_chunks`, :func:`safe_join`, :func:`zip_chunks`, :class:`ZipMember`;
* errors: :class:`StreamkitError` and its subclasses.

``import streamkit`` never imports starlette: the framework adapters live in
``streamkit.starlette``.
"""

from streamkit._errors import (
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
from streamkit._formats.csvenc import CSVEncoder
from streamkit._formats.errorinfo import ErrorInfo, describe_error, sse_error_frame
from streamkit._formats.httpfile import content_disposition
from streamkit._formats.jsonl import JSONLDecoder, JSONSeqDecoder, encode_json_seq, encode_jsonl
from streamkit._formats.sse import (
    ServerSentEvent,
    encode_comment,
    encode_sse,
    format_sse,
    json_event,
)
from streamkit._formats.sse_decoder import SSEDecoder
from streamkit._streams.chunkers import coalesce, encoded_chunks, sse_chunks
from streamkit._streams.exports import csv_chunks, json_array_chunks, json_seq_chunks, jsonl_chunks
from streamkit._streams.files import file_chunks, safe_join
from streamkit._streams.progress import Progress, progress
from streamkit._streams.replay import EventLog
from streamkit._streams.sources import async_iter
from streamkit._streams.wrappers import (
    catch_errors,
    exponential_backoff,
    heartbeat,
    retry_until_first,
    with_timeouts,
)
from streamkit._streams.zipping import ZipMember, zip_chunks

__version__ = "0.1.0.dev0"

__all__ = [
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
