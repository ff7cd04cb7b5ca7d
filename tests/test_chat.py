"""chat over real loopback sockets: the scripted scene, netcat users, limits, resets, and shutdown."""
from __future__ import annotations

import functools
import socket
import struct
import subprocess
import time

import conftest
import pytest
from conftest import run_mode, same_run, shown

from modes import chat
from narration.run import Run
from narration.scene import Scene, perform


class Peer:
    """A plain TCP chat user, as netcat would be: reads whole lines, with a timeout, never a sleep."""

    def __init__(self, address, *, receive_buffer: int | None = None) -> None:
        self.sock = socket.socket()
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(5)
        self.sock.connect(address)
        self.pending = b""
        self.welcome = self.line()

    def send(self, text: str | bytes) -> None:
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def line(self) -> str:
        while b"\n" not in self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(f"closed; unfinished: {self.pending!r}")
            self.pending += data
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode()

    def until(self, wanted: str) -> list[str]:
        """Lines up to and including the first one containing ``wanted``."""
        seen = [self.line()]
        while wanted not in seen[-1]:
            seen.append(self.line())
        return seen

    def closed(self) -> bool:
        """True once the server has closed this connection (after any lines still unread)."""
        rest = self.sock.recv(65536)
        self.pending += rest
        return rest == b""

    def rest(self) -> list[str]:
        """The whole lines still to come until the server closes this connection (EOF, within the
        socket's timeout); an unfinished line at the end fails."""
        lines = []
        while True:
            try:
                lines.append(self.line())
            except EOFError:
                assert not self.pending, f"closed mid-line: {self.pending!r}"
                return lines

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def chat_server():
    """Start the chat server in this process, with optional limits; it is stopped afterwards."""
    runs: list[Run] = []

    def start(**limits):
        run = Run()
        me = run.actor("server")
        run.start(me, functools.partial(chat.server, **limits), me, ("127.0.0.1", 0), run.ready)
        runs.append(run)
        return run, run.ready.wait(5)

    yield start
    for run in runs:
        run.finish()


# -- the scripted scene ---------------------------------------------------------------------------
def heard(run: Run, actor: str) -> list[str]:
    """The lines an actor's socket received, in order (scripted readers show them as recv only)."""
    data = b"".join(e.data for e in shown(run) if e.actor == actor and e.call == "recv")
    return data.decode().splitlines()


def test_the_scene_names_talks_whispers_splits_into_a_room_and_everyone_leaves():
    run = run_mode("chat")
    alice, bob, carol = heard(run, "alice"), heard(run, "bob"), heard(run, "carol")
    assert alice[:2] == ["* welcome, guest-1! try /help", "* you are now alice"]
    assert alice[2:4] == ["* guest-2 joined #lobby", "* guest-2 is now bob"]
    assert "* bob went to #lab" in alice and "* you are in #lab with nobody else" in bob
    assert "alice: hi all" in carol and "alice: hi all" not in bob      # bob was in #lab by then
    assert alice[-1] == "[dm] carol: lab at 3?" and not any("[dm]" in line for line in bob + carol)
    assert carol[-1] == "* alice left"                                   # bob left #lab: nobody to tell
    closes = [e for e in shown(run) if e.call == "close" and e.actor == "server" and e.peer]
    assert [e.peer for e in closes] == [next(c.local for c in shown(run) if c.actor == name and c.call == "connect")
                                        for name in ("bob", "alice", "carol")]   # one by one, after /quit
    assert not run.failures and not run.live_threads()


def test_the_server_lane_shows_every_byte_in_and_out():
    events = shown(run_mode("chat"))
    server_calls = {event.call for event in events if event.actor == "server"}
    assert {"socket", "setsockopt", "bind", "listen", "accept", "recv", "send", "close"} <= server_calls
    sent_by_people = sum(e.size for e in events if e.actor != "server" and e.call == "sendall")
    received_by_server = sum(e.size for e in events if e.actor == "server" and e.call == "recv")
    assert sent_by_people == received_by_server
    sent_by_server = sum(e.size for e in events if e.actor == "server" and e.call == "send")
    received_by_people = sum(e.size for e in events if e.actor != "server" and e.call == "recv")
    assert sent_by_server == received_by_people


def test_the_same_scene_gives_the_same_order_every_time():
    first = same_run(run_mode("chat"))
    for _ in range(4):
        assert same_run(run_mode("chat")) == first


def test_send_gives_alices_lines_and_she_leaves_when_they_run_out():
    run = run_mode("chat", ["hello from the command line"])
    assert heard(run, "alice")[1] == "* nobody else is in #lobby to hear that"   # she spoke first
    assert "* guest-1 left (connection closed)" in heard(run, "carol")   # her turn came again: no lines
    assert not run.failures and not run.live_threads()


