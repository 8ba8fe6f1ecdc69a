"""streamkit: streaming helpers for ASGI web apps.

Server-Sent Events, JSON Lines, CSV, file downloads and LLM streams, encoded
exactly to their specs and streamed without leaks.

The package is layered; this module re-exports the public names:

* formats (pure, sans-I/O): :class:`ServerSentEvent`, :func:`encode_sse`,
  :func:`encode_comment`, :func:`format_sse`, :func:`json_event`, :class:`SSEDecoder`;
* errors: :class:`StreamkitError` and its subclasses.

``import streamkit`` never imports starlette: the framework adapters live in
``streamkit.starlette``.
"""

from streamkit._errors import DecodeError, EncodeError, InvalidEventError, StreamkitError
from streamkit._formats.sse import (
    ServerSentEvent,
    encode_comment,
    encode_sse,
    format_sse,
    json_event,
)
from streamkit._formats.sse_decoder import SSEDecoder

__version__ = "0.1.0.dev0"

__all__ = [
    "DecodeError",
    "EncodeError",
    "InvalidEventError",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamkitError",
    "encode_comment",
    "encode_sse",
    "format_sse",
    "json_event",
]
