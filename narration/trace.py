"""The run's event stream: append-only, thread-safe, observable.

``Trace.record(event)`` stamps an event with how it was recorded (``Recorded``: sequence, time,
thread, causal edges), keeps it (unless the trace is a long-lived server's, ``keep=False``), and
hands it to every listener.  A listener is anything with the ``Listener`` interface below: the
live view is one.
"""
from __future__ import annotations

import threading
import time
from typing import Protocol

from narration.events import Event, Recorded


class Listener(Protocol):
    """What a trace calls as events are recorded (under the trace's lock: be quick)."""

    wants_data: bool        # False: do not even build send/recv events; count them with tally()

    def __call__(self, record: Recorded) -> None: ...

    def tally(self, call: str, size: int) -> None: ...


class Trace:
    def __init__(self, *, keep: bool = True) -> None:
        self.events: list[Recorded] = []
        self.keep = keep                       # False for long-lived servers: show and forget
        self.listeners: list[Listener] = []
        self.actor_rank: dict[str, int] = {}   # the server 0, then clients in the order they appear
        self.thread_rank: dict[str, tuple[int, int]] = {}
        self.started = time.perf_counter()
        self._seq = 0
        self.lock = threading.RLock()           # one lock for the trace and every account kept with it
        self.changed = threading.Condition(self.lock)   # notified on every record

    def record(self, event: Event, *, after: tuple = (), thread: str | None = None) -> Recorded:
        """``thread``: the program-order key, when the event happened on a thread elsewhere (a
        narrated program's, in another process); by default this thread's name."""
        with self.changed:
            recorded = Recorded(self._seq, event, thread or threading.current_thread().name,
                                time.perf_counter() - self.started, after)
            self._seq += 1
            if self.keep:
                self.events.append(recorded)
            for listener in self.listeners:
                listener(recorded)
            self.changed.notify_all()
        return recorded

    def wants_data(self) -> bool:
        """Whether anyone will read a send/recv event (else it is only counted, see Listener)."""
        return self.keep or any(listener.wants_data for listener in self.listeners)

    def tally(self, call: str, size: int) -> None:
        for listener in self.listeners:
            listener.tally(call, size)

    def wait_for(self, matches, timeout: float = 5.0) -> Recorded:
        """Block until an event for which ``matches(event)`` is true has been recorded (an observer's
        wait, for tests and tools: what to wait for is a socket event, never a sentence)."""
        import time as clock

        deadline = clock.monotonic() + timeout
        with self.changed:
            while True:
                found = next((record for record in self.events if matches(record.event)), None)
                if found is not None:
                    return found
                remaining = deadline - clock.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the awaited event never happened")
                self.changed.wait(min(remaining, 0.25))

    def last_of_each_thread(self) -> tuple:
        """The seq of each thread's latest event: what a milestone recorded now comes after."""
        last: dict[str, int] = {}
        for recorded in self.events:
            last[recorded.thread] = recorded.seq
        return tuple(sorted(last.values()))
