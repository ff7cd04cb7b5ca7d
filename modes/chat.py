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
socket is non-blocking, so no call ever waits for one slow student.  Every socket call is here;
the bookkeeping between them (who is here, whose turn it is, what each is owed, in bounded
outboxes) is ``narration.crowd.Crowd``, and the rules (names, commands, rooms, who hears what) are
``modes._chat_rules``: neither touches a socket.
"""
from __future__ import annotations

from contextlib import suppress
from selectors import EVENT_READ, EVENT_WRITE
from socket import IPPROTO_TCP, SHUT_WR, SO_REUSEADDR, SOL_SOCKET, TCP_NODELAY

from modes._chat_rules import Allowance, Chat
from narration.crowd import Crowd
from narration.errors import Stopped
from narration.framing import RULE, reply_line
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
    selector = me.selector()              # selectors' own, narrated: the run sees it wait
    selector.register(listener, EVENT_READ)
    crowd = Crowd(Chat(), selector, Allowance, max_members=max_clients, outbox_limit=outbox_limit,
                  outbox_total=OUTBOX_TOTAL, turn_bytes=TURN_BYTES, pause=pause)
    try:
        while True:                       # until the run stops (select() then raises Stopped)
            for key, mask in selector.select(timeout=crowd.wait_at_most()):   # until one is ready
                if key.fileobj is listener:       # readable listener: someone is connecting
                    while True:
                        try:
                            conn, client_address = listener.accept()
                        except BlockingIOError:   # everyone waiting has been accepted
                            break
                        conn.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)   # a chat line goes out now
                        conn.setblocking(False)
                        if crowd.full():
                            refuse(me, conn, client_address, crowd.max_members)
                        else:
                            crowd.admit(conn)
                    continue
                member = key.data
                if mask & EVENT_READ and not member.gone:
                    try:
                        crowd.received(member, member.conn.recv(BUFSIZE))   # never blocks: it is ready
                    except BlockingIOError:
                        pass
                    except OSError as error:      # reset, timed out, unreachable: this one only
                        crowd.lost(member, error)
                if mask & EVENT_WRITE:            # the kernel has room again
                    crowd.writable(member)
            crowd.take_turns()                    # one line from each member, round robin
            for member in crowd.owed():           # one send() each: as much as the kernel takes
                try:
                    crowd.sent(member, member.conn.send(member.outbox))
                except BlockingIOError:           # the kernel's buffer for it is full
                    crowd.sent(member, 0)
                except OSError as error:
                    crowd.lost(member, error)
            for member in crowd.leaving():        # closed, reset, /quit, or not reading
                if member.farewell:
                    me.say(member.farewell)
                member.conn.close()
    finally:
        for member in crowd.leaving():            # gone in the turn that ended the loop
            member.conn.close()
        for member in crowd.everyone():
            with suppress(OSError, Stopped):      # a courtesy line; the close is what matters
                member.conn.send(reply_line("* the server is closing; goodbye"))
            member.conn.close()
        selector.close()
        if not listener.shut:                  # else the launcher's shutdown() woke us: it closes it
            listener.close()


def refuse(me, conn, client_address, limit: int) -> None:
    me.say(f"refused {address_text(client_address)}: the chat is full")
    with suppress(OSError):
        conn.send(reply_line(f"* sorry, the chat is full (the limit is {limit}); try later"))
    conn.close()


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
