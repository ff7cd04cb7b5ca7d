"""Split roles: a server role serving netcat and textbook clients, a client role against it,
and every network error as one readable line with its own exit code."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading

import pytest
from conftest import ROOT, LineProcess, free_port, recv_line, run_demo

from demo import Exit

# What a student would send to each mode's server, and how the reply starts.
FIRST_EXCHANGE = {
    "echo": (b"hello", b"ECHO: hello (from 127.0.0.1:"),
    "number-add": (b"Client of Tex: 5", b"Server of Demo: 42; Client of Tex: 5; Combined: 47"),
}


def start_server(background, mode: str):
    server = background("--mode", mode, "--role", "server", "--port", "0")
    return server, server.listening_port()


@pytest.mark.parametrize("mode", sorted(FIRST_EXCHANGE))
def test_server_role_serves_netcat(background, netcat, mode):
    server, port = start_server(background, mode)
    message, reply = FIRST_EXCHANGE[mode]
    result = subprocess.run([netcat, "-N", "127.0.0.1", str(port)], input=message + b"\n",
                            capture_output=True, timeout=10)
    assert result.stdout.startswith(reply), result
    assert result.stdout.endswith(b"\n")
    code, seconds, stderr = server.interrupt()
    assert code == Exit.INTERRUPTED and seconds < 1.0 and "Traceback" not in stderr


@pytest.mark.parametrize("mode", sorted(FIRST_EXCHANGE))
def test_server_role_serves_a_textbook_client(background, mode):
    server, port = start_server(background, mode)
    message, reply = FIRST_EXCHANGE[mode]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.send(message)                       # one send, no newline ...
        assert sock.recv(1024).startswith(reply)  # ... then one recv, as in the homework
    server.interrupt()


@pytest.mark.parametrize("mode, lines, expected", [
    ("echo", ["hi", "quit"], ["ECHO: hi (from 127.0.0.1:", "BYE (from 127.0.0.1:"]),
    ("number-add", ["7"], ["Server of Demo: 42; Client of Student: 7; Combined: 49"]),
])
def test_client_role_against_the_server_role_in_another_process(background, mode, lines, expected):
    server, port = start_server(background, mode)
    sends = [part for line in lines for part in ("--send", line)]
    result = run_demo("--mode", mode, "--role", "client", "--port", str(port), *sends)
    assert result.returncode == 0, result.stderr
    for text in expected:
        assert f"» {text}" in result.stdout
    server.interrupt()


# -- the two-client and group modes: several netcat users, textbook clients, client roles -----------
ACCEPT_SHOWN = re.compile(r"\baccept +from \S+:\d+")     # the server lane's accept() line


def wait_for_accepts(server, count: int = 1, timeout: float = 10) -> None:
    """Read the server role's output until it shows ``count`` accept() calls: a socket event, not a
    sentence (the first connection accepted is client X, so only then may a second one dial)."""
    server.wait_for_count(ACCEPT_SHOWN.pattern, count, timeout)


@pytest.mark.parametrize("mode", ["ordering", "relay"])
def test_pair_server_roles_serve_two_netcat_users(background, netcat, mode):
    server, port = start_server(background, mode)
    x = LineProcess(netcat, "127.0.0.1", str(port))
    try:
        wait_for_accepts(server)                      # X is first before Y dials
        y = LineProcess(netcat, "127.0.0.1", str(port))
        try:
            assert x.line() == b"Client X has connected.\n" and y.line() == b"Client Y has connected.\n"
            if mode == "ordering":
                y.send(b"y was here\n")
                server.wait_for('"y was here\\n"')     # Y's line has arrived: now X sends
                x.send(b"x too\n")
                assert x.line() == y.line() == b"Y: y was here received before X: x too\n"
            else:
                x.send(b"hello y\n")
                assert x.line() == y.line() == b"X: hello y\n"
                y.send(b"Bye\n")
                assert x.line() == y.line() == b"Y: Bye\n"
        finally:
            y.close()
    finally:
        x.close()
    server.interrupt()


@pytest.mark.parametrize("mode", ["ordering", "relay"])
def test_pair_server_roles_serve_two_textbook_clients(background, mode):
    server, port = start_server(background, mode)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as x:
        wait_for_accepts(server)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as y:
            assert x.recv(1024) == b"Client X has connected.\n"
            assert y.recv(1024) == b"Client Y has connected.\n"
            x.send(b"one send, no newline")
            expected = b"X: one send, no newline" + (b" received before Y: me too\n" if mode == "ordering" else b"\n")
            if mode == "ordering":
                server.wait_for('"one send, no newline"')
                y.send(b"me too")
            assert x.recv(1024) == expected
            assert y.recv(1024) == expected
    server.interrupt()


@pytest.mark.parametrize("mode", ["ordering", "relay"])
def test_pair_client_role_against_the_server_role(background, mode):
    server, port = start_server(background, mode)
    sends = ["--send", "from X"] + (["--send", "Bye"] if mode == "relay" else [])
    x = background("--mode", mode, "--role", "client", "--port", str(port), *sends)
    wait_for_accepts(server)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as y_sock, y_sock.makefile("rb") as y:
        assert y.readline() == b"Client Y has connected.\n"
        if mode == "ordering":
            server.wait_for('"from X\\n"')           # X's message is in: now Y sends
            y_sock.sendall(b"from Y\n")
            assert y.readline() == b"X: from X received before Y: from Y\n"
        else:
            assert [y.readline(), y.readline()] == [b"X: from X\n", b"X: Bye\n"]
    code, out, err = x.finish()
    assert code == 0, err
    expected = "X: from X received before Y: from Y" if mode == "ordering" else "The chat is over."
    assert "» Client X has connected." in out and f"» {expected}" in out
    server.interrupt()


def test_chat_server_role_with_netcat_and_a_textbook_client(background, netcat):
    server, port = start_server(background, "chat")
    ann = LineProcess(netcat, "127.0.0.1", str(port))
    try:
        assert ann.line().startswith(b"* welcome, guest-1")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as textbook:
            assert textbook.recv(1024).startswith(b"* welcome, guest-2")
            assert ann.line() == b"* guest-2 joined #lobby\n"
            textbook.send(b"hello from homework")          # no newline: the pause ends it
            assert ann.line() == b"guest-2: hello from homework\n"
            ann.send(b"/msg guest-2 hi back\n")
            assert textbook.recv(1024) == b"[dm] guest-1: hi back\n"
    finally:
        ann.close()
    server.interrupt()


def test_a_teacher_sets_how_many_may_join_the_chat(background):
    server = background("--mode", "chat", "--role", "server", "--port", "0", "--max-clients", "1")
    port = server.listening_port()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as first:
        assert recv_line(first).startswith(b"* welcome, guest-1")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as second:
            assert recv_line(second) == b"* sorry, the chat is full (the limit is 1); try later\n"
            assert second.recv(1024) == b""                  # and it is closed
    server.interrupt()


def test_chat_client_role_against_the_server_role(background):
    server, port = start_server(background, "chat")
    result = run_demo("--mode", "chat", "--role", "client", "--port", str(port),
                      "--send", "/name ann", "--send", "/list", "--send", "/quit", "--wire",
                      env={**os.environ, "COLUMNS": "200"})     # every byte, and no received line wrapped
    assert result.returncode == 0, result.stderr
    # The chat client shows what it receives as its recv calls' bytes (\n shown escaped).
    assert "* you are now ann\\n" in result.stdout and "* in #lobby: ann (you)\\n" in result.stdout
    server.interrupt()


def test_server_role_number_add_ends_by_its_own_rule(background):
    server, port = start_server(background, "number-add")
    result = run_demo("--mode", "number-add", "--role", "client", "--port", str(port), "--send", "500")
    assert "server is closing" in result.stdout
    code, out, err = server.finish()
    assert code == 0, err


def test_ctrl_c_on_a_server_with_an_idle_client(background):
    server, port = start_server(background, "echo")
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        wait_for_accepts(server)                 # the server has accepted it: now it is idle
        code, seconds, stderr = server.interrupt()
    assert code == Exit.INTERRUPTED
    assert seconds < 1.0
    assert "Traceback" not in stderr


def test_bring_your_own_netcat_into_the_one_process_demo(background, netcat):
    port = free_port()
    demo_process = background("--mode", "echo", "--interactive", "--port", str(port))
    demo_process.wait_for("you> ")
    result = subprocess.run([netcat, "-N", "127.0.0.1", str(port)], input=b"from outside\n",
                            capture_output=True, timeout=10)
    assert result.stdout.startswith(b"ECHO: from outside (from 127.0.0.1:")
    demo_process.wait_for('"from outside\\n"')     # the server's lane shows the visitor's bytes
    code, out, err = demo_process.finish(input=b"quit\n")
    assert code == 0, err
    assert "BYE (from 127.0.0.1:" in out


# -- network errors: one line each, and its own exit code -------------------------------------
def one_line(result) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_connection_refused_says_how_to_start_the_server():
    port = free_port()
    result = run_demo("--mode", "echo", "--role", "client", "--port", str(port), "--send", "hi")
    assert result.returncode == Exit.REFUSED
    line = one_line(result)
    assert f"nothing is listening at 127.0.0.1:{port}" in line
    assert f"python demo.py --mode echo --role server --port {port}" in line


def test_port_in_use_suggests_another_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_demo("--mode", "echo", "--role", "server", "--port", str(port))
    assert result.returncode == Exit.PORT_IN_USE
    line = one_line(result)
    assert "already in use" in line and "--port 0" in line


def test_connect_timeout():
    # A listener whose backlog is full and that never accepts: the kernel drops new SYNs.
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        waiting = []
        for _ in range(3):
            sock = socket.socket()
            sock.settimeout(0.2)
            try:
                sock.connect(("127.0.0.1", port))
            except TimeoutError:
                pass
            waiting.append(sock)
        result = run_demo("--mode", "echo", "--role", "client", "--port", str(port), "--timeout", "0.3",
                          "--send", "hi")
        for sock in waiting:
            sock.close()
    assert result.returncode == Exit.TIMEOUT
    assert "did not accept the connection within 0.3 s" in one_line(result)


def isolated(*args: str) -> subprocess.CompletedProcess:
    """Run demo.py in a new network namespace with no interface up: nothing can leave it."""
    if sys.platform != "linux":
        pytest.skip("Linux only: unshare -rn gives this test a network of its own")
    unshare = shutil.which("unshare")
    # -r maps us to root inside a new user namespace, so this works without being root.
    if unshare is None or subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("unshare -rn is not available: cannot isolate the network for this test")
        pytest.skip("unshare -rn is not permitted here")
    return subprocess.run([unshare, "-rn", sys.executable, str(ROOT / "demo.py"), *args],
                          capture_output=True, text=True, timeout=20, cwd=ROOT)


def test_unknown_host():
    result = isolated("--mode", "echo", "--role", "client", "--host", "no-such-host.invalid", "--send", "hi")
    assert result.returncode == Exit.UNREACHABLE
    assert "host unknown: 'no-such-host.invalid'" in one_line(result)


def test_unreachable_host():
    result = isolated("--mode", "echo", "--role", "client", "--host", "127.0.0.1", "--port", "5050", "--send", "hi")
    assert result.returncode == Exit.UNREACHABLE
    assert "no route to 127.0.0.1:5050" in one_line(result)


class OneShotServer:
    """A test server that accepts one client, reads its first bytes, then does `ending`."""

    def __init__(self, ending: str) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, args=(ending,), daemon=True)
        self.thread.start()

    def serve(self, ending: str) -> None:
        conn, _ = self.listener.accept()
        conn.recv(1024)
        if ending == "reset":   # SO_LINGER 0: close() sends RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
        self.listener.close()


def test_the_server_vanishing_mid_session():
    server = OneShotServer("close")
    result = run_demo("--mode", "echo", "--role", "client", "--port", str(server.port), "--send", "hi")
    assert result.returncode == Exit.SERVER_GONE
    assert "the server went away" in one_line(result)


def test_the_server_resetting_the_connection():
    server = OneShotServer("reset")
    result = run_demo("--mode", "echo", "--role", "client", "--port", str(server.port), "--send", "hi")
    assert result.returncode == Exit.RESET
    assert "reset" in one_line(result)


def test_a_role_server_binds_loopback_unless_told(background):
    server, port = start_server(background, "echo")
    assert f"serving echo on 127.0.0.1:{port}; Ctrl-C stops it" in server.wait_for("Ctrl-C stops it")
    server.interrupt()


def test_serving_every_address_prints_where_students_connect(background):
    server = background("--mode", "echo", "--role", "server", "--host", "0.0.0.0", "--port", "0")
    text = server.wait_for("connect: nc ")
    assert "serving echo on 0.0.0.0:" in text
    port = server.listening_port()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"x\n")
        assert recv_line(sock).startswith(b"ECHO: x")
    server.interrupt()


def test_a_client_role_shows_every_line_of_a_long_run(background):
    server, port = start_server(background, "echo")
    sends = [part for number in range(300) for part in ("--send", f"line {number}")]
    result = run_demo("--mode", "echo", "--role", "client", "--port", str(port), *sends, "--send", "quit")
    assert result.returncode == 0, result.stderr
    assert "» ECHO: line 299 (from 127.0.0.1:" in result.stdout and "» BYE (from" in result.stdout
    assert "not shown" not in result.stdout
    server.interrupt()


@pytest.mark.parametrize("mode", ["ordering", "relay"])
def test_one_students_control_codes_never_reach_the_other(serve, mode):
    from conftest import Peer
    server = serve(mode)
    x, y = Peer(server), Peer(server)
    try:
        assert x.line() == b"Client X has connected.\n" and y.line() == b"Client Y has connected.\n"
        x.send(b"\x1b]0;hacked\x07\x1b[2J\n")
        if mode == "ordering":
            y.send(b"ok\n")
        line = y.line()
        assert b"\x1b" not in line and b"\x07" not in line
        assert b"\\x1b]0;hacked\\x07\\x1b[2J" in line
    finally:
        x.close()
        y.close()
