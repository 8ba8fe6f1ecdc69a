"""normalize: the adapter picked from the first item, or from raw body bytes;
streams it cannot place. normalize giving each fixture's expected outcome
and closing the upstream when stopped are tested in test_llm_adapters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from streamkit.llm import Error, detect_provider, normalize

from .llm_fixtures import (
    FIXTURE_PROVIDERS,
    FIXTURES,
    check_fixture,
    check_invariants,
    expected_outcomes,
    fixtures_or_skip,
    wire_items,
)


def test_every_fixture_is_covered() -> None:
    expected = expected_outcomes()
    if not expected:
        pytest.skip(f"the LLM fixtures are not present ({FIXTURES})")
    assert set(expected) == set(FIXTURE_PROVIDERS)


@pytest.mark.parametrize(("name", "provider"), sorted(FIXTURE_PROVIDERS.items()))
def test_the_provider_is_detected_from_the_first_item(name: str, provider: str) -> None:
    assert detect_provider(wire_items(name)[0]) == provider


@pytest.mark.parametrize("name", sorted(n for n in FIXTURE_PROVIDERS if not n.endswith(".jsonl")))
def test_normalize_reads_raw_body_bytes_in_any_chunking(name: str) -> None:
    data = (fixtures_or_skip() / name).read_bytes()
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]
    check_fixture(normalize(pieces), name)


def test_an_unknown_shape_is_an_error_event() -> None:
    events = list(normalize([{"what": "is this"}]))
    check_invariants(events)
    assert isinstance(events[-1], Error)
    assert events[-1].kind == "unknown_provider"


def test_an_empty_stream_is_an_incomplete_error() -> None:
    events = list(normalize([]))
    check_invariants(events)
    assert isinstance(events[-1], Error)
    assert events[-1].kind == "incomplete"


def test_an_upstream_that_fails_at_once_is_an_error_event() -> None:
    def upstream() -> Iterator[Any]:
        raise ConnectionResetError("reset")
        yield  # pragma: no cover

    events = list(normalize(upstream()))
    check_invariants(events)
    assert isinstance(events[-1], Error)
    assert events[-1].retryable
