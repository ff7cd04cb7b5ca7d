"""UDP: datagram events in the kit, the udp-echo and udp-ping modes, the datagrams lesson, and
real UDP peers (netcat -u, textbook clients and servers) against the split roles."""
from __future__ import annotations

import functools
import io
import os
import re
import socket
import subprocess
import sys
import threading

import pytest
from conftest import ROOT, LineProcess, run_demo, run_mode, said, same_run, shown
from rich.console import Console

from modes import udp_echo, udp_ping
from narration import lessons
from narration.events import Bind, Milestone, RecvFrom, SendTo, SetTimeout, Socket, Step, TimedOut
from narration.order import datagrams, lost, stable
from narration.run import Run
from narration.text import timeless
from narration.views.ladder import LadderView
from narration.views.log import LogView, Look
from narration.views.theme import THEME

LOOPBACK = ("127.0.0.1", 0)


@pytest.fixture
def fast_pings(monkeypatch):
    """The pinger's timeout, shortened for in-process runs (a loopback reply takes well under 1 ms)."""
    monkeypatch.setattr(udp_ping, "TIMEOUT", 0.1)


def drawn(view_class, events, actor_rank, width: int = 80, **look) -> str:
    console = Console(file=io.StringIO(), width=width, theme=THEME, record=True)
    console.print(view_class(events, actor_rank, Look(times=False, normalise=True, **look)))
    return console.export_text()


def bound_udp(actor):
    """A narrated UDP socket bound to a free loopback port."""
    sock = actor.socket(kind=socket.SOCK_DGRAM)
    sock.bind(LOOPBACK)
    return sock


def lesson_run(name: str) -> Run:
    run = Run()
    lessons.load(name).play(run)
    run.finish()
    return run


# -- the pure rules ------------------------------------------------------------------------------
def test_udp_echo_answers_one_datagram_with_one_line():
    assert udp_echo.answer(b"hello", ("127.0.0.1", 4242)) == b"ECHO: hello (from 127.0.0.1:4242)\n"
    assert udp_echo.answer(b"hello\r\n", ("127.0.0.1", 1)) == b"ECHO: hello (from 127.0.0.1:1)\n"   # netcat's line end
    assert udp_echo.answer(b"quit\n", ("127.0.0.1", 1)) == b"BYE (from 127.0.0.1:1)\n"
    assert udp_echo.answer(b"\xff", ("127.0.0.1", 1)) == b"error: that was not UTF-8 text\n"
    assert udp_echo.answer(b"", ("127.0.0.1", 1)).startswith(b"error: empty line")


def test_the_loss_switch_drops_the_same_pings_every_time():
    assert [n for n in range(1, 11) if udp_ping.dropped(n, 0.2)] == [5, 10]
    assert [n for n in range(1, 11) if udp_ping.dropped(n, 0.3)] == [4, 7, 10]
    assert [n for n in range(1, 11) if udp_ping.dropped(n, 0.5)] == [2, 4, 6, 8, 10]
    assert not any(udp_ping.dropped(n, 0) for n in range(1, 101))
    assert all(udp_ping.dropped(n, 1) for n in range(1, 101))
    assert sum(udp_ping.dropped(n, 0.07) for n in range(1, 101)) == 7


def test_ping_messages_replies_and_statistics():
    ping = udp_ping.ping_message(3, 1712345678.25)
    assert ping == b"Ping 3 1712345678.250000"
    assert udp_ping.pong(ping) == b"PING 3 1712345678.250000"
    assert udp_ping.parse_pong(b"PING 3 1712345678.250000") == (3, 1712345678.25)
    assert udp_ping.parse_pong(b"hello there") is None and udp_ping.parse_pong(b"PING x y") is None
    assert udp_ping.statistics(10, [0.001, 0.002, 0.003]) == \
        "10 sent, 3 received, 70% lost; RTT min 1.000 ms, avg 2.000 ms, max 3.000 ms"
    assert udp_ping.statistics(2, []) == "2 sent, 0 received, 100% lost; no replies, so no round-trip times"


