"""The views: each a pure function of the events, drawn with rich.

    log      one line per call (``log.LogView``); ``live.LiveView`` prints the same lines as they come
    ladder   a sequence diagram, one lane per actor (``ladder.LadderView``)
    explain  plain-language notes for --explain (data only)

``drawing(events, actor_rank, kind=..., look=...)`` is the renderable for a finished run;
``screenshot_width(kind, events)`` its fixed width in a screenshot; ``play_back`` prints it one
event at a time for a class (--step, --pace).  Drawing the same events twice draws the same.
"""
from __future__ import annotations

SCREENSHOT_WIDTH = 80   # fixed, so a screenshot never depends on the author's terminal


def drawing(events, actor_rank: dict[str, int], *, kind: str = "log", look=None):
    """The renderable for a finished run's events (canonical order): the log or the ladder."""
    from narration.views.log import LogView, Look

    look = look or Look()
    if kind == "ladder":
        from narration.views.ladder import LadderView
        return LadderView(events, actor_rank, look)
    return LogView(events, actor_rank, look)


def screenshot_width(kind: str, events) -> int:
    """80 columns, or wider when a ladder has more lanes than 80 columns hold."""
    if kind != "ladder":
        return SCREENSHOT_WIDTH
    from narration.views.ladder import lane_width_needed
    lanes = len({event.actor for event in events if not event.hidden})
    return max(SCREENSHOT_WIDTH, min(160, lane_width_needed(lanes)))


def play_back(console, view, *, presses=None, pace: float | None = None) -> None:
    """Print a finished run one event at a time: on each Enter (``presses``, an iterator of typed
    lines; once they run out the rest is shown at once), or every ``pace`` seconds."""
    import time

    for row in view.rows(console.width):     # one row per event
        console.print(row)
        if presses is not None:
            if next(presses, None) is None:
                presses = None           # no more Enter presses to read: show the rest at once
            elif console.is_terminal:
                console.file.write("\x1b[1A")   # step back over the line the Enter key echoed
        elif pace:
            time.sleep(pace)             # pacing: a pause for the class to read, not synchronisation
