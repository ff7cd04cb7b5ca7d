"""From a narrated program's reports to the kit's events: pure functions, and the fold.

A report is one JSON array (``narration.programs.child``): ``[n, thread, kind, *fields]``.
``event_of(actor, kind, fields)`` turns one into the kit's event (``Connect``, ``Recv``, ``Say``,
...), so every view draws a program's run as it draws a mode's.  A report that does not parse is
``None``: the views never see it.

``Fold``: a long run of the same data call on the same connection (sendall, sendall, ...) or of
two calls taking turns (sendall, recv, sendall, recv, ...) is kept as one event per call standing
for all of them (``count``, its bytes counted exactly, the first ``KEPT`` of them kept), once a
thread has made ``SHOWN`` data calls in a row: a student still sees the first calls one by one,
and 10,000 round trips keep memory and the log short.
"""
from __future__ import annotations

import base64
import binascii

from narration.events import (
    Accept,
    Bind,
    Close,
    Connect,
    Event,
    Failure,
    Listen,
    Note,
    Recv,
    RecvFrom,
    Say,
    Send,
    SendAll,
    SendTo,
    SetOption,
    SetTimeout,
    Shutdown,
    Socket,
    TimedOut,
)

KEPT = 4096         # payload bytes a folded event keeps (its size stays exact)
SHOWN = 12          # data calls in a row a thread shows one by one before folding begins
STOPPED = "every client has exited: stopped as Ctrl-C would stop it (KeyboardInterrupt)"
_STREAM = {"send": Send, "sendall": SendAll, "recv": Recv}
_DATAGRAM = {"sendto": SendTo, "recvfrom": RecvFrom}


def _address(value) -> tuple | None:
    if value is None:
        return None
    host, port = value
    if not isinstance(host, str) or not isinstance(port, int):
        raise TypeError("an address is [host, port]")
    return (host, port)


def _payload(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def event_of(actor: str, kind: str, fields: list) -> Event | None:
    """The event a report stands for, or None for a report that is bookkeeping or malformed."""
    try:
        return _event_of(actor, kind, fields)
    except (ValueError, TypeError, IndexError, binascii.Error, UnicodeError):
        return None


def _event_of(actor: str, kind: str, fields: list) -> Event | None:
    if kind in _STREAM:
        data, size, start, local, peer = fields
        return _STREAM[kind](actor, _payload(data), int(size), (int(start), int(start) + int(size)),
                             _address(local), _address(peer))
    if kind in _DATAGRAM:
        data, size, local, peer = fields
        return _DATAGRAM[kind](actor, _payload(data), int(size), _address(local), _address(peer))
    if kind == "out":
        return Say(actor, str(fields[0]))
    if kind == "err":
        return Failure(actor, str(fields[0]))
    if kind == "input":
        prompt, line = fields
        return Say(actor, f"{prompt}{line}")
    if kind == "socket":
        family, sort = fields
        return Socket(actor, str(family), str(sort))
    if kind == "bind":
        asked, local = fields[:2]
        return Bind(actor, _address(asked), _address(local))
    if kind == "listen":
        backlog, local = fields
        return Listen(actor, int(backlog), _address(local))
    if kind == "accept":
        return Accept(actor, _address(fields[0]), _address(fields[1]))
    if kind == "connect":
        return Connect(actor, _address(fields[0]), _address(fields[1]))
    if kind == "settimeout":
        seconds, local = fields
        return SetTimeout(actor, None if seconds is None else float(seconds), _address(local))
    if kind == "timeout":
        call, seconds, local = fields
        return TimedOut(actor, str(call), float(seconds), _address(local))
    if kind == "setsockopt":
        option, value, local, peer = fields
        return SetOption(actor, str(option), value if isinstance(value, int) else str(value),
                         _address(local), _address(peer))
    if kind == "shutdown":
        how, local, peer, listening = fields
        return Shutdown(actor, str(how), _address(local), _address(peer), bool(listening))
    if kind == "close":
        local, peer, listening = fields
        return Close(actor, _address(local), _address(peer), bool(listening))
    if kind == "error":
        text, reset, local, peer = fields
        return Failure(actor, str(text), bool(reset), _address(local), _address(peer))
    if kind == "stopped":
        return Note(actor, STOPPED)
    return None


def folds_into(earlier: Event, later: Event) -> bool:
    """Whether ``later`` continues ``earlier``: the same call on the same connection, its bytes
    next in the stream (an end of stream, b'', never folds: it is what a student looks for)."""
    return (type(earlier) is type(later) and later.call in _STREAM and later.size > 0 and earlier.size > 0
            and earlier.local == later.local and earlier.peer == later.peer
            and earlier.span[1] == later.span[0])


def folded(earlier: Event, later: Event) -> Event:
    data = earlier.data if len(earlier.data) >= KEPT else (earlier.data + later.data)[:KEPT]
    return earlier.replace(data=data, size=earlier.size + later.size, span=(earlier.span[0], later.span[1]),
                           count=earlier.count + later.count)


class Fold:
    """Per thread: the last two events recorded, and how many data calls in a row it has made."""

    def __init__(self) -> None:
        self._last: dict[str, list] = {}       # thread -> its last two Recorded, oldest first
        self._streak: dict[str, int] = {}

    def into(self, thread: str, event: Event):
        """The Recorded that ``event`` folds into (the caller replaces its event), or None."""
        if event.call not in _STREAM:
            self._streak[thread] = 0
            return None
        streak = self._streak.get(thread, 0) + 1
        self._streak[thread] = streak
        if streak <= SHOWN:
            return None
        last = self._last.get(thread, [])
        for recorded in reversed(last):          # the last call again, or the one before it (turns)
            if folds_into(recorded.event, event):
                return recorded
        return None

    def remember(self, thread: str, recorded) -> None:
        last = self._last.setdefault(thread, [])
        last.append(recorded)
        if len(last) > 2:
            del last[0]
