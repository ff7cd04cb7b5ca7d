"""``Crowd``: the bookkeeping of a one-thread ``select()`` server with many clients, and no socket
calls at all (the server's loop makes every call, and tells the crowd what happened).

    server loop (the mode)                      Crowd (this module)
    accept()          --- admit(conn) ------->  a Member: its own bounded inbox and outbox
    recv() -> data    --- received(m, data) -->  whole lines wait for their turn
                                                take_turns(): one line each, round robin, within
                                                each member's flood allowance; the rules answer
                                                with actions (Delivery, HangUp)
    send(m.outbox)    <-- owed() -------------  who has lines waiting
                      --- sent(m, count) ---->
    close()           <-- leaving() ----------  who is gone: closed, reset, /quit, not reading

The rules are any object with ``join() -> (who, actions)``, ``receive(who, line) -> actions``,
``leave(who, reason) -> actions`` and ``name(who)``; an action is a ``Delivery`` or a ``HangUp``.

Memory is bounded by design: a member is read again only once what it sent has been handled, and
one owed more than its share of ``outbox_total`` (checked before a line is copied for it) is
dropped, and nobody else.  ``watch()`` keeps the selector asking only what matters: readable once
everything a member sent is handled (so a flood waits in its own TCP buffers), writable only
while something waits for it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from itertools import islice
from selectors import EVENT_READ, EVENT_WRITE
from typing import NamedTuple

from narration.framing import LineBuffer, reply_line


class Delivery(NamedTuple):
    """One line (no newline) for each participant numbered in ``to``, in that order."""

    to: tuple[int, ...]
    text: str


class HangUp(NamedTuple):
    """Close this participant's connection after what is queued for it (they typed /quit)."""

    who: int


def why_lost(error: OSError) -> str:
    """Why a connection ended, in a few words for the others: any error ends that one only."""
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, TimeoutError):
        return "connection timed out"            # a laptop that left the network, data in flight
    return "connection lost"


class Member:
    """The server's state for one connection."""

    __slots__ = ("allowance", "conn", "ended", "farewell", "gone", "hanging_up", "lines", "outbox",
                 "unread", "watching", "who")

    def __init__(self, who: int, conn, allowance) -> None:
        self.who = who
        self.conn = conn
        self.unread = bytearray()        # received, not handled yet: no more is read meanwhile
        self.lines = LineBuffer()        # bytes of a line still waiting for its newline
        self.allowance = allowance       # the flood rule: lines it may send now
        self.outbox = bytearray()        # lines for it the kernel has not taken yet
        self.ended = False               # recv returned b'': its last lines are still handled
        self.hanging_up = False          # typed /quit: close once the outbox is empty
        self.watching = 0                # what select() watches for it: EVENT_READ, EVENT_WRITE
        self.gone = False
        self.farewell = ""               # why it left, for the server's log ("" after /quit)


