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
