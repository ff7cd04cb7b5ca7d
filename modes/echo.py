"""echo: the client sends lines; the server answers each with the line and the client's address.

    client                                   server
      |                                        |  socket, bind, listen
      |  socket, connect  ------------------>  |  accept
      |  "hello\\n"  ------------------------>  |  recv
      |  <--  "ECHO: hello (from 127.0.0.1:54321)\\n"
      |  "quit\\n"  ------------------------->  |  recv
      |  <--  "BYE (from 127.0.0.1:54321)\\n"
      |  close  ---------------------------->  |  recv -> b'' : the client closed
"""
from __future__ import annotations

from socket import SO_REUSEADDR, SOL_SOCKET

from narration.errors import PeerClosed
from narration.framing import RULE, BadText, LineBuffer, as_text, decode_line, recv_reply, reply_line
from narration.text import address_text

SUMMARY = "the client sends lines; the server echoes each one with the client's address"
SCRIPT = ("hello", "sockets are fun", "quit")
BACKLOG = 256      # connections the kernel queues before accept(): a whole class at once
QUIT_WORDS = ("quit", "/quit")
BUFSIZE = 1024


def is_quit(text: str) -> bool:
    return text.strip().lower() in QUIT_WORDS


def echo_reply(text: str, client_address) -> str:
    """The seed's rule: the line, modified, with the client's address added (an IPv6 one as
    [::1]:54321, so the port stays readable)."""
    where = address_text(client_address)
    if is_quit(text):
        return f"BYE (from {where})"
    return f"ECHO: {text} (from {where})"


def server(me, address, ready) -> None:
    listener = me.socket()                              # socket(AF_INET, SOCK_STREAM)
    listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)    # restart at once on the same port
    listener.bind(address)                              # port 0: the OS picks a free port
    listener.listen(BACKLOG)
    ready.set(listener.getsockname())                   # clients may connect from now on
    me.note(f"framing: {RULE}")
    while True:
        conn, client_address = listener.accept()        # blocks until a client connects
        me.start(serve_client, me, conn, client_address)  # one thread per client


def serve_client(me, conn, client_address) -> None:
    lines = LineBuffer()
    with conn:
        while True:
            data = conn.recv(BUFSIZE)      # part of a line, a line, or several lines
            # b'' : the client closed its side; a last line without newline still counts
            for message in lines.feed(data, quiet=conn.quiet) if data else lines.flush():
                try:
                    text = decode_line(message)
                except BadText as problem:
                    conn.sendall(reply_line(str(problem)))
                    continue
                conn.sendall(reply_line(echo_reply(text, client_address)))
                if is_quit(text):
                    return
            if not data:
                me.say(f"{client_address[0]}:{client_address[1]} disconnected")
                return


def client(me, address, lines) -> None:
    sock = me.socket()
    sock.connect(address)                  # the OS gives this end an ephemeral local port
    sock.settimeout(me.patience)           # a reply that never comes ends the wait (--timeout)
    with sock:
        replies = LineBuffer()
        for line in lines:
            sock.sendall(reply_line(line))
            reply = recv_reply(sock, replies)      # a line, or more that came with it
            if not reply:
                raise PeerClosed("the server closed the connection")
            for line_of_reply in reply:
                me.say(as_text(line_of_reply))
            if is_quit(line):
                return
