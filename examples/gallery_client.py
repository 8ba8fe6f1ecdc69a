"""A Python client for every recipe of the demo gallery.

One function per route, each showing the right way to consume its stream
with httpx and :mod:`streamkit.client`; ``a``-prefixed twins do the same
with ``httpx.AsyncClient`` (asyncio or trio; the openai SDK's async client
on asyncio).

Run it against a running gallery (``pip install -e ".[demo,client]" openai``)::

    streamkit-demo                        # or: python -m streamkit.demo --fast
    python examples/gallery_client.py     # every recipe, a summary line each
    python examples/gallery_client.py --recipe ticker --recipe download
    python examples/gallery_client.py --async --base-url http://127.0.0.1:8000
    python examples/gallery_client.py --list

The functions take a client whose ``base_url`` is the gallery's, so they
use paths. Files (the download, the exports) go to ``--output-dir``.

What to take away:

* **Finite streams** (text, JSON Lines, an LLM answer, a progress stream)
  are read on one connection, to their end: ``iter_text``, ``iter_jsonl``
  (with ``trailer=True`` when the server sends streamkit's end trailer,
  so a cut stream raises instead of looking complete), ``iter_sse``. Do
  not reconnect to them: that would start the work over.
* **Live feeds** (the ticker, the log tail, a job's status) are followed
  with ``connect_sse`` / ``aconnect_sse``, which reconnect by themselves
  and send ``Last-Event-ID``; keep ``source.last_event_id`` to resume later.
* **Files** are written to a ``.part`` file and renamed when complete; a
  large download resumes with ``Range`` + ``If-Range``.
"""

from __future__ import annotations

import argparse
import email.message
import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

import anyio
import httpx

from streamkit import ServerSentEvent
from streamkit.client import aconnect_sse, aiter_jsonl, aiter_sse, connect_sse, iter_jsonl, iter_sse

T = TypeVar("T")

DEFAULT_BASE_URL: Final = "http://127.0.0.1:8000"
#: The read timeout is the idle limit of a live feed: keep it above the
#: server's heartbeat interval (the gallery's: 10 s).
TIMEOUT: Final = httpx.Timeout(10.0, read=60.0)
#: The fake model's name (any name is accepted).
MODEL: Final = "streamkit-fake-1"

TextCallback = Callable[[str], object]


# -- text ------------------------------------------------------------------------------------


