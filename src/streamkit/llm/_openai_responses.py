"""OpenAI Responses API streams (``client.responses.create(..., stream=True)``).

Items are the stream's events: the openai SDK's ``ResponseStreamEvent``
objects or the dicts of the wire (``sse_json``), each with a ``type``. What
the adapter copes with, beyond the plain shape:

* text, refusal and reasoning arrive per output item and content part: a
  block is one ``(item_id, content_index)`` part (one ``summary_index`` for
  reasoning summaries, which stream as ``kind="summary"`` blocks);
* a function call is announced by ``response.output_item.added`` with the
  ``call_id`` the client must echo back, but its argument deltas name the
  *item* id (``fc_...``): calls are tracked by item id and reported by
  ``call_id``;
* some models send no argument deltas, only
  ``response.function_call_arguments.done`` with the whole text (BerriAI/
  litellm #27144), or only the finished item in ``response.output_item.done``;
* ``response.completed`` ends with "stop", or "tool_calls" when calls were
  seen; ``response.incomplete`` says why (``max_output_tokens`` → length,
  ``content_filter``); ``response.failed`` and ``error`` events end the
  stream with an error. The ``error`` event comes flat, as the SDK declares
  it (``{"type": "error", "code", "message", "param"}``), or nested, as
  recorded (``{"type": "error", "error": {"type", "code", "message"}}``);
* usage comes only on the terminal response (``input_tokens`` includes the
  cached ones, as in Chat Completions);
* the encrypted reasoning of a reasoning item (``include=
  ["reasoning.encrypted_content"]``) is sent as the ``redacted`` content of
  a reasoning block, to send back in the next request;
* the many other event types (hosted tools' progress, audio, annotations,
  ...) are ignored.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import Any, Final, overload

from streamkit.llm._access import field, to_dict
from streamkit.llm._builder import EventBuilder
from streamkit.llm._drive import drive
from streamkit.llm._events import FinishReason, LLMEvent, Usage

__all__ = ["OpenAIResponsesAdapter", "from_openai_responses", "responses_usage"]

_INCOMPLETE: Final[dict[str, FinishReason]] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}

# Builder keys: text and refusal parts are (item_id, content_index); the
# other kinds carry a tag so that they never collide with them. Tool calls
# are keyed by their item id, a plain string.
_SUMMARY: Final = "summary"
_REASONING: Final = "reasoning"
_ENCRYPTED: Final = "encrypted"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def responses_usage(usage: Any) -> Usage:
    """A Responses ``usage`` object as a :class:`Usage`."""
    input_details = field(usage, "input_tokens_details")
    output_details = field(usage, "output_tokens_details")
    return Usage(
        input_tokens=_int(field(usage, "input_tokens")),
        output_tokens=_int(field(usage, "output_tokens")),
        total_tokens=_int(field(usage, "total_tokens")),
        cache_read_tokens=_int(field(input_details, "cached_tokens")),
        cache_write_tokens=_int(field(input_details, "cache_write_tokens")),
        reasoning_tokens=_int(field(output_details, "reasoning_tokens")),
        raw=to_dict(usage),
    )


class OpenAIResponsesAdapter:
    """Sans-I/O adapter: ``feed(event)`` for each stream event, ``end()`` at
    the end of the stream, events from ``builder.drain()``."""

    __slots__ = ("_calls", "builder")

    def __init__(self, provider: str = "openai") -> None:
        self.builder = EventBuilder(provider)
        # item id of a function call -> whether it is still open. A call's
        # deltas, its ``.done`` and its ``output_item.done`` all name it; the
        # first end wins and later events of the same item are ignored.
        self._calls: dict[str, bool] = {}

    def feed(self, event: Any) -> None:
        kind = field(event, "type")
        builder = self.builder
        # The per-token events first: they are nearly all of a stream.
        if kind == "response.output_text.delta":
            delta = field(event, "delta")
            if isinstance(delta, str):
                builder.text((field(event, "item_id"), field(event, "content_index")), delta)
        elif kind == "response.function_call_arguments.delta":
            self._arguments(event)
        elif kind == "response.reasoning_summary_text.delta":
            delta = field(event, "delta")
            if isinstance(delta, str):
                key = (_SUMMARY, field(event, "item_id"), field(event, "summary_index"))
                builder.reasoning(key, delta, kind="summary")
        elif kind == "response.reasoning_text.delta":
            delta = field(event, "delta")
            if isinstance(delta, str):
                raw_key = (_REASONING, field(event, "item_id"), field(event, "content_index"))
                builder.reasoning(raw_key, delta)
        elif kind == "response.refusal.delta":
            delta = field(event, "delta")
            if isinstance(delta, str):
                builder.text(
                    (field(event, "item_id"), field(event, "content_index")), delta, kind="refusal"
                )
        elif kind in (
            "response.output_text.done",
            "response.refusal.done",
            "response.content_part.done",
        ):
            builder.end((field(event, "item_id"), field(event, "content_index")))
        elif kind in (
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
        ):
            builder.end((_SUMMARY, field(event, "item_id"), field(event, "summary_index")))
        elif kind == "response.reasoning_text.done":
            builder.end((_REASONING, field(event, "item_id"), field(event, "content_index")))
        elif kind == "response.function_call_arguments.done":
            self._arguments_done(event)
        elif kind == "response.output_item.added":
            self._item_added(field(event, "item"))
        elif kind == "response.output_item.done":
            self._item_done(field(event, "item"))
        elif kind in ("response.created", "response.in_progress", "response.queued"):
            if not builder.started:
                response = field(event, "response")
                builder.start(_str(field(response, "id")), _str(field(response, "model")))
        elif kind == "response.completed":
            response = self._terminal(event)
            builder.finish(
                "stop", _str(field(response, "status")) or "completed", stop_with_calls=True
            )
        elif kind == "response.incomplete":
            response = self._terminal(event)
            reason = _str(field(field(response, "incomplete_details"), "reason"))
            builder.finish(_INCOMPLETE.get(reason or "", "other"), reason or "incomplete")
        elif kind == "response.failed":
            response = self._terminal(event)
            self._error(field(response, "error"), "the response failed")
        elif kind == "error":
            error = field(event, "error")
            if isinstance(error, str):
                builder.error(error or "the stream reported an error", raw=to_dict(event))
            else:  # nested, as recorded, or flat, as the SDK's ResponseErrorEvent
                self._error(event if error is None else error, "the stream reported an error")

    # -- function calls -------------------------------------------------------------------

    def _arguments(self, event: Any) -> None:
        item_id = field(event, "item_id")
        delta = field(event, "delta")
        state = self._calls.get(item_id)
        if state is None:  # deltas of a call that was not announced
            self._calls[item_id] = True
        elif not state:  # the call has ended
            return
        if isinstance(delta, str):
            self.builder.tool_args(item_id, delta)

    def _arguments_done(self, event: Any) -> None:
        item_id = field(event, "item_id")
        if self._calls.get(item_id) is False:
            return
        builder = self.builder
        name = _str(field(event, "name"))  # on the wire, not in the SDK's type
        if name:
            builder.tool_start(item_id, name=name)
        if not builder.is_open(item_id):
            return  # nothing is known of this call: its output_item.done will say
        self._calls[item_id] = False
        builder.tool_end(item_id, full_args=_str(field(event, "arguments")))

    def _item_added(self, item: Any) -> None:
        if field(item, "type") != "function_call":
            return
        item_id = field(item, "id")
        if item_id is None or item_id in self._calls:
            return
        self._calls[item_id] = True
        self.builder.tool_start(
            item_id, call_id=_str(field(item, "call_id")), name=_str(field(item, "name"))
        )

    def _item_done(self, item: Any) -> None:
        """An output item is finished: close what of it is still open."""
        builder = self.builder
        item_type = field(item, "type")
        item_id = field(item, "id")
        if item_type == "function_call":
            if self._calls.get(item_id) is False:
                return
            self._calls[item_id] = False
            # A call seen only now (or whose id or name is learnt only now).
            builder.tool_start(
                item_id, call_id=_str(field(item, "call_id")), name=_str(field(item, "name"))
            )
            builder.tool_end(item_id, full_args=_str(field(item, "arguments")))
        elif item_type == "message":
            for index in range(len(field(item, "content") or ())):
                builder.end((item_id, index))
        elif item_type == "reasoning":
            summary = field(item, "summary") or ()
            for index in range(len(summary)):
                builder.end((_SUMMARY, item_id, index))
            for index in range(len(field(item, "content") or ())):
                builder.end((_REASONING, item_id, index))
            encrypted = _str(field(item, "encrypted_content"))
            if encrypted:
                key = (_ENCRYPTED, item_id)
                builder.reasoning_signature(key, redacted=encrypted)
                builder.end(key)

    # -- terminal events ------------------------------------------------------------------------

    def _terminal(self, event: Any) -> Any:
        """The response of a terminal event, after its usage is sent."""
        builder = self.builder
        response = field(event, "response")
        if not builder.started:
            builder.start(_str(field(response, "id")), _str(field(response, "model")))
        usage = field(response, "usage")
        if usage:
            builder.usage(responses_usage(usage))
        return response

    def _error(self, error: Any, fallback: str) -> None:
        message = field(error, "message")
        code = field(error, "code")
        code = None if code is None else str(code)
        # The nested shape has the error's type; the flat one only its code
        # (``server_error``, ``rate_limit_exceeded``), which says as much.
        kind = field(error, "type")
        kind = str(kind) if kind and kind != "error" else code
        self.builder.error(
            str(message) if message else fallback,
            code=code,
            kind=kind,
            raw=to_dict(error),
        )

    def end(self) -> None:
        """The stream ended (the body is over; the Responses API sends no ``[DONE]``)."""


@overload
def from_openai_responses(
    stream: AsyncIterable[Any], *, provider: str = "openai"
) -> AsyncGenerator[LLMEvent, None]: ...


@overload
def from_openai_responses(
    stream: Iterable[Any], *, provider: str = "openai"
) -> Generator[LLMEvent, None, None]: ...


def from_openai_responses(
    stream: Iterable[Any] | AsyncIterable[Any], *, provider: str = "openai"
) -> Generator[LLMEvent, None, None] | AsyncGenerator[LLMEvent, None]:
    """Uniform events from an OpenAI Responses API stream.

    ``stream`` is what ``client.responses.create(..., stream=True)`` returns
    (sync or async), or the payloads of the HTTP body read with
    :func:`~streamkit.llm.sse_json`. Tool calls are reported with their
    ``call_id`` (the id to send back with the result); usage comes with the
    terminal ``response.completed`` / ``response.incomplete`` event. Returns
    an async generator for an async stream, a generator for a sync one;
    closing it closes the upstream.

    Example::

        stream = await client.responses.create(
            model="gpt-5", input=messages, tools=tools, stream=True,
        )
        return SSEResponse(to_sse(from_openai_responses(stream)))
    """
    return drive(OpenAIResponsesAdapter(provider), stream)
