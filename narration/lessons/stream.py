"""TCP is a byte stream: two sends can arrive as one recv, and one send can need several.

    naive server: data = conn.recv(1024), taken to be one message   -> wrong twice
    the fix:      a LineBuffer splits the stream at newlines        -> every message whole
"""
from __future__ import annotations

from narration.framing import LineBuffer, as_text, recv_line
from narration.lessons._setup import open_pair, until_buffered

SUMMARY = "TCP is a byte stream: sends merge and split"
BIG = 2500      # bytes: more than one recv(1024) can return


def play(run) -> None:
    server, client, conn, sock, listener = open_pair(run)
    first, second = b"hello\n", b"world\n"
    big = b"x" * (BIG - 1) + b"\n"

    server.note("naive: this server assumes one recv() returns exactly one message")
    server.note("(to show it every run, each recv() below waits until the bytes it needs have all "
                "arrived; on a real network the same splits and merges happen by chance)")
    sock.sendall(first)
    sock.sendall(second)                                # two sends ...
    until_buffered(conn, len(first) + len(second))
    data = conn.recv(1024)                              # ... one recv
    server.say(f"naive server got 1 message: {as_text(data)!r}")
    server.note("wrong: two sends arrived as ONE recv; TCP keeps no message boundaries")
    sock.sendall(big)                                   # one send ...
    until_buffered(conn, len(big))
    data = conn.recv(1024)                              # ... more than one recv
    server.say(f"naive server got 1 message of {len(data)} bytes")
    server.note(f"wrong: one {len(big)}-byte send needs several recv() calls; the rest is still waiting")
    while len(data) < len(big):                         # drain the rest before the second round
        data += conn.recv(1024)

    server.note("the fix: frame the stream; here a message ends at a newline, however recv splits it")
    buffer = LineBuffer()
    sock.sendall(first)
    sock.sendall(second)
    until_buffered(conn, len(first) + len(second))
    for message in buffer.feed(conn.recv(1024)):
        server.say(f"framed message: {as_text(message)!r}")
    sock.sendall(big)
    until_buffered(conn, len(big))
    server.say(f"framed message: {len(recv_line(conn, buffer))} bytes, whole")
    sock.close()
    conn.close()
    listener.close()
