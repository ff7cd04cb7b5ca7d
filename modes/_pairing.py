"""Two clients, one server: the pairing the ``ordering`` and ``relay`` modes share (a mix-in, in
the socketserver sense: the concurrency lives here, each mode's session is its protocol).

The server has three kinds of thread, and they talk only through one inbox (a ``Mailbox``):

    acceptor  (the mode's server())   accept()  ------------------->  Arrived(conn, address)
    reader    (listen_to, one per client) recv() whole lines ------->  Heard(client, line)
                                          ... b'' or a reset ------->  Heard(client, None)
    host      (serve_pairs)           takes the items in order: pairs two clients up (X, then Y),
                                      runs the mode's session, closes both, says "Done.", repeats

Only the host writes to or closes a client's connection, so two threads never share a send; a
reader only reads, and its last act is to report its client gone.  So the host always knows:

- a client who leaves while waiting for a partner (its reader reports it): say so, close it, and
  wait for a replacement;
- a third client while two are talking (the acceptor still accepts): tell it the session is
  full, and close it;
- a client who leaves mid-session: the mode's session decides (``next_message`` returns None).

No client can stall the others (a classroom has hostile students):

- the host never waits for a slow reader: a client's ``sendall`` may wait only a moment
  (``SO_SNDTIMEO``), so one whose kernel buffers are full (it has stopped reading) fails at once
  and is hung up on (``tell``), while everyone else is served;
- the inbox is bounded: a reader puts at most ``INBOX_LINES`` of its client's lines there before
  the host has taken them, then waits, and what a client pastes waits in TCP's buffers, not ours;
- any error on one connection (every ``OSError``: reset, timed out, unreachable) ends that one.

Readiness, turns and shutdown are signals (the inbox, ``shutdown()`` waking a blocked ``recv``),
never sleeps.
"""
from __future__ import annotations

import threading
from contextlib import suppress
from socket import SHUT_RDWR, SO_LINGER, SO_SNDTIMEO, SOL_SOCKET
from typing import NamedTuple

from narration.errors import Stopped
from narration.framing import LineBuffer, TooLong, recv_line, reply_line
from narration.oses import RESET_ON_CLOSE, send_wait
from narration.text import address_text

NAMES = ("X", "Y")                   # the first connection is client X, the second client Y
ORDINALS = ("first", "second")
BUFSIZE = 1024
INBOX_LINES = 16                     # one client's lines the host has not taken yet: then its reader waits
SEND_GRACE = send_wait(1)            # SO_SNDTIMEO, 1 ms: how long a sendall waits for a full buffer
STEP = 0.2                           # seconds: how often a waiting reader looks whether the run stops
SESSION_FULL = "error: the session is full (two clients are talking); try again later"
NOT_YET = "error: please wait: the server confirms you once a second client has connected"
CLOSING = "the acceptor has stopped"  # the acceptor's last item: the host ends too
WAITING = "The server is waiting to receive two connections...."
DONE = "Done."


class Client:
    """One connected client as the host sees it (compared by identity: two clients never equal)."""

    def __init__(self, name: str, conn, address: tuple) -> None:
        self.name = name                         # "X" or "Y"
        self.conn = conn                         # its connection (a NarratedSocket)
        self.address = address
        self.reader: threading.Thread | None = None   # the thread that reads its lines
        self.gone = False                        # its reader has reported the end of its stream
        self.unheard = 0                         # its lines in the inbox that the host has not taken
        self.heard = threading.Condition()       # the host took one: a waiting reader may go on
        never_wait(conn)


class Arrived(NamedTuple):
    """The acceptor's item: a new connection."""

    conn: object
    address: tuple


class Heard(NamedTuple):
    """A reader's item: one whole line from its client, or None once the client has gone."""

    client: Client
    message: bytes | TooLong | None          # None: the client closed, reset or vanished


def accepted(position: int) -> str:
    """What the server prints as it accepts the first or second connection (the seed's wording)."""
    return f"Accepted {ORDINALS[position]} connection, calling it client {NAMES[position]}"


def confirmation(name: str) -> str:
    """What the server tells each client once both are connected (the seed's wording)."""
    return f"Client {name} has connected."


def never_wait(conn) -> None:
    """A sendall on ``conn`` waits at most SEND_GRACE for room in the kernel's buffer, then fails
    (BlockingIOError): the host never waits for a client that stopped reading.  Set on the real
    socket: the narration has no words for SO_SNDTIMEO yet."""
    conn.real.setsockopt(SOL_SOCKET, SO_SNDTIMEO, SEND_GRACE)


def listen_to(me, client: Client, inbox) -> None:
    """A client's reader thread (the seed's one thread per client): whole lines to the host."""
    lines = LineBuffer()
    try:
        while (message := recv_line(client.conn, lines, BUFSIZE)) is not None:
            wait_for_room(me, client)
            inbox.put(me, Heard(client, message))
    except OSError:
        pass                                 # reset, timed out, unreachable: to the host, gone
    finally:
        inbox.put(me, Heard(client, None))   # always the reader's last word


