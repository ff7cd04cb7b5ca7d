"""The chat at classroom scale: our server against `ncat --chat`, over loopback, in one run.

    python bench/chat_load.py [--clients 200] [--seconds 5] [--burst-lines 20] [--rounds 3] [--json]

One load generator (a single selectors loop in this process, plain TCP clients like `nc`) drives
each server in turn, each in its own process:

- join:      all clients connect at once; seconds until every one has had its first line;
- classroom: every client sends a 64-byte line `rate` times a second for `seconds`; each line
             carries its sender, its number and its send time, so each receipt gives a fan-out
             latency, and per sender nothing may be lost, duplicated or reordered;
- burst:     every client sends `burst_lines` lines as fast as it can; delivered lines per second
             (first send to last receipt), and the same checks.

``measure()`` returns the figures as a dict; the command prints them.  Everything is bounded: a
phase that does not complete in time reports what was missing and the run goes on.
"""
from __future__ import annotations

import argparse
import json
import re
import selectors
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE_BYTES = 64
P99_BUDGET_MS = 5.0
JOIN_BUDGET_S = 0.3
PHASE_LIMIT_S = 60.0      # a phase that has not completed by then reports what is missing


# -- the servers --------------------------------------------------------------------------------
class OurServer:
    name = "ours"
    join_window = 10_000        # the whole class connects at once

    def __init__(self, clients: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "_serve.py"), "chat", "--max-clients", str(clients + 10)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        self.address = ("127.0.0.1", int(self.process.stdout.readline()))   # it prints its port

    @staticmethod
    def join_lines(clients: int) -> int:
        """Lines a whole class receives while joining: a welcome each, and each later arrival."""
        return clients + clients * (clients - 1) // 2

    def stop(self) -> None:
        self.process.stdin.close()                 # its cue to finish
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


class LiveRoleServer(OurServer):
    """Ours as a teacher runs it: `demo.py --mode chat --role server`, drawing every event live."""

    name = "ours, --role server with its live view"

    def __init__(self, clients: int) -> None:
        import threading
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "demo.py"), "--mode", "chat", "--role", "server", "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        said = b""
        while (found := re.search(rb"serving chat on [^ ]+:(\d+); Ctrl-C", said)) is None:
            chunk = self.process.stdout.read1(4096)
            if not chunk:
                raise SystemExit(f"the server role did not start: {said.decode(errors='replace')}")
            said += chunk
        self.address = ("127.0.0.1", int(found.group(1)))
        # The terminal's part: read everything it prints, as a terminal would.
        self.drain = threading.Thread(target=lambda: [None for _ in iter(lambda: self.process.stdout.read1(65536), b"")],
                                      daemon=True)
        self.drain.start()

    def stop(self) -> None:
        import signal
        self.process.send_signal(signal.SIGINT)       # Ctrl-C, as the teacher ends it
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.drain.join(5)


def measure_live_view(clients: int = 200, rate: float = 2.0, seconds: float = 5.0) -> dict:
    """Classroom load on the server role a teacher runs, live view and all (stdout read by a pipe)."""
    server = LiveRoleServer(clients)
    crowd = Crowd(server.address, clients)
    try:
        figures = {"join": crowd.join(server.join_lines(clients), server.join_window),
                   "classroom": crowd.classroom(rate, seconds)}
    finally:
        crowd.close()
        server.stop()
    room = figures["classroom"]
    figures["verdict"] = {"zero_loss": room["lost"] == 0 and room["duplicated_or_reordered"] == 0,
                          "classroom_p99": (room.get("p99_ms") or 1e9) <= P99_BUDGET_MS}
    return figures