def test_a_person_typing_joins_the_scripted_others():
    def typed():                            # a person's lines arrive one by one, as they type them
        yield "/name zed"
        yield "/quit"

    run = Run()
    me = run.actor("server")
    run.start(me, chat.server, me, ("127.0.0.1", 0), run.ready)
    live = chat.LIVE_SCENE
    scene = Scene(parts=live.parts, turns=live.turns, pace=0.01)   # the live scene, without pauses for eyes
    perform(run, scene, chat.client, run.ready.wait(5), typed(), person=scene.first)   # as --interactive does
    run.finish()
    shown_to_person = heard(run, "you")     # what the person's socket received (its recv events show it)
    assert shown_to_person[0].startswith("* welcome, guest-") and "* you are now zed" in shown_to_person
    assert heard(run, "bob")[0].startswith("* welcome, guest-")
    assert not run.failures and not run.live_threads()


# -- the protocol over plain sockets ----------------------------------------------------------------
def test_every_line_gets_the_prefix_and_a_partial_line_waits_for_its_end(chat_server):
    run, address = chat_server(pause=60)           # a pause long enough never to end "hel" here
    ada, bob = Peer(address), Peer(address)
    assert ada.line() == "* guest-2 joined #lobby"
    ada.send("a\nb\r\nc\n")                       # three lines in one send: three prefixes
    assert [bob.line() for _ in range(3)] == ["guest-1: a", "guest-1: b", "guest-1: c"]
    ada.send("hel")
    conftest.received(run.trace, ada.sock.getsockname(), b"hel")   # the server's recv() returned "hel"
    ada.send("lo\n")                               # the server held "hel" until the line ended
    assert bob.line() == "guest-1: hello"


def test_names_list_direct_messages_and_rooms_over_the_wire(chat_server):
    _, address = chat_server()
    ada, bob, cy = Peer(address), Peer(address), Peer(address)
    ada.send("/name ada\n")
    assert ada.until("you are now")[-1] == "* you are now ada"
    bob.send("/name ada\n")
    assert bob.until("error")[-1] == "error: the name ada is taken; choose another"
    bob.send("/name b o b\n")
    assert bob.until("error")[-1].startswith("error: a name is letters and digits")
    bob.send("/name bob\n")
    bob.until("you are now bob")
    cy.send("/list\n")
    assert cy.until("in #lobby")[-1] == "* in #lobby: ada, bob, guest-3 (you)"
    cy.send("/msg ada only for you\n")
    assert ada.until("[dm]")[-1] == "[dm] guest-3: only for you"
    ada.send("/join #lab\n")
    assert ada.until("you are in")[-1] == "* you are in #lab with nobody else"
    assert bob.until("went to")[-1] == "* ada went to #lab"
    bob.send("lobby talk\n")
    assert cy.until("lobby talk")[-1] == "bob: lobby talk"
    cy.send("/rooms\n")
    assert cy.until("rooms:")[-1].startswith("* rooms: #lab (1), #lobby (2)")
    ada.send("/help\n")
    assert ada.until("commands")[-1].startswith("* commands: /name NAME, /list, /msg NAME TEXT")
    ada.send("/frobnicate\n")
    assert ada.until("unknown")[-1].startswith("* unknown command /frobnicate; commands:")
    ada.send("/quit\n")
    assert ada.closed()
    bob.send("still here\n")                     # ada had left #lab: the lobby is unaffected
    assert cy.until("still here")[-1] == "bob: still here"


def test_real_netcat_users_chat_with_each_other(chat_server, netcat):
    _, address = chat_server()
    host, port = address
    watcher = Peer(address)
    users = []
    try:
        for number in (2, 3):                           # one after the other: guest-2, then guest-3
            users.append(subprocess.Popen([netcat, host, str(port)], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE))
            assert watcher.line() == f"* guest-{number} joined #lobby"
        users[0].stdin.write(b"/name nc_one\nhello from netcat\n")
        users[0].stdin.flush()
        assert watcher.until("hello")[-2:] == ["* guest-2 is now nc_one", "nc_one: hello from netcat"]
        users[1].stdin.write(b"/quit\n")
        users[1].stdin.flush()
        assert watcher.line() == "* guest-3 left"
        out, _ = users[1].communicate(timeout=5)        # nc ends when the server closes
        lines = out.decode().splitlines()
        assert lines[0].startswith("* welcome, guest-3!")
        assert lines[1:] == ["* guest-2 is now nc_one", "nc_one: hello from netcat"]
        users[0].terminate()                            # a student's Ctrl-C: nc exits, its socket closes
        users[0].wait(timeout=5)                        # (a reset, if a line was still unread)
        assert watcher.line() in ("* nc_one left (connection closed)", "* nc_one left (connection reset)")
    finally:
        for user in users:
            if user.poll() is None:
                user.kill()
                user.wait()