def wait_for_room(me, client: Client) -> None:
    """The bounded inbox: a reader waits while INBOX_LINES of its client's lines are untaken."""
    with client.heard:
        with me.run.waiting(lambda: client.unheard < INBOX_LINES):
            while client.unheard >= INBOX_LINES:
                if me.run.stopping.is_set():
                    raise Stopped
                client.heard.wait(STEP)
        client.unheard += 1


def take(me, inbox):
    """The host's next item from the inbox; a line taken makes room for its reader."""
    item = inbox.get(me, timeout=None)
    if isinstance(item, Heard) and item.message is not None:
        with item.client.heard:
            item.client.unheard -= 1
            item.client.heard.notify()
    return item


class Pair:
    """The two clients of one session, and the host's view of the inbox while they talk."""

    def __init__(self, me, inbox, x: Client, y: Client) -> None:
        self.me = me
        self.inbox = inbox
        self.clients = (x, y)

    def other(self, client: Client) -> Client:
        return self.clients[1] if client is self.clients[0] else self.clients[0]

    def next_message(self) -> tuple[Client, bytes | TooLong | None]:
        """The next line from either client, or (client, None) when one has gone.

        Meanwhile a newcomer is told the session is full; the acceptor stopping raises Stopped.
        """
        while True:
            item = take(self.me, self.inbox)
            if item is CLOSING:
                raise Stopped
            if isinstance(item, Arrived):
                turn_away(self.me, item)
            elif item.client in self.clients and not item.client.gone:
                item.client.gone = item.message is None
                return item.client, item.message


def serve_pairs(me, inbox, session) -> None:
    """The host: the seed's server loop, forever (a one-process run ends it through the inbox)."""
    while True:
        me.say(WAITING)
        pair = gather_pair(me, inbox)
        try:
            session(me, pair)
        finally:
            close_pair(me, pair)
        me.say(DONE)


def gather_pair(me, inbox) -> Pair:
    """Accepted connections become client X, then client Y; one who leaves meanwhile is replaced."""
    waiting: list[Client] = []
    while len(waiting) < 2:
        item = take(me, inbox)
        if item is CLOSING:
            for client in waiting:
                shut_and_close(me, client)
            raise Stopped
        if isinstance(item, Arrived):
            me.say(accepted(len(waiting)))
            client = Client(NAMES[len(waiting)], item.conn, item.address)
            client.reader = me.start(listen_to, me, client, inbox)
            waiting.append(client)
        elif item.message is None:
            client = item.client
            me.say(f"Client {client.name} disconnected while waiting for a partner; "
                   "waiting for a replacement")
            waiting.remove(client)
            client.conn.close()
            me.join(client.reader)
        else:
            tell(item.client, NOT_YET)       # the seed's clients wait for their confirmation
    return Pair(me, inbox, *waiting)


def close_pair(me, pair: Pair) -> None:
    """The seed's last steps: close both connections, join both threads."""
    me.note("shutdown() wakes each reader thread: its recv() returns b''")
    for client in pair.clients:
        client.conn.shutdown(SHUT_RDWR)
    stopping = False
    still_talking = set()
    while not all(client.gone for client in pair.clients):
        try:
            client, message = pair.next_message()   # drain: late lines dropped, newcomers turned away
        except Stopped:
            stopping = True                  # the readers still report in; then stop
            continue
        if message is not None:
            still_talking.add(client)
    for client in pair.clients:
        if client in still_talking:          # it sends on as we hang up: a reset tells it now
            me.note(f"client {client.name} was still sending: close() resets its connection")
            with suppress(OSError):          # refused once both directions are shut (macOS): close anyway
                client.conn.setsockopt(SOL_SOCKET, SO_LINGER, RESET_ON_CLOSE)
        client.conn.close()
    for client in pair.clients:
        me.join(client.reader)
    if stopping:
        raise Stopped


def shut_and_close(me, client: Client) -> None:
    client.conn.shutdown(SHUT_RDWR)
    me.join(client.reader)
    client.conn.close()


def turn_away(me, arrival: Arrived) -> None:
    """A third client while two are talking: one clear line, then close."""
    me.say(f"A client from {address_text(arrival.address)} was turned away: the session is full")
    never_wait(arrival.conn)
    with suppress(OSError):                  # it left already, or never reads: nothing more to do
        arrival.conn.sendall(reply_line(SESSION_FULL))
    arrival.conn.close()


def tell(client: Client, text: str) -> None:
    """One reply line in one sendall, which never waits for a slow reader: a client whose buffers
    are full (it stopped reading), or whose connection failed, is hung up on, and its reader then
    reports it gone, as for any client that leaves."""
    try:
        client.conn.sendall(reply_line(text))
    except OSError:
        client.conn.shutdown(SHUT_RDWR)      # wakes its reader: recv returns b''
