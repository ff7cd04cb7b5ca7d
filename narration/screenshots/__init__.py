"""Screenshots and recordings of a finished run: SVG, HTML, TXT, PNG, Mermaid, asciicast, GIF and
WebP, byte-identical run after run.

Who calls what: ``demo.py --screenshot PATH`` builds the finished run's view (ports already
normalised, no times) and calls ``save(view, path, width=..., title=..., font=...)``; the
extension picks the format.  The images script makes ``images/`` with the same code, drawing each
PNG from its SVG with ``png`` and ``write``.  Tests use the rest of the names exported here.

- ``save(renderable, path, *, width, title, font=None)``: draw and write one file.
- ``render_rows(renderable, width)``: the rows of segments every SVG and PNG is drawn from.
- ``svg``, ``box_arms`` and the grid constants: ``narration.screenshots.svg``.
- ``png``, ``write`` and the PNG tag helpers: ``narration.screenshots.png``.
- ``Font``, ``find_font``, ``font_names``: ``narration.screenshots.fonts``.
- ``cast``: the run as an asciicast v2 recording (``.cast``), ``narration.screenshots.cast``.
- ``motion``: the animation as an animated GIF or WebP, ``narration.screenshots.motion``.
- ``embed``: an SVG with its font embedded, cut to the characters shown, ``narration.screenshots.embed``.
- ``mermaid``: the ladder as a Mermaid ``sequenceDiagram`` (``.mmd``), ``narration.screenshots.mermaid``.

What keeps the bytes stable
---------------------------
- The content is the canonical run at a fixed width, with ephemeral ports shown as
  ``PORT``/``EPH1`` and no times: the caller's job.  Here it is drawn on a console of exactly
  ``width`` columns with the one theme, truecolor, no highlighting and no terminal detection, so
  neither the author's terminal nor the environment changes a byte.
- The SVG is written by ``narration.screenshots.svg``, not by ``Console.export_svg``: whole
  pixels on a fixed grid, class names numbered in order of first use under a slug of the title.
- TXT and HTML are rich's ``export_text``/``export_html`` of a recording console.
- Files are written as UTF-8 bytes with ``\\n`` line ends on every OS.
- The PNG is that SVG drawn by resvg with system fonts switched off and one named font loaded;
  its ``tEXt`` chunk records the SHA-256 of the SVG it was drawn from.

Only rich's public API is used.  rich is imported inside the functions that draw, and resvg only
for a PNG: importing this package costs the standard library modules its submodules need.
"""
from __future__ import annotations

import html

# The submodules are imported here, eagerly, because two of them share a name with the function
# they export (svg, png): once a submodule is loaded Python binds the package attribute to it, and
# importing it first lets the names below (the functions) win for good.  Their top-level imports
# are the standard library only.
from narration.errors import ScreenshotError
from narration.screenshots.drawing import render_rows, screenshot_console, stepped_rows, terminal_console
from narration.screenshots.fonts import Font, candidate_fonts, find_font, font_names
from narration.screenshots.png import png, png_renderer, png_source, renderer, sha256_text, write
from narration.screenshots.svg import (
    CELL_HEIGHT,
    CELL_WIDTH,
    FONT_FAMILIES,
    PADDING,
    TITLE_BAR,
    box_arms,
    svg,
)
from narration.text import visible

FORMATS = (".svg", ".html", ".txt", ".png", ".mmd", ".cast", ".gif", ".webp")

__all__ = [
    "CELL_HEIGHT", "CELL_WIDTH", "FORMATS", "PADDING", "TITLE_BAR", "Font", "ScreenshotError",
    "box_arms", "candidate_fonts", "find_font", "font_names", "page", "png", "png_renderer",
    "png_source", "render_rows", "renderer", "save", "sha256_text", "stepped_rows", "svg", "terminal_console", "text", "write",
]


