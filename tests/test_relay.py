"""relay: the pure rules, the scripted chat, framing, and every fault over real sockets."""
from __future__ import annotations

import socket
import subprocess

import pytest
from conftest import Peer, outline, run_demo, run_mode, said, server_said

from modes.relay import CHAT_OVER, is_bye, labelled

CONFIRMED = {"X": b"Client X has connected.\n", "Y": b"Client Y has connected.\n"}


def confirmed_pair(server) -> tuple[Peer, Peer]:
    x, y = Peer(server), Peer(server)                   # connected in this order: X, then Y
    assert x.line() == CONFIRMED["X"] and y.line() == CONFIRMED["Y"]
    return x, y


# -- pure rules --------------------------------------------------------------------------------
def test_bye_is_a_whole_line_in_any_case():
    assert is_bye("Bye") and is_bye(" bye ") and is_bye("BYE")
    assert not is_bye("Bye now") and not is_bye("goodbye") and not is_bye("")


def test_each_message_is_labelled_with_its_sender():
    assert labelled("X", "hello") == "X: hello"


# -- the scripted chat -------------------------------------------------------------------------
def test_the_scripted_chat_reaches_both_clients_and_ends_on_bye():
    run = run_mode("relay")
    conversation = ["X: Hi Y, can you hear me?", "Y: Loud and clear, X",
                    "X: Bye", "The chat is over."]
    assert said(run, "client X") == ["Client X has connected."] + conversation
    assert said(run, "client Y") == ["Client Y has connected."] + conversation
    assert said(run, "server")[:4] == ["The server is waiting to receive two connections....",
                                       "Accepted first connection, calling it client X",
                                       "Accepted second connection, calling it client Y",
                                       "Waiting to receive messages from client X and client Y...."]
    assert said(run, "server")[-3:] == ["Client X said Bye: the chat is over", "Done.",
                                        "The server is waiting to receive two connections...."]
    assert not run.failures and not run.live_threads()


def test_the_same_chat_gives_the_same_order_every_time():
    reference = outline(run_mode("relay"))
    for _ in range(4):
        assert outline(run_mode("relay")) == reference


def test_lines_that_run_out_without_bye_end_the_chat_for_both():
    run = run_mode("relay", ["only this"])               # like Ctrl-D after one line
    assert said(run, "client X")[-2:] == ["Y: Loud and clear, X", CHAT_OVER]
    assert said(run, "client Y")[-2:] == ["Client X left: the chat is over", CHAT_OVER]
    assert not run.failures and not run.live_threads()


def test_longer_scripts_than_the_answers_still_take_turns():
    lines = ["one", "two", "three", "four", "Bye"]
    run = run_mode("relay", lines)
    heard = [line for line in said(run, "client Y") if line.startswith("X: ")]
    assert heard == [f"X: {line}" for line in lines]


def test_a_person_typing_as_x_chats_with_scripted_y():
    result = run_demo("--mode", "relay", "--interactive", input="hello from a person\nBye\n")
    assert result.returncode == 0, result.stderr
    assert "X: hello from a person" in result.stdout
    assert "Y: Loud and clear" in result.stdout
    assert "Client X said Bye: the chat is over" in result.stdout


# -- real clients, framing ---------------------------------------------------------------------
@pytest.mark.parametrize("who", ["X", "Y"])
def test_bye_from_either_client_ends_the_chat_for_both(serve, who):
    server = serve("relay")
    x, y = confirmed_pair(server)
    peers = {"X": x, "Y": y}
    x.send(b"hello\n")
    assert x.line() == y.line() == b"X: hello\n"
    peers[who].send(b"Bye\n")
    assert x.line() == y.line() == f"{who}: Bye\n".encode()
    assert x.line() == y.line() == b""                   # both closed by the server
    server_said(server, "Done.")
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
    users = []
    try:
        for position in ("first", "second"):
            users.append(subprocess.Popen([netcat, host, str(port)], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE))
            server_said(server, f"Accepted {position} connection, calling it client {'XY'[len(users) - 1]}")
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
    server_said(server, "Accepted first connection, calling it client X")
    quitter.close()
    gone = server_said(server, "Client X disconnected while waiting for a partner; waiting for a replacement")
    x = Peer(server)
    server_said(server, "Accepted first connection, calling it client X", after=gone.seq)
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
    x.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    x.close()                                           # SO_LINGER 0: close sends a reset
    assert y.line() == b"Client X left: the chat is over\n"
    assert y.line() == b""
    y.close()
    done = server_said(server, "Done.")
    x, y = Peer(server), Peer(server)
    server_said(server, "Accepted second connection, calling it client Y", after=done.seq)
    assert x.line() == CONFIRMED["X"] and y.line() == CONFIRMED["Y"]
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