def read_text(
    client: httpx.Client,
    path: str = "/stream/text/words",
    *,
    mode: str | None = None,
    on_chunk: TextCallback | None = None,
) -> list[str]:
    """``/stream/text/characters`` or ``/stream/text/words`` (``mode``:
    ``"sync"`` or ``"async"``, the server's generator): the text chunk by
    chunk as it arrives. ``iter_text`` decodes UTF-8 incrementally, so a
    character split across two chunks is never garbled."""
    params = {"mode": mode} if mode else None
    chunks: list[str] = []
    with client.stream("GET", path, params=params) as response:
        response.raise_for_status()
        for chunk in response.iter_text():
            chunks.append(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
    return chunks


async def aread_text(
    client: httpx.AsyncClient,
    path: str = "/stream/text/words",
    *,
    mode: str | None = None,
    on_chunk: TextCallback | None = None,
) -> list[str]:
    """The async :func:`read_text`."""
    params = {"mode": mode} if mode else None
    chunks: list[str] = []
    async with client.stream("GET", path, params=params) as response:
        response.raise_for_status()
        async for chunk in response.aiter_text():
            chunks.append(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
    return chunks


# -- JSON objects ----------------------------------------------------------------------------


def read_readings_jsonl(client: httpx.Client, count: int = 20) -> list[dict[str, Any]]:
    """``/stream/json/jsonl``: one object per line. ``trailer=True`` checks
    the ``{"type": "end", "count": N}`` last line (not yielded): a stream
    cut short raises ``TrailerError`` instead of passing for a whole one."""
    with client.stream("GET", "/stream/json/jsonl", params={"count": count}) as response:
        response.raise_for_status()
        return list(iter_jsonl(response, trailer=True))


async def aread_readings_jsonl(client: httpx.AsyncClient, count: int = 20) -> list[dict[str, Any]]:
    """The async :func:`read_readings_jsonl`."""
    async with client.stream("GET", "/stream/json/jsonl", params={"count": count}) as response:
        response.raise_for_status()
        return [reading async for reading in aiter_jsonl(response, trailer=True)]


def _readings_from_sse(events: list[ServerSentEvent]) -> list[dict[str, Any]]:
    readings = [event.json() for event in events if event.event == "reading"]
    done = [event.json() for event in events if event.event == "done"]
    if not done or done[0]["count"] != len(readings):
        raise RuntimeError(f"the stream ended after {len(readings)} readings, without its end")
    return readings


def read_readings_sse(client: httpx.Client, count: int = 20) -> list[dict[str, Any]]:
    """``/stream/json/sse``: ``event: reading`` with JSON data, then
    ``event: done``. A finite stream: one connection read to its end with
    ``iter_sse`` (``connect_sse`` would reconnect after the end)."""
    with client.stream("GET", "/stream/json/sse", params={"count": count}) as response:
        response.raise_for_status()
        return _readings_from_sse(list(iter_sse(response)))


async def aread_readings_sse(client: httpx.AsyncClient, count: int = 20) -> list[dict[str, Any]]:
    """The async :func:`read_readings_sse`."""
    async with client.stream("GET", "/stream/json/sse", params={"count": count}) as response:
        response.raise_for_status()
        return _readings_from_sse([event async for event in aiter_sse(response)])


@dataclass
class LargeData:
    rows: int
    mean_celsius: float


def read_large_data(client: httpx.Client, rows: int = 1_000_000) -> LargeData:
    """``/stream/large-data``: a million rows in constant memory on both
    sides: each row is used and dropped, never collected in a list."""
    count, total = 0, 0.0
    with client.stream("GET", "/stream/large-data", params={"rows": rows}) as response:
        response.raise_for_status()
        for row in iter_jsonl(response, trailer=True):
            count += 1
            total += row["celsius"]
    return LargeData(rows=count, mean_celsius=total / count if count else 0.0)


# -- files -----------------------------------------------------------------------------------


@dataclass
class Download:
    path: Path  #: the file, or its ``.part`` while incomplete
    resumed_from: int  #: the offset this call started at (0: from scratch)
    received: int  #: bytes received by this call
    total: int  #: the file's size
    complete: bool


def download_large_file(
    client: httpx.Client,
    dest: Path,
    *,
    stop_after: int | None = None,
    path: str = "/download/large-file",
) -> Download:
    """``/download/large-file``, resumable: bytes go to ``dest.part``; a later
    call sends ``Range: bytes=<its size>-`` with ``If-Range: <ETag>``, so it
    gets the rest (206) if the file is unchanged, or the whole new file (200)
    if it changed. ``stop_after`` bytes simulates an interrupted transfer."""
    part = dest.with_name(dest.name + ".part")
    etag_file = dest.with_name(dest.name + ".etag")  # the validator of the .part's bytes
    offset = part.stat().st_size if part.exists() and etag_file.exists() else 0
    # identity: a range of a compressed body would be a range of other bytes.
    headers = {"accept-encoding": "identity"}
    if offset:
        headers["range"] = f"bytes={offset}-"
        headers["if-range"] = etag_file.read_text()
    with client.stream("GET", path, headers=headers) as response:
        if response.status_code == 416:  # nothing after offset: the .part is whole already
            total = int(response.headers["content-range"].rpartition("/")[2])
            if offset != total:  # longer than the file: start over
                part.unlink()
                return download_large_file(client, dest, stop_after=stop_after, path=path)
            part.replace(dest)
            etag_file.unlink()
            return Download(dest, offset, 0, total, complete=True)
        response.raise_for_status()
        if response.status_code == 206:
            # "bytes START-END/TOTAL"
            span, _, size = response.headers["content-range"].removeprefix("bytes ").partition("/")
            if int(span.partition("-")[0]) != offset:
                raise RuntimeError(f"asked for bytes from {offset}, got {span}")
            total, mode = int(size), "ab"
        else:  # 200: the whole file (a first request, or the file changed)
            offset, total, mode = 0, int(response.headers["content-length"]), "wb"
            etag_file.write_text(response.headers["etag"])
        received = 0
        with open(part, mode) as out:
            for chunk in response.iter_bytes():
                if stop_after is not None and received + len(chunk) >= stop_after:
                    out.write(chunk[: stop_after - received])
                    received = stop_after
                    return Download(part, offset, received, total, complete=False)
                out.write(chunk)
                received += len(chunk)
    # httpx raises if the body is shorter than its Content-Length: we are whole.
    part.replace(dest)
    etag_file.unlink()
    return Download(dest, offset, received, total, complete=True)


def _attachment_name(response: httpx.Response, default: str) -> str:
    """The ``filename`` of ``Content-Disposition`` (``filename*`` too), without any folders."""
    message = email.message.Message()
    message["content-disposition"] = response.headers.get("content-disposition", "")
    return Path(message.get_filename() or default).name or default


def save_csv_export(client: httpx.Client, directory: Path) -> Path:
    """``/export/users/csv``: saved under the name the server gives
    (``users.csv``), through a ``.part`` file: an aborted transfer raises
    httpx's ``RemoteProtocolError`` and leaves no file that looks whole.
    The bytes go to disk unchanged (with the BOM Excel needs; read it back
    with ``encoding="utf-8-sig"``)."""
    with client.stream("GET", "/export/users/csv") as response:
        response.raise_for_status()
        dest = directory / _attachment_name(response, "export.csv")
        part = dest.with_name(dest.name + ".part")
        with open(part, "wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
    return part.replace(dest)


def save_jsonl_export(client: httpx.Client, directory: Path) -> tuple[Path, int]:
    """``/export/data/jsonl``: saved record by record, renamed only once
    the trailer has confirmed the count. Returns the file and its records."""
    count = 0
    with client.stream("GET", "/export/data/jsonl") as response:
        response.raise_for_status()
        dest = directory / _attachment_name(response, "export.jsonl")
        part = dest.with_name(dest.name + ".part")
        with open(part, "w", encoding="utf-8") as out:
            for record in iter_jsonl(response, trailer=True):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
    return part.replace(dest), count


def query_database(
    client: httpx.Client, *, country: str | None = None, min_spend: float = 0.0
) -> list[dict[str, Any]]:
    """``/stream/database-results``: rows as the server's cursor yields them."""
    params: dict[str, Any] = {"min_spend": min_spend}
    if country is not None:
        params["country"] = country
    with client.stream("GET", "/stream/database-results", params=params) as response:
        response.raise_for_status()
        return list(iter_jsonl(response, trailer=True))


async def aquery_database(
    client: httpx.AsyncClient, *, country: str | None = None, min_spend: float = 0.0
) -> list[dict[str, Any]]:
    """The async :func:`query_database`."""
    params: dict[str, Any] = {"min_spend": min_spend}
    if country is not None:
        params["country"] = country
    async with client.stream("GET", "/stream/database-results", params=params) as response:
        response.raise_for_status()
        return [row async for row in aiter_jsonl(response, trailer=True)]


# -- live feeds ------------------------------------------------------------------------------


@dataclass
class Feed:
    """Events read from a live feed, and where to resume it."""

    events: list[ServerSentEvent]
    #: Send it back (``last_event_id=``) to continue exactly after ``events``.
    last_event_id: str


def _params(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _follow(
    client: httpx.Client, path: str, count: int, last_event_id: str | None, params: dict[str, Any]
) -> Feed:
    events: list[ServerSentEvent] = []
    # connect_sse reconnects by itself when the connection drops, sending
    # Last-Event-ID, as a browser's EventSource does.
    with connect_sse(client, "GET", path, last_event_id=last_event_id, params=params) as source:
        for event in source:
            if event.event == "shutdown":
                continue  # the server restarts: the source reconnects after the retry delay
            events.append(event)  # "reset" included: the events after our id are gone
            if len(events) >= count:
                break
        return Feed(events, source.last_event_id)


async def _afollow(
    client: httpx.AsyncClient,
    path: str,
    count: int,
    last_event_id: str | None,
    params: dict[str, Any],
) -> Feed:
    events: list[ServerSentEvent] = []
    async with aconnect_sse(
        client, "GET", path, last_event_id=last_event_id, params=params
    ) as source:
        async for event in source:
            if event.event == "shutdown":
                continue
            events.append(event)
            if len(events) >= count:
                break
        return Feed(events, source.last_event_id)


def follow_ticker(
    client: httpx.Client, count: int, *, last_event_id: str | None = None, history: int = 0
) -> Feed:
    """``/stream/stock-ticker``: ``count`` events (``event: price``, JSON).
    Pass a previous :attr:`Feed.last_event_id` to carry on where it stopped
    (an id the server no longer holds gets ``event: reset`` first)."""
    params = _params(history=history or None)
    return _follow(client, "/stream/stock-ticker", count, last_event_id, params)


async def afollow_ticker(
    client: httpx.AsyncClient,
    count: int,
    *,
    last_event_id: str | None = None,
    history: int = 0,
) -> Feed:
    """The async :func:`follow_ticker`."""
    params = _params(history=history or None)
    return await _afollow(client, "/stream/stock-ticker", count, last_event_id, params)


def tail_logs(
    client: httpx.Client,
    count: int,
    *,
    last_event_id: str | None = None,
    level: str | None = None,
    backlog: int | None = None,
) -> Feed:
    """``/stream/live-logs``: ``count`` lines (``event: log``; the id is the
    byte offset after the line, so resuming continues at the next line)."""
    params = _params(level=level, backlog=backlog)
    return _follow(client, "/stream/live-logs", count, last_event_id, params)


async def atail_logs(
    client: httpx.AsyncClient,
    count: int,
    *,
    last_event_id: str | None = None,
    level: str | None = None,
    backlog: int | None = None,
) -> Feed:
    """The async :func:`tail_logs`."""
    params = _params(level=level, backlog=backlog)
    return await _afollow(client, "/stream/live-logs", count, last_event_id, params)


# -- AI: the fake LLM ------------------------------------------------------------------------


@dataclass
class Answer:
    text: str
    finish: str | None = None  #: "stop", "length"...
    model: str | None = None
    usage: dict[str, Any] | None = None
    stream_id: str | None = None  #: its id in ``/ai/streams``


def chat_text(
    client: httpx.Client,
    prompt: str,
    *,
    max_tokens: int | None = None,
    on_chunk: TextCallback | None = None,
) -> Answer:
    """``GET /ai/chat-stream``: the answer as plain text, chunk by chunk."""
    params = _params(prompt=prompt, max_tokens=max_tokens)
    parts: list[str] = []
    with client.stream("GET", "/ai/chat-stream", params=params) as response:
        response.raise_for_status()
        for chunk in response.iter_text():
            parts.append(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
        return Answer("".join(parts), stream_id=response.headers.get("x-stream-id"))


async def achat_text(
    client: httpx.AsyncClient,
    prompt: str,
    *,
    max_tokens: int | None = None,
    on_chunk: TextCallback | None = None,
) -> Answer:
    """The async :func:`chat_text`, with ``POST /ai/chat-stream`` (a JSON body)."""
    parts: list[str] = []
    body = _params(prompt=prompt, max_tokens=max_tokens)
    async with client.stream("POST", "/ai/chat-stream", json=body) as response:
        response.raise_for_status()
        async for chunk in response.aiter_text():
            parts.append(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
        return Answer("".join(parts), stream_id=response.headers.get("x-stream-id"))


def chat_text_and_stop(client: httpx.Client, prompt: str, *, chunks: int = 3) -> Answer:
    """Read a few chunks, then hang up (a Stop button): leaving the ``with``
    block closes the connection, and the server stops the model; its record
    in ``/ai/streams`` becomes ``cancelled``."""
    parts: list[str] = []
    with client.stream("GET", "/ai/chat-stream", params={"prompt": prompt}) as response:
        response.raise_for_status()
        for chunk in response.iter_text():
            parts.append(chunk)
            if len(parts) >= chunks:
                break
        return Answer("".join(parts), stream_id=response.headers.get("x-stream-id"))


def stream_status(client: httpx.Client, stream_id: str) -> str:
    """``/ai/streams/{id}``: ``streaming``, ``completed``, ``failed`` or ``cancelled``."""
    response = client.get(f"/ai/streams/{stream_id}")
    response.raise_for_status()
    status: str = response.json()["status"]
    return status


def wait_for_stream_end(client: httpx.Client, stream_id: str, *, timeout: float = 5.0) -> str:
    """Poll :func:`stream_status` until the stream is no longer ``streaming``
    (the server notices a hang-up on its next write) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while (status := stream_status(client, stream_id)) == "streaming":
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return status


def recent_streams(client: httpx.Client) -> list[dict[str, Any]]:
    """``/ai/streams``: the fake model's recent streams, newest first."""
    response = client.get("/ai/streams")
    response.raise_for_status()
    records: list[dict[str, Any]] = response.json()
    return records


class _SSEAnswer:
    """Builds an :class:`Answer` from ``to_sse`` events (``start``,
    ``text-delta``, ``usage``, ``finish`` or ``error``)."""

    def __init__(self, stream_id: str | None) -> None:
        self.answer = Answer("", stream_id=stream_id)
        self.ended = False

    def feed(self, event: ServerSentEvent) -> None:
        data = event.json()
        if event.event == "start":
            self.answer.model = data.get("model")
        elif event.event == "text-delta":
            self.answer.text += data["text"]
        elif event.event == "usage":
            self.answer.usage = data
        elif event.event == "finish":
            self.answer.finish, self.ended = data["reason"], True
        elif event.event == "error":  # in-band, after the 200
            raise RuntimeError(f"the model failed: {data.get('kind')}: {data.get('message')}")

    def result(self) -> Answer:
        if not self.ended:
            raise RuntimeError("the answer was cut short (no finish event)")
        return self.answer


def chat_sse(client: httpx.Client, prompt: str, *, max_tokens: int | None = None) -> Answer:
    """``/ai/chat-stream-sse``: the answer with its metadata. One connection,
    read to the end with ``iter_sse``: reconnecting would ask for a new answer."""
    params = _params(prompt=prompt, max_tokens=max_tokens)
    with client.stream("GET", "/ai/chat-stream-sse", params=params) as response:
        response.raise_for_status()
        answer = _SSEAnswer(response.headers.get("x-stream-id"))
        for event in iter_sse(response):
            answer.feed(event)
        return answer.result()


async def achat_sse(
    client: httpx.AsyncClient, prompt: str, *, max_tokens: int | None = None
) -> Answer:
    """The async :func:`chat_sse`, with ``POST`` (a JSON body)."""
    body = _params(prompt=prompt, max_tokens=max_tokens)
    async with client.stream("POST", "/ai/chat-stream-sse", json=body) as response:
        response.raise_for_status()
        answer = _SSEAnswer(response.headers.get("x-stream-id"))
        async for event in aiter_sse(response):
            answer.feed(event)
        return answer.result()


def chat_openai(base_url: str, prompt: str, *, max_tokens: int | None = None) -> Answer:
    """``POST /v1/chat/completions`` with the official ``openai`` SDK,
    streaming: the gallery speaks the OpenAI API (any key but ``bad-key``)."""
    from openai import OpenAI

    answer = Answer("")
    with (
        OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0) as client,
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        ) as stream,
    ):
        for chunk in stream:
            answer.model = chunk.model
            if chunk.usage is not None:  # the last chunk, without choices
                answer.usage = chunk.usage.model_dump()
            for choice in chunk.choices:
                answer.text += choice.delta.content or ""
                answer.finish = choice.finish_reason or answer.finish
    return answer


async def achat_openai(base_url: str, prompt: str, *, max_tokens: int | None = None) -> Answer:
    """The async :func:`chat_openai` (``AsyncOpenAI``: asyncio only)."""
    from openai import AsyncOpenAI

    answer = Answer("")
    async with AsyncOpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                answer.model = chunk.model
                if chunk.usage is not None:
                    answer.usage = chunk.usage.model_dump()
                for choice in chunk.choices:
                    answer.text += choice.delta.content or ""
                    answer.finish = choice.finish_reason or answer.finish
    return answer


def chat_vercel_ui(client: httpx.Client, prompt: str) -> Answer:
    """``POST /api/chat``: the Vercel AI SDK's UI message stream (what
    ``useChat`` reads): SSE whose data are JSON parts, then ``[DONE]``."""
    messages = [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": prompt}]}]
    answer = Answer("")
    done = False
    with client.stream("POST", "/api/chat", json={"messages": messages}) as response:
        response.raise_for_status()
        answer.stream_id = response.headers.get("x-stream-id")
        for event in iter_sse(response):
            if event.data == "[DONE]":
                done = True
                continue
            part = event.json()
            if part["type"] == "text-delta":
                answer.text += part["delta"]
            elif part["type"] == "finish":
                answer.finish = part.get("finishReason")
            elif part["type"] == "error":
                raise RuntimeError(f"the model failed: {part['errorText']}")
    if not done:
        raise RuntimeError("the answer was cut short (no [DONE])")
    return answer


# -- AI: the provider recipes ----------------------------------------------------------------


def provider_stream(
    client: httpx.Client,
    endpoint: str = "openai/stream",
    prompt: str = "Say hello",
    *,
    max_tokens: int | None = None,
) -> str:
    """``POST /providers/{endpoint}``: ``openai/stream``, ``openai/stream-sync``
    (a sync endpoint), ``anthropic/stream``, ``gemini/stream``: a real SDK
    behind the server, streamed as text. Failures before the first byte are
    real statuses (503: SDK or key missing; 401; 502), raised here as
    ``httpx.HTTPStatusError``."""
    body = _params(prompt=prompt, max_tokens=max_tokens)
    with client.stream("POST", f"/providers/{endpoint}", json=body) as response:
        if response.is_error:
            response.read()  # so that the error's response.text works
        response.raise_for_status()
        return "".join(response.iter_text())


def provider_complete(
    client: httpx.Client, prompt: str = "Say hello", *, max_tokens: int | None = None
) -> dict[str, Any]:
    """``POST /providers/openai/complete``: not streamed, one JSON answer."""
    response = client.post(
        "/providers/openai/complete", json=_params(prompt=prompt, max_tokens=max_tokens)
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


# -- tasks -----------------------------------------------------------------------------------


def _progress_records(events: list[ServerSentEvent]) -> list[dict[str, Any]]:
    records = [event.json() for event in events if event.event == "progress"]
    if not records or not records[-1]["final"]:
        raise RuntimeError("the task's stream ended before its final record")
    return records


def watch_long_task(client: httpx.Client, steps: int = 50) -> list[dict[str, Any]]:
    """``/process/long-task``: the work runs inside the response, so read
    the one connection to its end (``final: true``); a reconnection would
    start the work again, and hanging up stops it."""
    with client.stream("GET", "/process/long-task", params={"steps": steps}) as response:
        response.raise_for_status()
        return _progress_records(list(iter_sse(response)))


async def awatch_long_task(client: httpx.AsyncClient, steps: int = 50) -> list[dict[str, Any]]:
    """The async :func:`watch_long_task`."""
    async with client.stream("GET", "/process/long-task", params={"steps": steps}) as response:
        response.raise_for_status()
        return _progress_records([event async for event in aiter_sse(response)])


@dataclass
class Job:
    location: str  #: ``/jobs/{id}``
    accepted: dict[str, Any]  #: the 202's body
    #: ``(event, data)`` of each update: ``status`` snapshots and ``progress`` records.
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)  #: ``GET /jobs/{id}`` at the end


_FINISHED: Final = ("done", "failed")


def _job_update(job: Job, event: ServerSentEvent) -> bool:
    """Record ``event``; whether the job has finished."""
    data = event.json()
    job.updates.append((event.event or "message", data))
    return event.event == "status" and data["status"] in _FINISHED


def run_job(client: httpx.Client, steps: int = 40) -> Job:
    """``POST /jobs``: ``202 Accepted`` and ``Location: /jobs/{id}`` at once;
    follow ``{location}/events`` with ``connect_sse`` (the job outlives the
    connection, so a dropped one resumes with Last-Event-ID) until its final
    status, then read the result at the location."""
    created = client.post("/jobs", json={"steps": steps})
    created.raise_for_status()
    if created.status_code != 202:
        raise RuntimeError(f"expected 202 Accepted, got {created.status_code}")
    job = Job(created.headers["location"], created.json())
    with connect_sse(client, "GET", f"{job.location}/events") as source:
        for event in source:
            if _job_update(job, event):
                break  # the server ends the stream too; connect_sse would reconnect
    job.final = client.get(job.location).raise_for_status().json()
    return job


async def arun_job(client: httpx.AsyncClient, steps: int = 40) -> Job:
    """The async :func:`run_job`."""
    created = (await client.post("/jobs", json={"steps": steps})).raise_for_status()
    if created.status_code != 202:
        raise RuntimeError(f"expected 202 Accepted, got {created.status_code}")
    job = Job(created.headers["location"], created.json())
    async with aconnect_sse(client, "GET", f"{job.location}/events") as source:
        async for event in source:
            if _job_update(job, event):
                break
    job.final = (await client.get(job.location)).raise_for_status().json()
    return job


# -- buffered vs streamed --------------------------------------------------------------------


@dataclass
class Timing:
    ttfb_ms: float  #: time to the first byte of the body
    total_ms: float
    bytes: int


def time_endpoint(client: httpx.Client, path: str, **params: Any) -> Timing:
    """Fetch ``path`` as a stream, timing the first byte and the end; the
    bytes are counted and dropped (``iter_raw``: as sent, not decoded)."""
    received = 0
    first: float | None = None
    start = time.perf_counter()
    with client.stream("GET", path, params=params) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            if first is None and chunk:
                first = time.perf_counter()
            received += len(chunk)
    end = time.perf_counter()
    return Timing(
        ttfb_ms=round(((first or end) - start) * 1000, 2),
        total_ms=round((end - start) * 1000, 2),
        bytes=received,
    )


def compare_buffered_and_streamed(client: httpx.Client, rows: int = 20_000) -> dict[str, Timing]:
    """``/demo/comparison/buffered`` and ``/streamed``, timed from here."""
    return {
        mode: time_endpoint(client, f"/demo/comparison/{mode}", rows=rows)
        for mode in ("buffered", "streamed")
    }


def comparison_report(client: httpx.Client, rows: int = 20_000) -> dict[str, Any]:
    """``/demo/comparison``: the server measures both itself (time to first
    byte, total time, peak memory) and answers JSON."""
    response = client.get("/demo/comparison", params={"rows": rows})
    response.raise_for_status()
    report: dict[str, Any] = response.json()
    return report


# -- the command line ------------------------------------------------------------------------


@dataclass
class Context:
    client: httpx.Client
    base_url: str
    output_dir: Path
    use_async: bool = False

    def call(
        self,
        sync: Callable[[httpx.Client], T],
        async_: Callable[[httpx.AsyncClient], Awaitable[T]] | None = None,
    ) -> T:
        """``sync(client)``, or with ``--async`` ``async_(async_client)`` when there is one."""
        if not self.use_async or async_ is None:
            return sync(self.client)
        run = async_

        async def main() -> T:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT) as client:
                return await run(client)

        return anyio.run(main)


def _text(ctx: Context) -> str:
    lines = []
    for path in ("/stream/text/characters", "/stream/text/words"):
        for mode in ("async", "sync"):
            chunks = ctx.call(
                partial(read_text, path=path, mode=mode), partial(aread_text, path=path, mode=mode)
            )
            lines.append(
                f"{path}?mode={mode}: {len(''.join(chunks))} chars in {len(chunks)} chunks"
            )
    return "\n".join(lines)


def _jsonl(ctx: Context) -> str:
    readings = ctx.call(read_readings_jsonl, aread_readings_jsonl)
    return f"{len(readings)} readings, trailer checked; last: {readings[-1]}"


def _sse(ctx: Context) -> str:
    readings = ctx.call(read_readings_sse, aread_readings_sse)
    return f"{len(readings)} readings, then the done event"


def _large_data(ctx: Context) -> str:
    result = read_large_data(ctx.client, rows=200_000)
    return f"{result.rows} rows read in constant memory; mean {result.mean_celsius:.3f} °C"


def _download(ctx: Context) -> str:
    dest = ctx.output_dir / "large-file.bin"
    dest.unlink(missing_ok=True)
    first = download_large_file(ctx.client, dest, stop_after=1024 * 1024)
    rest = download_large_file(ctx.client, dest)
    return (
        f"interrupted after {first.received} bytes, resumed from {rest.resumed_from}: "
        f"{rest.total} bytes in {rest.path}"
    )


def _csv(ctx: Context) -> str:
    path = save_csv_export(ctx.client, ctx.output_dir)
    with open(path, encoding="utf-8-sig") as file:
        rows = sum(1 for _ in file) - 1
    return f"{rows} rows saved to {path}"


def _jsonl_export(ctx: Context) -> str:
    path, count = save_jsonl_export(ctx.client, ctx.output_dir)
    return f"{count} records saved to {path}"


def _database(ctx: Context) -> str:
    rows = ctx.call(
        lambda c: query_database(c, country="FR", min_spend=500),
        lambda c: aquery_database(c, country="FR", min_spend=500),
    )
    return f"{len(rows)} users in FR spending 500 or more; first: {rows[0] if rows else None}"


def _ticker(ctx: Context) -> str:
    first = ctx.call(lambda c: follow_ticker(c, 3), lambda c: afollow_ticker(c, 3))
    resumed = ctx.call(
        lambda c: follow_ticker(c, 3, last_event_id=first.last_event_id),
        lambda c: afollow_ticker(c, 3, last_event_id=first.last_event_id),
    )
    ids = [e.id for e in first.events] + ["|"] + [e.id for e in resumed.events]
    return f"ids {' '.join(map(str, ids))}; last prices {resumed.events[-1].data}"


def _logs(ctx: Context) -> str:
    first = ctx.call(lambda c: tail_logs(c, 3), lambda c: atail_logs(c, 3))
    resumed = ctx.call(
        lambda c: tail_logs(c, 2, last_event_id=first.last_event_id),
        lambda c: atail_logs(c, 2, last_event_id=first.last_event_id),
    )
    return "\n".join(
        [f"{e.id:>8} {e.data}" for e in first.events]
        + [f"resumed after {first.last_event_id}:"]
        + [f"{e.id:>8} {e.data}" for e in resumed.events]
    )


def _describe(answer: Answer) -> str:
    text = answer.text if len(answer.text) <= 60 else answer.text[:57] + "..."
    return f"{text!r} ({len(answer.text)} chars, finish={answer.finish}, model={answer.model})"


def _chat_text(ctx: Context) -> str:
    answer = ctx.call(
        lambda c: chat_text(c, "Hello", max_tokens=40),
        lambda c: achat_text(c, "Hello", max_tokens=40),
    )
    stopped = chat_text_and_stop(ctx.client, "Tell me something long")
    status = wait_for_stream_end(ctx.client, stopped.stream_id or "")
    return f"{_describe(answer)}\nstopped after {len(stopped.text)} chars: {status}"


def _chat_sse(ctx: Context) -> str:
    answer = ctx.call(
        lambda c: chat_sse(c, "Hello", max_tokens=40),
        lambda c: achat_sse(c, "Hello", max_tokens=40),
    )
    return f"{_describe(answer)}, usage {answer.usage}"


def _openai(ctx: Context) -> str:
    if ctx.use_async:
        answer = anyio.run(lambda: achat_openai(ctx.base_url, "Hello", max_tokens=40))
    else:
        answer = chat_openai(ctx.base_url, "Hello", max_tokens=40)
    return f"{_describe(answer)}, usage {answer.usage}"


def _vercel(ctx: Context) -> str:
    return _describe(chat_vercel_ui(ctx.client, "Hello"))


def _streams(ctx: Context) -> str:
    records = recent_streams(ctx.client)
    counts: dict[str, int] = {}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    return f"{len(records)} recent streams: {counts}"


def _providers(ctx: Context) -> str:
    lines = []
    for endpoint in ("openai/stream", "openai/stream-sync", "anthropic/stream", "gemini/stream"):
        try:
            text = provider_stream(ctx.client, endpoint, max_tokens=20)
            lines.append(f"{endpoint}: {text[:60]!r}")
        except httpx.HTTPStatusError as exc:
            lines.append(f"{endpoint}: HTTP {exc.response.status_code} {exc.response.text[:80]}")
    result = provider_complete(ctx.client, max_tokens=20)
    lines.append(f"openai/complete: {result['text'][:60]!r} ({result['finish_reason']})")
    return "\n".join(lines)


def _progress(ctx: Context) -> str:
    records = ctx.call(watch_long_task, awatch_long_task)
    last = records[-1]
    return f"{len(records)} progress records; {last['done']}/{last['total']} in {last['elapsed']} s"


def _job(ctx: Context) -> str:
    job = ctx.call(run_job, arun_job)
    progress = sum(1 for event, _ in job.updates if event == "progress")
    return (
        f"202 -> {job.location}; {len(job.updates)} updates ({progress} progress); "
        f"final {job.final['status']}: {job.final['result']}"
    )


def _comparison(ctx: Context) -> str:
    timings = compare_buffered_and_streamed(ctx.client)
    report = comparison_report(ctx.client)
    lines = [f"client side, {mode}: {t}" for mode, t in timings.items()]
    lines += [f"server side, {mode}: {report[mode]}" for mode in ("buffered", "streamed")]
    return "\n".join(lines)


RECIPES: Final[dict[str, Callable[[Context], str]]] = {
    "text": _text,
    "jsonl": _jsonl,
    "sse": _sse,
    "large-data": _large_data,
    "download": _download,
    "csv": _csv,
    "jsonl-export": _jsonl_export,
    "database": _database,
    "ticker": _ticker,
    "logs": _logs,
    "chat-text": _chat_text,
    "chat-sse": _chat_sse,
    "openai": _openai,
    "vercel": _vercel,
    "streams": _streams,
    "providers": _providers,
    "progress": _progress,
    "job": _job,
    "comparison": _comparison,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Consume every recipe of the streamkit gallery.")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help=f"default: {DEFAULT_BASE_URL}")
    parser.add_argument(
        "--recipe",
        action="append",
        choices=sorted(RECIPES),
        metavar="NAME",
        help="run only this recipe (repeatable; default: all); see --list",
    )
    parser.add_argument("--list", action="store_true", help="list the recipes and exit")
    parser.add_argument(
        "--async", dest="use_async", action="store_true", help="use the async variants"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "streamkit-gallery-client",
        help="where downloads and exports go",
    )
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(RECIPES))
        return 0
    args.output_dir.mkdir(parents=True, exist_ok=True)
    base_url = args.base_url.rstrip("/")
    failed = 0
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        ctx = Context(client, base_url, args.output_dir, args.use_async)
        for name in args.recipe or RECIPES:
            try:
                summary = RECIPES[name](ctx)
            except (httpx.HTTPError, RuntimeError, ValueError) as exc:
                failed += 1
                summary = f"FAILED: {exc!r}"
            print(f"== {name}\n{summary}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
