"""ordering: the pure rules, the scripted run both ways round, and every fault over real sockets."""
from __future__ import annotations

import socket
import subprocess

import pytest
from conftest import Peer, outline, run_demo, said, server_said, shown

import modes
from modes._narrate import Run
from modes.ordering import arrival_note, received_before


def play_ordering(first: str, lines=None) -> Run:
    """One whole one-process run, with `first` sending first (the launcher's play, plus `first`)."""
    mode = modes.load("ordering")
    run = Run()
    server = run.actor("server")
    run.start(server, mode.server, server, ("127.0.0.1", 0), run.ready)
    address = run.ready.wait(5)
    mode.play(run, address, mode.SCRIPT if lines is None else lines, first=first)
    run.finish()
    return run


# -- pure rules --------------------------------------------------------------------------------
def test_the_result_line_names_the_first_arrival_first():
    assert received_before(("Y", "b"), ("X", "a")) == "Y: b received before X: a"
    assert received_before(("X", "hello there"), ("Y", "hi")) == "X: hello there received before Y: hi"


def test_the_note_points_out_when_the_second_connection_sent_first():
    assert "connected second" in arrival_note("Y")
    assert "connected second" not in arrival_note("X")


# -- the scripted run --------------------------------------------------------------------------
def test_the_default_run_follows_the_seed_and_y_arrives_first():
    run = play_ordering("Y")
    assert said(run, "server") == [
        "The server is waiting to receive two connections....",
        "Accepted first connection, calling it client X",
        "Accepted second connection, calling it client Y",
        "Waiting to receive messages from client X and client Y....",
        "Done.",
        "The server is waiting to receive two connections....",   # ready for the next pair
    ]
    result = "Y: I sent first received before X: I connected first"
    assert said(run, "client X") == ["Client X has connected.", result]
    assert said(run, "client Y") == ["Client Y has connected.", result]
    assert not run.failures and not run.live_threads()


def test_when_x_sends_first_x_is_named_first():
    run = play_ordering("X")
    assert said(run, "client Y")[-1] == "X: I connected first received before Y: I sent first"


def test_the_launcher_runs_the_default_order():
    from conftest import run_mode
    assert said(run_mode("ordering"), "client X")[-1].startswith("Y: I sent first received before X:")


@pytest.mark.parametrize("first", ["X", "Y"])
def test_the_same_run_gives_the_same_order_every_time(first):
    reference = outline(play_ordering(first))
    for _ in range(4):
        assert outline(play_ordering(first)) == reference


def test_the_server_accepts_both_before_it_confirms_either():
    events = shown(play_ordering("Y"))
    server_calls = [e.call for e in events if e.actor == "server" and e.call in ("accept", "sendall")]
    assert server_calls[:4] == ["accept", "accept", "sendall", "sendall"]
    position = {e.seq: i for i, e in enumerate(events)}
    first_send = min(position[e.seq] for e in events if e.actor.startswith("client") and e.call == "sendall")
    confirmations = [position[e.seq] for e in events if e.call == "recv" and e.data
                     and e.data.endswith(b"has connected.\n")]
    assert len(confirmations) == 2 and max(confirmations) < first_send


def test_a_person_typing_as_x_sees_y_arrive_first():
    result = run_demo("--mode", "ordering", "--interactive", input="typed by hand\n")
    assert result.returncode == 0, result.stderr
    assert "Y: I sent first received before X: typed by hand" in result.stdout


# -- real clients of every kind ----------------------------------------------------------------
@pytest.mark.parametrize("first, later", [("X", "Y"), ("Y", "X")])
def test_textbook_clients_hear_the_order_of_arrival(serve, first, later):
    server = serve("ordering")
    with server.connect() as x, server.connect() as y:    # connected in this order: X, then Y
        peers = {"X": x, "Y": y}
        assert x.recv(1024) == b"Client X has connected.\n"
        assert y.recv(1024) == b"Client Y has connected.\n"
        peers[first].send(f"from {first}".encode())      # one send, no newline, as in homework
        server.run.wait_for(lambda e: e.call == "note" and e.detail == arrival_note(first), actor="test")
        peers[later].send(f"from {later}".encode())
        expected = f"{first}: from {first} received before {later}: from {later}\n".encode()
        assert x.recv(1024) == expected
        assert y.recv(1024) == expected
        assert x.recv(1024) == b"" and y.recv(1024) == b""   # then the server closes both
    server_said(server, "Done.")


def test_two_netcat_users(serve, netcat):
    server = serve("ordering")
    host, port = server.address
    users = []
    try:
        for name in ("X", "Y"):
            users.append(subprocess.Popen([netcat, host, str(port)], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE))
            server_said(server, f"Accepted {'first' if name == 'X' else 'second'} connection, "
                                f"calling it client {name}")
        x, y = users
        assert x.stdout.readline() == b"Client X has connected.\n"
        assert y.stdout.readline() == b"Client Y has connected.\n"
        y.stdin.write(b"typed in netcat\n")
        y.stdin.flush()
        server.run.wait_for(lambda e: e.call == "note" and e.detail == arrival_note("Y"), actor="test")
        x.stdin.write(b"me too\n")
        x.stdin.flush()
        expected = b"Y: typed in netcat received before X: me too\n"
        assert x.stdout.readline() == expected and y.stdout.readline() == expected
        for user in users:
            user.stdin.close()
            assert user.wait(5) == 0
    finally:
        for user in users:
            user.kill()
            user.wait()
            user.stdout.close()


