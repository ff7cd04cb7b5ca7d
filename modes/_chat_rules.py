"""The chat's rules with no sockets at all (the h11 lesson): names, commands, rooms, who hears what.

The server owns the sockets and asks a ``Chat`` what to do; the answer is a list of actions:

- ``Delivery(to, text)``: send the line ``text`` to each participant numbered in ``to``;
- ``HangUp(who)``: close ``who``'s connection once everything queued for it has gone out (/quit).

    chat = Chat()
    who, actions = chat.join()                  # a new connection: guest-1, in #lobby
    actions = chat.receive(who, b"/name ada")   # one whole line, without its newline
    actions = chat.leave(who, "connection reset")

Every text a participant typed is made visible before it goes to anyone else (``relayed``): an
escape sequence from one student's netcat never reaches another student's terminal as a command,
an invisible, bidi or tag character arrives spelled out, and padding cannot push words onto a row of
their own.  Names are shown honestly too (``check_name``): NFKC-normalised, one alphabet, no
invisible letters, and none that looks like a name already here.

``Allowance`` is the flood rule (IRC's): a paste goes through at once, then a steady trickle; the
server stops reading a participant over it, so one flooder never crowds out the rest.
"""
from __future__ import annotations

import re
import unicodedata

from narration.crowd import Delivery, HangUp
from narration.framing import MAX_LINE, BadText, TooLong, decode_line
from narration.text import visible

NAME_LIMIT = 20                  # characters in a name or a room name
LOBBY = "#lobby"
COMMANDS = "/name NAME, /list, /msg NAME TEXT, /join #ROOM, /rooms, /help, /quit"
HELP = f"* commands: {COMMANDS}; any other line goes to everyone in your room"

RELAY_LIMIT = 8192               # characters of a line as others see it (escapes included)
FLOOD_BURST = 100                # lines a participant may send at once (a paste) ...
FLOOD_RATE = 20.0                # ... then per second

_NAME = re.compile(r"\w[\w.-]*")          # letters and digits of any script, then also . and -
_GUEST = re.compile(r"guest-\d+", re.IGNORECASE)
_BLANKS = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000 ]{2,}|\t")   # padding: one space
# The server's own lines start "* ".  Padding of any visible kind ("......") can still wrap a typed
# "* bob left" to the start of a row, so in typed text a star before a space is marked: "\* bob left".
_STAR = re.compile(r"([*\u066d\u204e\u2217\u2731\ufe61\uff0a])(?=\s)")
# Letters that draw nothing (Hangul fillers): a name of them alone looks empty.
_INVISIBLE_LETTERS = {0x115F, 0x1160, 0x3164, 0xFFA0}
# Letters of other alphabets that look like Latin ones (a small part of Unicode's confusables):
# two names with the same skeleton look the same on a projector.
_LOOKALIKE = str.maketrans({
    **dict(zip("аеһіјӏоԛрсԁѕԝхуькмнтвгпѵ", "aehijloqpcdswxybkmhtbrnv")),   # Cyrillic
    **dict(zip("αβεηικνορτυχω", "abenikvoptuxw")),                         # Greek
    "ı": "i", "ɑ": "a", "ɡ": "g", "0": "o", "1": "l", "I": "l", "|": "l"})
_SHARED_SCRIPTS = {"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO"}   # written together, as in Japanese


class Person:
    __slots__ = ("name", "room")

    def __init__(self, name: str, room: str = LOBBY) -> None:
        self.name = name
        self.room = room


def normal(text: str) -> str:
    """One spelling for what looks the same (NFKC): fullwidth ａｄａ is ada, ﬁ is fi."""
    return unicodedata.normalize("NFKC", text)


def skeleton(name: str) -> str:
    """What a name looks like, for comparing: look-alike letters made Latin, then case folded."""
    return normal(name).translate(_LOOKALIKE).casefold().replace("rn", "m")


def scripts(name: str) -> list[str]:
    """The alphabets a name's letters come from, in order of first use ("LATIN", "CYRILLIC"...)."""
    found: dict[str, None] = {}
    for char in name:
        if char.isalpha():
            found[unicodedata.name(char, "UNKNOWN").split()[0]] = None
    return list(found)


