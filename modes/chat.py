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

from modes._chat_rules import Chat, HangUp
from narration.errors import Stopped
from narration.framing import RULE, LineBuffer, reply_line
from narration.scene import Joins, Scene, Types
from narration.text import address_text

SUMMARY = "everyone who connects talks to everyone else: names, /msg, #rooms; netcat welcome"
SCRIPT = ("/name alice", "hi all", "/quit")      # alice's lines
MAX_CLIENTS = 250          # a whole class; the next one is told the chat is full
OUTBOX_LIMIT = 1 << 20     # bytes waiting for one client that is not reading: then it is dropped
BACKLOG = 256              # connections the kernel holds while a class joins at once
BUFSIZE = 64 * 1024
SEND_EARLY = 20_000        # lines queued within one loop turn that are sent before reading on
PAUSE_ENDS_LINE = 0.05     # seconds: bytes with no newline, then this much quiet, are one line


def is_quit(line: str) -> bool:
    return line.strip().lower() == "/quit"


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
                    except ConnectionError:
                        clients.drop(client, "connection reset")
                        continue
                    clients.received(client, data)
                    if clients.queued >= SEND_EARLY:      # a flood: let lines out while reading on
                        clients.send_queued()
                if mask & EVENT_WRITE:                    # the kernel has room again
                    clients.unsent[client] = None
            clients.end_paused_lines()     # a textbook client sent no newline, then stopped
            clients.send_queued()
    finally:
        clients.close_all()
        if not listener.shut:                  # else the launcher's shutdown() woke us: it closes it
            listener.close()


class Client:
    """The server's state for one connection."""

    __slots__ = ("conn", "gone", "hanging_up", "lines", "outbox", "who", "writing")

    def __init__(self, who: int, conn) -> None:
        self.who = who
        self.conn = conn
        self.lines = LineBuffer()        # bytes of a line still waiting for its newline
        self.outbox = bytearray()        # lines for this client the kernel has not taken yet
        self.hanging_up = False          # typed /quit: close once the outbox is empty
        self.writing = False             # registered for EVENT_WRITE (the kernel was full)
        self.gone = False


class Clients:
    """The server's bookkeeping: who is connected, their outboxes, and the chat rules."""

    def __init__(self, me, chat: Chat, max_clients: int, outbox_limit: int, pause: float) -> None:
        self.me = me
        self.pause = pause
        self.unfinished: dict[Client, float] = {}  # clients with part of a line: when it counts as whole
        self.chat = chat
        self.max_clients = max_clients
        self.outbox_limit = outbox_limit
        self.selector = me.selector()             # selectors' own, narrated: the run sees it wait
        self.by_who: dict[int, Client] = {}
        self.unsent: dict[Client, None] = {}      # clients with new output, in the order it came
        self.queued = 0                           # lines queued since the last send_queued()

    def admit(self, conn, client_address) -> None:
        if len(self.by_who) >= self.max_clients:
            self.me.say(f"refused {address_text(client_address)}: the chat is full")
            with suppress(OSError):
                conn.send(reply_line(f"* sorry, the chat is full (the limit is {self.max_clients}); try later"))
            conn.close()
            return
        who, actions = self.chat.join()
        client = Client(who, conn)
        self.by_who[who] = client
        self.selector.register(conn, EVENT_READ, client)
        self.apply(actions)

    def received(self, client: Client, data: bytes) -> None:
        messages = client.lines.feed(data) if data else client.lines.flush()
        self.unfinished.pop(client, None)
        if client.lines.pending:                   # part of a line: it waits for its end, or a pause
            self.unfinished[client] = time.monotonic() + self.pause
        for message in messages:                   # whole lines only
            if client.hanging_up:
                return
            self.apply(self.chat.receive(client.who, message))
        if not data and not client.gone:           # b'': the client closed its side
            self.drop(client, "" if client.hanging_up else "connection closed")

    def wait_at_most(self) -> float | None:
        """select()'s timeout: until the next unfinished line's pause is over, or no limit."""
        if not self.unfinished:
            return None
        return max(0.0, min(self.unfinished.values()) - time.monotonic())

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
                self.unsent[client] = None
                continue
            line, by_who, unsent = reply_line(action.text), self.by_who, self.unsent
            for who in action.to:                  # the hot loop: a line for each of 200 people
                client = by_who[who]
                client.outbox += line
                unsent[client] = None
            self.queued += len(action.to)

    def send_queued(self) -> None:
        """Each client with lines waiting gets them in one send(): as much as the kernel takes."""
        self.queued = 0
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
                    except ConnectionError:
                        self.drop(client, "connection lost")
                        continue
                    del client.outbox[:sent]
                if len(client.outbox) > self.outbox_limit:
                    self.drop(client, f"not reading: {len(client.outbox)} bytes were waiting for it")
                elif client.hanging_up and not client.outbox:
                    self.close(client)             # after /quit: everything owed has gone out
                else:
                    self.watch_writable(client, bool(client.outbox))

    def watch_writable(self, client: Client, wanted: bool) -> None:
        """Ask select() to say when the kernel has room again, only while something waits."""
        if wanted != client.writing:
            self.selector.modify(client.conn, EVENT_READ | EVENT_WRITE if wanted else EVENT_READ, client)
            client.writing = wanted

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
        del self.by_who[client.who]
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
        me.join(reader)                    # after /quit the server closes: the reader gets b''


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
