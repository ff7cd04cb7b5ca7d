"""One run: its trace, its actors, its threads and sockets, how to stop them, and when it is quiet.

Who uses what:

- The launcher makes one ``Run`` and hands each role an ``Actor`` (``run.actor("server")``).
- Mode code calls ``me.socket()`` and the textbook methods on what it gets back, ``me.start(...)``
  for a thread, ``me.say(...)`` for what it prints, ``me.note(...)`` for a teaching note.
- The server signals readiness with ``ready.set(address)``; clients ``ready.wait()`` (never a sleep).

Quiet
-----
A scripted run takes turns (``narration.scene``): after each turn it waits until the run is
*quiet*, meaning nothing more can happen without a new turn or someone outside the process.
The run knows this from the sockets themselves, never from what anyone printed: every thread it
started is waiting in a call whose wake-up it can see coming (``recv`` with no bytes or FIN in
flight to it, ``accept`` with no connection on its way, an untimed ``recvfrom`` with no datagram
on its way, an empty ``Mailbox``, a ``join`` on a
running thread, a script line not yet given), and nothing is in flight between its own sockets.
Only runs that keep their trace (scripted, interactive) keep this account; a server role does not.
"""
from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable

from narration.errors import Stopped, describe_network_error
from narration.events import Event, Failure, Milestone, Note, Say, Socket, Step
from narration.trace import Trace


