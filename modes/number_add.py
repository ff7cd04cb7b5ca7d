"""number-add: each client sends "Client of NAME: N"; the server adds its own number to N.

    client                                   server (Server of Demo, number 42)
      |  socket, connect  ------------------>  |  accept
      |  "Client of Ada: 7\\n"  ------------->  |  recv, parse, add
      |  <--  "Server of Demo: 42; Client of Ada: 7; Combined: 49\\n"
      |  close                                 |  close; accept the next client
      ...
      |  "Client of Cy: 250\\n"  ------------>  |  250 is outside 1..100:
      |  <--  "... server is closing\\n"         |  reply, close, stop listening

One number per connection, as in the seed.  A number outside 1..100 shuts the server down, unless
the teacher keeps it up for a class (``keep_serving``): then that number is answered like any other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from socket import SO_REUSEADDR, SOL_SOCKET

from narration.errors import PeerClosed
from narration.framing import RULE, BadText, LineBuffer, as_text, decode_line, recv_line, recv_reply, reply_line

SUMMARY = "each client sends 'Client of NAME: N'; the server adds its number 42 and replies"
SCRIPT = ("Client of Ada: 7", "Client of Bob: seven", "Client of Cy: 250")
BACKLOG = 256      # connections the kernel queues before accept(): a whole class at once
SERVER_NAME = "Server of Demo"
SERVER_NUMBER = 42
LOWEST, HIGHEST = 1, 100
EXPECTED_FORM = "Client of NAME: N (N a whole number)"
CLIENT_NAME = "Student"
_MESSAGE = re.compile(r"Client of (?P<name>.+?):\s*(?P<number>[+-]?\d+)\s*")


@dataclass(frozen=True)
class Answer:
    """What the server says back, and whether it keeps serving afterwards."""

    reply: str
    keep_serving: bool = True


def parse_client_message(text: str) -> tuple[str, int]:
    """("Ada", 7) from "Client of Ada: 7"; BadText naming the expected form otherwise."""
    match = _MESSAGE.fullmatch(text.strip())
    if match is None or len(match["number"]) > 12:
        raise BadText(f"error: expected '{EXPECTED_FORM}'")
    return match["name"].strip(), int(match["number"])


def answer(text: str, server_name: str = SERVER_NAME, server_number: int = SERVER_NUMBER, *,
           keep_serving: bool = False) -> Answer:
    """The server's whole rule, with no socket: parse, add, and decide whether to go on (out of
    range, the seed's server closes; one that ``keep_serving`` says so and carries on)."""
    name, number = parse_client_message(text)
    combined = server_number + number
    reply = f"{server_name}: {server_number}; Client of {name}: {number}; Combined: {combined}"
    if not LOWEST <= number <= HIGHEST and keep_serving:
        return Answer(f"{reply}; {number} is outside {LOWEST}..{HIGHEST} (the server keeps serving)")
    if not LOWEST <= number <= HIGHEST:
        return Answer(f"{reply}; {number} is outside {LOWEST}..{HIGHEST}, so the server is closing",
                      keep_serving=False)
    return Answer(reply)


def as_message(line: str, name: str = CLIENT_NAME) -> str:
    """A bare number typed by a person becomes the seed's "Client of NAME: N"."""
    return f"Client of {name}: {line.strip()}" if line.strip().lstrip("+-").isdigit() else line


def server(me, address, ready, *, keep_serving: bool = False) -> None:
    """``keep_serving``: a number out of range is answered instead of closing the server."""
    listener = me.socket()
    listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    listener.bind(address)
    listener.listen(BACKLOG)
    ready.set(listener.getsockname())
    me.note(f"framing: {RULE}")
    me.say(f"{SERVER_NAME} is ready; its number is {SERVER_NUMBER}")
    while True:
        conn, _ = listener.accept()                  # ends once the listener is closed
        me.start(serve_one_number, me, conn, listener, keep_serving)


def serve_one_number(me, conn, listener, keep_serving: bool = False) -> None:
    """One message, one reply, then close (as in the seed); out of range closes the server."""
    with conn:
        message = recv_line(conn, LineBuffer())
        if message is None:
            me.say("the client closed without sending a number")
            return
        try:
            text = decode_line(message)
            result = answer(text, keep_serving=keep_serving)
        except BadText as problem:
            conn.sendall(reply_line(str(problem)))
            return
        name, number = parse_client_message(text)
        me.say(f"{name} has connected to {SERVER_NAME}")
        me.say(f"Server: {SERVER_NUMBER}; Client: {number}; Combined: {SERVER_NUMBER}+{number}"
               f" = {SERVER_NUMBER + number}")
        if not result.keep_serving:
            me.say(f"{number} is outside {LOWEST}..{HIGHEST}: {SERVER_NAME} is closing")
            listener.close()                       # no more connections: the accept() loop ends
        conn.sendall(reply_line(result.reply))


def client(me, address, lines) -> None:
    for line in lines:                     # one connection per number, as in the seed
        sock = me.socket()
        sock.connect(address)
        sock.settimeout(me.patience)       # a reply that never comes ends the wait (--timeout)
        with sock:
            sock.sendall(reply_line(as_message(line)))
            reply = recv_reply(sock, LineBuffer())   # a line, or more that came with it
            if not reply:
                raise PeerClosed("the server closed the connection")
            for line_of_reply in reply:
                me.say(as_text(line_of_reply))
