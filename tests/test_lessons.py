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


def test_every_new_lesson_renders_the_same_twice():
    for name in ("half-close",):
        assert rendered(lesson_run(name)) == rendered(lesson_run(name)), name


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
