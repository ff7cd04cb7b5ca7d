"""IPv6 (issue 14): --host ::1 in every mode and role, and :: serving IPv4 clients too."""
from __future__ import annotations

import socket

import pytest
from conftest import recv_line, run_demo, shown

import modes
from narration.events import Connect


@pytest.mark.parametrize("name", modes.names())
def test_every_mode_runs_over_ipv6_in_one_process(name):
    result = run_demo("--mode", name, "--host", "::1")
    assert result.returncode == 0, result.stderr
    assert "AF_INET6" in result.stdout and "[::1]:" in result.stdout


def test_an_ipv6_run_is_the_same_every_time(tmp_path):
    shots = []
    for number in range(3):
        target = tmp_path / f"v6-{number}.svg"
        assert run_demo("--mode", "relay", "--host", "::1", "--screenshot", str(target)).returncode == 0
        shots.append(target.read_bytes())
    assert shots[0] == shots[1] == shots[2]
    assert b"[::1]:PORT" in shots[0]


def test_ipv6_server_and_client_roles(background):
    server = background("--mode", "echo", "--role", "server", "--host", "::1", "--port", "0")
    port = server.listening_port()
    with socket.create_connection(("::1", port), timeout=10) as student:          # netcat's way
        student.sendall(b"over six\n")
        assert recv_line(student).startswith(b"ECHO: over six (from ")
    client = run_demo("--mode", "echo", "--role", "client", "--host", "::1", "--port", str(port),
                      "--send", "hello", "--send", "quit")
    assert client.returncode == 0, client.stderr
    assert "AF_INET6" in client.stdout and "ECHO: hello" in client.stdout
    server.interrupt()


def test_every_address_serves_ipv4_clients_too_where_the_os_allows(background):
    server = background("--mode", "echo", "--role", "server", "--host", "::", "--port", "0")
    port = server.listening_port()
    text = server.wait_for("IPV6_V6ONLY = 0")
    assert "connect: nc " in server.wait_for("students cannot connect?")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as old_client:
        old_client.sendall(b"from ipv4\n")
        assert recv_line(old_client).startswith(b"ECHO: from ipv4")
    server.interrupt()
    assert "bind       [::]:0" in text


def test_a_host_name_is_resolved_and_each_address_tried_in_order():
    """A name resolves to every address getaddrinfo gives, in order: the client connects to the
    first that answers (here this machine's localhost), narrating a refused one as it goes."""
    from narration.run import Run
    from narration.scene import Scene, perform

    mode = modes.load("echo")
    server_run = Run()
    me = server_run.actor("server")
    server_run.start(me, mode.server, me, ("127.0.0.1", 0), server_run.ready)
    _, port = server_run.ready.wait(5)
    expected = [target[:2] for *_, target in socket.getaddrinfo("localhost", port, 0, socket.SOCK_STREAM)]
    client_run = Run()
    perform(client_run, Scene(parts={"client": ("hi", "quit")}), mode.client, ("localhost", port))
    server_run.finish()
    connected = [e.peer for e in shown(client_run) if isinstance(e, Connect)]
    refused = [e for e in shown(client_run) if e.call == "error"]
    assert connected == [("127.0.0.1", port)] and not client_run.failures
    assert len(refused) == expected.index(("127.0.0.1", port))     # every address before it was tried
