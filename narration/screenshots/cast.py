"""A run as an asciicast v2 recording (``--screenshot run.cast``), for asciinema's player.

The recording is the finished run's view, one event per step, at a steady pace taken from the
canonical order (never the wall clock): the command at 0 s, event *n* at ``n x STEP_SECONDS``,
then a pause of ``END_SECONDS`` on the last frame.  Each event also gets a marker (``"m"``), so
the player can pause on every step (``pauseOnMarkers``), as a teacher pauses a class.

The header carries no timestamp and no environment of this machine, and JSON is written with
ASCII escapes, so the file is byte-identical run after run.  What the terminal is sent is what
the log or ladder view prints, in the same colours; network text is already spelled out by the
views, so a recording never carries a terminal control sequence from the network.
"""
from __future__ import annotations

import json
import re

STEP_SECONDS = 0.5        # between two events
END_SECONDS = 2.0         # on the last frame before the recording ends
MARKER_LENGTH = 60        # characters of an event's first line in its marker's label
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cast(view, *, width: int, title: str, theme: str = "dark") -> str:
    """The asciicast v2 text (header line, then one JSON array per output or marker)."""
    from narration.screenshots.drawing import terminal_console
    from narration.text import visible

    console = terminal_console(width, theme)
    chunks: list[str] = []
    for row in view.rows(width):                      # one renderable per event (the ladder: header first)
        start = console.file.tell()
        console.print(row)
        console.file.seek(start)
        chunks.append(console.file.read())
    lines = sum(chunk.count("\n") for chunk in chunks) + 1
    header = {"version": 2, "width": width, "height": lines + 1, "title": visible(title),
              "env": {"TERM": "xterm-256color"}}
    records = [json.dumps(header, ensure_ascii=True, sort_keys=True),
               _record(0.0, "o", f"$ {visible(title)}\n")]
    time = 0.0
    for step, chunk in enumerate(chunks, start=1):
        time = step * STEP_SECONDS
        records.append(_record(time, "o", chunk))
        label = _ANSI.sub("", chunk).strip().splitlines()[0] if chunk.strip() else f"step {step}"
        records.append(_record(time, "m", " ".join(label.split())[:MARKER_LENGTH]))
    records.append(_record(time + END_SECONDS, "o", ""))
    return "\n".join(records) + "\n"


def _record(time: float, kind: str, data: str) -> str:
    """One event line: [seconds, "o" or "m", data]; a terminal wants \\r\\n where the view ends a row."""
    if kind == "o":
        data = data.replace("\r\n", "\n").replace("\n", "\r\n")
    return json.dumps([round(time, 3), kind, data], ensure_ascii=True)