def check_name(name: str, taken) -> str:
    """The name (NFKC-normalised) if it is acceptable and free, else BadText whose text is the
    reason to show.  ``taken``: the names of everyone else here."""
    name = normal(name)
    if not name:
        raise BadText("error: /name needs a name, e.g. /name ada")
    if len(name) > NAME_LIMIT:
        raise BadText(f"error: a name has at most {NAME_LIMIT} characters")
    if not _NAME.fullmatch(name):
        raise BadText("error: a name is letters and digits, and may also use '-', '_' and '.'")
    if any(ord(char) in _INVISIBLE_LETTERS for char in name):
        raise BadText(f"error: a name cannot use letters that draw nothing, such as {relayed(chr(0x3164))}")
    alphabets = [script for script in scripts(name) if script not in _SHARED_SCRIPTS]
    if len(alphabets) > 1:
        raise BadText(f"error: a name mixes {alphabets[0].title()} and {alphabets[1].title()} letters,"
                      " which can look alike; use one alphabet")
    if _GUEST.fullmatch(name):
        raise BadText("error: guest-N names are handed out to newcomers; choose another")
    for other in taken:
        if other.casefold() == name.casefold():
            raise BadText(f"error: the name {name} is taken; choose another")
        if skeleton(other) == skeleton(name):
            raise BadText(f"error: the name {name} looks like {other}, who is here; choose another")
    return name


def relayed(text: str) -> str:
    """A typed line as others see it: padding squeezed to one space, a star before a space marked
    (so nothing typed can look like the server's own "* ..." lines, wherever a terminal wraps it),
    every control, invisible, bidi or tag character spelled out; BadText if that is too long to
    relay."""
    shown = visible(_STAR.sub(r"\\\1", _BLANKS.sub(" ", text)))
    if len(shown) > RELAY_LIMIT:
        raise BadText(f"error: line too long to relay ({len(shown)} characters once made visible;"
                      f" the limit is {RELAY_LIMIT})")
    return shown


class Allowance:
    """The flood rule as a token bucket, with no clock of its own (the caller passes ``now``):
    FLOOD_BURST lines at once, then FLOOD_RATE a second; over it, the participant waits."""

    __slots__ = ("at", "credit")

    def __init__(self, now: float) -> None:
        self.credit = float(FLOOD_BURST)
        self.at = now

    def ready(self, now: float) -> bool:
        """Whether a line may be handled now."""
        self.credit = min(float(FLOOD_BURST), self.credit + (now - self.at) * FLOOD_RATE)
        self.at = now
        return self.credit >= 1.0 - 1e-9       # at ready_at() exactly, whatever the rounding

    def spend(self) -> None:
        self.credit -= 1.0

    def ready_at(self) -> float:
        """When ``ready`` will next say yes."""
        return self.at + max(0.0, 1.0 - self.credit) / FLOOD_RATE


def check_room(room: str) -> str:
    """'#lab' from '#lab' or 'lab' (rooms are lower case), else BadText with the reason."""
    bare = room.removeprefix("#").lower()
    if not bare:
        raise BadText("error: /join needs a room, e.g. /join #homework")
    if len(bare) > NAME_LIMIT or not _NAME.fullmatch(bare):
        raise BadText(f"error: a room is '#' then up to {NAME_LIMIT} letters, digits, '-', '_' or '.'")
    return f"#{bare}"


def split_command(text: str) -> tuple[str, str]:
    """('/msg', 'bob hi') from '/msg bob hi'; ('', text) for a line that is not a command."""
    if not text.startswith("/"):
        return "", text
    command, _, rest = text.partition(" ")
    return command.lower(), rest.strip()


def names_text(names: list[str]) -> str:
    return ", ".join(names) if names else "nobody else"


