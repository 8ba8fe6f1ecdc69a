"""The SSE decoder: incremental feeding, limits, errors and state."""

from __future__ import annotations

import pytest

from streamkit import DecodeError, ServerSentEvent, SSEDecoder


def feed_all(decoder: SSEDecoder, *chunks: bytes) -> list[ServerSentEvent]:
    return [event for chunk in chunks for event in decoder.feed(chunk)]


@pytest.mark.parametrize("cut", [1, 2])
def test_bom_split_across_feeds_is_stripped(cut: int) -> None:
    bom = b"\xef\xbb\xbf"
    decoder = SSEDecoder()
    assert feed_all(decoder, b"", bom[:cut], bom[cut:], b"data: 1\n\n") == [ServerSentEvent("1")]


def test_partial_bom_prefix_that_is_not_a_bom_is_kept() -> None:
    assert SSEDecoder().feed(b"\xef\xbb") == []
    decoder = SSEDecoder(errors="replace")
    assert feed_all(decoder, b"\xef", b"data: x\n\n") == []  # "\ufffddata" is an unknown field
    assert feed_all(SSEDecoder(), b"d", b"ata: x\n\n") == [ServerSentEvent("x")]


def test_cr_at_end_of_feed_then_lf_is_one_line_ending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # The LF completes the CRLF; it is not a second (blank) line.
    assert decoder.feed(b"\ndata: b\r\n\r") == [ServerSentEvent("a\nb")]
    assert not decoder.pending


def test_cr_terminated_event_is_delivered_without_waiting_for_the_next_feed() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == [ServerSentEvent("a")]
    assert decoder.feed(b"\ndata: b\r\r") == [ServerSentEvent("b")]  # the LF is a blank line: no-op


def test_last_event_id_is_set_when_the_block_ends() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    # The second block is not finished: its id does not count yet.
    assert decoder.last_event_id == "1"
    assert decoder.pending
    decoder.feed(b"\n")
    assert decoder.last_event_id == "2"


def test_id_only_block_updates_last_event_id_without_an_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 7\n\n") == []
    assert decoder.last_event_id == "7"


def test_retry_is_remembered_across_events() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: 500\n\ndata: x\n\n") == [ServerSentEvent("x")]
    assert decoder.retry == 500
    decoder.feed(b"retry: bogus\n\n")
    assert decoder.retry == 500


def test_initial_last_event_id_is_used_until_the_server_sends_one() -> None:
    decoder = SSEDecoder(last_event_id="41")
    assert decoder.feed(b"data: x\n\nid: 42\ndata: y\n\n") == [
        ServerSentEvent("x", id="41"),
        ServerSentEvent("y", id="42"),
    ]


def test_invalid_utf8_raises_decode_error_with_position() -> None:
    decoder = SSEDecoder()
    with pytest.raises(DecodeError, match=r"invalid UTF-8 in SSE stream at line 3") as info:
        decoder.feed(b"data: ok\n\ndata: \xff\n\n")
    assert info.value.line == 3
    assert info.value.offset == 16


def test_events_before_an_error_in_the_same_feed_are_kept_on_the_error() -> None:
    decoder = SSEDecoder()
    with pytest.raises(DecodeError) as info:
        decoder.feed(b"data: a\n\ndata: b\n\ndata: \xc3\x28\n\n")
    assert info.value.partial == [ServerSentEvent("a"), ServerSentEvent("b")]


def test_invalid_utf8_split_across_feeds_is_detected() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: \xe2\x82")  # the start of a 3-byte sequence
    with pytest.raises(DecodeError, match="invalid UTF-8"):
        decoder.feed(b"x\n\n")


def test_valid_utf8_split_across_feeds_decodes() -> None:
    wire = "data: 🌊\n\n".encode()
    decoder = SSEDecoder()
    assert feed_all(decoder, wire[:8], wire[8:]) == [ServerSentEvent("🌊")]


def test_replace_mode_substitutes_like_a_browser() -> None:
    assert SSEDecoder(errors="replace").feed(b"data: a\xffb\n\n") == [ServerSentEvent("a\ufffdb")]


def test_decoder_refuses_to_continue_after_an_error() -> None:
    decoder = SSEDecoder()
    with pytest.raises(DecodeError):
        decoder.feed(b"data: \xff\n")
    with pytest.raises(DecodeError, match="cannot continue after an earlier error") as info:
        decoder.feed(b"data: fine\n\n")
    assert info.value.line == 1


