"""udp-echo: echo over UDP: each line is one datagram; the reply carries the sender's address.

    client                                   server
      |                                        |  socket(SOCK_DGRAM), bind
      |  socket(SOCK_DGRAM)                    |  recvfrom: waits for any datagram
      |  sendto "hello"  ------------------->  |  recvfrom -> b"hello", ("127.0.0.1", 54321)
      |  <--  "ECHO: hello (from 127.0.0.1:54321)\\n"  sendto that address
      |  sendto "quit"  -------------------->  |  recvfrom
      |  <--  "BYE (from 127.0.0.1:54321)\\n"     (the server keeps serving others)

No listen, accept or connect: UDP has no connections.  The server answers whoever sent each
datagram, at the address recvfrom returned; one sendto is one recvfrom, so a datagram is a
message of its own and needs no newline (netcat's newline is dropped if there is one).
"""
from __future__ import annotations

from socket import SOCK_DGRAM

from modes.echo import echo_reply, is_quit  # the same rule as echo, over datagrams
from narration.framing import BadText, as_text, decode_line, reply_line

SUMMARY = "echo over UDP: one datagram per line, no connection; the reply names the sender's address"
SCRIPT = ("hello", "sockets are fun", "quit")
TRANSPORT = "udp"          # the launcher tells students `nc -u`
BUFSIZE = 1024             # bytes: a longer datagram is cut to this (the rest is discarded)


def datagram_text(data: bytes) -> str:
    """A datagram as one message of text: netcat's line end dropped; BadText if not usable."""
    return decode_line(data.removesuffix(b"\n").removesuffix(b"\r"))


def answer(data: bytes, client_address) -> bytes:
    """The reply datagram to ``data`` from ``client_address`` (a line, so netcat shows it as one)."""
    try:
        return reply_line(echo_reply(datagram_text(data), client_address))
    except BadText as problem:
        return reply_line(str(problem))


def server(me, address, ready) -> None:
    sock = me.socket(kind=SOCK_DGRAM)                  # socket(AF_INET, SOCK_DGRAM): UDP
    sock.bind(address)                                 # no SO_REUSEADDR: UDP has no TIME_WAIT
    ready.set(sock.getsockname())                      # datagrams may come from now on
    with sock:
        while True:
            data, client_address = sock.recvfrom(BUFSIZE)   # one whole datagram, from anyone
            try:
                sock.sendto(answer(data, client_address), client_address)
            except OSError as problem:                 # a forged address (port 0...): skip that one
                me.error(f"no reply to {client_address[0]}:{client_address[1]}: {problem.strerror or problem}")


def client(me, address, lines) -> None:
    sock = me.socket(kind=SOCK_DGRAM)                  # no connect: every sendto names the server
    sock.settimeout(me.patience)                       # no reply within this (--timeout): lost, or nobody there
    with sock:
        for line in lines:
            sock.sendto(line.encode("utf-8"), address)     # the OS picks a local port the first time
            try:
                reply, _ = sock.recvfrom(BUFSIZE)
            except TimeoutError:
                me.say(f"no reply within {me.patience:g} s: the datagram or its reply was lost, "
                       "or no server is there (UDP cannot tell which)")
            else:
                me.say(as_text(reply.removesuffix(b"\n")))
            if is_quit(line):
                return