class Run:
    def __init__(self, *, keep: bool = True) -> None:
        self.trace = Trace(keep=keep)
        self.stopping = threading.Event()
        self.ready = Ready(self)
        self.connect_timeout: float | None = 10.0   # a connect() that hangs longer fails
        self.family = socket.AF_INET                 # of the sockets actors make (AF_INET6 for --host ::1)
        # --framing raw (a client role): each line a client sends goes out without its newline, as
        # textbook servers expect (they compare one whole recv() with "Bye").  The send shows it.
        self.raw_lines = False
        self.failures: list[BaseException] = []
        self.accounting = keep                      # keep the account of quiet (scripted runs)
        self._threads: list[threading.Thread] = []
        # Set as each thread of the run ends.  Waiting on these, not on Thread.join(), keeps Ctrl-C
        # harmless: a join() that KeyboardInterrupt cuts short marks a running thread as stopped
        # (CPython 3.11, bpo-45274's fix), and it would then never be waited for again.
        self._finished: dict[threading.Thread, threading.Event] = {}
        self._sockets: set = set()
        self._lock = threading.Lock()
        self._started_by: dict[str, int] = {}
        # The account of quiet (under trace.changed): threads of this run that are alive, what
        # each one waiting is waiting for, and the sockets by (local, peer) and listening port.
        self._alive: set[threading.Thread] = set()
        # Quiet can only begin when a thread starts waiting or ends: only those wake its waiter.
        self._settling = threading.Condition(self.trace.lock)
        self._waiting: dict[threading.Thread, Callable[[], bool]] = {}
        self.flows: dict[tuple, object] = {}
        self.connects_to: dict[int, int] = {}
        self.datagrams: dict[tuple[int, int], int] = {}   # narrated UDP datagrams in flight, by (from port, to port)
        # --tcp: a thread takes a turn before each call and reads the kernel after it, both once the
        # run has settled (take_turn, read_settled): the threads waiting for either, by rank.
        self.tcp = False
        self.quiz = None           # a split role's --quiz (narration.views.quiz.LiveQuiz): asks before calls
        self._turns: dict[threading.Thread, tuple] = {}
        self._readers: dict[threading.Thread, tuple] = {}

    def actor(self, name: str) -> Actor:
        self.trace.actor_rank.setdefault(name, len(self.trace.actor_rank))
        return Actor(self, name)

    # -- threads -----------------------------------------------------------------------------
    def start(self, actor: Actor, target: Callable, *args, critical: bool = False) -> threading.Thread:
        """Run ``target(*args)`` in a daemon thread named after ``actor`` (stable across runs).

        A network error (reset, peer gone) ends only that thread and is narrated; it fails the
        whole run only for a ``critical`` thread, such as a scripted client.
        """
        with self._lock:
            count = self._started_by.get(actor.name, 0) + 1
            self._started_by[actor.name] = count
            self._threads = [thread for thread in self._threads if not self._finished[thread].is_set()]
            self._finished = {thread: self._finished[thread] for thread in self._threads}
        name = f"{actor.name}#{count}"
        if self.accounting:
            self.trace.thread_rank[name] = (self.trace.actor_rank[actor.name], count)
        spawned = self.trace.record(Milestone(actor.name, Step.THREAD_STARTED))
        thread = threading.Thread(target=self._guarded, args=(actor, spawned.seq, target, args, critical),
                                  name=name, daemon=True)
        with self.trace.changed:
            if self.accounting:
                self._alive.add(thread)
        with self._lock:
            self._threads.append(thread)
            self._finished[thread] = threading.Event()
        thread.start()
        return thread

    def _guarded(self, actor: Actor, spawned_seq: int, target: Callable, args: tuple, critical: bool) -> None:
        if hasattr(signal, "pthread_sigmask"):
            # Ctrl-C must reach the main thread: a SIGINT the kernel hands to this thread instead
            # would leave the main thread asleep (Python runs signal handlers there only).
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        self.trace.record(Milestone(actor.name, Step.THREAD_BEGINS), after=(spawned_seq,))
        try:
            target(*args)
        except Stopped:
            pass
        except OSError as error:
            # One connection's trouble (a reset, a vanished laptop, no route to it) ends this thread
            # only; everyone else carries on.  A scripted client's trouble fails the run; so does a
            # server that could not start (a port in use), which also wakes whoever waits for it.
            peer_trouble = isinstance(error, (ConnectionError, TimeoutError)) or (
                not critical and self.ready.is_set())
            if peer_trouble and not getattr(error, "narrated", False):
                actor.error(describe_network_error(error), reset=isinstance(error, ConnectionResetError))
            if self.stopping.is_set() or (peer_trouble and not critical):
                return
            self.failures.append(error)
            self.ready.abandon(error)
        except Exception as error:  # noqa: BLE001 - reported, and turned into an exit code
            self.failures.append(error)
            self.ready.abandon(error)
            actor.error(f"{type(error).__name__}: {error}")
        finally:
            with self.trace.changed:
                self.trace.record(Milestone(actor.name, Step.THREAD_ENDS))
                self._alive.discard(threading.current_thread())
                self._settling.notify_all()
            with self._lock:
                finished = self._finished.get(threading.current_thread())
            if finished is not None:
                finished.set()

    def join(self, thread: threading.Thread, actor: Actor, timeout: float | None = 5.0) -> bool:
        with self.waiting(lambda: thread not in self._alive):
            ended = self.wait_for_thread(thread, timeout)
        last = max((r.seq for r in self.trace.events if r.thread == thread.name), default=None)
        self.trace.record(Milestone(actor.name, Step.JOINED), after=() if last is None else (last,))
        return ended

    def running(self, thread: threading.Thread) -> bool:
        """Whether the run's ``thread`` has not finished its work (exact once the run is quiet)."""
        with self.trace.changed:
            return thread in self._alive

    def wait_for_thread(self, thread: threading.Thread, timeout: float | None) -> bool:
        """Wait until the run's ``thread`` has ended, in short steps (Ctrl-C lands at once on every
        OS); True if it has."""
        with self._lock:
            finished = self._finished.get(thread)
        if finished is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while not finished.wait(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))):
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return True

    def live_threads(self) -> list[threading.Thread]:
        with self._lock:
            return [thread for thread in self._threads if not self._finished[thread].is_set()]

    def _wait_for_all(self, deadline: float) -> None:
        for thread in self.live_threads():
            self.wait_for_thread(thread, max(0.0, deadline - time.monotonic()))

    # -- quiet -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def waiting(self, wakes: Callable[[], bool]):
        """Mark this thread as waiting in a call that only ``wakes()`` (seen from here) ends."""
        if not self.accounting:
            yield
            return
        me = threading.current_thread()
        with self.trace.changed:
            self._waiting[me] = wakes
            self._settling.notify_all()
        try:
            yield
        finally:
            self.stop_waiting()

    def stop_waiting(self) -> None:
        with self.trace.changed:
            self._waiting.pop(threading.current_thread(), None)

    def quiet(self) -> bool:
        """True when nothing more can happen without a new turn (see the module docstring); a
        thread waiting for its turn or its reading (--tcp) still has that to come."""
        with self.trace.changed:
            return not self._turns and not self._readers and self.settled()

    def settled(self) -> bool:
        """True when every thread waits, with nothing in flight to wake it (those waiting for a turn
        or a reading, --tcp, included)."""
        with self.trace.changed:
            for thread in self._alive:
                wakes = self._waiting.get(thread)
                if wakes is None or wakes():
                    return False
            return True

    def wait_until_quiet(self, timeout: float) -> Milestone:
        """Block until the run is quiet; the milestone recorded then comes after everything so far."""
        deadline = time.monotonic() + timeout
        with self._settling:
            while not self.quiet():
                if self.stopping.is_set():
                    raise Stopped
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the scripted run did not settle: a thread is still busy")
                self._settling.wait(min(remaining, 0.1))   # short steps: Ctrl-C lands on every OS
            return self.trace.record(Milestone("scene", Step.SETTLED), after=self.trace.last_of_each_thread())

    # -- --tcp: one call at a time, the kernel read when all is settled -----------------------
    def take_turn(self, limit: float = 5.0) -> None:
        """Before a call (--tcp): wait until the run has settled and this is the lowest-ranked
        thread that wants a turn.  So one call changes the kernel's state at a time, in an order
        that depends on ranks, not on the scheduler (a blocking call first waits until it can
        return at once, then takes its turn).  A run that does not settle within ``limit`` (a wait
        the run cannot see) goes on rather than hang."""
        self._wait_settled(lambda me, rank: min(self._turns.values()) == rank, self._turns, limit)

    def read_settled(self, read: Callable[[], None], limit: float = 5.0) -> None:
        """After a call (--tcp): ``read()`` the kernel's state once the run has settled (nothing in
        flight, every thread waiting), so the same script gives the same readings every run."""
        self._wait_settled(lambda me, rank: True, self._readers, limit, read)

    def _wait_settled(self, ready: Callable, queue: dict, limit: float, read: Callable | None = None) -> None:
        if not self.accounting or self.stopping.is_set():   # a live role, or the run ending: at once
            if read is not None:
                read()
            return
        me = threading.current_thread()
        rank = self.trace.thread_rank.get(me.name, (len(self.trace.actor_rank), 0))
        deadline = time.monotonic() + limit
        with self._settling:
            queue[me] = rank
            prior = self._waiting.get(me)              # a turn taken inside a wait: give that back after
            self._waiting[me] = lambda: False
            self._settling.notify_all()
            try:
                while True:
                    late = self.stopping.is_set() or time.monotonic() >= deadline
                    # readings first: a turn is taken only once every parked reader has read
                    if late or (self.settled() and (queue is self._readers or not self._readers)
                                and ready(me, rank)):
                        if read is not None:
                            read()
                        return
                    self._settling.wait(0.05)    # short steps: Ctrl-C lands at once on every OS
            finally:
                queue.pop(me, None)
                if prior is None:
                    self._waiting.pop(me, None)
                else:
                    self._waiting[me] = prior
                self._settling.notify_all()

    # -- sockets -----------------------------------------------------------------------------
    def register(self, sock) -> None:
        with self._lock:
            self._sockets.add(sock)

    def forget(self, sock) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def listening_sockets(self) -> list:
        with self._lock:
            return [sock for sock in self._sockets if sock.listening]

    def finish(self, timeout: float = 5.0) -> None:
        """End of a scripted run: stop listening, let every thread end by itself, then tidy up."""
        self.stopping.set()
        for sock in self.listening_sockets():
            sock.actor.note("the demo is over: the server stops listening")
            sock.close()
        with self._lock:
            datagram_sockets = [sock for sock in self._sockets if sock.real.type == socket.SOCK_DGRAM]
        for sock in datagram_sockets:      # a UDP server waiting in recvfrom(): on Linux this wakes it
            with contextlib.suppress(OSError):   # at once; elsewhere its short steps see the run stop
                sock.real.shutdown(socket.SHUT_RD)
        self._wait_for_all(time.monotonic() + timeout)
        self.stop()

    def stop(self, timeout: float = 0.5, *, grace: float = 0.0) -> None:
        """Ctrl-C or a fatal error: shut every socket down, which wakes every blocked call.

        With ``grace``, listening stops first and the threads get that long to end by themselves
        (a chat server says goodbye to everyone) before the other sockets are cut.
        """
        self.stopping.set()
        with self.trace.changed:
            self.trace.changed.notify_all()
            self._settling.notify_all()
        if grace:
            for sock in self.listening_sockets():
                sock.abort()
            self._wait_for_all(time.monotonic() + grace)
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            sock.abort()
        self._wait_for_all(time.monotonic() + timeout)


