"""A font that travels: ``--embed-font`` puts the monospace font into an SVG, cut down to the
characters it shows, so the image looks the same in any viewer (an SVG shown through an ``<img>``
tag may only use the fonts the viewer has, or the ones it carries).

Each face the font has (regular, bold, oblique, bold oblique: the files ``fonts.find_font`` found)
becomes one ``@font-face`` rule with the subset as a WOFF ``data:`` URL, under the family name
``EMBEDDED_FAMILY``, which the SVG then asks for first.  Needs fontTools (pip).  The subset is
made without timestamps, so the SVG stays byte-identical run after run.
"""
from __future__ import annotations

import base64
import html
import io
import re

from narration.errors import ScreenshotError

EMBEDDED_FAMILY = "socket-demo mono"
_TEXT = re.compile(r"<(?:text|title)\b[^>]*>([^<]*)</(?:text|title)>")


def shown_characters(svg_text: str) -> str:
    """Every character the SVG draws as text (its title bar included), each once, in order."""
    seen = dict.fromkeys(html.unescape("".join(_TEXT.findall(svg_text))).replace("\u00a0", " "))
    return "".join(seen)


def embed_font(svg_text: str, font: str | None = None) -> str:
    """``svg_text`` with its font embedded (see the module docstring)."""
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont
    except ImportError:
        raise ScreenshotError("--embed-font needs fontTools: python -m pip install fonttools") from None
    from narration.screenshots.fonts import find_font

    characters = shown_characters(svg_text)
    rules = []
    for path in find_font(font).files:
        face = TTFont(path, recalcTimestamp=False, recalcBBoxes=False, fontNumber=0)
        style = face["head"].macStyle                  # bit 0: bold, bit 1: italic
        options = subset.Options()
        options.hinting = False                        # screens scale it anyway: a third of the size
        options.layout_features = []
        options.name_IDs = [1, 2]                      # family and style: the rest is not needed
        options.flavor = "woff"
        options.drop_tables = [*options.drop_tables, "FFTM"]   # FontForge's timestamps: not needed
        cutter = subset.Subsetter(options)
        cutter.populate(text=characters)
        cutter.subset(face)
        face.flavor = "woff"
        data = io.BytesIO()
        face.save(data)
        rules.append(f"    @font-face {{ font-family: \"{EMBEDDED_FAMILY}\"; "
                     f"font-weight: {'bold' if style & 1 else 'normal'}; "
                     f"font-style: {'italic' if style & 2 else 'normal'}; "
                     f"src: url(data:font/woff;base64,{base64.b64encode(data.getvalue()).decode('ascii')}) "
                     f"format(\"woff\"); }}")
    asking_first = svg_text.replace("font-family: ", f'font-family: "{EMBEDDED_FAMILY}", ', 1)
    return asking_first.replace("  <style>\n", "  <style>\n" + "\n".join(rules) + "\n", 1)
