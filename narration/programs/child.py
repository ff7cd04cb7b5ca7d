"""The bootstrap a student's program runs under: ``python child.py REPORT_PORT PROGRAM [ARGS...]``.

It replaces ``socket.socket`` with a subclass that reports every call, then runs the program as
``python PROGRAM ARGS`` would (``runpy.run_path``, ``__main__``, its own ``sys.argv`` and
``sys.path[0]``).  Because the class itself is replaced, ``from socket import *``,
``create_connection``, ``create_server`` and ``socketserver`` (whose accept() builds ``socket(...)``
from the module global) all make narrated sockets.

Standard library only, and no import of the kit: this file runs inside the student's process,
which must start fast and must not see our packages.

Reports
-------
One JSON array a line, over a loopback TCP connection to the narrator (the same on every OS):
``[n, thread, kind, ...fields]``; ``n`` counts this process's reports, ``thread`` is the thread's
number here (0 the main thread, then in the order threads were started).  Payloads are base64,
at most ``KEPT`` bytes of each call (the byte count stays exact).  Nothing is ever pickled.
Reports are sent in batches: at once for the calls that make a program ready (listen, a UDP bind,
connect) and at exit, else when a batch is large or a tenth of a second old.

Folding: once a thread has made ``SHOWN`` data calls in a row, a call that continues one of its
last two (the same call on the same socket, its bytes next in the stream: sendall, sendall, ...
or sendall, recv, sendall, recv, ...) is not reported on its own: it is counted, and the count
(with the first ``KEPT`` bytes) goes out as one ``more`` report before the thread's next other
report.  The narrator folds the same way (``narration.programs.records.Fold``), so the views are
the same; 10,000 round trips cost a few integer additions each instead of a report each.

print() and input(): ``sys.stdout`` and ``sys.stderr`` become writers that report each line on
the thread that wrote it (so a line sits between the calls it came between); ``input()`` reads a
line from stdin and reports the prompt with the line, as a terminal would show them.

Stopping a server
-----------------
When the narrator says ``stop`` (every client has exited), the program is stopped as Ctrl-C
would stop it, but only once it is idle: every thread is waiting in a narrated call (accept, recv,
recvfrom, select) with nothing to read.  The main thread then gets SIGINT (the program's own
handler runs, by default raising ``KeyboardInterrupt`` from that call, so its own
``except KeyboardInterrupt`` runs, as in a terminal); threads still waiting once the main
thread has finished end quietly.  Waits are taken in short steps to see
this, with one readiness check first, so a call whose data is already there costs one poll().
"""
import _thread
import atexit
import base64
import builtins
import json
import os
import runpy
import select
import selectors
import signal
import socket
import sys
import threading
import time

KEPT = 4096           # bytes of each send/recv reported; the count is always exact
SHOWN = 12            # data calls in a row a thread reports one by one before folding begins
STEP = 0.02           # seconds: how often a waiting call looks whether the program is being stopped
BATCH = 64 * 1024     # bytes of reports held before they are sent
EVERY = 0.1           # seconds: the longest a report waits in a batch (a print before a long sleep)

LIVE = os.environ.pop("NARRATION_LIVE", "") == "1"     # the run is shown as it happens: no batches
TYPED = os.environ.pop("NARRATION_TYPED", "") == "1"   # a person types this program's lines
if LIVE:
    SHOWN = 1 << 62     # a live run shows every call as it happens: nothing is folded
_RealSocket = socket.socket
_DONTWAIT = int(getattr(socket, "MSG_DONTWAIT", 0))   # an int: or-ing the enum costs microseconds
_NOTHING, _UNTRIED = object(), object()      # what a call tried without waiting found
_real_select = select.select
_HERE = os.path.abspath(__file__)


