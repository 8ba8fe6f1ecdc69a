"""The HTTP rules of serving a file, without a server: Range (RFC 9110 14),
preconditions (RFC 9110 13.2.2), multipart/byteranges and Content-Disposition
(RFC 6266, RFC 8187)."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import itertools
import re
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from streamkit import content_disposition
from streamkit._formats.httpfile import (
    MAX_RANGES,
    Decision,
    evaluate,
    http_date,
    multipart_layout,
    parse_range,
    strong_etag,
)

# -- parse_range: the table ------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        # one range, the three forms
        ("bytes=0-499", 1000, [(0, 500)]),
        ("bytes=0-0", 1000, [(0, 1)]),
        ("bytes=-500", 1000, [(500, 1000)]),
        ("bytes=500-", 1000, [(500, 1000)]),
        ("bytes=999-", 1000, [(999, 1000)]),
        # clamped to the file
        ("bytes=-2000", 1000, [(0, 1000)]),
        ("bytes=500-5000", 1000, [(500, 1000)]),
        # several, sorted
        ("bytes=0-0,-1", 1000, [(0, 1), (999, 1000)]),
        ("bytes=900-949,0-9,100-199", 1000, [(0, 10), (100, 200), (900, 950)]),
        # overlapping and adjacent ranges are merged
        ("bytes=500-700,600-999", 1000, [(500, 1000)]),
        ("bytes=500-600,601-999", 1000, [(500, 1000)]),
        ("bytes=0-1,4-5,2-3", 1000, [(0, 6)]),
        ("bytes=0-9,5-", 1000, [(0, 1000)]),
        ("bytes=0-9,0-9,0-9", 1000, [(0, 10)]),
        ("bytes=10-19,-990", 1000, [(10, 1000)]),
        ("bytes=0-1,3-4", 1000, [(0, 2), (3, 5)]),  # a gap of one byte stays a gap
        # list whitespace and empty list elements (RFC 9110 5.6.1)
        ("bytes=0-1 ,\t3-4", 1000, [(0, 2), (3, 5)]),
        ("bytes=,0-1,,3-4,", 1000, [(0, 2), (3, 5)]),
        ("bytes= 0-1", 1000, [(0, 2)]),
        # the unit is case-insensitive
        ("Bytes=0-1", 1000, [(0, 2)]),
        ("BYTES=0-1", 1000, [(0, 2)]),
        # some unsatisfiable, some not: the satisfiable ones
        ("bytes=5-,100-200", 10, [(5, 10)]),
        ("bytes=-0,0-1", 10, [(0, 2)]),
        # none satisfiable: an empty list (416)
        ("bytes=10-20,30-", 10, []),
        ("bytes=10-", 10, []),
        ("bytes=-0", 10, []),  # a suffix of 0 bytes is unsatisfiable (RFC 9110 14.1.3)
        # an empty file satisfies no range
        ("bytes=0-", 0, []),
        ("bytes=0-0", 0, []),
        ("bytes=-5", 0, []),
    ],
)
def test_parse_range_table(header: str, size: int, expected: list[tuple[int, int]]) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        "items=0-1",  # another unit
        "byte=0-1",
        "none",
        "bytes 0-1",  # no "="
        "=0-1",
        "bytes=",  # no range at all
        "bytes=,",
        "bytes= , ,",
        "bytes=5-4",  # last before first
        "bytes=0-1,5-4",  # one bad spec spoils the header
        "bytes=1",
        "bytes=-",
        "bytes=--1",
        "bytes=1-2-3",
        "bytes=a-b",
        "bytes=0-b",
        "bytes=+1-2",
        "bytes=1_0-20",
        "bytes=0x1-2",
        "bytes=1.5-2",
        "bytes=-1-",
        # digits that are not ASCII digits
        "bytes=\u0661-\u0662",  # Arabic-Indic
        "bytes=\uff11-\uff12",  # fullwidth
        "bytes=1-\u00b2",  # superscript two: str.isdigit() says yes
        "bytes=-\u0665",
    ],
)
def test_parse_range_ignores_a_malformed_header(header: str) -> None:
    assert parse_range(header, 1000) is None


def test_parse_range_ignores_more_than_max_ranges() -> None:
    # Non-adjacent one-byte ranges, so nothing merges.
    specs = [f"{2 * i}-{2 * i}" for i in range(MAX_RANGES + 1)]
    assert MAX_RANGES == 100
    assert parse_range("bytes=" + ",".join(specs), 10_000) is None
    at_limit = parse_range("bytes=" + ",".join(specs[:MAX_RANGES]), 10_000)
    assert at_limit == [(2 * i, 2 * i + 1) for i in range(MAX_RANGES)]


def test_parse_range_counts_specs_before_merging() -> None:
    # 101 copies of the same range are still 101 ranges: the cap is about
    # the work a header asks for, not about what is left after merging.
    assert parse_range("bytes=" + ",".join(["0-0"] * 101), 10) is None


def test_parse_range_max_ranges_is_configurable() -> None:
    assert parse_range("bytes=0-0,2-2,4-4", 10, max_ranges=2) is None
    assert parse_range("bytes=0-0,2-2", 10, max_ranges=2) == [(0, 1), (2, 3)]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-" + "9" * 5000, [(0, 1000)]),
        ("bytes=" + "9" * 5000 + "-", []),
        ("bytes=" + "9" * 5000 + "-" + "9" * 5001, []),
        ("bytes=-" + "9" * 5000, [(0, 1000)]),
        ("bytes=" + "9" * 30 + "-5", None),  # last < first
        ("bytes=0-" + "9" * 4301 + "," + "10-" + "9" * 20, [(0, 1000)]),
    ],
)
def test_parse_range_handles_numbers_with_thousands_of_digits(
    header: str, expected: list[tuple[int, int]] | None
) -> None:
    started = time.perf_counter()
    assert parse_range(header, 1000) == expected
    assert time.perf_counter() - started < 0.5  # no quadratic int() conversion


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=" + "0" * 5000 + "1-", [(1, 1000)]),
        ("bytes=0-" + "0" * 5000 + "9", [(0, 10)]),
        ("bytes=-" + "0" * 5000 + "5", [(995, 1000)]),
    ],
)
def test_parse_range_handles_thousands_of_leading_zeros(
    header: str, expected: list[tuple[int, int]]
) -> None:
    assert parse_range(header, 1000) == expected


def test_parse_range_sees_an_inverted_range_of_two_huge_numbers() -> None:
    assert parse_range("bytes=" + "9" * 30 + "-" + "9" * 29, 1000) is None


def test_parse_range_accepts_a_few_leading_zeros() -> None:
    assert parse_range("bytes=000-009,-0010", 1000) == [(0, 10), (990, 1000)]


# -- parse_range: properties -----------------------------------------------------


@dataclass(frozen=True)
class RangeHeader:
    """A generated Range header and what it means: ``wanted`` is None when
    the header must be ignored, else the byte positions it asks for."""

    value: str
    size: int
    wanted: frozenset[int] | None


def _render(number: int, draw: st.DrawFn) -> str:
    zeros = draw(st.integers(0, 3)) if draw(st.booleans()) else 0
    return "0" * zeros + str(number)


@st.composite
def range_headers(draw: st.DrawFn, size: int | None = None) -> RangeHeader:
    """Near-valid Range headers, built from the grammar of RFC 9110 14.1.1
    with mistakes mixed in, and an independent reading of what they ask for
    (for a file of ``size`` bytes, or of a drawn size up to 300)."""
    if size is None:
        size = draw(st.integers(0, 300))
    valid = True
    # About half the headers are meant to be valid, so both halves get examples.
    mistakes = draw(st.booleans())
    units = ["bytes", "Bytes", "BYTES"] + (["items", "byte"] if mistakes else [])
    unit = draw(st.sampled_from(units))
    if unit.lower() != "bytes":
        valid = False
    numbers = st.integers(0, size + 10) | st.integers(0, 10**25)
    specs: list[str] = []
    positions: set[int] = set()
    count = 0
    for _ in range(draw(st.integers(0, 8))):
        kinds = ["range", "range", "open", "suffix", "empty"]
        kind = draw(st.sampled_from(kinds + (["inverted", "bad"] if mistakes else [])))
        if kind == "range":
            first = draw(numbers)
            last = draw(st.integers(first, first + size))
            specs.append(f"{_render(first, draw)}-{_render(last, draw)}")
            positions.update(range(first, min(last + 1, size)))
            count += 1
        elif kind == "open":
            first = draw(numbers)
            specs.append(f"{_render(first, draw)}-")
            positions.update(range(first, size))
            count += 1
        elif kind == "suffix":
            length = draw(numbers)
            specs.append(f"-{_render(length, draw)}")
            positions.update(range(max(0, size - length), size))
            count += 1
        elif kind == "inverted":
            last = draw(st.integers(0, size))
            first = draw(st.integers(last + 1, last + 1 + size))
            specs.append(f"{first}-{last}")
            valid = False
        elif kind == "empty":
            specs.append(draw(st.sampled_from(["", " ", "\t"])))
        else:
            specs.append(
                draw(st.sampled_from(["-", "a-b", "1-2-3", "--1", "7", "+1-2", "\u0661-", "1 2-3"]))
            )
            valid = False
    separators = st.sampled_from([",", ", ", " ,", ",\t", "\t,  "])
    body = "".join(spec + draw(separators) for spec in specs[:-1]) + (specs[-1] if specs else "")
    value = f"{unit}={body}"
    if count == 0:
        valid = False  # nothing but empty elements, or no element at all
    wanted = frozenset(positions) if valid else None
    return RangeHeader(value, size, wanted)


def assert_canonical(ranges: list[tuple[int, int]], size: int) -> None:
    """Sorted, non-empty, in bounds, disjoint and not even adjacent."""
    for start, stop in ranges:
        assert 0 <= start < stop <= size, ranges
    for (_, stop), (start, _) in itertools.pairwise(ranges):
        assert stop < start, ranges


def covered(ranges: list[tuple[int, int]]) -> frozenset[int]:
    return frozenset(p for start, stop in ranges for p in range(start, stop))


@given(range_headers())
@example(RangeHeader("bytes=0-0,2-2,1-1", 3, frozenset({0, 1, 2})))
@example(RangeHeader("bytes=-1,0-0", 1, frozenset({0})))
def test_parse_range_reads_near_valid_headers_like_the_grammar_says(header: RangeHeader) -> None:
    result = parse_range(header.value, header.size)
    if header.wanted is None:
        assert result is None
        return
    assert result is not None
    assert_canonical(result, header.size)
    assert covered(result) == header.wanted  # exactly what was asked, no more
    assert (result == []) == (not header.wanted)


header_text = st.one_of(
    st.text(),
    st.text().map(lambda s: "bytes=" + s),
    st.text(alphabet="0123456789-, \t").map(lambda s: "bytes=" + s),
)


@given(header_text, st.integers(0, 10**12) | st.integers(0, 100))
def test_parse_range_never_raises_and_returns_canonical_ranges(value: str, size: int) -> None:
    result = parse_range(value, size)
    if result is not None:
        assert_canonical(result, size)


# -- evaluate --------------------------------------------------------------------

SIZE = 1000
MTIME_NS = 1_700_000_000_500_000_000  # half a second past the whole second
MTIME = MTIME_NS / 1e9
ETAG = strong_etag(SIZE, MTIME_NS)
OTHER = '"not-this-one"'
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"
EARLIER = "Tue, 14 Nov 2023 22:13:19 GMT"
LATER = "Tue, 14 Nov 2023 22:13:21 GMT"


def decide(method: str = "GET", **headers: str) -> Decision:
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return evaluate(method, named, size=SIZE, etag=ETAG, last_modified=MTIME)


def test_the_validators_used_below() -> None:
    assert http_date(MTIME) == LAST_MODIFIED  # whole seconds, floored
    assert re.fullmatch(r'"[^"]+"', ETAG)


def test_no_precondition_and_no_range_is_a_200() -> None:
    assert decide() == Decision(200)
    assert decide("HEAD") == Decision(200)


# 1. If-Match


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (ETAG, 200),
        ("*", 200),
        (f"{OTHER}, {ETAG}", 200),
        (f" {ETAG} ", 200),
        (OTHER, 412),
        (f'{OTHER}, "x"', 412),
        (f"W/{ETAG}", 412),  # If-Match compares strongly: a weak tag never matches
        ("not-a-tag", 200),  # a malformed list is ignored
        (f"{ETAG[1:-1]}", 200),  # unquoted: malformed, ignored
    ],
)
def test_if_match(value: str, status: int) -> None:
    assert decide(if_match=value).status == status


def test_if_match_without_an_etag_fails_unless_star() -> None:
    assert evaluate("GET", {"if-match": ETAG}, size=1, etag=None, last_modified=None).status == 412
    assert evaluate("GET", {"if-match": "*"}, size=1, etag=None, last_modified=None).status == 200


# 2. If-Unmodified-Since


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (LAST_MODIFIED, 200),
        (LATER, 200),
        (EARLIER, 412),
        ("Tuesday, 14-Nov-23 22:13:19 GMT", 412),  # the obsolete RFC 850 form
        ("Tue Nov 14 22:13:19 2023", 412),  # asctime
        ("yesterday", 200),  # not a date: ignored
    ],
)
def test_if_unmodified_since(value: str, status: int) -> None:
    assert decide(if_unmodified_since=value).status == status


def test_if_unmodified_since_is_ignored_when_if_match_is_present() -> None:
    assert decide(if_match=ETAG, if_unmodified_since=EARLIER).status == 200


def test_a_failed_if_match_comes_before_if_none_match_and_range() -> None:
    assert decide(if_match=OTHER, if_none_match=ETAG).status == 412
    assert decide(if_match=OTHER, range="bytes=0-1").status == 412
    assert decide(if_unmodified_since=EARLIER, if_none_match=ETAG).status == 412


# 3. If-None-Match


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (ETAG, 304),
        (f"W/{ETAG}", 304),  # weak comparison
        ("*", 304),
        (f'{OTHER}, W/"x", {ETAG}', 304),
        (f"{OTHER},{ETAG}", 304),
        (f"{ETAG},", 304),
        (OTHER, 200),
        (f'{OTHER}, W/"x"', 200),
        ("not-a-tag", 200),  # malformed: ignored
        (f"{ETAG} junk", 200),
        (f"{ETAG[:-1]}", 200),  # unterminated
    ],
)
def test_if_none_match_on_get(value: str, status: int) -> None:
    assert decide(if_none_match=value).status == status


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_none_match_gives_304_for_get_and_head(method: str) -> None:
    assert decide(method, if_none_match=ETAG).status == 304


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_if_none_match_gives_412_for_other_methods(method: str) -> None:
    assert decide(method, if_none_match=ETAG).status == 412
    assert decide(method, if_none_match="*").status == 412
    assert decide(method, if_none_match=OTHER).status == 200


def test_if_none_match_wins_over_if_modified_since() -> None:
    # A tag that does not match: If-Modified-Since (which alone would give
    # 304) is not even looked at.
    assert decide(if_none_match=OTHER, if_modified_since=LATER).status == 200
    # A tag that matches: 304 even with a date that alone would give 200.
    assert decide(if_none_match=ETAG, if_modified_since=EARLIER).status == 304


def test_a_weak_etag_of_ours_is_compared_weakly_by_if_none_match() -> None:
    weak = f"W/{ETAG}"
    decision = evaluate("GET", {"if-none-match": ETAG}, size=SIZE, etag=weak, last_modified=None)
    assert decision.status == 304
    decision = evaluate("GET", {"if-match": ETAG}, size=SIZE, etag=weak, last_modified=None)
    assert decision.status == 412  # never a strong match


@pytest.mark.parametrize(
    ("name", "value", "status"),
    [
        ("if-none-match", f"{OTHER}, , {ETAG}", 304),
        ("if-none-match", f", {ETAG}", 304),
        ("if-match", f'{OTHER}, , "x"', 412),
    ],
)
def test_tag_lists_with_empty_elements(name: str, value: str, status: int) -> None:
    assert evaluate("GET", {name: value}, size=SIZE, etag=ETAG, last_modified=MTIME).status == (
        status
    )


# 4. If-Modified-Since


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (LAST_MODIFIED, 304),  # exactly the Last-Modified we sent: unchanged
        (LATER, 304),
        (EARLIER, 200),
        ("Tue, 14 Nov 2023 23:13:20 +0100", 304),  # the same instant, another zone
        ("Tue, 14 Nov 2023 22:13:20 -0000", 304),
        ("last week", 200),
        ("", 200),
    ],
)
def test_if_modified_since(value: str, status: int) -> None:
    assert decide(if_modified_since=value).status == status


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_if_modified_since_is_only_for_get_and_head(method: str) -> None:
    assert decide(method, if_modified_since=LATER).status == 200
    assert decide("HEAD", if_modified_since=LATER).status == 304


def test_if_modified_since_without_a_modification_time_is_ignored() -> None:
    decision = evaluate("GET", {"if-modified-since": LATER}, size=1, etag=None, last_modified=None)
    assert decision.status == 200


def test_not_modified_comes_before_range() -> None:
    assert decide(if_none_match=ETAG, range="bytes=0-1").status == 304
    assert decide(if_modified_since=LATER, range="bytes=0-1").status == 304


# 5. Range and If-Range


def test_range_gives_206_with_the_ranges() -> None:
    assert decide(range="bytes=0-99") == Decision(206, ((0, 100),))
    assert decide(range="bytes=-1,0-0") == Decision(206, ((0, 1), (999, 1000)))


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT", "OPTIONS"])
def test_range_is_ignored_for_methods_other_than_get(method: str) -> None:
    # RFC 9110 14.2: "GET is the only method for which range handling is defined".
    assert decide(method, range="bytes=0-99") == Decision(200)
    assert decide(method, range="bytes=5000-") == Decision(200)  # not even a 416


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=5000-", Decision(416)),
        ("bytes=-0", Decision(416)),
        ("bytes=abc", Decision(200)),
        ("items=0-1", Decision(200)),
        ("bytes=9-0", Decision(200)),
        ("bytes=" + ",".join(f"{2 * i}-{2 * i}" for i in range(101)), Decision(200)),
        ("bytes=0-", Decision(200)),  # the whole file: a plain 200
        ("bytes=0-999", Decision(200)),
        ("bytes=-1000", Decision(200)),
        ("bytes=0-499,500-", Decision(200)),  # merged into the whole file
        ("bytes=0-998", Decision(206, ((0, 999),))),
    ],
)
def test_range_outcomes(value: str, expected: Decision) -> None:
    assert decide(range=value) == expected


@pytest.mark.parametrize(
    ("if_range", "status"),
    [
        (ETAG, 206),
        (f" {ETAG} ", 206),
        (OTHER, 200),  # stale: the whole file
        (f"W/{ETAG}", 200),  # a weak tag never matches (RFC 9110 13.1.5)
        (LAST_MODIFIED, 206),  # exactly the date we sent
        (EARLIER, 200),
        (LATER, 200),  # only an exact match counts, not "not modified since"
        ("garbage", 200),
        ("", 200),
        (f"{ETAG[1:-1]}", 200),
    ],
)
def test_if_range(if_range: str, status: int) -> None:
    decision = decide(range="bytes=0-99", if_range=if_range)
    assert decision.status == status
    assert decision.ranges == (((0, 100),) if status == 206 else ())


def test_if_range_that_fails_also_hides_an_unsatisfiable_range() -> None:
    assert decide(range="bytes=5000-", if_range=OTHER) == Decision(200)
    assert decide(range="bytes=5000-", if_range=ETAG) == Decision(416)


def test_if_range_with_a_date_needs_a_modification_time() -> None:
    headers = {"range": "bytes=0-1", "if-range": LAST_MODIFIED}
    assert evaluate("GET", headers, size=SIZE, etag=ETAG, last_modified=None).status == 200


def test_max_ranges_is_passed_on() -> None:
    headers = {"range": "bytes=0-0,2-2,4-4"}
    decision = evaluate("GET", headers, size=SIZE, etag=ETAG, last_modified=MTIME, max_ranges=2)
    assert decision == Decision(200)


header_names = st.sampled_from(
    ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "range", "if-range"]
)
header_values = st.one_of(
    st.text(),
    st.sampled_from(
        [ETAG, OTHER, f"W/{ETAG}", "*", LAST_MODIFIED, EARLIER, LATER, "bytes=0-1", "bytes=-0"]
    ),
    st.lists(st.sampled_from([ETAG, OTHER, "W/", '"', ",", " ", "*", 'W/"a"'])).map("".join),
    st.from_regex(
        r"\A[A-Za-z]{0,9},? ?\d{0,3} ?[A-Za-z]{0,4} ?-?\d{0,6}[: \d]{0,12}[A-Z+-]{0,5}\Z"
    ),
)


@given(
    st.sampled_from(["GET", "HEAD", "POST", "PUT"]) | st.text(),
    st.dictionaries(header_names, header_values),
    st.integers(0, 10**15),
    st.none() | st.integers(0, 2**64).map(lambda ns: strong_etag(5, ns)) | st.text(),
    st.none() | st.floats(-1e12, 1e12, allow_nan=False),
)
def test_evaluate_never_raises(
    method: str,
    headers: dict[str, str],
    size: int,
    etag: str | None,
    last_modified: float | None,
) -> None:
    decision = evaluate(method, headers, size=size, etag=etag, last_modified=last_modified)
    assert decision.status in (200, 206, 304, 412, 416)
    if decision.status == 206:
        assert method == "GET"
        assert decision.ranges
        assert_canonical(list(decision.ranges), size)
        assert list(decision.ranges) != [(0, size)]
    else:
        assert decision.ranges == ()
    if decision.status == 416:
        assert method == "GET"
    if decision.status == 304:
        assert method in ("GET", "HEAD")


# -- multipart/byteranges ----------------------------------------------------------

DATA = bytes(range(256)) * 4 + b"\r\n--\r\r\n\n"  # line breaks that could confuse a parser


def build(ranges: list[tuple[int, int]], data: bytes, media_type: str, boundary: str) -> bytes:
    heads, tail, length = multipart_layout(ranges, len(data), media_type, boundary)
    assert len(heads) == len(ranges)
    body = b"".join(head + data[a:b] for head, (a, b) in zip(heads, ranges, strict=True)) + tail
    assert len(body) == length  # the Content-Length announced is the real length
    return body


def parse_multipart(body: bytes, boundary: str) -> list[tuple[str, str, bytes]]:
    """(Content-Type, Content-Range, data) of each part, read by the stdlib
    (compat32: header values exactly as sent)."""
    raw = f"Content-Type: multipart/byteranges; boundary={boundary}\r\n\r\n".encode() + body
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)
    assert message.is_multipart()
    assert not message.defects, message.defects
    assert not message.preamble
    assert not message.epilogue
    parts = []
    for part in message.get_payload():
        assert isinstance(part, email.message.Message)
        assert not part.defects, part.defects
        assert part.keys() == ["Content-Type", "Content-Range"]
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts.append((str(part["Content-Type"]), str(part["Content-Range"]), payload))
    return parts


@pytest.mark.parametrize(
    "ranges",
    [
        [(0, 1), (len(DATA) - 1, len(DATA))],
        [(0, 10), (20, 30), (1000, len(DATA))],
        [(5, 6)],
        [(0, len(DATA))],
        [(1020, 1028), (1029, 1031)],  # parts that end in CR, LF and CRLF
    ],
)
def test_multipart_layout_builds_a_body_the_email_package_reads(
    ranges: list[tuple[int, int]],
) -> None:
    boundary = "3d6b6a416f9b5a0c"
    body = build(ranges, DATA, "text/plain; charset=utf-8", boundary)
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert body.endswith(f"\r\n--{boundary}--\r\n".encode())
    parts = parse_multipart(body, boundary)
    assert parts == [
        ("text/plain; charset=utf-8", f"bytes {a}-{b - 1}/{len(DATA)}", DATA[a:b])
        for a, b in ranges
    ]


@st.composite
def disjoint_ranges(draw: st.DrawFn, size: int) -> list[tuple[int, int]]:
    cuts = sorted(set(draw(st.lists(st.integers(0, size), min_size=2, max_size=12))))
    pairs = list(zip(cuts[::2], cuts[1::2], strict=False))
    return [(a, b) for a, b in pairs if a < b] or [(0, size)]


@given(
    st.binary(min_size=1, max_size=300).flatmap(
        lambda d: st.tuples(st.just(d), disjoint_ranges(len(d)))
    )
)
def test_multipart_layout_length_and_parts_for_any_ranges(
    case: tuple[bytes, list[tuple[int, int]]],
) -> None:
    data, ranges = case
    boundary = "b0undary7f"
    body = build(ranges, data, "application/octet-stream", boundary)
    parts = parse_multipart(body, boundary)
    assert [(r, d) for _, r, d in parts] == [
        (f"bytes {a}-{b - 1}/{len(data)}", data[a:b]) for a, b in ranges
    ]


# -- validators ----------------------------------------------------------------


def test_strong_etag_is_a_quoted_strong_tag_that_changes_with_size_and_mtime() -> None:
    tag = strong_etag(1000, MTIME_NS)
    assert re.fullmatch(r'"[\x21\x23-\x7e]+"', tag)  # etagc, no W/
    assert strong_etag(1000, MTIME_NS) == tag  # stable
    assert strong_etag(1001, MTIME_NS) != tag
    assert strong_etag(1000, MTIME_NS + 1) != tag  # nanoseconds count
    assert strong_etag(0, 0) != strong_etag(1, 0)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (784111777, "Sun, 06 Nov 1994 08:49:37 GMT"),  # RFC 9110 5.6.7's example
        (784111777.999, "Sun, 06 Nov 1994 08:49:37 GMT"),  # floored, not rounded
        (MTIME, LAST_MODIFIED),
    ],
)
def test_http_date_is_an_imf_fixdate(timestamp: float, expected: str) -> None:
    assert http_date(timestamp) == expected


# -- Content-Disposition -----------------------------------------------------------

#: The shape of every value: an ASCII quoted fallback, then maybe filename*.
DISPOSITION = re.compile(
    r"(attachment|inline); filename=\"([\x20\x21\x23-\x5b\x5d-\x7e]*)\""
    r"(?:; filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]*))?"
)


def read_disposition(value: str) -> tuple[str, str, str | None]:
    """(type, fallback, decoded filename* or None); fails on any other shape."""
    match = DISPOSITION.fullmatch(value)
    assert match is not None, value
    encoded = match.group(3)
    decoded = None if encoded is None else unquote(encoded, encoding="utf-8", errors="strict")
    return match.group(1), match.group(2), decoded


def test_ascii_names_pass_through() -> None:
    assert content_disposition("report.csv") == 'attachment; filename="report.csv"'
    assert content_disposition("my report (v2).csv") == 'attachment; filename="my report (v2).csv"'
    assert content_disposition("a.txt", "inline") == 'inline; filename="a.txt"'


def test_the_rfc_6266_euro_rates_example() -> None:
    # RFC 6266 section 5: filename="EURO rates"; filename*=utf-8''%e2%82%ac%20rates
    value = content_disposition("€ rates")
    assert value == "attachment; filename=\"_ rates\"; filename*=UTF-8''%E2%82%AC%20rates"
    assert read_disposition(value) == ("attachment", "_ rates", "€ rates")


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("café.pdf", "cafe.pdf"),  # accents folded
        ("rapport-été.pdf", "rapport-ete.pdf"),
        ("日本語.txt", "___.txt"),
        ("ﬁle.txt", "file.txt"),  # a ligature, NFKD
        ('a"b.txt', "a_b.txt"),
    ],
)
def test_non_ascii_names_get_a_fallback_and_the_exact_name(name: str, fallback: str) -> None:
    assert read_disposition(content_disposition(name)) == ("attachment", fallback, name)


@pytest.mark.parametrize(
    ("name", "neutral"),
    [
        ("a\\b.txt", "a_b.txt"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("/etc/passwd", "_etc_passwd"),
        ("C:\\Windows\\x.ini", "C:_Windows_x.ini"),
        ("x\r\nSet-Cookie: a=b", "x__Set-Cookie: a=b"),
        ("a\0b", "a_b"),
        ("tab\there", "tab_here"),
        ("bell\x07\x7f", "bell__"),
        ("rtl\u202etxt.exe", "rtl_txt.exe"),  # a format character (category Cf)
    ],
)
def test_separators_and_control_characters_are_neutralised(name: str, neutral: str) -> None:
    value = content_disposition(name)
    _, fallback, exact = read_disposition(value)
    assert fallback == neutral
    assert exact is None  # the neutral name is all ASCII: nothing else to say


def test_a_quote_is_only_in_the_encoded_name() -> None:
    value = content_disposition('say "hi".txt')
    _, fallback, exact = read_disposition(value)
    assert fallback == "say _hi_.txt"
    assert exact == 'say "hi".txt'
    assert value.count('"') == 2  # only the quotes around the fallback


@pytest.mark.parametrize("name", ["", "   ", "\u3000"])
def test_an_empty_name_becomes_download(name: str) -> None:
    assert content_disposition(name) == 'attachment; filename="download"'


@pytest.mark.parametrize("disposition", ["form-data", "Attachment", "attachment; x=y", ""])
def test_an_unknown_disposition_is_refused(disposition: str) -> None:
    with pytest.raises(ValueError, match="disposition"):
        content_disposition("a.txt", disposition)


@given(st.text(), st.sampled_from(["attachment", "inline"]))
def test_any_name_gives_a_safe_header_that_round_trips(name: str, disposition: str) -> None:
    value = content_disposition(name, disposition)
    value.encode("ascii")  # a header value any server can send
    kind, fallback, exact = read_disposition(value)
    assert kind == disposition
    shown = exact if exact is not None else fallback
    assert not any(ch in "/\\" or unicodedata.category(ch)[0] == "C" for ch in shown)
    safe = not any(ch in "/\\" or unicodedata.category(ch)[0] == "C" for ch in name)
    if safe and name.strip() == name and name:
        assert shown == name  # nothing was lost
