"""Every client a student has (issue 13): Windows telnet, PuTTY raw and telnet, and the textbook
one-send() client, simulated byte for byte and with their timing, against the real servers."""
from __future__ import annotations

import socket
import time

import pytest
from conftest import recv_line

# What Windows telnet sends first: it offers and asks for options before anything is typed.
WINDOWS_TELNET_HELLO = bytes([255, 251, 31, 255, 251, 32, 255, 251, 24, 255, 251, 39, 255, 253, 1,
                              255, 251, 3, 255, 253, 3])
PUTTY_TELNET_HELLO = bytes([255, 251, 31, 255, 251, 32, 255, 251, 24, 255, 251, 39, 255, 253, 1,
                            255, 251, 3, 255, 253, 3, 255, 250, 31, 0, 80, 0, 24, 255, 240])
KEY_GAP = 0.07      # seconds between a person's keys: longer than the 50 ms pause that ends a line


def windows_telnet(sock: socket.socket, typed: bytes) -> None:
    """Windows telnet in character mode: every key in its own packet, as the person types it."""
    sock.sendall(WINDOWS_TELNET_HELLO)
    for key in typed:
        sock.sendall(bytes([key]))
        time.sleep(KEY_GAP)                  # pacing: a person's typing speed, simulated


def putty_raw(sock: socket.socket, typed: bytes) -> None:
    """PuTTY, connection type Raw: the whole line at Enter, ended by CR LF."""
    sock.sendall(typed)


def putty_telnet(sock: socket.socket, typed: bytes) -> None:
    """PuTTY, connection type Telnet: negotiation (with a subnegotiation), then line by line."""
    sock.sendall(PUTTY_TELNET_HELLO)
    sock.sendall(typed)


CLIENTS = {"windows telnet": windows_telnet, "putty raw": putty_raw, "putty telnet": putty_telnet}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_echo_serves_every_kind_of_terminal_client(serve, client):
    server = serve("echo")
    with server.connect() as sock:
        CLIENTS[client](sock, b"helo\x08lo\r\n" if client == "windows telnet" else b"hello\r\n")
        reply = recv_line(sock)
    assert reply.startswith(b"ECHO: hello (from "), reply


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_number_add_serves_every_kind_of_terminal_client(serve, client):
    server = serve("number-add")
    with server.connect() as sock:
        CLIENTS[client](sock, b"Client of Tel: 8\r\n")
        assert recv_line(sock) == b"Server of Demo: 42; Client of Tel: 8; Combined: 50\n"


def test_a_textbook_client_still_needs_no_newline(serve):
    server = serve("echo")
    with server.connect() as sock:
        sock.send(b"one send")                # one send(), no newline, then one recv(1024)
        assert sock.recv(1024).startswith(b"ECHO: one send (from ")


def test_negotiation_split_across_packets_is_still_taken_out(serve):
    server = serve("echo")
    with server.connect() as sock:
        for piece in (b"\xff", b"\xfb", b"\x18", b"\xff\xfa\x18", b"\x00VT", b"100\xff", b"\xf0", b"hi\r\n"):
            sock.sendall(piece)
        assert recv_line(sock).startswith(b"ECHO: hi (from ")


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_chat_serves_every_kind_of_terminal_client(serve, client):
    server = serve("chat")
    with server.connect() as sock:
        assert recv_line(sock).startswith(b"* welcome, guest-1")
        CLIENTS[client](sock, b"/name tel\x08x\r\n" if client == "windows telnet" else b"/name tex\r\n")
        assert recv_line(sock) == b"* you are now tex\n"