class Reporter:
    """Reports in batches over one loopback connection; the narrator's ``stop`` comes back on it."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = _RealSocket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.connect(("127.0.0.1", port))
        self.lock = _thread.allocate_lock()
        self.batch: list[str] = []
        self.size = 0
        self.count = 0
        self.answers = 0                # "idle" reports: answers to the narrator, not the program's
        self.closed = False
        self.stop = threading.Event()
        self._send(token + "\n")

    def report(self, thread: int, kind: str, *fields, now: bool = False) -> None:
        self.report_json(thread, json.dumps([kind, *fields], separators=(",", ":"))[1:-1], now=now)

    def report_json(self, thread: int, rest: str, *, now: bool = False) -> None:
        """A report whose kind and fields are already JSON (``"recv","aGk=",2,...``): the data
        calls' own fast path."""
        with self.lock:
            if self.closed:
                return
            line = f"[{self.count},{thread},{rest}]"
            self.count += 1
            self.batch.append(line)
            self.size += len(line)
            if now or LIVE or self.size > BATCH:
                self._flush_locked()

    def flush(self) -> None:
        with self.lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self.batch and not self.closed:
            text = "\n".join(self.batch) + "\n"
            self.batch.clear()
            self.size = 0
            self._send(text)

    def _send(self, text: str) -> None:
        try:
            self.sock.sendall(text.encode("utf-8", "surrogatepass"))
        except OSError:
            self.closed = True          # the narrator is gone (Ctrl-C): nothing left to tell

    def every_so_often(self) -> None:
        """Send what waits in the batch every EVERY seconds (a thread of ours, not the program's)."""
        while not self.closed:
            time.sleep(EVERY)           # pacing: how late a batched report may be, not synchronisation
            self.flush()

    def listen_for_stop(self) -> None:
        """The narrator's orders, one a line: ``stop`` (stop when idle), ``idle?`` (answered with
        an ``idle`` report: whether every thread waits with nothing to read, and how many reports
        came before); the connection ending means the narrator is gone."""
        pending = b""
        while True:
            try:
                chunk = self.sock.recv(1024)
            except OSError:
                chunk = b""
            if not chunk:
                os._exit(130)          # the narrator has gone (Ctrl-C): so does the program
            pending += chunk
            *orders, pending = pending.split(b"\n")
            for order in orders:
                if order == b"stop":
                    self.stop.set()
                elif order == b"idle?":
                    with _waiting_lock:
                        idle = _everyone_idle()
                    with self.lock:
                        # What the program has done so far: its reports (not these answers) and
                        # the calls folded without a report of their own.
                        count = self.count - self.answers + _FOLDED[0]
                        self.answers += 1
                    self.report(-1, "idle", idle, count, now=True)


REPORTER: Reporter
_thread_numbers = {"next": 1}
_MAIN_DONE = threading.Event()
_NOTHING_TO_WATCH = threading.Event()   # never set: what a wait on no descriptors waits on
_waiting: dict = {}                 # thread -> what it waits on: (read fds, write fds)
_waiting_lock = _thread.allocate_lock()
_stopped = {"said": False}


class _Folding:
    """One thread's fold (see the module docstring): how many data calls in a row it has made,
    and its last two data calls, each with the calls folded into it and not yet reported."""

    __slots__ = ("last", "streak")

    def __init__(self) -> None:
        self.streak = 0
        self.last: list[_Folded] = []


class _Folded:
    __slots__ = ("count", "data", "end", "kind", "size", "sock", "start")

    def __init__(self, kind: str, sock, end: int) -> None:
        self.kind, self.sock, self.end = kind, sock, end
        self.count = self.size = 0
        self.start = end
        self.data = b""

    def report(self, number: int) -> None:
        """The calls folded since the last report, as one ``more`` report; then none are pending."""
        if self.count:
            REPORTER.report_json(number, f'"more","{self.kind}",{self.count},{self.size},{self.start},'
                                         f'"{base64.b64encode(self.data).decode("ascii")}",{self.sock._n_where()}')
            self.count = self.size = 0
            self.start = self.end
            self.data = b""


