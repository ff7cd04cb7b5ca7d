"""chat: everyone who connects talks to everyone else in their room; one thread serves them all.

    alice                         server                          bob
      |  connect  --------------->  |  accept: guest-1
      |  <-- "* welcome, guest-1! ..."
      |  "/name alice\\n"  -------->  |  recv
      |                             |  accept: guest-2  <----------  |  connect
      |  <-- "* guest-2 joined #lobby"          "* welcome ..." -->  |
      |  "hi everyone!\\n"  ------->  |  recv  -- "alice: hi everyone!\\n" -->  |  recv
      |  "/msg bob psst\\n"  ------>  |  recv  -- "[dm] alice: psst\\n" ----->  |  recv
      |  "/quit\\n"  -------------->  |  recv  -- "* alice left\\n" ---------->  |  recv
      |  recv -> b''  <----------  |  close

The server is one thread and one selector: ``select()`` says which sockets are ready, and every
socket is non-blocking, so no call ever waits for one slow student.  What each client is owed
waits in its own bounded outbox until the kernel takes it (``send`` on EVENT_WRITE).  The rules
(names, commands, rooms) live in ``modes._chat_rules`` and never touch a socket.
"""
from __future__ import annotations

import time
from contextlib import suppress
from selectors import EVENT_READ, EVENT_WRITE
from socket import IPPROTO_TCP, SHUT_WR, SO_REUSEADDR, SOL_SOCKET, TCP_NODELAY

from modes._chat_rules import Allowance, Chat, HangUp
from narration.errors import Stopped
from narration.framing import RULE, LineBuffer, reply_line
from narration.scene import Joins, Scene, Types
from narration.text import address_text

SUMMARY = "everyone who connects talks to everyone else: names, /msg, #rooms; netcat welcome"
SCRIPT = ("/name alice", "hi all", "/quit")      # alice's lines
MAX_CLIENTS = 250          # a whole class; the next one is told the chat is full
OUTBOX_LIMIT = 1 << 20     # bytes waiting for one client that is not reading: then it is dropped
OUTBOX_TOTAL = 64 << 20    # bytes waiting for everyone together: in a big room each has a share
BACKLOG = 256              # connections the kernel holds while a class joins at once
BUFSIZE = 64 * 1024
TURN_BYTES = 64 * 1024     # bytes of lines handled in one turn, before the kernel takes them
PAUSE_ENDS_LINE = 0.05     # seconds: bytes with no newline, then this much quiet, are one line


def is_quit(line: str) -> bool:
    return line.strip().lower() == "/quit"


def lost(error: OSError) -> str:
    """Why a connection ended, in a few words for the room: any error ends that connection only."""
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, TimeoutError):
        return "connection timed out"            # a laptop that left the network, data in flight
    return "connection lost"


# -- the server ---------------------------------------------------------------------------------
def server(me, address, ready, *, max_clients: int = MAX_CLIENTS, outbox_limit: int = OUTBOX_LIMIT,
           pause: float = PAUSE_ENDS_LINE) -> None:
    listener = me.socket()
    listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    listener.bind(address)
    listener.listen(BACKLOG)
    listener.setblocking(False)           # accept() returns at once, or raises BlockingIOError
    ready.set(listener.getsockname())
    me.note("one thread serves all: select() says which sockets are ready")
    me.note(f"framing: {RULE}")
    clients = Clients(me, Chat(), max_clients, outbox_limit, pause)
    clients.selector.register(listener, EVENT_READ)
    try:
        while True:                           # until the run stops (select() then raises Stopped)
            events = clients.selector.select(timeout=clients.wait_at_most())   # until a socket is ready
            for key, mask in events:
                if key.fileobj is listener:       # readable listener: someone is connecting
                    while True:
                        try:
                            conn, client_address = listener.accept()
                        except BlockingIOError:   # everyone waiting has been accepted
                            break
                        conn.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)   # a chat line goes out now
                        conn.setblocking(False)
                        clients.admit(conn, client_address)
                    continue
                client = key.data
                if mask & EVENT_READ and not client.gone:
                    try:
                        data = client.conn.recv(BUFSIZE)  # never blocks: select said it is ready
                    except BlockingIOError:
                        data = None
                    except OSError as error:      # reset, timed out, unreachable: this one only
                        clients.drop(client, lost(error))
                        continue
                    if data is not None:
                        clients.received(client, data)
                if mask & EVENT_WRITE:                    # the kernel has room again
                    clients.unsent[client] = None
            clients.end_paused_lines()     # a textbook client sent no newline, then stopped
            clients.take_turns()           # one line from each client with lines waiting
            clients.send_queued()
    finally:
        clients.close_all()
        if not listener.shut:                  # else the launcher's shutdown() woke us: it closes it
            listener.close()


