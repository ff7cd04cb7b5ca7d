"""relay: two clients chat through the server, which sends every line to both; "Bye" ends it.

    client X                        server                            client Y
      |  connect  ----------------> accept: "client X"                   |
      |                             accept: "client Y"  <-------------  connect
      |  <-- "Client X has connected.\\n"    "Client Y has connected.\\n" -->  |
      |  "Hi Y\\n"  ---------------> recv (X's reader thread)              |
      |  <-- "X: Hi Y\\n"            sendall to both      "X: Hi Y\\n" -->   |
      |                             recv (Y's reader)  <-----  "Hi X\\n"    |
      |  <-- "Y: Hi X\\n"            sendall to both      "Y: Hi X\\n" -->   |
      |  "Bye\\n"  ----------------> recv: "Bye" ends the chat for both     |
      |  <-- "X: Bye\\n"             sendall to both      "X: Bye\\n" -->    |
      |  recv -> b''                shutdown, close both  recv -> b''      |

Framing is the lesson here.  TCP delivers bytes, not messages: two quick sends may arrive in one
recv, and the seed's server, comparing each recv with "Bye", never saw a "Bye" that came glued to
the line before it.  Here every message is one line, so the server splits the stream at newlines
and sees each "Bye" on its own.
"""
from __future__ import annotations

import threading
from socket import IPPROTO_TCP, SHUT_WR, SO_REUSEADDR, SOL_SOCKET, TCP_NODELAY

from modes._pairing import CLOSING, Arrived, confirmation, serve_pairs, tell
from narration.errors import PeerClosed
from narration.framing import RULE, BadText, LineBuffer, as_text, decode_line, recv_line, reply_line
from narration.scene import Joins, Scene, Types
from narration.text import visible

SUMMARY = "two clients chat through the server, which relays every line to both; 'Bye' ends it"
SCRIPT = ("Hi Y, can you hear me?", "Bye")           # client X's lines
BACKLOG = 256      # connections the kernel queues before accept(): a whole class at once
CHAT_OVER = "The chat is over."


def is_bye(text: str) -> bool:
    return text.strip().lower() == "bye"


def labelled(name: str, text: str) -> str:
    """What both clients receive for one message: the sender's name, then its words (made
    visible: one student's control codes must not act on the other's terminal)."""
    return f"{name}: {visible(text)}"


def server(me, address, ready) -> None:
    listener = me.socket()                              # socket(AF_INET, SOCK_STREAM)
    listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)    # restart at once on the same port
    listener.bind(address)
    listener.listen(BACKLOG)
    ready.set(listener.getsockname())
    me.note(f"framing: {RULE}")
    inbox = me.mailbox()
    host = me.start(serve_pairs, me, inbox, relay_chat)  # pairs clients up, chat by chat
    try:
        while True:                                     # accepting never stops: a third client is
            conn, client_address = listener.accept()   # told the session is full, not left hanging
            conn.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)    # a chat line goes out now, not after
            inbox.put(me, Arrived(conn, client_address))   # the last one is acknowledged (Nagle)
    finally:
        inbox.put(me, CLOSING)
        me.join(host)


def relay_chat(me, pair) -> None:
    """The seed's extra credit: every line from either client goes to both, until a "Bye"."""
    for client in pair.clients:                         # only now, with both here, may they send
        tell(client, confirmation(client.name))         # one who vanished: its reader reports it
    me.say("Waiting to receive messages from client X and client Y....")
    me.note("each line goes to both, labelled with its sender; 'Bye' ends it")
    while True:
        sender, message = pair.next_message()           # one whole line, whoever sent it
        if message is None:
            me.say(f"Client {sender.name} left: the chat is over")
            tell(pair.other(sender), f"Client {sender.name} left: the chat is over")
            return
        try:
            text = decode_line(message)
        except BadText as problem:
            tell(sender, str(problem))                  # only the sender hears about its mistake
            continue
        for client in pair.clients:                     # the sender too: it sees what went through
            tell(client, labelled(sender.name, text))
        if is_bye(text):
            me.say(f"Client {sender.name} said Bye: the chat is over")
            return


def client(me, address, lines) -> None:
    sock = me.socket()
    sock.connect(address)
    with sock:
        incoming = LineBuffer()
        welcome = recv_line(sock, incoming)             # the server confirms once both are here
        if welcome is None:
            raise PeerClosed("the server closed the connection before confirming it")
        me.say(as_text(welcome))
        if welcome.startswith(b"error:"):               # turned away: the session is full
            return
        over = threading.Event()
        receiver = me.start(show_incoming, me, sock, incoming, over)   # the seed's receiving thread
        for line in lines:                              # as many lines as the person likes
            if over.is_set():
                break                                   # the chat ended while they were typing
            try:
                sock.sendall(reply_line(line))
            except (BrokenPipeError, ConnectionResetError):
                if over.wait(1.0):                      # the chat ended as this line went out
                    break
                raise
            if is_bye(line):
                break
        else:
            if not over.is_set():
                sock.shutdown(SHUT_WR)                  # no more lines: tell the server we are done
        if not me.join(receiver, timeout=me.patience):   # the server ends the chat: b''
            me.say(f"the server did not close the chat within {me.patience:g} s; closing it")                               # until the server closes the chat


def show_incoming(me, sock, incoming, over: threading.Event) -> None:
    """Print every line the server relays (the partner's and our own) until it closes."""
    try:
        while (line := recv_line(sock, incoming)) is not None:
            me.say(as_text(line))
    except ConnectionError:
        pass                                            # narrated where it happened
    over.set()
    me.say(CHAT_OVER)


# -- the one-process run: X and Y take turns ------------------------------------------------------
SCENE = Scene(parts={"client X": SCRIPT, "client Y": ("Loud and clear, X",)},
              turns=(Joins("client X"), Joins("client Y"), Types("client X"), Types("client Y"), Types("client X")))