class Crowd:
    """Who is connected, what each sent and is owed, and whose turn it is (see the module docstring)."""

    def __init__(self, rules, selector, allowance: Callable[[float], object], *, max_members: int,
                 outbox_limit: int, outbox_total: int, turn_bytes: int, pause: float,
                 send_slice: int = 128) -> None:
        self.rules = rules
        self.send_slice = send_slice             # members sent to between two select() calls
        self.selector = selector
        self.allowance = allowance               # a new member's flood rule, from the time now
        self.max_members = max_members
        self.outbox_limit = outbox_limit
        self.outbox_total = outbox_total
        self.turn_limit = turn_bytes             # bytes of lines handled in one turn, at most
        self.pause = pause                       # bytes with no newline, then this quiet: a line
        self.share = outbox_limit                # what one member may be owed, with this many here
        self.by_who: dict[int, Member] = {}
        self.talking: dict[Member, None] = {}    # members with lines to handle, in turn order
        self.unsent: dict[Member, None] = {}     # members with new output, in the order it came
        self.unfinished: dict[Member, float] = {}   # members with part of a line: when it is whole
        self.overfull: dict[Member, None] = {}   # members owed more than their share: to drop
        self.closing: list[Member] = []          # gone: the server closes their sockets
        self.turn_bytes = 0

    # -- what the server tells the crowd ----------------------------------------------------------
    def full(self) -> bool:
        return len(self.by_who) >= self.max_members

    def admit(self, conn) -> None:
        who, actions = self.rules.join()
        member = Member(who, conn, self.allowance(time.monotonic()))
        self.by_who[who] = member
        self._reshare()
        self.watch(member)
        self.apply(actions)

    def received(self, member: Member, data: bytes) -> None:
        """What one recv() returned (b'': the member closed its side)."""
        self.unfinished.pop(member, None)
        if member.hanging_up:                     # after /quit: nothing more counts
            if not data:
                self.drop(member, "")
            return
        member.unread += member.lines.typed(data)  # a telnet user's negotiation and editing taken out
        member.ended = not data
        self.talking[member] = None
        self.watch(member)                         # not read again until this is handled

    def lost(self, member: Member, error: OSError) -> None:
        """A call on the member's socket failed (reset, timed out, unreachable): it goes, alone."""
        self.drop(member, why_lost(error))

    def writable(self, member: Member) -> None:
        self.unsent[member] = None

    def sent(self, member: Member, count: int) -> None:
        """The kernel took ``count`` bytes of the member's outbox."""
        del member.outbox[:count]
        if member.outbox or member.hanging_up or member.watching != EVENT_READ:
            self._after_send(member)
        # else select() already watches it for reading alone, as it should: a thousand of these
        # follow each line, so the usual case costs nothing more

    # -- turns -----------------------------------------------------------------------------------
    def take_turns(self) -> None:
        """Round robin: each member with lines waiting has one handled, until this turn's bytes are
        spent; a member over its flood allowance waits (unread, so TCP holds its flood back)."""
        now = time.monotonic()
        self._end_paused_lines(now)
        self.turn_bytes = 0
        for member in list(self.talking):
            if self.turn_bytes >= self.turn_limit:
                break                              # the rest go first next turn
            whole_line = b"\n" in member.unread
            if member.gone or (whole_line and not member.allowance.ready(now)):
                continue
            del self.talking[member]
            if whole_line:
                message = member.lines.take(member.unread)
                member.allowance.spend()
                self.apply(self.rules.receive(member.who, message))
                if not member.gone and not member.hanging_up:
                    self.talking[member] = None    # to the back of the queue
                continue
            member.lines.take(member.unread)       # no newline: the rest joins the unfinished line
            if member.ended:                       # all handled: a last line with no newline counts
                for message in member.lines.flush():
                    self.apply(self.rules.receive(member.who, message))
                if not member.gone:
                    self.drop(member, "" if member.hanging_up else "connection closed")
                continue
            if member.lines.pending and not member.lines.waits_for_newline:   # a telnet user types on
                self.unfinished[member] = now + self.pause                  # else a pause ends it
            self.watch(member)                     # all handled: read it again

    def wait_at_most(self) -> float | None:
        """select()'s timeout: until a waiting member may go on, or an unfinished line's pause is
        over; no limit when nothing waits."""
        if self.unsent:
            return 0.0                             # a round of sends is under way: just look
        deadlines = [*self.unfinished.values(), *(member.allowance.ready_at() for member in self.talking)]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _end_paused_lines(self, now: float) -> None:
        """The framing rule's second half: bytes with no newline, then a pause, are one line."""
        for member, deadline in list(self.unfinished.items()):
            if deadline <= now:
                del self.unfinished[member]
                if not member.gone and not member.hanging_up:
                    for message in member.lines.flush():
                        self.apply(self.rules.receive(member.who, message))

    def apply(self, actions: list) -> None:
        for action in actions:
            if isinstance(action, HangUp):
                member = self.by_who[action.who]
                member.hanging_up = True
                member.unread.clear()              # nothing after /quit counts
                self.talking.pop(member, None)
                self.unsent[member] = None
                continue
            line, by_who, unsent, limit = reply_line(action.text), self.by_who, self.unsent, self.share
            size = len(line)
            self.turn_bytes += size
            for who in action.to:                  # the hot loop: a line for each of 200 people
                member = by_who[who]
                if len(member.outbox) + size > limit:
                    self.overfull[member] = None   # checked before copying: dropped below
                    continue
                member.outbox += line
                unsent[member] = None
        while self.overfull:
            member = next(iter(self.overfull))
            del self.overfull[member]
            if not member.gone:
                self.drop(member, f"not reading: {len(member.outbox)} bytes were waiting for it")

    # -- what the server does next ---------------------------------------------------------------
    def owed(self):
        """The next ``send_slice`` members with lines waiting, once each: the server sends them what
        the kernel takes, then selects again before the next slice.  A line that arrives during a
        long fan-out so joins the outboxes of everyone not yet sent to in this round, rather than
        waiting for the whole round to end (``wait_at_most`` is 0 while members are owed)."""
        batch = list(islice(self.unsent, self.send_slice))
        for member in batch:
            del self.unsent[member]
        for member in batch:
            if member.gone:
                continue
            if member.outbox:
                yield member
            else:
                self._after_send(member)

    def leaving(self) -> list[Member]:
        """The members gone since last asked: the server closes their sockets."""
        gone, self.closing = self.closing, []
        return gone

    def everyone(self) -> list[Member]:
        return list(self.by_who.values())

    def name(self, member: Member) -> str:
        return self.rules.name(member.who)

    # -- the crowd's own housekeeping --------------------------------------------------------------
    def _after_send(self, member: Member) -> None:
        if member.hanging_up and not member.outbox:
            self._remove(member)                   # after /quit: everything owed has gone out
        else:
            self.watch(member)

    def watch(self, member: Member) -> None:
        """Ask select() about a member's socket: readable only once all it sent is handled,
        writable only while something waits for it."""
        wanted = (0 if member.unread or member.ended else EVENT_READ) | (EVENT_WRITE if member.outbox else 0)
        if wanted == member.watching:
            return
        if not member.watching:
            self.selector.register(member.conn, wanted, member)
        elif not wanted:
            self.selector.unregister(member.conn)
        else:
            self.selector.modify(member.conn, wanted, member)
        member.watching = wanted

    def drop(self, member: Member, reason: str) -> None:
        """The member is gone (closed, reset, too slow): the others in its room are told."""
        already_left = member.hanging_up
        farewell = "" if already_left else f"{self.name(member)} left ({reason})"
        self._remove(member)
        member.farewell = farewell
        if not already_left:
            self.apply(self.rules.leave(member.who, reason))

    def _remove(self, member: Member) -> None:
        if member.gone:
            return
        member.gone = True
        self.unfinished.pop(member, None)
        self.talking.pop(member, None)
        del self.by_who[member.who]
        self._reshare()
        if member.watching:
            self.selector.unregister(member.conn)
            member.watching = 0
        self.closing.append(member)

    def _reshare(self) -> None:
        self.share = max(1, min(self.outbox_limit, self.outbox_total // max(1, len(self.by_who))))