_folding: dict[int, _Folding] = {}
_FOLDED = [0]           # calls folded so far (no report of their own): activity the narrator must see


def _report_folds(number: int) -> None:
    """Before any other report of this thread: the calls it has folded so far."""
    state = _folding.get(number)
    if state is not None:
        state.streak = 0
        for folded in state.last:
            folded.report(number)


def _report_every_fold() -> None:
    """At a stop or at exit, when every other thread is idle or gone: every fold pending."""
    for number in list(_folding):
        state = _folding[number]
        for folded in state.last:
            folded.report(number)


_this_thread = threading.local()


def me() -> int:
    """This thread's number: 0 for the main thread, then in the order threads were started
    (kept thread-locally: every narrated call asks)."""
    number = getattr(_this_thread, "number", None)
    if number is None:
        number = _this_thread.number = _number_of(threading.current_thread())
    return number


def _number_of(thread) -> int:
    """A thread's number, given when it was started (or now, for one started another way)."""
    number = getattr(thread, "_narration_number", None)
    if number is None:
        if thread is threading.main_thread():
            number = 0
        else:
            number = _thread_numbers["next"]
            _thread_numbers["next"] += 1
        thread._narration_number = number
    return number


def report(kind: str, *fields, now: bool = False) -> None:
    number = me()
    if number in _folding:
        _report_folds(number)
    OUT.end_partial()
    REPORTER.report(number, kind, *fields, now=now)


def _payload(data) -> str:
    return base64.b64encode(bytes(data[:KEPT])).decode("ascii")


def _address(address):
    if isinstance(address, tuple) and len(address) >= 2:
        return [str(address[0]), address[1]]
    return None


