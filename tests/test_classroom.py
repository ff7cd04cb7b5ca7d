"""A classroom server no student can take down (issue 12), over real loopback sockets.

Each test is one misbehaving peer (or a crowd), and the same question after it: does the server
still serve an ordinary client, and did it drop nobody else?  Bounded in time and count.
"""
from __future__ import annotations

import functools
import os
import select
import socket
import struct
import threading

import pytest
from conftest import closed, received, recv_line, run_mode
from test_hostile import ORDINARY

import modes
from modes._chat_rules import FLOOD_BURST
from modes._pairing import INBOX_LINES
from modes.number_add import answer
from narration import events as ev
from narration.run import Run


class Person:
    """A netcat-like chat participant: reads whole lines, with a timeout that fails the test."""

    def __init__(self, address, *, receive_buffer: int | None = None) -> None:
        self.sock = socket.socket()
        if receive_buffer:                           # set before connect: the window it advertises
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect(address)
        self.pending = b""

    def line(self) -> str:
        while b"\n" not in self.pending:
            data = self.sock.recv(65536)
            assert data, f"the server closed; had {self.pending[-200:]!r}"
            self.pending += data
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode()

    def until(self, text: str, *, limit: int = 40_000) -> list[str]:
        """Every line up to and including the first containing ``text`` (bounded in count)."""
        lines = []
        while len(lines) < limit:
            lines.append(self.line())
            if text in lines[-1]:
                return lines
        raise AssertionError(f"{text!r} not among {limit} lines")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


def server_end(client: socket.socket) -> socket.socket:
    """The server's own end of ``client``'s connection (the server runs in this process): its
    descriptor, duplicated from /proc/self/fd, so that a test can set a real option on it."""
    wanted = (client.getpeername(), client.getsockname())
    for name in os.listdir("/proc/self/fd"):
        try:
            fd = os.dup(int(name))
        except OSError:
            continue
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            os.close(fd)
            continue
        try:
            if (sock.getsockname(), sock.getpeername()) == wanted:
                return sock
        except OSError:
            pass
        sock.close()
    raise AssertionError("the server's end of that connection is not in this process")


# -- chat -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("keep", [True, False], ids=["events kept", "nothing kept"])
def test_a_send_nobody_records_fails_as_a_recorded_one_does(keep):
    """A class's server keeps no events, and its non-blocking send() then skips the record (chat's
    fan-out makes a thousand a line): a peer's reset still raises, and is said once, as ever."""
    run = Run(keep=keep)
    me = run.actor("server")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        sock = me.socket()
        sock.connect(listener.getsockname())
        peer, _ = listener.accept()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()                                     # SO_LINGER 0: close() sends RST
    sock.setblocking(False)
    assert select.select([sock], [], [], 5)[0]       # the reset has arrived: readable
    assert not run.trace.listeners
    with pytest.raises(ConnectionError) as failed:
        sock.send(b"anyone there?\n")
    assert failed.value.narrated                     # said where it happened
    if keep:
        assert any(isinstance(recorded.event, ev.Failure) for recorded in run.trace.events)
    sock.close()
    run.finish()


@pytest.mark.parametrize("keep", [True, False], ids=["events kept", "nothing kept"])
def test_chat_drops_only_a_laptop_that_left_the_network(serve, keep):
    """Data in flight to a peer that no longer answers ends in ETIMEDOUT (a TimeoutError, not a
    ConnectionError): that connection is dropped, the room told why, and the server goes on.  With
    nothing kept (a class's long-lived server), send() takes its short way: the same end."""
    server = serve("chat", keep=keep)
    vanished = Person(server.address, receive_buffer=1024)     # guest-1: never reads again
    watcher, talker = Person(server.address), Person(server.address)
    watcher.until("guest-3 joined")
    end = server_end(vanished.sock)
    with end:   # what a vanished laptop looks like from here, made quick: unacknowledged for 0.2 s
        end.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 200)
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    for _ in range(40):                                          # ~80 KB for guest-1: its window closes
        talker.send(b"z" * 2000 + b"\n")
    heard = watcher.until("guest-1 left")
    assert heard[-1] == "* guest-1 left (connection timed out)"
    assert set(heard[:-1]) == {"guest-3: " + "z" * 2000}                 # the watcher missed nothing
    ORDINARY["chat"](server.address)
    talker.send(b"still here\n")
    assert watcher.until("still here")[-1] == "guest-3: still here"
    vanished.sock.close()


