"""SSE codec benchmarks: streamkit against sse-starlette, FastAPI and httpx-sse.

Run from the project root after ``pip install -e ".[bench]"``::

    python benchmarks/bench_sse.py           # full run (about a minute)
    python benchmarks/bench_sse.py --quick   # tiny sizes, a smoke check only

Everything runs in one process on the same prepared data. Each measurement is
one pass over a whole workload; the implementations of a workload are run in
turn, repeat after repeat (so drift in machine speed hits them alike), and the
best pass is reported. The cyclic garbage collector is paused during a pass,
as :mod:`timeit` does.

Encoding: each peer builds its own event object per event, so the main
streamkit figure includes building (and validating) a
:class:`streamkit.ServerSentEvent` as well as :func:`streamkit.encode_sse`;
"encode only" (events built beforehand) is an extra line. sse-starlette is
given ``sep="\\n"``, streamkit's separator (its default is CRLF). Before
timing, every implementation's output is decoded and checked to carry the same
events.

Decoding: :meth:`streamkit.SSEDecoder.feed` against what httpx-sse 0.4.3's
``EventSource.iter_sse()`` does per received chunk (an incremental UTF-8
decoder, ``SSELineDecoder``, then ``SSEDecoder`` per line), replicated without
the generator and HTTP layers around it. Both decoders must return the same
events, which is asserted.
"""

from __future__ import annotations

import argparse
import codecs
import gc
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from typing import Any

import orjson
from fastapi.encoders import jsonable_encoder
from fastapi.sse import ServerSentEvent as FastAPIEvent
from fastapi.sse import format_sse_event
from httpx_sse._decoders import SSEDecoder as HttpxSSEDecoder
from httpx_sse._decoders import SSELineDecoder as HttpxSSELineDecoder
from sse_starlette import JSONServerSentEvent
from sse_starlette import ServerSentEvent as StarletteEvent

from streamkit import ServerSentEvent, SSEDecoder, encode_sse, format_sse, json_event

#: Targets from the issue, as streamkit's speed over the peer's.
ENCODE_TARGETS: dict[str, float] = {"sse-starlette": 2.0, "fastapi": 1.0}
#: The streamkit line each peer is compared with (default: "streamkit").
COUNTERPART: dict[str, str] = {"fastapi": "streamkit format_sse"}
DECODE_TARGET = 2.0

#: (label, events per encoding run, events per decoding run, repeats)
SIZES: dict[str, tuple[int, int, int]] = {
    "full": (20_000, 50_000, 7),
    "quick": (200, 200, 2),
}

#: One decoded event, normalised across decoders: (event type, data, last event id).
Decoded = tuple[str, str, str]


# --------------------------------------------------------------------------- timing