# -- waiting, and stopping when idle -----------------------------------------------------------
def _ready(reads, writes, timeout: float) -> bool:
    """Whether any of these descriptors is ready within ``timeout``: poll() where the OS has it
    (no limit at fd 1024), select() elsewhere (Windows: sockets only, which is all we wait on)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        for fd in reads:
            poller.register(fd, select.POLLIN)
        for fd in writes:
            poller.register(fd, select.POLLOUT)
        return bool(poller.poll(timeout * 1000))
    return any(_real_select(list(reads), list(writes), [], timeout)[:2])


def _everyone_idle() -> bool:
    """Under _waiting_lock: every thread of the program waits in a narrated call, nothing ready."""
    main = threading.main_thread()
    threads = [t for t in threading.enumerate() if t.is_alive() and not isinstance(t, threading._DummyThread)
               and not (t is main and _MAIN_DONE.is_set())]   # a finished program's main thread joins the rest
    for thread in threads:
        what = _waiting.get(thread)
        if what is None:
            return False
        try:
            if _ready(what[0], what[1], 0):
                return False
        except (OSError, ValueError):
            return False            # a socket closed meanwhile: that thread is about to wake
    return True


def _stop_if_idle() -> None:
    """Called by a waiting thread at each step: stop the program here if it is idle.

    The main thread gets SIGINT as Ctrl-C gives it (``_thread.interrupt_main``, the same on every
    OS): the program's own handler runs, by default raising KeyboardInterrupt in this call.
    Threads still waiting once the main thread has finished end quietly (SystemExit).
    """
    if not REPORTER.stop.is_set():
        return
    with _waiting_lock:
        main = threading.current_thread() is threading.main_thread()
        if not (main or _MAIN_DONE.is_set()) or not _everyone_idle():
            return
        first = not _stopped["said"]
        _stopped["said"] = True
        if main and not first:
            return                  # Ctrl-C is pressed once; a program that ignores it carries on
        if not main:
            del _waiting[threading.current_thread()]
    if first:
        _report_every_fold()        # every other thread is idle: its folds are complete
        report("stopped")
    if main:
        _thread.interrupt_main(signal.SIGINT)
        return
    raise SystemExit                # a thread still waiting after the main thread has finished


def _watcher(reads, writes):
    """``ready(timeout)`` for these descriptors, made once for a whole wait (one poll object)."""
    if not reads and not writes:        # a wait on nothing (an empty selector): only time passes
        return lambda timeout: _NOTHING_TO_WATCH.wait(timeout)   # (Windows' select() refuses no sockets)
    if not hasattr(select, "poll"):
        return lambda timeout: any(_real_select(list(reads), list(writes), [], timeout)[:2])
    poller = select.poll()
    for fd in reads:
        poller.register(fd, select.POLLIN)
    for fd in writes:
        poller.register(fd, select.POLLOUT)
    return lambda timeout: bool(poller.poll(timeout * 1000))


def wait_for(reads, writes, timeout, *, looked: bool = False, ready=None):
    """Wait until one of the descriptors is ready, or ``timeout`` (None: for ever) has passed,
    in short steps so that a stop can end the wait.  True if ready.  ``looked``: the caller has
    just seen that nothing is ready (no need to look again before waiting); ``ready``: a watcher
    of these descriptors made before (a socket keeps its own)."""
    ready = ready or _watcher(reads, writes)
    if not looked and ready(0):
        return True
    thread = threading.current_thread()
    deadline = None if timeout is None else time.monotonic() + timeout
    with _waiting_lock:
        _waiting[thread] = (reads, writes)
    try:
        while True:
            step = STEP if deadline is None else max(0.0, min(STEP, deadline - time.monotonic()))
            if ready(step):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            _stop_if_idle()
    finally:
        with _waiting_lock:
            _waiting.pop(thread, None)


# -- the socket class ------------------------------------------------------------------------
_OPTIONS = {}
for _name in ("SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE", "SO_BROADCAST", "SO_RCVBUF", "SO_SNDBUF",
              "SO_LINGER", "SO_EXCLUSIVEADDRUSE", "TCP_NODELAY", "IPV6_V6ONLY", "SO_RCVTIMEO", "SO_SNDTIMEO"):
    if hasattr(socket, _name):
        _OPTIONS.setdefault(getattr(socket, _name), _name)
_HOW = {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR", socket.SHUT_RDWR: "SHUT_RDWR"}


class NarratedSocket(_RealSocket):
    """``socket.socket``, reporting each call it makes (IPv4 and IPv6 sockets; others are left be)."""

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        super().__init__(family, type, proto, fileno)
        self._n_on = self.family in (socket.AF_INET, socket.AF_INET6)
        self._n_dgram = self.type == socket.SOCK_DGRAM     # asked once: the type property is slow
        self._n_local = None
        self._n_peer = None
        self._n_sent = 0
        self._n_received = 0
        self._n_listening = False
        self._n_closed = False
        self._n_json = None
        self._n_watcher = None      # (fd, ready(timeout)): one poll object for all its waits
        self._n_found = 0           # < 0: calls to go before recv is tried without waiting again
        if self._n_on and fileno is None:
            kind = "SOCK_DGRAM" if self.type == socket.SOCK_DGRAM else "SOCK_STREAM"
            report("socket", self.family.name, kind)

    def _n_error(self, call: str, error: OSError, address=None) -> None:
        where = f" {address[0]}:{address[1]}" if isinstance(address, tuple) and len(address) >= 2 else ""
        reason = error.strerror or str(error) or type(error).__name__
        report("error", f"{call}{where}: {reason}", isinstance(error, ConnectionResetError),
               _address(self._n_local), _address(address) or _address(self._n_peer))

    def _n_wait(self, call: str, *, looked: bool = False) -> None:
        """Before a call that may block: wait in steps (see the module docstring)."""
        timeout = super().gettimeout()
        if timeout == 0.0:
            return
        watcher = self._n_watcher
        if watcher is None or watcher[0] != self.fileno():
            watcher = self._n_watcher = (self.fileno(), _watcher((self.fileno(),), ()))
        try:
            ready = wait_for((watcher[0],), (), timeout, looked=looked, ready=watcher[1])
        except RuntimeError:        # two threads waiting on one socket at once: each its own watcher
            ready = wait_for((watcher[0],), (), timeout, looked=looked)
        if not ready:
            report("timeout", call, timeout, _address(self._n_local))
            raise TimeoutError("timed out")

    def bind(self, address):
        if not self._n_on:
            return super().bind(address)
        try:
            super().bind(address)
        except OSError as error:
            self._n_error("bind", error, address)
            raise
        self._n_local = self.getsockname()[:2]
        datagrams = self.type == socket.SOCK_DGRAM
        report("bind", _address(address), _address(self._n_local), datagrams, now=datagrams)

    def listen(self, *backlog):
        super().listen(*backlog)
        if self._n_on:
            self._n_listening = True
            if self._n_local is None:
                self._n_local = self.getsockname()[:2]
            report("listen", backlog[0] if backlog else min(socket.SOMAXCONN, 128),
                   _address(self._n_local), now=True)

    def accept(self):
        if not self._n_on:
            return super().accept()
        self._n_wait("accept")
        conn, address = super().accept()
        if isinstance(conn, NarratedSocket):
            conn._n_local = conn.getsockname()[:2]
            conn._n_peer = address[:2]
            report("accept", _address(conn._n_local), _address(conn._n_peer))
        return conn, address

    def connect(self, address):
        if not self._n_on:
            return super().connect(address)
        try:
            super().connect(address)
        except OSError as error:
            if not isinstance(error, (BlockingIOError, InterruptedError)):
                self._n_error("connect", error, address)
            raise
        self._n_connected()

    def _n_connected(self) -> None:
        self._n_local = self.getsockname()[:2]
        self._n_peer = self.getpeername()[:2]
        report("connect", _address(self._n_local), _address(self._n_peer), now=True)

    def _n_late_connect(self) -> None:
        """A non-blocking connect() finished while nobody was looking (it raised BlockingIOError)."""
        try:
            self._n_connected()
        except OSError:
            pass

    def connect_ex(self, address):
        if not self._n_on:
            return super().connect_ex(address)
        code = super().connect_ex(address)
        if code == 0:
            self._n_connected()
        return code

    # -- data ------------------------------------------------------------------------------
    def _n_where(self) -> str:
        """This socket's two addresses as JSON, made once (each data report carries them)."""
        where = self._n_json
        if where is None or where[0] != (self._n_local, self._n_peer):
            where = ((self._n_local, self._n_peer),
                     json.dumps([_address(self._n_local), _address(self._n_peer)])[1:-1])
            self._n_json = where
        return where[1]

    def _n_data(self, kind: str, data) -> None:
        """A send or recv: folded into this thread's last calls when it continues them (no report
        yet), else reported at once (see the module docstring)."""
        if self._n_dgram:                         # send/recv on a connected UDP socket: a datagram each
            self._n_datagram("recvfrom" if kind == "recv" else "sendto", data, self._n_peer)
            return
        if self._n_peer is None:
            self._n_late_connect()
        size = len(data)
        if kind == "recv":
            start = self._n_received
            self._n_received += size
        else:
            start = self._n_sent
            self._n_sent += size
        number = me()
        state = _folding.get(number)
        if state is None:
            state = _folding[number] = _Folding()
        if size and state.streak >= SHOWN:
            for folded in state.last:
                if folded.end == start and folded.sock is self and folded.kind == kind:
                    folded.count += 1
                    folded.size += size
                    folded.end += size
                    _FOLDED[0] += 1
                    if len(folded.data) < KEPT:
                        folded.data += bytes(data[:KEPT - len(folded.data)])
                    state.streak += 1
                    return
        streak = state.streak
        _report_folds(number)
        OUT.end_partial()
        REPORTER.report_json(number, f'"{kind}","{_payload(data)}",{size},{start},{self._n_where()}')
        state.streak = streak + 1 if size else 0
        state.last.append(_Folded(kind, self, start + size))
        if len(state.last) > 2:
            del state.last[0]

    def send(self, data, flags=0):
        if not self._n_on:
            return super().send(data, flags)
        try:
            count = super().send(data, flags)
        except OSError as error:
            self._n_fail("send", error)
            raise
        self._n_data("send", memoryview(data)[:count])
        return count

    def sendall(self, data, flags=0):
        if not self._n_on:
            return super().sendall(data, flags)
        try:
            super().sendall(data, flags)
        except OSError as error:
            self._n_fail("sendall", error)
            raise
        self._n_data("sendall", memoryview(data))

    def _n_ready_now(self, call, *args):
        """A blocking socket's call tried without waiting (POSIX: MSG_DONTWAIT): its result if
        something was there, ``_NOTHING`` if nothing was, ``_UNTRIED`` elsewhere (Windows) or with
        a timeout (where CPython polls first anyway): one system call for data already there."""
        if _DONTWAIT and super().gettimeout() is None:
            if self._n_found < 0:       # recent tries found nothing (turns: a reply is not there yet):
                self._n_found += 1      # go straight to waiting, and try again every 16th call
                return _NOTHING
            try:
                return call(*args[:-1], args[-1] | _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                self._n_found = -15
                return _NOTHING
        return _UNTRIED

    def recv(self, bufsize, flags=0):
        if not self._n_on:
            return super().recv(bufsize, flags)
        try:
            data = self._n_ready_now(super().recv, bufsize, flags)
            if data is _NOTHING or data is _UNTRIED:
                self._n_wait("recv", looked=data is _NOTHING)
                data = super().recv(bufsize, flags)
        except OSError as error:
            self._n_fail("recv", error)
            raise
        self._n_data("recv", data)
        return data

    def recv_into(self, buffer, nbytes=0, flags=0):
        if not self._n_on:
            return super().recv_into(buffer, nbytes, flags)
        try:
            count = self._n_ready_now(super().recv_into, buffer, nbytes, flags)
            if count is _NOTHING or count is _UNTRIED:
                self._n_wait("recv", looked=count is _NOTHING)
                count = super().recv_into(buffer, nbytes, flags)
        except OSError as error:
            self._n_fail("recv", error)
            raise
        self._n_data("recv", memoryview(buffer)[:count])
        return count

    def sendto(self, data, *rest):
        if not self._n_on:
            return super().sendto(data, *rest)
        address = rest[-1]
        try:
            count = super().sendto(data, *rest)
        except OSError as error:
            self._n_fail("sendto", error, address)
            raise
        self._n_datagram("sendto", memoryview(data)[:count], address)
        return count

    def recvfrom(self, bufsize, flags=0):
        if not self._n_on:
            return super().recvfrom(bufsize, flags)
        self._n_wait("recvfrom")
        try:
            data, address = super().recvfrom(bufsize, flags)
        except OSError as error:
            self._n_fail("recvfrom", error)
            raise
        self._n_got_datagram(data, address)
        return data, address

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        if not self._n_on:
            return super().recvfrom_into(buffer, nbytes, flags)
        self._n_wait("recvfrom")
        count, address = super().recvfrom_into(buffer, nbytes, flags)
        self._n_got_datagram(memoryview(buffer)[:count], address)
        return count, address

    def _n_got_datagram(self, data, address) -> None:
        if not self._n_dgram:                       # recvfrom on a TCP socket: a recv
            self._n_data("recv", data)
            return
        self._n_datagram("recvfrom", data, address)

    def _n_datagram(self, kind: str, data, address) -> None:
        if self._n_local is None or not self._n_local[1]:
            self._n_local = self.getsockname()[:2]
        report(kind, _payload(data), len(data), _address(self._n_local), _address(address))

    def _n_fail(self, call: str, error: OSError, address=None) -> None:
        if not isinstance(error, (BlockingIOError, InterruptedError, TimeoutError)):
            self._n_error(call, error, address)

    # -- options and ending ---------------------------------------------------------------
    def settimeout(self, value):
        super().settimeout(value)
        if self._n_on:
            report("settimeout", value, _address(self._n_local))

    def setblocking(self, flag):
        super().setblocking(flag)
        if self._n_on:
            report("settimeout", None if flag else 0.0, _address(self._n_local))

    def setsockopt(self, level, option, value, *more):
        super().setsockopt(level, option, value, *more)
        if self._n_on:
            shown = value if isinstance(value, int) and not more else repr(value)
            report("setsockopt", _OPTIONS.get(option, str(option)), shown,
                   _address(self._n_local), _address(self._n_peer))

    def shutdown(self, how):
        if self._n_on:
            report("shutdown", _HOW.get(how, str(how)), _address(self._n_local), _address(self._n_peer),
                   self._n_listening)
        super().shutdown(how)

    def close(self):
        if self._n_on and not self._n_closed and not self._closed:
            self._n_closed = True
            report("close", _address(self._n_local), _address(self._n_peer), self._n_listening)
        super().close()


# -- select() and selectors: waits a stop can end ---------------------------------------------
def _fds(objects):
    result = []
    for item in objects:
        result.append(item if isinstance(item, int) else item.fileno())
    return result


def narrated_select(rlist, wlist, xlist, timeout=None):
    """select.select, waited in steps (see the module docstring); the same answer.  The
    exceptional list is watched for reading (the classic server passes its inputs there too)."""
    if timeout is not None and timeout <= STEP:
        return _real_select(rlist, wlist, xlist, timeout)
    try:
        reads, writes = _fds(rlist) + _fds(xlist), _fds(wlist)
    except (AttributeError, ValueError, OSError):
        return _real_select(rlist, wlist, xlist, timeout)
    return _until_an_answer(lambda: _real_select(rlist, wlist, xlist, 0), reads, writes, timeout)


def _until_an_answer(look, reads, writes, timeout):
    """Wait in steps until ``look()`` (a select that does not wait) has an answer, or ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        wait_for(reads, writes, None if deadline is None else max(0.0, deadline - time.monotonic()))
        answer = look()
        if any(answer) or (deadline is not None and time.monotonic() >= deadline):
            return answer


def _narrated_selector_select(original):
    def select_(self, timeout=None):
        if timeout is not None and timeout <= 0:
            return original(self, timeout)
        reads = [key.fd for key in self.get_map().values() if key.events & selectors.EVENT_READ]
        writes = [key.fd for key in self.get_map().values() if key.events & selectors.EVENT_WRITE]
        return _until_an_answer(lambda: original(self, 0), reads, writes, timeout)
    return select_


# -- print() and input() -------------------------------------------------------------------
class Lines:
    """sys.stdout or sys.stderr: each whole line is reported on the thread that wrote it."""

    def __init__(self, kind: str, real) -> None:
        self.kind = kind
        self.real = real
        self.partial: dict[int, str] = {}
        self.encoding = "utf-8"
        self.errors = "replace"

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        number = me()
        if number in _folding:
            _report_folds(number)
        text = self.partial.pop(number, "") + text
        *lines, rest = text.split("\n")
        for line in lines:
            REPORTER.report(number, self.kind, line)
        if rest:
            self.partial[number] = rest
        return len(text)

    def end_partial(self) -> None:
        """A line without its newline yet, followed by a socket call: report it as it stands."""
        if self.partial:
            number = me()
            rest = self.partial.pop(number, None)
            if rest is not None:
                REPORTER.report(number, self.kind, rest)

    def flush(self) -> None:
        pass

    @property
    def buffer(self):
        """``sys.stdout.buffer``: bytes written there are lines too (decoded as UTF-8)."""
        return _Bytes(self)

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.real.fileno()


class _Bytes:
    def __init__(self, lines: Lines) -> None:
        self.lines = lines

    def write(self, data) -> int:
        self.lines.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        pass


class _Both:
    def end_partial(self) -> None:
        STDOUT.end_partial()
        STDERR.end_partial()


OUT = _Both()


def narrated_input(prompt=""):
    """input(): a line from stdin, reported with its prompt as a terminal would show them."""
    number = me()
    if number in _folding:
        _report_folds(number)
    prompt = STDOUT.partial.pop(number, "") + str(prompt)
    if TYPED and prompt:
        REPORTER.report(number, "out", prompt, now=True)     # a person is about to type: show the prompt
        prompt = ""
    REPORTER.flush()
    line = sys.stdin.readline()
    if not line:
        if prompt:
            REPORTER.report(number, "out", prompt)
        raise EOFError("EOF when reading a line")
    line = line.rstrip("\n").rstrip("\r")
    REPORTER.report(number, "input", prompt, line)
    return line


# -- the program's own errors ----------------------------------------------------------------
def _own_frames(error: BaseException) -> str:
    """The traceback as the program alone would print it: our frames (this file, runpy) left out."""
    # Imported here, not at start-up: only a program that fails needs it.
    import traceback

    summary = traceback.TracebackException.from_exception(error)
    _strip(summary)
    return "".join(summary.format())


def _strip(summary) -> None:
    import traceback

    frames = [frame for frame in summary.stack
              if os.path.abspath(frame.filename) != _HERE and not frame.filename.endswith(("runpy.py", "<frozen runpy>"))]
    summary.stack = traceback.StackSummary.from_list(frames)
    for linked in (summary.__cause__, summary.__context__):
        if linked is not None:
            _strip(linked)


def _thread_excepthook(args) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(f"Exception in thread {name}:\n{_own_frames(args.exc_value)}")


# -- start ---------------------------------------------------------------------------------
def install() -> None:
    global STDOUT, STDERR
    socket.socket = NarratedSocket
    select.select = narrated_select
    for name in ("SelectSelector", "PollSelector", "EpollSelector", "DevpollSelector", "KqueueSelector"):
        cls = getattr(selectors, name, None)
        if cls is not None:
            cls.select = _narrated_selector_select(cls.select)
    STDOUT, STDERR = Lines("out", sys.stdout), Lines("err", sys.stderr)
    sys.stdout, sys.stderr = STDOUT, STDERR
    builtins.input = narrated_input
    threading.excepthook = _thread_excepthook
    original_start = threading.Thread.start

    def start(self):
        number = _thread_numbers["next"]
        _thread_numbers["next"] += 1
        self._narration_number = number
        report("thread", number)
        return original_start(self)

    threading.Thread.start = start


def main() -> int:
    global REPORTER
    port, program, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    REPORTER = Reporter(port, os.environ.pop("NARRATION_TOKEN", ""))
    _thread.start_new_thread(REPORTER.every_so_often, ())
    _thread.start_new_thread(REPORTER.listen_for_stop, ())
    atexit.register(REPORTER.flush)     # runs last: after the program's own atexit handlers
    install()
    sys.argv = [program, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(program))
    status = 0
    try:
        runpy.run_path(program, run_name="__main__")
    except SystemExit as leaving:
        code = leaving.code
        if code is None or isinstance(code, int):
            status = code or 0
        else:
            sys.stderr.write(f"{code}\n")
            status = 1
    except KeyboardInterrupt:
        status = 130
    except BaseException as error:  # noqa: BLE001 - the program's own error, shown as its own
        sys.stderr.write(_own_frames(error))
        status = 1
    _MAIN_DONE.set()
    for thread in threading.enumerate():        # as the interpreter does at exit: non-daemon threads
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    _report_every_fold()
    OUT.end_partial()
    REPORTER.report(0, "exit", status)
    REPORTER.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