def test_chat_memory_holds_against_long_control_byte_lines(serve):
    """Each 65 KB line of control bytes would be 260 KB once spelled out, for every listener: it
    is refused before any copy, and nobody, fast reader or not, is dropped."""
    server = serve("chat")
    people = [Person(server.address) for _ in range(10)]
    people[0].until("guest-10 joined")
    for person in people:
        person.send(b"\x01" * 65_000 + b"\n")
    for person in people:
        heard = person.until("error: ")
        assert heard[-1] == ("error: line too long to relay (260000 characters once made visible;"
                             " the limit is 8192)")
        assert not any(" left " in line for line in heard)
    for person in people:
        person.send(b"/list\n")
        assert "(you)" in person.until("* in #lobby: ")[-1]


def test_chat_a_flooder_gets_its_turn_and_no_more(serve):
    """64 KiB of "a\\n" in one send is 32,768 lines: an ordinary line sent meanwhile reaches every
    listener after at most the flooder's allowance of lines, not after all of them."""
    server = serve("chat")
    listeners = [Person(server.address) for _ in range(5)]
    flooder, ordinary = Person(server.address), Person(server.address)
    listeners[0].until("guest-7 joined")
    flooder.send(b"a\n" * 32_768)
    received(server.run.trace, flooder.sock.getsockname())      # the server has read the flood
    ordinary.send(b"ordinary\n")
    for listener in listeners:
        heard = listener.until("guest-7: ordinary")
        floods = [line for line in heard if line == "guest-6: a"]
        assert len(floods) < FLOOD_BURST * 2, f"{len(floods)} flood lines went first"


# -- every mode ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [name for name in modes.names()
                                  if getattr(modes.load(name), "TRANSPORT", "tcp") == "tcp"])   # UDP never listens
def test_every_server_listens_with_a_classroom_sized_backlog(mode):
    """listen() with no size queues 16: in a burst of 60 connects, 42 waited a second (a SYN
    retry).  Every server asks for room for a class connecting at once."""
    run = run_mode(mode)
    backlogs = [record.event.backlog for record in run.trace.events if isinstance(record.event, ev.Listen)]
    assert backlogs and min(backlogs) >= 128


# -- pair modes ---------------------------------------------------------------------------------------
def test_relay_drops_a_partner_that_never_reads_and_serves_the_next_pair(serve):
    """The host must never wait in sendall for one client: a partner whose buffers are full is hung
    up on, the other told so, a newcomer meanwhile told the session is full, the next pair served."""
    server = serve("relay")
    x = socket.create_connection(server.address, timeout=10)
    y = socket.socket()
    y.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)      # and never reads
    y.connect(server.address)
    with x, y, x.makefile("rb") as x_lines:
        assert x_lines.readline() == b"Client X has connected.\n"
        with server_end(y) as end:                               # a small buffer: full sooner
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        for _ in range(60):                                      # ~60 KB relayed to both
            x.sendall(b"z" * 1000 + b"\n")
        with socket.create_connection(server.address, timeout=10) as late:
            assert recv_line(late).startswith(b"error: the session is full")
        heard = x_lines.readline()
        while heard == b"X: " + b"z" * 1000 + b"\n":
            heard = x_lines.readline()
        assert heard == b"Client Y left: the chat is over\n"
        pair = (x.getsockname(), y.getsockname())
    for address in pair:                                         # the host has closed both: the next pair
        closed(server.run.trace, address)
    ORDINARY["relay"](server.address)


def read_to_the_end(lines, over: threading.Event) -> None:
    while lines.readline():
        pass
    over.set()


def test_relay_a_partner_still_sending_as_the_chat_ends_is_told_at_once(serve):
    """X floods while Y never reads: once the host hangs up, X's blocked sendall must fail at once.
    A plain close() after the drain left X probing a zero window for up to 10 s (TCP's persist
    timer), in about one run in three; so three pairs, each with a 4 s limit on X's sendall."""
    server = serve("relay")
    for _ in range(3):
        x = socket.create_connection(server.address, timeout=4)
        y = socket.create_connection(server.address, timeout=4)        # never reads
        with x, y, x.makefile("rb") as x_lines:
            assert x_lines.readline() == b"Client X has connected.\n"
            over = threading.Event()
            reader = threading.Thread(target=read_to_the_end, args=(x_lines, over))
            reader.start()
            try:
                for _ in range(100_000):                                # bounded: ~100 MB at most
                    if over.is_set():
                        break
                    x.sendall(b"z" * 1000 + b"\n")
            except TimeoutError:
                pytest.fail("X's sendall waited 4 s on a connection the server had closed")
            except OSError:
                pass                                                    # reset: told at once
            reader.join(10)
            assert over.is_set()
            pair = (x.getsockname(), y.getsockname())
        for address in pair:                       # the host has closed both: the next pair is a pair
            closed(server.run.trace, address)
    ORDINARY["relay"](server.address)