def test_twenty_clients_hear_everyone_in_order_with_nothing_lost(chat_server):
    _, address = chat_server()
    people = [Peer(address) for _ in range(20)]
    for index, person in enumerate(people):
        person.until(f"guest-{len(people)} joined") if index < len(people) - 1 else None
    for round_number in range(5):
        for index, person in enumerate(people):
            person.send(f"{index}:{round_number}\n")
    for index, person in enumerate(people):
        heard: dict[str, list[int]] = {}
        for _ in range(5 * (len(people) - 1)):
            name, text = person.line().split(": ")
            sender, round_number = text.split(":")
            heard.setdefault(sender, []).append(int(round_number))
            assert name == f"guest-{int(sender) + 1}"
        assert str(index) not in heard
        assert heard == {str(other): list(range(5)) for other in range(len(people)) if other != index}


# -- limits and faults ----------------------------------------------------------------------------
def test_a_line_over_64_kib_gets_an_error_and_is_dropped(chat_server):
    _, address = chat_server()
    ada, bob = Peer(address), Peer(address)
    ada.send(b"x" * (70 * 1024) + b"\nshort\n")
    assert ada.until("error")[-1].startswith("error: line too long (71680 bytes; the limit is 65536)")
    assert bob.line() == "guest-1: short"


def test_beyond_the_maximum_a_newcomer_is_refused_politely(chat_server):
    _, address = chat_server(max_clients=2)
    first, second = Peer(address), Peer(address)
    third = Peer(address)
    assert third.welcome == "* sorry, the chat is full (the limit is 2); try later"
    assert third.closed()
    second.close()
    assert first.until("left")[-1] == "* guest-2 left (connection closed)"
    assert Peer(address).welcome.startswith("* welcome, guest-3!")   # a place is free again


def test_a_client_that_stops_reading_is_dropped_and_nobody_else_waits(chat_server):
    _, address = chat_server(outbox_limit=64 * 1024)
    watcher = Peer(address)
    stuck = Peer(address, receive_buffer=4096)     # connects, then never reads again
    talkers = [Peer(address) for _ in range(8)]    # each within its flood allowance (100 at once)
    watcher.until("guest-10 joined")
    line = "y" * 8000                              # about the longest line the chat relays
    for count in range(800):                       # bounded: ~6 MB at most; a few MB suffice
        talker = talkers[count % len(talkers)]
        talker.send(line + "\n")
        heard = watcher.line()
        if heard.startswith("* guest-2 left"):
            break
        assert heard == f"guest-{count % len(talkers) + 3}: {line}"   # the lines kept flowing meanwhile
    assert heard.startswith("* guest-2 left (not reading:")
    talker.send("after\n")
    assert set(watcher.until("after")) <= {f"guest-{n}: {line}" for n in range(3, 11)} | {
        f"guest-{count % len(talkers) + 3}: after"}                   # one may be in flight
    stuck.close()


def test_a_client_that_resets_is_removed_and_announced(chat_server):
    _, address = chat_server()
    watcher, rude = Peer(address), Peer(address)
    rude.send("half a li")
    rude.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rude.close()                                    # SO_LINGER 0: close() sends RST
    assert watcher.until("left")[-1] == "* guest-2 left (connection reset)"
    watcher.send("anyone?\n")
    assert watcher.line() == "* nobody else is in #lobby to hear that"


def test_stopping_the_run_says_goodbye_and_closes_everyone():
    run = Run()
    me = run.actor("server")
    thread = run.start(me, chat.server, me, ("127.0.0.1", 0), run.ready)
    address = run.ready.wait(5)
    people = [Peer(address) for _ in range(3)]
    people[0].until("guest-3 joined")
    run.wait_until_quiet(5)      # idle in a select() with no timeout: only a socket can wake it now
    started = time.monotonic()
    run.finish(timeout=5.0)                         # what the launcher does at the end of a run
    assert time.monotonic() - started < 1.0         # the listener's shutdown woke select(), no 5 s wait
    assert not thread.is_alive()
    for person in people:
        assert person.until("closing")[-1] == "* the server is closing; goodbye" and person.closed()


def test_ctrl_c_stop_ends_the_server_loop_at_once():
    run = Run()
    me = run.actor("server")
    thread = run.start(me, chat.server, me, ("127.0.0.1", 0), run.ready)
    person = Peer(run.ready.wait(5))
    run.wait_until_quiet(5)      # idle in a select() with no timeout: only a socket can wake it now
    run.stop(timeout=1.0)                           # what the launcher does on Ctrl-C: abort every socket
    assert not thread.is_alive()                    # poll() reports the aborted sockets: no timeout waited
    # Its connection is closed. The goodbye is a courtesy the loop may send as it ends, racing stop()'s
    # aborts (the close is what matters, see Clients.close_all): so at most that line comes first.
    assert person.rest() in ([], ["* the server is closing; goodbye"])
