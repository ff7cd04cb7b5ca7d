"""Drawing a view as rows of rich segments, on one console that nothing about this machine
reaches: what every screenshot and recording is made from.

    render_rows(renderable, width, theme)   the rows an SVG or PNG is drawn from
    stepped_rows(view, width, theme)        the same, with the step (event) each row belongs to
    terminal_console(width, theme)          that console, for writers that want a terminal's bytes
"""
from __future__ import annotations


def terminal_console(width: int, theme: str = "dark"):
    """The screenshot console, for writers that want the terminal's bytes (``.cast``)."""
    return screenshot_console(width, theme=theme)


def screenshot_console(width: int, *, record: bool = False, theme: str = "dark"):
    """The one console every screenshot is drawn on: nothing about this machine's terminal, its
    environment or its Windows console reaches the bytes."""
    import io

    from rich.console import Console

    from narration.views.theme import styles

    return Console(record=record, file=io.StringIO(), width=width, theme=styles(theme), highlight=False,
                   force_terminal=True, color_system="truecolor", legacy_windows=False)


def _as_printed(console, renderable):
    """``renderable`` as ``Console.print`` would hand it to ``render``, so the rows here match
    what a recording console records: a string becomes Text (markup on, no highlighting), and
    Text is joined with print's ``end`` (print keeps its spans, not its justify or overflow)."""
    from rich.protocol import rich_cast
    from rich.text import Text

    renderable = rich_cast(renderable)
    if isinstance(renderable, str):
        renderable = console.render_str(renderable)
    if isinstance(renderable, Text):
        renderable = Text(" ", end="\n").join([renderable])
    return renderable


def render_rows(renderable, width: int, theme: str = "dark") -> list:
    """The rows of segments (``list[list[Segment]]``) an SVG is drawn from: ``renderable`` at
    ``width`` columns, control codes dropped, rows cropped (never padded) to the width."""
    from rich.segment import Segment

    console = screenshot_console(width, theme=theme)
    # The options Console.print renders with (it sets these to None, not to their defaults).
    options = console.options.update(justify=None, overflow=None, height=None, no_wrap=None,
                                     markup=None, highlight=None)
    rows = [list(Segment.filter_control(row))
            for row in console.render_lines(_as_printed(console, renderable), options, pad=False)]
    while rows and not "".join(segment.text for segment in rows[-1]).strip():
        rows.pop()      # trailing blank rows (a final newline, an empty line): an image does not need them
    return rows


def stepped_rows(view, width: int, theme: str = "dark") -> tuple[list, list[int]]:
    """A view's rows, and for each row the step (1, 2, ...) of the event it belongs to: what an
    animation reveals together (a ladder's header is step 1, shown first)."""
    rows: list = []
    steps: list[int] = []
    for step, piece in enumerate(view.rows(width), start=1):
        drawn = render_rows(piece, width, theme)
        rows += drawn
        steps += [step] * len(drawn)
    return rows, steps
