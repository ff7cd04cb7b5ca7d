"""The themes: every colour a view uses is a named style here, never an inline colour.

Two themes, ``dark`` (the default) and ``light`` (slides on white, a projector in a bright room):

- ``styles(name)``: the named styles (``actor.0``, ``payload``, ``error``, ...) as a rich ``Theme``;
  they name the terminal's own colours (``magenta``, ``cyan``), so a terminal keeps its palette;
- ``palette(name)``: the colours those names have in screenshots and recordings (a rich
  ``TerminalTheme``: background, foreground, the 16 ANSI colours).

Every named style meets WCAG AA on its theme's background (a contrast of at least 4.5:1, dimmed
text included), so a run stays readable on a washed-out projector: tests/test_recordings.py
checks each one.
"""
from __future__ import annotations

from rich.theme import Theme

THEMES = ("dark", "light")
ACTOR_COLOURS = ("magenta", "cyan", "green", "yellow", "blue", "red", "bright_cyan", "bright_green")
STYLES = {
    **{f"actor.{rank}": f"bold {colour}" for rank, colour in enumerate(ACTOR_COLOURS)},
    "step": "dim",
    "time": "dim",
    "call": "bold",
    "call.data": "bold",
    "detail": "default",
    "payload": "bright_white on grey23",
    "payload.escape": "yellow on grey23",
    "bytes": "dim",
    "closed": "bold yellow",
    "say": "default",
    "say.mark": "dim",                     # the » before what a program prints
    "note": "italic dim",
    "explain": "italic blue",
    "error": "bold red",
    "arrow.send": "bold green",
    "arrow.recv": "bold cyan",
    "arrow.lost": "bold red",
    "rule": "dim",
    "tcp": "default",
    "tcp.mark": "dim",
    "tcp.state": "bold cyan",
    "quiz.ask": "bold yellow",
    "quiz.choice": "default",
    "quiz.right": "bold green",
    "quiz.wrong": "bold red",
}
# On white, dimming blends too far towards the background, and a payload wants a light box.
LIGHT_STYLES = {**STYLES, "step": "#59636e", "time": "#59636e", "bytes": "#59636e", "rule": "#59636e",
                "say.mark": "#59636e", "tcp.mark": "#59636e",
                "note": "italic #59636e", "payload": "#1f2328 on #eef1f4", "payload.escape": "yellow on #eef1f4"}

# Background, foreground, then the 8 normal and 8 bright ANSI colours, in ANSI order (black, red,
# green, yellow, blue, magenta, cyan, white).
PALETTES = {
    "dark": ("#292929", "#e6e6e6",
             ("#5c6370", "#ff7b72", "#8fd16a", "#e3b341", "#79b8ff", "#d2a8ff", "#56d4dd", "#e6e6e6"),
             ("#7f848e", "#ffa198", "#a6e38a", "#f2cc60", "#a5d6ff", "#e2c5ff", "#8be9fd", "#ffffff")),
    "light": ("#ffffff", "#1f2328",
              ("#24292f", "#c4161c", "#1a7f37", "#8a5a00", "#0856c7", "#8250df", "#0b7285", "#57606a"),
              ("#57606a", "#a40e26", "#116329", "#704700", "#0a4cb0", "#6639ba", "#085e6b", "#24292f")),
}
FRAME = {"dark": "#ffffff", "light": "#1f2328"}     # the screenshot window's edge

THEME = Theme(STYLES)


def styles(name: str = "dark") -> Theme:
    return THEME if name == "dark" else Theme(LIGHT_STYLES)


def palette(name: str = "dark"):
    """The screenshot colours of theme ``name`` (a rich TerminalTheme)."""
    from rich.terminal_theme import TerminalTheme

    background, foreground, normal, bright = PALETTES[name]
    rgb = (lambda colour: tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5)))
    return TerminalTheme(rgb(background), rgb(foreground), [rgb(c) for c in normal], [rgb(c) for c in bright])


def actor_style(rank: int) -> str:
    """The style of the actor ranked ``rank`` (the server 0, then clients in script order)."""
    return f"actor.{rank % len(ACTOR_COLOURS)}"
