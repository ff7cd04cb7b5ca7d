"""number-add: the pure message rules, the scripted run, and its faults over real sockets."""
from __future__ import annotations

import pytest
from conftest import recv_line, run_mode, said

from modes.number_add import Answer, answer, as_message, parse_client_message
from narration.framing import BadText


@pytest.mark.parametrize("text, expected", [
    ("Client of Ada: 7", ("Ada", 7)),
    ("Client of Ethan Iwama: 100", ("Ethan Iwama", 100)),
    ("Client of Bo:-3", ("Bo", -3)),
    ("  Client of x: 12  ", ("x", 12)),
])
def test_parse_accepts_the_seed_form(text, expected):
    assert parse_client_message(text) == expected


@pytest.mark.parametrize("text", ["Client of Bob: seven", "hello", "Client of : 5", "Client of A: 1.5",
                                  "Client of A: 9999999999999999999999"])
def test_parse_rejects_anything_else_naming_the_form(text):
    with pytest.raises(BadText, match="Client of NAME: N"):
        parse_client_message(text)


def test_answer_adds_and_decides():
    assert answer("Client of Ada: 7") == Answer("Server of Demo: 42; Client of Ada: 7; Combined: 49")
    closing = answer("Client of Cy: 250")
    assert not closing.keep_serving and "server is closing" in closing.reply
    assert not answer("Client of Z: 0").keep_serving
    assert answer("Client of Z: 1").keep_serving and answer("Client of Z: 100").keep_serving


def test_a_bare_number_is_wrapped_in_the_seed_form():
    assert as_message("7") == "Client of Student: 7"
    assert as_message("Client of Ada: 7") == "Client of Ada: 7"


def test_the_scripted_run_ends_when_a_number_is_out_of_range():
    run = run_mode("number-add")
    replies = said(run, "client")
    assert replies[0] == "Server of Demo: 42; Client of Ada: 7; Combined: 49"
    assert replies[1] == "error: expected 'Client of NAME: N (N a whole number)'"
    assert replies[2].endswith("250 is outside 1..100, so the server is closing")
    assert "Server: 42; Client: 7; Combined: 42+7 = 49" in said(run, "server")
    assert not run.failures and not run.live_threads()


def test_textbook_and_netcat_clients(serve):
    server = serve("number-add")
    with server.connect() as sock:
        sock.send(b"Client of Tex: 5")                   # one send, no newline, one recv
        assert sock.recv(1024) == b"Server of Demo: 42; Client of Tex: 5; Combined: 47\n"
    with server.connect() as sock:
        sock.sendall(b"\xff\n")
        assert recv_line(sock) == b"error: that was not UTF-8 text\n"
    with server.connect() as sock:
        sock.sendall(b"Client of Nc: 10\n")
        assert recv_line(sock) == b"Server of Demo: 42; Client of Nc: 10; Combined: 52\n"


def test_out_of_range_stops_the_server(serve):
    server = serve("number-add")
    with server.connect() as sock:
        sock.sendall(b"Client of Cy: 0\n")
        assert b"server is closing" in recv_line(sock)
    server.thread.join(2)
    assert not server.thread.is_alive()
