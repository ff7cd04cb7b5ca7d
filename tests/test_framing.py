"""The framing rules, with no sockets: lines, pauses, limits, bad text."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from narration.framing import BadText, LineBuffer, TooLong, decode_line, reply_line


def test_lines_split_at_newlines_and_drop_carriage_returns():
    buffer = LineBuffer()
    assert buffer.feed(b"one\r\ntwo\nthr") == [b"one", b"two"]
    assert buffer.pending
    assert buffer.feed(b"ee\n") == [b"three"]
    assert not buffer.pending


def test_a_line_without_newline_waits_until_the_peer_pauses():
    buffer = LineBuffer()
    assert buffer.feed(b"hello", quiet=lambda: False) == []
    assert buffer.feed(b" world", quiet=lambda: True) == [b"hello world"]


def test_quiet_is_only_asked_when_a_line_is_unfinished():
    asked = []
    LineBuffer().feed(b"done\n", quiet=lambda: asked.append(1) or True)
    assert asked == []


def test_flush_gives_the_unfinished_line_once():
    buffer = LineBuffer()
    buffer.feed(b"tail")
    assert buffer.flush() == [b"tail"]
    assert buffer.flush() == []


def test_an_over_long_line_becomes_TooLong_and_the_next_line_is_fine():
    buffer = LineBuffer(limit=10)
    assert buffer.feed(b"x" * 6) == []
    assert buffer.feed(b"y" * 6) == []
    assert buffer.feed(b"z" * 100 + b"\nok\n") == [TooLong(112), b"ok"]


def test_memory_stays_bounded_while_dropping():
    buffer = LineBuffer(limit=10)
    for _ in range(1000):
        buffer.feed(b"x" * 1000)
    assert len(buffer._partial) == 0


def test_decode_line_explains_what_is_wrong():
    assert decode_line(b"hi") == "hi"
    for bad, words in ((b"\xff\xfe", "not UTF-8"), (b"   ", "empty line"), (TooLong(99), "too long")):
        try:
            decode_line(bad)
        except BadText as problem:
            assert words in str(problem)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_reply_line_is_exactly_one_line():
    assert reply_line("a\nb\rc") == b"a b c\n"


@given(st.lists(st.binary(max_size=40), max_size=20), st.data())
def test_any_chopping_of_the_stream_gives_the_same_messages(pieces, data):
    stream = b"".join(pieces)
    whole = LineBuffer(limit=64)
    expected = whole.feed(stream) + whole.flush()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chopped = LineBuffer(limit=64)
    got = []
    start = 0
    for cut in [*cuts, len(stream)]:
        got += chopped.feed(stream[start:cut])
        start = cut
    got += chopped.flush()
    assert got == expected


@given(st.binary(max_size=200))
def test_decode_line_raises_nothing_but_BadText(raw):
    try:
        assert isinstance(decode_line(raw), str)
    except BadText:
        pass


def test_a_telnet_stream_is_read_as_typed():
    lines = LineBuffer()
    assert lines.feed(b"\xff\xfd\x01\xff\xfb\x18\xff\xfa\x18\x00VT100\xff\xf0") == []
    assert lines.waits_for_newline                       # telnet: a pause between keys ends nothing
    typed = [message for key in b"helo\x08lo\r\n" for message in lines.feed(bytes([key]), quiet=lambda: True)]
    assert typed == [b"hello"]
    assert lines.feed(b"a\xff\xffb\r\x00x\ry\r\n") == [b"a\xffb", b"x", b"y"]


def test_a_stream_that_does_not_open_with_iac_is_not_telnet():
    lines = LineBuffer()
    assert lines.feed(b"plain\x08text\n") == [b"plain\x08text"]
    assert not lines.waits_for_newline


def test_a_backspace_never_takes_back_an_enter_in_the_same_packet():
    lines = LineBuffer()
    assert lines.feed(bytes([255, 251, 1]) + b"ab\r\n\x08cd\r\n") == [b"ab", b"cd"]