def test_time_figures_become_placeholders():
    assert timeless("PING 3 1712345678.250000, RTT 0.081 ms") == "PING 3 TIMESTAMP, RTT #.### ms"
    assert timeless("timed out after 0.5 s; port 41234; 12.5 ms") == "timed out after 0.5 s; port 41234; 12.5 ms"


# -- the kit: events over real loopback sockets ---------------------------------------------------
def test_each_sendto_is_one_recvfrom_never_merged_or_split():
    run = Run()
    receiver = bound_udp(run.actor("server"))
    address = receiver.getsockname()
    sender = run.actor("client").socket(kind=socket.SOCK_DGRAM)
    messages = [b"one", b"", b"three" * 500, b"four"]
    for message in messages:
        sender.sendto(message, address)
    got = [receiver.recvfrom(4096) for _ in messages]
    assert [data for data, _ in got] == messages
    source = got[0][1]
    events = shown(run)
    assert events == [Socket("server", "AF_INET", "SOCK_DGRAM"), Bind("server", LOOPBACK, address),
                      Socket("client", "AF_INET", "SOCK_DGRAM"),
                      *[SendTo("client", m, len(m), events[3].local, address) for m in messages],
                      *[RecvFrom("server", m, len(m), address, source) for m in messages]]
    assert events[3].local[1] == source[1]               # the ephemeral port the first sendto got
    assert datagrams(events) == {3: 7, 4: 8, 5: 9, 6: 10} and not lost(events)
    receiver.close()
    sender.close()


def test_a_timed_recvfrom_records_its_timeout_then_raises():
    run = Run()
    sock = bound_udp(run.actor("client"))
    sock.settimeout(0.05)
    with pytest.raises(TimeoutError):
        sock.recvfrom(1024)
    local = sock.getsockname()
    assert shown(run)[-2:] == [SetTimeout("client", 0.05, local), TimedOut("client", "recvfrom", 0.05, local)]
    sock.close()


def test_an_untimed_recvfrom_is_quiet_until_a_datagram_is_on_its_way():
    run = Run()
    me = run.actor("server")
    receiver = bound_udp(me)
    run.start(me, lambda: [receiver.recvfrom(1024) for _ in range(2)])
    run.wait_until_quiet(5)                                # waiting, nothing in flight: quiet
    sender = run.actor("client").socket(kind=socket.SOCK_DGRAM)
    sender.sendto(b"ping", receiver.getsockname())
    with run.trace.changed:                                # in flight from the moment sendto is recorded,
        arrived = any(isinstance(r.event, RecvFrom) for r in run.trace.events)   # until it is received
        assert arrived or not run.quiet()
    settled = run.wait_until_quiet(5)
    received = [r.seq for r in run.trace.events if isinstance(r.event, RecvFrom)]
    assert len(received) == 1 and received[0] < settled.seq
    run.finish()
    sender.close()


def test_a_waiting_recvfrom_is_quiet_and_a_timed_one_is_not():
    """The run is quiet only once the timed recvfrom has run out, and the thread waits untimed."""
    run = Run()
    me = run.actor("server")
    sock = bound_udp(me)

    def wait_twice() -> None:
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recvfrom(1024)
        sock.settimeout(None)
        sock.recvfrom(1024)                              # woken by the run stopping

    run.start(me, wait_twice)
    settled = run.wait_until_quiet(5)
    seqs = [record.seq for record in run.trace.events if isinstance(record.event, TimedOut)]
    assert seqs and seqs[0] < settled.seq
    run.finish()
    assert not run.live_threads()
    assert [r.event for r in run.trace.events if isinstance(r.event, Milestone)][-2].step == Step.WOKEN


