"""--quiz (issue 16): questions come from the real events; the replay asks, reads, reveals, scores."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, run_demo, run_mode

from narration import events as ev
from narration.order import canonical
from narration.views.quiz import answered, questions

SERVER, CLIENT = ("127.0.0.1", 5000), ("127.0.0.1", 6000)


def recorded(*pairs) -> list:
    """Records as a run keeps them: (thread, event) in canonical order."""
    return [ev.Recorded(seq, event, thread) for seq, (thread, event) in enumerate(pairs)]


def test_a_recv_that_waited_and_one_that_did_not():
    """Events are data: the client sends before the server calls recv, then again after."""
    records = recorded(("server", ev.Accept("server", SERVER, CLIENT)),
                       ("client", ev.SendAll("client", b"one\n", 4, (0, 4), CLIENT, SERVER)),
                       ("server", ev.Say("server", "busy with something else")),
                       ("server", ev.Recv("server", b"one\n", 4, (0, 4), SERVER, CLIENT)),     # waiting: at once
                       ("client", ev.SendAll("client", b"two\n", 4, (4, 8), CLIENT, SERVER)),
                       ("server", ev.Recv("server", b"two\n", 4, (4, 8), SERVER, CLIENT)))     # it waited
    asked = questions(records)
    assert [(index, asked[index].answer) for index in sorted(asked)] == [(3, 0), (5, 1)]   # accept: netcat's
    assert asked[3].asks == "server calls recv(): what happens next?"
    assert asked[5].happened == "waited, then returned 4 B"


def test_b_empty_is_the_peer_closing_and_accept_after_connect_in_one_thread_returns_at_once():
    """As in a one-thread lesson (the backlog): connect, then accept, on one thread."""
    records = recorded(("main", ev.Listen("server", 1, SERVER)), ("main", ev.Connect("client", CLIENT, SERVER)),
                       ("main", ev.Accept("server", SERVER, CLIENT)), ("main", ev.Close("client", CLIENT, SERVER)),
                       ("main", ev.Recv("server", b"", 0, (0, 0), SERVER, CLIENT)))
    asked = questions(records)
    assert asked[1].answer == 1                  # connect returns before any accept
    assert asked[2].answer == 0                  # the client had connected: accept returns at once
    assert asked[4].answer == 2 and asked[4].happened == "returned b''"
    threaded = recorded(("server", ev.Listen("server", 1, SERVER)), ("client", ev.Connect("client", CLIENT, SERVER)),
                        ("server", ev.Accept("server", SERVER, CLIENT)))
    assert questions(threaded)[2].answer == 1    # its own thread was already waiting in accept


def test_a_ping_that_timed_out_is_asked_about_too():
    run = run_mode("udp-ping")
    asked = questions(canonical(run.trace))
    timed_out = [question for question in asked.values() if question.answer == 2]
    assert len(timed_out) == 2                   # pings 5 and 10 get no reply
    assert {question.asks for question in timed_out} == {"client calls recvfrom(): what happens next?"}


def test_typed_answers():
    assert [answered(text) for text in ("a", " B\n", "3", "", "d", None, "ab")] == [0, 1, 2, None, None, None, None]


def test_the_replay_asks_reads_the_answers_and_scores():
    """echo's 8 questions (connect, accept, 6 recvs), answered over stdin: 6 right, 2 wrong."""
    answers = "b\na\nb\nb\nc\nb\nb\nb\n"
    result = subprocess.run([sys.executable, str(ROOT / "demo.py"), "--mode", "echo", "--quiz"], input=answers,
                            capture_output=True, text=True, timeout=30, cwd=ROOT, env={"COLUMNS": "200"},
                            check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("? ") for line in lines) == 8
    assert sum(line.startswith("✓ right") for line in lines) == 6
    assert sum(line.startswith("✗ it was") for line in lines) == 2
    assert lines[-1] == "quiz: 6 of 8 right"
    first = lines.index("? client calls connect(): what happens next?")
    assert "connect" in lines[first + 5]         # the question, 3 choices, the answer, then the call


