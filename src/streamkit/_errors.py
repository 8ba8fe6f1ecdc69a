"""The exceptions streamkit raises.

Every exception is a :class:`StreamkitError`, and each one also subclasses the
builtin exception it refines, so code that already catches ``ValueError`` or
``TypeError`` keeps working::

    StreamkitError                          (Exception)
     ├── InvalidEventError                  (+ ValueError)  an event that cannot be sent as given
     ├── DecodeError                        (+ ValueError)  bytes that are not a valid stream
     ├── EncodeError                        (+ TypeError)   a value the encoder cannot represent
     ├── FileNotServable                    (+ OSError)     a path that is not a readable file
     └── StreamTimeout                      (+ TimeoutError) a stream took too long
          ├── FirstItemTimeout                               no first item in time
          ├── IdleTimeout                                    too long between two items
          └── TotalTimeout                                   the whole stream took too long

Decoders promise to raise nothing but :class:`DecodeError`, whatever bytes they
are fed.
"""

from __future__ import annotations

__all__ = [
    "DecodeError",
    "EncodeError",
    "FileNotServable",
    "FirstItemTimeout",
    "IdleTimeout",
    "InvalidEventError",
    "StreamTimeout",
    "StreamkitError",
    "TotalTimeout",
]


class StreamkitError(Exception):
    """Base class of every exception raised by streamkit."""


class InvalidEventError(StreamkitError, ValueError):
    """An event was built with a value that cannot be put on the wire unchanged.

    Raised when a :class:`~streamkit.ServerSentEvent` is constructed, for
    example with a line break in ``event`` or ``id`` (which would let the value
    inject extra fields), a NUL in ``id`` (which clients silently ignore), or a
    ``retry`` that is not a non-negative integer. streamkit never strips or
    rewrites such a value: it refuses it and says which field was wrong.
    """


class DecodeError(StreamkitError, ValueError):
    """The bytes fed to a decoder are not a valid stream.

    Attributes:
        line: the 1-based line number in the stream where decoding failed, when
            the format is line-based and the line is known.
        offset: the 0-based byte offset in the stream where the offending line
            (or value) starts, when known.
        partial: the values decoded from the same ``feed()`` call before the
            error, so that nothing that was decoded is lost.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        offset: int | None = None,
        partial: list[object] | None = None,
    ) -> None:
        super().__init__(message)
        self.line = line
        self.offset = offset
        self.partial: list[object] = [] if partial is None else partial


class EncodeError(StreamkitError, TypeError):
    """A value cannot be encoded in the requested format.

    Raised, for example, when an object passed for JSON encoding has a type
    that has no JSON representation; the message names the type.
    """


class FileNotServable(StreamkitError, OSError):
    """A path to serve is missing, is not a regular file (a directory, a
    device, a FIFO), or cannot be opened for reading. The responses turn it
    into a 404."""


class StreamTimeout(StreamkitError, TimeoutError):
    """A stream exceeded one of the limits given to :func:`~streamkit.with_timeouts`.

    Attributes:
        limit: the limit that was exceeded, in seconds.
    """

    def __init__(self, message: str, *, limit: float) -> None:
        super().__init__(message)
        self.limit = limit


class FirstItemTimeout(StreamTimeout):
    """The source produced no first item within ``first_item`` seconds."""


class IdleTimeout(StreamTimeout):
    """The source produced no item for ``idle`` seconds."""


class TotalTimeout(StreamTimeout):
    """The stream did not finish within ``total`` seconds."""
