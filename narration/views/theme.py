"""The one theme: every colour a view uses is a named style here, never an inline colour."""
from __future__ import annotations

from rich.theme import Theme

ACTOR_COLOURS = ("magenta", "cyan", "green", "yellow", "blue", "red", "bright_cyan", "bright_green")
THEME = Theme({
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
    "note": "italic dim",
    "explain": "italic blue",
    "error": "bold red",
    "arrow.send": "bold green",
    "arrow.recv": "bold cyan",
    "arrow.lost": "bold red",
    "rule": "dim",
})


def actor_style(rank: int) -> str:
    """The style of the actor ranked ``rank`` (the server 0, then clients in script order)."""
    return f"actor.{rank % len(ACTOR_COLOURS)}"
