"""The lessons of issue 16, each over real loopback sockets: what really happened (the events),
and that two runs render the same, byte for byte."""
from __future__ import annotations

import io
import sys

import pytest
from conftest import shown
from rich.console import Console

from narration import events as ev
from narration import lessons
from narration.run import Run
from narration.views.log import LogView, Look
from narration.views.theme import THEME

linux = pytest.mark.skipif(sys.platform != "linux", reason="reads Linux's TCP_INFO and /proc/net/tcp")


def lesson_run(name: str) -> Run:
    run = Run()
    lessons.load(name).play(run)
    run.finish()
    return run


def rendered(run: Run) -> str:
    """The run as its screenshot draws it: ports normalised, no times."""
    console = Console(file=io.StringIO(), width=80, theme=THEME, record=True)
    console.print(LogView(shown(run), run.trace.actor_rank, Look(times=False, normalise=True)))
    return console.export_text()


def notes(events, actor: str | None = None) -> list[str]:
    return [event.text for event in events if event.call == "note" and actor in (None, event.actor)]


def halves(events) -> tuple[list, list]:
    """A lesson's events before and after the note that starts its fix."""
    start = next(index for index, event in enumerate(events)
                 if event.call == "note" and event.text.startswith("the fix"))
    return events[:start], events[start:]


@pytest.mark.parametrize("name", ["backlog", "half-close", "reset", "time-wait", "nagle", "deadlock"])
def test_a_new_lesson_renders_the_same_twice(name):
    assert rendered(lesson_run(name)) == rendered(lesson_run(name))


# -- half-close ----------------------------------------------------------------------------------
def test_half_close_loses_the_reply_after_close_and_keeps_it_after_shutdown():
    events = shown(lesson_run("half-close"))
    naive, fix = halves(events)
    client_calls = [event.call for event in naive if event.actor == "client" and event.call not in ("note", "say")]
    assert client_calls == ["socket", "connect", "sendall", "close"]          # it never receives
    assert [e.data for e in naive if isinstance(e, ev.SendAll) and e.actor == "server"] == [b"7 words\n"]

    calls = [(event.actor, event.call, getattr(event, "data", getattr(event, "how", None)))
             for event in fix if event.call not in ("note", "say")]
    shut = calls.index(("client", "shutdown", "SHUT_WR"))
    end = calls.index(("server", "recv", b""))                               # the request is whole
    reply = calls.index(("client", "recv", b"7 words\n"))                    # ... and the reply came back
    assert shut < end < reply < calls.index(("client", "recv", b""))
    assert [e for e in fix if isinstance(e, ev.Failure)] == []


@linux
def test_half_close_notes_the_states_the_kernel_reports():
    said = " ".join(notes(shown(lesson_run("half-close"))))
    assert "the server's end is CLOSE_WAIT" in said
    assert "the server's end is CLOSED" in said                              # the reset: the reply is lost
    assert "the client's end is FIN_WAIT_2" in said


# -- reset ---------------------------------------------------------------------------------------
def test_reset_comes_from_unread_bytes_and_linger_zero_and_a_peer_that_has_gone():
    events = shown(lesson_run("reset"))
    failures = [(index, event) for index, event in enumerate(events) if isinstance(event, ev.Failure)]
    assert [(event.actor, event.reset) for _, event in failures[:2]] == [("client", True), ("client", True)]
    closes_before = [[e for e in events[:index] if e.call != "note"][-1] for index, _ in failures[:2]]
    assert all(isinstance(event, ev.Close) and event.actor == "server" for event in closes_before)
    linger = next(index for index, event in enumerate(events) if isinstance(event, ev.SetOption))
    assert events[linger].option == "SO_LINGER" and linger < failures[1][0]

    ticks = [index for index, event in enumerate(events) if isinstance(event, ev.SendAll) and event.actor == "server"]
    assert [events[index].data for index in ticks] == [b"tick 1\n", b"tick 2\n"]
    assert len(failures) == 3 and failures[2][1].actor == "server"
    assert ticks[0] < ticks[1] < failures[2][0]                    # the first send succeeded, the second failed

    clean = next(index for index, event in enumerate(events) if event.call == "say" and "closed cleanly" in event.text)
    assert isinstance(events[clean - 1], ev.Recv) and events[clean - 1].size == 0
    gone = next(index for index, event in enumerate(events) if event.call == "say" and "has gone" in event.text)
    assert isinstance(events[gone - 1], ev.Recv) and events[gone - 1].size == 0
    assert not any(isinstance(event, ev.SendAll) for event in events[gone:])


@linux
def test_reset_notes_the_real_errors_and_no_time_wait():
    said = notes(shown(lesson_run("reset")))
    assert said.count("the real error: ECONNRESET (104), from the RST the peer's kernel sent") == 2
    assert said.count("the kernel's table keeps nothing of that connection: a reset leaves no TIME_WAIT") == 2
    assert "the server's end is now CLOSED" in said
    assert "the second sendall fails: EPIPE (32)" in said


# -- TIME_WAIT -----------------------------------------------------------------------------------
def test_time_wait_holds_the_port_of_the_end_that_closes_first():
    events = shown(lesson_run("time-wait"))
    naive, fix = halves(events)
    closes = [event.actor for event in naive if isinstance(event, ev.Close) and event.peer is not None]
    assert closes == ["server", "client"]                                    # the server closed first
    refused = [event for event in naive if isinstance(event, ev.Failure)]
    assert len(refused) == 1 and refused[0].text.endswith("address already in use")

    closes = [event.actor for event in fix if isinstance(event, ev.Close) and event.peer is not None]
    assert closes == ["client", "server"]                                    # now the client closes first
    assert [e for e in fix if isinstance(e, ev.Failure)] == []
    binds = [event for event in fix if isinstance(event, ev.Bind)]
    assert binds[-1].asked == binds[0].local                                 # the same port, again, at once


