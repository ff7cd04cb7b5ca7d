"""Narrated sockets: a real socket with the textbook method names; each call is recorded as it happens.

``NarratedSocket`` makes the real call on a real socket, then records an event
(``narration.events``).  Causality is kept in the recording: ``sendall`` is recorded before the
bytes leave, a non-blocking ``send`` in one step with the call, and ``recv`` after the bytes
arrive, so a live view never shows a message received before it was sent.  (A blocking ``send``
can only be recorded once it says how much it took; ``canonical()`` still orders it first.)

A server's ``listen()`` changes two things for the whole process, once: see ``narration.limits``.

Each blocking call also tells the run what would wake it (``Run.waiting``): a ``recv`` wakes
when bytes or a FIN are on their way from a narrated peer, an ``accept`` when a narrated
``connect`` to its port has not been accepted yet, an untimed ``recvfrom`` when a narrated
``sendto`` to its port has not been received yet.  That is how a scripted run knows it is quiet.
A timed call (``settimeout``) is never a quiet wait: it ends by itself.

Datagrams (UDP, ``SOCK_DGRAM``): ``sendto`` is recorded in one step with the call, ``recvfrom``
once a whole datagram has arrived, each with the address it went to or came from.  One
``sendto`` is one ``recvfrom``: the events keep datagram boundaries as the OS does.

``narration.selector.NarratedSelector`` keeps the same account for one-thread servers, and
``narration.limits`` holds what a server meets at scale (open files, a spare descriptor).
"""
from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from typing import NoReturn

from narration.errors import Stopped, describe_network_error
from narration.events import (
    Accept,
    Bind,
    Close,
    Connect,
    Failure,
    Listen,
    Milestone,
    Recv,
    RecvFrom,
    Send,
    SendAll,
    SendTo,
    SetOption,
    SetTimeout,
    Shutdown,
    Step,
    TcpState,
    TimedOut,
)
from narration.limits import (
    OUT_OF_DESCRIPTORS,
    SPARE,
    STEP,
    TOO_MANY,
    raise_open_file_limit,
    readable,
    writable,
)
from narration.oses import reuse_option
from narration.text import address_text

