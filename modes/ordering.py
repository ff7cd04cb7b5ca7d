"""ordering: two clients each send one message; the server tells both which one arrived first.

    client X                          server                           client Y
      |  connect  -------------------> accept: "client X"                 |
      |                                accept: "client Y"  <-----------  connect
      |  <-- "Client X has connected.\\n"     "Client Y has connected.\\n" -->  |
      |                                one reader thread per client        |
      |                                recv  <---------  "I sent first\\n"  (Y sends first)
      |  "I connected first\\n"  -----> recv
      |  <-- "Y: I sent first received before X: I connected first\\n" -->  |
      |  close                         shutdown, close both, join; "Done."  close

The lesson: arrival order is not connection order.  Y connected second but sent first, so its
message arrived first.  (The scripted clients take turns, SCENE below, so every run agrees.)
"""
from __future__ import annotations

from socket import SO_REUSEADDR, SOL_SOCKET

from modes._pairing import CLOSING, NAMES, Arrived, confirmation, serve_pairs, tell
from narration.errors import PeerClosed
from narration.framing import RULE, BadText, LineBuffer, as_text, decode_line, recv_line, reply_line
from narration.scene import Joins, Scene, Types
from narration.text import visible

SUMMARY = "two clients send one message each; the server says whose arrived first"
SCRIPT = ("I connected first",)                      # client X's message
BACKLOG = 256      # connections the kernel queues before accept(): a whole class at once
SESSION_OVER = "the session is over"                 # ends the server's reply when a partner leaves


def received_before(first: tuple[str, str], second: tuple[str, str]) -> str:
    """The seed's result line, from (name, message) pairs in the order they arrived (messages made
    visible: one student's control codes must not act on the other's terminal)."""
    return f"{first[0]}: {visible(first[1])} received before {second[0]}: {visible(second[1])}"


def arrival_note(name: str) -> str:
    """The server's teaching note when the first message arrives."""
    if name == NAMES[1]:
        return f"client {name}'s message arrived first, though it connected second"
    return f"client {name}'s message arrived first"


def server(me, address, ready) -> None:
    listener = me.socket()                              # socket(AF_INET, SOCK_STREAM)
    listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)    # restart at once on the same port
    listener.bind(address)
    listener.listen(BACKLOG)
    ready.set(listener.getsockname())
    me.note(f"framing: {RULE}")
    inbox = me.mailbox()
    host = me.start(serve_pairs, me, inbox, compare_arrivals)   # pairs clients up, session by session
    try:
        while True:                                     # accepting never stops: a third client is
            conn, client_address = listener.accept()   # told the session is full, not left hanging
            inbox.put(me, Arrived(conn, client_address))
    finally:
        inbox.put(me, CLOSING)
        me.join(host)


def compare_arrivals(me, pair) -> None:
    """The seed's steps 3 to 5: confirm both, hear one message from each, tell both the order."""
    for client in pair.clients:                         # only now, with both here, may they send
        tell(client, confirmation(client.name))         # one who vanished: its reader reports it
    me.say("Waiting to receive messages from client X and client Y....")
    arrivals: list[tuple[str, str]] = []                # (name, message), in order of arrival
    while len(arrivals) < 2:
        client, message = pair.next_message()           # from whichever reader thread was first
        already_sent = any(name == client.name for name, _ in arrivals)
        if message is None and already_sent:
            me.note(f"client {client.name} closed its sending side; it can still read the result")
            continue
        if message is None:
            me.say(f"Client {client.name} disconnected before sending a message")
            tell(pair.other(client), f"error: client {client.name} left before sending; {SESSION_OVER}")
            return
        if already_sent:
            tell(client, f"error: one message each; waiting for client {pair.other(client).name}'s message")
            continue
        try:
            text = decode_line(message)
        except BadText as problem:
            tell(client, str(problem))
            continue
        arrivals.append((client.name, text))
        if len(arrivals) == 1:
            me.note(arrival_note(client.name))
    result = received_before(*arrivals)
    for client in pair.clients:
        tell(client, result)


def client(me, address, lines) -> None:
    sock = me.socket()
    sock.connect(address)
    with sock:
        replies = LineBuffer()
        welcome = recv_line(sock, replies)              # the server confirms once both are here
        if welcome is None:
            raise PeerClosed("the server closed the connection before confirming it")
        me.say(as_text(welcome))
        if welcome.startswith(b"error:"):               # turned away: the session is full
            return
        for line in lines:                              # one message; another only after an error
            sock.sendall(reply_line(line))
            reply = recv_line(sock, replies)
            if reply is None:
                raise PeerClosed("the server closed the connection before the result")
            me.say(as_text(reply))
            if not reply.startswith(b"error:") or reply.endswith(SESSION_OVER.encode()):
                break
        while (more := recv_line(sock, replies)) is not None:   # the session is over when the
            me.say(as_text(more))                                 # server closes it: recv -> b''


# -- the one-process run: X connects first, but Y sends first -------------------------------------
SCENE = Scene(parts={"client X": SCRIPT, "client Y": ("I sent first",)},
              turns=(Joins("client X"), Joins("client Y"), Types("client Y"), Types("client X")))
