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

import demo  # noqa: E402
import modes  # noqa: E402
from modes._narrate import Run, canonical  # noqa: E402


def run_mode(name: str, lines=None) -> Run:
    """One whole scripted run of a mode, both ends in this process, as `demo.py --mode` does."""
    mode = modes.load(name)
    run = Run()
    demo.play(mode, run, mode.SCRIPT if lines is None else lines)
    return run


def shown(run: Run) -> list:
    """The run's visible events in canonical order."""
    return [event for event in canonical(run.trace) if not event.hidden]


def outline(run: Run) -> list[tuple]:
    """Who did what, how many bytes: what must not change between two runs of one script."""
    return [(event.actor, event.call, event.size) for event in shown(run)]


def said(run: Run, actor: str) -> list[str]:
    return [event.detail for event in shown(run) if event.actor == actor and event.call == "say"]


class ServerThread:
    """A mode's server running in this process on a free loopback port."""

    def __init__(self, name: str) -> None:
        self.mode = modes.load(name)
        self.run = Run(keep=True)
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

    def start(name: str) -> ServerThread:
        server = ServerThread(name)
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


def server_said(server, text: str, after: int = -1):
    """Wait until the server has printed `text` (after event `after`); returns that event."""
    return server.run.wait_for(lambda e: e.seq > after and e.actor == "server" and e.call == "say"
                               and e.detail == text, actor="test")


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
    """The real OpenBSD netcat; CI installs it, so there it must be present."""
    path = shutil.which("nc")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("netcat (nc) is missing: .ci/run should have installed netcat-openbsd")
        pytest.skip("netcat (nc) is not installed: apt-get install netcat-openbsd")
    return path


class DemoProcess:
    """`python demo.py ARGS` running in the background, read as it prints."""

    def __init__(self, *args: str, stdin=subprocess.PIPE) -> None:
        self.process = subprocess.Popen([sys.executable, "-u", str(ROOT / "demo.py"), *args], cwd=ROOT,
                                        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.seen = b""

    def wait_for(self, text: str, timeout: float = 10) -> str:
        """Read stdout until `text` appears: the child tells us it is ready by printing it."""
        import select
        import time
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never printed {text!r}; printed {self.seen.decode(errors='replace')!r}"
            readable, _, _ = select.select([self.process.stdout], [], [], remaining)
            if readable:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                assert chunk, f"exited before printing {text!r}: {self.seen.decode(errors='replace')!r}"
                self.seen += chunk
        return self.seen.decode(errors="replace")

    def listening_port(self) -> int:
        """The port a server role reports in its 'serving MODE on HOST:PORT' line."""
        import re
        text = self.wait_for("; Ctrl-C stops it")
        return int(re.search(r"serving \S+ on [^ ]+:(\d+); Ctrl-C", text).group(1))

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
