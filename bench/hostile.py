"""Hostile load: one misbehaving peer (or a crowd), then how fast an ordinary client is served.

    python bench/hostile.py [--json]

Each server runs alone in its own process (bench/_serve.py, no events kept), as a teacher's would;
its memory is its resident set (VmRSS).  Scenarios (issue 12's "done when"):

- vanished:      a chat peer whose network vanishes with data in flight (TCP_USER_TIMEOUT on the
                 server's end makes it quick; in this process, the only way to reach that end);
- never_reads:   a relay partner that stops reading while the other talks;
- control_lines: 50 chat clients each send one 65 KB line of control bytes;
- flood:         one chat client floods "a\\n" at full speed; 200 listeners; an ordinary line's
                 time to reach every listener, p99;
- crowd_300:     300 chat clients each send 65 KB of control bytes and 64 KiB of "a\\n", and never
                 read: the server's peak memory;
- short_20000:   20,000 short connections (echo, number-add, chat): memory before and after;
- fd_limit:      echo and chat under `ulimit -n 1024`, 1,100 idle connections;
- classroom_1000: 1,000 chat clients joining over 5 s, then one line each per 5 s: p99, loss,
                 duplicates, reordering.

After each: is the server still running, how long an ordinary client took (ms), and whether any
honest client was dropped.  Benchmarks, not tests: bounded in time, nothing asserted.
"""
from __future__ import annotations

import argparse
import json
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import chat_load  # a sibling module, found through the path above


def raise_our_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server(chat_load.OurServer):
    """``bench/_serve.py MODE`` in its own process, optionally under ``ulimit -n`` (stopped as
    chat_load's is: its stdin closed)."""

    def __init__(self, mode: str, *, fd_limit: int | None = None, max_clients: int | None = None) -> None:
        command = [sys.executable, str(ROOT / "bench" / "_serve.py"), mode]
        if max_clients:
            command += ["--max-clients", str(max_clients)]
        if fd_limit:
            command = ["bash", "-c", f"ulimit -n {fd_limit} && exec \"$@\"", "serve", *command]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        self.address = ("127.0.0.1", int(self.process.stdout.readline()))

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def alive(self) -> bool:
        return self.process.poll() is None


def lines_of(sock: socket.socket):
    return sock.makefile("rb")


def ordinary_ms(mode: str, address) -> float | None:
    """One ordinary client's whole exchange, in ms (None if it failed)."""
    started = time.perf_counter()
    try:
        with socket.create_connection(address, timeout=5) as sock, lines_of(sock) as lines:
            if mode == "chat":
                assert lines.readline().startswith(b"* welcome")
                sock.sendall(b"/list\n")
                while not lines.readline().startswith(b"* in #lobby"):
                    pass
            elif mode == "number-add":
                sock.sendall(b"Client of Ann: 3\n")
                assert lines.readline().startswith(b"Server of Demo")
            elif mode == "echo":
                sock.sendall(b"ordinary\n")
                assert lines.readline().startswith(b"ECHO: ordinary")
            else:                                            # relay: a whole pair
                with socket.create_connection(address, timeout=5) as y, lines_of(y) as y_lines:
                    assert lines.readline() == b"Client X has connected.\n"
                    assert y_lines.readline() == b"Client Y has connected.\n"
                    sock.sendall(b"Bye\n")
                    assert lines.readline() == b"X: Bye\n"
    except (OSError, AssertionError):
        return None
    return round((time.perf_counter() - started) * 1000, 1)


def after(server: Server, mode: str, **figures) -> dict:
    return {**figures, "server_running": server.alive(), "ordinary_client_ms": ordinary_ms(mode, server.address),
            "rss_mb": server.rss_mb()}


def chat_people(address, count: int) -> list[socket.socket]:
    people = [socket.create_connection(address, timeout=10) for _ in range(count)]
    for person in people:
        person.setblocking(False)
    return people


def drain(people: list[socket.socket], until: float, stop=lambda: False) -> dict[int, bytes]:
    """Read everything the people are sent until ``until`` or ``stop()``; returns who was closed."""
    selector = selectors.DefaultSelector()
    for index, person in enumerate(people):
        selector.register(person, selectors.EVENT_READ, index)
    heard: dict[int, bytes] = {}
    closed = set()
    while time.monotonic() < until and not stop():
        for key, _ in selector.select(0.05):
            try:
                data = people[key.data].recv(1 << 18)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                closed.add(key.data)
                selector.unregister(people[key.data])
                continue
            heard[key.data] = (heard.get(key.data, b"") + data)[-4096:]
    selector.close()
    return {"closed": len(closed), "tails": heard}


