"""What the kernel says about a lesson's connections: TCP states as it reports them, never invented.

    state(sock)               the state of an open narrated socket now ("CLOSE_WAIT"), or None
    closed_state(local, peer) the state of a connection whose socket is closed (TIME_WAIT ...), or None
    settled(read, wanted)     read again until the answer is one of ``wanted`` (bounded), then the answer
    state_settled(sock, wanted), closed_settled(local, peer, wanted)
                              the same for states, at once where this system cannot say
    UNREADABLE, TABLE_UNREADABLE   why states (of open, of closed sockets) cannot be read here, or ""

A lesson notes a state only as it was read.  Where it cannot be read (Windows; macOS for closed
connections; a hardened system), the lesson says so instead.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from narration import oses, tcp_state

UNREADABLE = tcp_state.UNREADABLE


TABLE_UNREADABLE = "" if tcp_state.table_readable() else (
    f"the state of a closed connection is not readable on {oses.NAME} without privileges")

POLL_STEP = 0.005       # seconds between two readings of a state
POLL_LIMIT = 2.0        # seconds: on loopback a state settles in microseconds; this only bounds a surprise


def state(sock) -> str | None:
    """The kernel's state of a narrated socket now, or None where it cannot be read."""
    reading = tcp_state.of_socket(sock.real)
    return reading.state if reading else None


def settled(read: Callable[[], str | None], wanted: tuple) -> str | None:
    """``read()`` again until its answer is one of ``wanted``; the last answer, whatever it is.

    The kernel gives no signal when a connection moves on (FIN_WAIT_1 to FIN_WAIT_2 once its FIN
    is acknowledged, say), so the state is polled, a bounded number of times, each a short wait
    on nothing.  What comes back is what was read: a state that never came is never claimed.
    """
    answer = read()
    for _ in range(int(POLL_LIMIT / POLL_STEP)):
        if answer in wanted:
            break
        _NOTHING.wait(POLL_STEP)        # a poll step (select() with no socket fails on Windows)
        answer = read()
    return answer


_NOTHING = threading.Event()            # never set: its wait() is a bounded pause between two readings


def state_settled(sock, wanted: tuple) -> str | None:
    """An open socket's state once it is one of ``wanted`` (or the last read); None at once where unreadable."""
    return None if UNREADABLE else settled(lambda: state(sock), wanted)


def closed_settled(local, peer, wanted: tuple) -> str | None:
    """A closed connection's state once it is one of ``wanted``; None at once where the table is unreadable."""
    return None if TABLE_UNREADABLE else settled(lambda: closed_state(local, peer), wanted)


def closed_state(local, peer) -> str | None:
    """The state of the connection between ``local`` and ``peer`` once its socket is closed, or None."""
    return tcp_state.after_close(tuple(local), tuple(peer))


def shown(found: str | None, *, closed: bool = False) -> str:
    """A state for a note: as read, or why it could not be read here (``closed``: after close())."""
    why = TABLE_UNREADABLE if closed else UNREADABLE
    if why:
        return f"not readable here ({why})"
    if found is None:
        return "gone: the kernel keeps nothing of it" if closed else "not readable"
    return found
