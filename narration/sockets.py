"""Narrated sockets: a real socket with the textbook method names; each call is recorded as it happens.

``NarratedSocket`` makes the real call on a real socket, then records an event
(``narration.events``).  Causality is kept in the recording: ``send`` is recorded before the
bytes leave and ``recv`` after they arrive, so a message's send always precedes its receipt.

Each blocking call also tells the run what would wake it (``Run.waiting``): a ``recv`` wakes
when bytes or a FIN are on their way from a narrated peer, an ``accept`` when a narrated
``connect`` to its port has not been accepted yet.  That is how a scripted run knows it is quiet.

``NarratedSelector`` is a ``selectors`` selector with the same account, for one-thread servers.
"""
from __future__ import annotations

import contextlib
import select
import selectors
import socket
from collections.abc import Callable

from narration.errors import Stopped, describe_network_error
from narration.events import (
    Accept,
    Bind,
    Close,
    Connect,
    Failure,
    Listen,
    Recv,
    Send,
    SendAll,
    SetOption,
    Shutdown,
)
from narration.text import address_text

PAYLOAD_KEPT = 64 * 1024   # bytes of each send/recv kept in the trace; the byte count stays exact
_OPTIONS = {(socket.SOL_SOCKET, socket.SO_REUSEADDR): "SO_REUSEADDR",
            (socket.IPPROTO_TCP, socket.TCP_NODELAY): "TCP_NODELAY"}
