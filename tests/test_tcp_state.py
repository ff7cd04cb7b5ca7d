"""The kernel's TCP state and queues, read beside real loopback sockets (issue 16)."""
from __future__ import annotations

import select
import socket
import sys

import pytest

from narration import tcp_state

linux = pytest.mark.skipif(sys.platform != "linux", reason="reads Linux's TCP_INFO, SIOCOUTQ and /proc/net/tcp")


def settled(read, wanted, attempts: int = 200):
    """The kernel gives no signal when a closed connection changes state, so its table is polled,
    a bounded number of times, each a 5 ms wait on nothing."""
    for _ in range(attempts):
        value = read()
        if value == wanted:
            return value
        select.select([], [], [], 0.005)
    return read()


@linux
def test_states_and_queues_follow_a_real_connection():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert tcp_state.of_socket(listener) == tcp_state.Reading("LISTEN", None, None)
        client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
        with conn:
            client.sendall(b"hello")
            assert select.select([conn], [], [], 5)[0]
            assert tcp_state.of_socket(conn) == tcp_state.Reading("ESTABLISHED", 5, 0)
            assert conn.recv(5) == b"hello"
            assert tcp_state.of_socket(conn) == tcp_state.Reading("ESTABLISHED", 0, 0)
            local, peer = client.getsockname(), client.getpeername()
            client.close()                                  # the active close
            assert conn.recv(5) == b""                      # its FIN arrived
            assert tcp_state.of_socket(conn).state == "CLOSE_WAIT"
            assert settled(lambda: tcp_state.after_close(local, peer), "FIN_WAIT_2") == "FIN_WAIT_2"
        assert settled(lambda: tcp_state.after_close(local, peer), "TIME_WAIT") == "TIME_WAIT"


@linux
def test_closing_with_unread_bytes_leaves_no_time_wait_but_a_reset():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
        client.sendall(b"unread")
        assert select.select([conn], [], [], 5)[0]
        local, peer = client.getsockname(), client.getpeername()
        conn.close()                                        # 6 bytes unread: RST, not FIN
        with client, pytest.raises(ConnectionResetError):
            assert select.select([client], [], [], 5)[0]
            client.recv(10)
    assert tcp_state.after_close(local, peer) is None


def test_a_closed_or_udp_socket_has_no_reading():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    assert tcp_state.of_socket(udp) is None
    udp.close()
    assert tcp_state.of_socket(udp) is None


# -- --tcp: the states beside each call of a run ------------------------------------------------------
def tcp_run(mode: str):
    """A scripted run of ``mode`` with --tcp, as demo.py makes it."""
    import demo
    import modes
    from narration.run import Run

    run = Run()
    run.tcp = True
    demo.play(modes.load(mode), run, demo.parse_arguments(["--mode", mode, "--tcp"]))
    run.finish()
    return run


@linux
def test_echo_shows_each_state_as_it_really_occurs():
    from conftest import shown

    events = shown(tcp_run("echo"))
    readings = [event for event in events if event.call == "tcp"]
    after = {events[events.index(reading) - 1].call for reading in readings}
    assert after == {"listen", "connect", "accept", "sendall", "recv", "close"}   # each right after its call
    seen = [(reading.actor, reading.state) for reading in readings] + \
           [(reading.peer_actor, reading.peer_state) for reading in readings if reading.peer_actor]
    assert ("server", "LISTEN") in seen and ("client", "ESTABLISHED") in seen
    closes = [reading for reading in readings if events[events.index(reading) - 1].call == "close"]
    server_close, client_close = closes[0], closes[1]          # the server closes first (the seed's rule)
    assert (server_close.actor, server_close.state) == ("server", "FIN_WAIT_2")
    assert server_close.peer_state == "CLOSE_WAIT"              # the client got the FIN, and has not closed
    assert (client_close.actor, client_close.peer_actor, client_close.peer_state) == ("client", "server", "TIME_WAIT")


@linux
def test_queued_bytes_are_what_was_sent_and_not_yet_received():
    """At each reading, an end's unread bytes are exactly what its peer has sent minus what it has
    received so far, as the events say."""
    from conftest import shown

    events = shown(tcp_run("relay"))
    sent: dict[tuple, int] = {}
    received: dict[tuple, int] = {}
    checked = 0
    for event in events:
        if event.call in ("send", "sendall"):
            sent[(tuple(event.local), tuple(event.peer))] = sent.get((tuple(event.local), tuple(event.peer)), 0) + event.size
        elif event.call == "recv":
            received[(tuple(event.local), tuple(event.peer))] = received.get((tuple(event.local), tuple(event.peer)), 0) + event.size
        elif event.call == "tcp" and event.peer is not None:
            for here, there, unread in ((event.local, event.peer, event.unread), (event.peer, event.local, event.peer_unread)):
                if unread is None:
                    continue
                flow, back = (tuple(here), tuple(there)), (tuple(there), tuple(here))
                assert unread == sent.get(back, 0) - received.get(flow, 0), event
                checked += 1
    assert checked > 40


@linux
def test_a_tcp_run_renders_the_same_every_time(tmp_path):
    from test_screenshots import shoot_three

    for args in (["--mode", "echo"], ["--mode", "chat"], ["--mode", "ordering", "--view", "ladder"]):
        runs = shoot_three(tmp_path, ".txt", *args, "--tcp")
        assert runs[0] == runs[1] == runs[2], args
        assert b"TIME_WAIT" in runs[0] or b"CLOSE_WAIT" in runs[0]