class Actor:
    """What mode code holds: a name to speak under, and narrated ways to make sockets and threads."""

    def __init__(self, run: Run, name: str) -> None:
        self.run = run
        self.name = name

    def socket(self, family: int | None = None, kind: int = socket.SOCK_STREAM):
        """A narrated socket; its family is the run's (IPv4, or IPv6 for --host ::1) unless given."""
        from narration.sockets import NarratedSocket

        family = family or self.run.family
        sock = NarratedSocket(self, socket.socket(family, kind))
        self.record(Socket(self.name, "AF_INET6" if family == socket.AF_INET6 else "AF_INET",
                           "SOCK_STREAM" if kind == socket.SOCK_STREAM else "SOCK_DGRAM"))
        return sock

    def selector(self):
        """A ``selectors`` selector whose waits the run can see (see narration.sockets)."""
        from narration.selector import selector_for

        return selector_for(self.run)

    def start(self, target: Callable, *args, critical: bool = False) -> threading.Thread:
        return self.run.start(self, target, *args, critical=critical)

    def join(self, thread: threading.Thread, timeout: float | None = 5.0) -> bool:
        """Wait for ``thread`` to end (at most ``timeout`` seconds); True if it did."""
        return self.run.join(thread, self, timeout)

    @property
    def patience(self) -> float:
        """How long this end waits for the other (--timeout): a connect, or the server closing."""
        return self.run.connect_timeout or 10.0

    def say(self, text: str) -> None:
        """What the program prints for its user (the seed's print() lines)."""
        self.record(Say(self.name, text))

    def note(self, text: str) -> None:
        """A short teaching note from the mode: why this happens."""
        self.record(Note(self.name, text))

    def error(self, text: str, *, reset: bool = False) -> None:
        self.record(Failure(self.name, text, reset=reset))

    def mailbox(self) -> Mailbox:
        return Mailbox(self.run)

    def record(self, event: Event, *, after: tuple = ()):
        return self.run.trace.record(event, after=after)


