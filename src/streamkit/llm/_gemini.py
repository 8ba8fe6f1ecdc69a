"""Google Gemini streams (google-genai, the Gemini API and Vertex AI).

Items are ``GenerateContentResponse`` chunks: google-genai's objects (what
``client.models.generate_content_stream`` yields; snake_case attributes) or
the dicts of the wire (``streamGenerateContent?alt=sse`` read with
``sse_json``; camelCase keys). Both key styles are read, the snake name
first for objects and the camel name first for dicts. What the adapter copes
with, beyond the plain shape:

* there are no block boundaries: text parts (``thought`` false) make a text
  block and thought parts a reasoning block, opened and closed when the kind
  of part changes (a new block each time: blocks never reopen);
* ``thought_signature`` (bytes in the SDK, base64-encoded here; a base64
  string on the wire) goes back to Gemini on the part that carried it. On a
  thought part it is the signature of that reasoning block, which it closes.
  On any other part (the empty text part that ends a text answer, or a
  function-call part, Gemini 3's usual places) it becomes a reasoning block
  of its own, without text, closed at once *just before* the part's content:
  so a signature-only :class:`~streamkit.llm.ReasoningEnd` belongs to the
  tool call or text that follows it, or, with nothing after it, to an empty
  text part;
* function calls arrive whole (``args`` is an object), usually without an
  id: the call id is then ``call_<n>``, ``n`` the call's position;
* Vertex AI's streamed arguments (``stream_function_call_arguments``): a
  call with ``will_continue``, then ``partial_args`` (``json_path`` and a
  ``string_value`` / ``number_value`` / ``bool_value`` / ``null_value``;
  string values with ``will_continue`` are continued by the next value for
  the same path), ended by an empty ``function_call {}``. The call starts as
  soon as its name is known; its arguments are rebuilt from the paths and
  sent whole when it ends (at the terminator; failing that, at the next
  call, the finish reason or the end of the stream). Integral numbers are
  sent as integers (JSON does not tell ``3`` from ``3.0``; the SDK makes
  every number a float);
* ``usage_metadata`` on every chunk is a **cumulative** running total: each
  one replaces the previous (summing them counts 10-17 times over); the
  last one is sent once, when the stream ends (or fails), not on every
  chunk. ``output_tokens`` = candidates + thoughts
  tokens (what is billed as output), ``reasoning_tokens`` = thoughts. Vertex
  sends ``usageMetadata`` with no counts at all (just ``trafficType``) on
  its early chunks: those are not a usage;
* ``finishReason`` ``STOP`` is also what Gemini says after tool calls: it
  becomes ``tool_calls`` when calls were seen; ``prompt_feedback.block_reason``
  (a blocked prompt, no candidates) is a ``content_filter`` finish;
* a chunk ``{"error": {"code", "message", "status"}}`` ends the stream with
  an error, and so does the ``errors.APIError`` that the SDK raises while
  iterating (``status`` becomes the error's ``kind``, ``code`` its HTTP
  status);
* only the first candidate is read (``candidate_count`` > 1); parts of other
  kinds (inline data, executable code, ...) are ignored.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from functools import partial
from typing import Any, Final, overload

import orjson

from streamkit.llm._access import field, to_dict
from streamkit.llm._builder import EventBuilder
from streamkit.llm._drive import drive
from streamkit.llm._events import FinishReason, LLMEvent, Usage

__all__ = ["GeminiAdapter", "from_gemini", "gemini_finish", "gemini_usage"]

_FINISH: Final[dict[str, FinishReason]] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
}

_REASONING: Final = "reasoning"
_TEXT: Final = "text"


def _get(item: Any, snake: str, camel: str) -> Any:
    """A field of a dict (wire: camelCase, or a snake_case dump) or an SDK object.

    Cheaper than :func:`~streamkit.llm._access.field` for SDK objects (no
    ``isinstance`` checks when the attribute is there); safe because no
    builtin type has an attribute of these names."""
    if type(item) is dict:
        value = item.get(camel)
        return item.get(snake) if value is None else value
    value = getattr(item, snake, None)
    if value is None and isinstance(item, dict):  # a dict subclass
        value = item.get(camel)
        return item.get(snake) if value is None else value
    return value


def _attr(item: Any, name: str) -> Any:
    """A one-word field (same spelling in both styles), as :func:`_get`."""
    if type(item) is dict:
        return item.get(name)
    value = getattr(item, name, None)
    if value is None and isinstance(item, dict):
        return item.get(name)
    return value


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _name(value: Any) -> str:
    """An enum value of the SDK (``FinishReason.STOP``) or a wire string."""
    if type(value) is str:
        return value
    return str(getattr(value, "value", value))


def gemini_finish(raw: str) -> FinishReason:
    """The unified finish reason for a Gemini ``finishReason``."""
    reason = _FINISH.get(raw)
    if reason is not None:
        return reason
    # IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT, IMAGE_RECITATION, IMAGE_OTHER
    return "content_filter" if raw.startswith("IMAGE_") else "other"


_Counts = tuple[int | None, int | None, int | None, int | None, int | None]
_NO_COUNTS: Final[_Counts] = (None, None, None, None, None)


def _counts(meta: Any) -> _Counts:
    if type(meta) is dict and "promptTokenCount" in meta:  # the wire, the common case
        get = meta.get
        return (
            _int(get("promptTokenCount")),
            _int(get("candidatesTokenCount")),
            _int(get("thoughtsTokenCount")),
            _int(get("totalTokenCount")),
            _int(get("cachedContentTokenCount")),
        )
    return (
        _int(_get(meta, "prompt_token_count", "promptTokenCount")),
        _int(_get(meta, "candidates_token_count", "candidatesTokenCount")),
        _int(_get(meta, "thoughts_token_count", "thoughtsTokenCount")),
        _int(_get(meta, "total_token_count", "totalTokenCount")),
        _int(_get(meta, "cached_content_token_count", "cachedContentTokenCount")),
    )


def _usage(counts: _Counts, raw: Any) -> Usage:
    prompt, candidates, thoughts, total, cached = counts
    output = None
    if candidates is not None or thoughts is not None:
        output = (candidates or 0) + (thoughts or 0)
    return Usage(
        input_tokens=prompt,
        output_tokens=output,
        total_tokens=total,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
        raw=to_dict(raw),
    )


def gemini_usage(meta: Any) -> Usage | None:
    """A Gemini ``usage_metadata`` as a :class:`Usage`, or None when it
    carries no token count at all (Vertex's early ``{"trafficType": ...}``)."""
    counts = _counts(meta)
    if counts == _NO_COUNTS:
        return None
    return _usage(counts, meta)


def _signature(value: Any) -> str | None:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii") if value else None
    return value if isinstance(value, str) and value else None


# -- Vertex AI streamed function-call arguments ----------------------------------------------------

#: One step of a JSONPath as Vertex writes them: ``.name``, ``[3]``,
#: ``['name']`` or ``["name"]``.
_PATH_STEP: Final = re.compile(
    r"\.([^.\[\]]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\[\"((?:[^\"\\]|\\.)*)\"\]"
)

#: Deepest path accepted, and highest list index: the arguments are rebuilt
#: in memory, so a malformed or hostile path must not allocate without bound.
MAX_PATH_DEPTH: Final = 64
MAX_LIST_INDEX: Final = 10_000


def _path(path: str) -> list[str | int] | None:
    """The steps of a JSONPath (``$.a.b[0]``), or None if it is not one."""
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    at = 1
    while at < len(path):
        match = _PATH_STEP.match(path, at)
        if match is None or len(steps) >= MAX_PATH_DEPTH:
            return None
        name, number, single, double = match.groups()
        if number is not None:
            if int(number) > MAX_LIST_INDEX:
                return None
            steps.append(int(number))
        else:
            steps.append(name if name is not None else single if single is not None else double)
        at = match.end()
    return steps


def _put(root: dict[str, Any], steps: list[str | int], value: Any) -> None:
    """Set ``value`` at ``steps`` inside ``root``, making containers on the way."""
    node: Any = root
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        last = following is None
        new: Any = value if last else ([] if isinstance(following, int) else {})
        if isinstance(step, int):
            if not isinstance(node, list):
                return
            if len(node) <= step:
                node.extend([None] * (step + 1 - len(node)))
            if last or not isinstance(node[step], list | dict):
                node[step] = new
            node = node[step]
        else:
            if not isinstance(node, dict):
                return
            if last or not isinstance(node.get(step), list | dict):
                node[step] = new
            node = node[step]


class _Fragments:
    """The pieces of a string value still being streamed."""

    __slots__ = ("parts",)

    def __init__(self, first: str) -> None:
        self.parts = [first]


_NO_VALUE: Final = object()


def _partial_value(piece: Any) -> Any:
    value = _get(piece, "string_value", "stringValue")
    if value is not None:
        return value if isinstance(value, str) else str(value)
    value = _get(piece, "number_value", "numberValue")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    value = _get(piece, "bool_value", "boolValue")
    if isinstance(value, bool):
        return value
    if type(piece) is dict:
        if "nullValue" in piece or "null_value" in piece:
            return None
    elif field(piece, "null_value") is not None:
        return None
    return _NO_VALUE


class _StreamedCall:
    """A Vertex call whose arguments arrive as JSONPath values."""

    __slots__ = ("base", "continuing", "key", "values")

    def __init__(self, key: object, base: Any) -> None:
        self.key = key
        self.base: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
        self.values: dict[str, Any] = {}  # path -> value (or _Fragments), in arrival order
        self.continuing: set[str] = set()

    def add(self, partials: Any) -> None:
        if not isinstance(partials, list | tuple):
            return
        for piece in partials:
            path = _get(piece, "json_path", "jsonPath")
            if not isinstance(path, str):
                continue
            value = _partial_value(piece)
            if value is _NO_VALUE:
                continue
            more = bool(_get(piece, "will_continue", "willContinue"))
            if isinstance(value, str):
                current = self.values.get(path)
                if path in self.continuing and isinstance(current, _Fragments):
                    current.parts.append(value)
                else:
                    self.values[path] = _Fragments(value)
            else:
                self.values[path] = value
            if more and isinstance(value, str):
                self.continuing.add(path)
            else:
                self.continuing.discard(path)

    def arguments(self) -> str:
        args = self.base
        for path, value in self.values.items():
            steps = _path(path)
            if not steps:
                continue
            _put(args, steps, "".join(value.parts) if isinstance(value, _Fragments) else value)
        return orjson.dumps(args).decode()


# -- the adapter -----------------------------------------------------------------------------------


class _GeminiBuilder(EventBuilder):
    """Reads google-genai's ``errors.APIError``: ``code`` is the HTTP status,
    ``status`` the error's kind (``UNAVAILABLE``, ``RESOURCE_EXHAUSTED``)."""

    __slots__ = ()

    def exception(self, exc: BaseException) -> None:
        code = getattr(exc, "code", None)
        status = getattr(exc, "status", None)
        if not (isinstance(code, int) and isinstance(status, str | type(None))):
            super().exception(exc)
            return
        details = getattr(exc, "details", None)
        raw = details.get("error", details) if isinstance(details, dict) else None
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        self.error(
            str(message),
            code=str(code),
            kind=status or type(exc).__name__,
            status=code if code >= 100 else None,
            raw=raw if isinstance(raw, dict) else None,
        )


class GeminiAdapter:
    """Sans-I/O adapter: ``feed(chunk)`` for each ``GenerateContentResponse``,
    ``end()`` at the end of the stream, events from ``builder.drain()``."""

    __slots__ = ("_block", "_blocks", "_calls", "_ids", "_kind", "_pending", "_usage", "builder")

    def __init__(self, provider: str = "gemini") -> None:
        self.builder: EventBuilder = _GeminiBuilder(provider)
        self._kind: str | None = None  # the kind of the open text/reasoning block
        self._block = 0  # its key
        self._blocks = 0
        self._calls = 0
        self._pending: _StreamedCall | None = None
        self._usage: _Counts = _NO_COUNTS  # the counts last sent
        self._ids: set[str] = set()  # call ids given by Gemini so far

    def feed(self, chunk: Any) -> None:
        builder = self.builder
        # Only the wire has error chunks (the SDK raises instead), and reading
        # an attribute a pydantic model lacks costs more than the whole chunk.
        error = chunk.get("error") if isinstance(chunk, dict) else None
        if error:
            self._error(error)
            return
        if not builder.started:
            response_id = _get(chunk, "response_id", "responseId")
            model = _get(chunk, "model_version", "modelVersion")
            builder.start(
                response_id if isinstance(response_id, str) else None,
                model if isinstance(model, str) else None,
            )
        candidates = _attr(chunk, "candidates")
        if candidates and isinstance(candidates, list):
            for candidate in candidates:
                if _attr(candidate, "index") in (0, None):
                    self._candidate(candidate)
                    break
        feedback = _get(chunk, "prompt_feedback", "promptFeedback")
        if feedback is not None:
            blocked = _get(feedback, "block_reason", "blockReason")
            if blocked:
                self._end_block()
                builder.finish("content_filter", _name(blocked))
        meta = _get(chunk, "usage_metadata", "usageMetadata")
        if meta is not None:
            counts = _counts(meta)
            if counts != self._usage and counts != _NO_COUNTS:
                self._usage = counts
                builder.defer_usage(partial(_usage, counts, meta))

    def _candidate(self, candidate: Any) -> None:
        content = _attr(candidate, "content")
        parts = _attr(content, "parts") if content is not None else None
        if parts and isinstance(parts, list):
            for part in parts:
                self._part(part)
        reason = _get(candidate, "finish_reason", "finishReason")
        if reason:
            raw = _name(reason)
            self._end_block()
            if self._pending is not None:
                self._end_call()
            self.builder.finish(gemini_finish(raw), raw, stop_with_calls=True)

    def _part(self, part: Any) -> None:
        builder = self.builder
        text = _attr(part, "text")
        signature = _get(part, "thought_signature", "thoughtSignature")
        if type(text) is not str:
            text = None
        if _attr(part, "thought"):
            if text:
                if self._kind != _REASONING:
                    self._new_block(_REASONING)
                builder.reasoning(self._block, text)
            signature = _signature(signature) if signature else None
            if signature:
                if self._kind != _REASONING:
                    self._new_block(_REASONING)
                builder.reasoning_signature(self._block, signature)
                self._end_block()
            return
        if signature:
            self._signature_block(signature)
        call = _get(part, "function_call", "functionCall")
        if call is not None:
            self._call(call)
        elif text:
            if self._kind != _TEXT:
                self._new_block(_TEXT)
            builder.text(self._block, text)

    # -- text and reasoning blocks

    def _new_block(self, kind: str) -> None:
        self._end_block()
        self._blocks += 1
        self._block = self._blocks
        self._kind = kind

    def _end_block(self) -> None:
        if self._kind is not None:
            self.builder.end(self._block)
            self._kind = None

    def _signature_block(self, value: Any) -> None:
        signature = _signature(value)
        if signature:
            self._new_block(_REASONING)
            self.builder.reasoning_signature(self._block, signature)
            self._end_block()

    # -- function calls

    def _call(self, call: Any) -> None:
        self._end_block()
        name = field(call, "name")
        partials = _get(call, "partial_args", "partialArgs")
        more = _get(call, "will_continue", "willContinue")
        pending = self._pending
        if pending is not None and name:  # a new call: the last one had no terminator
            self._end_call()
            pending = None
        if pending is None:
            args = field(call, "args")
            call_id = field(call, "id")
            call_id = call_id if isinstance(call_id, str) and call_id else None
            if call_id is not None:
                if call_id in self._ids:
                    call_id = None  # ids must stay unique: a repeated one is replaced
                else:
                    self._ids.add(call_id)
            if not more and not partials:
                if name or args:
                    self._calls += 1
                    self.builder.tool_call(
                        ("call", self._calls),
                        name=name if isinstance(name, str) else "",
                        args=args if isinstance(args, dict) else None,
                        call_id=call_id,
                    )
                return  # else a stray terminator
            self._calls += 1
            pending = self._pending = _StreamedCall(("call", self._calls), args)
            self.builder.tool_start(
                pending.key, call_id=call_id, name=name if isinstance(name, str) and name else None
            )
        pending.add(partials)
        if not more:
            self._end_call()

    def _end_call(self) -> None:
        pending = self._pending
        assert pending is not None
        self._pending = None
        self.builder.tool_args(pending.key, pending.arguments())
        self.builder.tool_end(pending.key)

    def _error(self, error: Any) -> None:
        if isinstance(error, str):
            self.builder.error(error, raw={"error": error})
            return
        message = field(error, "message")
        code = field(error, "code")
        status = _int(code)
        kind = field(error, "status")
        self.builder.error(
            str(message) if message else "the upstream reported an error",
            code=None if code is None else str(code),
            kind=None if kind is None else _name(kind),
            status=status if status is not None and status >= 100 else None,
            raw=to_dict(error),
        )

    def end(self) -> None:
        """The stream ended: a streamed call still waiting for its
        terminator gets its arguments now."""
        if self._pending is not None and not self.builder.done:
            self._end_call()


@overload
def from_gemini(
    stream: AsyncIterable[Any], *, provider: str = "gemini"
) -> AsyncGenerator[LLMEvent, None]: ...


@overload
def from_gemini(
    stream: Iterable[Any], *, provider: str = "gemini"
) -> Generator[LLMEvent, None, None]: ...


def from_gemini(
    stream: Iterable[Any] | AsyncIterable[Any], *, provider: str = "gemini"
) -> Generator[LLMEvent, None, None] | AsyncGenerator[LLMEvent, None]:
    """Uniform events from a Google Gemini stream (Gemini API or Vertex AI).

    ``stream`` is what google-genai's ``client.models.generate_content_stream``
    (or ``client.aio.models.generate_content_stream``, awaited) returns, or
    the payloads of ``:streamGenerateContent?alt=sse`` read with
    :func:`~streamkit.llm.sse_json`. Set ``include_thoughts=True`` in the
    thinking config to get reasoning. Returns an async generator for an async
    stream, a generator for a sync one; closing it closes the upstream.

    Example::

        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents=prompt,
        )
        return SSEResponse(to_sse(from_gemini(stream)))
    """
    return drive(GeminiAdapter(provider), stream)