@linux
def test_time_wait_notes_each_state_the_kernel_reports():
    said = notes(shown(lesson_run("time-wait")))
    assert said[1:5] == ["the server's end, closed: FIN_WAIT_2 (its FIN acknowledged)",
                         "the client's end: CLOSE_WAIT (the server's FIN came; it may still send)",
                         "the server's end: TIME_WAIT, for 60 seconds on Linux",
                         "the client's end: gone: the kernel keeps nothing of it"]
    assert said[-4:] == ["the server's end: CLOSE_WAIT (the client's FIN came)",
                         "the client's end, closed: FIN_WAIT_2",
                         "the client's end: TIME_WAIT, on the client's own port",
                         "the server's end: gone: the kernel keeps nothing of it"]


# -- backlog -------------------------------------------------------------------------------------
def test_backlog_connect_completes_before_accept_until_the_queue_is_full():
    events = shown(lesson_run("backlog"))
    naive, fix = halves(events)
    first_accept = next(index for index, event in enumerate(naive) if isinstance(event, ev.Accept))
    connected = [event for event in naive[:first_accept] if isinstance(event, ev.Connect)]
    sent = [event for event in naive[:first_accept] if isinstance(event, ev.SendAll)]
    assert connected and len(sent) == len(connected)             # connect() and sendall() before any accept()
    failed = [event for event in naive[:first_accept] if isinstance(event, ev.Failure)]
    assert len(failed) == 1 and failed[0].text.startswith("connect ")
    assert failed[0].actor == f"client{len(connected) + 1}"
    assert sum(isinstance(event, ev.Accept) for event in naive) == len(connected)
    received = [event.data for event in naive if isinstance(event, ev.Recv) and event.actor == "server"]
    assert received == [event.data for event in sent]            # each line was waiting for its accept()

    assert [e for e in fix if isinstance(e, ev.Failure)] == []
    assert sum(isinstance(event, ev.Connect) for event in fix) == len(connected) + 1
    assert [event.backlog for event in events if isinstance(event, ev.Listen)] == [1, 16]


@linux
def test_backlog_on_linux_queues_backlog_plus_one_and_leaves_the_next_in_syn_sent():
    events = shown(lesson_run("backlog"))
    said = notes(events)
    assert said[1].startswith("connect() and sendall() returned, with no accept(): its end is ESTABLISHED")
    assert said[2] == "no connection: the queue is full; its end is SYN_SENT"
    assert said[3].startswith("the kernel queued 2 connections for listen(1); then it drops each new SYN")
    assert [event.text for event in events if isinstance(event, ev.Failure)] == \
        [f"connect 127.0.0.1:{events[2].local[1]}: timed out"]


# -- Nagle and delayed ACK -----------------------------------------------------------------------
def test_nagle_write_write_read_and_its_two_fixes():
    events = shown(lesson_run("nagle"))
    naive, fix = halves(events)
    writes = [[event.size for event in part if isinstance(event, ev.SendAll) and event.actor == "client"]
              for part in (naive, fix)]
    assert writes == [[23, 21, 2], [23, 21, 2]]
    assert [event.size for event in events if isinstance(event, ev.Recv) and event.actor == "server"] == [23] * 4
    nodelay = next(index for index, event in enumerate(fix) if isinstance(event, ev.SetOption))
    assert fix[nodelay].option == "TCP_NODELAY" and fix[nodelay].value == 1
    assert [event.text for event in fix if event.call == "say"] == ["answered at once", "answered at once"]
    assert next(event.text for event in naive if event.call == "say") == "answered at once"


@linux
def test_nagle_stalls_on_linux_and_says_how_long_only_by_kind():
    said = [event.text for event in shown(lesson_run("nagle")) if event.call == "say"]
    assert said == ["answered at once",
                    "waited for the delayed ACK (40 ms or more on Linux): Nagle held the second write",
                    "answered at once", "answered at once"]


# -- buffer deadlock -----------------------------------------------------------------------------
def test_deadlock_both_sendalls_block_then_reader_threads_free_them():
    events = shown(lesson_run("deadlock"))
    naive, fix = halves(events)
    sent = [event for event in naive if isinstance(event, ev.SendAll)]
    assert sorted(event.actor for event in sent) == ["client", "server"] and {e.size for e in sent} == {128 * 1024}
    failed = [event for event in naive if isinstance(event, ev.Failure)]
    assert sorted(event.actor for event in failed) == ["client", "server"]
    assert all("sendall gave up" in event.text for event in failed)
    assert not any(isinstance(event, ev.Recv) for event in naive)                 # neither ever read

    assert [e for e in fix if isinstance(e, ev.Failure)] == []
    for actor in ("server", "client"):
        pieces = [event.size for event in fix if isinstance(event, ev.Recv) and event.actor == actor]
        assert pieces == [16 * 1024] * 8, actor                                    # all of it, a piece at a time
    assert [event.text for event in fix if event.call == "say"] == \
        ["both sendall() calls finished: 131,072 bytes each way, read as they came"]
