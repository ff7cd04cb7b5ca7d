"""The live view: events printed as they are recorded (interactive runs, split roles).

A ``LiveView`` is a trace listener (``narration.trace.Listener``): recording only queues the
event, and the view prints from its own thread, so a busy server never waits for the terminal.
"""
from __future__ import annotations

from rich.text import Text

from narration.events import Data, Recorded
from narration.views.log import Look, Narrator


class LiveView:
    """Prints events as they are recorded (interactive runs, split roles), from its own thread.

    Recording only queues the event, so a busy server never waits for the terminal.  For a server
    role (``may_skip``), when the queue backs up (a chat of 200 students sends tens of thousands of
    lines a second) or byte events come faster than READABLE a second, the view stops asking for
    send/recv events, which are then not even built, counts those already queued, and prints once
    a second how many it did not show; connections, notes and errors are still shown one by one.
    """

    BUSY = 200          # queued events that mean the terminal has fallen behind
    SUMMARY_EVERY = 1.0  # seconds between "not shown" lines while busy
    # Byte events a second a server role's view draws; past it they are counted.  No one reads
    # fifty lines a second, and drawing more takes the interpreter from the server: between two
    # of its sends the server waits for the line being drawn (the first lines of a class of 200
    # were 199 sends each, drawn one by one: their p99 was 0.1-0.6 s).
    READABLE = 50

    def __init__(self, console, actor_rank: dict[str, int], look: Look, *, may_skip: bool = True,
                 limit: int = 5000) -> None:
        import queue
        import threading
        self.console = console
        self.narrator = Narrator(actor_rank, look)     # live is incremental: one narrator, kept
        self.wants_data = True
        self.broken = False         # the terminal went away: events are no longer shown
        self._not_shown: dict[str, list[int]] = {}
        self._drawn, self._second_ends = 0, 0.0     # byte events drawn in this second, and when it ends
        self.may_skip = may_skip    # False: show every event, however far behind (a client's own run)
        # Bounded either way: a view that may skip counts what does not fit; one that may not (a
        # client's own run) makes the recording thread wait for the terminal instead.
        self._queue: queue.Queue = queue.Queue(limit)
        self._thread = threading.Thread(target=self._print, name="live view", daemon=True)
        self._thread.start()

    def __call__(self, record: Recorded) -> None:    # a Trace listener: called under the trace's lock
        if record.hidden:
            return
        if self.may_skip and self._queue.qsize() > self.BUSY:
            self.wants_data = False
        if self.broken:
            return
        if not self.may_skip:
            self._queue.put(record)     # waits for the printer (it never dies holding this up)
            return
        try:
            self._queue.put_nowait(record)
        except Exception:   # queue.Full: count it like a data event the view did not want
            self.tally(record.event.call, getattr(record.event, "size", 0))

    def tally(self, call: str, size: int) -> None:
        counts = self._not_shown.setdefault(call, [0, 0])
        counts[0] += 1
        counts[1] += size

    def close(self, timeout: float | None = None) -> None:
        """Print what is still queued (waiting at most ``timeout`` seconds, or until done), then stop."""
        try:
            self._queue.put(None, timeout=timeout)
        except Exception:
            return
        self._thread.join(timeout)

    def _print(self) -> None:
        import signal
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})   # Ctrl-C belongs to the main thread
        try:
            self._show()
        except BaseException:
            # The terminal is gone (a closed pipe, `| head`) or a line could not be drawn: stop
            # showing, but keep taking events, so that no recording thread ever waits on us.
            self.broken = True
            while self._queue.get() is not None:
                pass

    def _show(self) -> None:
        import queue
        import time
        next_summary = time.monotonic() + self.SUMMARY_EVERY
        while True:
            try:
                event = self._queue.get(timeout=self.SUMMARY_EVERY)
            except queue.Empty:
                event = ...
            if event is None:
                self._summarise()
                return
            data = event is not ... and isinstance(event.event, Data)
            if data and self.may_skip and self._over_readable(time.monotonic()):
                self.wants_data = False    # the sockets stop building byte events; the queued are counted
            if data and not self.wants_data:
                # Fallen behind: the bytes already queued are counted, not drawn.  Drawing them
                # (a few hundred, a fraction of a millisecond each) held the interpreter from the
                # server thread between every two of its sends: a class's lines waited 0.2-0.5 s.
                self.tally(event.event.call, event.event.size)
            elif event is not ...:
                line = self.narrator.line(event.event, event.time)
                if line is not None:
                    self.console.print(line)
            if not self.wants_data and time.monotonic() >= next_summary:
                # Show every call again only once the rate has dropped to what a person can read,
                # and what is queued has been shown (else one slow write would bring it all back).
                missed = self._summarise()
                self.wants_data = missed < self.BUSY and self._queue.qsize() <= self.BUSY
                next_summary = time.monotonic() + self.SUMMARY_EVERY
            elif self.wants_data:
                next_summary = time.monotonic() + self.SUMMARY_EVERY

    def _over_readable(self, now: float) -> bool:
        """Whether one more byte event would be past READABLE in this second."""
        if now >= self._second_ends:
            self._drawn, self._second_ends = 0, now + 1.0
        self._drawn += 1
        return self._drawn > self.READABLE

    def _summarise(self) -> int:
        """Print the "not shown" line, if anything was not; how many events that was."""
        counts, self._not_shown = self._not_shown, {}
        # sorted() copies the items in one step: a recording thread may still add to this dict
        # (it took it before the swap), and a loop over it meanwhile would fail.
        tallies = sorted(counts.items())
        if not tallies:
            return 0
        words = ", ".join(f"{number} {call} ({size} B)" for call, (number, size) in tallies)
        self.console.print(Text(f"    … busy: not shown: {words}", style="note"))
        return sum(number for _, (number, _) in tallies)
