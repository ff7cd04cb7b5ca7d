"""Screenshots of a finished run: SVG, HTML, TXT (PNG comes with the screenshot issue).

Who calls what: ``demo.py --screenshot PATH`` records the run on a fixed-width console and calls
``save(console, path, title=..., font=...)``; the extension picks the format.
"""
from __future__ import annotations

from pathlib import Path


class ScreenshotError(Exception):
    """The screenshot could not be written; str(error) is the one line to show."""


def save(console, path: str, *, title: str, font: str | None = None) -> None:
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".svg":
        content = console.export_svg(title=title, unique_id="socket-demo", clear=False)
    elif suffix == ".html":
        content = console.export_html(clear=False)
    elif suffix == ".txt":
        content = console.export_text(clear=False)
    else:
        raise ScreenshotError(f"{path}: {suffix} screenshots are not supported yet")
    try:
        target.write_text(content, encoding="utf-8")
    except OSError as error:
        raise ScreenshotError(f"cannot write {path}: {error.strerror}") from None
