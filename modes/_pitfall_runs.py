"""The pitfall demonstrations themselves (see modes/_pitfalls.py for the list).

Each function plays a server and a client through narrated sockets: first the naive way, so the
mistake happens for real, then the right way.  Where the naive way only fails *sometimes* in real
life, an in-process signal makes it fail every time, and a note says so.
"""
from __future__ import annotations

import select
import socket
from socket import MSG_PEEK, MSG_WAITALL, SO_REUSEADDR, SOL_SOCKET

from modes._framing import LineBuffer, as_text, recv_line

LOOPBACK = ("127.0.0.1", 0)
BIG = 2500      # bytes: more than one recv(1024) can return


def _open_pair(run):
    """A listening server and a connected client, narrated; returns (server, client, conn, listener)."""
    server, client = run.actor("server"), run.actor("client")
    listener = server.socket()
    listener.bind(LOOPBACK)
    listener.listen()
    sock = client.socket()
    sock.connect(listener.getsockname())
    conn, _ = listener.accept()
    return server, client, conn, sock, listener


def _until_buffered(conn, count: int) -> None:
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


def stream(run, mode, lines) -> None:
    server, client, conn, sock, listener = _open_pair(run)
    first, second = b"hello\n", b"world\n"
    big = b"x" * (BIG - 1) + b"\n"

    server.note("naive: this server assumes one recv() returns exactly one message")
    server.note("(to show it every run, each recv() below waits until the bytes it needs have all "
                "arrived; on a real network the same splits and merges happen by chance)")
    sock.sendall(first)
    sock.sendall(second)                                # two sends ...
    _until_buffered(conn, len(first) + len(second))
    data = conn.recv(1024)                              # ... one recv
    server.say(f"naive server got 1 message: {as_text(data)!r}")
    server.note("wrong: two sends arrived as ONE recv; TCP keeps no message boundaries")
    sock.sendall(big)                                   # one send ...
    _until_buffered(conn, len(big))
    data = conn.recv(1024)                              # ... more than one recv
    server.say(f"naive server got 1 message of {len(data)} bytes")
    server.note(f"wrong: one {len(big)}-byte send needs several recv() calls; the rest is still waiting")
    while len(data) < len(big):                         # drain the rest before the second round
        data += conn.recv(1024)

    server.note("the fix: frame the stream; here a message ends at a newline, however recv splits it")
    buffer = LineBuffer()
    sock.sendall(first)
    sock.sendall(second)
    _until_buffered(conn, len(first) + len(second))
    for message in buffer.feed(conn.recv(1024)):
        server.say(f"framed message: {as_text(message)!r}")
    sock.sendall(big)
    _until_buffered(conn, len(big))
    server.say(f"framed message: {len(recv_line(conn, buffer))} bytes, whole")
    sock.close()
    conn.close()
    listener.close()


def sleep_race(run, mode, lines) -> None:
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


def _serve_once(server, client, *, reuse: bool) -> tuple:
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


def _restart(server, address, *, reuse: bool) -> None:
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


def reuseaddr(run, mode, lines) -> None:
    server, client = run.actor("server"), run.actor("client")
    server.note("naive: a server without SO_REUSEADDR serves one client, closing first")
    address = _serve_once(server, client, reuse=False)
    server.note("its end of that connection now waits in TIME_WAIT (a minute or more) and holds the port")
    server.note("restart: a new socket binds the same port")
    _restart(server, address, reuse=False)

    server.note("the fix: set SO_REUSEADDR before bind(), in every run of the server")
    address = _serve_once(server, client, reuse=True)
    server.note("restart: a new socket, SO_REUSEADDR again, binds the same port")
    _restart(server, address, reuse=True)


# The classic malicious pickle: unpickling it calls os.system("echo pwned").  We build the bytes
# by hand and only ever *disassemble* them with pickletools; nothing here unpickles anything.
EVIL_PICKLE = b"cos\nsystem\n(S'echo pwned'\ntR."


def pickle_ops(payload: bytes) -> list[str]:
    """What a pickle would do, read without running it (pickletools only parses)."""
    import pickletools
    return [f"{op.name} {arg!r}" if arg is not None else op.name for op, arg, _ in pickletools.genops(payload)]


def pickle(run, mode, lines) -> None:
    server, client, conn, sock, listener = _open_pair(run)
    client.note("an attacker's client sends bytes that are a pickle")
    sock.sendall(EVIL_PICKLE)
    _until_buffered(conn, len(EVIL_PICKLE))
    data = conn.recv(1024)
    server.note("naive: a server that calls pickle.loads(data) would now run these instructions:")
    for op in pickle_ops(data):
        server.say(f"  {op}")
    server.note("GLOBAL os.system + REDUCE = call os.system('echo pwned'): any command the sender "
                "picks, with the server's rights. (This demo only disassembled the bytes.)")
    server.note("the fix: send text (or JSON) and parse it with rules that only build data")
    sock.sendall(b"hello as plain text\n")
    server.say(f"text message: {as_text(recv_line(conn, LineBuffer()))!r}: data, never code")
    sock.close()
    conn.close()
    listener.close()
