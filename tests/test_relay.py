"""relay: the pure rules, the scripted chat, framing, and every fault over real sockets."""
from __future__ import annotations

import socket
import subprocess

import pytest
from conftest import Peer, closed, heard, run_demo, run_mode, same_run

from modes.relay import is_bye, labelled
from narration import events as ev

CONFIRMED = {"X": b"Client X has connected.\n", "Y": b"Client Y has connected.\n"}

# Stable ports (narration.order.stable): the server's, then client X's, then client Y's.
S, X, Y = ("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)


def confirmed_pair(server) -> tuple[Peer, Peer]:
    x, y = Peer(server), Peer(server)                   # connected in this order: X, then Y
    assert x.line() == CONFIRMED["X"] and y.line() == CONFIRMED["Y"]
    return x, y


def accepted_peer(server, known: set) -> tuple:
    """Wait for the server to accept a connection from a peer not in ``known``; return that peer."""
    record = server.run.trace.wait_for(lambda e: isinstance(e, ev.Accept) and e.peer not in known)
    known.add(record.event.peer)
    return record.event.peer


# -- pure rules --------------------------------------------------------------------------------
def test_bye_is_a_whole_line_in_any_case():
    assert is_bye("Bye") and is_bye(" bye ") and is_bye("BYE")
    assert not is_bye("Bye now") and not is_bye("goodbye") and not is_bye("")


def test_each_message_is_labelled_with_its_sender():
    assert labelled("X", "hello") == "X: hello"


# -- the scripted chat -------------------------------------------------------------------------
def test_the_scripted_chat_reaches_both_clients_and_ends_on_bye():
    run = run_mode("relay")
    conversation = [b"X: Hi Y, can you hear me?\n", b"Y: Loud and clear, X\n", b"X: Bye\n",
                    b""]                                 # then the server closes the chat for both
    assert heard(run, "client X") == [CONFIRMED["X"]] + conversation
    assert heard(run, "client Y") == [CONFIRMED["Y"]] + conversation
    server = [(e.call, e.peer, getattr(e, "data", None)) for e in same_run(run)
              if e.actor == "server" and getattr(e, "peer", None) and e.call != "setsockopt"]
    assert server[:4] == [("accept", X, None), ("accept", Y, None),
                          ("sendall", X, CONFIRMED["X"]), ("sendall", Y, CONFIRMED["Y"])]
    assert server[-8:] == [("sendall", X, b"X: Bye\n"), ("sendall", Y, b"X: Bye\n"),   # Bye: over
                           ("shutdown", X, None), ("shutdown", Y, None),
                           ("recv", X, b""), ("recv", Y, b""),
                           ("close", X, None), ("close", Y, None)]
    assert not run.failures and not run.live_threads()


def test_the_same_chat_gives_the_same_order_every_time():
    reference = same_run(run_mode("relay"))
    for _ in range(4):
        assert same_run(run_mode("relay")) == reference


def test_lines_that_run_out_without_bye_end_the_chat_for_both():
    run = run_mode("relay", ["only this"])               # like Ctrl-D after one line
    assert heard(run, "client X")[-2:] == [b"Y: Loud and clear, X\n", b""]
    assert heard(run, "client Y")[-2:] == [b"Client X left: the chat is over\n", b""]
    assert ev.Shutdown("client X", "SHUT_WR", X, S) in same_run(run)   # X said it was done
    assert not run.failures and not run.live_threads()


def test_longer_scripts_than_the_answers_still_take_turns():
    lines = ["one", "two", "three", "four", "Bye"]
    run = run_mode("relay", lines)
    heard_by_y = [line for line in heard(run, "client Y") if line.startswith(b"X: ")]
    assert heard_by_y == [f"X: {line}\n".encode() for line in lines]


def test_a_person_typing_as_x_chats_with_scripted_y():
    result = run_demo("--mode", "relay", "--interactive", input="hello from a person\nBye\n")
    assert result.returncode == 0, result.stderr
    assert "X: hello from a person" in result.stdout
    assert "Y: Loud and clear" in result.stdout
    assert "X: Bye" in result.stdout                    # relayed: the server saw the Bye, and the run ended


# -- real clients, framing ---------------------------------------------------------------------
@pytest.mark.parametrize("who", ["X", "Y"])
def test_bye_from_either_client_ends_the_chat_for_both(serve, who):
    server = serve("relay")
    x, y = confirmed_pair(server)
    peers = {"X": x, "Y": y}
    addresses = [x.sock.getsockname(), y.sock.getsockname()]
    x.send(b"hello\n")
    assert x.line() == y.line() == b"X: hello\n"
    peers[who].send(b"Bye\n")
    assert x.line() == y.line() == f"{who}: Bye\n".encode()
    assert x.line() == y.line() == b""                   # both closed by the server
    for address in addresses:
        closed(server.run.trace, address)
    x.close()
    y.close()


def test_two_messages_in_one_send_are_still_two_and_bye_is_seen(serve):
    server = serve("relay")
    x, y = confirmed_pair(server)
    x.send(b"first\nsecond\nBye\n")                      # the seed's bug: one recv, three messages
    for expected in (b"X: first\n", b"X: second\n", b"X: Bye\n", b""):
        assert y.line() == expected
    x.close()
    y.close()


def test_textbook_clients_without_newlines(serve):
    server = serve("relay")
    with server.connect() as x, server.connect() as y:
        assert x.recv(1024) == CONFIRMED["X"] and y.recv(1024) == CONFIRMED["Y"]
        x.send(b"no newline")                          # one send, then one recv, as in homework
        assert x.recv(1024) == b"X: no newline\n" and y.recv(1024) == b"X: no newline\n"
        y.send(b"Bye")
        assert x.recv(1024) == b"Y: Bye\n" and y.recv(1024) == b"Y: Bye\n"


def test_netcat_users_chat(serve, netcat):
    server = serve("relay")
    host, port = server.address
    users, peers = [], set()
    try:
        for _ in ("X", "Y"):                                # X, and only once it is accepted, Y
            users.append(subprocess.Popen([netcat, host, str(port)], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE))
            accepted_peer(server, peers)
        x, y = users
        assert x.stdout.readline() == CONFIRMED["X"] and y.stdout.readline() == CONFIRMED["Y"]
        y.stdin.write(b"typed in netcat\r\n")          # telnet-style line ends work too
        y.stdin.flush()
        assert x.stdout.readline() == y.stdout.readline() == b"Y: typed in netcat\n"
        x.stdin.write(b"bye\n")
        x.stdin.flush()
        assert x.stdout.readline() == y.stdout.readline() == b"X: bye\n"
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
    server = serve("relay")
    quitter = Peer(server)
    gone = quitter.sock.getsockname()
    server.run.trace.wait_for(lambda e: isinstance(e, ev.Accept) and e.peer == gone)
    quitter.close()
    closed(server.run.trace, gone)                      # the server let the quitter go
    x = Peer(server)
    x_address = x.sock.getsockname()
    server.run.trace.wait_for(lambda e: isinstance(e, ev.Accept) and e.peer == x_address)
    y = Peer(server)
    assert x.line() == CONFIRMED["X"] and y.line() == CONFIRMED["Y"]
    y.send(b"welcome\n")
    assert x.line() == y.line() == b"Y: welcome\n"
    x.close()
    y.close()


def test_a_third_client_is_turned_away_while_two_chat(serve):
    server = serve("relay")
    x, y = confirmed_pair(server)
    third = Peer(server)
    assert third.line() == b"error: the session is full (two clients are talking); try again later\n"
    assert third.line() == b""
    third.close()
    x.send(b"still here\n")
    assert x.line() == y.line() == b"X: still here\n"
    x.close()
    y.close()


def test_bad_lines_are_answered_to_their_sender_only(serve):
    server = serve("relay")
    x, y = confirmed_pair(server)
    x.send(b"\n")
    assert x.line() == b"error: empty line; type some text\n"
    x.send(b"\xc3\x28\n")
    assert x.line() == b"error: that was not UTF-8 text\n"
    x.send(b"y" * (100 * 1024) + b"\n")
    assert x.line().startswith(b"error: line too long (102400 bytes")
    x.send(b"fine now\n")
    assert y.line() == b"X: fine now\n"                  # Y heard none of X's mistakes
    assert x.line() == b"X: fine now\n"
    x.close()
    y.close()


def test_a_client_who_vanishes_mid_chat_ends_it_and_the_next_pair_chats(serve):
    server = serve("relay")
    x, y = confirmed_pair(server)
    pair = [x.sock.getsockname(), y.sock.getsockname()]
    x.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    x.close()                                           # SO_LINGER 0: close sends a reset
    assert y.line() == b"Client X left: the chat is over\n"
    assert y.line() == b""
    y.close()
    for address in pair:                                # the server is free again once it has
        closed(server.run.trace, address)               # closed both of the last pair's connections
    x, y = confirmed_pair(server)                       # the next pair chats as usual
    x.send(b"Bye\n")
    assert x.line() == y.line() == b"X: Bye\n"
    x.close()
    y.close()
    assert not server.run.failures


def test_ctrl_c_at_the_prompt_stops_every_thread_at_once(background):
    demo_process = background("--mode", "relay", "--interactive")
    demo_process.wait_for("you> ")                       # X waits for the person; Y waits its turn
    code, seconds, stderr = demo_process.interrupt()
    assert code == 130 and "Traceback" not in stderr
    assert seconds < 0.45        # a thread left waiting would cost the launcher's 0.5 s join timeout
