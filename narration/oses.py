"""What differs from one OS to the next, named in one place, so that what the tool says is true
on each (``sys.platform``: linux, darwin for macOS, win32 for Windows).  Everything else in the
kit is one code path on all three.

    TIME_WAIT         how long the end that closed first keeps the connection's port
    REUSE_OPTION      the option that lets a server restart on its port and keeps others off it
    ADDRESS_COMMAND   how to see this machine's addresses
    FIREWALL          what may stop students from connecting
    send_wait()       SO_SNDTIMEO's value: a DWORD of milliseconds on Windows, a timeval elsewhere
    RESET_ON_CLOSE    SO_LINGER's value for "on, 0 seconds": two u_shorts on Windows, two ints elsewhere
    FULL_BACKLOG      what a server's kernel does with a new connection once its listen() queue is full
    DELAYED_ACK       how long a kernel may hold back an ACK, hoping to send it with a reply
"""
from __future__ import annotations

import socket
import struct
import sys

OS = "win32" if sys.platform == "win32" else "darwin" if sys.platform == "darwin" else "linux"
NAME = {"linux": "Linux", "darwin": "macOS", "win32": "Windows"}[OS]

TIME_WAIT = {"linux": "60 seconds", "darwin": "30 seconds",
             "win32": "2 to 4 minutes"}[OS]

# Windows gives SO_REUSEADDR another meaning: "let a second socket take this port", so a second
# server would start silently beside the first.  Its SO_EXCLUSIVEADDRUSE is what SO_REUSEADDR means
# elsewhere (CPython's own create_server() does not set SO_REUSEADDR there).
REUSE_OPTION = "SO_EXCLUSIVEADDRUSE" if OS == "win32" else "SO_REUSEADDR"

ADDRESS_COMMAND = {"linux": "ip addr", "darwin": "ifconfig (or System Settings > Network)",
                   "win32": "ipconfig"}[OS]

FIREWALL = {"linux": "a firewall may block the port (ufw: sudo ufw allow PORT/tcp)",
            "darwin": "macOS may ask to allow incoming connections for Python: allow them",
            "win32": "Windows Defender Firewall asks to allow Python on first listen: allow private networks"}[OS]


def reuse_option(level: int, option: int) -> tuple[int, str]:
    """The option really set for ``setsockopt(level, option, ...)``, and its name."""
    if level == socket.SOL_SOCKET and option == socket.SO_REUSEADDR and OS == "win32":
        return socket.SO_EXCLUSIVEADDRUSE, REUSE_OPTION
    names = {(socket.SOL_SOCKET, socket.SO_REUSEADDR): "SO_REUSEADDR",
             (socket.IPPROTO_TCP, socket.TCP_NODELAY): "TCP_NODELAY",
             (socket.SOL_SOCKET, socket.SO_LINGER): "SO_LINGER",
             (socket.SOL_SOCKET, socket.SO_SNDBUF): "SO_SNDBUF", (socket.SOL_SOCKET, socket.SO_RCVBUF): "SO_RCVBUF"}
    return option, names.get((level, option), str(option))


def send_wait(milliseconds: int) -> bytes:
    """How long a blocking send may wait for room in the kernel's buffer (SO_SNDTIMEO)."""
    if OS == "win32":
        return struct.pack("L", milliseconds)
    return struct.pack("ll", milliseconds // 1000, milliseconds % 1000 * 1000)


# close() then sends a reset (RST) at once and drops what was queued: the peer's blocked send
# fails now, instead of probing a zero window until its own timeout.
RESET_ON_CLOSE = struct.pack("HH" if OS == "win32" else "ii", 1, 0)

# A listen() queue that is full: Linux and macOS drop the new SYN (the client retries it, and its
# connect() waits); Windows answers with a reset, so connect() is refused at once.
FULL_BACKLOG = {"linux": "it drops each new SYN, so connect() waits and retries",
                "darwin": "it drops each new SYN, so connect() waits and retries",
                "win32": "it refuses each new connection, so connect() fails at once"}[OS]

# Delayed ACK: the kernel's own timer (Linux: 40 ms at least, up to 200 ms; macOS: up to 100 ms;
# Windows: 200 ms, TcpAckFrequency).  Named, never measured into the output.
DELAYED_ACK = {"linux": "40 ms or more", "darwin": "up to 100 ms", "win32": "up to 200 ms"}[OS]