def test_causes_put_each_recvfrom_after_its_sendto_and_find_lost_datagrams():
    a, b, c = ("127.0.0.1", 1), ("127.0.0.1", 2), ("0.0.0.0", 3)
    events = [SendTo("c", b"x", 1, c, a), SendTo("c", b"y", 1, c, a), SendTo("c", b"z", 1, c, b),
              RecvFrom("s", b"y", 1, a, ("127.0.0.1", 3)), RecvFrom("s", b"x", 1, a, ("127.0.0.1", 3)),
              Bind("t", LOOPBACK, b)]
    assert datagrams(events) == {0: 4, 1: 3, 2: None}      # by bytes first, ports not hosts
    assert lost(events) == {2}                             # port 2 was a socket of this run
    assert lost(events[:5]) == set()                       # a peer outside the run: not seen, not lost
    events = shown(run_mode("udp-echo"))                 # canonical order: each datagram's receipt after it
    for sent, received in datagrams(events).items():
        assert received is not None and sent < received and events[sent].data == events[received].data


# -- the modes, scripted ----------------------------------------------------------------------------
def test_udp_echo_reads_like_the_seed_and_runs_the_same_every_time():
    run = run_mode("udp-echo")
    events = shown(run)
    server_calls = [e.call for e in events if e.actor == "server" and e.call not in ("say", "note")]
    client_calls = [e.call for e in events if e.actor == "client" and e.call not in ("say", "note")]
    assert server_calls == ["socket", "bind", *["recvfrom", "sendto"] * 3, "close"]
    assert client_calls == ["socket", "settimeout", *["sendto", "recvfrom"] * 3, "close"]
    port = next(e for e in events if e.call == "sendto").local[1]
    assert said(run, "client") == [f"ECHO: hello (from 127.0.0.1:{port})",
                                   f"ECHO: sockets are fun (from 127.0.0.1:{port})", f"BYE (from 127.0.0.1:{port})"]
    assert not run.failures and not run.live_threads()
    first = same_run(run)
    for _ in range(3):
        assert same_run(run_mode("udp-echo")) == first


def test_udp_ping_loses_the_fifth_and_tenth_and_sums_up(fast_pings):
    run = run_mode("udp-ping")
    events = shown(run)
    lines = said(run, "client")
    assert [line for line in lines if "timed out" in line] == ["ping 5: Request timed out", "ping 10: Request timed out"]
    replies = [line for line in lines if line.startswith("Reply from 127.0.0.1:")]
    assert len(replies) == 8 and all(re.search(r"PING \d+ \d{10}\.\d{6}, RTT \d+\.\d{3} ms$", r) for r in replies)
    assert re.fullmatch(r"10 sent, 8 received, 20% lost; RTT min [\d.]+ ms, avg [\d.]+ ms, max [\d.]+ ms", lines[-1])
    assert [e.waited for e in events if isinstance(e, TimedOut)] == ["recvfrom", "recvfrom"]
    assert sum("dropped on purpose" in e.text for e in events if e.call == "note") == 2
    sizes = [e.size for e in events if isinstance(e, SendTo) and e.actor == "client"]
    assert sizes == [24] * 9 + [25]                      # the timestamp has a fixed width
    assert not run.failures and stable(events) == stable(shown(run_mode("udp-ping")))


def test_the_server_loss_switch_is_a_keyword(fast_pings):
    """A textbook pinger (a socket with a timeout, sendto, recvfrom) against loss 0.5, then 0."""
    for loss, expected in ((0.5, [True, False, True, False]), (0, [True] * 4)):
        run = Run(keep=False)
        me = run.actor("server")
        run.start(me, functools.partial(udp_ping.server, loss=loss), me, LOOPBACK, run.ready)
        address = run.ready.wait(5)
        answered = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.1)
            for sequence in range(1, 5):
                sock.sendto(udp_ping.ping_message(sequence, 1712345678.0), address)
                try:
                    answered.append(sock.recvfrom(1024)[0] == udp_ping.ping_message(sequence, 1712345678.0).upper())
                except TimeoutError:
                    answered.append(False)
        run.stop()
        assert answered == expected


