"""chat shows people honestly: the rules alone, no sockets (issue 12, item 6).

Names are NFKC-normalised, one alphabet each, with no letter that draws nothing and none that looks
like a name already here; what one person types reaches the others with every invisible, bidi or
tag character spelled out, and no padding that could push words onto a row of their own.
"""
from __future__ import annotations

import pytest

from modes._chat_rules import FLOOD_BURST, FLOOD_RATE, RELAY_LIMIT, Allowance, Chat, Delivery


def crowd(*names: str) -> tuple[Chat, list[int]]:
    chat = Chat()
    people = []
    for name in names:
        who, _ = chat.join()
        assert chat.receive(who, f"/name {name}".encode())[0] == Delivery((who,), f"* you are now {name}")
        people.append(who)
    return chat, people


def rename(chat: Chat, who: int, name: str) -> str:
    """What the server answers ``who`` for /name NAME."""
    return chat.receive(who, f"/name {name}".encode())[0].text


def test_names_are_nfkc_normalised():
    chat, (ada,) = crowd("ada")
    who, _ = chat.join()
    assert rename(chat, who, "ｂｏｂ") == "* you are now bob"       # fullwidth letters are plain ones
    assert chat.name(who) == "bob"
    assert chat.receive(ada, "/msg ＢＯＢ hi".encode()) == [Delivery((who,), "[dm] ada: hi")]


@pytest.mark.parametrize("name, reason", [
    ("\u0430lice", "mixes Cyrillic and Latin letters"),           # a Cyrillic а beside Latin lice
    ("alic\u0435", "mixes Latin and Cyrillic letters"),
    ("\u3164", "letters that draw nothing"),                      # a Hangul filler: an invisible name
    ("\u3164\u3164\u3164", "letters that draw nothing"),
    ("bob\u3164", "letters that draw nothing"),                   # looks like "bob "
    ("\u0430\u0440\u0435", "looks like ape, who is here"),         # all Cyrillic, all look-alikes
    ("b0b", "looks like bob, who is here"),
    ("aIice", "looks like alice, who is here"),                  # a capital I for the l
])
def test_confusable_and_invisible_names_are_refused_with_the_reason(name, reason):
    chat, (_, _, _, newcomer) = crowd("alice", "bob", "ape", "newcomer")
    answer = rename(chat, newcomer, name)
    assert answer.startswith("error: ") and reason in answer
    assert chat.name(newcomer) == "newcomer"


@pytest.mark.parametrize("name", ["José", "李雷", "ひらがなカタカナ漢字", "Ἀλέξανδρος", "Дмитрий"])
def test_names_in_one_alphabet_are_welcome(name):
    chat, (_, newcomer) = crowd("alice", "newcomer")
    assert rename(chat, newcomer, name) == f"* you are now {name}"


@pytest.mark.parametrize("char, spelling", [
    ("\u061c", "\\u061c"), ("\u00ad", "\\xad"), ("\ufeff", "\\ufeff"), ("\u2060", "\\u2060"),
    ("\U000e0041", "\\U000e0041"), ("\u3164", "\\u3164"), ("\u202e", "\\u202e"), ("\x1b", "\\x1b"),
])
def test_every_invisible_bidi_or_tag_character_is_spelled_out(char, spelling):
    chat, (ada, bob) = crowd("ada", "bob")
    assert chat.receive(ada, f"a{char}b".encode()) == [Delivery((bob,), f"ada: a{spelling}b")]
    assert chat.receive(ada, f"/msg bob a{char}b".encode()) == [Delivery((bob,), f"[dm] ada: a{spelling}b")]


@pytest.mark.parametrize("padding", [" " * 200, "\t" * 30, "\u3000" * 80, "\u00a0 " * 60])
def test_padding_cannot_put_words_on_a_row_of_their_own(padding):
    """`* bob left` pushed to the start of a terminal row would look like the server's own line."""
    chat, (ada, bob, _) = crowd("ada", "bob", "cy")
    actions = chat.receive(ada, f"hi{padding}* bob left".encode())
    assert actions == [Delivery((bob, 3), "ada: hi \\* bob left")]


@pytest.mark.parametrize("padding", ["." * 200, "_" * 75, "-=" * 40])
def test_visible_padding_cannot_make_a_line_look_like_the_servers_own(padding):
    """Any visible padding can wrap `* bob left` to the start of a row at some width; a typed star
    before a space is marked, so no row of typed text starts like the server's `* ...` lines."""
    chat, (ada, bob, _) = crowd("ada", "bob", "cy")
    for star in "*\uff0a\u2217":
        (delivery,) = chat.receive(ada, f"hi{padding}{star} bob left".encode())
        assert delivery == Delivery((bob, 3), f"ada: hi{padding}\\{star} bob left")
    assert chat.receive(ada, b"a*b is fine") == [Delivery((bob, 3), "ada: a*b is fine")]


def test_a_line_too_long_once_made_visible_is_refused_before_anyone_gets_it():
    """Control bytes grow fourfold when spelled out: the limit is on what the others would get."""
    chat, (ada, _) = crowd("ada", "bob")
    limit_in_escapes = RELAY_LIMIT // 4
    assert chat.receive(ada, b"\x01" * limit_in_escapes)[0].text.startswith("ada: \\x01")
    assert chat.receive(ada, b"\x01" * (limit_in_escapes + 1)) == [Delivery((ada,), (
        f"error: line too long to relay ({RELAY_LIMIT + 4} characters once made visible;"
        f" the limit is {RELAY_LIMIT})"))]


def test_the_flood_allowance_is_a_burst_then_a_steady_rate():
    allowance = Allowance(now=100.0)
    for _ in range(FLOOD_BURST):
        assert allowance.ready(100.0)
        allowance.spend()
    assert not allowance.ready(100.0)
    assert allowance.ready_at() == pytest.approx(100.0 + 1 / FLOOD_RATE)
    assert allowance.ready(100.0 + 1 / FLOOD_RATE)
    allowance.spend()
    assert not allowance.ready(100.0 + 1 / FLOOD_RATE)
    assert allowance.ready(1000.0) and allowance.credit == FLOOD_BURST   # an idle sender earns no more
