"""A student's own programs under narration (issue 15): written here in the shapes seen in
courses, run each in its own process over real loopback sockets, every call reported.

Each shape runs to the end with assertions on its events, and twice through ``demo.main`` with
``--screenshot``: the two SVGs must be byte-identical (another free port each time, too).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT, free_port

import demo
from narration import events as ev
from narration import programs
from narration.order import canonical, shown
from narration.programs import records
from narration.run import Run


def run_demo(*args: str, cwd) -> subprocess.CompletedProcess:
    """`python demo.py ARGS` typed in the folder where the student's programs are."""
    return subprocess.run([sys.executable, str(ROOT / "demo.py"), *args], capture_output=True, text=True,
                          timeout=20, cwd=cwd, check=False)


def write(folder, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


def narrate(folder, script: list[tuple[str, str]]) -> tuple[Run, list]:
    """Run the programs as `demo.py --run ... --send ...` does; the run and its shown events."""
    run = Run()
    programs.play(run, programs.programs_of(script), cwd=folder)
    return run, shown(canonical(run.trace))


def of(events, actor: str, call: str | None = None) -> list:
    return [e for e in events if e.actor == actor and (call is None or e.call == call)]


def said(events, actor: str) -> list[str]:
    return [e.text for e in of(events, actor, "say")]


def notes(events, actor: str) -> list[str]:
    return [e.text for e in of(events, actor, "note")]


def stream(events, actor: str, call: str = "recv") -> bytes:
    return b"".join(e.data for e in of(events, actor, call))


def as_arguments(script) -> list[str]:
    return [item for kind, text in script for item in (f"--{kind}", text)]


def same_screenshot_twice(tmp_path, monkeypatch, capsys, script_of, *extra: str) -> bytes:
    """Two whole runs through the launcher (each on a new free port): identical SVG bytes."""
    monkeypatch.chdir(tmp_path)
    images = []
    for number in range(2):
        target = tmp_path / f"run{number}.svg"
        code = demo.main([*as_arguments(script_of(free_port())), *extra, "--screenshot", str(target)])
        assert code == 0, capsys.readouterr().err
        images.append(target.read_bytes())
    capsys.readouterr()
    if images[0] != images[1]:
        import difflib
        differences = difflib.unified_diff(images[0].decode().splitlines(), images[1].decode().splitlines(), n=0)
        pytest.fail("the two runs drew different images:\n" + "\n".join(list(differences)[:40]))
    assert b"PORT" in images[0]
    return images[0]


# -- 1. a top-level script with input() -------------------------------------------------------
TEXTBOOK = {
    "server.py": """\
        from socket import *
        import sys
        serverPort = int(sys.argv[1])
        serverSocket = socket(AF_INET, SOCK_STREAM)
        serverSocket.bind(('', serverPort))
        serverSocket.listen(1)
        print('The server is ready to receive on port', serverPort)
        while True:
            connectionSocket, addr = serverSocket.accept()
            sentence = connectionSocket.recv(1024).decode()
            connectionSocket.send(sentence.upper().encode())
            connectionSocket.close()
        """,
    "client.py": """\
        from socket import *
        import sys
        clientSocket = socket(AF_INET, SOCK_STREAM)
        clientSocket.connect((sys.argv[1], int(sys.argv[2])))
        sentence = input('Input lowercase sentence:')
        clientSocket.send(sentence.encode())
        modifiedSentence = clientSocket.recv(1024)
        print('From Server:', modifiedSentence.decode())
        clientSocket.close()
        """,
}


def textbook(port: int) -> list[tuple[str, str]]:
    return [("run", f"server.py {port}"), ("run", f"client.py 127.0.0.1 {port}"), ("send", "hello there")]


def test_a_top_level_script_with_input(tmp_path):
    write(tmp_path, TEXTBOOK)
    port = free_port()
    _, events = narrate(tmp_path, textbook(port))
    assert [e.call for e in of(events, "server")][:4] == ["socket", "bind", "listen", "say"]
    assert of(events, "server", "listen")[0].local == ("0.0.0.0", port)
    assert said(events, "client") == ["Input lowercase sentence:hello there", "From Server: HELLO THERE"]
    assert stream(events, "server") == b"hello there"
    assert stream(events, "client") == b"HELLO THERE"
    connect, = of(events, "client", "connect")
    accept, = of(events, "server", "accept")
    assert accept.peer == connect.local and connect.peer == ("127.0.0.1", port)
    # The server loops for ever: once its client has exited it is stopped, as Ctrl-C would.
    assert notes(events, "client") == ["exited with status 0"]
    assert notes(events, "server") == [records.STOPPED, "exited with status 130 (the status Ctrl-C gives)"]
    # Cause orders the processes: the client connects after the server listens, the server
    # receives after the client sent, and the server is stopped after the client has exited.
    position = {id(e): i for i, e in enumerate(events)}
    assert position[id(connect)] > position[id(of(events, "server", "listen")[0])]
    assert position[id(of(events, "server", "recv")[0])] > position[id(of(events, "client", "send")[0])]
    assert position[id(of(events, "server", "note")[0])] > position[id(of(events, "client", "note")[0])]


def test_a_top_level_script_screenshot_is_the_same_every_time(tmp_path, monkeypatch, capsys):
    write(tmp_path, TEXTBOOK)
    image = same_screenshot_twice(tmp_path, monkeypatch, capsys, textbook)
    assert b"python demo.py --run &#x27;server.py PORT&#x27;" in image or b"server.py PORT" in image


# -- 2. a while True accept loop, a thread per client ------------------------------------------
THREADED = {
    "threaded_server.py": """\
        import socket, sys, threading

        def handle(conn, addr):
            with conn:
                while True:
                    data = conn.recv(1024)
                    if not data:
                        break
                    conn.sendall(b"echo: " + data)
            print("done with", addr[0])

        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", int(sys.argv[1])))
        server.listen()
        while True:
            conn, addr = server.accept()
            threading.Thread(target=handle, args=(conn, addr), daemon=True).start()
        """,
    "client.py": """\
        import socket, sys
        sock = socket.create_connection(("localhost", int(sys.argv[1])))
        while True:
            try:
                line = input("> ")
            except EOFError:
                break
            sock.sendall(line.encode())
            print(sock.recv(1024).decode())
        sock.close()
        """,
}


def threaded(port: int) -> list[tuple[str, str]]:
    return [("run", f"threaded_server.py {port}"), ("run", f"client.py {port}"), ("send", "one"), ("send", "two"),
            ("run", f"client.py {port}"), ("send", "three")]


def test_a_while_true_accept_loop_with_a_thread_per_client(tmp_path):
    write(tmp_path, THREADED)
    run, events = narrate(tmp_path, threaded(free_port()))
    # Two runs of client.py are told apart, and each thread of the server is narrated.
    assert said(events, "client-1") == ["> one", "echo: one", "> two", "echo: two", "> "]
    assert said(events, "client-2") == ["> three", "echo: three", "> "]
    assert said(events, "threaded_server") == ["done with 127.0.0.1"] * 2
    threads = {record.thread for record in run.trace.events if record.event.actor == "threaded_server"}
    assert {"threaded_server/0", "threaded_server/1", "threaded_server/2"} <= threads
    assert [e.option for e in of(events, "threaded_server", "setsockopt")] == ["SO_REUSEADDR"]
    assert len(of(events, "threaded_server", "accept")) == 2
    # create_connection("localhost") is narrated too: a socket, then its connect.
    assert [e.call for e in of(events, "client-2")][:2] == ["socket", "connect"]
    assert notes(events, "threaded_server")[0] == records.STOPPED


def test_a_thread_per_client_screenshot_is_the_same_every_time(tmp_path, monkeypatch, capsys):
    write(tmp_path, THREADED)
    same_screenshot_twice(tmp_path, monkeypatch, capsys, threaded, "--view", "ladder")


# -- 3. a two-client server that waits for both -----------------------------------------------
PAIR = {
    "pair_server.py": """\
        from socket import *
        import sys
        s = socket(AF_INET, SOCK_STREAM)
        s.bind(("127.0.0.1", int(sys.argv[1])))
        s.listen(2)
        print("waiting for two players")
        first, _ = s.accept()
        second, _ = s.accept()
        a = int(first.recv(100))
        b = int(second.recv(100))
        for player in (first, second):
            player.sendall(f"sum {a + b}".encode())
            player.close()
        s.close()
        """,
    "player.py": """\
        from socket import *
        import sys
        c = socket(AF_INET, SOCK_STREAM)
        c.connect(("127.0.0.1", int(sys.argv[1])))
        c.sendall(input("your number: ").encode())
        print(c.recv(100).decode())
        c.close()
        """,
}


def pair(port: int) -> list[tuple[str, str]]:
    return [("run", f"pair_server.py {port}"), ("run", f"player.py {port}"), ("send", "20"),
            ("run", f"player.py {port}"), ("send", "22")]


def test_a_two_client_server_that_waits_for_both(tmp_path):
    write(tmp_path, PAIR)
    _, events = narrate(tmp_path, pair(free_port()))
    # The first player cannot finish before the second has connected: the next program starts
    # once the last has connected, not once it has exited.
    assert said(events, "player-1") == ["your number: 20", "sum 42"]
    assert said(events, "player-2") == ["your number: 22", "sum 42"]
    # This server ends by itself: it is never stopped.
    assert notes(events, "pair_server") == ["exited with status 0"]
    assert [e.listening for e in of(events, "pair_server", "close")] == [False, False, True]


def test_a_two_client_server_screenshot_is_the_same_every_time(tmp_path, monkeypatch, capsys):
    write(tmp_path, PAIR)
    same_screenshot_twice(tmp_path, monkeypatch, capsys, pair, "--explain")


# -- 4. a socketserver handler ----------------------------------------------------------------
SOCKETSERVER = {
    "upper_server.py": """\
        import socketserver, sys

        class Upper(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline()
                self.wfile.write(line.upper())

        with socketserver.TCPServer(("127.0.0.1", int(sys.argv[1])), Upper) as server:
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                print("bye")
        """,
    "ask.py": """\
        import socket, sys
        with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
            s.sendall(input().encode() + b"\\n")
            print(s.makefile().readline().strip())
        """,
}


def upper(port: int) -> list[tuple[str, str]]:
    return [("run", f"upper_server.py {port}"), ("run", f"ask.py {port}"), ("send", "shout")]


def test_a_socketserver_handler(tmp_path):
    write(tmp_path, SOCKETSERVER)
    _, events = narrate(tmp_path, upper(free_port()))
    calls = [e.call for e in of(events, "upper_server")]
    assert calls[:3] == ["socket", "bind", "listen"]
    assert "accept" in calls and "shutdown" in calls
    assert stream(events, "upper_server") == b"shout\n"
    assert stream(events, "upper_server", "sendall") == b"SHOUT\n"
    assert said(events, "ask") == ["shout", "SHOUT"]
    # Stopped as Ctrl-C would: the program's own handler runs, and the with block closes its socket.
    assert said(events, "upper_server") == ["bye"]
    assert calls[-4:] == ["note", "say", "close", "note"]
    assert notes(events, "upper_server") == [records.STOPPED, "exited with status 0"]


def test_a_socketserver_screenshot_is_the_same_every_time(tmp_path, monkeypatch, capsys):
    write(tmp_path, SOCKETSERVER)
    same_screenshot_twice(tmp_path, monkeypatch, capsys, upper, "--wire")


# -- 5. a select() chat server ----------------------------------------------------------------
CHAT = {
    "chat_server.py": """\
        import select, socket, sys
        listener = socket.socket()
        listener.bind(("127.0.0.1", int(sys.argv[1])))
        listener.listen(5)
        everyone = [listener]

        def tell_the_others(sender, data):
            for other in everyone:
                if other is not listener and other is not sender:
                    other.sendall(data)

        while True:
            readable, _, _ = select.select(everyone, [], [])
            for sock in readable:
                if sock is listener:
                    conn, _ = listener.accept()
                    everyone.append(conn)
                    continue
                data = sock.recv(1024)
                if data:
                    tell_the_others(sock, data)
                else:
                    everyone.remove(sock)
                    sock.close()
                    tell_the_others(sock, b"(someone left)")
        """,
    # Each step waits for the one before (no two programs race): the listener hears hi-all and
    # answers, the talker hears the answer and leaves, the listener hears that and leaves.
    "listener.py": """\
        import socket, sys
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        print("heard:", s.recv(1024).decode())
        s.sendall(b"thanks")
        print("heard:", s.recv(1024).decode())
        s.close()
        """,
    "talker.py": """\
        import socket, sys
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.sendall(sys.argv[2].encode())
        print("heard:", s.recv(1024).decode())
        s.close()
        """,
}


def chat(port: int) -> list[tuple[str, str]]:
    return [("run", f"chat_server.py {port}"), ("run", f"listener.py {port}"), ("run", f"talker.py {port} hi-all")]


def test_a_select_chat_server(tmp_path):
    write(tmp_path, CHAT)
    _, events = narrate(tmp_path, chat(free_port()))
    assert said(events, "listener") == ["heard: hi-all", "heard: (someone left)"]
    assert said(events, "talker") == ["heard: thanks"]
    assert stream(events, "chat_server", "sendall") == b"hi-allthanks(someone left)"
    assert len(of(events, "chat_server", "accept")) == 2
    assert [e.size for e in of(events, "chat_server", "recv")] == [6, 6, 0, 0]
    assert notes(events, "chat_server") == [records.STOPPED, "exited with status 130 (the status Ctrl-C gives)"]


def test_a_select_chat_screenshot_is_the_same_every_time(tmp_path, monkeypatch, capsys):
    write(tmp_path, CHAT)
    same_screenshot_twice(tmp_path, monkeypatch, capsys, chat, "--view", "ladder")


# -- 6. a UDP pinger ----------------------------------------------------------------------------
PING = {
    "udp_server.py": """\
        from socket import *
        import sys
        serverSocket = socket(AF_INET, SOCK_DGRAM)
        serverSocket.bind(('127.0.0.1', int(sys.argv[1])))
        while True:
            message, address = serverSocket.recvfrom(1024)
            serverSocket.sendto(message.upper(), address)
        """,
    "pinger.py": """\
        from socket import *
        import sys
        clientSocket = socket(AF_INET, SOCK_DGRAM)
        clientSocket.settimeout(1)
        for number in range(1, 4):
            clientSocket.sendto(f"ping {number}".encode(), ("127.0.0.1", int(sys.argv[1])))
            try:
                reply, _ = clientSocket.recvfrom(1024)
                print("Reply:", reply.decode())
            except timeout:
                print("Request timed out")
        clientSocket.close()
        """,
}


def ping(port: int) -> list[tuple[str, str]]:
    return [("run", f"udp_server.py {port}"), ("run", f"pinger.py {port}")]


def test_a_udp_pinger(tmp_path):
    write(tmp_path, PING)
    _, events = narrate(tmp_path, ping(free_port()))
    assert said(events, "pinger") == ["Reply: PING 1", "Reply: PING 2", "Reply: PING 3"]
    assert [e.data for e in of(events, "udp_server", "recvfrom")] == [b"ping 1", b"ping 2", b"ping 3"]
    assert [e.seconds for e in of(events, "pinger", "settimeout")] == [1.0]
    sent = of(events, "pinger", "sendto")
    assert all(e.peer == of(events, "udp_server", "bind")[0].local for e in sent)
    assert notes(events, "udp_server")[0] == records.STOPPED


def test_a_udp_pinger_screenshot_is_the_same_every_time(tmp_path, monkeypatch, capsys):
    write(tmp_path, PING)
    same_screenshot_twice(tmp_path, monkeypatch, capsys, ping)


# -- what is not the narration's: the program's own errors, Python 2 --------------------------
def test_a_programs_own_error_is_its_own_with_its_exit_status(tmp_path):
    write(tmp_path, {"broken.py": """\
        import socket
        s = socket.socket()
        s.connect(("127.0.0.1", int(__import__("sys").argv[1])))
        """})
    result = run_demo("--run", f"broken.py {free_port()}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr      # our narration did not fail
    out = result.stdout
    assert "connect 127.0.0.1:" in out and "Connection refused" in out
    assert "Traceback (most recent call last):" in out
    assert 'File "broken.py", line 3, in <module>' in out
    assert "child.py" not in out and "runpy" not in out       # none of our frames
    assert "ConnectionRefusedError: [Errno" in out
    assert "exited with status 1" in out


def refused(tmp_path, monkeypatch, capsys, *args: str) -> str:
    """What `python demo.py ARGS` says on stderr when it refuses the command line (exit 2)."""
    monkeypatch.chdir(tmp_path)
    assert demo.main(list(args)) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    return err


@pytest.mark.parametrize("source, says", [
    ('print "hello"\n', "print without parentheses"),
    ('name = raw_input("name? ")\n', "raw_input() is Python 2 only"),
    ('try:\n    pass\nexcept OSError, e:\n    pass\n', "line 3: except X, name:"),
])
def test_a_python_2_program_gets_one_clear_line(tmp_path, monkeypatch, capsys, source, says):
    (tmp_path / "old.py").write_text(source)
    err = refused(tmp_path, monkeypatch, capsys, "--run", "old.py")
    assert "old.py: this is a Python 2 program" in err and says in err


@pytest.mark.parametrize("args, says", [
    (["--run", "missing.py"], "--run missing.py: no such file"),
    (["--send", "x", "--run", "hi.py"], "give the --run first"),
    (["--run", "hi.py", "--mode", "echo"], "--mode is for our own modes"),
    (["--run", "hi.py", "--port", "5050"], "--port is for our own modes"),
    (["--run", "hi.py 'unclosed"], "No closing quotation"),
    (["--run", "hi.py", "--tcp"], "--tcp reads the kernel's state"),
])
def test_bad_program_command_lines_get_one_line(tmp_path, monkeypatch, capsys, args, says):
    (tmp_path / "hi.py").write_text("print('hi')\n")
    assert says in refused(tmp_path, monkeypatch, capsys, *args)


# -- cost: many small sends are folded, memory stays bounded ---------------------------------
def test_many_small_sends_are_folded_with_exact_counts(tmp_path):
    write(tmp_path, {
        "sink.py": """\
            import socket, sys
            s = socket.create_server(("127.0.0.1", int(sys.argv[1])))
            conn, _ = s.accept()
            total = 0
            while chunk := conn.recv(65536):
                total += len(chunk)
            print("received", total)
            """,
        "source.py": """\
            import socket, sys
            c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            for _ in range(1000):
                c.sendall(b"x" * 1024)
            c.close()
            """})
    port = free_port()
    run, events = narrate(tmp_path, [("run", f"sink.py {port}"), ("run", f"source.py {port}")])
    sends = of(events, "source", "sendall")
    assert len(sends) == records.SHOWN                         # the first ones one by one, then one fold
    assert [e.count for e in sends] == [1] * (records.SHOWN - 1) + [1000 - records.SHOWN + 1]
    assert sum(e.size for e in sends) == 1024 * 1000
    assert len(sends[-1].data) <= records.KEPT
    assert said(events, "sink") == ["received 1024000"]
    assert sum(e.size for e in of(events, "sink", "recv")) == 1024 * 1000
    assert len(run.trace.events) < 200                           # not one event per call


def test_a_fold_reads_as_one_line(tmp_path):
    from narration.views.log import LogView, Look
    event = ev.SendAll("source", b"x" * 10, 10, (0, 10))
    for _ in range(999):
        event = records.folded(event, ev.SendAll("source", b"x" * 10, 1024, (event.span[1], event.span[1] + 1024)))
    from rich.console import Console
    console = Console(width=100, file=__import__("io").StringIO(), color_system=None)
    console.print(LogView([event], {"source": 0}, Look(times=False)))
    assert "sendall ×1,000 → 1.0 MB in all" in console.file.getvalue()


# -- Ctrl-C ------------------------------------------------------------------------------------
def test_ctrl_c_stops_every_program_shows_what_they_did_and_exits_130(tmp_path, background):
    import socket
    write(tmp_path, {"forever.py": """\
        import socket, sys
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()   # tell the test: listening
        while True:
            conn, _ = server.accept()
        """})
    with socket.create_server(("127.0.0.1", 0)) as told:
        told.settimeout(10)
        demo_process = background("--run", f"{tmp_path / 'forever.py'} {told.getsockname()[1]}")
        told.accept()[0].close()            # the program is listening: a socket event, not a sleep
    code, seconds, err = demo_process.interrupt()
    out = demo_process.process.stdout.read().decode()
    assert code == 130 and seconds < 3
    assert err == "interrupted\n"           # no traceback
    assert "listen" in out and "ended: Ctrl-C stops every program" in out


# -- non-blocking sockets and selectors (the Python documentation's echo server) ----------------
SELECTORS = {
    "selectors_server.py": """\
        import selectors, socket, sys
        sel = selectors.DefaultSelector()

        def accept(sock, mask):
            conn, addr = sock.accept()
            conn.setblocking(False)
            sel.register(conn, selectors.EVENT_READ, read)

        def read(conn, mask):
            data = conn.recv(1000)
            if data:
                conn.send(data)
            else:
                sel.unregister(conn)
                conn.close()

        sock = socket.socket()
        sock.bind(("127.0.0.1", int(sys.argv[1])))
        sock.listen(100)
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, accept)
        while True:
            for key, mask in sel.select():
                key.data(key.fileobj, mask)
        """,
    "nonblocking_client.py": """\
        import select, socket, sys
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", int(sys.argv[1])))      # in progress: select() says when it is done
        select.select([], [s], [])
        s.setblocking(True)
        s.sendall(b"ping")
        print(s.recv(100).decode())
        s.close()
        """,
}


def test_a_selectors_server_with_non_blocking_sockets(tmp_path):
    write(tmp_path, SELECTORS)
    port = free_port()
    _, events = narrate(tmp_path, [("run", f"selectors_server.py {port}"), ("run", f"nonblocking_client.py {port}")])
    server = [e.call for e in of(events, "selectors_server")]
    assert server[:5] == ["socket", "bind", "listen", "settimeout", "accept"]
    assert [e.seconds for e in of(events, "selectors_server", "settimeout")] == [0.0, 0.0]   # setblocking(False)
    assert stream(events, "selectors_server") == b"ping"
    assert stream(events, "selectors_server", "send") == b"ping"
    # A connect that finished while nobody looked (non-blocking) is shown at the first send.
    connect, = of(events, "nonblocking_client", "connect")
    assert connect.peer == ("127.0.0.1", port)
    assert said(events, "nonblocking_client") == ["ping"]
    assert notes(events, "selectors_server") == [records.STOPPED, "exited with status 130 (the status Ctrl-C gives)"]


def test_pace_replays_a_programs_run_as_the_log_shows_it(tmp_path, monkeypatch, capsys):
    write(tmp_path, TEXTBOOK)
    monkeypatch.chdir(tmp_path)
    assert demo.main(as_arguments(textbook(free_port())) + ["--pace", "0"]) == 0
    paced = capsys.readouterr().out
    assert "Input lowercase sentence:hello there" in paced and "exited with status 0" in paced
    assert [line.split()[0] for line in paced.splitlines() if line[:4].strip().isdigit()] == \
        [str(number) for number in range(1, 19)]


def test_interactive_lines_typed_go_to_the_last_program_shown_as_they_happen(tmp_path):
    write(tmp_path, TEXTBOOK)
    port = free_port()
    result = subprocess.run([sys.executable, str(ROOT / "demo.py"), "--run", f"server.py {port}",
                             "--run", f"client.py 127.0.0.1 {port}", "--interactive"],
                            input="typed by hand\n", capture_output=True, text=True, timeout=20, cwd=tmp_path,
                            check=False, env={**__import__("os").environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Input lowercase sentence:" in out and "From Server: TYPED BY HAND" in out
    assert "ms server    recv       ← 13 B \"typed by hand\"" in out       # live: each line with its time
    assert "exited with status 0" in out


# -- a client that never exits: a receiving thread that waits for ever after its input ended ------
FOREVER_CLIENT = {
    "echo_once.py": """\
        import socket, sys
        s = socket.create_server(("127.0.0.1", int(sys.argv[1])))
        conn, _ = s.accept()
        while data := conn.recv(1024):
            conn.sendall(data.upper())
        """,
    "chatty.py": """\
        import socket, sys, threading
        sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))

        def receive():
            while msg := sock.recv(1024):
                print("got", msg.decode())

        threading.Thread(target=receive).start()
        while True:
            sock.sendall(input("say: ").encode())
        """,
}


def forever_client(port: int) -> list[tuple[str, str]]:
    return [("run", f"echo_once.py {port}"), ("run", f"chatty.py {port}"), ("send", "hello")]


def test_a_client_that_never_exits_is_stopped_once_nothing_more_can_happen(tmp_path):
    write(tmp_path, FOREVER_CLIENT)
    _, events = narrate(tmp_path, forever_client(free_port()))
    assert said(events, "chatty") == ["say: hello", "say: ", "got HELLO"]
    assert "EOFError: EOF when reading a line" in [e.text for e in of(events, "chatty", "error")]
    assert notes(events, "chatty") == [records.QUIET_STOP, "exited with status 1"]
    # The server's b'' comes after the client's end: its OS closed the socket (no close() call).
    end_of_stream = next(i for i, e in enumerate(events) if e.actor == "echo_once" and e.call == "recv" and not e.size)
    assert end_of_stream > max(i for i, e in enumerate(events) if e.actor == "chatty")
    assert notes(events, "echo_once") == ["exited with status 0"]


def test_a_client_that_never_exits_screenshot_is_the_same_every_time(tmp_path, monkeypatch, capsys):
    write(tmp_path, FOREVER_CLIENT)
    same_screenshot_twice(tmp_path, monkeypatch, capsys, forever_client)


def test_a_programs_own_exit_status_stderr_and_bytes_written_to_stdout(tmp_path):
    write(tmp_path, {"leaves.py": """\
        import sys
        sys.stdout.buffer.write(b"bytes out\\n")
        print("to stderr", file=sys.stderr)
        sys.exit(3)
        """})
    _, events = narrate(tmp_path, [("run", "leaves.py")])
    assert said(events, "leaves") == ["bytes out"]
    assert [e.text for e in of(events, "leaves", "error")] == ["to stderr"]
    assert notes(events, "leaves") == ["exited with status 3"]


def test_a_server_with_its_own_sigint_handler_is_stopped_through_it(tmp_path):
    write(tmp_path, {
        "polite.py": """\
            import signal, socket, sys

            def bye(signum, frame):
                print("caught SIGINT, closing")
                server.close()
                sys.exit(0)

            signal.signal(signal.SIGINT, bye)
            server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
            while True:
                conn, _ = server.accept()
                conn.sendall(conn.recv(100))
                conn.close()
            """,
        "once.py": """\
            import socket, sys
            with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
                s.sendall(b"x")
                print(s.recv(10).decode())
            """})
    port = free_port()
    _, events = narrate(tmp_path, [("run", f"polite.py {port}"), ("run", f"once.py {port}")])
    assert said(events, "polite") == ["caught SIGINT, closing"]
    assert [e.call for e in of(events, "polite")][-4:] == ["note", "say", "close", "note"]
    assert notes(events, "polite") == [records.STOPPED, "exited with status 0"]


def test_an_asyncio_server_is_narrated_and_stopped_too(tmp_path):
    write(tmp_path, {
        "aserver.py": """\
            import asyncio, sys

            async def handle(reader, writer):
                writer.write((await reader.readline()).upper())
                await writer.drain()
                writer.close()

            async def main():
                server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
                async with server:
                    await server.serve_forever()

            asyncio.run(main())
            """,
        "ask.py": SOCKETSERVER["ask.py"]})
    port = free_port()
    _, events = narrate(tmp_path, [("run", f"aserver.py {port}"), ("run", f"ask.py {port}"), ("send", "quiet")])
    assert stream(events, "aserver") == b"quiet\n"
    assert said(events, "ask") == ["quiet", "QUIET"]
    assert [e.listening for e in of(events, "aserver", "close")] == [False, True]
    assert notes(events, "aserver") == [records.STOPPED, "exited with status 130 (the status Ctrl-C gives)"]


def test_a_screenshot_shows_a_printed_process_id_as_pid(tmp_path, monkeypatch, capsys):
    write(tmp_path, {"whoami.py": "import os\nprint('my pid is', os.getpid())\n"})
    monkeypatch.chdir(tmp_path)
    images = []
    for number in range(2):
        assert demo.main(["--run", "whoami.py", "--screenshot", str(tmp_path / f"{number}.txt")]) == 0
        images.append((tmp_path / f"{number}.txt").read_text())
    out = capsys.readouterr().out
    assert "my pid is PID" in images[0] and images[0] == images[1]
    assert "my pid is PID" not in out                  # the terminal shows the real one


def test_a_select_server_that_also_watches_its_inputs_for_exceptions_is_stopped(tmp_path):
    """The classic select() server passes its inputs as the exceptional list too."""
    write(tmp_path, {
        "motw.py": """\
            import select, socket, sys, queue
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setblocking(0)
            server.bind(("127.0.0.1", int(sys.argv[1])))
            server.listen(5)
            inputs, outputs, message_queues = [server], [], {}
            while inputs:
                readable, writable, exceptional = select.select(inputs, outputs, inputs)
                for s in readable:
                    if s is server:
                        connection, client_address = s.accept()
                        connection.setblocking(0)
                        inputs.append(connection)
                        message_queues[connection] = queue.Queue()
                    else:
                        data = s.recv(1024)
                        if data:
                            message_queues[s].put(data)
                            if s not in outputs:
                                outputs.append(s)
                        else:
                            if s in outputs:
                                outputs.remove(s)
                            inputs.remove(s)
                            s.close()
                            del message_queues[s]
                for s in writable:
                    try:
                        next_msg = message_queues[s].get_nowait()
                    except (queue.Empty, KeyError):
                        if s in outputs:
                            outputs.remove(s)
                    else:
                        s.send(next_msg)
                for s in exceptional:
                    inputs.remove(s)
                    s.close()
            """,
        "ask.py": SOCKETSERVER["ask.py"]})
    port = free_port()
    _, events = narrate(tmp_path, [("run", f"motw.py {port}"), ("run", f"ask.py {port}"), ("send", "back")])
    assert said(events, "ask") == ["back", "back"]
    assert notes(events, "motw") == [records.STOPPED, "exited with status 130 (the status Ctrl-C gives)"]


def test_a_connected_udp_client_send_and_recv_are_datagrams(tmp_path):
    write(tmp_path, {"udp_server.py": PING["udp_server.py"], "cudp.py": """\
        import socket, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", int(sys.argv[1])))
        s.send(b"ping")
        print(s.recv(100).decode())
        s.close()
        """})
    port = free_port()
    _, events = narrate(tmp_path, [("run", f"udp_server.py {port}"), ("run", f"cudp.py {port}")])
    sent, = of(events, "cudp", "sendto")
    got, = of(events, "cudp", "recvfrom")
    assert (sent.data, sent.peer) == (b"ping", ("127.0.0.1", port))
    assert (got.data, got.peer) == (b"PING", ("127.0.0.1", port))
    from narration.order import lost
    assert not lost(events)                   # the server's reply was received: by recv()
    assert said(events, "cudp") == ["PING"]


def test_past_its_first_events_a_programs_data_calls_are_only_counted(tmp_path, monkeypatch):
    from narration.programs import runner
    monkeypatch.setattr(runner, "KEEP_AT_MOST", 40)
    write(tmp_path, {"sink_udp.py": """\
        import socket, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", int(sys.argv[1])))
        while s.recvfrom(10)[0] != b"last":
            pass
        """, "flood.py": """\
        import socket, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(100):
            s.sendto(b"x", ("127.0.0.1", int(sys.argv[1])))
        s.sendto(b"last", ("127.0.0.1", int(sys.argv[1])))
        print("sent")
        """})
    port = free_port()
    _, events = narrate(tmp_path, [("run", f"sink_udp.py {port}"), ("run", f"flood.py {port}")])
    assert len(of(events, "flood", "sendto")) == 40 - 1          # its socket(), then its first 39 sendto
    assert said(events, "flood") == ["sent"]                       # what it prints is always kept
    assert notes(events, "flood") == [f"past its first 40 events, only counted: sendto ×{101 - 39}",
                                      "exited with status 0"]
