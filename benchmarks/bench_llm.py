"""LLM benchmarks: per-token cost of adapter + output, and added time to first token.

a. **Per-token overhead, in process.** A 10,000-token stream per provider, as
   the provider's wire payloads (dicts) and, where an SDK is installed, as
   the SDK's own objects, is read by the adapter and re-encoded by each
   output protocol, to the bytes a response would send (``to_sse`` and
   ``to_jsonl`` items are encoded too). The figure is the median wall time
   of 5 runs divided by the token count; "iterate only" is the cost of
   looping over the items with no work, for reference. Target: < 5 µs per
   token for adapter + output.

b. **Added time to first token of a proxy.** A fake OpenAI-compatible
   upstream (uvicorn subprocess) streams tokens; a client measures the time
   from sending the request to receiving the first token's bytes, directly
   from the upstream and through a streamkit proxy (another uvicorn
   subprocess: a shared httpx client, ``sse_json`` → ``from_openai_chat`` →
   ``OpenAIChatResponse``). Requests alternate between the two; the figure
   is the difference of the medians. Target: < 1 ms.

Run: ``python benchmarks/bench_llm.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import harness
import httpx
import orjson

from streamkit import encode_sse
from streamkit.llm import (
    LLMEvent,
    from_anthropic,
    from_gemini,
    from_langchain,
    from_ollama,
    from_openai_chat,
    from_openai_responses,
    to_jsonl,
    to_openai_chat_sse,
    to_sse,
    to_text,
    to_vercel_ui,
)

PER_TOKEN_TARGET_US: Final = 5.0
TTFT_TARGET_MS: Final = 1.0
TOKEN: Final = "tok"


@dataclass(frozen=True)
class Sizes:
    tokens: int
    runs: int
    requests: int  # per line, for the TTFT figure


SIZES: Final = {
    "full": Sizes(tokens=10_000, runs=5, requests=300),
    "quick": Sizes(tokens=300, runs=1, requests=10),
}

# ----------------------------------------------------------- provider streams


def openai_chat_items(n: int) -> list[Any]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    items: list[Any] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    ]
    for _ in range(n):
        choice = {"index": 0, "delta": {"content": TOKEN}, "finish_reason": None}
        items.append({**base, "choices": [choice]})
    items.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": n + 10}
    items.append({**base, "choices": [], "usage": usage})
    return items


def openai_responses_items(n: int) -> list[Any]:
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
    items: list[Any] = [
        {"type": "response.created", "sequence_number": 0, "response": {"id": "r", "model": "m"}},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
    ]
    items.extend(
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": TOKEN,
            "sequence_number": i + 2,
        }
        for i in range(n)
    )
    usage = {"input_tokens": 10, "output_tokens": n, "total_tokens": n + 10}
    response = {"id": "r", "model": "m", "status": "completed", "usage": usage}
    items.append({"type": "response.completed", "sequence_number": n + 2, "response": response})
    return items


def anthropic_items(n: int) -> list[Any]:
    message: dict[str, Any] = {
        "id": "msg",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }
    items: list[Any] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": TOKEN},
    }
    items.extend(dict(delta) for _ in range(n))
    items += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": n},
        },
        {"type": "message_stop"},
    ]
    return items


def gemini_items(n: int) -> list[Any]:
    items: list[Any] = []
    for i in range(n):
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": TOKEN}], "role": "model"},
            "index": 0,
        }
        if i == n - 1:
            candidate["finishReason"] = "STOP"
        usage = {"promptTokenCount": 10, "candidatesTokenCount": i + 1, "totalTokenCount": i + 11}
        items.append({"candidates": [candidate], "usageMetadata": usage, "modelVersion": "m"})
    return items


def ollama_items(n: int) -> list[Any]:
    items: list[Any] = [
        {
            "model": "m",
            "created_at": "2026-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": TOKEN},
            "done": False,
        }
        for _ in range(n)
    ]
    items.append(
        {
            "model": "m",
            "created_at": "2026-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 10,
            "eval_count": n,
        }
    )
    return items


def langchain_items(n: int) -> list[Any]:
    from langchain_core.messages import AIMessageChunk

    items: list[Any] = [AIMessageChunk(content=TOKEN, id="run-1") for _ in range(n)]
    items.append(
        AIMessageChunk(
            content="",
            id="run-1",
            response_metadata={"finish_reason": "stop"},
            usage_metadata={"input_tokens": 10, "output_tokens": n, "total_tokens": n + 10},
            chunk_position="last",
        )
    )
    return items


def sdk_openai_chat(items: list[Any]) -> list[Any]:
    from openai.types.chat import ChatCompletionChunk

    return [ChatCompletionChunk.model_validate(item) for item in items]


def sdk_anthropic(items: list[Any]) -> list[Any]:
    from anthropic.types import RawMessageStreamEvent
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
    return [adapter.validate_python(item) for item in items]


def sdk_gemini(items: list[Any]) -> list[Any]:
    from google.genai import types

    return [types.GenerateContentResponse.model_validate(item) for item in items]


@dataclass(frozen=True)
class Source:
    name: str
    adapter: Callable[[Iterable[Any]], Iterator[LLMEvent]]
    build: Callable[[int], list[Any]]
    convert: Callable[[list[Any]], list[Any]] | None = None


SOURCES: Final = [
    Source("openai chat, dicts", from_openai_chat, openai_chat_items),
    Source("openai chat, SDK objects", from_openai_chat, openai_chat_items, sdk_openai_chat),
    Source("openai responses, dicts", from_openai_responses, openai_responses_items),
    Source("anthropic, dicts", from_anthropic, anthropic_items),
    Source("anthropic, SDK objects", from_anthropic, anthropic_items, sdk_anthropic),
    Source("gemini, dicts", from_gemini, gemini_items),
    Source("gemini, SDK objects", from_gemini, gemini_items, sdk_gemini),
    Source("langchain, AIMessageChunk", from_langchain, langchain_items),
    Source("ollama, dicts", from_ollama, ollama_items),
]


# ------------------------------------------------------------------ outputs


def _sink_iterate(items: list[Any], adapter: Any) -> int:
    n = 0
    for _ in items:
        n += 1
    return n


def _sink_events(items: list[Any], adapter: Any) -> int:
    n = 0
    for _ in adapter(items):
        n += 1
    return n


def _sink_text(items: list[Any], adapter: Any) -> int:
    return sum(len(piece) for piece in to_text(adapter(items)))


def _sink_sse(items: list[Any], adapter: Any) -> int:
    return sum(len(encode_sse(event)) for event in to_sse(adapter(items)))


def _sink_jsonl(items: list[Any], adapter: Any) -> int:
    return sum(len(orjson.dumps(record)) + 1 for record in to_jsonl(adapter(items)))


def _sink_openai(items: list[Any], adapter: Any) -> int:
    return sum(len(frame) for frame in to_openai_chat_sse(adapter(items), model="m"))


def _sink_vercel(items: list[Any], adapter: Any) -> int:
    return sum(len(frame) for frame in to_vercel_ui(adapter(items)))


OUTPUTS: Final[Sequence[tuple[str, Callable[[list[Any], Any], int]]]] = [
    ("iterate only", _sink_iterate),
    ("adapter only", _sink_events),
    ("to_text", _sink_text),
    ("to_sse (encoded)", _sink_sse),
    ("to_jsonl (encoded)", _sink_jsonl),
    ("to_openai_chat_sse", _sink_openai),
    ("to_vercel_ui", _sink_vercel),
]


def per_token_us(items: list[Any], adapter: Any, sink: Any, tokens: int, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sink(items, adapter)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / tokens * 1e6


def run_per_token(sizes: Sizes) -> tuple[list[str], float]:
    lines = []
    worst = 0.0
    header = f"{'stream':<28}" + "".join(f"{name:>20}" for name, _ in OUTPUTS)
    lines.append(header)
    lines.append("-" * len(header))
    for source in SOURCES:
        try:
            items = source.build(sizes.tokens)
            if source.convert is not None:
                items = source.convert(items)
        except ImportError as exc:
            lines.append(f"{source.name:<28} skipped: {exc}")
            continue
        # One untimed pass: imports, caches, and a check that it works.
        for _, sink in OUTPUTS:
            sink(items, source.adapter)
        row = f"{source.name:<28}"
        for name, sink in OUTPUTS:
            us = per_token_us(items, source.adapter, sink, sizes.tokens, sizes.runs)
            row += f"{us:>20.2f}"
            if name not in ("iterate only", "adapter only"):
                worst = max(worst, us)
        lines.append(row)
    return lines, worst


# ---------------------------------------------------------- TTFT (servers)


def upstream_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def completions(request: Request) -> StreamingResponse:
        await request.body()

        async def frames() -> AsyncIterator[bytes]:
            base = b'{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
            for _ in range(5):
                yield b"data: " + base + b'[{"index":0,"delta":{"content":"tok"}}]}\n\n'
            yield b"data: " + base + b'[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
            yield b"data: [DONE]\n\n"

        return StreamingResponse(frames(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def proxy_app(upstream: str, *, passthrough: bool = False) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    from streamkit.llm import sse_json
    from streamkit.starlette import OpenAIChatResponse

    state: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(base_url=upstream, timeout=30) as client:
            state["client"] = client
            yield

    async def completions(request: Request) -> Response:
        body = await request.body()

        async def upstream_bytes() -> AsyncIterator[bytes]:
            async with state["client"].stream(
                "POST",
                "/v1/chat/completions",
                content=body,
                headers={"content-type": "application/json"},
            ) as response:
                async for chunk in response.aiter_bytes():
                    yield chunk

        if passthrough:  # the same hop with no streamkit: bytes relayed as they come
            return StreamingResponse(upstream_bytes(), media_type="text/event-stream")
        return OpenAIChatResponse(from_openai_chat(sse_json(upstream_bytes())), model="m")

    return Starlette(
        routes=[Route("/v1/chat/completions", completions, methods=["POST"])], lifespan=lifespan
    )


def serve(arg: str) -> None:
    if arg == "upstream":
        harness.serve_app(upstream_app())
    elif arg.startswith("passthrough="):
        harness.serve_app(proxy_app(arg.partition("=")[2], passthrough=True), lifespan="on")
    else:
        harness.serve_app(proxy_app(arg), lifespan="on")


def first_token_seconds(client: httpx.Client) -> float:
    body = b'{"model":"m","messages":[],"stream":true}'
    start = time.perf_counter()
    with client.stream("POST", "/v1/chat/completions", content=body) as response:
        response.raise_for_status()
        seen = b""
        chunks = response.iter_raw()
        for chunk in chunks:
            seen += chunk
            if b"tok" in seen:
                elapsed = time.perf_counter() - start
                for _ in chunks:  # read to the end: the connection is reused
                    pass
                return elapsed
    raise RuntimeError("no token in the response")


def run_ttft(sizes: Sizes) -> tuple[list[str], float, float]:
    script = __file__
    with (
        harness.ServerProcess(script, "upstream", name="upstream") as upstream,
        harness.ServerProcess(script, upstream.base_url, name="proxy") as proxy,
        harness.ServerProcess(script, f"passthrough={upstream.base_url}", name="raw") as raw,
        httpx.Client(base_url=upstream.base_url, timeout=30) as direct_client,
        httpx.Client(base_url=proxy.base_url, timeout=30) as proxy_client,
        httpx.Client(base_url=raw.base_url, timeout=30) as raw_client,
    ):
        clients = {"direct": direct_client, "raw": raw_client, "streamkit": proxy_client}
        for _ in range(5):  # warm up connections and first-request imports
            for client in clients.values():
                first_token_seconds(client)
        times: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(sizes.requests):
            for name, client in clients.items():
                times[name].append(first_token_seconds(client))
    medians = {name: statistics.median(values) * 1e3 for name, values in times.items()}
    labels = {
        "direct": "upstream directly",
        "raw": "raw Starlette proxy (bytes relayed)",
        "streamkit": "streamkit proxy (normalised, re-encoded)",
    }
    lines = [f"{'line':<44}{'median ms':>12}{'p90 ms':>10}", "-" * 66]
    for name, label in labels.items():
        lines.append(f"{label:<44}{medians[name]:>12.3f}{_p90(times[name]) * 1e3:>10.3f}")
    hop = medians["raw"] - medians["direct"]
    own = medians["streamkit"] - medians["raw"]
    lines.append(
        f"\nadded by the proxy hop (raw proxy - direct): {hop:.3f} ms; "
        f"added by streamkit on top (streamkit - raw): {own:.3f} ms"
    )
    return lines, medians["streamkit"] - medians["direct"], medians["streamkit"] - medians["raw"]


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    sizes = SIZES["quick" if args.quick else "full"]
    harness.print_environment(["streamkit", "uvicorn", "starlette", "httpx", "orjson"])
    print(
        f"\na. Per-token cost, µs per token, {sizes.tokens:,} tokens, median of {sizes.runs} "
        "(adapter + output, encoded to bytes)"
    )
    lines, worst = run_per_token(sizes)
    print("\n".join(lines))
    print(f"\nb. Time to first token, {sizes.requests} requests per line, alternating")
    ttft_lines, added, own = run_ttft(sizes)
    print("\n".join(ttft_lines))
    print("\nTargets")
    if args.quick:
        print("(quick run: sizes too small for the figures to mean anything)")
    verdict = "met" if worst < PER_TOKEN_TARGET_US else "MISSED"
    print(
        f"per token: slowest adapter + output {worst:.2f} µs, "
        f"target < {PER_TOKEN_TARGET_US:g}: {verdict}"
    )
    verdict = "met" if added < TTFT_TARGET_MS else "MISSED"
    print(
        f"added time to first token, streamkit proxy vs upstream directly: {added:.3f} ms, "
        f"target < {TTFT_TARGET_MS:g}: {verdict}"
    )
    print(f"(of which the proxy hop itself, raw proxy vs directly: {added - own:.3f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
