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


def play_back(console, view, *, presses=None, pace: float | None = None, quiz=None, answers=None) -> None:
    """Print a finished run one event at a time: on each Enter (``presses``, an iterator of typed
    lines; once they run out the rest is shown at once), or every ``pace`` seconds.

    ``quiz`` (``quiz.questions``, by row) stops before those rows to ask what happens next: the
    answer is the next line of ``answers`` (a, b or c), or, with none, the class answers aloud and
    the real outcome follows after a pause.  The score comes last.
    """
    import time

    from rich.text import Text

    from narration.views.quiz import LETTERS, answered

    right = asked = 0
    for index, row in enumerate(view.rows(console.width)):     # one row per event
        question = (quiz or {}).get(index)
        if question is not None:
            asked += 1
            console.print(Text(f"? {question.asks}", style="quiz.ask"))
            for letter, choice in zip(LETTERS, question.choices):
                console.print(Text(f"   {letter}) {choice}", style="quiz.choice"))
            if answers is not None:
                typed = next(answers, None)
                if typed is None:
                    answers = None       # no more answers to read: the rest is revealed at once
                choice = answered(typed)
            else:
                choice = None
                if pace:
                    time.sleep(2 * pace)    # pacing: the class thinks and answers aloud
            truth = f"{LETTERS[question.answer]}) {question.choices[question.answer]}: {question.happened}"
            if choice == question.answer:
                right += 1
                console.print(Text(f"✓ right: {truth}", style="quiz.right"))
            else:
                console.print(Text(f"{'✗' if choice is not None else '→'} it was {truth}", style="quiz.wrong"))
            console.print(row)
            continue
        console.print(row)
        if presses is not None:
            if next(presses, None) is None:
                presses = None           # no more Enter presses to read: show the rest at once
            elif console.is_terminal:
                console.file.write("\x1b[1A")   # step back over the line the Enter key echoed
        elif pace:
            time.sleep(pace)             # pacing: a pause for the class to read, not synchronisation
    if quiz is not None:
        console.print(Text(f"quiz: {right} of {asked} right", style="quiz.ask"))
