"""Shared helpers: run a mode in this process, start a mode's server, find netcat.

Everything talks over real loopback sockets (127.0.0.1, port 0); nothing is mocked.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import demo
import modes
from narration import events as ev
from narration.order import canonical, stable
from narration.order import shown as visible_events
from narration.run import Run


def run_mode(name: str, lines=None, scene=None) -> Run:
    """One whole scripted run of a mode, both ends in this process, as `demo.py --mode` does
    (``scene`` replaces the mode's own, to try other turns)."""
    mode = modes.load(name)
    run = Run()
    options = demo.parse_arguments(["--mode", name, *[item for line in lines or () for item in ("--send", line)]])
    demo.play(mode, run, options, scene)
    run.finish()
    return run


def shown(run: Run) -> list:
    """The run's visible events in canonical order."""
    return visible_events(canonical(run.trace))


def same_run(run: Run) -> list:
    """The run's visible events with ports made stable: equal for two runs of one script."""
    return stable(shown(run))


def said(run: Run, actor: str) -> list[str]:
    return [event.text for event in shown(run) if event.actor == actor and event.call == "say"]


def heard(run, actor: str) -> list[bytes]:
    """The lines ``actor`` received over its socket (protocol, not narration); b"" marks end of stream."""
    stream, ended = b"", False
    for event in shown(run):
        if event.actor == actor and isinstance(event, ev.Recv):
            stream += event.data
            ended = ended or not event.size
    return stream.splitlines(keepends=True) + ([b""] if ended else [])


def received(trace, peer, data: bytes | None = None, *, timeout: float = 5.0):
    """Wait until the server has received bytes from ``peer`` (a test client's address), the whole
    stream so far ending with ``data`` when given: a socket event, never a sentence."""
    peer = tuple(peer[:2])

    def matches(event) -> bool:
        return (isinstance(event, ev.Recv) and event.size and event.peer == peer
                and (data is None or event.data.endswith(data)))
    return trace.wait_for(matches, timeout)


def closed(trace, peer, *, timeout: float = 5.0):
    """Wait until the server has closed its connection with ``peer``."""
    peer = tuple(peer[:2])
    return trace.wait_for(lambda event: isinstance(event, ev.Close) and event.peer == peer, timeout)


class ServerThread:
    """A mode's server running in this process on a free loopback port."""

    def __init__(self, name: str, *, keep: bool = True) -> None:
        self.mode = modes.load(name)
        self.run = Run(keep=keep)       # keep=False: a long-lived server with no view, as a class has
        me = self.run.actor("server")
        self.thread = self.run.start(me, self.mode.server, me, ("127.0.0.1", 0), self.run.ready)
        self.address = self.run.ready.wait(5)

    def connect(self, timeout: float = 5.0) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=timeout)
        return sock

    def stop(self) -> None:
        self.run.stop()


