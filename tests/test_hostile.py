"""Hostile and clumsy peers, on every server: after each, the server serves the next ordinary
client at once.  Also: faults (a server or client killed mid-session) and no leftover threads."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest
from conftest import ROOT, recv_line, run_demo, run_mode

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


ORDINARY = {"echo": ordinary_echo, "number-add": ordinary_number_add}


def hostile_bytes(address, payload: bytes, *, read_reply: bool = True) -> bytes:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(payload)
        return recv_line(sock) if read_reply else b""


def non_utf8(address):
    assert hostile_bytes(address, b"\xc3\x28\xff\n").startswith(b"error: that was not UTF-8 text")


def huge_line(address):
    reply = hostile_bytes(address, b"z" * (4 << 20) + b"\n")
    assert reply.startswith(b"error: line too long (4194304 bytes")


def half_then_close(address):
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"half a mess")
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1024)          # whatever the server makes of it, or b''


def empty_lines(address):
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"\n" * 20)
        assert recv_line(sock).startswith(b"error: empty line")


def reset_mid_message(address):
    sock = socket.create_connection(address, timeout=5)
    sock.sendall(b"cut off in the mid")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
    sock.close()


HOSTILE = [non_utf8, huge_line, half_then_close, empty_lines, reset_mid_message]


@pytest.mark.parametrize("mode", sorted(ORDINARY))
@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda f: f.__name__)
def test_the_server_shrugs_off_a_hostile_peer(serve, mode, hostile):
    server = serve(mode)
    hostile(server.address)
    ORDINARY[mode](server.address)
    assert server.thread.is_alive()


@pytest.mark.parametrize("mode", sorted(ORDINARY))
def test_five_idle_connections_block_nobody(serve, mode):
    server = serve(mode)
    idle = [socket.create_connection(server.address, timeout=5) for _ in range(5)]
    try:
        ORDINARY[mode](server.address)
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.parametrize("mode", sorted(ORDINARY))
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
print("sent", flush=True)
sys.stdin.read()
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert victim.stdout.readline().strip() == "sent"
    server.wait_for('"half a line')            # the server got the bytes ...
    victim.kill()
    victim.wait()
    server.wait_for("disconnected")            # ... and notices the client is gone
    ordinary_echo(("127.0.0.1", port))        # and carries on
    code, seconds, stderr = server.interrupt()
    assert code == Exit.INTERRUPTED and "Traceback" not in stderr


def test_servers_bind_loopback_by_default():
    result = run_demo("--mode", "echo", "--send", "x", "--send", "quit")
    assert "bind       127.0.0.1:0" in result.stdout