# -- the views -------------------------------------------------------------------------------------
def test_the_log_shows_addresses_timeouts_and_no_times(fast_pings):
    run = run_mode("udp-ping")
    text = drawn(LogView, shown(run), run.trace.actor_rank, width=120)
    assert 'sendto     → 24 B to 127.0.0.1:PORT "Ping 1 TIMESTAMP"' in text
    assert 'recvfrom   ← 24 B from 127.0.0.1:EPH1 "Ping 1 TIMESTAMP"' in text
    assert text.count("recvfrom   ✗ timed out after 0.1 s: no datagram arrived") == 2
    assert "» Reply from 127.0.0.1:PORT: PING 1 TIMESTAMP, RTT #.### ms" in text
    assert "RTT min #.### ms, avg #.### ms, max #.### ms" in text
    assert not re.search(r"\d{10}\.\d|\d\.\d{3} ms|:\d{4,5}\b", text)


def test_the_ladder_draws_each_datagram_and_a_lost_one_stops_short():
    run = run_mode("udp-echo")
    rows = drawn(LadderView, shown(run), run.trace.actor_rank).splitlines()
    assert rows[0].split() == ["server", "client"]
    assert sum("◀─" in row or "─▶" in row for row in rows) == 6          # three datagrams each way
    assert any('"hello" 5 B' in row and "◀" in row for row in rows)
    lesson = lesson_run("datagrams")
    rows = drawn(LadderView, shown(lesson), lesson.trace.actor_rank).splitlines()
    lost_rows = [row for row in rows if '"anyone there?"' in row]
    assert len(lost_rows) == 1 and "✗─" in lost_rows[0] and "◀" not in lost_rows[0]
    server_lane = rows[0].index("server") + len("server") // 2
    assert lost_rows[0][server_lane + 1:].lstrip().startswith("✗")    # it stops short of the server
    assert "✗ lost: no recvfrom ever returned this datagram" in drawn(LogView, shown(lesson), lesson.trace.actor_rank)


def test_explain_and_wire_know_datagrams():
    out = run_demo("--mode", "udp-echo", "--explain", "--wire").stdout
    for words in ("SOCK_DGRAM: UDP", "sendto(data, address) sends one datagram", "recvfrom(n) returns one whole",
                  "settimeout(s) makes", "one whole datagram of 5 bytes"):
        assert words in out, words


def test_the_datagrams_lesson_contrasts_stream_and_datagrams():
    lesson = lesson_run("datagrams")
    lines = said(lesson, "server")
    assert lines[0] == "TCP: 2 sends, 1 recv: 'helloworld': merged, the boundary is gone"
    assert lines[1] == "TCP: 1 send of 2500 bytes, 1 recv: 1024 bytes: split, the rest waits"
    assert lines[2:] == ["UDP: 1 recvfrom, 1 datagram: 'hello': whole, never merged",
                         "UDP: 1 recvfrom, 1 datagram: 'world': whole, never merged",
                         "UDP: 1 sendto of 2500 bytes, 1 recvfrom: 2500 bytes, whole"]
    events = shown(lesson)
    assert [events[index].data for index in lost(events)] == [b"anyone there?"]
    assert stable(events) == stable(shown(lesson_run("datagrams")))