# -- scenarios ------------------------------------------------------------------------------------
def vanished() -> dict:
    """In this process: the server's end of the vanished peer must be reachable for the option."""
    from test_classroom import Person, server_end

    import modes
    from narration.run import Run
    run = Run(keep=False)
    me = run.actor("server")
    run.start(me, modes.load("chat").server, me, ("127.0.0.1", 0), run.ready)
    address = run.ready.wait(5)
    try:
        gone = Person(address, receive_buffer=1024)
        watcher, talker = Person(address), Person(address)
        watcher.until("guest-3 joined")
        with server_end(gone.sock) as end:
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 200)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        for _ in range(40):
            talker.send(b"z" * 2000 + b"\n")
        left = watcher.until("guest-1 left")[-1]
        figures = {"announced": left, "server_running": run.live_threads() != [],
                   "ordinary_client_ms": ordinary_ms("chat", address)}
        gone.sock.close()
        return figures
    finally:
        run.stop()


def never_reads() -> dict:
    """relay: Y never reads while X talks; X reads everything (chat's case: tests/test_chat.py)."""
    server = Server("relay")
    try:
        x = socket.create_connection(server.address, timeout=10)
        y = socket.create_connection(server.address, timeout=10)        # never reads
        x_lines = lines_of(x)
        x_lines.readline()
        reader = threading.Thread(target=lambda: [None for _ in iter(x_lines.readline, b"")], daemon=True)
        reader.start()
        started = time.monotonic()
        try:
            while reader.is_alive() and time.monotonic() - started < 20:
                x.sendall(b"z" * 1000 + b"\n")
        except OSError:
            pass
        reader.join(10)
        seconds = round(time.monotonic() - started, 2)
        x.close()
        y.close()
        return after(server, "relay", seconds_until_the_pair_ended=seconds)
    finally:
        server.stop()


def control_lines(count: int = 50) -> dict:
    server = Server("chat")
    try:
        before = server.rss_mb()
        people = chat_people(server.address, count)
        time.sleep(0.2)                                  # pacing: let the joins settle before measuring
        for person in people:
            person.setblocking(True)
            person.sendall(b"\x01" * 65_000 + b"\n")
            person.setblocking(False)
        peak = before
        result = {}
        done = threading.Event()
        threading.Thread(target=lambda: (result.update(drain(people, time.monotonic() + 3)), done.set()),
                         daemon=True).start()
        while not done.is_set():
            peak = max(peak, server.rss_mb())
            done.wait(0.05)
        refused = sum(1 for tail in result["tails"].values() if b"error: line too long to relay" in tail)
        figures = after(server, "chat", clients=count, rss_before_mb=before, rss_peak_mb=peak,
                        honest_clients_dropped=result["closed"], refused_with_a_reason=refused)
        for person in people:
            person.close()
        return figures
    finally:
        server.stop()


