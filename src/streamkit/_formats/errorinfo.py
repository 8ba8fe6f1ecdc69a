"""What a client is told when a stream fails after it has started.

Once the first byte is out, the status code can no longer change, so the
failure is reported in-band, in the stream's own format. By default the
report is sanitised: exception messages can carry secrets (connection
strings, file paths, user data), so the client gets a generic message and the
full traceback goes to the log. An app opts in to exposing the exception's
type and text. Timeouts raised by streamkit itself always say what happened:
their text is streamkit's own and tells the client the stream was cut short
on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamkit._errors import StreamTimeout
from streamkit._formats.jsonenc import dumps
from streamkit._formats.sse import ServerSentEvent, encode_sse

__all__ = ["ErrorInfo", "describe_error", "sse_error_frame"]

GENERIC_MESSAGE = "The stream failed because of an internal error."


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """A client-safe description of a failure, ready to render in any format.

    Attributes:
        code: a stable, machine-readable code: ``"internal_error"`` or
            ``"timeout"``.
        message: a human-readable message, safe to show.
        type: the exception's class name, only when exposed.
        exception: the exception itself, for custom renderers (never sent).
    """

    code: str
    message: str
    type: str | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, str]:
        """The fields a client sees: ``code``, ``message`` and maybe ``type``."""
        out = {"code": self.code, "message": self.message}
        if self.type is not None:
            out["type"] = self.type
        return out


def describe_error(exc: BaseException, *, expose: bool = False) -> ErrorInfo:
    """Describe ``exc`` for a client.

    Args:
        exc: the exception that ended the stream.
        expose: include the exception's type and text. Leave it off in
            production unless every exception your stream can raise is safe to
            show.
    """
    if isinstance(exc, StreamTimeout):
        return ErrorInfo(code="timeout", message=str(exc), type=type(exc).__name__, exception=exc)
    if expose:
        return ErrorInfo(
            code="internal_error",
            message=str(exc) or GENERIC_MESSAGE,
            type=type(exc).__name__,
            exception=exc,
        )
    return ErrorInfo(code="internal_error", message=GENERIC_MESSAGE, exception=exc)


def sse_error_frame(info: ErrorInfo, *, event: str = "error", sep: str = "\n") -> bytes:
    """Render ``info`` as an SSE event: ``event: error`` with JSON data.

    Example::

        >>> sse_error_frame(describe_error(ValueError("db password wrong")))[:50]
        b'event: error\ndata: {"code":"internal_error","messa'
    """
    data = dumps(info.to_dict()).decode()
    return encode_sse(ServerSentEvent(data, event=event), sep=sep)