def test_screenshots_are_byte_identical_run_after_run(tmp_path):
    """Three processes at once, each with its own hash seed, as on other machines (images/ holds
    the others, and tests/test_screenshots.py redraws them byte for byte)."""
    runs = {}
    for name, args in (("ping", ["--mode", "udp-ping"]),):       # the mode whose text holds times
        runs[name] = [(tmp_path / f"{name}{number}.svg", subprocess.Popen(
            [sys.executable, str(ROOT / "demo.py"), *args, "--screenshot", str(tmp_path / f"{name}{number}.svg")],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONHASHSEED": str(number)})) for number in range(3)]
    for name, started in runs.items():
        for target, process in started:
            _, err = process.communicate(timeout=30)
            assert process.returncode == 0, err.decode()
        contents = {target.read_bytes() for target, _ in started}
        assert len(contents) == 1, name
        assert not re.search(rb"\d{10}\.\d{6}|\d\.\d{3} ms", contents.pop())


def test_the_udp_server_shrugs_off_hostile_datagrams(serve):
    server = serve("udp-echo")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        for payload, reply in ((b"\xc3\x28\xff", b"error: that was not UTF-8 text\n"),
                               (b"", b"error: empty line"),
                               (b"z" * 65000, b"ECHO: " + b"z" * udp_echo.BUFSIZE + b" (from"),   # cut, not split
                               (b"\x1b[2J[bold]hi[/bold]", b"ECHO: \x1b[2J[bold]hi[/bold] (from")):
            sock.sendto(payload, server.address)
            assert sock.recvfrom(65536)[0].startswith(reply), payload[:20]
    text = drawn(LogView, shown(server.run), server.run.trace.actor_rank, width=200)
    assert "\x1b" not in text and '"\\x1b[2J[bold]hi[/bold]"' in text     # network text: never markup
    assert server.thread.is_alive()


# -- split roles with real UDP peers ------------------------------------------------------------------
BOUND = re.compile(r"bind +\S+ -> got \S+:(\d+)")


def start_udp_server(background, mode: str):
    server = background("--mode", mode, "--role", "server", "--port", "0")
    return server, int(BOUND.search(server.wait_for_count(BOUND.pattern)).group(1))


def test_the_server_role_serves_netcat_u_and_says_so(background, netcat):
    server, port = start_udp_server(background, "udp-echo")
    assert f"connect: nc -u 127.0.0.1 {port}" in server.wait_for("connect: nc")
    nc = LineProcess(netcat, "-u", "127.0.0.1", str(port))
    try:
        nc.send(b"hello\n")
        assert re.fullmatch(rb"ECHO: hello \(from 127\.0\.0\.1:\d+\)\n", nc.line())
        nc.send(b"quit\n")
        assert nc.line().startswith(b"BYE (from 127.0.0.1:")
    finally:
        nc.close()
    code, seconds, stderr = server.interrupt()
    assert code == 130 and seconds < 1.0 and "Traceback" not in stderr


def test_the_server_role_serves_a_textbook_udp_client(background):
    server, port = start_udp_server(background, "udp-echo")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(b"hello", ("127.0.0.1", port))        # one sendto, no newline ...
        reply, address = sock.recvfrom(1024)               # ... one recvfrom(1024), as in the homework
        mine = sock.getsockname()[1]
    assert reply == f"ECHO: hello (from 127.0.0.1:{mine})\n".encode() and address[1] == port
    server.interrupt()


WIDE = {**os.environ, "COLUMNS": "200"}     # no line a test looks for is wrapped in two


def textbook_udp_server(answer, count: int):
    """The homework server: bind, then recvfrom(1024) and sendto the answer, ``count`` times."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(LOOPBACK)

    def serve() -> None:
        with sock:
            for number in range(1, count + 1):
                data, address = sock.recvfrom(1024)
                reply = answer(number, data)
                if reply is not None:
                    sock.sendto(reply, address)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return sock.getsockname()[1], thread


def test_the_client_role_talks_to_a_textbook_udp_server():
    port, thread = textbook_udp_server(lambda number, data: data.upper(), 2)
    result = run_demo("--mode", "udp-echo", "--role", "client", "--port", str(port), "--send", "hello", "--send", "quit",
                      env=WIDE)
    assert result.returncode == 0, result.stderr
    assert "» HELLO" in result.stdout and "» QUIT" in result.stdout
    thread.join(5)
    assert not thread.is_alive()


def test_the_ping_client_role_against_the_lab_server_that_loses_one():
    port, thread = textbook_udp_server(lambda number, data: None if number == 2 else data.upper(), 3)
    result = run_demo("--mode", "udp-ping", "--role", "client", "--port", str(port), *["--send", "ping"] * 3, env=WIDE)
    assert result.returncode == 0, result.stderr
    assert "» ping 2: Request timed out" in result.stdout
    assert re.search(r"» Reply from 127\.0\.0\.1:\d+: PING 3 \d{10}\.\d{6}, RTT \d+\.\d{3} ms", result.stdout)
    assert "» 3 sent, 2 received, 33% lost; RTT min" in result.stdout
    thread.join(5)
