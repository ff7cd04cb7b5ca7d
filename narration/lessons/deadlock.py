"""Buffer deadlock: both ends send a lot before reading, and both wait for ever.

    naive:   each end calls sendall() with more than the buffers hold, and reads only after
             -> each sendall waits for room that only the other end's reading would make:
                neither ever reads (here each gives up after a timeout, to show it)
    the fix: read while sending: a reader thread on each end (select() does the same in one thread)

Small buffers (SO_SNDBUF, SO_RCVBUF) make the deadlock come after 128 kB instead of megabytes:
the same happens at any size once it is more than the buffers hold.
"""
from __future__ import annotations

from socket import SO_RCVBUF, SO_SNDBUF, SOL_SOCKET

from narration.lessons._setup import LOOPBACK, until_buffered

SUMMARY = "buffer deadlock: both ends send before reading, until both buffers are full"
SEND_ROOM, RECEIVE_ROOM = 4096, 32768     # bytes asked for each buffer (the kernel may give more)
TOTAL = 128 * 1024                         # bytes each end sends: more than both buffers hold
PIECE = 16 * 1024                          # bytes a reader takes at a time (less than its buffer)
GIVE_UP = 0.5                              # seconds a naive sendall waits before giving up


def small_buffers(sock) -> None:
    sock.setsockopt(SOL_SOCKET, SO_SNDBUF, SEND_ROOM)
    sock.setsockopt(SOL_SOCKET, SO_RCVBUF, RECEIVE_ROOM)


def connected(run, listener):
    """A client with small buffers connects; the accepted socket has the listener's."""
    client = run.actor("client")
    sock = client.socket()
    small_buffers(sock)
    sock.connect(listener.getsockname())
    conn, _ = listener.accept()
    return conn, sock


def send_everything(actor, sock, gave_up: list) -> None:
    try:
        sock.sendall(f"{actor.name}'s bytes, ".encode() * (TOTAL // 16))    # 16 bytes: a piece holds whole ones
    except TimeoutError:
        gave_up.append(actor.name)
        actor.error(f"sendall gave up after {GIVE_UP:g} s: the buffers are full and nobody reads: deadlock")


def read_everything(sock) -> None:
    """A reader thread: takes the peer's bytes as they come, a piece at a time."""
    for _ in range(TOTAL // PIECE):
        until_buffered(sock, PIECE)     # a whole piece, so every run shows the same calls
        sock.recv(PIECE)


def play(run) -> None:
    server, client = run.actor("server"), run.actor("client")
    server.note("(small buffers, SO_SNDBUF and SO_RCVBUF, so that kilobytes fill them instead of megabytes)")
    listener = server.socket()
    small_buffers(listener)             # a socket that accept() returns has the same buffers
    listener.bind(LOOPBACK)
    listener.listen()

    server.note(f"naive: each end sends {TOTAL:,} bytes with sendall(), and only then reads")
    conn, sock = connected(run, listener)
    conn.settimeout(GIVE_UP)
    sock.settimeout(GIVE_UP)
    gave_up: list[str] = []
    senders = [(server, server.start(send_everything, server, conn, gave_up)),
               (client, client.start(send_everything, client, sock, gave_up))]
    for actor, thread in senders:
        actor.join(thread, GIVE_UP + 5)
    if len(gave_up) == 2:
        server.note("both sendall() calls blocked at once: each waited for the other to read")
    else:
        server.note(f"only {len(gave_up)} of the 2 sendall() calls blocked: this system's buffers held more")
    sock.close()
    conn.close()

    server.note("the fix: a reader thread on each end takes the peer's bytes while its sendall() runs")
    server.note(f"(each reader's recv() waits until a whole {PIECE:,}-byte piece has arrived, so every "
                "run shows the same calls; a real reader takes what comes)")
    conn, sock = connected(run, listener)
    gave_up.clear()
    threads = [(server, server.start(read_everything, conn)), (client, client.start(read_everything, sock)),
               (server, server.start(send_everything, server, conn, gave_up)),
               (client, client.start(send_everything, client, sock, gave_up))]
    ended = [actor.join(thread, 10) for actor, thread in threads]      # every one, none skipped
    if all(ended) and not gave_up:
        client.say(f"both sendall() calls finished: {TOTAL:,} bytes each way, read as they came")
    else:
        client.note("the transfer did not finish within 10 seconds")
    client.note("(select() does the same in one thread: it says which socket can be read, which written)")
    sock.close()
    conn.close()
    listener.close()
