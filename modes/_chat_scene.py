"""How a scripted chat run takes turns (the one-process demo), kept apart from the mode's code.

Each scripted participant connects on its first turn and types one line per turn.  A turn ends
only when everything it caused has arrived: the server took the line in (its ``recv``), finished
that pass of its loop (a hidden "handled" event), and every byte it sent meanwhile was received.
So the next turn never races the last one, and the same script always renders the same way.
"""
from __future__ import annotations

import threading
from socket import SHUT_WR

from modes._framing import reply_line
from modes._narrate import HIDDEN
from modes.chat import is_quit, read_incoming


def play_scene(run, address, parts: dict, turns, person_left: threading.Event | None = None,
               pace: float = 0.0) -> None:
    """One line per turn; each turn waits until everything it caused has arrived."""
    people = {name: Participant(run.actor(name), address, lines) for name, lines in parts.items()}
    for name in turns:
        people[name].take_turn()
        if person_left is not None:
            person_left.wait(pace)             # pacing: a person reads along (sooner once they left)
    for person in people.values():
        person.finish()


class Participant:
    """A scripted chat user: connects on its first turn, then types one line per turn."""

    def __init__(self, me, address, lines) -> None:
        self.me = me
        self.address = address
        self.lines = iter(lines)
        self.sock = None
        self.reader = None
        self.left = False

    def take_turn(self) -> None:
        if self.left:
            return
        line = next(self.lines, None)
        if line is None:
            self.hang_up()                     # out of lines without /quit: close, as Ctrl-C would
        else:
            self.type(line)

    def finish(self) -> None:
        """Lines the turns did not reach (a long --send), then close if /quit never came."""
        for line in self.lines:
            if self.left:
                break
            self.type(line)
        if not self.left:
            self.hang_up()

    def type(self, line: str) -> None:
        if self.sock is None:
            self.sock = self.me.socket()
            self.sock.connect(self.address)
            self.reader = self.me.start(read_incoming, self.me, self.sock, False, critical=True)
            self.settle(lambda e: e.call == "accept" and e.peer == self.sock.local)
        self.sock.sendall(reply_line(line))
        sent = self.sock.sent
        self.settle(lambda e: e.call == "recv" and e.peer == self.sock.local and e.span[1] >= sent)
        if is_quit(line):
            self.leave()

    def hang_up(self) -> None:
        if self.sock is None:                  # never had a line to type: never came
            self.left = True
            return
        self.sock.shutdown(SHUT_WR)
        self.settle(lambda e: e.call == "recv" and e.size == 0 and e.peer == self.sock.local)
        self.leave()

    def leave(self) -> None:
        self.me.join(self.reader)
        self.sock.close()
        self.left = True

    def settle(self, took_in) -> None:
        """Wait until the server took in this turn and all it sent because of it has arrived."""
        seen = self.me.wait_for(lambda e: e.actor == "server" and took_in(e))
        done = self.me.wait_for(lambda e: e.actor == "server" and e.seq > seen.seq and e.call == HIDDEN
                                and e.detail == "handled")
        caused = [e for e in self.me.run.trace.events if seen.seq < e.seq < done.seq and e.actor == "server"]
        for sent in (e for e in caused if e.call == "send"):
            self.me.wait_for(lambda e, sent=sent: e.call == "recv" and e.local == sent.peer
                             and e.span[1] >= sent.span[1])
        for closed in (e for e in caused if e.call == "close" and e.peer is not None):
            self.me.wait_for(lambda e, closed=closed: e.call == "recv" and e.size == 0 and e.local == closed.peer)
