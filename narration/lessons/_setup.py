"""What the lessons share: a connected pair of narrated sockets, and a wait for buffered bytes."""
from __future__ import annotations

import select
from socket import MSG_PEEK, MSG_WAITALL

LOOPBACK = ("127.0.0.1", 0)


def open_pair(run):
    """A listening server and a connected client, narrated; returns (server, client, conn, listener)."""
    server, client = run.actor("server"), run.actor("client")
    listener = server.socket()
    listener.bind(LOOPBACK)
    listener.listen()
    sock = client.socket()
    sock.connect(listener.getsockname())
    conn, _ = listener.accept()
    return server, client, conn, sock, listener


def until_buffered(conn, count: int) -> None:
    """Block until ``count`` bytes wait in the receive buffer (MSG_PEEK reads without taking).

    Not narrated (a note says it happens): it only makes the demonstration the same on every run,
    so that the next recv() returns exactly what the lesson needs (on a real network it happens
    by chance).
    """
    try:
        conn.real.recv(count, MSG_PEEK | MSG_WAITALL)
    except OSError:                 # a system without MSG_WAITALL for peeks: wait for each arrival
        while len(conn.real.recv(count, MSG_PEEK)) < count:
            select.select([conn.real], [], [])


def connect_again(run, listener):
    """One more connection to the same listening server, narrated; returns (conn, sock)."""
    sock = run.actor("client").socket()
    sock.connect(listener.getsockname())
    conn, _ = listener.accept()
    return conn, sock
