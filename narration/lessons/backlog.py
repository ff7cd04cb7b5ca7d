"""The backlog: connect() completes before accept(), in the kernel's queue that listen(n) sizes.

    naive:   the server, busy elsewhere, listens with listen(1) and calls no accept() yet
             -> each connect() still returns, and sendall() too: the server's kernel completed
                the connection and queued it; once the queue is full, the next connect() gets
                no answer (Linux and macOS drop its SYN; Windows refuses it)
    the fix: listen(n) with room for the clients that may arrive together; and a client learns
             that it is served from the server's reply, never from connect()
"""
from __future__ import annotations

from narration import oses
from narration.lessons._kernel import shown, state
from narration.lessons._setup import LOOPBACK, until_buffered

SUMMARY = "connect() completes before accept(): the backlog of listen(n)"
TRIES = 6               # clients at most: the queue of listen(1) holds one or two on every OS
GIVE_UP = 0.25          # seconds a connect() waits here (a real client retries its SYN for minutes)
ROOM = 16               # the fix's backlog: more than the clients that arrive together


def start_server(server, backlog: int):
    listener = server.socket()
    listener.bind(LOOPBACK)
    listener.listen(backlog)
    return listener


def arrive(run, number: int, address, *, give_up: float | None = None):
    """Client ``number`` connects and sends its line; returns its socket, or None if connect() failed."""
    client = run.actor(f"client{number}")
    sock = client.socket()
    if give_up:
        sock.settimeout(give_up)
    try:
        sock.connect(address)
    except OSError:
        client.note(f"no connection: the queue is full; its end is {shown(state(sock))}")
        sock.close()
        return None
    sock.sendall(f"hello from client{number}\n".encode())
    return sock


def serve_queue(server, listener, clients) -> None:
    """The server at last calls accept(): each connection was waiting, its line already there."""
    for number, sock in enumerate(clients, start=1):
        conn, _ = listener.accept()
        until_buffered(conn, len(f"hello from client{number}\n"))
        conn.recv(1024)
        conn.sendall(b"served\n")
        until_buffered(sock, len(b"served\n"))
        sock.recv(1024)
        sock.close()
        conn.close()


def play(run) -> None:
    server = run.actor("server")
    server.note("naive: the server listens with listen(1), then is busy elsewhere: no accept() yet")
    listener = start_server(server, 1)
    address = listener.getsockname()
    queued = []
    for number in range(1, TRIES + 1):
        sock = arrive(run, number, address, give_up=GIVE_UP)
        if sock is None:
            break
        if number == 1:
            run.actor("client1").note(f"connect() and sendall() returned, with no accept(): its end is "
                                      f"{shown(state(sock))}; the server's kernel queued the connection")
        queued.append(sock)
    server.note(f"the kernel queued {len(queued)} connections for listen(1); then {oses.FULL_BACKLOG}")
    serve_queue(server, listener, queued)
    server.note("only the reply told each client that it was served; connect() never did")
    listener.close()

    server.note(f"the fix: listen({ROOM}), room for the clients that arrive together; each is served in turn")
    listener = start_server(server, ROOM)
    clients = [arrive(run, number, listener.getsockname()) for number in range(1, len(queued) + 2)]
    serve_queue(server, listener, clients)
    listener.close()