def flood(listeners: int = 200, lines: int = 200) -> dict:
    server = Server("chat", max_clients=listeners + 10)
    try:
        crowd = chat_people(server.address, listeners)
        flooder = socket.create_connection(server.address, timeout=10)
        sender = socket.create_connection(server.address, timeout=10)
        stop = threading.Event()

        def flooding() -> None:
            try:
                while not stop.is_set():
                    flooder.sendall(b"a\n" * 32_768)
            except OSError:
                pass
        threading.Thread(target=flooding, daemon=True).start()
        selector = selectors.DefaultSelector()
        for index, person in enumerate(crowd):
            selector.register(person, selectors.EVENT_READ, index)
        pending = [b""] * listeners
        seen: dict[bytes, set[int]] = {}
        sent_at: dict[bytes, float] = {}
        latencies = []
        closed = 0
        next_send = time.perf_counter() + 0.5
        number = 0
        deadline = time.perf_counter() + lines * 0.05 + 15
        while (number < lines or len(latencies) < len(sent_at)) and time.perf_counter() < deadline:
            now = time.perf_counter()
            if number < lines and now >= next_send:
                tag = b"ordinary-%04d" % number
                sent_at[tag] = now
                sender.sendall(tag + b"\n")
                number += 1
                next_send = now + 0.05
            for key, _ in selector.select(0.005):
                try:
                    data = crowd[key.data].recv(1 << 18)
                except BlockingIOError:
                    continue
                if not data:
                    closed += 1
                    selector.unregister(crowd[key.data])
                    continue
                stream = pending[key.data] + data
                cut = stream.rfind(b"\n") + 1
                pending[key.data] = stream[cut:]
                start = 0
                while (found := stream.find(b"ordinary-", start, cut)) >= 0:
                    tag = stream[found:found + 13]
                    start = found + 13
                    who = seen.setdefault(tag, set())
                    who.add(key.data)
                    if len(who) == listeners:
                        latencies.append(time.perf_counter() - sent_at[tag])
        stop.set()
        ordered = sorted(latencies)
        figures = after(server, "chat", listeners=listeners, ordinary_lines=lines,
                        reached_everyone=len(latencies), listeners_dropped=closed,
                        p50_ms=round(ordered[len(ordered) // 2] * 1000, 2) if ordered else None,
                        p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)
                        if ordered else None)
        for sock in (*crowd, flooder, sender):
            sock.close()
        selector.close()
        return figures
    finally:
        server.stop()


def crowd_300(count: int = 300) -> dict:
    server = Server("chat", max_clients=count + 10)
    try:
        before = server.rss_mb()
        people = chat_people(server.address, count)
        peak = before
        for person in people:
            person.setblocking(True)
            person.settimeout(0.5)
            try:
                person.sendall(b"\x01" * 65_000 + b"\n" + b"a\n" * 32_768)
            except OSError:
                pass
            peak = max(peak, server.rss_mb())
        until = time.monotonic() + 5
        while time.monotonic() < until:
            peak = max(peak, server.rss_mb())
            time.sleep(0.05)                              # pacing: sampling the server's memory
        figures = after(server, "chat", clients=count, rss_before_mb=before, rss_peak_mb=peak)
        for person in people:
            person.close()
        return figures
    finally:
        server.stop()


def short_connections(mode: str, count: int = 20_000) -> dict:
    server = Server(mode)
    try:
        ordinary_ms(mode, server.address)
        before = server.rss_mb()
        failed = sum(ordinary_ms(mode, server.address) is None for _ in range(count))
        time.sleep(0.5)                                   # pacing: let the last threads end
        return after(server, mode, connections=count, failed=failed, rss_before_mb=before,
                     rss_growth_mb=round(server.rss_mb() - before, 1))
    finally:
        server.stop()


def fd_limit(mode: str, idle: int = 1100) -> dict:
    server = Server(mode, fd_limit=1024, max_clients=2000 if mode == "chat" else None)
    try:
        held = []
        for _ in range(idle):
            try:
                held.append(socket.create_connection(server.address, timeout=5))
            except OSError:
                break
        time.sleep(0.5)                                   # pacing: let the server meet its limit
        during = {"server_running": server.alive(), "ordinary_client_ms": ordinary_ms(mode, server.address)}
        for sock in held:
            sock.close()
        started = time.perf_counter()
        served = None
        while served is None and time.perf_counter() - started < 5:
            served = ordinary_ms(mode, server.address)
        return after(server, mode, idle_connections=len(held), during_the_shortage=during,
                     ms_until_served_after_they_close=round((time.perf_counter() - started) * 1000, 1))
    finally:
        server.stop()


def classroom_1000(clients: int = 1000, seconds: float = 10.0) -> dict:
    """Issue 12: a class of 1,000 joining over 5 s (200 connections a second, as a class arrives),
    then one line each per 5 s; p99 of the arrival latency, loss, duplicates, reordering
    (``chat_load.measure_classroom``: a load generator of three processes, each line's latency
    taken by the kernel as it reaches the client, every line checked; then the bare relay under the
    same load, the floor for any one-thread Python server here)."""
    return chat_load.measure_classroom(clients, rate=0.2, seconds=seconds, spread=5.0)


def measure() -> dict:
    raise_our_fd_limit()
    return {
        "vanished (chat)": vanished(),
        "never_reads (relay)": never_reads(),
        "control_lines (chat, 50 x 65 KB)": control_lines(),
        "flood (chat, 200 listeners)": flood(),
        "crowd_300 (chat)": crowd_300(),
        **{f"short_20000 ({mode})": short_connections(mode) for mode in ("echo", "number-add", "chat")},
        **{f"fd_limit 1024 ({mode})": fd_limit(mode) for mode in ("echo", "chat")},
        "classroom_1000 (chat)": classroom_1000(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one scenario function, e.g. flood")
    options = parser.parse_args()
    raise_our_fd_limit()
    figures = globals()[options.only]() if options.only else measure()
    print(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
