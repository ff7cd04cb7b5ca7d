"""Our client roles against textbook homework servers (issues 13 and 14), written here as students
write them: one recv(1024), a reply in one send(), and a server that may never close."""
from __future__ import annotations

import os
import socket
import threading

from conftest import run_demo

WIDE = {**os.environ, "COLUMNS": "200"}           # no line a test reads is wrapped in two


class TextbookServer:
    """A student's server: accept one client, then for each recv(1024) send ``answer(data)`` (or
    nothing, for None); close when the client closes, or never (``close=False``)."""

    def __init__(self, answer, *, close: bool = True, greeting: bytes | None = None,
                 until: bytes | None = None) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.answer = answer
        self.close = close
        self.greeting = greeting
        self.until = until                       # the seed's `if data == b"Bye": break`
        self.received: list[bytes] = []
        self.done = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        conn, _ = self.listener.accept()
        if self.greeting:
            conn.send(self.greeting)
        while data := conn.recv(1024):
            self.received.append(data)
            reply = self.answer(data)
            if reply is not None:
                conn.send(reply)
            if data == self.until:
                break
        if self.close:
            conn.close()
        self.done.set()
        self.listener.close()


def test_every_line_of_a_two_line_reply_is_shown():
    server = TextbookServer(lambda data: b"line one\nline two\n")
    result = run_demo("--mode", "echo", "--role", "client", "--port", str(server.port), "--send", "hi",
                      "--send", "quit")
    assert result.returncode == 0, result.stderr
    shown = [line for line in result.stdout.splitlines() if "» " in line]
    assert [line.split("» ")[1] for line in shown[:2]] == ["line one", "line two"]


def test_number_add_shows_a_reply_in_two_lines():
    server = TextbookServer(lambda data: b"Server of Tom: 10\nCombined: 17\n")
    result = run_demo("--mode", "number-add", "--role", "client", "--port", str(server.port), "--send", "7")
    assert result.returncode == 0, result.stderr
    assert "» Server of Tom: 10" in result.stdout and "» Combined: 17" in result.stdout


def test_after_bye_a_client_says_when_the_server_never_closes():
    server = TextbookServer(lambda data: data, close=False, greeting=b"Client X has connected.\n")
    result = run_demo("--mode", "relay", "--role", "client", "--port", str(server.port), "--timeout", "0.5",
                      "--send", "Bye", env=WIDE)
    assert result.returncode == 0, result.stderr
    assert "did not close the chat within 0.5 s; closing it" in result.stdout


def test_after_quit_a_chat_client_says_when_the_server_never_closes():
    server = TextbookServer(lambda data: None, close=False)
    result = run_demo("--mode", "chat", "--role", "client", "--port", str(server.port), "--timeout", "0.5",
                      "--send", "/quit", env=WIDE)
    assert result.returncode == 0, result.stderr
    assert "did not close the connection within 0.5 s; closing it" in result.stdout


def test_raw_framing_ends_a_textbook_chat_that_compares_a_whole_recv_with_bye():
    """The seed's server: `if data == b"Bye": break`.  A line ending in a newline never matches."""
    def answer(data: bytes):
        return b"bye then\n" if data == b"Bye" else b"X: " + data + b"\n"

    line_server = TextbookServer(answer, close=False, greeting=b"Client X has connected.\n")
    run_demo("--mode", "relay", "--role", "client", "--port", str(line_server.port), "--timeout", "0.5",
             "--send", "Bye", env=WIDE)
    assert line_server.received == [b"Bye\n"]                      # never the server's b"Bye"
    raw_server = TextbookServer(answer, greeting=b"Client X has connected.\n", until=b"Bye")
    result = run_demo("--mode", "relay", "--role", "client", "--port", str(raw_server.port), "--framing", "raw",
                      "--send", "hello", "--send", "Bye", env=WIDE)
    assert raw_server.received[-1] == b"Bye" and b"hello" in raw_server.received
    assert "» bye then" in result.stdout and "did not close" not in result.stdout


def test_a_reply_that_never_comes_ends_with_exit_5_after_the_timeout():
    server = TextbookServer(lambda data: None, close=False)          # takes the line, says nothing
    result = run_demo("--mode", "echo", "--role", "client", "--port", str(server.port), "--timeout", "0.5",
                      "--send", "hi", env=WIDE)
    assert result.returncode == 5, result.stderr
    assert "no reply from 127.0.0.1:" in result.stderr and "within 0.5 s" in result.stderr


def test_a_greeting_with_no_newline_is_shown_as_it_arrives():
    """A homework chat server greets with one send() and no newline: the client shows it at once."""
    server = TextbookServer(lambda data: None, greeting=b"Welcome to my chat")
    result = run_demo("--mode", "chat", "--role", "client", "--port", str(server.port), "--send", "/quit",
                      "--timeout", "0.5", env=WIDE)
    assert result.returncode == 0, result.stderr
    assert 'recv       ← 18 B "Welcome to my chat"' in result.stdout


def test_echo_shows_a_reply_with_no_newline_once_the_server_pauses():
    server = TextbookServer(lambda data: data.strip().upper())      # one send(), no newline
    result = run_demo("--mode", "echo", "--role", "client", "--port", str(server.port), "--send", "hi",
                      "--send", "quit", env=WIDE)
    assert result.returncode == 0, result.stderr
    assert "» HI" in result.stdout and "» QUIT" in result.stdout
