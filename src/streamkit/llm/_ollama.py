"""Ollama's native streams (``/api/chat`` and ``/api/generate``, NDJSON).

Items are the lines of the body: the dicts of the wire (read with
``ndjson``), or the ``ChatResponse`` / ``GenerateResponse`` objects of the
``ollama`` Python client (pydantic models with the same fields). What the
adapter copes with, beyond the plain shape:

* the text is ``message.content`` on ``/api/chat`` and ``response`` on
  ``/api/generate``; the reasoning (``think=True``) is ``message.thinking``
  or ``thinking``;
* tool calls arrive whole, with **object** arguments (sent on as JSON text)
  and usually no id: the call id is then ``call_<n>``, ``n`` the call's
  position;
* usage (``prompt_eval_count`` → input, ``eval_count`` → output) and the
  finish reason are only on the ``done: true`` line; ``done_reason`` ``stop``
  is also what Ollama says after tool calls, so it becomes ``tool_calls``
  when calls were seen (``length`` → length, anything else → other; a done
  line without ``done_reason``, from older servers, is a stop). Ollama omits
  ``prompt_eval_count`` when the whole prompt was cached: the input count is
  then absent, not zero;
* a line ``{"error": "..."}`` (the HTTP status is still 200) ends the stream
  with an error, and so does the ``ResponseError`` that the ``ollama``
  client raises for it (its ``status_code`` of -1 is not an HTTP status);
* timing fields (``created_at``, ``*_duration``) and ``context`` are
  ignored.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable, Mapping
from typing import Any, Final, overload

from streamkit.llm._access import field
from streamkit.llm._builder import EventBuilder, error_from_exception
from streamkit.llm._drive import drive
from streamkit.llm._events import FinishReason, LLMEvent, Usage

__all__ = ["OllamaAdapter", "from_ollama"]

_FINISH: Final[dict[str, FinishReason]] = {"stop": "stop", "length": "length"}

#: The ``done`` line's counters and timings, kept as the usage's ``raw``.
_USAGE_FIELDS: Final = (
    "prompt_eval_count",
    "eval_count",
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
)

_TEXT: Final = "text"
_REASONING: Final = "reasoning"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _record(item: Any) -> dict[str, Any] | None:
    """The fields of a line (or of a part of one) as a dict: the dict itself,
    or the ``__dict__`` of the client's pydantic objects, where their fields
    live. (A chat line has no ``response`` and a generate line no
    ``message``; asking a pydantic model for a field it lacks raises inside
    pydantic, which costs more than reading the whole line.)"""
    if isinstance(item, dict):
        return item
    fields = getattr(item, "__dict__", None)
    return fields if isinstance(fields, dict) else None


class _OllamaBuilder(EventBuilder):
    """The ``ollama`` client's ``ResponseError`` carries ``status_code=-1``
    for errors sent in the stream: that is not an HTTP status."""

    __slots__ = ()

    def exception(self, exc: BaseException) -> None:
        fields = error_from_exception(exc)
        status = fields["status"]
        fields["status"] = status if status is not None and status >= 100 else None
        error = getattr(exc, "error", None)
        if isinstance(error, str) and error:
            fields["message"] = error
        self.error(**fields)


class OllamaAdapter:
    """Sans-I/O adapter: ``feed(line)`` for each NDJSON line (or client
    response object), ``end()`` at the end of the stream, events from
    ``builder.drain()``."""

    __slots__ = ("_calls", "_ids", "builder")

    def __init__(self, provider: str = "ollama") -> None:
        self.builder: EventBuilder = _OllamaBuilder(provider)
        self._calls = 0
        self._ids: set[str] = set()  # call ids given by Ollama so far

    def feed(self, item: Any) -> None:
        builder = self.builder
        line = item if type(item) is dict else _record(item)
        if line is None:
            return
        get = line.get
        error = get("error")
        if error:
            self._error(error)
            return
        if not builder.started:
            model = get("model")
            builder.start(None, model if isinstance(model, str) else None)
        message = get("message")
        if message is not None:  # /api/chat
            message = message if type(message) is dict else _record(message) or {}
            thinking = message.get("thinking")
            content = message.get("content")
            calls = message.get("tool_calls")
        else:  # /api/generate
            thinking = get("thinking")
            content = get("response")
            calls = None
        if thinking and isinstance(thinking, str):
            builder.end(_TEXT)
            builder.reasoning(_REASONING, thinking)
        if content and isinstance(content, str):
            builder.end(_REASONING)
            builder.text(_TEXT, content)
        if calls and isinstance(calls, list):
            builder.end_blocks()
            for call in calls:
                self._call(call)
        if get("done"):
            self._done(line)

    def _call(self, item: Any) -> None:
        call = _record(item)
        function = _record(call.get("function")) if call is not None else None
        if call is None or function is None:
            return
        name = function.get("name")
        args = function.get("arguments")
        if args is not None and not isinstance(args, str | dict):
            args = dict(args) if isinstance(args, Mapping) else None
        self._calls += 1
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id or call_id in self._ids:
            call_id = None  # absent, or repeated: ids must stay unique
        else:
            self._ids.add(call_id)
        self.builder.tool_call(
            ("call", self._calls),
            name=name if isinstance(name, str) else "",
            args=args,
            call_id=call_id,
        )

    def _done(self, line: dict[str, Any]) -> None:
        builder = self.builder
        prompt = _int(line.get("prompt_eval_count"))
        output = _int(line.get("eval_count"))
        if prompt is not None or output is not None:
            raw = {n: value for n in _USAGE_FIELDS if (value := line.get(n)) is not None}
            builder.usage(Usage(input_tokens=prompt, output_tokens=output, raw=raw))
        reason = line.get("done_reason")
        if reason and isinstance(reason, str):
            builder.finish(_FINISH.get(reason, "other"), reason, stop_with_calls=True)
        else:
            builder.finish("stop", None, stop_with_calls=True)

    def _error(self, error: Any) -> None:
        if isinstance(error, str):
            self.builder.error(error, raw={"error": error})
            return
        message = field(error, "message")  # an OpenAI-style error object, from a proxy
        self.builder.error(
            str(message) if message else str(error),
            kind=None if field(error, "type") is None else str(field(error, "type")),
            raw=error if isinstance(error, dict) else None,
        )

    def end(self) -> None:
        """The stream ended (after the ``done`` line, or cut short)."""


@overload
def from_ollama(
    stream: AsyncIterable[Any], *, provider: str = "ollama"
) -> AsyncGenerator[LLMEvent, None]: ...


@overload
def from_ollama(
    stream: Iterable[Any], *, provider: str = "ollama"
) -> Generator[LLMEvent, None, None]: ...


def from_ollama(
    stream: Iterable[Any] | AsyncIterable[Any], *, provider: str = "ollama"
) -> Generator[LLMEvent, None, None] | AsyncGenerator[LLMEvent, None]:
    """Uniform events from an Ollama ``/api/chat`` or ``/api/generate`` stream.

    ``stream`` is what the ``ollama`` client's ``chat(..., stream=True)`` or
    ``generate(..., stream=True)`` returns (sync or ``AsyncClient``), or the
    lines of the HTTP body read with :func:`~streamkit.llm.ndjson`. (For
    Ollama's OpenAI-compatible ``/v1`` endpoint use
    :func:`~streamkit.llm.from_openai_chat`.) Returns an async generator for
    an async stream, a generator for a sync one; closing it closes the
    upstream.

    Example::

        client = ollama.AsyncClient()
        stream = await client.chat(model="llama3.2", messages=messages, stream=True)
        return SSEResponse(to_sse(from_ollama(stream)))
    """
    return drive(OllamaAdapter(provider), stream)
