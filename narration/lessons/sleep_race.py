"""The sleep race: a client that guesses when the server is ready, instead of being told.

    naive:   start the server thread, sleep a guess, connect   -> refused when the guess loses
    the fix: after listen(), the server sets a ready event that carries its address
"""
from __future__ import annotations

import socket
from socket import SO_REUSEADDR, SOL_SOCKET

from narration.lessons._setup import LOOPBACK

SUMMARY = "a client that does not wait for listen() is refused"


def play(run) -> None:
    server, client = run.actor("server"), run.actor("client")
    with socket.socket() as probe:                  # find a free port to use for both attempts
        probe.bind(LOOPBACK)
        port = probe.getsockname()[1]
    address = ("127.0.0.1", port)

    client.note("naive: the client starts right after the server thread, with a sleep as a guess")
    early = client.socket()
    try:
        early.connect(address)
    except ConnectionRefusedError:
        client.note("refused: the client came before the server's listen(); the guess lost the race")
    early.close()
    server.note("(to lose the race every run, this server starts only after that attempt)")

    ready = run.ready
    listener = server.socket()
    listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    listener.bind(address)
    listener.listen()
    ready.set(listener.getsockname())
    server.note("the fix: after listen(), the server sets a ready event that carries its address")
    client.note("... and the client waits on that event, not on a sleep")
    sock = client.socket()
    sock.connect(ready.wait(5, actor="client"))
    conn, _ = listener.accept()
    sock.sendall(b"hello\n")
    conn.recv(1024)
    client.say("connected and sent on the first try")
    sock.close()
    conn.close()
    listener.close()
