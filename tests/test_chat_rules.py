"""chat: the rules alone, no sockets: names, commands, rooms, direct messages, who hears what."""
from __future__ import annotations

import pytest

from modes._chat_rules import HELP, LOBBY, NAME_LIMIT, Chat, Delivery, HangUp, check_name, check_room
from narration.framing import BadText, TooLong
from narration.text import visible


def crowd(*names: str) -> tuple[Chat, list[int]]:
    """A chat with these people in the lobby, named in joining order."""
    chat = Chat()
    people = []
    for name in names:
        who, _ = chat.join()
        chat.receive(who, f"/name {name}".encode())
        people.append(who)
    return chat, people


def test_newcomers_get_guest_names_a_welcome_and_an_announcement():
    chat = Chat()
    first, actions = chat.join()
    assert actions == [Delivery((first,), "* welcome, guest-1! try /help")]
    second, actions = chat.join()
    assert actions == [Delivery((second,), "* welcome, guest-2! try /help"),
                       Delivery((first,), "* guest-2 joined #lobby")]
    assert chat.receive(second, b"/list") == [Delivery((second,), "* in #lobby: guest-1, guest-2 (you)")]


def test_a_line_goes_to_everyone_else_in_the_room_with_the_senders_name():
    chat, (ada, bob, cy) = crowd("ada", "bob", "cy")
    assert chat.receive(ada, b"hello all") == [Delivery((bob, cy), "ada: hello all")]


def test_a_line_with_nobody_to_hear_it_says_so():
    chat, (ada,) = crowd("ada")
    assert chat.receive(ada, b"anyone?") == [Delivery((ada,), "* nobody else is in #lobby to hear that")]


@pytest.mark.parametrize("name", ["ada", "José", "李雷", "a.b-c_d", "x" * NAME_LIMIT])
def test_good_names(name):
    assert check_name(name, taken=set()) == name


@pytest.mark.parametrize("name, reason", [
    ("", "needs a name"),
    ("x" * (NAME_LIMIT + 1), f"at most {NAME_LIMIT} characters"),
    ("ada lovelace", "letters and digits"),
    ("\x1b[31mred", "letters and digits"),
    ("bob:", "letters and digits"),
    ("*admin", "letters and digits"),
    ("#lobby", "letters and digits"),
    ("guest-7", "handed out"),
    ("BOB", "taken"),
])
def test_bad_names_are_refused_with_the_reason(name, reason):
    with pytest.raises(BadText, match=reason.replace("*", r"\*")):
        check_name(name, taken={"bob"})


def test_renaming_tells_the_room_and_refuses_a_taken_name():
    chat, (ada, bob) = crowd("ada", "bob")
    assert chat.receive(ada, b"/name Adele") == [Delivery((ada,), "* you are now Adele"),
                                                 Delivery((bob,), "* ada is now Adele")]
    assert chat.receive(bob, b"/name adele") == [Delivery((bob,), "error: the name adele is taken; choose another")]
    assert chat.receive(bob, b"/name bob") == [Delivery((bob,), "* you are already bob")]
    assert chat.receive(bob, b"/name Bob") == [Delivery((bob,), "* you are now Bob"),
                                               Delivery((ada,), "* bob is now Bob")]


def test_direct_messages_reach_only_their_target():
    chat, (ada, bob, _cy) = crowd("ada", "bob", "cy")
    assert chat.receive(ada, b"/msg BOB  psst, lab at 3") == [Delivery((bob,), "[dm] ada: psst, lab at 3")]
    assert chat.receive(ada, b"/msg nobody hi") == [
        Delivery((ada,), "error: nobody here is called nobody (/list shows who is here)")]
    assert chat.receive(ada, b"/msg ada hi") == [Delivery((ada,), "error: that is you; /msg someone else")]
    assert chat.receive(ada, b"/msg bob") == [Delivery((ada,), "error: usage: /msg NAME TEXT")]


