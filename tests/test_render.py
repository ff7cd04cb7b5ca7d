"""Rendering: network text is shown escaped, never obeyed as markup or terminal codes."""
from __future__ import annotations

import io

from conftest import run_mode
from rich.console import Console

from narration.events import Recv, SendAll
from narration.order import canonical, shown
from narration.views import drawing
from narration.views.log import LogView, Look, safe_text
from narration.views.theme import THEME


def render(events, look=None, width=80, view=None) -> str:
    console = Console(file=io.StringIO(), width=width, theme=THEME, force_terminal=True,
                      color_system="truecolor", record=True)
    console.print(view or LogView(events, {"server": 0, "client": 1}, look or Look(times=False)))
    return console.export_text()


def test_markup_and_control_codes_from_the_network_are_inert():
    hostile = b"[bold red]boom[/] \x1b[2J\x1b]0;title\x07 \x00 \xff tab\t end\n"
    event = Recv("client", data=hostile, size=len(hostile), span=(0, len(hostile)))
    text = render([event], width=200)
    assert "[bold red]boom[/]" in text
    assert "\\x1b[2J" in text and "\\x07" in text and "\\x00" in text and "\\xff" in text
    assert "\x1b" not in text and "\x07" not in text


def test_safe_text_has_no_control_characters():
    assert "\x1b" not in safe_text("\x1b[31mred").plain
    assert safe_text("a\nb").plain == "a\\nb"


def test_the_peer_closing_is_spelled_out():
    event = Recv("server", data=b"", size=0, span=(5, 5))
    assert "b'' end of stream" in render([event])


def test_normalised_ports_hide_ephemeral_numbers():
    run = run_mode("echo")
    events = shown(canonical(run.trace))
    port = next(e for e in events if e.call == "connect").local[1]
    text = render(events, Look(times=False, normalise=True))
    assert str(port) not in text
    assert "EPH1" in text and ":PORT" in text


def test_long_lines_wrap_under_their_own_column():
    data = b"word " * 40
    event = SendAll("client", data=data, size=len(data), span=(0, len(data)))
    lines = render([event]).splitlines()
    assert len(lines) > 1
    indent = len(lines[1]) - len(lines[1].lstrip())
    assert indent == lines[0].index("sendall")


def test_a_view_drawn_twice_draws_the_same_twice():
    run = run_mode("ordering")
    events = shown(canonical(run.trace))
    for kind in ("log", "ladder"):
        view = drawing(events, run.trace.actor_rank, kind=kind, look=Look(times=False, normalise=True))
        once, twice = render(events, view=view, width=100), render(events, view=view, width=100)
        assert once == twice


def test_control_characters_are_spelled_from_one_table():
    from narration.text import SPELLING, visible
    for code, spelling in SPELLING.items():
        assert safe_text(chr(code)).plain == spelling
        if code != 0x09:                      # relayed text keeps its tabs
            assert visible(chr(code)) != chr(code)


def test_a_live_view_that_shows_everything_keeps_a_bounded_queue():
    """A client's live view shows every event, so a fast server makes the recorder wait for the
    terminal rather than queue without end."""
    import os
    import threading

    from narration.events import Recorded, Say
    from narration.views.live import LiveView

    read_end, write_end = os.pipe()
    terminal = os.fdopen(write_end, "w", encoding="utf-8")
    console = Console(file=terminal, width=80, theme=THEME, force_terminal=False)
    view = LiveView(console, {"client": 0}, Look(times=False), may_skip=False, limit=50)
    done = threading.Event()

    def record_many():
        for number in range(5000):
            view(Recorded(number, Say("client", f"line {number} " + "x" * 60), "main"))
        done.set()

    threading.Thread(target=record_many, daemon=True).start()
    assert not done.wait(0.5)                      # nobody reads the terminal: the recorder waits ...
    assert view._queue.qsize() <= 50               # ... with at most `limit` events queued
    reader = threading.Thread(target=lambda: [None for _ in iter(lambda: os.read(read_end, 65536), b"")],
                              daemon=True)
    reader.start()
    assert done.wait(20)                           # the terminal reads again: every event is shown
    view.close(timeout=20)
    terminal.close()
    reader.join(5)
    os.close(read_end)


def test_a_live_view_whose_terminal_is_gone_never_holds_up_the_run():
    """The terminal goes away (a closed pipe, a closed window): the view stops showing, and
    recording goes on."""
    import threading

    from narration.events import Recorded, Say
    from narration.views.live import LiveView

    terminal = io.StringIO()
    terminal.close()                                     # every write now fails
    view = LiveView(Console(file=terminal, width=80, theme=THEME), {"client": 0}, Look(times=False),
                    may_skip=False, limit=10)
    done = threading.Event()

    def record_many():
        for number in range(500):
            view(Recorded(number, Say("client", f"line {number}"), "main"))
        done.set()

    threading.Thread(target=record_many, daemon=True).start()
    assert done.wait(10)
    assert view.broken
    view.close(timeout=5)


def test_a_server_views_queued_bytes_are_counted_not_drawn_once_it_has_fallen_behind():
    """A server role's live view that falls behind stops asking for bytes; the bytes it had
    queued by then are counted in its "not shown" line, not drawn: drawing hundreds of them took
    the interpreter from the server thread between every two of its sends (a class's lines then
    waited 0.2-0.5 s)."""
    import threading

    from narration.events import Recorded, Say, Send
    from narration.views.live import LiveView

    release = threading.Event()

    class SlowTerminal(io.StringIO):
        def write(self, text: str) -> int:
            release.wait(10)                     # the terminal is busy with the first line
            return super().write(text)

    class Patient(LiveView):
        SUMMARY_EVERY = 3600.0                   # one "not shown" line, at the end, however slow this machine

    terminal = SlowTerminal()
    view = Patient(Console(file=terminal, width=100, theme=THEME), {"server": 0}, Look(times=False))
    view(Recorded(0, Say("server", "serving chat"), "server"))
    sends = LiveView.BUSY + 100
    for number in range(1, sends + 1):
        view(Recorded(number, Send("server", b"guest-1: hi\n", 12, (12 * number, 12 * number + 12)), "server"))
    assert not view.wants_data                   # behind: the sockets stop building byte events
    release.set()
    view.close(timeout=10)
    shown = terminal.getvalue()
    assert "serving chat" in shown
    assert "guest-1: hi" not in shown            # none of the queued sends drawn ...
    assert f"not shown: {sends} send ({sends * 12} B)" in shown    # ... every one of them counted


def test_a_server_view_draws_no_more_bytes_a_second_than_a_person_can_read():
    """A class's first line is 199 sends in a few milliseconds: a server role's view draws the
    first READABLE of them in a second and counts the rest, so that drawing never holds up the
    server thread for long; connections and notes are drawn whatever the rate."""
    from narration.events import Recorded, Say, Send
    from narration.views.live import LiveView

    class Small(LiveView):
        READABLE = 5
        SUMMARY_EVERY = 3600.0                   # one "not shown" line, at the end

    terminal = io.StringIO()
    view = Small(Console(file=terminal, width=100, theme=THEME), {"server": 0}, Look(times=False))
    for number in range(20):
        view(Recorded(number, Send("server", b"guest-%d: hi\n" % number, 12, (0, 12)), "server"))
    view(Recorded(20, Say("server", "guest-3 joined"), "server"))
    view.close(timeout=10)
    shown = terminal.getvalue()
    assert [n for n in range(20) if f'"guest-{n}: hi' in shown] == [0, 1, 2, 3, 4]
    assert "guest-3 joined" in shown
    assert "not shown: 15 send (180 B)" in shown
    assert not view.wants_data
