"""Restarting a server on its port: Address already in use, until SO_REUSEADDR.

    naive:   serve, close first (this end waits in TIME_WAIT), restart on the same port -> refused
    the fix: setsockopt(SOL_SOCKET, SO_REUSEADDR, 1) before bind(), in every run of the server
"""
from __future__ import annotations

from socket import SO_REUSEADDR, SOL_SOCKET

from narration import oses
from narration.lessons._setup import LOOPBACK

SUMMARY = "restarting a server on its port without SO_REUSEADDR"


def serve_once(server, client, *, reuse: bool) -> tuple:
    """One exchange where the server closes first; returns the port's address, now in TIME_WAIT."""
    listener = server.socket()
    if reuse:
        listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    listener.bind(LOOPBACK)
    listener.listen()
    address = listener.getsockname()
    sock = client.socket()
    sock.connect(address)
    conn, _ = listener.accept()
    sock.sendall(b"hello\n")
    conn.recv(1024)
    conn.close()                                     # the server closes first ...
    sock.recv(1024)
    sock.close()
    listener.close()
    return address


def restart(server, address, *, reuse: bool) -> None:
    again = server.socket()
    if reuse:
        again.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    try:
        again.bind(address)
    except OSError:
        server.note("Address already in use: the old connection's TIME_WAIT still holds the port")
    else:
        again.listen()
        server.say("restarted on the same port at once")
    again.close()


def play(run) -> None:
    server, client = run.actor("server"), run.actor("client")
    server.note("naive: a server without SO_REUSEADDR serves one client, closing first")
    address = serve_once(server, client, reuse=False)
    server.note(f"its end of that connection now waits in TIME_WAIT ({oses.TIME_WAIT} on {oses.NAME})")
    server.note("restart: a new socket binds the same port")
    restart(server, address, reuse=False)

    server.note("the fix: set SO_REUSEADDR before bind(), in every run of the server")
    if oses.OS == "win32":
        server.note("(on Windows, SO_REUSEADDR would let a second server share the port: the tool sets "
                    "SO_EXCLUSIVEADDRUSE, which is what SO_REUSEADDR means elsewhere)")
    address = serve_once(server, client, reuse=True)
    server.note("restart: a new socket, SO_REUSEADDR again, binds the same port")
    restart(server, address, reuse=True)
