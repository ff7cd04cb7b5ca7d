"""Stream or datagrams: the same messages over TCP and over UDP.

    TCP:  sendall "hello", sendall "world"  -> one recv(1024) returns b"helloworld"   (merged)
          sendall 2500 bytes                -> recv(1024) returns 1024 of them       (split)
    UDP:  sendto "hello", sendto "world"    -> two recvfrom, one whole datagram each
          sendto 2500 bytes                 -> one recvfrom returns all 2500         (whole)
          sendto a port nobody reads        -> no error at all: the datagram is lost
"""
from __future__ import annotations

from socket import SOCK_DGRAM

from narration.framing import as_text
from narration.lessons._setup import LOOPBACK, open_pair, until_buffered

SUMMARY = "TCP merges and splits messages; UDP keeps each datagram whole, or loses it"
MESSAGES = (b"hello", b"world")
BIG = 2500          # bytes: more than one recv(1024) returns
ROOM = 4096         # a recvfrom buffer larger than any datagram here


def play(run) -> None:
    server, client, conn, sock, listener = open_pair(run)
    server.note("TCP, a byte stream: two messages, then one big one")
    server.note("(each recv() below waits until the bytes it needs have all arrived, so the merge "
                "shows every run; on a real network it happens by chance)")
    for message in MESSAGES:
        sock.sendall(message)
    until_buffered(conn, sum(map(len, MESSAGES)))
    data = conn.recv(1024)
    server.say(f"TCP: {len(MESSAGES)} sends, 1 recv: {as_text(data)!r}: merged, the boundary is gone")
    sock.sendall(b"x" * BIG)
    until_buffered(conn, BIG)
    data = conn.recv(1024)
    server.say(f"TCP: 1 send of {BIG} bytes, 1 recv: {len(data)} bytes: split, the rest waits")
    while len(data) < BIG:
        data += conn.recv(1024)
    sock.close()
    conn.close()
    listener.close()

    server.note("UDP, datagrams: the same messages, each sendto() one datagram")
    receiver = server.socket(kind=SOCK_DGRAM)
    receiver.bind(LOOPBACK)
    address = receiver.getsockname()
    sender = client.socket(kind=SOCK_DGRAM)
    for message in MESSAGES:
        sender.sendto(message, address)
    for _ in MESSAGES:
        data, _ = receiver.recvfrom(1024)
        server.say(f"UDP: 1 recvfrom, 1 datagram: {as_text(data)!r}: whole, never merged")
    sender.sendto(b"x" * BIG, address)
    data, _ = receiver.recvfrom(ROOM)
    server.say(f"UDP: 1 sendto of {BIG} bytes, 1 recvfrom: {len(data)} bytes, whole")
    server.note(f"a datagram is never split over calls: a recvfrom({len(data) - 1}) would cut it and "
                "discard the rest, so give recvfrom room for the largest message")
    receiver.close()

    client.note("and UDP keeps no connection: send to a port nobody reads any more")
    sender.sendto(b"anyone there?", address)
    client.note("no error: sendto() succeeded, yet nobody will ever receive it; the datagram is lost, "
                "and only a reply that never comes (a timeout) can show it")
    sender.close()
