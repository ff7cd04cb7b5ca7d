"""ordering: the pure rules, the scripted run both ways round, and every fault over real sockets."""
from __future__ import annotations

import socket
import subprocess

import pytest
from conftest import Peer, closed, heard, received, run_demo, run_mode, said, same_run, shown

from modes._pairing import DONE, WAITING, accepted
from modes.ordering import SCENE, arrival_note, received_before
from narration import events as ev
from narration.scene import Joins, Scene, Types

# The scripted run has X connect first and Y send first (modes/ordering.py SCENE); the other way round:
X_SENDS_FIRST = Scene(parts=SCENE.parts,
                      turns=(Joins("client X"), Joins("client Y"), Types("client X"), Types("client Y")))
SCENES = {"X": X_SENDS_FIRST, "Y": SCENE}

# Stable ports (narration.order.stable): the server's, then client X's, then client Y's.
S, X, Y = ("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)


def settled(server, peer, data: bytes | None = None) -> None:
    """Wait until the server has received ``data`` from ``peer`` and done everything that causes
    (its reader handed the line on, the session took it and waits again): seen from its sockets
    and threads, never from what it printed."""
    received(server.run.trace, peer, data)
    server.run.wait_until_quiet(5)


def accepted_peer(server, known: set) -> tuple:
    """Wait for the server to accept a connection from a peer not in ``known``; return that peer."""
    record = server.run.trace.wait_for(lambda e: isinstance(e, ev.Accept) and e.peer not in known)
    known.add(record.event.peer)
    return record.event.peer


# -- pure rules --------------------------------------------------------------------------------
def test_the_result_line_names_the_first_arrival_first():
    assert received_before(("Y", "b"), ("X", "a")) == "Y: b received before X: a"
    assert received_before(("X", "hello there"), ("Y", "hi")) == "X: hello there received before Y: hi"


def test_the_note_points_out_when_the_second_connection_sent_first():
    assert "connected second" in arrival_note("Y")
    assert "connected second" not in arrival_note("X")


# -- the scripted run --------------------------------------------------------------------------
def test_the_default_run_follows_the_seed_and_y_arrives_first():
    run = run_mode("ordering")
    events = same_run(run)
    result = b"Y: I sent first received before X: I connected first\n"
    server = [(e.call, e.peer, getattr(e, "data", None)) for e in events
              if e.actor == "server" and getattr(e, "peer", None)]
    assert server == [
        ("accept", X, None), ("accept", Y, None),                       # X connected first
        ("sendall", X, b"Client X has connected.\n"), ("sendall", Y, b"Client Y has connected.\n"),
        ("recv", Y, b"I sent first\n"), ("recv", X, b"I connected first\n"),   # but Y's arrived first
        ("sendall", X, result), ("sendall", Y, result),
        ("shutdown", X, None), ("shutdown", Y, None),                    # shutdown wakes both readers
        ("recv", X, b""), ("recv", Y, b""),
        ("close", X, None), ("close", Y, None),
    ]
    assert heard(run, "client X") == [b"Client X has connected.\n", result, b""]   # then the server closes
    assert heard(run, "client Y") == [b"Client Y has connected.\n", result, b""]
    assert [e for e in events if e.actor == "client X" and e.call != "say"] == [
        ev.Socket("client X"),
        ev.Connect("client X", X, S),
        ev.Recv("client X", b"Client X has connected.\n", 24, (0, 24), X, S),
        ev.SendAll("client X", b"I connected first\n", 18, (0, 18), X, S),
        ev.Recv("client X", result, 53, (24, 77), X, S),
        ev.Recv("client X", b"", 0, (77, 77), X, S),                 # the client leaves once the server has
        ev.Close("client X", X, S),
    ]
    assert not run.failures and not run.live_threads()


def test_the_server_prints_the_seeds_sentences_in_the_seeds_order():
    """About the wording itself: the seed prescribes what the server prints, and when."""
    assert said(run_mode("ordering"), "server") == [
        WAITING, accepted(0), accepted(1), "Waiting to receive messages from client X and client Y....",
        DONE, WAITING,                                                   # ready for the next pair
    ]


def test_when_x_sends_first_x_is_named_first():
    run = run_mode("ordering", scene=X_SENDS_FIRST)
    result = b"X: I connected first received before Y: I sent first\n"
    assert heard(run, "client X")[-2:] == heard(run, "client Y")[-2:] == [result, b""]
    assert not run.failures


def test_the_launcher_runs_the_default_order():
    assert heard(run_mode("ordering"), "client X")[-2].startswith(b"Y: I sent first received before X:")


@pytest.mark.parametrize("first", ["X", "Y"])
def test_the_same_run_gives_the_same_order_every_time(first):
    reference = same_run(run_mode("ordering", scene=SCENES[first]))
    for _ in range(4):
        assert same_run(run_mode("ordering", scene=SCENES[first])) == reference


def test_the_server_accepts_both_before_it_confirms_either():
    events = shown(run_mode("ordering"))
    server_calls = [e.call for e in events if e.actor == "server" and e.call in ("accept", "sendall")]
    assert server_calls[:4] == ["accept", "accept", "sendall", "sendall"]
    first_send = min(i for i, e in enumerate(events) if e.actor.startswith("client") and e.call == "sendall")
    confirmations = [i for i, e in enumerate(events) if isinstance(e, ev.Recv) and e.data
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
        addresses = {name: sock.getsockname() for name, sock in peers.items()}
        assert x.recv(1024) == b"Client X has connected.\n"
        assert y.recv(1024) == b"Client Y has connected.\n"
        peers[first].send(f"from {first}".encode())      # one send, no newline, as in homework
        settled(server, addresses[first], f"from {first}".encode())
        peers[later].send(f"from {later}".encode())
        expected = f"{first}: from {first} received before {later}: from {later}\n".encode()
        assert x.recv(1024) == expected
        assert y.recv(1024) == expected
        assert x.recv(1024) == b"" and y.recv(1024) == b""   # then the server closes both
    closed(server.run.trace, addresses["X"])
    closed(server.run.trace, addresses["Y"])


def test_two_netcat_users(serve, netcat):
    server = serve("ordering")
    host, port = server.address
    users, peers, order = [], set(), []
    try:
        for _ in ("X", "Y"):                                # X, and only once it is accepted, Y
            users.append(subprocess.Popen([netcat, host, str(port)], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE))
            order.append(accepted_peer(server, peers))
        x, y = users
        assert x.stdout.readline() == b"Client X has connected.\n"
        assert y.stdout.readline() == b"Client Y has connected.\n"
        y.stdin.write(b"typed in netcat\n")
        y.stdin.flush()
        settled(server, order[1], b"typed in netcat\n")
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
    gone = quitter.sock.getsockname()
    server.run.trace.wait_for(lambda e: isinstance(e, ev.Accept) and e.peer == gone)
    quitter.close()
    closed(server.run.trace, gone)                      # the server let the quitter go
    x = Peer(server)
    x_address = x.sock.getsockname()
    server.run.trace.wait_for(lambda e: isinstance(e, ev.Accept) and e.peer == x_address)
    y = Peer(server)
    assert x.line() == b"Client X has connected.\n"
    assert y.line() == b"Client Y has connected.\n"
    x.send(b"replacement\n")
    settled(server, x_address, b"replacement\n")
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
    settled(server, x.sock.getsockname(), b"one\n")
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
    settled(server, x.sock.getsockname(), b"first real one\n")
    x.send(b"a second one\n")
    assert x.line() == b"error: one message each; waiting for client Y's message\n"
    y.send(b"ok\n")
    assert x.line() == y.line() == b"X: first real one received before Y: ok\n"
    x.close()
    y.close()


def test_a_partner_who_vanishes_mid_session_ends_it_and_the_server_serves_the_next_pair(serve):
    server = serve("ordering")
    x, y = Peer(server), Peer(server)
    pair = [x.sock.getsockname(), y.sock.getsockname()]
    assert x.line() == b"Client X has connected.\n" and y.line() == b"Client Y has connected.\n"
    y.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    y.close()                                           # SO_LINGER 0: close sends a reset
    assert x.line() == b"error: client Y left before sending; the session is over\n"
    assert x.line() == b""
    x.close()
    for address in pair:                                # the server is free again once it has
        closed(server.run.trace, address)               # closed both of the last pair's connections
    x, y = Peer(server), Peer(server)                   # the next pair is served as usual
    assert x.line() == b"Client X has connected.\n" and y.line() == b"Client Y has connected.\n"
    y.send(b"again\n")
    settled(server, y.sock.getsockname(), b"again\n")
    x.send(b"fine\n")
    assert x.line() == y.line() == b"Y: again received before X: fine\n"
    x.close()
    y.close()
    assert not server.run.failures


def test_a_client_that_half_closes_after_sending_still_gets_the_result(serve):
    server = serve("ordering")
    x, y = Peer(server), Peer(server)
    x_address = x.sock.getsockname()
    assert x.line() == b"Client X has connected.\n" and y.line() == b"Client Y has connected.\n"
    x.send(b"sent and done\n")
    x.sock.shutdown(socket.SHUT_WR)                     # what `nc -N` does at the end of its input
    server.run.trace.wait_for(lambda e: isinstance(e, ev.Recv) and e.peer == x_address and not e.size)
    server.run.wait_until_quiet(5)                      # the server has taken in X's half-close
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