def save(renderable, path: str, *, width: int, title: str, font: str | None = None,
         animate: bool = False, theme: str = "dark", embed_font: bool = False) -> None:
    """Draw ``renderable`` ``width`` columns wide and write it to ``path``; the extension picks
    the format.  ``title`` is the command that draws it again; ``font`` a font file for a PNG;
    ``animate`` makes an SVG play the run one event at a time; ``theme`` is dark or light;
    ``embed_font`` puts the font, cut to the characters shown, into an SVG."""
    from pathlib import Path

    target = Path(path)
    suffix = target.suffix.lower()
    if embed_font and suffix != ".svg":
        raise ScreenshotError(f"{path}: only an .svg screenshot can carry its font (a PNG is drawn with it)")
    if animate and suffix != ".svg":
        raise ScreenshotError(f"{path}: only an .svg screenshot can be animated (.cast, .gif and .webp move anyway)")
    if suffix == ".svg" and animate:
        rows, steps = stepped_rows(renderable, width, theme)
        content = svg(rows, width=width, title=title, steps=steps, theme=theme).encode("utf-8")
    elif suffix == ".svg":
        content = svg(render_rows(renderable, width, theme), width=width, title=title, theme=theme).encode("utf-8")
    elif suffix == ".html":
        content = page(renderable, width=width, title=title, theme=theme).encode("utf-8")
    elif suffix == ".txt":
        content = text(renderable, width=width, title=title).encode("utf-8")
    elif suffix == ".png":
        content = png(svg(render_rows(renderable, width, theme), width=width, title=title, theme=theme), font=font)
    elif suffix == ".cast":                    # a terminal recording for asciinema, one event per step
        from narration.screenshots.cast import cast
        content = cast(renderable, width=width, title=title, theme=theme).encode("utf-8")
    elif suffix in (".gif", ".webp"):          # the animation as frames, where SVG does not play
        from narration.screenshots.motion import motion
        content = motion(renderable, width=width, title=title, kind=suffix[1:], theme=theme, font=font)
    elif suffix == ".mmd":                     # the ladder as text: a Mermaid sequenceDiagram
        from narration.screenshots.mermaid import mermaid
        content = mermaid(renderable.events, renderable.actor_rank, renderable.look).encode("utf-8")
    else:
        raise ScreenshotError(f"{path}: a screenshot's name must end in {', '.join(FORMATS)}")
    if embed_font:
        from narration.screenshots.embed import embed_font as with_font
        content = with_font(content.decode("utf-8"), font).encode("utf-8")
    write(target, content)


# -- TXT and HTML ------------------------------------------------------------------------------
def _recorded(renderable, width: int, theme: str = "dark"):
    console = screenshot_console(width, record=True, theme=theme)
    console.print(renderable)
    return console


def text(renderable, *, width: int, title: str) -> str:
    """Plain text, as a shell transcript: the command, then what it printed."""
    return f"$ {visible(title)}\n{_recorded(renderable, width).export_text(clear=False)}"


_HTML_PAGE = """\
<!DOCTYPE html>
<html>
<head>
<meta charset="UTF-8">
<title>{title}</title>
<style>
{{stylesheet}}
body {{{{
    color: {{foreground}};
    background-color: {{background}};
}}}}
</style>
</head>
<body>
<pre style="font-family:{families}"><code style="font-family:inherit"><span style="opacity:0.6">$ {title}</span>
{{code}}</code></pre>
</body>
</html>
"""


def page(renderable, *, width: int, title: str, theme: str = "dark") -> str:
    """A standalone HTML page in the same colours as the SVG and PNG."""
    from narration.views.theme import palette

    escaped = html.escape(visible(title)).replace("{", "{{").replace("}", "}}")
    template = _HTML_PAGE.format(title=escaped, families=FONT_FAMILIES.replace('"', "'"))
    return _recorded(renderable, width, theme).export_html(theme=palette(theme), clear=False, code_format=template)
