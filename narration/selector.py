"""Selectors whose waits a run can see, for one-thread servers: ``selector_for(run)`` gives a
scripted run a ``NarratedSelector`` (poll) and a server role a ``ScaledSelector`` (epoll, kqueue).

Their ``select()`` tells the run what would wake it (a narrated peer's bytes, FIN or connection on
their way to a registered socket), as ``NarratedSocket``'s blocking calls do, so a scripted run
knows when it is quiet; with no timeout it waits in short steps, so the run stopping ends it.
"""
from __future__ import annotations

import selectors

from narration.errors import Stopped
from narration.limits import STEP
from narration.sockets import NarratedSocket


class _Narrated:
    """What both selectors add to selectors' own: a ``select()`` the run can see coming to an end."""

    def __init__(self, run) -> None:
        super().__init__()
        self._run = run

    def select(self, timeout: float | None = None):
        """Like selectors' select(); with no timeout it waits in short steps, so that the run
        stopping ends it on every OS (Windows' select() does not wake for a socket closed meanwhile)."""
        if timeout is not None:           # a timed wait ends by itself: never quiet meanwhile
            return super().select(timeout)
        with self._run.waiting(self.will_wake):
            while True:
                if self._run.stopping.is_set():
                    raise Stopped
                events = super().select(STEP)
                if events:
                    return events

    def will_wake(self) -> bool:
        for key in self.get_map().values():
            sock = key.fileobj
            if key.events & selectors.EVENT_WRITE or not isinstance(sock, NarratedSocket):
                return True
            if sock.listening:
                if sock.shut or sock.closed or self._run.connects_to.get(sock.local[1], 0) > sock.accepted:
                    return True
            elif sock.will_wake():
                return True
        return False


class NarratedSelector(_Narrated, selectors.PollSelector if hasattr(selectors, "PollSelector")
                       else selectors.DefaultSelector):
    """For a scripted run's few sockets: poll, where the OS has it, reports a listening socket the
    launcher closes from another thread (POLLNVAL) at once, so the run ends without a wait."""


class ScaledSelector(_Narrated, selectors.DefaultSelector):
    """For a server role's classroom: the OS's best (epoll, kqueue).  poll() over 1,000 sockets
    costs 64 µs a call, epoll 0.8 µs; epoll does not report a listening socket closed from another
    thread, so the end of a run is seen at the next short step (``STEP``) instead."""


def selector_for(run) -> _Narrated:
    """The selector a one-thread server of this run uses: a scripted run has few sockets, a server
    role may have a class."""
    return NarratedSelector(run) if run.accounting else ScaledSelector(run)
