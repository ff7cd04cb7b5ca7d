"""Run programs under narration: each in its own process, started in order, stopped when done.

    play(run, programs, cwd=...)      the whole run; its events end up in ``run.trace``

Each program runs as ``python child.py REPORT_PORT PROGRAM ARGS`` (``narration.programs.child``)
with its own stdin (its ``--send`` lines, then end of input), and reports every call over a
loopback connection to the listener here; a thread per program turns its reports into events.

Who goes when: the programs start in the given order.  The next one starts once the last has
*released* it: it listened (TCP) or bound a UDP socket (a server), connected (a client), or
exited; the release is the observed call, never a sleep, and the next program's first event is
recorded after it (a causal edge).  Once every client has exited, each server still running is
told to stop (see the child: as Ctrl-C would, once it is idle); one that does not stop within
``STOP_GRACE`` seconds is ended.  In a scripted run, clients still running once the whole run is
quiet (every program idle, twice over, having done nothing in between) are stopped the same way.

After the run, the recorded order is made causal for datagrams (each ``recvfrom`` after its
``sendto``) and a ``recv`` of b'' from a program that exited without ``close()`` comes after
that program's end: programs report in batches, so the narrator hears of calls out of order.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from narration.events import Milestone, Note, Step
from narration.programs.records import QUIET_STOP, Fold, event_of

CHILD = str(Path(__file__).resolve().parent / "child.py")
READY_TIMEOUT = 10.0    # seconds a program may take to listen, connect or exit before the next starts anyway
STOP_GRACE = 3.0        # seconds a server has to stop once told, before it is ended
STEP = 0.2              # seconds: how often the main thread's waits look up (Ctrl-C lands at once)
QUIET = 0.25            # seconds between asking whether a scripted run can still move at all
KEEP_AT_MOST = 10_000   # events kept of each program; past them, its data calls are only counted
_DROPPABLE = {"send", "sendall", "recv", "sendto", "recvfrom", "settimeout", "timeout", "setsockopt"}
# (what a program prints, its connections, closes and errors are always kept)


class Program:
    """One program of the run: what to run, and its process and reports once started."""

    def __init__(self, name: str, argv: list[str], lines: list[str]) -> None:
        self.name = name                  # the actor: "server", or "client-1" and "client-2"
        self.argv = argv                  # [path, *arguments], as typed
        self.lines = lines                # its stdin, one line each (--send)
        self.process: subprocess.Popen | None = None
        self.reports: socket.socket | None = None
        self.released = threading.Event()   # listened, bound UDP, connected, or exited
        self.release_seq: int | None = None
        self.connected = threading.Event()  # its report connection is in
        self.reported = threading.Event()   # its report connection has ended: every report is in
        self.exited = threading.Event()
        self.listened = False
        self.bound_datagrams = False        # bound a UDP socket...
        self.first_datagram: str | None = None     # ...and received before it sent: a UDP server
        self.ended_by_us = False
        self.end_said = False
        self.exit_seq: int | None = None        # the seq of the note saying how it ended
        self.idle: tuple | None = None          # its answer to "idle?": (idle, reports so far)
        self.kept = 0                           # its events kept so far (see KEEP_AT_MOST)
        self.not_kept: dict[str, int] = {}      # past the limit: how many of each kind, only counted
        self.stopped_when_quiet = False         # a client stopped because nothing more could happen
        self.last_seq: dict[str, int] = {}      # thread key -> its latest event's seq
        self.first_after: tuple = ()            # what its first event comes after: the last one's release

    @property
    def server(self) -> bool:
        return self.listened or (self.bound_datagrams and self.first_datagram != "sendto")

    def thread(self, number: int) -> str:
        return f"{self.name}/{number}"

    def done(self) -> bool:
        return self.end_said


class Session:
    def __init__(self, run, programs: list[Program], *, cwd=None, python: str = sys.executable,
                 typed=None) -> None:
        self.run = run
        self.typed = typed          # lines a person types (--interactive): the last program's stdin
        self.trace = run.trace
        self.programs = programs
        self.cwd = cwd
        self.python = python
        self.secret = os.urandom(16).hex()     # each child's token: only our children are listened to
        self.fold = Fold()
        self.lock = threading.Lock()
        self.changed = threading.Condition()   # a program released, exited or ended: the main thread looks again
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.interrupted = False

    # -- the whole run ---------------------------------------------------------------------
    def play(self) -> None:
        for program in self.programs:
            self.run.actor(program.name)        # lanes and log colours in the given order
        self._thread(self._accept_reports, "reports")
        try:
            previous: Program | None = None
            for program in self.programs:
                self._start(program, after=previous)
                if not self._wait(program.released.is_set, READY_TIMEOUT) and program is not self.programs[-1]:
                    self.trace.record(Note(program.name, f"did not listen, connect or exit within {READY_TIMEOUT:g} s:"
                                                         " the next program starts anyway"), thread=program.thread(0))
                previous = program
            clients = [program for program in self.programs if not program.server]
            if clients:
                self._wait_for_clients(clients)
            else:
                self._wait(lambda: all(program.done() for program in self.programs), None)
            for program in self.programs:
                if not program.exited.is_set():
                    self._stop(program)
            deadline = time.monotonic() + STOP_GRACE
            self._wait(lambda: all(p.exited.is_set() for p in self.programs), max(0.0, deadline - time.monotonic()))
            for program in self.programs:
                if not program.exited.is_set():
                    program.ended_by_us = True
                    program.process.kill()
            self._wait(lambda: all(program.done() for program in self.programs), STOP_GRACE)
            for program in self.programs:
                self._ended(program)        # those whose reports never ended (no report connection)
        except KeyboardInterrupt:
            # Ctrl-C: every program is ended at once; what each did so far is still shown.
            self.interrupted = True
            self.close()
            self._wait(lambda: all(program.done() for program in self.programs if program.process), STOP_GRACE)
            raise
        finally:
            self.run.stopping.set()         # a person's keyboard is no longer read
            self.close()
            self.fold.settle()
            with self.trace.changed:
                self.trace.events[:] = datagrams_after_their_sending(self.trace.events)
                ends_at_exit(self.trace.events, {p.name: p.exit_seq for p in self.programs if p.exit_seq is not None})

    def _wait_for_clients(self, clients: list[Program]) -> None:
        """Until every client has exited.  In a scripted run, a client still running once nothing
        more can happen (every program idle twice over, no report between: a receiving thread
        waiting for ever after its input ended) is stopped as Ctrl-C would stop it."""
        while not self._wait(lambda: all(program.done() for program in clients), QUIET):
            if self.typed is None and self._quiet():
                for program in clients:
                    if not program.exited.is_set():
                        program.stopped_when_quiet = True
                        self._stop(program)
                self._wait(lambda: all(program.done() for program in clients), None)
                return

    def _quiet(self) -> bool:
        """Whether every running program says twice over that it is idle, having done nothing in
        between (its reports and folded calls counted)."""
        first = self._answers()
        return first is not None and self._answers() == first

    def _answers(self) -> list | None:
        """Each running program's answer to "idle?": its count of what it has done, or None if
        one of them is not idle (or does not answer in time)."""
        running = [p for p in self.programs if not p.exited.is_set() and p.reports is not None]
        with self.changed:
            for program in running:
                program.idle = None
        for program in running:
            with contextlib.suppress(OSError):
                program.reports.sendall(b"idle?\n")
        self._wait(lambda: all(p.idle is not None or p.exited.is_set() for p in running), QUIET)
        answers = [p.idle or (False, -1) for p in running]
        return [count for _, count in answers] if all(idle for idle, _ in answers) else None

    def close(self) -> None:
        """Every process ended, every connection closed (also on Ctrl-C)."""
        for program in self.programs:
            if program.process is not None and program.process.poll() is None:
                program.ended_by_us = True
                with contextlib.suppress(OSError):
                    program.process.kill()
        with contextlib.suppress(OSError):
            self.listener.close()
        for program in self.programs:
            if program.reports is not None:
                with contextlib.suppress(OSError):
                    program.reports.close()
        for program in self.programs:
            if program.process is not None:
                with contextlib.suppress(Exception):
                    program.process.wait(timeout=STOP_GRACE)

    def _wait(self, condition, timeout: float | None) -> bool:
        """Wait until ``condition()`` holds, in short steps (Ctrl-C lands at once on every OS)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.changed:
            while not condition():
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                self.changed.wait(STEP)
        return True

    def _thread(self, target, name: str, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        return thread

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # -- one program ---------------------------------------------------------------------
    def _start(self, program: Program, *, after: Program | None) -> None:
        index = self.programs.index(program)
        program.first_after = () if after is None or after.release_seq is None else (after.release_seq,)
        environment = {**os.environ, "NARRATION_TOKEN": f"{self.secret}:{index}", "PYTHONIOENCODING": "utf-8"}
        if self.typed is not None:
            environment["NARRATION_LIVE"] = "1"        # shown as it happens: every report sent at once
        if self._typed_into(program):
            environment["NARRATION_TYPED"] = "1"       # its input() shows its prompt before the line is typed
        program.process = subprocess.Popen(
            [self.python, CHILD, str(self.listener.getsockname()[1]), *program.argv], cwd=self.cwd,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment)
        self._thread(self._feed, f"{program.name} stdin", program)
        self._thread(self._console, f"{program.name} output", program)
        self._thread(self._waiter, f"{program.name} exit", program)

    def _typed_into(self, program: Program) -> bool:
        return self.typed is not None and program is self.programs[-1]

    def _feed(self, program: Program) -> None:
        """Its --send lines on its stdin (then what a person types, for the last program with
        --interactive), then the end of input (as Ctrl-D would)."""
        from narration.errors import Stopped

        stdin = program.process.stdin
        with contextlib.suppress(OSError, Stopped):
            for line in program.lines:
                stdin.write(line.encode("utf-8") + b"\n")
            stdin.flush()
            if self._typed_into(program):
                for line in self.typed:
                    stdin.write(line.encode("utf-8") + b"\n")
                    stdin.flush()
        with contextlib.suppress(OSError):
            stdin.close()

    def _console(self, program: Program) -> None:
        """What reaches the process's own stdout or stderr, past the child's writers (an
        interpreter that cannot start, a C library's output): its lines, as its own."""
        from narration.events import Failure

        for raw in program.process.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.trace.record(Failure(program.name, text), thread=program.thread(999))

    def _waiter(self, program: Program) -> None:
        program.process.wait()
        program.exited.set()
        self._release(program)
        # A process that never reported (Python itself could not start) has its end said here;
        # one that did has it said once its last report is in.
        if program.reported.is_set() or not program.connected.wait(STOP_GRACE):
            self._ended(program)

    def _release(self, program: Program, seq: int | None = None) -> None:
        if not program.released.is_set():
            program.release_seq = seq if seq is not None else max(program.last_seq.values(), default=None)
            program.released.set()
        self._notify()

    def _stop(self, program: Program) -> None:
        if program.reports is not None:
            with contextlib.suppress(OSError):
                program.reports.sendall(b"stop\n")

    def _ended(self, program: Program) -> None:
        """How the program ended, after everything it did: its exit status, or that we ended it
        (once, as soon as it has exited and all its reports are in)."""
        with self.lock:
            if program.end_said:
                return
            program.end_said = True
        code = program.process.returncode
        if program.not_kept:
            calls = ", ".join(f"{kind} ×{count:,}" for kind, count in sorted(program.not_kept.items()))
            self.trace.record(Note(program.name, f"past its first {KEEP_AT_MOST:,} events, only counted: {calls}"),
                              thread=program.thread(0), after=tuple(sorted(program.last_seq.values())))
        if program.ended_by_us and self.interrupted:
            text = "ended: Ctrl-C stops every program"
        elif program.ended_by_us:
            text = f"did not stop within {STOP_GRACE:g} s of being told: ended"
        elif code is not None and code < 0:
            text = f"ended by signal {-code}"
        else:
            text = f"exited with status {code}" + (" (the status Ctrl-C gives)" if code == 130 else "")
        program.exit_seq = self.trace.record(Note(program.name, text), thread=program.thread(0),
                                             after=tuple(sorted(program.last_seq.values()))).seq
        self._notify()

    # -- reports -------------------------------------------------------------------------
    def _accept_reports(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return          # closed: the run is over
            self._thread(self._read_reports, "reports", connection)

    def _read_reports(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as stream:
            try:
                program = self._whose(stream.readline())
            except OSError:
                return
            if program is None:
                return          # not one of ours: never listened to
            program.reports = connection
            program.connected.set()
            state = _Reading()
            try:
                for line in stream:
                    try:
                        report = json.loads(line)
                        thread, kind, fields = report[1], report[2], report[3:]
                    except (ValueError, IndexError, TypeError, KeyError):
                        continue        # never evaluated: a line that does not parse is dropped
                    if isinstance(thread, int) and isinstance(kind, str):
                        self._take(program, state, thread, kind, fields)
            except OSError:
                pass
            finally:
                program.reported.set()
                self._release(program)
                if program.exited.is_set():
                    self._ended(program)

    def _whose(self, first_line: bytes) -> Program | None:
        """The program a report connection is from, by the token it was given; None if none."""
        secret, _, index = first_line.decode("ascii", "replace").strip().partition(":")
        if not _same(secret, self.secret) or not index.isdigit():
            return None
        return self.programs[int(index)] if int(index) < len(self.programs) else None

    def _take(self, program: Program, state: _Reading, number: int, kind: str, fields: list) -> None:
        if kind == "idle":          # its answer to "idle?" (see _quiet): no event
            with self.changed:
                program.idle = (bool(fields[0]), fields[1]) if len(fields) == 2 else (False, -1)
                self.changed.notify_all()
            return
        key = program.thread(number)
        if key not in self.trace.thread_rank:
            self.trace.thread_rank[key] = (self.trace.actor_rank[program.name], number)
        after: tuple = ()
        if key not in state.begun:
            state.begun.add(key)
            first = state.spawned.get(number) if number else program.first_after
            after = first if isinstance(first, tuple) else (first,) if first is not None else ()
        if kind == "thread":
            recorded = self.trace.record(Milestone(program.name, Step.THREAD_STARTED), thread=key, after=after)
            state.spawned[fields[0]] = recorded.seq
            program.last_seq[key] = recorded.seq
            return
        if kind == "exit":
            return
        if not after and self.typed is None and self.fold.take(key, kind, fields):
            return                  # one more call of a fold: no event of its own (see records.Fold)
        if kind in _DROPPABLE and program.kept >= KEEP_AT_MOST:
            program.not_kept[kind] = program.not_kept.get(kind, 0) + 1   # memory stays bounded
            return
        event = event_of(program.name, kind, fields)
        if event is None:
            return
        if kind == "stopped":
            after = after + self.trace.last_of_each_thread()
            if program.stopped_when_quiet:
                event = Note(program.name, QUIET_STOP)
        recorded = self.trace.record(event, thread=key, after=after)
        program.kept += 1
        self.fold.remember(key, recorded, kind, fields)
        program.last_seq[key] = recorded.seq
        if kind == "listen":
            program.listened = True
            self._release(program, recorded.seq)
        elif kind == "bind" and len(fields) > 2 and fields[2]:
            program.bound_datagrams = True
            self._release(program, recorded.seq)
        elif kind == "connect":
            self._release(program, recorded.seq)
        elif kind in ("sendto", "recvfrom") and program.first_datagram is None:
            program.first_datagram = kind


def _same(given: str, secret: str) -> bool:
    """The token compared in the same time whatever it is (secrets.compare_digest without
    importing hashlib at start-up)."""
    return len(given) == len(secret) and not sum(ord(a) ^ ord(b) for a, b in zip(given, secret))


def datagrams_after_their_sending(records: list) -> list:
    """The records in an order where each ``recvfrom`` comes after the ``sendto`` that sent its
    datagram (what ``narration.order.datagrams`` pairs them by), each thread's own order kept.

    Programs report in batches, so the narrator may hear of a datagram's arrival before its
    sending; TCP needs no such care (a recv finds its send by the bytes' place in the stream).
    """
    def flow(event) -> tuple:
        return (event.local[1], event.peer[1]) if event.call == "sendto" else (event.peer[1], event.local[1])

    datagram = [r for r in records if r.event.call in ("sendto", "recvfrom") and r.event.local and r.event.peer]
    if not any(r.event.call == "recvfrom" for r in datagram):
        return records
    will_send: dict[tuple, int] = {}
    for record in datagram:
        if record.event.call == "sendto":
            will_send[flow(record.event)] = will_send.get(flow(record.event), 0) + 1
    sent: dict[tuple, int] = {}
    received: dict[tuple, int] = {}
    queues: dict[str, list] = {}
    for record in records:
        queues.setdefault(record.thread, []).append(record)
    heads = {thread: 0 for thread in queues}
    result = []

    def ready(record) -> bool:
        event = record.event
        if event.call != "recvfrom" or not event.local or not event.peer:
            return True
        key = flow(event)
        return sent.get(key, 0) > received.get(key, 0) or will_send.get(key, 0) <= received.get(key, 0)

    while len(result) < len(records):
        waiting = [queues[t][heads[t]] for t in queues if heads[t] < len(queues[t])]
        chosen = min((r for r in waiting if ready(r)), key=lambda r: r.seq, default=None) \
            or min(waiting, key=lambda r: r.seq)
        heads[chosen.thread] += 1
        result.append(chosen)
        event = chosen.event
        if event.call in ("sendto", "recvfrom") and event.local and event.peer:
            counts = sent if event.call == "sendto" else received
            counts[flow(event)] = counts.get(flow(event), 0) + 1
    return result


def ends_at_exit(records: list, exits: dict[str, int]) -> None:
    """A recv that returned b'' because the peer program exited without close() (its OS closed
    the socket) comes after that program's end: the causal edge no close() event gives."""
    owner: dict[tuple, str] = {}
    closed: set[tuple] = set()
    for record in records:
        event = record.event
        if event.call in ("connect", "accept") and event.local:
            owner[tuple(event.local)] = event.actor
        elif event.call in ("close", "shutdown") and event.local and event.peer:
            closed.add((tuple(event.local), tuple(event.peer)))
    for record in records:
        event = record.event
        if event.call == "recv" and not event.size and event.local and event.peer:
            back = (tuple(event.peer), tuple(event.local))
            peer = owner.get(back[0])
            if back not in closed and peer in exits and peer != event.actor:
                record.after = (*record.after, exits[peer])


class _Reading:
    """What reading one program's reports remembers: threads seen, and where each was started."""

    def __init__(self) -> None:
        self.begun: set[str] = set()
        self.spawned: dict[int, int] = {}


def play(run, programs: list[Program], *, cwd=None, typed=None) -> None:
    """Run ``programs`` under narration to the end (see the module docstring); ``typed``: lines a
    person types, for the last program's stdin after its --send lines."""
    Session(run, programs, cwd=cwd, typed=typed).play()
