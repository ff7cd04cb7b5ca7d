"""Narrated sockets: every socket call becomes a small frozen Event in one Trace.

Who uses what:

- The launcher makes one ``Run`` per demo, hands each role an ``Actor`` (``run.actor("server")``),
  and renders ``run.trace`` when the run is over (or live, as events arrive).
- Mode code calls ``actor.socket()`` and then the textbook methods on what it gets back:
  ``bind``, ``listen``, ``accept``, ``connect``, ``send``, ``sendall``, ``recv``, ``shutdown``,
  ``close``.  A ``NarratedSocket`` makes the real call on a real socket, then records it.
- Threads that coordinate in-process use ``Ready``, ``Mailbox`` or ``run.wait_for``: each records
  a hidden "sync" event, so the trace knows what happened *because of* what.
- Tests read ``canonical(run.trace)`` and compare events with ``==``.

Determinism
-----------
Threads record events in whatever order the scheduler runs them.  ``canonical()`` turns that into
one stable order after the run: each thread's own events stay in program order; a ``recv`` comes
after the ``send`` whose bytes it returned, an ``accept`` after the ``connect`` it answered, a
``b''`` after the peer's ``close``, a waiter after what it waited for; and among events free to go
next, the lower-ranked actor (the server, then clients in script order) goes first.  The same
scripted run therefore renders the same way every time.
"""
from __future__ import annotations

import select
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

PAYLOAD_KEPT = 64 * 1024   # bytes of each send/recv kept in the trace; the byte count stays exact
HIDDEN = "sync"            # the call name of bookkeeping events that renderers skip


@dataclass(frozen=True)
class Event:
    """One thing one actor did: a socket call, something it printed, or a teaching note."""

    seq: int                            # recording order (real time, across all threads)
    actor: str                          # who: "server", "client", "client X", "alice"
    call: str                           # "socket", "bind", ..., "recv", "say", "note", "error"
    detail: str = ""                    # human words: "AF_INET, SOCK_STREAM", "peer closed"
    data: bytes | None = None           # payload of send/sendall/recv (at most PAYLOAD_KEPT)
    size: int | None = None             # exact byte count of send/sendall/recv
    local: tuple | None = None          # this socket's (host, port), once known
    peer: tuple | None = None           # the other end's (host, port), once connected
    span: tuple[int, int] | None = None  # where these bytes sit in this direction of the stream
    thread: str = "main"                # program-order key: events of one thread never reorder
    after: int | None = None            # seq of an event this one waited for (sync edges)
    time: float = 0.0                   # seconds since the run started (hidden in screenshots)

    @property
    def hidden(self) -> bool:
        return self.call == HIDDEN


class Stopped(Exception):
    """The run is stopping: a blocked call was woken by shutting its socket down."""


class PeerClosed(ConnectionError):
    """The other end closed the connection while this end still expected a reply."""