_HOW = {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR", socket.SHUT_RDWR: "SHUT_RDWR"}


def _nothing():
    return contextlib.nullcontext()


class NarratedSocket:
    def __init__(self, actor, real: socket.socket, *, local=None, peer=None) -> None:
        self.actor = actor
        self.run = actor.run
        self.real = real
        self.local = local
        self.peer = peer
        self.listening = False
        self.sent = 0          # bytes sent so far on this connection (the span of the next send)
        self.received = 0      # bytes received so far
        self.accepted = 0      # connections accepted so far (a listening socket)
        self.done_sending = False   # shutdown(SHUT_WR or SHUT_RDWR) or close(): a FIN is on its way
        self.at_end = False    # recv returned b''
        self.closed = False
        self.shut = False      # shutdown() was called: a blocked accept() is being woken
        self.run.register(self)

    # -- set-up ------------------------------------------------------------------------------
    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.real.setsockopt(level, option, value)
        self._record(SetOption(self.actor.name, _OPTIONS.get((level, option), str(option)), value,
                               self.local, self.peer))

    def bind(self, address) -> None:
        try:
            self.real.bind(address)
        except OSError as error:
            self._fail(f"bind {address_text(address)}: {describe_network_error(error)}", error,
                       local=tuple(address[:2]))
            raise
        self.local = self.real.getsockname()[:2]
        self._record(Bind(self.actor.name, tuple(address[:2]), self.local))

    def listen(self, backlog: int = 16) -> None:
        self.real.listen(backlog)
        self.listening = True
        self._record(Listen(self.actor.name, backlog, self.local))

    def accept(self) -> tuple[NarratedSocket, tuple]:
        port = self.local[1] if self.local else None
        blocking = self.real.gettimeout() != 0.0
        try:
            with self.run.waiting(lambda: self.shut or self.run.connects_to.get(port, 0) > self.accepted) \
                    if blocking else _nothing():
                real, address = self.real.accept()
        except OSError:
            if self.run.stopping.is_set() or self.shut or self.closed:
                raise Stopped from None   # shutdown() woke us: the server is stopping
            raise
        conn = NarratedSocket(self.actor, real, local=real.getsockname()[:2], peer=address[:2])
        with self.run.trace.changed:
            self.accepted += 1
            self._remember(conn)
            self._record(Accept(self.actor.name, conn.local, conn.peer))
        return conn, address[:2]

    def connect(self, address) -> None:
        self.real.settimeout(self.run.connect_timeout)
        try:
            self.real.connect(address)
        except OSError as error:
            self._fail(f"connect {address_text(address)}: {describe_network_error(error)}", error,
                       peer=tuple(address[:2]))
            raise
        finally:
            self.real.settimeout(None)
        self.local = self.real.getsockname()[:2]
        self.peer = self.real.getpeername()[:2]
        with self.run.trace.changed:
            if self.run.accounting:
                self.run.connects_to[self.peer[1]] = self.run.connects_to.get(self.peer[1], 0) + 1
            self._remember(self)
            self._record(Connect(self.actor.name, self.local, self.peer))

    # -- data --------------------------------------------------------------------------------
    def sendall(self, data: bytes) -> None:
        with self.run.trace.changed:
            self._record_data(SendAll, data)
        self._guard(self.real.sendall, data)

    def send(self, data: bytes) -> int:
        # Make the call and its record one step, so that the peer's recv of these bytes can never
        # be recorded (or shown live) before this send.
        if self.real.gettimeout() == 0.0:
            with self.run.trace.changed:
                count = self._guard(self.real.send, data)
                self._record_data(Send, data[:count])
            return count
        count = self._guard(self.real.send, data)
        with self.run.trace.changed:
            self._record_data(Send, data[:count])
        return count

    def recv(self, bufsize: int) -> bytes:
        if self.real.gettimeout() == 0.0:
            data = self._guard(self.real.recv, bufsize)
        else:
            with self.run.waiting(self._will_wake):
                data = self._guard(self.real.recv, bufsize)
        with self.run.trace.changed:
            self._record_data(Recv, data)
            self.at_end = not data
        return data

    def quiet(self, timeout: float = 0.05) -> bool:
        """True when no more bytes arrive within ``timeout``: the peer paused (or closed)."""
        try:
            readable, _, _ = select.select([self.real], [], [], timeout)
        except (OSError, ValueError):
            return True
        return not readable

    def _will_wake(self) -> bool:
        """Seen from this process: are bytes or a FIN on their way to this socket?"""
        if self.shut or self.closed:
            return True
        peer = self.run.flows.get((self.peer, self.local)) if self.peer else None
        if peer is None:
            return False               # a peer outside this run (netcat): nothing we can foresee
        return peer.sent > self.received or (peer.done_sending and not self.at_end)

    # -- ending ------------------------------------------------------------------------------
    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        with self.run.trace.changed:
            self._record(Shutdown(self.actor.name, _HOW[how], self.local, self.peer, self.listening))
            self.shut = True
            self.done_sending = self.done_sending or how != socket.SHUT_RD
        try:
            self.real.shutdown(how)
        except OSError:
            pass   # already closed by the peer: nothing left to shut down

    def close(self) -> None:
        if self.closed:
            return
        with self.run.trace.changed:
            self.closed = True
            self.done_sending = True
            self._record(Close(self.actor.name, self.local, self.peer, self.listening))
        self.real.close()
        self.run.forget(self)

    def abort(self) -> None:
        """Unnarrated shutdown and close for Ctrl-C: wakes any thread blocked on this socket."""
        self.closed = True
        try:
            self.real.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.real.close()
        self.run.forget(self)

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
    def _guard(self, call: Callable, *args):
        try:
            return call(*args)
        except OSError as error:
            if self.run.stopping.is_set() and not isinstance(error, TimeoutError):
                raise Stopped from None
            if isinstance(error, ConnectionError):
                self._fail(describe_network_error(error), error)
            raise

    def _fail(self, text: str, error: OSError, **addresses) -> None:
        error.narrated = True                    # said here, where it happened: once is enough
        addresses.setdefault("local", self.local)
        addresses.setdefault("peer", self.peer)
        self._record(Failure(self.actor.name, text, isinstance(error, ConnectionResetError), **addresses))

    def _remember(self, conn: NarratedSocket) -> None:
        if self.run.accounting:
            self.run.flows[(conn.local, conn.peer)] = conn

    def _record(self, event):
        return self.run.trace.record(event)

    def _record_data(self, kind, data: bytes) -> None:
        """Record a send or recv (under the trace's lock) and move this direction's byte count on."""
        trace = self.run.trace
        offset = self.received if kind is Recv else self.sent
        if trace.wants_data():
            trace.record(kind(self.actor.name, bytes(data[:PAYLOAD_KEPT]), len(data),
                              (offset, offset + len(data)), self.local, self.peer))
        else:
            # Fast path: nobody will read this event (a long-lived server at scale, or a live
            # view too far behind to show every byte); a listener may still count it.
            trace.tally(kind.call, len(data))
        if kind is Recv:
            self.received += len(data)
        else:
            self.sent += len(data)


class NarratedSelector(selectors.DefaultSelector if not hasattr(selectors, "PollSelector")
                       else selectors.PollSelector):
    """A selector whose ``select()`` the run can see coming to an end (see the module docstring).

    poll, not epoll, where the OS has it: when the launcher closes a listening socket from
    another thread, poll() still reports it (POLLNVAL), where epoll would quietly forget it.
    """

    def __init__(self, run) -> None:
        super().__init__()
        self._run = run

    def select(self, timeout: float | None = None):
        if timeout is not None:           # a timed wait ends by itself: never quiet meanwhile
            return super().select(timeout)
        with self._run.waiting(self._will_wake):
            return super().select(timeout)

    def _will_wake(self) -> bool:
        for key in self.get_map().values():
            sock = key.fileobj
            if key.events & selectors.EVENT_WRITE or not isinstance(sock, NarratedSocket):
                return True
            if sock.listening:
                if sock.shut or self._run.connects_to.get(sock.local[1], 0) > sock.accepted:
                    return True
            elif sock._will_wake():
                return True
        return False