class Client:
    """The server's state for one connection."""

    __slots__ = ("allowance", "conn", "ended", "gone", "hanging_up", "lines", "outbox", "unread",
                 "watching", "who")

    def __init__(self, who: int, conn, now: float) -> None:
        self.who = who
        self.conn = conn
        self.unread = bytearray()        # received, not handled yet: no more is read meanwhile
        self.lines = LineBuffer()        # bytes of a line still waiting for its newline
        self.allowance = Allowance(now)  # the flood rule: lines it may send now
        self.outbox = bytearray()        # lines for this client the kernel has not taken yet
        self.ended = False               # recv returned b'': its last lines are still handled
        self.hanging_up = False          # typed /quit: close once the outbox is empty
        self.watching = 0                # what select() watches for it: EVENT_READ, EVENT_WRITE
        self.gone = False


class Clients:
    """The server's bookkeeping: who is connected, what they sent and are owed, and the chat rules.

    Memory is bounded by design: a client is read only once what it sent has been handled (one line
    per turn each, round robin, within its flood allowance), and a client owed more than its share
    of OUTBOX_TOTAL is dropped before another line is copied for it.
    """

    def __init__(self, me, chat: Chat, max_clients: int, outbox_limit: int, pause: float) -> None:
        self.me = me
        self.pause = pause
        self.unfinished: dict[Client, float] = {}  # clients with part of a line: when it counts as whole
        self.chat = chat
        self.max_clients = max_clients
        self.outbox_limit = outbox_limit
        self.share = outbox_limit                 # what one client may be owed, with this many here
        self.selector = me.selector()             # selectors' own, narrated: the run sees it wait
        self.by_who: dict[int, Client] = {}
        self.talking: dict[Client, None] = {}     # clients with lines to handle, in turn order
        self.unsent: dict[Client, None] = {}      # clients with new output, in the order it came
        self.overfull: dict[Client, None] = {}    # clients owed more than their share: to drop
        self.turn_bytes = 0                       # bytes of lines handled in this turn so far

    def admit(self, conn, client_address) -> None:
        if len(self.by_who) >= self.max_clients:
            self.me.say(f"refused {address_text(client_address)}: the chat is full")
            with suppress(OSError):
                conn.send(reply_line(f"* sorry, the chat is full (the limit is {self.max_clients}); try later"))
            conn.close()
            return
        who, actions = self.chat.join()
        client = Client(who, conn, time.monotonic())
        self.by_who[who] = client
        self.reshare()
        self.watch(client)
        self.apply(actions)

    def received(self, client: Client, data: bytes) -> None:
        self.unfinished.pop(client, None)
        if client.hanging_up:                      # after /quit: nothing more counts
            if not data:
                self.drop(client, "")
            return
        client.unread += client.lines.typed(data)  # a telnet user's negotiation and editing taken out
        client.ended = not data                    # b'': the client closed its side
        self.talking[client] = None
        self.watch(client)                         # not read again until this is handled

    def take_turns(self) -> None:
        """Round robin: each client with lines waiting has one handled, until this turn's bytes are
        spent; a client over its flood allowance waits (unread, so TCP holds its flood back)."""
        now = time.monotonic()
        self.turn_bytes = 0
        for client in list(self.talking):
            if self.turn_bytes >= TURN_BYTES:
                break                              # the rest go first next turn
            whole_line = b"\n" in client.unread
            if client.gone or (whole_line and not client.allowance.ready(now)):
                continue
            del self.talking[client]
            if whole_line:
                message = client.lines.take(client.unread)
                client.allowance.spend()
                self.apply(self.chat.receive(client.who, message))
                if not client.gone and not client.hanging_up:
                    self.talking[client] = None    # to the back of the queue
                continue
            client.lines.take(client.unread)       # no newline: the rest joins the unfinished line
            if client.ended:                       # all handled: a last line with no newline counts
                for message in client.lines.flush():
                    self.apply(self.chat.receive(client.who, message))
                if not client.gone:
                    self.drop(client, "" if client.hanging_up else "connection closed")
                continue
            if client.lines.pending and not client.lines.waits_for_newline:   # a telnet user types on
                self.unfinished[client] = now + self.pause                  # else a pause ends it
            self.watch(client)                     # all handled: read it again

    def wait_at_most(self) -> float | None:
        """select()'s timeout: until a waiting client may go on, or an unfinished line's pause is
        over; no limit when nothing waits."""
        deadlines = [*self.unfinished.values(), *(client.allowance.ready_at() for client in self.talking)]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def end_paused_lines(self) -> None:
        """The framing rule's second half: bytes with no newline, then a pause, are one line."""
        now = time.monotonic()
        for client, deadline in list(self.unfinished.items()):
            if deadline <= now:
                del self.unfinished[client]
                if not client.gone and not client.hanging_up:
                    for message in client.lines.flush():
                        self.apply(self.chat.receive(client.who, message))

    def apply(self, actions: list) -> None:
        for action in actions:
            if isinstance(action, HangUp):
                client = self.by_who[action.who]
                client.hanging_up = True
                client.unread.clear()              # nothing after /quit counts
                self.talking.pop(client, None)
                self.unsent[client] = None
                continue
            line, by_who, unsent, limit = reply_line(action.text), self.by_who, self.unsent, self.share
            size = len(line)
            self.turn_bytes += size
            for who in action.to:                  # the hot loop: a line for each of 200 people
                client = by_who[who]
                if len(client.outbox) + size > limit:
                    self.overfull[client] = None   # checked before copying: dropped below
                    continue
                client.outbox += line
                unsent[client] = None
        while self.overfull:
            client = next(iter(self.overfull))
            del self.overfull[client]
            if not client.gone:
                self.drop(client, f"not reading: {len(client.outbox)} bytes were waiting for it")

    def send_queued(self) -> None:
        """Each client with lines waiting gets them in one send(): as much as the kernel takes."""
        while self.unsent:
            batch = list(self.unsent)
            self.unsent.clear()
            for client in batch:
                if client.gone:
                    continue
                if client.outbox:
                    try:
                        sent = client.conn.send(client.outbox)
                    except BlockingIOError:        # the kernel's buffer for it is full
                        sent = 0
                    except OSError as error:       # reset, timed out, unreachable: this one only
                        self.drop(client, lost(error))
                        continue
                    del client.outbox[:sent]
                if client.hanging_up and not client.outbox:
                    self.close(client)             # after /quit: everything owed has gone out
                else:
                    self.watch(client)

    def watch(self, client: Client) -> None:
        """Ask select() about a client's socket: readable only once all it sent is handled (so one
        client's flood waits in its own TCP buffers), writable only while something waits for it."""
        wanted = (0 if client.unread or client.ended else EVENT_READ) | (EVENT_WRITE if client.outbox else 0)
        if wanted == client.watching:
            return
        if not client.watching:
            self.selector.register(client.conn, wanted, client)
        elif not wanted:
            self.selector.unregister(client.conn)
        else:
            self.selector.modify(client.conn, wanted, client)
        client.watching = wanted

    def reshare(self) -> None:
        self.share = max(1, min(self.outbox_limit, OUTBOX_TOTAL // max(1, len(self.by_who))))

    def drop(self, client: Client, reason: str) -> None:
        """The client is gone (closed, reset, too slow): close it, and tell its room."""
        already_left = client.hanging_up
        self.close(client)
        if not already_left:
            self.me.say(f"{self.chat.name(client.who)} left ({reason})")
            self.apply(self.chat.leave(client.who, reason))

    def close(self, client: Client) -> None:
        if client.gone:
            return
        client.gone = True
        self.unfinished.pop(client, None)
        self.talking.pop(client, None)
        del self.by_who[client.who]
        self.reshare()
        if client.watching:
            self.selector.unregister(client.conn)
        client.conn.close()

    def close_all(self) -> None:
        for client in list(self.by_who.values()):
            with suppress(OSError, Stopped):   # a courtesy line; the close below is what matters
                client.conn.send(reply_line("* the server is closing; goodbye"))
            self.close(client)
        self.selector.close()


# -- a participant ------------------------------------------------------------------------------
def client(me, address, lines) -> None:
    """One participant: a reader thread shows what arrives while these lines go out."""
    sock = me.socket()
    sock.connect(address)
    with sock:
        reader = me.start(read_incoming, me, sock)
        for line in lines:
            sock.sendall(reply_line(line))
            if is_quit(line):
                break
        else:
            sock.shutdown(SHUT_WR)         # no more lines (Ctrl-D): the server sees b''
        if not me.join(reader, timeout=me.patience):     # after /quit the server closes: b''
            me.say(f"the server did not close the connection within {me.patience:g} s; closing it")


def read_incoming(me, sock) -> None:
    """recv until the server closes: each recv shows what arrived, whole lines or not."""
    while sock.recv(BUFSIZE):              # b'': the server closed the connection
        pass


# -- the one-process run: alice, bob and carol take turns; or a person beside bob and carol -------
SCENE = Scene(parts={"alice": SCRIPT,
                     "bob": ("/name bob", "/join #lab", "/quit"),
                     "carol": ("/name carol", "/msg alice lab at 3?", "/quit")},
              turns=(Joins("alice"), Types("alice"), Joins("bob"), Types("bob"),
                     Types("bob"),                       # bob goes to a room of his own
                     Joins("carol"), Types("carol"),
                     Types("alice"), Types("carol"),     # the lobby talks; a direct message
                     Types("bob"), Types("alice"), Types("carol")))     # they leave one by one
LIVE_SCENE = Scene(parts={"you": (),
                          "bob": ("/name bob", "hi! type a line: everyone in your room sees it", "/quit"),
                          "carol": ("/name carol", "try /list, /msg bob hi, /join #lab, /rooms, /help", "/quit")},
                   turns=(Joins("bob"), Types("bob"), Joins("carol"), Types("carol"),
                          Types("bob"), Types("carol"), Types("bob"), Types("carol")),
                   pace=2.0)                            # seconds between turns, for a person's eyes
