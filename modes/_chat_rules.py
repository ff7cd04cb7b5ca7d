"""The chat's rules with no sockets at all (the h11 lesson): names, commands, rooms, who hears what.

The server owns the sockets and asks a ``Chat`` what to do; the answer is a list of actions:

- ``Delivery(to, text)``: send the line ``text`` to each participant numbered in ``to``;
- ``HangUp(who)``: close ``who``'s connection once everything queued for it has gone out (/quit).

    chat = Chat()
    who, actions = chat.join()                  # a new connection: guest-1, in #lobby
    actions = chat.receive(who, b"/name ada")   # one whole line, without its newline
    actions = chat.leave(who, "connection reset")

Every text a participant typed is made visible before it goes to anyone else (``visible``): an
escape sequence from one student's netcat never reaches another student's terminal as a command.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from narration.framing import MAX_LINE, BadText, TooLong, decode_line
from narration.text import visible

NAME_LIMIT = 20                  # characters in a name or a room name
LOBBY = "#lobby"
COMMANDS = "/name NAME, /list, /msg NAME TEXT, /join #ROOM, /rooms, /help, /quit"
HELP = f"* commands: {COMMANDS}; any other line goes to everyone in your room"

_NAME = re.compile(r"\w[\w.-]*")          # letters and digits of any script, then also . and -
_GUEST = re.compile(r"guest-\d+", re.IGNORECASE)


class Delivery(NamedTuple):
    """One line (no newline) for each participant numbered in ``to``, in that order."""

    to: tuple[int, ...]
    text: str


class HangUp(NamedTuple):
    """Close this participant's connection after what is queued for it (they typed /quit)."""

    who: int


class Person:
    __slots__ = ("name", "room")

    def __init__(self, name: str, room: str = LOBBY) -> None:
        self.name = name
        self.room = room


def check_name(name: str, taken: set[str]) -> str:
    """The name if it is acceptable and free, else BadText whose text is the reason to show."""
    if not name:
        raise BadText("error: /name needs a name, e.g. /name ada")
    if len(name) > NAME_LIMIT:
        raise BadText(f"error: a name has at most {NAME_LIMIT} characters")
    if not _NAME.fullmatch(name):
        raise BadText("error: a name is letters and digits, and may also use '-', '_' and '.'")
    if _GUEST.fullmatch(name):
        raise BadText("error: guest-N names are handed out to newcomers; choose another")
    if name.casefold() in taken:
        raise BadText(f"error: the name {name} is taken; choose another")
    return name


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
        wanted = name.casefold()
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
            return [Delivery((who,), f"* unknown command {visible(command)}; {HELP[2:]}")]
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
        return [Delivery(others, f"{self.name(who)}: {visible(text)}")]

    def _rename(self, who: int, wanted: str) -> list:
        old = self.name(who)
        if wanted == old:
            return [Delivery((who,), f"* you are already {old}")]
        taken = {person.name.casefold() for member, person in self.people.items() if member != who}
        self.people[who].name = check_name(wanted, taken)
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
            raise BadText(f"error: nobody here is called {visible(target)} (/list shows who is here)")
        if to == who:
            raise BadText("error: that is you; /msg someone else")
        return [Delivery((to,), f"[dm] {self.name(who)}: {visible(text.strip())}")]

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