class Trace:
    """The run's event stream: append-only, thread-safe, observable."""

    def __init__(self, *, keep: bool = True) -> None:
        self.events: list[Event] = []
        self.keep = keep                       # False for long-lived servers: render and forget
        self.listeners: list[Callable[[Event], None]] = []
        self.actor_rank: dict[str, int] = {}
        self.thread_rank: dict[str, tuple[int, int]] = {}
        self.started = time.perf_counter()
        self._seq = 0
        self._changed = threading.Condition()

    def record(self, actor: str, call: str, detail: str = "", **fields) -> Event:
        fields.setdefault("thread", threading.current_thread().name)
        with self._changed:
            event = Event(self._seq, actor, call, detail,
                          time=time.perf_counter() - self.started, **fields)
            self._seq += 1
            if self.keep:
                self.events.append(event)
            for listener in self.listeners:
                listener(event)
            self._changed.notify_all()
        return event

    def atomically(self):
        """Hold the trace's (reentrant) lock: nothing else is recorded meanwhile."""
        return self._changed

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float, *, actor: str) -> Event:
        """Block until an event matching ``predicate`` is recorded; the waiter is ordered after it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                match = next((event for event in self.events if predicate(event)), None)
                if match is not None:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the awaited event never happened")
                self._changed.wait(remaining)
        self.record(actor, HIDDEN, "waited for", after=match.seq)
        return match


class Run:
    """One demo run: its trace, its actors, its threads and sockets, and how to stop them."""

    def __init__(self, *, keep: bool = True) -> None:
        self.trace = Trace(keep=keep)
        self.stopping = threading.Event()
        self.ready = Ready(self)
        self.connect_timeout: float | None = 10.0   # a connect() that hangs longer fails
        self.failures: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._sockets: set[NarratedSocket] = set()
        self._lock = threading.Lock()
        self._started_by: dict[str, int] = {}

    def actor(self, name: str) -> Actor:
        self.trace.actor_rank.setdefault(name, len(self.trace.actor_rank))
        return Actor(self, name)

    def wait_for(self, predicate: Callable[[Event], bool], *, actor: str, timeout: float = 5.0) -> Event:
        return self.trace.wait_for(predicate, timeout, actor=actor)

    # -- threads -----------------------------------------------------------------------------
    def start(self, actor: Actor, target: Callable, *args, critical: bool = False) -> threading.Thread:
        """Run ``target(*args)`` in a daemon thread named after ``actor`` (stable across runs).

        A network error (reset, peer gone) ends only that thread and is narrated; it fails the
        whole run only for a ``critical`` thread, such as a scripted client.
        """
        with self._lock:
            count = self._started_by.get(actor.name, 0) + 1
            self._started_by[actor.name] = count
        name = f"{actor.name}#{count}"
        self.trace.thread_rank[name] = (self.trace.actor_rank[actor.name], count)
        spawned = self.trace.record(actor.name, HIDDEN, "start thread")
        thread = threading.Thread(target=self._guarded, args=(actor, spawned.seq, target, args, critical),
                                  name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()
        return thread

    def _guarded(self, actor: Actor, spawned_seq: int, target: Callable, args: tuple, critical: bool) -> None:
        if hasattr(signal, "pthread_sigmask"):
            # Ctrl-C must reach the main thread: a SIGINT the kernel hands to this thread instead
            # would leave the main thread asleep in input() or recv() (Python runs handlers there).
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        self.trace.record(actor.name, HIDDEN, "thread begins", after=spawned_seq)
        try:
            target(*args)
        except Stopped:
            pass
        except (ConnectionError, TimeoutError) as error:
            # A peer that resets or vanishes ends this thread only; everyone else carries on.
            actor.error(describe_network_error(error))
            if critical and not self.stopping.is_set():
                self.failures.append(error)
        except Exception as error:  # noqa: BLE001 - reported, and turned into an exit code
            if self.stopping.is_set() and isinstance(error, OSError):
                return
            self.failures.append(error)
            self.ready.abandon(error)
            if not isinstance(error, OSError):   # an OSError was already narrated where it arose
                actor.error(f"{type(error).__name__}: {error}")
        finally:
            self.trace.record(actor.name, HIDDEN, "thread ends")

    def join(self, thread: threading.Thread, actor: Actor, timeout: float = 5.0) -> None:
        thread.join(timeout)
        last = max((e.seq for e in self.trace.events if e.thread == thread.name), default=None)
        self.trace.record(actor.name, HIDDEN, "joined", after=last)

    def live_threads(self) -> list[threading.Thread]:
        with self._lock:
            return [thread for thread in self._threads if thread.is_alive()]

    # -- sockets -----------------------------------------------------------------------------
    def _register(self, sock: NarratedSocket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _forget(self, sock: NarratedSocket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def finish(self, timeout: float = 5.0) -> None:
        """End of a scripted run: stop listening, let every thread end by itself, then tidy up."""
        self.stopping.set()
        with self._lock:
            listeners = [sock for sock in self._sockets if sock.listening]
        for sock in listeners:
            sock.actor.note("the demo is over: shutdown() wakes the accept() that is still waiting")
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        deadline = time.monotonic() + timeout
        for thread in self.live_threads():
            thread.join(max(0.0, deadline - time.monotonic()))
        self.stop()

    def stop(self, timeout: float = 0.5) -> None:
        """Ctrl-C or a fatal error: shut every socket down, which wakes every blocked call."""
        self.stopping.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            sock.abort()
        deadline = time.monotonic() + timeout
        for thread in self.live_threads():
            thread.join(max(0.0, deadline - time.monotonic()))


class Actor:
    """What mode code holds: a name to speak under, and narrated ways to make sockets and threads."""

    def __init__(self, run: Run, name: str) -> None:
        self.run = run
        self.name = name

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> NarratedSocket:
        real = socket.socket(family, kind)
        sock = NarratedSocket(self, real)
        family_name = "AF_INET6" if family == socket.AF_INET6 else "AF_INET"
        kind_name = "SOCK_STREAM" if kind == socket.SOCK_STREAM else "SOCK_DGRAM"
        self.record("socket", f"{family_name}, {kind_name}")
        return sock

    def start(self, target: Callable, *args, critical: bool = False) -> threading.Thread:
        return self.run.start(self, target, *args, critical=critical)

    def join(self, thread: threading.Thread, timeout: float = 5.0) -> None:
        self.run.join(thread, self, timeout)

    def say(self, text: str) -> None:
        """What the program prints for its user (the seed's print() lines)."""
        self.record("say", text)

    def note(self, text: str) -> None:
        """A short teaching note from the mode: why this happens."""
        self.record("note", text)

    def error(self, text: str) -> None:
        self.record("error", text)

    def mailbox(self) -> Mailbox:
        return Mailbox(self.run)

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        return self.run.wait_for(predicate, actor=self.name, timeout=timeout)

    def record(self, call: str, detail: str = "", **fields) -> Event:
        return self.run.trace.record(self.name, call, detail, **fields)


def address_text(address) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class NarratedSocket:
    """A real socket with the textbook method names; each call is recorded after it happens.

    Causality is kept in the recording: ``send`` is recorded before the bytes leave and ``recv``
    after they arrive, so a message's send always precedes its receipt in the trace.
    """

    def __init__(self, actor: Actor, real: socket.socket, *, local=None, peer=None) -> None:
        self.actor = actor
        self.real = real
        self.local = local
        self.peer = peer
        self.listening = False
        self.sent = 0          # bytes sent so far on this connection (the span of the next send)
        self.received = 0      # bytes received so far
        self.closed = False
        self.shut = False      # shutdown() was called: a blocked accept() is being woken
        actor.run._register(self)

    # -- set-up ------------------------------------------------------------------------------
    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.real.setsockopt(level, option, value)
        names = {(socket.SOL_SOCKET, socket.SO_REUSEADDR): "SO_REUSEADDR",
                 (socket.IPPROTO_TCP, socket.TCP_NODELAY): "TCP_NODELAY"}
        self._record("setsockopt", f"{names.get((level, option), option)} = {value}")

    def bind(self, address) -> None:
        try:
            self.real.bind(address)
        except OSError as error:
            self._record("error", f"bind {address_text(address)}: {describe_network_error(error)}",
                         local=tuple(address[:2]))
            raise
        self.local = self.real.getsockname()[:2]
        asked = address_text(address)
        got = address_text(self.local)
        self._record("bind", asked if asked == got else f"{asked} -> got {got}")

    def listen(self, backlog: int = 16) -> None:
        self.real.listen(backlog)
        self.listening = True
        self._record("listen", f"backlog {backlog}; waiting for connections on {address_text(self.local)}")

    def accept(self) -> tuple[NarratedSocket, tuple]:
        try:
            real, address = self.real.accept()
        except OSError:
            if self.actor.run.stopping.is_set() or self.shut or self.closed:
                raise Stopped from None   # shutdown() woke us: the server is stopping
            raise
        conn = NarratedSocket(self.actor, real, local=real.getsockname()[:2], peer=address[:2])
        self._record("accept", f"from {address_text(address)}", local=conn.local, peer=conn.peer)
        return conn, address[:2]

    def connect(self, address) -> None:
        self.real.settimeout(self.actor.run.connect_timeout)
        try:
            self.real.connect(address)
        except OSError as error:
            self._record("error", f"connect {address_text(address)}: {describe_network_error(error)}",
                         peer=tuple(address[:2]))
            raise
        finally:
            self.real.settimeout(None)
        self.local = self.real.getsockname()[:2]
        self.peer = self.real.getpeername()[:2]
        self._record("connect", f"to {address_text(self.peer)}; local port {self.local[1]}")

    # -- data --------------------------------------------------------------------------------
    def sendall(self, data: bytes) -> None:
        self._record_data("sendall", data, self.sent)
        self.sent += len(data)
        self._guard(self.real.sendall, data)

    def send(self, data: bytes) -> int:
        if self.real.gettimeout() == 0.0:
            # Non-blocking, so it returns at once: make the call and its record one step, so the
            # peer's recv of these bytes can never be recorded (or shown live) before this send.
            with self.actor.run.trace.atomically():
                return self._send(data)
        return self._send(data)

    def _send(self, data: bytes) -> int:
        count = self._guard(self.real.send, data)
        self._record_data("send", data[:count], self.sent)
        self.sent += count
        return count

    def recv(self, bufsize: int) -> bytes:
        data = self._guard(self.real.recv, bufsize)
        self._record_data("recv", data, self.received)
        self.received += len(data)
        return data

    def quiet(self, timeout: float = 0.05) -> bool:
        """True when no more bytes arrive within ``timeout``: the peer paused (or closed)."""
        try:
            readable, _, _ = select.select([self.real], [], [], timeout)
        except (OSError, ValueError):
            return True
        return not readable

    # -- ending ------------------------------------------------------------------------------
    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        names = {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR", socket.SHUT_RDWR: "SHUT_RDWR"}
        self._record("shutdown", f"{names[how]} {self._which()}")
        self.shut = True
        try:
            self.real.shutdown(how)
        except OSError:
            pass   # already closed by the peer: nothing left to shut down

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._record("close", self._which())
        self.real.close()
        self.actor.run._forget(self)

    def abort(self) -> None:
        """Unnarrated shutdown and close for Ctrl-C: wakes any thread blocked on this socket."""
        self.closed = True
        try:
            self.real.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.real.close()
        self.actor.run._forget(self)

    def setblocking(self, flag: bool) -> None:
        """Non-blocking (False): a call that would wait raises BlockingIOError instead (selectors)."""
        self.real.setblocking(flag)

    def settimeout(self, seconds: float | None) -> None:
        self.real.settimeout(seconds)

    def getsockname(self):
        return self.real.getsockname()[:2]

    def getpeername(self):
        return self.real.getpeername()[:2]

    def fileno(self) -> int:
        return self.real.fileno()

    def __enter__(self) -> NarratedSocket:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- recording ---------------------------------------------------------------------------
    def _which(self) -> str:
        if self.listening:
            return "the listening socket"
        if self.peer is not None:
            return f"the connection with {address_text(self.peer)}"
        return ""

    def _guard(self, call: Callable, *args):
        try:
            return call(*args)
        except OSError as error:
            if self.actor.run.stopping.is_set() and not isinstance(error, TimeoutError):
                raise Stopped from None
            if isinstance(error, ConnectionError):
                self._record("error", describe_network_error(error))
            raise

    def _record(self, call: str, detail: str = "", **fields) -> Event:
        fields.setdefault("local", self.local)
        fields.setdefault("peer", self.peer)
        return self.actor.record(call, detail, **fields)

    def _record_data(self, call: str, data: bytes, offset: int) -> Event | None:
        trace = self.actor.run.trace
        if not trace.keep and not any(getattr(listener, "wants_data", True) for listener in trace.listeners):
            # Fast path: nobody will read this event (a long-lived server at scale, or a live
            # view too far behind to show every byte); a listener may still count it.
            for listener in trace.listeners:
                listener.tally(call, len(data))
            return None
        return self._record(call, "", data=bytes(data[:PAYLOAD_KEPT]), size=len(data),
                            span=(offset, offset + len(data)))


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
        self._seq = self._run.trace.record("server", HIDDEN, "ready").seq
        self._event.set()

    def abandon(self, error: BaseException) -> None:
        """The server failed before listening (a port in use, say): wake the waiters with that."""
        if not self._event.is_set():
            self._error = error
            self._event.set()

    def wait(self, timeout: float, *, actor: str = "client"):
        """Return the server's address, or raise TimeoutError if it never started listening."""
        if not self._event.wait(timeout):
            raise TimeoutError("the server did not start listening in time")
        if self._error is not None:
            raise self._error
        self._run.trace.record(actor, HIDDEN, "server is ready", after=self._seq)
        return self._address

    def is_set(self) -> bool:
        return self._event.is_set()


class Mailbox:
    """A queue between threads of one process that remembers who put each item."""

    def __init__(self, run: Run) -> None:
        import queue
        self._run = run
        self._items: queue.Queue = queue.Queue()

    def put(self, actor: Actor, item) -> None:
        seq = self._run.trace.record(actor.name, HIDDEN, "put").seq
        self._items.put((seq, item))

    def get(self, actor: Actor, timeout: float = 5.0):
        seq, item = self._items.get(timeout=timeout)
        self._run.trace.record(actor.name, HIDDEN, "got", after=seq)
        return item


def describe_network_error(error: BaseException) -> str:
    """One readable line for the network errors a student will meet."""
    if isinstance(error, PeerClosed):
        return str(error)
    if isinstance(error, ConnectionRefusedError):
        return "connection refused: nothing is listening there"
    if isinstance(error, ConnectionResetError):
        return "connection reset by peer (it closed abruptly)"
    if isinstance(error, BrokenPipeError):
        return "broken pipe: the peer closed the connection"
    if isinstance(error, ConnectionAbortedError):
        return "connection aborted"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return "host unknown: the name does not resolve"
    if isinstance(error, OSError) and error.errno is not None:
        import errno
        if error.errno == errno.EADDRINUSE:
            return "address already in use"
        if error.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "host unreachable"
        if error.errno == errno.EADDRNOTAVAIL:
            return "address not available on this machine"
        return error.strerror or str(error)
    return str(error)


# -- canonical order ------------------------------------------------------------------------
def _flow(event: Event) -> tuple | None:
    """Which direction of which connection an event belongs to, as (from, to)."""
    if event.local is None or event.peer is None:
        return None
    return (tuple(event.local), tuple(event.peer))


def causes(events: Iterable[Event]) -> dict[int, set[int]]:
    """For each event's seq, the seqs of other threads' events it must come after."""
    events = list(events)
    by_seq = {event.seq: event for event in events}
    sends: dict[tuple, list[Event]] = {}
    ends: dict[tuple, Event] = {}
    connects: dict[tuple, Event] = {}
    for event in events:
        flow = _flow(event)
        if flow is None:
            continue
        if event.call in ("send", "sendall") and event.size:
            sends.setdefault(flow, []).append(event)
        elif event.call in ("shutdown", "close") and flow not in ends:
            ends[flow] = event
        elif event.call == "connect":
            connects[flow] = event
    result: dict[int, set[int]] = {}
    for event in events:
        found: set[int] = set()
        if event.after is not None and event.after in by_seq:
            found.add(event.after)
        flow = _flow(event)
        if flow is not None:
            back = (flow[1], flow[0])
            if event.call == "recv" and event.size:
                end = event.span[1]
                senders = [s for s in sends.get(back, ()) if s.span[0] < end]
                if senders:
                    found.add(senders[-1].seq)
            elif event.call in ("recv", "error") and back in ends:
                found.add(ends[back].seq)
            elif event.call == "accept" and back in connects:
                found.add(connects[back].seq)
        result[event.seq] = found
    return result


def canonical(trace: Trace) -> list[Event]:
    """The run's events in one stable order (see the module docstring), hidden ones included."""
    threads: dict[str, list[Event]] = {}
    for event in trace.events:
        threads.setdefault(event.thread, []).append(event)

    def rank(name: str) -> tuple:
        if name in trace.thread_rank:
            return trace.thread_rank[name]
        actor = next((e.actor for e in threads[name] if not e.hidden), threads[name][0].actor)
        return (trace.actor_rank.get(actor, len(trace.actor_rank)), 0)

    order = sorted(threads, key=rank)
    must_follow = causes(trace.events)
    done: set[int] = set()
    heads = {name: 0 for name in order}
    result: list[Event] = []
    while len(result) < len(trace.events):
        chosen = None
        for name in order:
            position = heads[name]
            if position < len(threads[name]) and must_follow[threads[name][position].seq] <= done:
                chosen = name
                break
        if chosen is None:
            # Only a wait on something outside the trace gets here; fall back to real order.
            chosen = min((name for name in order if heads[name] < len(threads[name])),
                         key=lambda name: threads[name][heads[name]].seq)
        event = threads[chosen][heads[chosen]]
        heads[chosen] += 1
        done.add(event.seq)
        result.append(event)
    return result
