"""Hypothesis strategies shared by the test modules."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import strategies as st

from streamkit import ServerSentEvent

#: Any text that can be encoded as UTF-8 (no lone surrogates).
texts = st.text(st.characters(codec="utf-8"))

#: Text that is valid as an SSE ``event`` or ``id`` value (single line; no NUL for ids).
single_line = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"))
event_ids = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0"))

#: Text biased towards the characters that matter to the SSE line grammar.
tricky_text = st.lists(
    st.one_of(
        st.sampled_from(["\r", "\n", "\r\n", ":", " ", "\0", "\ufeff", "\u2028", "\x85", "é"]),
        st.characters(codec="utf-8"),
    )
).map("".join)

retries = st.integers(min_value=0, max_value=2**63)


@st.composite
def events(draw: st.DrawFn) -> ServerSentEvent:
    """A valid event with any combination of fields set (at least one)."""
    data = draw(st.none() | texts | tricky_text)
    event = draw(st.none() | single_line)
    id_ = draw(st.none() | event_ids)
    retry = draw(st.none() | retries)
    comment = draw(st.none() | texts | tricky_text)
    if all(v is None for v in (data, event, id_, retry, comment)):
        data = draw(texts)
    return ServerSentEvent(data, event=event, id=id_, retry=retry, comment=comment)


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at arbitrary points (possibly byte by byte, possibly whole)."""
    if not data:
        return [b""]
    if draw(st.booleans()) and len(data) <= 512:
        return [data[i : i + 1] for i in range(len(data))]
    # A list (not a set) of cut points, so a point may repeat: that feeds an
    # empty piece, which a decoder must treat as nothing at all.
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(data)), max_size=20)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def chunked(data: bytes) -> st.SearchStrategy[list[bytes]]:
    return splits(data)