class Chat:
    """Who is here, in which room, under which name; and what each line they type causes."""

    def __init__(self) -> None:
        self.people: dict[int, Person] = {}
        self.rooms: dict[str, dict[int, None]] = {LOBBY: {}}   # room -> members, in joining order
        self._arrivals = 0

    # -- questions -----------------------------------------------------------------------------
    def name(self, who: int) -> str:
        return self.people[who].name

    def find(self, name: str) -> int | None:
        wanted = normal(name).casefold()
        return next((who for who, person in self.people.items() if person.name.casefold() == wanted), None)

    def others_in_room(self, who: int) -> tuple[int, ...]:
        return tuple(member for member in self.rooms[self.people[who].room] if member != who)

    # -- what happens ----------------------------------------------------------------------------
    def join(self) -> tuple[int, list]:
        """A new connection: a guest name, the lobby, a welcome, and a word to everyone there."""
        self._arrivals += 1
        who = self._arrivals
        name = f"guest-{who}"
        while self.find(name) is not None:      # unlikely: someone chose a guest-looking name
            name = f"{name}-"
        self.people[who] = Person(name)
        others = tuple(self.rooms[LOBBY])
        self.rooms[LOBBY][who] = None
        welcome = Delivery((who,), f"* welcome, {name}! try /help")
        return who, [welcome, Delivery(others, f"* {name} joined {LOBBY}")] if others else [welcome]

    def receive(self, who: int, message: bytes | TooLong) -> list:
        """One whole line from ``who`` (its newline already removed)."""
        return [action for action in self._react(who, message) if not isinstance(action, Delivery) or action.to]

    def _react(self, who: int, message: bytes | TooLong) -> list:
        try:
            text = decode_line(message, limit=MAX_LINE)
        except BadText as problem:
            return [Delivery((who,), str(problem))]
        command, rest = split_command(text)
        handler = {
            "": self._say, "/name": self._rename, "/list": self._list, "/msg": self._direct,
            "/join": self._join_room, "/rooms": self._list_rooms, "/help": self._help, "/quit": self._quit,
        }.get(command)
        if handler is None:
            return [Delivery((who,), f"* unknown command {relayed(command[:NAME_LIMIT])}; {HELP[2:]}")]
        try:
            return handler(who, rest)
        except BadText as problem:
            return [Delivery((who,), str(problem))]

    def leave(self, who: int, reason: str = "") -> list:
        """``who`` is gone (quit, closed, reset, too slow): tell the room they were in."""
        person = self.people.pop(who)
        others = self._leave_room(who, person.room)
        why = f" ({reason})" if reason else ""
        return [Delivery(others, f"* {person.name} left{why}")] if others else []

    # -- one method per command ------------------------------------------------------------------
    def _say(self, who: int, text: str) -> list:
        others = self.others_in_room(who)
        if not others:
            return [Delivery((who,), f"* nobody else is in {self.people[who].room} to hear that")]
        return [Delivery(others, f"{self.name(who)}: {relayed(text)}")]

    def _rename(self, who: int, wanted: str) -> list:
        old = self.name(who)
        if normal(wanted) == old:
            return [Delivery((who,), f"* you are already {old}")]
        wanted = check_name(wanted, [person.name for member, person in self.people.items() if member != who])
        self.people[who].name = wanted
        return [Delivery((who,), f"* you are now {wanted}"),
                Delivery(self.others_in_room(who), f"* {old} is now {wanted}")]

    def _list(self, who: int, _: str) -> list:
        room = self.people[who].room
        names = [self.name(member) + (" (you)" if member == who else "") for member in self.rooms[room]]
        return [Delivery((who,), f"* in {room}: {', '.join(names)}")]

    def _direct(self, who: int, rest: str) -> list:
        target, _, text = rest.partition(" ")
        if not target or not text.strip():
            raise BadText("error: usage: /msg NAME TEXT")
        to = self.find(target)
        if to is None:
            raise BadText(f"error: nobody here is called {relayed(target[:NAME_LIMIT])} (/list shows who is here)")
        if to == who:
            raise BadText("error: that is you; /msg someone else")
        return [Delivery((to,), f"[dm] {self.name(who)}: {relayed(text.strip())}")]

    def _join_room(self, who: int, wanted: str) -> list:
        room = check_room(wanted)
        person = self.people[who]
        if room == person.room:
            return [Delivery((who,), f"* you are already in {room}")]
        left = self._leave_room(who, person.room)
        here = tuple(self.rooms.setdefault(room, {}))
        self.rooms[room][who] = None
        person.room = room
        names = [self.name(member) for member in here]
        return [Delivery(left, f"* {person.name} went to {room}"),
                Delivery(here, f"* {person.name} joined {room}"),
                Delivery((who,), f"* you are in {room} with {names_text(names)}")]

    def _list_rooms(self, who: int, _: str) -> list:
        counts = [f"{room} ({len(members)})" for room, members in sorted(self.rooms.items())]
        return [Delivery((who,), f"* rooms: {', '.join(counts)}; /join #ROOM goes to one (or makes it)")]

    def _help(self, who: int, _: str) -> list:
        return [Delivery((who,), HELP)]

    def _quit(self, who: int, _: str) -> list:
        return [HangUp(who), *self.leave(who)]   # closing the connection is the goodbye

    def _leave_room(self, who: int, room: str) -> tuple[int, ...]:
        members = self.rooms[room]
        del members[who]
        if not members and room != LOBBY:
            del self.rooms[room]          # an empty room vanishes; the lobby always stays
        return tuple(members)
