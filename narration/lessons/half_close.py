"""Half-close: shutdown(SHUT_WR) says "that is all I send", and the reply still comes back.

    naive:   the client sends its request, then close() to say it is done  -> the reply is lost
    the fix: shutdown(SHUT_WR): the server's recv() returns b'' (the request is whole), and the
             other direction still flows: the client receives the reply, then b''
"""
from __future__ import annotations

from socket import SHUT_WR

from narration.framing import as_text
from narration.lessons._kernel import shown, state, state_settled
from narration.lessons._setup import open_pair, until_buffered

SUMMARY = "close() too early loses the reply; shutdown(SHUT_WR) ends one direction only"
REQUEST = b"how many words are in this request\n"


def answer(request: bytes) -> bytes:
    return f"{len(request.split())} words\n".encode()


def read_request(server, conn) -> bytes:
    """This server knows the request is whole only at the end of the stream: recv() returning b''."""
    until_buffered(conn, len(REQUEST))
    request = conn.recv(1024)
    while conn.recv(1024):          # b'': the client will send no more
        pass
    server.note(f"recv returned b'': the request is whole; the server's end is {shown(state(conn))}")
    return request


def play(run) -> None:
    server, client, conn, sock, listener = open_pair(run)
    server.note("this server reads a request until the end of the stream, then answers it")
    client.note("naive: the client says it is done with close(), which ends both directions")
    client.note("(each recv() below waits until the bytes it needs have arrived, so every run is "
                "the same; on a real network it happens by chance)")
    sock.sendall(REQUEST)
    sock.close()
    reply = answer(read_request(server, conn))
    conn.sendall(reply)
    server.note("sendall succeeded: the kernel took the bytes; that is all a successful send means")
    lost = state_settled(conn, ("CLOSED",))
    server.note(f"but the client's socket is closed: its kernel answers the reply with a reset (RST); "
                f"the server's end is {shown(lost)}")
    client.note(f"the reply {as_text(reply)!r} is lost: a closed socket cannot receive it")
    conn.close()
    listener.close()

    client.note("the fix: shutdown(SHUT_WR) ends only the client's sending direction; it can still receive")
    server, client, conn, sock, listener = open_pair(run)
    sock.sendall(REQUEST)
    sock.shutdown(SHUT_WR)
    reply = answer(read_request(server, conn))
    acknowledged = state_settled(sock, ("FIN_WAIT_2",))
    client.note(f"the client's end is {shown(acknowledged)}: its FIN acknowledged, it still receives")
    conn.sendall(reply)
    until_buffered(sock, len(reply))
    client.say(f"reply: {as_text(sock.recv(1024))!r}")
    conn.close()
    sock.recv(1024)                 # b'': the server is done too
    client.note("the reply came back after the client's shutdown: each direction ends on its own")
    sock.close()
    listener.close()