def test_a_paste_waits_in_tcp_not_in_the_servers_inbox(serve):
    """A client pasting lines while it waits for a partner: its reader puts at most INBOX_LINES of
    them in the inbox before the host has taken them (an unbounded inbox grew without limit)."""
    server = serve("ordering")
    with socket.create_connection(server.address, timeout=10) as x, x.makefile("rb") as lines:
        x.sendall(b"a\n" * 1000)
        for _ in range(1000):                                    # one "please wait" each
            assert lines.readline().startswith(b"error: please wait")
        gone = x.getsockname()
    closed(server.run.trace, gone)                               # the host has let it go
    outstanding = deepest = 0
    for record in list(server.run.trace.events):
        if isinstance(record.event, ev.Milestone) and record.event.step in (ev.Step.PUT, ev.Step.GOT):
            outstanding += 1 if record.event.step is ev.Step.PUT else -1
            deepest = max(deepest, outstanding)
    assert deepest <= INBOX_LINES + 2                            # + the arrival, + the reader's last word
    ORDINARY["ordering"](server.address)


# -- number-add ---------------------------------------------------------------------------------------
def test_number_add_answers_out_of_range_numbers_when_the_teacher_keeps_it_serving():
    assert answer("Client of Cy: 250").keep_serving is False                # the seed's rule stays the default
    kept = answer("Client of Cy: 250", keep_serving=True)
    assert kept == type(kept)("Server of Demo: 42; Client of Cy: 250; Combined: 292;"
                              " 250 is outside 1..100 (the server keeps serving)")
    run = Run()
    me = run.actor("server")
    run.start(me, functools.partial(modes.load("number-add").server, keep_serving=True), me,
              ("127.0.0.1", 0), run.ready)
    try:
        address = run.ready.wait(5)
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(b"Client of Cy: 250\n")
            assert recv_line(sock).endswith(b"(the server keeps serving)\n")
        ORDINARY["number-add"](address)
    finally:
        run.stop()


@pytest.mark.posix
def test_out_of_file_descriptors_the_newest_is_told_and_the_server_recovers():
    """At a limit of 64 open files, 80 connections: the ones past the limit are told to try later
    (once in the log), nothing spins or dies, and once they close an ordinary client is served."""
    import re
    import resource
    import subprocess
    import sys

    from conftest import ROOT

    def small_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    server = subprocess.Popen([sys.executable, "-u", str(ROOT / "demo.py"), "--mode", "echo", "--role", "server",
                               "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=small_limit, env={**__import__("os").environ, "COLUMNS": "200"})
    try:
        seen = b""
        while not re.search(rb"waiting for connections on \S+:(\d+)", seen):
            seen += server.stdout.read1(4096)
        port = int(re.search(rb"waiting for connections on \S+:(\d+)", seen).group(1))
        crowd, told = [], 0
        for _ in range(80):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            crowd.append(sock)
        import select
        import time
        deadline = time.monotonic() + 5
        answered: set = set()
        while len(answered) < 10 and time.monotonic() < deadline:   # the accepted ones wait for a line
            readable, _, _ = select.select([sock for sock in crowd if sock not in answered], [], [], 0.5)
            for sock in readable:
                answered.add(sock)
                told += sock.recv(200).startswith(b"error: the server has too many connections")
        assert told >= 10                              # everyone past the limit heard why
        for sock in crowd:
            sock.close()
        replies = []
        while time.monotonic() < deadline + 5:         # its threads close those: then it serves again
            with socket.create_connection(("127.0.0.1", port), timeout=5) as student:
                student.sendall(b"still there?\n")
                replies.append(recv_line(student))
            if replies[-1].startswith(b"ECHO: still there?"):
                break
        assert replies[-1].startswith(b"ECHO: still there?"), replies[-3:]
        assert server.poll() is None                   # still serving
    finally:
        server.send_signal(2)
        out, err = server.communicate(timeout=10)
    log = (seen + out).decode(errors="replace")
    assert log.count("out of file descriptors") == 1 and "Traceback" not in err.decode()