def time_once(run: Callable[[], object]) -> float:
    """Seconds for one call of ``run``, with the cyclic GC paused (as timeit does)."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    finally:
        if was_enabled:
            gc.enable()


def best_times(cases: Sequence[tuple[str, Callable[[], object]]], repeats: int) -> dict[str, float]:
    """Best time of each case over ``repeats`` interleaved rounds."""
    best = {label: float("inf") for label, _ in cases}
    for _ in range(repeats):
        for label, run in cases:
            best[label] = min(best[label], time_once(run))
    return best


# ------------------------------------------------------------------------ workloads


def small_items(n: int) -> list[tuple[str, str]]:
    """(data, id): one line of about 60 bytes of text, and a numeric id."""
    return [
        (f"user {i % 997:03d} updated item {i:07d}: status=ok, latency_ms={i % 250:03d}", str(i))
        for i in range(n)
    ]


def multiline_items(n: int) -> list[str]:
    """Data of 5 lines (about 100 bytes), no other field."""
    return [
        "\n".join(f"line {j} of record {i:07d}: value={i * j % 9973}" for j in range(5))
        for i in range(n)
    ]


def json_items(n: int) -> list[dict[str, Any]]:
    """A dict of 6 fields, one of them a nested list, about 150 bytes as JSON."""
    return [
        {
            "id": i,
            "user": f"user-{i % 997:03d}",
            "score": (i % 400) * 0.25,
            "active": i % 3 == 0,
            "tags": ["alpha", "beta", f"t{i % 50}"],
            "position": {"x": i % 640, "y": i % 480},
        }
        for i in range(n)
    ]


TOKENS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", " café"]


def llm_delta(i: int) -> bytes:
    """JSON data of about 100 bytes, like one chat-completion token delta."""
    return orjson.dumps(
        {
            "id": "chatcmpl-7QyqpwdfhqwajicIEznoc6Q47XAyW",
            "choices": [{"index": 0, "delta": {"content": TOKENS[i % len(TOKENS)]}}],
        }
    )


def decode_streams(n: int) -> dict[str, bytes]:
    """The three byte streams the decoders read (written without streamkit's encoder)."""
    small = b"".join(f"data: {data}\n\n".encode() for data, _ in small_items(n))  # data-only blocks
    multi = b"".join(
        b"".join(b"data: " + line.encode() + b"\n" for line in data.split("\n")) + b"\n"
        for data in multiline_items(n)
    )
    llm = b"".join(b"id: %d\ndata: %s\n\n" % (i, llm_delta(i)) for i in range(n))
    return {"small": small, "multi-line": multi, "llm-deltas": llm}


def split_chunks(stream: bytes, mode: str) -> list[bytes]:
    """The stream as received: fixed-size chunks, or one chunk per event."""
    if mode == "per-event":
        parts = stream.split(b"\n\n")
        assert parts[-1] == b""
        return [part + b"\n\n" for part in parts[:-1]]
    size = {"4 KiB": 4096, "64 KiB": 65536}[mode]
    return [stream[i : i + size] for i in range(0, len(stream), size)]


# ------------------------------------------------------------------------- encoding


def fastapi_route_format(event: FastAPIEvent) -> bytes:
    """What a FastAPI route does with a yielded ``fastapi.sse.ServerSentEvent``
    (``_serialize_sse_item`` in fastapi/routing.py, without its non-finite float
    normalisation, which would only add cost)."""
    if event.raw_data is not None:
        data_str: str | None = event.raw_data
    elif event.data is not None:
        data_str = json.dumps(jsonable_encoder(event.data))
    else:
        data_str = None
    return format_sse_event(
        data_str=data_str, event=event.event, id=event.id, retry=event.retry, comment=event.comment
    )


def compact_json(obj: Any) -> str:
    """The JSON sse-starlette's ``JSONServerSentEvent`` writes: compact, non-ASCII kept."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


ENCODE_LEGEND = """\
  streamkit              ServerSentEvent(...) (validated) + encode_sse; json_event for JSON
  streamkit encode only  encode_sse on events built beforehand
  streamkit format_sse   format_sse(data, id=...): validates like ServerSentEvent, builds no
                         object; the counterpart of fastapi's format_sse_event
  sse-starlette          ServerSentEvent(..., sep="\\n").encode(); JSONServerSentEvent for JSON
  fastapi                format_sse_event(data_str=...): no event object, no validation;
                         JSON serialised by the caller with json.dumps (compact)
  fastapi model          fastapi.sse.ServerSentEvent (pydantic, validated), formatted as a
                         FastAPI route does; JSON via jsonable_encoder + json.dumps"""

EncodeCase = tuple[str, Callable[[], list[bytes]]]


def encode_cases(workload: str, n: int) -> tuple[list[EncodeCase], bool]:
    """The implementations for one encoding workload, and whether data is JSON."""
    if workload == "small":
        items = small_items(n)
        built = [ServerSentEvent(data, id=id_) for data, id_ in items]
        return [
            ("streamkit", lambda: [encode_sse(ServerSentEvent(d, id=i)) for d, i in items]),
            ("streamkit encode only", lambda: [encode_sse(e) for e in built]),
            ("streamkit format_sse", lambda: [format_sse(d, id=i) for d, i in items]),
            (
                "sse-starlette",
                lambda: [StarletteEvent(d, id=i, sep="\n").encode() for d, i in items],
            ),
            ("fastapi", lambda: [format_sse_event(data_str=d, id=i) for d, i in items]),
            (
                "fastapi model",
                lambda: [fastapi_route_format(FastAPIEvent(raw_data=d, id=i)) for d, i in items],
            ),
        ], False
    if workload == "multi-line":
        texts = multiline_items(n)
        built = [ServerSentEvent(d) for d in texts]
        return [
            ("streamkit", lambda: [encode_sse(ServerSentEvent(d)) for d in texts]),
            ("streamkit encode only", lambda: [encode_sse(e) for e in built]),
            ("streamkit format_sse", lambda: [format_sse(d) for d in texts]),
            ("sse-starlette", lambda: [StarletteEvent(d, sep="\n").encode() for d in texts]),
            ("fastapi", lambda: [format_sse_event(data_str=d) for d in texts]),
            (
                "fastapi model",
                lambda: [fastapi_route_format(FastAPIEvent(raw_data=d)) for d in texts],
            ),
        ], False
    assert workload == "json"
    objs = json_items(n)
    built = [json_event(o, event="update") for o in objs]
    return [
        ("streamkit", lambda: [encode_sse(json_event(o, event="update")) for o in objs]),
        ("streamkit encode only", lambda: [encode_sse(e) for e in built]),
        (
            "sse-starlette",
            lambda: [JSONServerSentEvent(o, event="update", sep="\n").encode() for o in objs],
        ),
        (
            "fastapi",
            lambda: [format_sse_event(data_str=compact_json(o), event="update") for o in objs],
        ),
        (
            "fastapi model",
            lambda: [fastapi_route_format(FastAPIEvent(data=o, event="update")) for o in objs],
        ),
    ], True


def check_same_events(cases: Sequence[EncodeCase], is_json: bool) -> None:
    """Every implementation's output decodes to the same events (JSON compared parsed)."""
    reference: list[tuple[str | None, Any, str | None]] | None = None
    for label, run in cases:
        frames = run()
        events = SSEDecoder().feed(b"".join(frames))
        assert len(events) == len(frames), f"{label}: {len(events)} events from {len(frames)}"
        got = [(e.event, json.loads(e.data or "null") if is_json else e.data, e.id) for e in events]
        if reference is None:
            reference = got
        assert got == reference, f"{label} encodes different events from streamkit"


# ------------------------------------------------------------------------- decoding


def decode_streamkit(chunks: Sequence[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    feed = decoder.feed
    out: list[ServerSentEvent] = []
    for chunk in chunks:
        out += feed(chunk)
    return out


def decode_httpx_sse(chunks: Sequence[bytes]) -> list[Any]:
    """httpx-sse 0.4.3's ``EventSource.iter_sse()`` applied to received chunks.

    httpx's ``Response.iter_text()`` decodes each chunk with an incremental
    UTF-8 decoder (``errors="replace"``) and drops empty strings; httpx-sse's
    ``_iter_sse_lines`` feeds that text to ``SSELineDecoder`` and flushes it at
    the end; ``iter_sse`` strips a trailing LF from each line and passes it to
    ``SSEDecoder.decode``, keeping the non-None results.
    """
    text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    line_decoder = HttpxSSELineDecoder()
    decoder = HttpxSSEDecoder()
    out: list[Any] = []
    for chunk in chunks:
        text = text_decoder.decode(chunk)
        if not text:
            continue
        for line in line_decoder.decode(text):
            sse = decoder.decode(line.rstrip("\n"))
            if sse is not None:
                out.append(sse)
    text = text_decoder.decode(b"", True)
    lines = line_decoder.decode(text) if text else []
    for line in lines + line_decoder.flush():
        sse = decoder.decode(line.rstrip("\n"))
        if sse is not None:
            out.append(sse)
    return out


def normalise_streamkit(events: Sequence[ServerSentEvent]) -> list[Decoded]:
    return [(e.event or "message", e.data or "", e.id or "") for e in events]


def normalise_httpx_sse(events: Sequence[Any]) -> list[Decoded]:
    return [(e.event, e.data, e.id) for e in events]


# -------------------------------------------------------------------------- report


@dataclass
class Ratio:
    section: str
    workload: str
    peer: str
    ratio: float
    target: float | None
    mine: str = "streamkit"


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def run_encoding(n: int, repeats: int, ratios: list[Ratio]) -> None:
    print(f"\nEncoding: {n:,} events per pass, best of {repeats} passes")
    header = (
        f"{'workload':<11} {'implementation':<23} {'events/s':>12} {'us/event':>9} {'sk/peer':>8}"
    )
    print(header)
    print("-" * len(header))
    for workload in ("small", "multi-line", "json"):
        cases, is_json = encode_cases(workload, n)
        check_same_events(cases, is_json)
        best = best_times(cases, repeats)
        rates = {label: n / seconds for label, seconds in best.items()}
        for label, _ in cases:
            cell = ""
            if not label.startswith("streamkit"):
                # Like against like: FastAPI's format_sse_event is a function that
                # builds no object, so it is compared with format_sse where the
                # workload has one; every other peer with the event object path.
                mine = COUNTERPART.get(label, "streamkit")
                if mine not in rates:
                    mine = "streamkit"
                ratio = rates[mine] / rates[label]
                cell = f"{ratio:.2f}x"
                ratios.append(
                    Ratio("encode", workload, label, ratio, ENCODE_TARGETS.get(label), mine)
                )
                if mine != "streamkit":  # also the event-object path, for the record
                    ratios.append(
                        Ratio("encode", workload, label, rates["streamkit"] / rates[label], None)
                    )
            us = 1e6 / rates[label]
            print(f"{workload:<11} {label:<23} {fmt_rate(rates[label]):>12} {us:>9.2f} {cell:>8}")
    print(ENCODE_LEGEND)


def run_decoding(n: int, repeats: int, ratios: list[Ratio]) -> None:
    print(f"\nDecoding: {n:,} events per pass, best of {repeats} passes (MB = 10^6 bytes)")
    header = (
        f"{'workload':<11} {'chunks':<10} {'implementation':<14} "
        f"{'events/s':>12} {'MB/s':>8} {'sk/peer':>8}"
    )
    print(header)
    print("-" * len(header))
    for workload, stream in decode_streams(n).items():
        for mode in ("4 KiB", "64 KiB", "per-event"):
            chunks = split_chunks(stream, mode)
            ours = normalise_streamkit(decode_streamkit(chunks))
            theirs = normalise_httpx_sse(decode_httpx_sse(chunks))
            assert len(ours) == len(theirs) == n, (workload, mode, len(ours), len(theirs))
            assert ours == theirs, f"decoders disagree on {workload} / {mode}"
            best = best_times(
                [
                    ("streamkit", partial(decode_streamkit, chunks)),
                    ("httpx-sse", partial(decode_httpx_sse, chunks)),
                ],
                repeats,
            )
            ratio = best["httpx-sse"] / best["streamkit"]
            ratios.append(Ratio("decode", f"{workload}, {mode}", "httpx-sse", ratio, DECODE_TARGET))
            for label, seconds in best.items():
                cell = f"{ratio:.2f}x" if label == "httpx-sse" else ""
                mbps = len(stream) / seconds / 1e6
                print(
                    f"{workload:<11} {mode:<10} {label:<14} "
                    f"{fmt_rate(n / seconds):>12} {mbps:>8.1f} {cell:>8}"
                )
        print(f"{'':<11} (stream: {len(stream) / n:.0f} bytes per event)")


def print_ratios(ratios: Sequence[Ratio], quick: bool) -> None:
    print("\nRatios (streamkit speed / peer speed)")
    if quick:
        print("(quick run: sizes too small for the figures to mean anything)")
    for r in ratios:
        verdict = ""
        if r.target is not None:
            met = "met" if r.ratio >= r.target else "MISSED"
            verdict = f"  target >= {r.target:g}x: {met}"
        label = f"{r.mine} / {r.peer}"
        print(f"{r.section:<7} {r.workload:<22} {label:<38} {r.ratio:>6.2f}x{verdict}")


def run_long_line(quick: bool) -> None:
    """Time one single-line event of growing size fed in 4 KiB pieces. Linear
    buffering keeps the time per MiB roughly flat (memory bandwidth and cache
    size still move it); re-scanning the buffer on every piece would make it
    grow with the size, 8x from the smallest to the largest here."""
    sizes = (1, 2) if quick else (4, 8, 16, 32)
    print("\nOne single-line event fed in 4 KiB pieces (time per MiB flat = linear)")
    per_mib = []
    for mib in sizes:
        wire = b"data: " + b"x" * (mib * 1024 * 1024) + b"\n\n"
        pieces = [wire[i : i + 4096] for i in range(0, len(wire), 4096)]

        def run(pieces: list[bytes] = pieces) -> object:
            decoder = SSEDecoder(max_event_size=64 * 1024 * 1024)
            events = [event for piece in pieces for event in decoder.feed(piece)]
            assert len(events) == 1
            return events

        seconds = min(time_once(run) for _ in range(3))
        per_mib.append(seconds * 1000 / mib)
        print(f"  {mib:>2} MiB: {seconds * 1000:8.1f} ms  ({per_mib[-1]:.2f} ms/MiB)")
    print(
        f"  ms/MiB at {sizes[-1]} MiB over ms/MiB at {sizes[0]} MiB: "
        f"{per_mib[-1] / per_mib[0]:.2f} (linear: about 1; quadratic: {sizes[-1] // sizes[0]})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args(argv)
    encode_n, decode_n, repeats = SIZES["quick" if args.quick else "full"]

    packages = ("streamkit", "sse-starlette", "fastapi", "pydantic", "httpx-sse", "orjson")
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), {sys.platform}"
    )
    print(", ".join(f"{name} {version(name)}" for name in packages))

    # Move everything imported so far out of the collector's sight, so that the
    # collection before each pass takes microseconds rather than milliseconds.
    gc.collect()
    gc.freeze()
    ratios: list[Ratio] = []
    run_encoding(encode_n, repeats, ratios)
    run_decoding(decode_n, repeats, ratios)
    run_long_line(args.quick)
    print_ratios(ratios, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