def test_line_over_the_limit_in_one_feed_raises() -> None:
    decoder = SSEDecoder(max_line_size=10)
    assert decoder.feed(b"data: 1234\n\n") == [ServerSentEvent("1234")]  # exactly 10 bytes
    with pytest.raises(DecodeError, match=r"SSE line 3 exceeds max_line_size \(10 bytes") as info:
        decoder.feed(b"data: 12345\n\n")
    assert info.value.line == 3
    assert info.value.offset == 12


def test_unterminated_line_over_the_limit_raises_while_buffering() -> None:
    decoder = SSEDecoder(max_line_size=100)
    decoder.feed(b"data: " + b"x" * 90)
    with pytest.raises(DecodeError, match="exceeds max_line_size"):
        decoder.feed(b"x" * 20)


def test_comment_lines_are_bounded_too() -> None:
    with pytest.raises(DecodeError, match="exceeds max_line_size"):
        SSEDecoder(max_line_size=8).feed(b": " + b"c" * 20 + b"\n")


def test_event_over_the_limit_raises() -> None:
    decoder = SSEDecoder(max_event_size=12)
    # "12345\n123456" is exactly 12 bytes of data.
    assert decoder.feed(b"data: 12345\ndata:123456\n\n") == [ServerSentEvent("12345\n123456")]
    with pytest.raises(DecodeError, match=r"SSE event exceeds max_event_size \(12 bytes") as info:
        decoder.feed(b"data: 12345\ndata: 1234567\n\n")
    assert info.value.line == 5
    assert info.value.offset == 37  # 25 bytes in the first feed, 12 in the line before


def test_default_line_limit_leaves_room_for_a_maximal_data_line() -> None:
    decoder = SSEDecoder(max_event_size=5)
    assert decoder.feed(b"data: 12345\n\n") == [ServerSentEvent("12345")]
    with pytest.raises(DecodeError, match="exceeds max_line_size"):
        decoder.feed(b"data: 123456\n\n")
    decoder = SSEDecoder(max_event_size=5)
    with pytest.raises(DecodeError, match="exceeds max_event_size"):
        decoder.feed(b"data: 12\ndata: 345\n\n")


def test_event_size_counts_only_the_current_event() -> None:
    decoder = SSEDecoder(max_event_size=10)
    events = feed_all(decoder, *[b"data: 0123456789\n\n"] * 100)
    assert len(events) == 100


def test_an_8_mib_single_line_event_fed_in_small_chunks_decodes() -> None:
    # Buffering must be linear: a quadratic re-scan of the buffer would copy
    # terabytes here and never finish within the suite's timeout.
    payload = b"x" * (8 * 1024 * 1024)
    wire = b"data: " + payload + b"\n\n"
    decoder = SSEDecoder()
    chunk = 1024
    out = feed_all(decoder, *(wire[i : i + chunk] for i in range(0, len(wire), chunk)))
    assert len(out) == 1
    assert out[0].data is not None
    assert len(out[0].data) == len(payload)


@pytest.mark.parametrize(
    "kwargs", [{"max_event_size": 0}, {"max_line_size": 0}, {"errors": "ignore"}]
)
def test_bad_decoder_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        SSEDecoder(**kwargs)  # type: ignore[arg-type]


def test_feed_accepts_bytes_like_and_refuses_text() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(bytearray(b"data: a\n\n")) == [ServerSentEvent("a")]
    assert decoder.feed(memoryview(b"data: b\n\n")) == [ServerSentEvent("b")]
    with pytest.raises(TypeError, match="feed\\(\\) takes bytes, got str"):
        decoder.feed("data: c\n\n")  # type: ignore[arg-type]


def test_pending_tells_whether_an_event_would_be_lost_at_eof() -> None:
    decoder = SSEDecoder()
    assert not decoder.pending
    decoder.feed(b"data: a")
    assert decoder.pending
    decoder.feed(b"\n")
    assert decoder.pending
    decoder.feed(b"\n")
    assert not decoder.pending


def test_decoded_event_has_no_comment_and_a_default_type_of_none() -> None:
    (event,) = SSEDecoder().feed(b": c\nevent: message\ndata: x\n\n")
    assert event == ServerSentEvent("x", event="message")
    assert event.comment is None