def test_quiz_is_not_for_a_live_view_of_both_ends():
    result = run_demo("--mode", "echo", "--quiz", "--interactive")
    assert result.returncode == 2 and "--quiz" in result.stderr


def blocked_in_poll(pid: int) -> bool:
    """Whether a thread of process ``pid`` sleeps in poll() (Linux: /proc/PID/task/*/wchan): the
    client's recv waiting for bytes.  The kernel's word for it is the only signal there is."""
    import glob

    for wchan in glob.glob(f"/proc/{pid}/task/*/wchan"):
        try:
            with open(wchan, encoding="ascii") as where:
                if "poll" in where.read():
                    return True
        except OSError:
            pass
    return False


@pytest.mark.skipif(sys.platform != "linux", reason="sees the client blocked through /proc/PID/task/*/wchan")
def test_a_person_in_the_client_role_is_asked_before_their_own_calls(background):
    """A textbook server the test drives, so that one recv must block and the other cannot."""
    import select
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = background("--mode", "echo", "--role", "client", "--port", str(listener.getsockname()[1]), "--quiz")

        def answer(text: str) -> None:
            client.process.stdin.write(text.encode() + b"\n")
            client.process.stdin.flush()

        client.wait_for("? client calls connect(): what happens next?")
        answer("b")
        conn, _ = listener.accept()
        with conn:
            answer("hello")
            assert conn.recv(100) == b"hello\n"
            client.wait_for_count(r"\? client calls recv\(\)", 1)
            answer("b")                                      # nothing sent yet: it must block
            for _ in range(1000):                            # bounded: until the recv is waiting
                if blocked_in_poll(client.process.pid):
                    break
                select.select([], [], [], 0.005)
            conn.sendall(b"ECHO: hello\n")
            client.wait_for("waited, then returned")
            answer("quit")
            assert conn.recv(100) == b"quit\n"
            conn.sendall(b"BYE\n")                           # before the question: it returns at once
            client.wait_for_count(r"\? client calls recv\(\)", 2)
            answer("a")
            code, out, err = client.finish()
    assert code == 0, err
    assert out.count("✓ right") == 3
    assert "quiz: 3 of 3 right" in out


def test_a_sendall_that_will_wait_is_asked_about_and_one_that_will_not_is_not():
    """A peer that stops reading: once the kernel has no room, the person is asked before sendall."""
    import io
    import socket
    import threading

    from rich.console import Console

    from narration.run import Run
    from narration.views.quiz import LiveQuiz

    run = Run(keep=False)
    shown = io.StringIO()
    me = run.actor("client")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sock = me.socket()
        sock.connect(listener.getsockname())
        peer, _ = listener.accept()
        run.quiz = LiveQuiz(Console(file=shown, width=200), iter(["b"]))     # asks on the thread that sends
        with peer, sock:
            sending = threading.Thread(target=sock.sendall, args=(b"fits\n",))   # room: no question
            sending.start()
            sending.join(5)
            assert "sendall" not in shown.getvalue()
            sock.real.setblocking(False)
            try:
                while True:                                   # fill every buffer on the way
                    sock.real.send(b"x" * 65536)
            except BlockingIOError:
                pass
            sock.real.setblocking(True)
            sending = threading.Thread(target=sock.sendall, args=(b"more\n",))
            sending.start()
            while "? client calls sendall()" not in shown.getvalue():   # asked before it waits
                sending.join(0.01)
            peer.setblocking(False)
            while sending.is_alive():                         # the peer reads again: room
                try:
                    peer.recv(1 << 20)
                except BlockingIOError:
                    sending.join(0.01)
    assert "✓ right: b) it blocks (waits) until the peer reads and makes room" in shown.getvalue()
    assert run.quiz.score() == "quiz: 1 of 1 right"