def test_rooms_split_the_conversation():
    chat, (ada, bob, cy) = crowd("ada", "bob", "cy")
    assert chat.receive(ada, b"/join lab") == [Delivery((bob, cy), "* ada went to #lab"),
                                               Delivery((ada,), "* you are in #lab with nobody else")]
    assert chat.receive(bob, b"/join #LAB") == [Delivery((cy,), "* bob went to #lab"),
                                                Delivery((ada,), "* bob joined #lab"),
                                                Delivery((bob,), "* you are in #lab with ada")]
    assert chat.receive(ada, b"in the lab") == [Delivery((bob,), "ada: in the lab")]
    assert chat.receive(cy, b"lonely") == [Delivery((cy,), "* nobody else is in #lobby to hear that")]
    assert chat.receive(cy, b"/rooms") == [
        Delivery((cy,), "* rooms: #lab (2), #lobby (1); /join #ROOM goes to one (or makes it)")]
    assert chat.receive(ada, b"/list") == [Delivery((ada,), "* in #lab: ada (you), bob")]
    assert chat.receive(ada, b"/join #lab") == [Delivery((ada,), "* you are already in #lab")]
    assert chat.receive(ada, b"/join #bad room") == [
        Delivery((ada,), "error: a room is '#' then up to 20 letters, digits, '-', '_' or '.'")]


def test_an_empty_room_vanishes_but_the_lobby_stays():
    chat, (ada, bob) = crowd("ada", "bob")
    chat.receive(ada, b"/join #lab")
    chat.receive(ada, b"/join #lobby")
    chat.receive(bob, b"/join #lab")
    chat.receive(bob, b"/join #lobby")
    assert set(chat.rooms) == {LOBBY}
    chat.receive(ada, b"/join #lab")
    chat.receive(bob, b"/join #lab")
    assert set(chat.rooms) == {LOBBY, "#lab"} and not chat.rooms[LOBBY]


def test_help_and_unknown_commands():
    chat, (ada,) = crowd("ada")
    assert chat.receive(ada, b"/help") == [Delivery((ada,), HELP)]
    [reply] = chat.receive(ada, b"/dance now")
    assert reply.to == (ada,) and reply.text.startswith("* unknown command /dance; commands: /name NAME")


def test_quit_hangs_up_and_tells_the_room():
    chat, (ada, bob) = crowd("ada", "bob")
    assert chat.receive(ada, b"/QUIT") == [HangUp(ada), Delivery((bob,), "* ada left")]
    assert chat.find("ada") is None
    assert chat.receive(bob, b"still here?") == [Delivery((bob,), "* nobody else is in #lobby to hear that")]


def test_leaving_for_a_reason_is_announced_with_it():
    chat, (ada, bob) = crowd("ada", "bob")
    assert chat.leave(bob, "connection reset") == [Delivery((ada,), "* bob left (connection reset)")]
    assert chat.leave(ada) == []          # nobody left to tell


def test_bad_lines_get_a_one_line_answer():
    chat, (ada, _bob) = crowd("ada", "bob")
    assert chat.receive(ada, b"\xff\xfe") == [Delivery((ada,), "error: that was not UTF-8 text")]
    assert chat.receive(ada, b"   ") == [Delivery((ada,), "error: empty line; type some text")]
    [reply] = chat.receive(ada, TooLong(70_000))
    assert reply.to == (ada,) and reply.text.startswith("error: line too long (70000 bytes")


def test_terminal_control_codes_are_made_visible_before_anyone_sees_them():
    assert visible("\x1b[2J\x07bell\ttab \u202eevil") == "\\x1b[2J\\x07bell\ttab \\u202eevil"
    chat, (ada, bob) = crowd("ada", "bob")
    assert chat.receive(ada, b"\x1b]0;owned\x07 hi") == [Delivery((bob,), "ada: \\x1b]0;owned\\x07 hi")]
    assert chat.receive(ada, b"/msg bob \x1b[31mred") == [Delivery((bob,), "[dm] ada: \\x1b[31mred")]


def test_room_names_are_normalised():
    assert check_room("#Lab") == "#lab" and check_room("lab") == "#lab"
    with pytest.raises(BadText, match="needs a room"):
        check_room("#")
