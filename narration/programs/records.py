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
STOPPED = "all clients exited: stopped as by Ctrl-C (SIGINT)"
QUIET_STOP = "nothing more could happen: stopped as by Ctrl-C (SIGINT)"
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
    if kind == "more":                     # folded calls whose first call is not in the trace
        call, count, size, start, data, local, peer = fields
        return _STREAM[call](actor, _payload(data)[:KEPT], int(size), (int(start), int(start) + int(size)),
                             _address(local), _address(peer), int(count))
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


class _Run:
    """A fold in progress: the recorded event it grows, and what it has taken in so far (kept
    as numbers and raw payloads: the event is rebuilt once, when the fold is settled)."""

    __slots__ = ("count", "end", "kept", "kind", "local", "payloads", "peer", "recorded", "size")

    def __init__(self, recorded, kind: str, local, peer, end: int) -> None:
        self.recorded = recorded
        self.kind, self.local, self.peer, self.end = kind, local, peer, end
        self.count = 0                 # calls taken in beyond the recorded one
        self.size = 0
        self.kept = len(recorded.event.data) if kind in _STREAM else KEPT
        self.payloads: list[str] = []  # base64, up to KEPT bytes in all

    def settle(self) -> None:
        if not self.count:
            return
        event = self.recorded.event
        data = event.data
        for payload in self.payloads:
            data += _payload(payload)
        self.recorded.event = event.replace(data=data[:KEPT], size=event.size + self.size,
                                            span=(event.span[0], self.end), count=event.count + self.count)
        self.count = self.size = 0
        self.payloads = []


class Fold:
    """Per thread: its last two events, and how many data calls in a row it has made.

    ``take(thread, kind, fields)`` is asked first, on the raw report: True means the call was
    folded into an earlier event (nothing else to do: no event is built for it, which is what
    keeps a narrated 10,000 round trips fast).  ``remember`` each event recorded; ``settle`` once
    every report is in.
    """

    def __init__(self) -> None:
        self._last: dict[str, list[_Run]] = {}       # thread -> its last two events, oldest first
        self._streak: dict[str, int] = {}

    def take(self, thread: str, kind: str, fields: list) -> bool:
        if kind == "more":                 # calls the program folded itself (see child.py)
            return self._more(thread, fields)
        if kind not in _STREAM:
            self._streak[thread] = 0
            return False
        streak = self._streak.get(thread, 0) + 1
        self._streak[thread] = streak
        if streak <= SHOWN:
            return False
        try:
            payload, size, start, local, peer = fields
        except ValueError:
            return False
        if not size or not isinstance(size, int) or not isinstance(start, int):
            return False                 # an end of stream (b'') never folds: it is what a student looks for
        return self._extend(thread, kind, 1, size, start, payload, local, peer)

    def _more(self, thread: str, fields: list) -> bool:
        """``more``: [kind, count, size, start, payload, local, peer], folded into the thread's
        event it continues.  True if it did (else the caller shows it as an event of its own)."""
        try:
            kind, count, size, start, payload, local, peer = fields
        except ValueError:
            return True                  # malformed: dropped
        if not all(isinstance(value, int) for value in (count, size, start)):
            return True
        return self._extend(thread, kind, count, size, start, payload, local, peer)

    def _extend(self, thread: str, kind: str, count: int, size: int, start: int, payload: str, local, peer) -> bool:
        """Fold ``count`` calls into the thread's last call, or the one before it (turns), when
        they continue it; True if they did."""
        for run in reversed(self._last.get(thread, ())):
            if run.kind == kind and run.end == start and run.local == local and run.peer == peer:
                run.count += count
                run.size += size
                run.end = start + size
                if run.kept < KEPT:
                    run.payloads.append(payload)
                    run.kept += size
                return True
        return False

    def remember(self, thread: str, recorded, kind: str, fields: list) -> None:
        if kind in _STREAM and len(fields) == 5 and isinstance(fields[1], int) and isinstance(fields[2], int):
            run = _Run(recorded, kind, fields[3], fields[4], fields[2] + fields[1])
        else:
            run = _Run(recorded, "", None, None, -1)
        last = self._last.setdefault(thread, [])
        last.append(run)
        if len(last) > 2:
            last.pop(0).settle()

    def settle(self) -> None:
        """Every fold's event rebuilt with all it took in (call once every report is in)."""
        for last in self._last.values():
            for run in last:
                run.settle()


def folded(earlier: Event, later: Event) -> Event:
    """Two data events as one (the same call, the bytes of ``later`` next in the stream)."""
    data = earlier.data if len(earlier.data) >= KEPT else (earlier.data + later.data)[:KEPT]
    return earlier.replace(data=data, size=earlier.size + later.size, span=(earlier.span[0], later.span[1]),
                           count=earlier.count + later.count)
