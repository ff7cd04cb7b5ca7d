"""One command for every benchmark; writes bench/RESULTS.md with the machine and the date.

    python bench/run.py            # all of them (about a minute)
    python bench/run.py --quick    # fewer repetitions, for a smoke check

What it measures (benchmarks, not timed tests):
- each scripted mode's whole process, as a ratio to the floor program (bench/startup.py);
- chat at classroom load and in a burst, against `ncat --chat` in the same run (bench/chat_load.py),
  and the classroom load on the server role a teacher runs, with its live view;
- regenerating every screenshot (bench/screenshots.py);
- hostile load: one misbehaving peer or a crowd, then an ordinary client (bench/hostile.py);
- a student's programs under narration (--run) against the same programs un-narrated (bench/programs.py).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
            f"Python {platform.python_version()}")


def machine_speed() -> float:
    """Seconds a pure-Python loop of ten million additions takes: this machine's speed at the
    moment (its range on this VM is in the line RESULTS.md opens with)."""
    import time
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return round(time.perf_counter() - started, 2)


def loopback_send_us(readers: int = 999, rounds: int = 200) -> float | None:
    """Microseconds one send() of a 140-byte line to a loopback client takes, in a bare loop over
    ``readers`` clients that another process reads every 50 ms (as chat_load's bulk readers do):
    the floor under the chat's fan-out, and the part of this machine's speed that moves the most."""
    import select
    import socket
    import time
    if not hasattr(os, "fork"):
        return None
    with socket.create_server(("127.0.0.1", 0), backlog=readers) as listener:
        clients = [socket.create_connection(listener.getsockname()) for _ in range(readers)]
        servers = [listener.accept()[0] for _ in range(readers)]
    for sock in servers:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
    child = os.fork()
    if child == 0:                              # the readers: every 50 ms, whatever has come
        try:
            for sock in servers:                # the sender's ends are the parent's alone
                sock.close()
            epoll = select.epoll()
            for sock in clients:
                epoll.register(sock.fileno(), select.EPOLLIN)
            by_fd = {sock.fileno(): sock for sock in clients}
            while True:
                for fd, _ in epoll.poll(0.05):
                    if not by_fd[fd].recv(1 << 16):
                        os._exit(0)
        finally:
            os._exit(0)
    for sock in clients:
        sock.close()
    line = b"x" * 140
    try:
        for sock in servers:                    # one round to warm up
            sock.send(line)
        started = time.perf_counter()
        for _ in range(rounds):
            for sock in servers:
                sock.send(line)
        return round((time.perf_counter() - started) / rounds / readers * 1e6, 2)
    finally:
        for sock in servers:
            sock.close()
        os.waitpid(child, 0)


def section(title: str, measure) -> tuple[str, dict | None]:
    try:
        return title, measure()
    except Exception as error:  # noqa: BLE001 - a missing tool is reported in RESULTS.md, not hidden
        return title, {"error": f"{type(error).__name__}: {error}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    options = parser.parse_args()

    speed_before, send_before = machine_speed(), loopback_send_us()
    import startup
    results = [section("Start-up: whole process per scripted mode", lambda: startup.measure(5 if options.quick else 15))]
    try:
        import chat_load
        results.append(section("Chat: 200 clients against ncat --chat",
                               lambda: chat_load.measure(rounds=1 if options.quick else 3)))
        results.append(section("Chat: classroom load on `demo.py --role server`, live view included",
                               chat_load.measure_live_view))
    except ImportError as error:
        results.append(("Chat: 200 clients against ncat --chat", {"error": f"not available: {error}"}))
    try:
        import screenshots
        results.append(section("Screenshots: regenerating images/", screenshots.measure))
    except ImportError as error:
        results.append(("Screenshots: regenerating images/", {"error": f"not available: {error}"}))

    import hostile
    results.append(section("Hostile load: one misbehaving peer, then an ordinary client", hostile.measure))

    speed_after, send_after = machine_speed(), loopback_send_us()
    lines = ["# Benchmark results", "",
             f"Measured {datetime.date.today().isoformat()} on {machine()}, by `python bench/run.py"
             f"{' --quick' if options.quick else ''}`.", "",
             (f"This machine's speed, before and after the run: a pure-Python loop of 10^7 additions took"
              f" {speed_before} s and {speed_after} s (1.0-1.2 s at quiet moments, up to 2.8 s at others);"
              f" a loopback send() in a bare loop over 999 clients took {send_before} us and {send_after} us"
              " (4.4-9 us over one session). The two move apart, and the latency figures move with the second."), ""]
    lines += ["## Summary", "", *summary(dict(results)), ""]
    for title, figures in results:
        lines += [f"## {title}", "", *render(figures), ""]
    Path(options.output).write_text("\n".join(lines))
    # Programs under narration (--run) write their own section, with its notes.
    import programs
    programs.write_section(programs.markdown(programs.measure(1 if options.quick else 5)), Path(options.output))
    print("\n".join(lines))
    return 0


def summary(results: dict) -> list[str]:
    """The headline figures, each beside its budget; a section that failed says so."""
    out = []
    start = results.get("Start-up: whole process per scripted mode") or {}
    if "modes" in start:
        ratios = [figures["ratio"] for figures in start["modes"].values()]
        out.append(f"- start-up: {min(ratios)}x to {max(ratios)}x the floor program ({start['floor_ms']} ms);"
                   f" budget {start['budget_ratio']}x")
        bare = start.get("ratio_without_bytecode_cache")
        if bare:
            out.append(f"- start-up when every run compiles this project's modules (PYTHONDONTWRITEBYTECODE"
                       f" on a fresh clone): {min(bare.values())}x to {max(bare.values())}x")
    chat = results.get("Chat: 200 clients against ncat --chat") or {}
    if "ours" in chat:
        ours, ncat = chat["ours"], chat["ncat"]
        out.append(f"- chat, 200 clients: join {ours['join']['seconds']} s (budget 0.3 s); classroom p99"
                   f" {ours['classroom']['p99_ms']} ms (ncat {ncat['classroom']['p99_ms']} ms; budget 5 ms);"
                   f" burst {chat['burst_ratio_vs_ncat']}x ncat (budget 1.0x); zero loss: {chat['verdict']['zero_loss']}")
    live = results.get("Chat: classroom load on `demo.py --role server`, live view included") or {}
    if "classroom" in live:
        out.append(f"- chat server role with its live view: classroom p99 {live['classroom']['p99_ms']} ms;"
                   f" zero loss: {live['verdict']['zero_loss']}")
    shots = results.get("Screenshots: regenerating images/") or {}
    if "seconds" in shots:
        out.append(f"- regenerating {shots['images']} images: {shots['seconds']} s (budget {shots['budget_s']} s)")
    for title, figures in results.items():
        if figures and "error" in figures:
            out.append(f"- {title}: not measured: {figures['error']}")
    return out


def render(figures) -> list[str]:
    """Nested dicts as a Markdown list: the benchmarks' own keys name their figures."""
    out = []

    def walk(value, depth: int) -> None:
        for key, item in value.items():
            if isinstance(item, dict):
                out.append(f"{'  ' * depth}- {key}:")
                walk(item, depth + 1)
            else:
                out.append(f"{'  ' * depth}- {key}: {item}")

    walk(figures or {}, 0)
    return out


if __name__ == "__main__":
    sys.exit(main())
