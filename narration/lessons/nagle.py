"""Nagle's algorithm against delayed ACK: write, write, read waits for nothing.

    naive:   the client sends its request in two small writes, then reads the reply
             -> Nagle's algorithm holds the second write until the first is acknowledged, and
                the server's kernel delays that ACK, hoping to send it with a reply, which
                cannot come before the whole request: the exchange waits for the ACK's timer
    the fix: one sendall of the whole request; or TCP_NODELAY, so each write goes out at once

The wait is real and is measured, but only its kind is shown (at once, or held), with a wide
margin between them, so every run reads the same; where this system does not stall, it says so.
"""
from __future__ import annotations

import time
from socket import IPPROTO_TCP, TCP_NODELAY

from narration import oses
from narration.lessons._setup import open_pair, until_buffered

SUMMARY = "Nagle's algorithm against delayed ACK: write, write, read stalls"
HELD = 0.025     # seconds: an answer on loopback takes well under 1 ms; a held write waits 40 ms or more
HEADER, BODY = b"GET /score HTTP/1.0\r\n", b"\r\n"
REPLY = b"HTTP/1.0 200 OK\r\n\r\n42"


def exchange(client, conn, sock, writes: list[bytes]) -> bool:
    """The client sends ``writes``, the server answers once the request is whole; True if it was held."""
    started = time.perf_counter()
    for data in writes:
        sock.sendall(data)
    until_buffered(conn, len(HEADER + BODY))     # the server cannot answer half a request
    conn.recv(1024)
    conn.sendall(REPLY)
    until_buffered(sock, len(REPLY))
    sock.recv(1024)
    held = time.perf_counter() - started >= HELD
    client.say(f"waited for the delayed ACK ({oses.DELAYED_ACK} on {oses.NAME}): Nagle held the second write"
               if held else "answered at once")
    return held


def play(run) -> None:
    server, client, conn, sock, listener = open_pair(run)
    server.note("(this server answers a whole request only: its recv() waits until all of it has arrived)")
    client.note("a first request, whole: a new connection acknowledges at once, so this sets the "
                "steady state that a second request meets")
    exchange(client, conn, sock, [HEADER + BODY])

    client.note("naive: write, write, read: the request in two small writes, then wait for the reply")
    if not exchange(client, conn, sock, [HEADER, BODY]):
        client.note(f"on this system ({oses.NAME}) the stall did not happen: its kernel acknowledged "
                    "the first write at once, or sent the second anyway")

    client.note("the fix: one sendall of the whole request")
    exchange(client, conn, sock, [HEADER + BODY])
    client.note("or TCP_NODELAY: every write goes out at once, however small (more, smaller packets)")
    sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    exchange(client, conn, sock, [HEADER, BODY])
    sock.close()
    conn.close()
    listener.close()