@pytest.fixture
def serve():
    started: list[ServerThread] = []

    def start(name: str, *, keep: bool = True) -> ServerThread:
        server = ServerThread(name, keep=keep)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class Peer:
    """A hand-made client on a real socket that reads whole lines, as netcat shows them."""

    def __init__(self, server) -> None:
        self.sock = server.connect()
        self.file = self.sock.makefile("rb")

    def line(self) -> bytes:
        return self.file.readline()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def recv_line(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Read up to and including one newline (what a netcat user would see as one line)."""
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def netcat() -> str:
    """The real OpenBSD netcat; .ci/run installs it on Linux, so there it must be present."""
    path = shutil.which("nc")
    if path is None:
        if os.environ.get("CI") and sys.platform == "linux":
            pytest.fail("netcat (nc) is missing: .ci/run should have installed netcat-openbsd")
        pytest.skip("netcat (nc) is not installed: apt-get install netcat-openbsd")
    return path


# Tests that drive a process through pipes with select() and signals (or Linux's own tools): these
# run on Linux and macOS; Windows has neither select() on pipes nor SIGINT for a child process.
POSIX_FIXTURES = {"background", "netcat"}


def pytest_configure(config):
    config.addinivalue_line("markers", "posix: needs POSIX process control (signals, select() on pipes)")


def pytest_collection_modifyitems(config, items):
    if sys.platform != "win32":
        return
    skip = pytest.mark.skip(reason="POSIX only: signals and select() on pipes drive this test (not on Windows)")
    for item in items:
        if POSIX_FIXTURES & set(item.fixturenames) or item.get_closest_marker("posix"):
            item.add_marker(skip)


class DemoProcess:
    """`python demo.py ARGS` running in the background, read as it prints."""

    def __init__(self, *args: str, stdin=subprocess.PIPE) -> None:
        # Wide, so that no line a test looks for is wrapped in two.
        self.process = subprocess.Popen([sys.executable, "-u", str(ROOT / "demo.py"), *args], cwd=ROOT,
                                        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env={**os.environ, "COLUMNS": "200"})
        self.seen = b""

    def wait_for_count(self, pattern: str, count: int = 1, timeout: float = 10) -> str:
        """Read stdout until the regular expression ``pattern`` has matched ``count`` times."""
        import re
        import select
        import time
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, self.seen.decode(errors="replace"))) < count:
            remaining = deadline - time.monotonic()
            printed = self.seen.decode(errors="replace")
            assert remaining > 0, f"never matched {pattern!r} {count} times; printed {printed!r}"
            readable, _, _ = select.select([self.process.stdout], [], [], remaining)
            if readable:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                assert chunk, f"exited before matching {pattern!r}: {printed!r}"
                self.seen += chunk
        return self.seen.decode(errors="replace")

    def wait_for(self, text: str, timeout: float = 10) -> str:
        """Read stdout until `text` appears: the child tells us it is ready by printing it."""
        import re
        return self.wait_for_count(re.escape(text), 1, timeout)

    def listening_port(self) -> int:
        """The port a server role listens on, read from its listen() line (a socket event)."""
        import re
        listening = r"listen +backlog \d+; waiting for connections on \S+:(\d+)"
        return int(re.search(listening, self.wait_for_count(listening)).group(1))

    def interrupt(self, timeout: float = 5) -> tuple[int, float, str]:
        """Ctrl-C: returns (exit code, seconds it took to exit, stderr)."""
        import signal
        import time
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started, self.process.stderr.read().decode(errors="replace")

    def finish(self, input: bytes | None = None, timeout: float = 10) -> tuple[int, str, str]:
        out, err = self.process.communicate(input=input, timeout=timeout)
        return self.process.returncode, (self.seen + out).decode(errors="replace"), err.decode(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


@pytest.fixture
def background():
    started: list[DemoProcess] = []

    def start(*args: str, **kwargs) -> DemoProcess:
        process = DemoProcess(*args, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


class LineProcess:
    """A line-based client process (netcat, say) driven through pipes, read with timeouts."""

    def __init__(self, *command: str) -> None:
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pending = b""

    def send(self, line: bytes) -> None:
        self.process.stdin.write(line)
        self.process.stdin.flush()

    def line(self, timeout: float = 10) -> bytes:
        import select
        import time
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no whole line within {timeout} s; have {self.pending!r}"
            readable, _, _ = select.select([self.process.stdout], [], [], remaining)
            if readable:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line + b"\n" if _ else line

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


def free_port() -> int:
    """A port nobody listens on right now (the OS picked it; we release it at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_demo(*args: str, timeout: float = 20, **kwargs) -> subprocess.CompletedProcess:
    """`python demo.py ARGS` as a person would type it."""
    return subprocess.run([sys.executable, str(ROOT / "demo.py"), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, **kwargs)


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker more than the cores.  Many tests wait on another process or a socket
    (a subprocess's start-up, a run's deliberate timeouts), so one spare worker keeps the cores busy:
    on 2 cores the suite takes about 50 s with 3 workers, 55 s with 2."""
    import os

    return (os.cpu_count() or 1) + 1
