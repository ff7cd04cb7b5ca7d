"""Hostile and clumsy peers, on every server: after each, the server serves the next ordinary
client at once.  Also: faults (a server or client killed mid-session) and no leftover threads."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest
from conftest import ROOT, closed, recv_line, run_demo, run_mode

import modes
from demo import Exit

RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"   # SO_LINGER on, 0 s: close() resets the connection


def exchange(address, line: bytes) -> bytes:
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(line + b"\n")
        return recv_line(sock)


def ordinary_echo(address) -> None:
    assert exchange(address, b"ordinary").startswith(b"ECHO: ordinary (from 127.0.0.1:")


def ordinary_number_add(address) -> None:
    assert exchange(address, b"Client of Ann: 3") == b"Server of Demo: 42; Client of Ann: 3; Combined: 45\n"


def ordinary_chat(address) -> None:
    with socket.create_connection(address, timeout=5) as sock, sock.makefile("rb") as lines:
        assert lines.readline().startswith(b"* welcome, guest-")
        sock.sendall(b"/list\n")
        reply = lines.readline()
        while not reply.startswith(b"* in #lobby: "):   # others' talk and comings and goings first
            assert reply, "the server closed before answering /list"
            reply = lines.readline()
        assert b"(you)" in reply


def pair(address) -> tuple[socket.socket, socket.socket]:
    """Two clients that the server has confirmed as a pair (X first, then Y)."""
    x = socket.create_connection(address, timeout=5)
    y = socket.create_connection(address, timeout=5)
    assert recv_line(x) == b"Client X has connected.\n" and recv_line(y) == b"Client Y has connected.\n"
    return x, y


def ordinary_ordering(address) -> None:
    x, y = pair(address)
    with x, y:
        x.sendall(b"from x\n")
        y.sendall(b"from y\n")
        result = recv_line(x)
        assert result == recv_line(y)
        assert result in (b"X: from x received before Y: from y\n", b"Y: from y received before X: from x\n")


def ordinary_relay(address) -> None:
    x, y = pair(address)
    with x, y:
        x.sendall(b"hi\n")
        assert recv_line(x) == recv_line(y) == b"X: hi\n"
        y.sendall(b"Bye\n")
        assert recv_line(x) == recv_line(y) == b"Y: Bye\n"


ORDINARY = {"echo": ordinary_echo, "number-add": ordinary_number_add, "chat": ordinary_chat,
            "ordering": ordinary_ordering, "relay": ordinary_relay}
GREETING_LINES = {"chat": 1}          # lines a server sends first, before any reply
PAIRED = ("ordering", "relay")        # two clients at a time; a third is told the session is full


def test_every_mode_has_an_ordinary_client_here():
    # Streams only: a UDP mode has no connection to hold idle or flood (tests/test_udp.py has its peers).
    assert sorted(ORDINARY) == sorted(name for name in modes.names()
                                      if getattr(modes.load(name), "TRANSPORT", "tcp") == "tcp")


def hostile_bytes(mode: str, address, payload: bytes) -> tuple:
    """Send `payload`; check the first reply line after any greeting is an error; then leave."""
    with socket.create_connection(address, timeout=10) as sock:
        for _ in range(GREETING_LINES.get(mode, 0)):
            recv_line(sock)
        sock.sendall(payload)
        assert recv_line(sock).startswith(b"error: ")
        return sock.getsockname()


def non_utf8(mode, address):
    return hostile_bytes(mode, address, b"\xc3\x28\xff\n")


def huge_line(mode, address):
    return hostile_bytes(mode, address, b"z" * (4 << 20) + b"\n")


def empty_lines(mode, address):
    return hostile_bytes(mode, address, b"\n" * 20)


HALF_REPLY = {"echo": b"ECHO: half a mess (from 127.0.0.1:", "number-add": b"error: expected"}


def half_then_close(mode, address):
    """Half a line, then close the sending side: a last line with no newline still counts."""
    with socket.create_connection(address, timeout=5) as sock:
        for _ in range(GREETING_LINES.get(mode, 0)):
            recv_line(sock)
        sock.sendall(b"half a mess")
        sock.shutdown(socket.SHUT_WR)
        reply = recv_line(sock)
        assert reply.startswith(HALF_REPLY.get(mode, b"")), reply
        return sock.getsockname()


def reset_mid_message(mode, address):
    sock = socket.create_connection(address, timeout=5)
    sock.sendall(b"cut off in the mid")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
    local = sock.getsockname()
    sock.close()
    return local


HOSTILE = [non_utf8, huge_line, half_then_close, empty_lines, reset_mid_message]


@pytest.mark.parametrize("mode", sorted(ORDINARY))
@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda f: f.__name__)
def test_the_server_shrugs_off_a_hostile_peer(serve, mode, hostile):
    server = serve(mode)
    gone = hostile(mode, server.address)
    # The signal to go on: the server has closed its end of the hostile connection.
    closed(server.run.trace, gone)
    ORDINARY[mode](server.address)
    assert server.thread.is_alive()


@pytest.mark.parametrize("mode", sorted(ORDINARY))
def test_five_idle_connections_block_nobody(serve, mode):
    server = serve(mode)
    idle = [socket.create_connection(server.address, timeout=5) for _ in range(5)]
    holders = [sock.getsockname() for sock in idle[:2]]   # a paired server's X and Y
    try:
        if mode in PAIRED:     # two idle clients hold the session: a newcomer hears so at once
            with socket.create_connection(server.address, timeout=5) as late:
                assert recv_line(late).startswith(b"error: the session is full")
        else:
            ORDINARY[mode](server.address)
    finally:
        for sock in idle:
            sock.close()
    if mode in PAIRED:         # once the server has closed both of that pair, the next pair is served
        for address in holders:
            closed(server.run.trace, address)
        ORDINARY[mode](server.address)


@pytest.mark.parametrize("mode", ["echo", "number-add", "chat"])
def test_many_clients_at_once(serve, mode):
    server = serve(mode)
    failures = []

    def one():
        try:
            ORDINARY[mode](server.address)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            failures.append(error)

    threads = [threading.Thread(target=one) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert failures == []


@pytest.mark.parametrize("mode", modes.names())
def test_no_thread_is_left_running_after_a_run(mode):
    before = set(threading.enumerate())
    run = run_mode(mode)
    assert not run.failures
    assert run.live_threads() == []
    assert set(threading.enumerate()) <= before


SILENT_SERVER = """
import socket, sys
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
conn, _ = listener.accept()
conn.recv(1024)
print("got it", flush=True)
sys.stdin.read()          # never replies; the test kills this process
"""


def test_a_server_killed_while_the_client_waits():
    server = subprocess.Popen([sys.executable, "-c", SILENT_SERVER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().strip()
        client = subprocess.Popen([sys.executable, str(ROOT / "demo.py"), "--mode", "echo", "--role", "client",
                                   "--port", port, "--send", "anyone there?"], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "got it"     # the client now waits for a reply
        server.kill()
        out, err = client.communicate(timeout=10)
    finally:
        server.kill()
        server.wait()
    assert client.returncode == Exit.SERVER_GONE
    assert "the server went away" in err and "Traceback" not in err


def test_a_client_killed_mid_session(background):
    server = background("--mode", "echo", "--role", "server", "--port", "0")
    port = server.listening_port()
    victim = subprocess.Popen([sys.executable, "-c", f"""
import socket, sys
sock = socket.create_connection(("127.0.0.1", {port}))
sock.sendall(b"half a line")
print("sent from", sock.getsockname()[1], flush=True)
sys.stdin.read()
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    said, _, victim_port = victim.stdout.readline().strip().rpartition(" ")
    assert said == "sent from"
    server.wait_for('"half a line')            # the server got the bytes ...
    victim.kill()
    victim.wait()
    # ... and notices the client is gone (a reset or an end of stream): it closes that connection
    server.wait_for(f"the connection with 127.0.0.1:{victim_port}")
    ordinary_echo(("127.0.0.1", port))        # and carries on
    code, seconds, stderr = server.interrupt()
    assert code == Exit.INTERRUPTED and "Traceback" not in stderr


def test_servers_bind_loopback_by_default():
    result = run_demo("--mode", "echo", "--send", "x", "--send", "quit")
    assert "bind       127.0.0.1:0" in result.stdout