class NcatServer:
    name = "ncat"
    join_window = 8             # ncat listens with a backlog of 10: a crowd's SYNs are dropped

    def __init__(self, clients: int) -> None:
        path = shutil.which("ncat")
        if path is None:
            raise SystemExit("ncat is not installed: apt-get install ncat (the reference server)")
        with socket.socket() as probe:             # a free port: ncat cannot report one it chose
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [path, "-v", "--chat", "--listen", "127.0.0.1", str(port), "--max-conns", str(clients + 10)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        said = b""
        while b"Listening on" not in said:         # ncat -v says when it listens
            chunk = self.process.stderr.read1(4096)
            if not chunk:
                raise SystemExit(f"ncat did not start: {said.decode(errors='replace')}")
            said += chunk
        self.address = ("127.0.0.1", port)

    @staticmethod
    def join_lines(clients: int) -> int:
        """ncat tells everyone, the newcomer too, two lines per arrival."""
        return clients * (clients + 1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stderr.close()


# -- the load generator -------------------------------------------------------------------------
class Crowd:
    """``count`` plain TCP clients in one selectors loop, checking every line they receive.

    A load line is ``@SSSS QQQQQQ TTTTTTTTTTTTTTTTTTT`` padded to LINE_BYTES: sender, number, and
    send time in nanoseconds.  Any line without '@' is the server talking (welcomes, announcements).
    """

    def __init__(self, address, count: int) -> None:
        self.address = address
        self.count = count
        self.selector = selectors.DefaultSelector()
        self.socks: list[socket.socket] = []
        self.partial = [b""] * count
        self.next_seq = [{b"%04d" % sender: b"000000" for sender in range(count)} for _ in range(count)]
        self.sent = [0] * count
        self.first_line_at: list[float | None] = [None] * count
        self.notices = 0
        self.delivered = 0
        self.out_of_order = 0          # a number other than the next one expected from that sender
        self.echoed = 0                # a client got its own line back
        self.closed = 0
        self.latencies: list[int] | None = None
        self.last_receipt = 0.0

    # -- phases ---------------------------------------------------------------------------------
    def join(self, expected_notices: int, window: int) -> dict:
        """Connect everyone, at most ``window`` at a time still waiting for their first line."""
        started = time.perf_counter()
        deadline = started + PHASE_LIMIT_S
        while len(self.socks) < self.count and time.perf_counter() < deadline:
            waiting = sum(1 for at in self.first_line_at[:len(self.socks)] if at is None)
            for index in range(len(self.socks), min(self.count, len(self.socks) + window - waiting)):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(self.address)           # non-blocking: completes in the background
                self.socks.append(sock)
                self.selector.register(sock, selectors.EVENT_READ, index)
            self._read_ready(0.05)
        self._pump(lambda: self.notices >= expected_notices, deadline)
        firsts = [at for at in self.first_line_at if at is not None]
        return {"seconds": round(max(firsts) - started, 4) if len(firsts) == self.count else None,
                "joined": len(firsts), "at_once": window, "all_announcements": self.notices >= expected_notices}

    def classroom(self, rate: float, seconds: float) -> dict:
        per_client = max(1, round(rate * seconds))
        schedule = sorted(((k + index / self.count) / rate, index)
                          for index in range(self.count) for k in range(per_client))
        self.latencies = []
        return self._exchange(schedule, per_client)

    def burst(self, lines: int) -> dict:
        schedule = [(0.0, index) for _ in range(lines) for index in range(self.count)]
        self.latencies = None
        return self._exchange(schedule, lines)

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
        self.selector.close()

    # -- machinery ------------------------------------------------------------------------------
    def _exchange(self, schedule: list[tuple[float, int]], per_client: int) -> dict:
        before_delivered, before_disorder = self.delivered, self.out_of_order
        expected = len(schedule) * (self.count - 1)
        started = time.perf_counter()
        position = 0

        def done() -> bool:
            return position >= len(schedule) and self.delivered - before_delivered >= expected

        deadline = started + schedule[-1][0] + PHASE_LIMIT_S
        while not done() and time.perf_counter() < deadline:
            now = time.perf_counter() - started
            sends = 0
            while position < len(schedule) and schedule[position][0] <= now and sends < self.count:
                self._send(schedule[position][1])
                position += 1
                sends += 1
            if position < len(schedule) and schedule[position][0] > now:
                wait = schedule[position][0] - now
            else:
                wait = 0.0 if position < len(schedule) else 0.05
            self._read_ready(wait)
        delivered = self.delivered - before_delivered
        seconds = self.last_receipt - started
        result = {"lines_sent": position, "deliveries_expected": expected, "delivered": delivered,
                  "lost": expected - delivered if delivered <= expected else 0,
                  "duplicated_or_reordered": self.out_of_order - before_disorder + max(0, delivered - expected),
                  "echoed": self.echoed, "closed_by_server": self.closed,
                  "seconds": round(seconds, 3),
                  "lines_per_s": round(delivered / seconds) if seconds > 0 else None}
        if self.latencies:
            ordered = sorted(self.latencies)
            result["p50_ms"] = round(ordered[len(ordered) // 2] / 1e6, 2)
            result["p99_ms"] = round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6, 2)
            result["max_ms"] = round(ordered[-1] / 1e6, 2)
        return result

    def _send(self, index: int) -> None:
        seq = self.sent[index]
        self.sent[index] += 1
        head = f"@{index:04d} {seq:06d} {time.perf_counter_ns():019d} ".encode()
        self.socks[index].send(head + b"x" * (LINE_BYTES - 1 - len(head)) + b"\n")

    def _pump(self, finished, deadline: float) -> None:
        while not finished() and time.perf_counter() < deadline:
            self._read_ready(0.05)

    def _read_ready(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            self._receive(key.data)

    def _receive(self, index: int) -> None:
        try:
            data = self.socks[index].recv(1 << 18)
        except BlockingIOError:
            return
        except ConnectionError:
            data = b""
        if not data:
            self.closed += 1
            self.selector.unregister(self.socks[index])
            return
        now = time.perf_counter()
        now_ns = time.perf_counter_ns()
        self.last_receipt = now
        if self.first_line_at[index] is None:
            self.first_line_at[index] = now
        stream = self.partial[index] + data
        cut = stream.rfind(b"\n") + 1               # whole lines only; the rest waits for its end
        whole, self.partial[index] = stream[:cut], stream[cut:]
        timing = self.latencies is not None
        found = (_TIMED_LINE if timing else _LOAD_LINE).findall(whole)   # (sender, number[, sent_ns])
        self.notices += whole.count(b"\n") - len(found)
        self.delivered += len(found)
        expected_next = self.next_seq[index]          # sender -> the number due next, as bytes
        me = b"%04d" % index
        for sender, seq, *_ in found:
            if seq != expected_next[sender]:
                self.out_of_order += 1
                seq = max(seq, expected_next[sender])
            expected_next[sender] = _SUCCESSOR[seq]
            if sender == me:
                self.echoed += 1
        if timing:
            self.latencies.extend(now_ns - int(sent_ns) for _, _, sent_ns in found)


_LOAD_LINE = re.compile(rb"@(\d{4}) (\d{6}) ")
_TIMED_LINE = re.compile(rb"@(\d{4}) (\d{6}) (\d{19}) ")
_SUCCESSOR = {b"%06d" % n: b"%06d" % (n + 1) for n in range(100_000)}   # the next number, as bytes


def measure(clients: int = 200, rate: float = 2.0, seconds: float = 5.0, burst_lines: int = 20,
            rounds: int = 3) -> dict:
    """Both servers under the same load in this run: ncat first, then ours, phase by phase.

    The bursts alternate (ncat, ours, ncat, ours, ...) and each server's figure is its median, so
    a noisy moment on the machine does not decide the ratio.
    """
    figures = {"clients": clients, "rate_per_client": rate, "classroom_seconds": seconds,
               "burst_lines_per_client": burst_lines, "burst_rounds": rounds, "line_bytes": LINE_BYTES}
    servers, crowds = {}, {}
    try:
        for kind in (NcatServer, OurServer):
            servers[kind.name] = kind(clients)
            crowds[kind.name] = Crowd(servers[kind.name].address, clients)
            figures[kind.name] = {"join": crowds[kind.name].join(kind.join_lines(clients), kind.join_window)}
        for name, crowd in crowds.items():
            figures[name]["classroom"] = crowd.classroom(rate, seconds)
        bursts: dict[str, list[dict]] = {name: [] for name in crowds}
        for _ in range(rounds):
            for name, crowd in crowds.items():
                bursts[name].append(crowd.burst(burst_lines))
        for name, runs in bursts.items():
            figures[name]["burst"] = summarise_bursts(runs)
    finally:
        for crowd in crowds.values():
            crowd.close()
        for server in servers.values():
            server.stop()
    ours, ncat = figures["ours"], figures["ncat"]
    ratio = ours["burst"]["lines_per_s"] / ncat["burst"]["lines_per_s"]
    figures["burst_ratio_vs_ncat"] = round(ratio, 2)
    lossless = all(ours[phase]["lost"] == 0 and ours[phase]["duplicated_or_reordered"] == 0
                   and ours[phase]["echoed"] == 0 and ours[phase]["closed_by_server"] == 0
                   for phase in ("classroom", "burst"))
    figures["verdict"] = {
        "zero_loss": lossless,
        "classroom_p99": ours["classroom"]["p99_ms"] <= P99_BUDGET_MS,
        "burst_at_least_ncat": ratio >= 1.0,
        "join_under_0.3s": ours["join"]["seconds"] is not None and ours["join"]["seconds"] < JOIN_BUDGET_S,
    }
    return figures


def summarise_bursts(runs: list[dict]) -> dict:
    """The median rate of the rounds; losses and disorder summed over all of them."""
    rates = sorted(run["lines_per_s"] or 0 for run in runs)
    return {"lines_per_s": rates[len(rates) // 2], "rounds_lines_per_s": [run["lines_per_s"] for run in runs],
            "seconds": [run["seconds"] for run in runs],
            **{key: sum(run[key] for run in runs) for key in ("deliveries_expected", "delivered", "lost",
                                                              "duplicated_or_reordered")},
            "echoed": runs[-1]["echoed"], "closed_by_server": runs[-1]["closed_by_server"]}


def report(figures: dict) -> str:
    lines = [(f"chat load: {figures['clients']} clients, {figures['line_bytes']}-byte lines; classroom"
              f" {figures['rate_per_client']:g} lines/s each for {figures['classroom_seconds']:g} s;"
              f" burst {figures['burst_lines_per_client']} lines each, median of {figures['burst_rounds']} rounds")]
    for name in ("ncat", "ours"):
        join, room, burst = figures[name]["join"], figures[name]["classroom"], figures[name]["burst"]
        lines.append(f"  {name:<4} join:      {join['seconds']} s for {join['joined']} clients"
                     f" ({join['at_once']} at a time at most)" if join["at_once"] < figures["clients"] else
                     f"  {name:<4} join:      {join['seconds']} s for {join['joined']} clients, all at once")
        lines.append(f"       classroom: p50 {room.get('p50_ms')} ms, p99 {room.get('p99_ms')} ms,"
                     f" max {room.get('max_ms')} ms; {room['delivered']}/{room['deliveries_expected']} delivered,"
                     f" lost {room['lost']}, duplicated or reordered {room['duplicated_or_reordered']}")
        lines.append(f"       burst:     {burst['lines_per_s']} lines/s (rounds: {burst['rounds_lines_per_s']});"
                     f" {burst['delivered']}/{burst['deliveries_expected']} delivered, lost {burst['lost']},"
                     f" duplicated or reordered {burst['duplicated_or_reordered']}")
    lines.append(f"  burst ratio ours/ncat: {figures['burst_ratio_vs_ncat']}x")
    verdict = figures["verdict"]
    lines.append("  " + ", ".join(f"{name}: {'ok' if good else 'MISSED'}" for name, good in verdict.items()))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=2.0, help="lines per second per client (classroom)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the classroom phase")
    parser.add_argument("--burst-lines", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="bursts per server (the median counts)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--live-view", action="store_true",
                        help="instead: the classroom load on `demo.py --role server`, live view included")
    options = parser.parse_args()
    if options.live_view:
        figures = measure_live_view(options.clients, options.rate, options.seconds)
        print(json.dumps(figures, indent=2))
        return 0 if all(figures["verdict"].values()) else 1
    figures = measure(options.clients, options.rate, options.seconds, options.burst_lines, options.rounds)
    print(json.dumps(figures, indent=2) if options.json else report(figures))
    return 0 if all(figures["verdict"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
