"""Property-based tests (hypothesis) for every parser and message rule: no input makes one raise
anything but its own error type, and what it returns is well formed."""
from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from modes._chat_rules import Chat, Delivery, HangUp, check_name, check_room, split_command
from modes.echo import echo_reply
from modes.number_add import answer, parse_client_message
from modes.ordering import received_before
from modes.relay import is_bye, labelled
from narration.framing import BadText, LineBuffer, TooLong, decode_line, reply_line
from narration.text import visible

lines = st.text(max_size=80)
raw = st.binary(max_size=120)


@given(lines)
def test_number_add_parser_raises_only_its_own_error(text):
    try:
        name, number = parse_client_message(text)
    except BadText as problem:
        assert "Client of NAME: N" in str(problem)
    else:
        assert isinstance(number, int) and name and name == name.strip()
        assert answer(text).reply.endswith(f"Combined: {42 + number}") or not answer(text).keep_serving


@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and ":" not in s and "\n" not in s),
       st.integers(-10**6, 10**6))
def test_number_add_reads_back_what_a_client_writes(name, number):
    assert parse_client_message(f"Client of {name}: {number}") == (name.strip(), number)


@given(lines, st.tuples(st.just("127.0.0.1"), st.integers(1, 65535)))
def test_every_reply_is_exactly_one_line(text, address):
    for reply in (echo_reply(text, address), received_before(("X", text), ("Y", text)), labelled("X", text)):
        encoded = reply_line(reply)
        assert encoded.endswith(b"\n") and encoded.count(b"\n") == 1


@given(lines)
def test_bye_is_only_a_whole_bye(text):
    assert is_bye(text) == (text.strip().lower() == "bye")


@given(raw)
def test_decode_line_gives_text_or_its_own_error(data):
    try:
        assert isinstance(decode_line(data), str)
    except BadText as problem:
        assert str(problem).startswith("error: ")


@given(st.lists(raw, max_size=12), st.integers(1, 64))
def test_the_framer_never_holds_more_than_its_limit(chunks, limit):
    buffer = LineBuffer(limit=limit)
    for chunk in chunks:
        for message in buffer.feed(chunk):
            assert isinstance(message, TooLong) or len(message) <= limit
        assert len(buffer._partial) <= limit


@given(lines, st.sets(st.text(max_size=10)))
def test_chat_names_and_rooms_raise_only_their_own_error(text, taken):
    for check in (lambda: check_name(text, taken), lambda: check_room(text)):
        try:
            result = check()
        except BadText as problem:
            assert str(problem).startswith("error: ")
        else:
            assert result.isprintable() and " " not in result


@given(lines)
def test_split_command_and_visible(text):
    command, rest = split_command(text)
    assert command == "" or command.startswith("/")
    assert not any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in visible(text))  # no ESC, BEL, C1


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 2), st.one_of(raw, st.builds(TooLong, st.integers(0, 10**7)))),
                max_size=25))
def test_the_chat_rules_survive_any_sequence_of_lines(script):
    chat = Chat()
    people = [chat.join()[0] for _ in range(3)]
    for index, message in script:
        who = people[index]
        if who not in chat.people:
            continue
        for action in chat.receive(who, message):
            assert isinstance(action, (Delivery, HangUp))
            if isinstance(action, Delivery):
                assert "\n" not in action.text and all(to in chat.people or to == who for to in action.to)
