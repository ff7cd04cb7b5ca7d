"""What the kernel itself says about a TCP socket: its state (LISTEN, ESTABLISHED, CLOSE_WAIT, ...)
and the bytes waiting in its queues, read without privileges, as each OS allows.

    of_socket(sock)          -> Reading | None   an open socket: state, unread and unsent bytes
    after_close(local, peer) -> str | None       a closed one's connection, from the OS's table
                                                 (TIME_WAIT, FIN_WAIT_2, LAST_ACK ...), or None
    table_readable()                             whether that table can be read here
    UNREADABLE                                   why the state cannot be read here, or ""

- Linux: ``TCP_INFO`` (its first byte is the state), ``SIOCINQ``/``SIOCOUTQNSD`` for the queues, and
  ``/proc/net/tcp`` (and ``tcp6``) for a connection whose socket is closed;
- macOS: ``TCP_CONNECTION_INFO`` (its first byte is the state) and ``FIONREAD``; the unsent count
  and closed connections are not readable without privileges;
- Windows: nothing without privileges: ``UNREADABLE`` says so, and no state is ever invented.

A reading is the state *then*: a state that passes faster than the next call (SYN_SENT on
loopback) is never seen, and is not drawn.
"""
from __future__ import annotations

import socket
import struct
import sys
from functools import cache
from pathlib import Path
from typing import NamedTuple

# The kernel's numbering of TCP's states (Linux include/net/tcp_states.h; macOS's own is below).
LINUX_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT_1", 5: "FIN_WAIT_2",
                6: "TIME_WAIT", 7: "CLOSED", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}
DARWIN_STATES = {0: "CLOSED", 1: "LISTEN", 2: "SYN_SENT", 3: "SYN_RECV", 4: "ESTABLISHED",
                 5: "CLOSE_WAIT", 6: "FIN_WAIT_1", 7: "CLOSING", 8: "LAST_ACK", 9: "FIN_WAIT_2",
                 10: "TIME_WAIT"}
# Linux ioctls: bytes to read; bytes not sent yet (SIOCOUTQ would add those sent and not yet
# acknowledged, which a delayed ACK keeps for up to 40 ms: a reading that would change run to run).
SIOCINQ, SIOCOUTQNSD = 0x541B, 0x894B
# States that last until the peer's ACK comes, which the peer may delay (delayed ACK, up to 200 ms).
AWAITING_ACK = {"SYN_SENT", "SYN_RECV", "FIN_WAIT_1", "CLOSING", "LAST_ACK"}
FIONREAD_DARWIN = 0x4004667F
TCP_CONNECTION_INFO = 0x106                      # macOS <netinet/tcp.h>

if sys.platform.startswith("linux") or sys.platform == "darwin":
    UNREADABLE = ""
else:
    UNREADABLE = (f"TCP states are not readable without privileges on {sys.platform}: "
                  "the calls are shown, the states are not")


class Reading(NamedTuple):
    """One look at a socket: its state, bytes received and not yet read by the program, and bytes
    the program sent that the kernel has not sent yet (None where the OS does not say)."""

    state: str
    unread: int | None
    unsent: int | None


def _ioctl_count(sock: socket.socket, request: int) -> int | None:
    try:
        import fcntl
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0"))[0]
    except (ImportError, OSError, ValueError):
        return None


def of_socket(sock: socket.socket) -> Reading | None:
    """The kernel's state of ``sock`` now, or None where it cannot be read (closed, not TCP, the OS)."""
    if sock.fileno() < 0 or sock.type != socket.SOCK_STREAM:
        return None
    try:
        if sys.platform.startswith("linux"):
            code = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
            state = LINUX_STATES.get(code)
            if state is None:
                return None
            if state == "LISTEN":               # a listener's queues count connections, not bytes
                return Reading(state, None, None)
            return Reading(state, _ioctl_count(sock, SIOCINQ), _ioctl_count(sock, SIOCOUTQNSD))
        if sys.platform == "darwin":
            code = sock.getsockopt(socket.IPPROTO_TCP, TCP_CONNECTION_INFO, 8)[0]
            state = DARWIN_STATES.get(code)
            if state is None:
                return None
            unread = None if state == "LISTEN" else _ioctl_count(sock, FIONREAD_DARWIN)
            return Reading(state, unread, None)
    except OSError:
        return None
    return None


def _table_address(text: str, v6: bool) -> tuple[str, int]:
    """'0100007F:85DF' (little-endian words, as /proc/net/tcp writes them) -> ('127.0.0.1', 34271)."""
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if v6:
        address = socket.inet_ntop(socket.AF_INET6, words)
        if address.startswith("::ffff:"):
            address = address.removeprefix("::ffff:")
        return address, int(port, 16)
    return socket.inet_ntop(socket.AF_INET, words), int(port, 16)


@cache
def table_readable() -> bool:
    """Whether ``after_close`` can read the OS's connection table here (Linux's /proc/net/tcp)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        with Path("/proc/net/tcp").open(encoding="ascii") as table:
            table.readline()
    except OSError:
        return False                                # a hardened system
    return True


def after_close(local: tuple, peer: tuple) -> str | None:
    """The state of the connection between ``local`` and ``peer`` once its socket is closed (the
    kernel keeps it a while: TIME_WAIT, FIN_WAIT_2, LAST_ACK), or None: gone, or not readable."""
    if not sys.platform.startswith("linux"):
        return None
    wanted = ((local[0], local[1]), (peer[0], peer[1]))
    for name, v6 in (("tcp", False), ("tcp6", True)):
        try:
            lines = Path("/proc/net", name).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4:
                continue
            try:
                here, there = _table_address(fields[1], v6), _table_address(fields[2], v6)
            except (ValueError, OSError):
                continue
            if (here, there) == wanted:
                return LINUX_STATES.get(int(fields[3], 16))
    return None