class Ready:
    """The server's "I am listening" signal; it carries the address clients should use."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._event = threading.Event()
        self._address = None
        self._error: BaseException | None = None
        self._seq: int | None = None

    def set(self, address) -> None:
        self._address = tuple(address[:2])
        self._seq = self._run.trace.record(Milestone("server", Step.READY)).seq
        self._event.set()

    def abandon(self, error: BaseException) -> None:
        """The server failed before listening (a port in use, say): wake the waiters with that."""
        if not self._event.is_set():
            self._error = error
            self._event.set()

    def wait(self, timeout: float, *, actor: str = "client"):
        """Return the server's address, or raise TimeoutError if it never started listening.

        Waits in short steps, so that Ctrl-C reaches a main thread waiting here on every OS.
        """
        deadline = time.monotonic() + timeout
        while not self._event.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                raise TimeoutError("the server did not start listening in time")
        if self._error is not None:
            raise self._error
        self._run.trace.record(Milestone(actor, Step.SERVER_READY), after=(self._seq,))
        return self._address

    def is_set(self) -> bool:
        return self._event.is_set()


class Mailbox:
    """A queue between threads of one run that remembers who put each item (a causal edge)."""

    def __init__(self, run: Run) -> None:
        import queue

        self._run = run
        self._items: queue.Queue = queue.Queue()
        self._posted = 0
        self._taken = 0

    def put(self, actor: Actor, item) -> None:
        with self._run.trace.changed:
            seq = self._run.trace.record(Milestone(actor.name, Step.PUT)).seq
            self._posted += 1
            self._items.put((seq, item))

    def get(self, actor: Actor, timeout: float | None = 5.0):
        run = self._run
        with run.waiting(lambda: self._posted > self._taken):
            seq, item = self._items.get(timeout=timeout)
            with run.trace.changed:             # taken and awake in one step: never "quiet" between
                self._taken += 1
                run.stop_waiting()
        run.trace.record(Milestone(actor.name, Step.GOT), after=(seq,))
        return item