PAYLOAD_KEPT = 64 * 1024   # bytes of each send/recv kept in the trace; the byte count stays exact
RAW_GAP = 0.25             # seconds --framing raw leaves for an answer before the next line
UNKNOWN = "?"              # --tcp: a state this OS does not let us read (a closed connection on macOS)
ACK_WAIT = 0.5             # seconds --tcp waits for a delayed ACK before it reads a state as it is
DATAGRAM_STEP = 0.05       # seconds: the same for recvfrom(), which no listener's close wakes at a run's end
_HOW = {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR", socket.SHUT_RDWR: "SHUT_RDWR"}


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
        self.reading_shut = False   # shutdown(SHUT_RD or SHUT_RDWR): this end's recv returns b''
        self.refusing = False  # a listening socket out of file descriptors
        self.run.register(self)

    # -- set-up ------------------------------------------------------------------------------
    def setsockopt(self, level: int, option: int, value: int) -> None:
        option, name = reuse_option(level, option)     # SO_REUSEADDR means another thing on Windows
        self.real.setsockopt(level, option, value)
        self._record(SetOption(self.actor.name, name, value, self.local, self.peer))

    def bind(self, address) -> None:
        if self.real.family == socket.AF_INET6 and address[0] in ("::", ""):
            # "::" is every IPv6 address; with IPV6_V6ONLY off, IPv4 clients reach it too (dual-stack),
            # where the OS allows it (some systems keep IPv6 sockets IPv6-only).
            with contextlib.suppress(OSError, AttributeError):
                self.real.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                self._record(SetOption(self.actor.name, "IPV6_V6ONLY", 0, self.local, self.peer))
        try:
            self.real.bind(address)
        except OSError as error:
            self._fail(f"bind {address_text(address)}: {describe_network_error(error)}", error,
                       local=tuple(address[:2]))
            raise
        self.local = self.real.getsockname()[:2]
        self._record(Bind(self.actor.name, tuple(address[:2]), self.local))

    def listen(self, backlog: int = 16) -> None:
        raise_open_file_limit()
        SPARE.keep()
        self._turn()
        self.real.listen(backlog)
        self.listening = True
        self._record(Listen(self.actor.name, backlog, self.local))
        self._settled()

    def accept(self) -> tuple[NarratedSocket, tuple]:
        """The textbook accept() (asked about first, in a split role's --quiz)."""
        if not self._quizzed():
            return self._accept()
        return self._asked("accept", self._accept, lambda _, ready: (
            (0, "returned at once") if ready else (1, "waited for a client")))

    def _accept(self) -> tuple[NarratedSocket, tuple]:
        """The textbook accept(); a blocking one waits in short steps, so that closing the listening
        socket, or the run stopping, ends it on every OS (shutdown() on a listening socket wakes a
        blocked accept() on Linux only)."""
        if self.real.gettimeout() == 0.0:
            try:
                self._turn()
                real, address = self._accept_now()     # non-blocking: BlockingIOError when nobody waits
            except BlockingIOError:
                raise
            except OSError:
                if self.run.stopping.is_set() or self.shut or self.closed:
                    raise Stopped from None
                raise
        else:
            port = self.local[1] if self.local else None
            with self.run.waiting(lambda: self.shut or self.closed
                                  or self.run.connects_to.get(port, 0) > self.accepted):
                limit = self.real.gettimeout()      # a timeout the program set itself
                deadline = None if limit is None else time.monotonic() + limit
                while True:
                    if self.run.stopping.is_set() or self.shut or self.closed:
                        raise Stopped              # the server is stopping
                    try:
                        if not readable(self.real, STEP):
                            if deadline is not None and time.monotonic() >= deadline:
                                raise TimeoutError("timed out")
                            continue
                        self._turn()
                        real, address = self._accept_now()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except (OSError, ValueError):   # ValueError: closed meanwhile (its fd is -1)
                        if self.run.stopping.is_set() or self.shut or self.closed:
                            raise Stopped from None
                        raise
                    break
        conn = NarratedSocket(self.actor, real, local=real.getsockname()[:2], peer=address[:2])
        with self.run.trace.changed:
            self.accepted += 1
            self._remember(conn)
            self._record(Accept(self.actor.name, conn.local, conn.peer))
        conn._settled()
        return conn, address[:2]

    def _accept_now(self):
        """accept(); when the process is out of file descriptors, the newest connection is told so
        and closed (with the one descriptor kept spare for this), and the call waits for the next."""
        while True:
            try:
                real, address = self.real.accept()
            except OSError as error:
                if error.errno not in OUT_OF_DESCRIPTORS:
                    raise
                self._refuse_newest()
                if self.real.gettimeout() == 0.0:
                    raise BlockingIOError from None   # a selector loop carries on with its others
                continue
            if self.refusing:
                self.refusing = False
                self.actor.note("file descriptors free again: accepting connections as usual")
            return real, address

    def _refuse_newest(self) -> None:
        if not self.refusing:               # said once per shortage, not once per connection
            self.refusing = True
            self.actor.note("out of file descriptors: each new connection is told to try later, and closed")
        if not SPARE.release():
            self.run.stopping.wait(STEP)     # none to spare: wait a step rather than spin
            return
        try:
            real, _ = self.real.accept()
        except OSError:
            pass
        else:
            with contextlib.suppress(OSError):
                real.send(TOO_MANY)
            real.close()
        finally:
            SPARE.keep()

    def connect(self, address) -> None:
        """The textbook connect() (asked about first, in a split role's --quiz)."""
        if not self._quizzed():
            return self._connect(address)
        return self._asked("connect", lambda: self._connect(address), lambda _, ready: (
            1, "returned: the server's accept() comes when it comes"))

    def _connect(self, address) -> None:
        """The textbook connect(); a host name is tried at each address it resolves to, in order,
        each try narrated (``localhost`` is often ::1 first, and a server may listen on 127.0.0.1)."""
        tries = self._addresses(address)
        for number, (family, target) in enumerate(tries):
            if number or family != self.real.family:
                self._change_family(family)       # after a failed connect() a socket is spent: a new one
            try:
                self._connect_once(target, trying=address[0] if number + 1 < len(tries) else None)
            except (ConnectionRefusedError, TimeoutError, OSError) as error:
                if number + 1 == len(tries) or isinstance(error, socket.gaierror):
                    raise
                continue
            return

    def _addresses(self, address) -> list[tuple[int, tuple]]:
        """(family, address) pairs to try: one for an address literal, each resolved one for a name."""
        host, port = address[0], address[1]
        for family in (socket.AF_INET, socket.AF_INET6):      # an address literal: one try
            try:
                socket.inet_pton(family, str(host).split("%")[0])
            except (OSError, ValueError):
                continue
            return [(family, tuple(address))]
        try:
            found = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except socket.gaierror as error:
            self._fail(f"connect {address_text(address)}: {describe_network_error(error)}", error,
                       peer=tuple(address[:2]))
            raise
        tries: list[tuple[int, tuple]] = []
        for family, _, _, _, target in found:
            if family in (socket.AF_INET, socket.AF_INET6) and (family, target[:2]) not in \
                    [(f, t[:2]) for f, t in tries]:
                tries.append((family, target))
        return tries

    def _change_family(self, family: int) -> None:
        """A fresh socket of the address's family in place of the unconnected one (narrated)."""
        from narration.events import Socket

        timeout = self.real.gettimeout()
        self.real.close()
        self.real = socket.socket(family, self.real.type)
        self.real.settimeout(timeout)
        self._record(Socket(self.actor.name, "AF_INET6" if family == socket.AF_INET6 else "AF_INET",
                            "SOCK_STREAM" if self.real.type == socket.SOCK_STREAM else "SOCK_DGRAM"))

    def _connect_once(self, address, *, trying: str | None) -> None:
        self._turn()
        chosen = self.real.gettimeout()            # the program's own: given back afterwards
        self.real.settimeout(self.run.connect_timeout if chosen is None else chosen)
        try:
            self.real.connect(address)
        except OSError as error:
            error.during = "connect"                  # for the launcher: not a reply that never came
            more = f" (trying {trying}'s next address)" if trying else ""
            self._fail(f"connect {address_text(address)}: {describe_network_error(error)}{more}", error,
                       peer=tuple(address[:2]))
            raise
        finally:
            self.real.settimeout(chosen)
        self.local = self.real.getsockname()[:2]
        self.peer = self.real.getpeername()[:2]
        with self.run.trace.changed:
            if self.run.accounting:
                self.run.connects_to[self.peer[1]] = self.run.connects_to.get(self.peer[1], 0) + 1
            self._remember(self)
            self._record(Connect(self.actor.name, self.local, self.peer))
        self._settled()

    # -- data --------------------------------------------------------------------------------
    def sendall(self, data: bytes) -> None:
        """The textbook sendall(); in a split role's --quiz, asked about first when it will wait
        (the kernel has no room for it now: the peer has stopped reading)."""
        if self.listening or writable(self.real) or not self._quizzed():
            return self._sendall(data)
        return self._asked("sendall", lambda: self._sendall(data), lambda _, ready: (
            1, "waited until the peer read enough"), timed_out=(1, "waited, then gave up (its timeout)"))

    def _sendall(self, data: bytes) -> None:
        if self.run.raw_lines and data.endswith(b"\n") and not self.listening:
            data = data[:-1]     # --framing raw: a typed line goes out as typed, with no newline
            if self.sent:
                # Raw lines have no boundary: a textbook server must get each in a recv() of its own.
                # Before the next one, give the server a moment to answer the last (a person would).
                readable(self.real, RAW_GAP)                            # pacing
        self._turn()
        with self.run.trace.changed:
            self._record_data(SendAll, data)
        if self.run.tcp:           # --tcp: one waiting for room waits for the peer's turn to read
            with self.run.waiting(lambda: writable(self.real)):
                self._guard(self.real.sendall, data)
        else:
            self._guard(self.real.sendall, data)
        self._settled()

    def send(self, data: bytes) -> int:
        # Make the call and its record one step, so that the peer's recv of these bytes can never
        # be recorded (or shown live) before this send.
        run, real = self.run, self.real
        if real.gettimeout() == 0.0 and not run.tcp:
            trace = run.trace
            if not trace.keep and not trace.listeners:
                # Nobody will read or count this event (a long-lived server with no view): no record
                # to keep in order with the peer's, so no lock, and the call made right here (chat's
                # fan-out makes a thousand of these for each line: every step counts).  The byte
                # count stays exact, and a failure is said as _guard says it.
                try:
                    count = real.send(data)
                except OSError as error:
                    self._failed(error)
                self.sent += count
                return count
        self._turn()
        if real.gettimeout() == 0.0:
            with run.trace.changed:
                count = self._guard(self.real.send, data)
                self._record_data(Send, data[:count])
            self._settled()
            return count
        count = self._guard(self.real.send, data)
        with self.run.trace.changed:
            self._record_data(Send, data[:count])
        self._settled()
        return count

    def recv(self, bufsize: int) -> bytes:
        """The textbook recv() (asked about first, in a split role's --quiz)."""
        if not self._quizzed():
            return self._recv(bufsize)
        return self._asked("recv", lambda: self._recv(bufsize), lambda data, ready: (
            (2, "returned b''") if not data else
            (0 if ready else 1, f"{'' if ready else 'waited, then '}returned {len(data)} B")),
            timed_out=(1, "waited, then gave up (its timeout)"))

    def _recv(self, bufsize: int) -> bytes:
        if self.run.tcp:                           # --tcp: wait until it can return at once, then take a turn
            self._wait_readable()
            self._turn()
            data = self._guard(self.real.recv, bufsize)
        elif self.real.gettimeout() is not None:     # non-blocking, or a timeout: it ends by itself
            data = self._guard(self.real.recv, bufsize)
            trace = self.run.trace
            if not trace.keep and not trace.listeners:     # as in send(): nobody reads or counts it
                self.received += len(data)
                self.at_end = not data
                return data
        else:
            with self.run.waiting(self.will_wake):
                data = self._guard(self.real.recv, bufsize)
        with self.run.trace.changed:
            self._record_data(Recv, data)
            self.at_end = not data
        self._settled()
        return data

    def sendto(self, data: bytes, address) -> int:
        """The textbook sendto(): one datagram to ``address``.  The call and its record are one
        step, so the peer's recvfrom of it is never recorded (or shown live) first.  An unbound
        socket gets an ephemeral port from the OS here, as a TCP client does at connect()."""
        with self.run.trace.changed:
            count = self._guard(self.real.sendto, data, address)
            if self.local is None or not self.local[1]:
                self.local = self.real.getsockname()[:2]
            peer = tuple(address[:2])
            if self.run.accounting:
                flight = (self.local[1], peer[1])
                self.run.datagrams[flight] = self.run.datagrams.get(flight, 0) + 1
            self._record_datagram(SendTo, data[:count], peer)
        return count

    def recvfrom(self, bufsize: int) -> tuple[bytes, tuple]:
        """The textbook recvfrom() (asked about first, in a split role's --quiz)."""
        if not self._quizzed():
            return self._recvfrom(bufsize)
        return self._asked("recvfrom", lambda: self._recvfrom(bufsize), lambda got, ready: (
            0 if ready else 1, f"{'' if ready else 'waited, then '}returned {len(got[0])} B"),
            timed_out=(2, "timed out"))

    def _recvfrom(self, bufsize: int) -> tuple[bytes, tuple]:
        """The textbook recvfrom(): one whole datagram and the address it came from.  A datagram
        longer than ``bufsize`` is cut (the OS discards the rest: nothing waits for a next call).

        An untimed one waits in short steps, so the run stopping ends it on every OS, and is a
        quiet wait until a narrated datagram is on its way to it.  A timed one (``settimeout``)
        ends by itself: running out of time is recorded (``TimedOut``), then ``TimeoutError`` is
        raised, as the real call raises it.
        """
        limit = self.real.gettimeout()
        if limit == 0.0:
            data, source = self._guard(self.real.recvfrom, bufsize)   # non-blocking: may raise BlockingIOError
        elif limit is None:
            with self.run.waiting(self._datagram_on_its_way):
                data, source = self._next_datagram(bufsize, None)
        else:
            data, source = self._next_datagram(bufsize, limit)
        with self.run.trace.changed:
            if self.local is None:
                self.local = self.real.getsockname()[:2]
            flight = (source[1], self.local[1])
            if self.run.datagrams.get(flight):
                self.run.datagrams[flight] -= 1
            self._record_datagram(RecvFrom, data, tuple(source[:2]))
        return data, source

    def _next_datagram(self, bufsize: int, limit: float | None):
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            if self.run.stopping.is_set() or self.closed:
                # The run is stopping (or another thread closed this socket): what this thread does
                # next (its close) comes after everything so far, in every run's canonical order.
                self.run.trace.record(Milestone(self.actor.name, Step.WOKEN),
                                      after=self.run.trace.last_of_each_thread())
                raise Stopped
            step = DATAGRAM_STEP if deadline is None else max(0.0, min(DATAGRAM_STEP, deadline - time.monotonic()))
            try:
                if readable(self.real, step):
                    if self.run.stopping.is_set() or self.closed:
                        continue                  # woken by finish(): the loop's top says so
                    return self._guard(self.real.recvfrom, bufsize)
            except (BlockingIOError, InterruptedError):
                continue
            except (OSError, ValueError):       # ValueError: closed meanwhile (its fd is -1)
                if self.run.stopping.is_set() or self.closed:
                    raise Stopped from None
                raise
            if deadline is not None and time.monotonic() >= deadline:
                self._record(TimedOut(self.actor.name, "recvfrom", limit, self.local))
                raise TimeoutError("timed out")

    def _datagram_on_its_way(self) -> bool:
        """Seen from this process: is a narrated datagram on its way to this socket's port?"""
        if self.closed:
            return True
        if self.local is None:
            return False               # never bound, never sent: nobody can reach it
        port = self.local[1]
        return any(count for (_, to), count in self.run.datagrams.items() if to == port)

    def quiet(self, timeout: float = 0.05) -> bool:
        """True when no more bytes arrive within ``timeout``: the peer paused (or closed)."""
        try:
            return not readable(self.real, timeout)
        except (OSError, ValueError):
            return True

    def will_wake(self) -> bool:
        """Seen from this process: are bytes or a FIN on their way to this socket?"""
        if self.reading_shut or self.closed:
            return True
        peer = self.run.flows.get((self.peer, self.local)) if self.peer else None
        if peer is None:
            return False               # a peer outside this run (netcat): nothing we can foresee
        return peer.sent > self.received or (peer.done_sending and not self.at_end)

    # -- ending ------------------------------------------------------------------------------
    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        self._turn()
        with self.run.trace.changed:
            self._record(Shutdown(self.actor.name, _HOW[how], self.local, self.peer, self.listening))
            self.shut = True
            self.done_sending = self.done_sending or how != socket.SHUT_RD
            self.reading_shut = self.reading_shut or how != socket.SHUT_WR
        try:
            self.real.shutdown(how)
        except OSError:
            pass   # already closed by the peer: nothing left to shut down
        self._settled()

    def close(self) -> None:
        if self.closed:
            return
        self._turn()
        with self.run.trace.changed:
            self.closed = True
            self.done_sending = True
            self._record(Close(self.actor.name, self.local, self.peer, self.listening))
        if self.listening:
            # On Linux this wakes an accept() or poll() waiting on this socket at once; elsewhere
            # it fails, and their short steps see the close instead.
            with contextlib.suppress(OSError):
                self.real.shutdown(socket.SHUT_RDWR)
        self.real.close()
        self.run.forget(self)
        self._settled()

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
        """Narrated: a timed recvfrom (or recv) gives up after ``seconds`` (a ping's timeout)."""
        self.real.settimeout(seconds)
        self._record(SetTimeout(self.actor.name, seconds, self.local))

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
            self._failed(error)

    def _failed(self, error: OSError) -> NoReturn:
        """A call failed: the run stopping says Stopped; a lost connection is said, then raised."""
        if self.run.stopping.is_set() and not isinstance(error, TimeoutError):
            raise Stopped from None
        if isinstance(error, ConnectionError):
            self._fail(describe_network_error(error), error)
        raise error

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

    # -- the quiz in a split role (narration.views.quiz.LiveQuiz) ---------------------------------
    def _quizzed(self) -> bool:
        """Whether the person at this end is asked about this call (see ``LiveQuiz.asks_here``)."""
        return self.run.quiz is not None and self.run.quiz.asks_here(self.real)

    def _asked(self, call: str, make: Callable, judge: Callable, *, timed_out: tuple | None = None):
        """Ask, look whether the call can return at once (once the answer is in), make it, and say
        what happened: ``judge(result, ready)`` gives (the right answer, in words).  A timeout is an
        answer only where ``timed_out`` says which; any other failure withdraws the question."""
        quiz = self.run.quiz
        quiz.ask(self.actor.name, call)
        ready = readable(self.real, 0)
        try:
            result = make()
        except TimeoutError as error:
            if timed_out is None:
                quiz.failed(call, error)
            else:
                quiz.tell(call, *timed_out)
            raise
        except (OSError, Stopped) as error:
            quiz.failed(call, error)
            raise
        quiz.tell(call, *judge(result, ready))
        return result

    def _turn(self) -> None:
        """--tcp: one call at a time (``Run.take_turn``), so each reading follows from the calls before."""
        if self.run.tcp and self.real.type == socket.SOCK_STREAM:
            self.run.take_turn()

    def _settled(self) -> None:
        """--tcp: once the run has settled after this call, record what the kernel says about it."""
        if self.run.tcp and self.real.type == socket.SOCK_STREAM and self.local is not None:
            self.run.read_settled(self._read_kernel)

    def _wait_readable(self) -> None:
        """--tcp: wait (as the real call would) until a recv can return at once: bytes, b'' or an
        error are there.  Timed out as the program's own timeout says."""
        limit = self.real.gettimeout()
        if limit == 0.0:
            return                                   # non-blocking: it returns or raises at once
        deadline = None if limit is None else time.monotonic() + limit
        # A timed wait counts as waiting too (for the turns), until its time is up.
        with self.run.waiting(lambda: self.will_wake() or (deadline is not None and time.monotonic() >= deadline)):
            while True:
                if self.run.stopping.is_set() or self.closed:
                    raise Stopped
                try:
                    if readable(self.real, STEP if deadline is None else max(0.0, min(STEP, deadline - time.monotonic()))):
                        break
                except (OSError, ValueError):      # closed meanwhile (Ctrl-C's abort): its fd is gone
                    raise Stopped from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError("timed out")

    def _read_kernel(self) -> None:
        from narration import tcp_state

        def reading(sock) -> tuple:
            if sock.closed:                      # the kernel may keep it a while: FIN_WAIT_2, TIME_WAIT
                if not tcp_state.table_readable():
                    return UNKNOWN, None, None     # never a guess: say it cannot be read
                return (tcp_state.after_close(sock.local, sock.peer) if sock.peer else None), None, None
            found = tcp_state.of_socket(sock.real)
            return (found.state, found.unread, found.unsent) if found else (None, None, None)

        twin = None if self.peer is None or self.listening else self.run.flows.get((tuple(self.peer), tuple(self.local)))
        deadline = time.monotonic() + ACK_WAIT
        while True:
            mine = reading(self)
            theirs = reading(twin) if twin is not None else (None, None, None)
            # A state that waits for the peer's ACK (FIN_WAIT_1, LAST_ACK...) may wait for a delayed
            # ACK, up to 200 ms: read it once that has come, so a run reads the same every time.  The
            # kernel gives no signal for an ACK: look again, a bounded number of times.
            if not {mine[0], theirs[0]} & tcp_state.AWAITING_ACK or time.monotonic() >= deadline:
                break
            self.run.stopping.wait(0.005)
        self._record(TcpState(self.actor.name, self.local, self.peer, *mine,
                              twin.actor.name if twin is not None else None, *theirs))

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

    def _record_datagram(self, kind, data: bytes, peer: tuple) -> None:
        """Record a sendto or recvfrom (under the trace's lock): one whole datagram, with its address."""
        trace = self.run.trace
        if trace.wants_data():
            trace.record(kind(self.actor.name, bytes(data[:PAYLOAD_KEPT]), len(data), self.local, peer))
        else:
            trace.tally(kind.call, len(data))     # fast path, as for send/recv
