"""echo: the pure reply rule, the whole scripted run, and real clients of every kind."""
from __future__ import annotations

import socket

from conftest import recv_line, run_mode, said, same_run, shown

from modes.echo import BACKLOG, echo_reply, is_quit
from narration.events import Bind, Listen, SetOption, Socket


def test_echo_reply_adds_the_client_address():
    assert echo_reply("hello", ("127.0.0.1", 54321)) == "ECHO: hello (from 127.0.0.1:54321)"
    assert echo_reply("quit", ("127.0.0.1", 1)) == "BYE (from 127.0.0.1:1)"
    assert is_quit(" /QUIT ") and not is_quit("quite")


def test_the_scripted_run_shows_every_socket_call_in_order():
    run = run_mode("echo")
    events = shown(run)
    assert events[:4] == [Socket("server", "AF_INET", "SOCK_STREAM"), SetOption("server", "SO_REUSEADDR", 1),
                          Bind("server", ("127.0.0.1", 0), events[2].local), Listen("server", BACKLOG, events[2].local)]
    server_calls = [e.call for e in events if e.actor == "server" and e.call not in ("say", "note")]
    client_calls = [e.call for e in events if e.actor == "client" and e.call not in ("say", "note")]
    assert server_calls == ["socket", "setsockopt", "bind", "listen", "accept",
                            "recv", "sendall", "recv", "sendall", "recv", "sendall", "close",
                            "close"]
    assert client_calls == ["socket", "connect", "settimeout", "sendall", "recv", "sendall", "recv",
                            "sendall", "recv", "close"]
    connect = next(e for e in events if e.call == "connect")
    port = connect.local[1]
    assert said(run, "client") == [f"ECHO: hello (from 127.0.0.1:{port})",
                                   f"ECHO: sockets are fun (from 127.0.0.1:{port})",
                                   f"BYE (from 127.0.0.1:{port})"]
    assert not run.failures
    assert not run.live_threads()


def test_causes_come_before_effects():
    events = shown(run_mode("echo"))
    for index, event in enumerate(events):
        if event.call == "recv" and event.size:
            sender = next(e for e in events if e.call == "sendall" and e.local == event.peer
                          and e.span[0] <= event.span[0] < e.span[1])
            assert events.index(sender) < index
    accept = next(e for e in events if e.call == "accept")
    connect = next(e for e in events if e.call == "connect")
    assert events.index(connect) < events.index(accept)


def test_the_same_run_gives_the_same_order_every_time():
    first = same_run(run_mode("echo"))
    for _ in range(5):
        assert same_run(run_mode("echo")) == first


def test_send_replaces_the_script():
    run = run_mode("echo", ["one", "/quit"])
    assert [line.split(" (")[0] for line in said(run, "client")] == ["ECHO: one", "BYE"]


def test_a_netcat_style_client_gets_a_line_back(serve):
    server = serve("echo")
    with server.connect() as sock:
        sock.sendall(b"hi there\n")
        port = sock.getsockname()[1]
        assert recv_line(sock) == f"ECHO: hi there (from 127.0.0.1:{port})\n".encode()


def test_a_textbook_client_without_newline_gets_its_reply(serve):
    server = serve("echo")
    with server.connect() as sock:
        sock.send(b"no newline here")
        reply = sock.recv(1024)
    assert reply.startswith(b"ECHO: no newline here (from 127.0.0.1:")
    assert reply.endswith(b")\n")


def test_bad_input_gets_a_clear_answer_and_the_server_keeps_serving(serve):
    server = serve("echo")
    with server.connect() as sock:
        sock.sendall(b"\xff\xfe\xfd\n")
        assert recv_line(sock) == b"error: that was not UTF-8 text\n"
        sock.sendall(b"\n")
        assert recv_line(sock) == b"error: empty line; type some text\n"
        sock.sendall(b"x" * (70 * 1024) + b"\n")
        assert recv_line(sock).startswith(b"error: line too long (71680 bytes")
        sock.sendall(b"still here\n")
        assert recv_line(sock).startswith(b"ECHO: still here")


def test_clients_are_served_at_the_same_time(serve):
    server = serve("echo")
    idle = [server.connect() for _ in range(5)]       # five that never speak
    try:
        with server.connect() as sock:
            sock.sendall(b"me first\n")
            assert recv_line(sock).startswith(b"ECHO: me first")
    finally:
        for sock in idle:
            sock.close()


def test_a_client_that_resets_does_not_hurt_the_server(serve):
    server = serve("echo")
    rude = server.connect()
    rude.sendall(b"half a mess")
    rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    rude.close()                                      # SO_LINGER 0: close sends RST
    with server.connect() as sock:
        sock.sendall(b"next\n")
        assert recv_line(sock).startswith(b"ECHO: next")
