"""What every incremental decoder checks before it reads a feed."""

from __future__ import annotations

from streamkit._errors import DecodeError

__all__ = ["as_bytes", "refuse_after"]


def as_bytes(data: object) -> bytes:
    """``data`` as ``bytes``; a decoder reads bytes-like input only."""
    if type(data) is bytes:
        return data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"feed() takes bytes, got {type(data).__name__}")
    return bytes(data)


def refuse_after(decoder: str, failed: DecodeError) -> DecodeError:
    """The error for input fed after an earlier failure: a decoder that hit
    bad input does not guess where the stream resumes."""
    return DecodeError(
        f"{decoder} cannot continue after an earlier error: {failed}",
        line=failed.line,
        offset=failed.offset,
    )
