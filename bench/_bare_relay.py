"""The leanest one-thread Python relay there is, as a floor for bench/chat_load.py's classroom.

    python bench/_bare_relay.py

Prints the port it listens on (127.0.0.1), then relays until its stdin closes: each whole line a
client sends goes to every other client.  One thread, epoll, non-blocking sockets, an outbox each,
and nothing else: no narration, no names or rules, no bounds, no fairness.  It is not a chat
server anyone should run; it says what the same load costs any Python server on this machine (the
kernel's loopback send() dominates), so that chat's figure can be read against it.
"""
from __future__ import annotations

import select
import socket
import sys
import threading

SLICE = 128          # members sent to between two looks at the sockets, as chat's Crowd does


def relay(listener: socket.socket) -> None:
    epoll = select.epoll()
    epoll.register(listener.fileno(), select.EPOLLIN)
    clients: dict[int, socket.socket] = {}
    outboxes: dict[int, bytearray] = {}
    partial: dict[int, bytes] = {}
    owed: dict[int, None] = {}                # fds with bytes waiting, in the order they came

    def drop(fd: int) -> None:
        epoll.unregister(fd)
        clients.pop(fd).close()
        del outboxes[fd]
        owed.pop(fd, None)
        partial.pop(fd, None)

    while True:
        for fd, _ in epoll.poll(0 if owed else -1):
            if fd == listener.fileno():
                while True:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    clients[conn.fileno()] = conn
                    outboxes[conn.fileno()] = bytearray(b"* welcome\n")
                    owed[conn.fileno()] = None
                    epoll.register(conn.fileno(), select.EPOLLIN)
                continue
            try:
                data = clients[fd].recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                drop(fd)
                continue
            data = partial.pop(fd, b"") + data
            cut = data.rfind(b"\n") + 1
            if cut < len(data):
                partial[fd] = data[cut:]
            if cut:
                line = data[:cut]
                for other, outbox in outboxes.items():
                    if other != fd:
                        outbox += line
                        owed[other] = None
        for fd in list(owed)[:SLICE]:
            del owed[fd]
            outbox = outboxes[fd]
            try:
                del outbox[:clients[fd].send(outbox)]
            except BlockingIOError:
                pass
            except OSError:
                drop(fd)
                continue
            if outbox:
                owed[fd] = None


def main() -> int:
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    listener.setblocking(False)
    print(listener.getsockname()[1], flush=True)
    threading.Thread(target=relay, args=(listener,), daemon=True).start()
    sys.stdin.read()                 # the bench closes our stdin when it is done with us
    return 0


if __name__ == "__main__":
    sys.exit(main())