# -- faults ------------------------------------------------------------------------------------
def test_a_client_who_leaves_while_waiting_is_replaced(serve):
    server = serve("ordering")
    quitter = Peer(server)
    server_said(server, "Accepted first connection, calling it client X")
    quitter.close()
    gone = server_said(server, "Client X disconnected while waiting for a partner; waiting for a replacement")
    x = Peer(server)
    server_said(server, "Accepted first connection, calling it client X", after=gone.seq)
    y = Peer(server)
    assert x.line() == b"Client X has connected.\n"
    assert y.line() == b"Client Y has connected.\n"
    x.send(b"replacement\n")
    server.run.wait_for(lambda e: e.call == "note" and e.detail == arrival_note("X"), actor="test")
    y.send(b"partner\n")
    assert x.line() == y.line() == b"X: replacement received before Y: partner\n"
    x.close()
    y.close()


def test_a_third_client_is_told_the_session_is_full_and_the_two_carry_on(serve):
    server = serve("ordering")
    x, y = Peer(server), Peer(server)
    assert x.line() == b"Client X has connected.\n" and y.line() == b"Client Y has connected.\n"
    third = Peer(server)
    assert third.line() == b"error: the session is full (two clients are talking); try again later\n"
    assert third.line() == b""                           # and closed
    third.close()
    x.send(b"one\n")
    server.run.wait_for(lambda e: e.call == "note" and e.detail == arrival_note("X"), actor="test")
    y.send(b"two\n")
    assert x.line() == y.line() == b"X: one received before Y: two\n"
    x.close()
    y.close()


def test_bad_lines_get_clear_answers_and_do_not_count(serve):
    server = serve("ordering")
    x = Peer(server)
    x.send(b"too soon\n")
    assert x.line() == b"error: please wait: the server confirms you once a second client has connected\n"
    y = Peer(server)
    assert x.line() == b"Client X has connected.\n" and y.line() == b"Client Y has connected.\n"
    x.send(b"\n")
    assert x.line() == b"error: empty line; type some text\n"
    x.send(b"\xff\xfe\n")
    assert x.line() == b"error: that was not UTF-8 text\n"
    x.send(b"x" * (70 * 1024) + b"\n")
    assert x.line().startswith(b"error: line too long (71680 bytes")
    x.send(b"first real one\n")
    server.run.wait_for(lambda e: e.call == "note" and e.detail == arrival_note("X"), actor="test")
    x.send(b"a second one\n")
    assert x.line() == b"error: one message each; waiting for client Y's message\n"
    y.send(b"ok\n")
    assert x.line() == y.line() == b"X: first real one received before Y: ok\n"
    x.close()
    y.close()


def test_a_partner_who_vanishes_mid_session_ends_it_and_the_server_serves_the_next_pair(serve):
    server = serve("ordering")
    x, y = Peer(server), Peer(server)
    assert x.line() == b"Client X has connected.\n" and y.line() == b"Client Y has connected.\n"
    y.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    y.close()                                           # SO_LINGER 0: close sends a reset
    assert x.line() == b"error: client Y left before sending; the session is over\n"
    assert x.line() == b""
    x.close()
    done = server_said(server, "Done.")
    x, y = Peer(server), Peer(server)                   # the next pair is served as usual
    server_said(server, "Accepted second connection, calling it client Y", after=done.seq)
    assert x.line() == b"Client X has connected.\n" and y.line() == b"Client Y has connected.\n"
    y.send(b"again\n")
    server.run.wait_for(lambda e: e.seq > done.seq and e.call == "note" and e.detail == arrival_note("Y"),
                        actor="test")
    x.send(b"fine\n")
    assert x.line() == y.line() == b"Y: again received before X: fine\n"
    x.close()
    y.close()
    assert not server.run.failures


def test_a_client_that_half_closes_after_sending_still_gets_the_result(serve):
    server = serve("ordering")
    x, y = Peer(server), Peer(server)
    assert x.line() == b"Client X has connected.\n" and y.line() == b"Client Y has connected.\n"
    x.send(b"sent and done\n")
    x.sock.shutdown(socket.SHUT_WR)                     # what `nc -N` does at the end of its input
    server.run.wait_for(lambda e: e.call == "note" and "closed its sending side" in e.detail, actor="test")
    y.send(b"late\n")
    assert x.line() == y.line() == b"X: sent and done received before Y: late\n"
    x.close()
    y.close()


def test_ctrl_c_at_the_prompt_stops_every_thread_at_once(background):
    demo_process = background("--mode", "ordering", "--interactive")
    demo_process.wait_for("you> ")                       # Y has sent; X waits for the person
    code, seconds, stderr = demo_process.interrupt()
    assert code == 130 and "Traceback" not in stderr
    assert seconds < 0.45        # a thread left waiting would cost the launcher's 0.5 s join timeout
