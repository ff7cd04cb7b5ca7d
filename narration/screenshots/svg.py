"""The SVG writer: rows of rich segments as a terminal window on a fixed grid of whole pixels.

Exposes ``svg(rows, width=, title=) -> str`` (rows from ``narration.screenshots.render_rows``),
``box_arms(char)`` (the arms of a box-drawing character, from its Unicode name) and the grid:
``CELL_WIDTH``, ``CELL_HEIGHT``, ``PADDING``, ``TITLE_BAR``.  Called by
``narration.screenshots.save`` for ``.svg`` and ``.png`` (the PNG is this SVG drawn by resvg).

What keeps the bytes stable: every coordinate is a whole number of pixels on the cell grid; CSS
class names are numbered in order of first use and prefixed with a slug of the title (not a hash
of the content); nothing else names an element.  Every text run carries ``textLength``, so columns
line up whatever monospace font draws them, and box-drawing and block characters are drawn as
shapes that fill their cell to the edge, as terminal emulators do, so lines join across rows.
This module reads segments only: it never touches a console or any private member of rich.
"""
from __future__ import annotations

import hashlib
import html
import re
from functools import cache

from narration.text import visible

CELL_WIDTH = 12          # pixels per column: DejaVu Sans Mono's advance at FONT_SIZE
CELL_HEIGHT = 24         # pixels per row: tall enough for descenders, short enough to read
FONT_SIZE = 19.93        # 1233/2048 em (DejaVu Sans Mono's advance) x 19.93 px = 12.0 px
BASELINE = 19            # from the top of a row to the text's baseline
PADDING = 12             # around the text, inside the window
TITLE_BAR = 40           # the window's title bar, above the text
LIGHT, HEAVY = 2, 4      # box-drawing line thickness in pixels
DOUBLE_GAP = 3           # half the distance between the two strokes of a double line
FONT_FAMILIES = '"DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace'
LEAD_IN = 1.5            # seconds of the poster line before an animation's first step
STEP_SECONDS = 0.5       # between two steps of an animation


def poster(title: str, steps: int) -> str:
    """What an animation's first frame says will play."""
    return f"▶ {title}: {steps} steps, one every {STEP_SECONDS:g} s, played once"


def _animation_styles(prefix: str, poster_colour: str) -> str:
    """CSS for an animation: each step's group fades in at its delay (hidden until then by the
    first keyframe, ``both``); the poster shows until the first step, then goes."""
    return "\n".join([
        f"    .{prefix}-step {{ animation: {prefix}-show 0.15s ease-out both; }}",
        f"    @keyframes {prefix}-show {{ from {{ opacity: 0; }} to {{ opacity: 1; }} }}",
        (f"    .{prefix}-poster {{ fill: {poster_colour}; font-weight: bold; opacity: 0; "
         f"animation: {prefix}-poster {LEAD_IN:g}s step-end forwards; }}"),
        f"    @keyframes {prefix}-poster {{ from {{ opacity: 1; }} to {{ opacity: 0; }} }}",
    ])


def svg(rows, *, width: int, title: str, steps: list[int] | None = None, theme: str = "dark") -> str:
    """Rows of rich segments (``render_rows``) as an SVG terminal window ``width`` columns wide,
    on a fixed grid of whole pixels.

    ``steps`` animates it: row *i* appears at step ``steps[i]`` (one event's rows share a step),
    step *n* at ``LEAD_IN + (n - 1) x STEP_SECONDS``; before the first, a poster line says what
    will play.  It plays once and stays on the last frame.  A viewer that does not animate (resvg,
    a PDF) shows the whole run, never a blank window: rows are hidden only by the animation's own
    first keyframe (``animation-fill-mode: both``).  ``theme`` is dark or light
    (``narration.views.theme``).
    """
    from narration.views.theme import FRAME, palette

    edge = FRAME[theme]
    theme = palette(theme)
    title = visible(title)
    prefix = _slug(title)
    classes: dict[str, str] = {}      # CSS rules -> class name, numbered in order of first use
    backgrounds: list[str] = []
    shapes: list[str] = []
    texts: list[str] = []
    by_step: dict[int, list[str]] = {}        # animated: each step's elements, drawn as one group
    for row, line in enumerate(rows):
        if steps is not None:                 # one group per step: backgrounds, then shapes, then text
            backgrounds, shapes, texts = [], [], []
        top = TITLE_BAR + row * CELL_HEIGHT
        column = 0
        for segment in line:
            foreground, background, css = _colours(segment.style, theme)
            cells = _cells(segment.text)
            if background is not None:
                backgrounds.append(_rect(_x(column), top, cells * CELL_WIDTH, CELL_HEIGHT, background))
            for start, run, is_shape in _runs(segment.text):
                x = _x(column + start)
                if is_shape:
                    shapes.append(_shape(run, x, top, foreground))
                elif run.strip():
                    name = classes.setdefault(css, f"{prefix}-{len(classes) + 1}")
                    texts.append(f'<text class="{name}" x="{x}" y="{top + BASELINE}" '
                                 f'textLength="{_cells(run) * CELL_WIDTH}">{_xml_text(run)}</text>')
            column += cells
        if steps is not None:
            by_step.setdefault(steps[row], []).extend(backgrounds + shapes + texts)

    pixels_wide = width * CELL_WIDTH + 2 * PADDING
    height = TITLE_BAR + max(len(rows), 1) * CELL_HEIGHT + PADDING
    styles = "\n".join(f"    .{name} {{ {css} }}" for css, name in classes.items())
    body = [f"  {item}" for item in backgrounds + shapes + texts]
    if steps is not None:
        styles += "\n" + _animation_styles(prefix, theme.ansi_colors[3].hex)     # the theme's yellow
        body = [(f'  <text class="{prefix}-poster" x="{_x(0)}" y="{TITLE_BAR + BASELINE}">'
                 f"{_xml_text(_fit(poster(title, len(by_step)), width))}</text>")]
        for step, items in sorted(by_step.items()):
            delay = LEAD_IN + (step - 1) * STEP_SECONDS
            body.append(f'  <g class="{prefix}-step" style="animation-delay: {delay:g}s">')
            body += [f"    {item}" for item in items]
            body.append("  </g>")
    fg, bg = theme.foreground_color.hex, theme.background_color.hex
    title_text = _fit(title, width - 8)
    return "\n".join([
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {pixels_wide} {height}" '
         f'width="{pixels_wide}" height="{height}">'),
        f"  <title>{html.escape(title)}</title>",
        "  <style>",
        f"    .{prefix} {{ font-family: {FONT_FAMILIES}; font-size: {FONT_SIZE}px; }}",
        f"    .{prefix}-title {{ fill: {fg}; font-weight: bold; font-size: 16px; }}",
        styles,
        "  </style>",
        (f'  <rect x="0.5" y="0.5" width="{pixels_wide - 1}" height="{height - 1}" rx="8" fill="{bg}" '
         f'stroke="{edge}" stroke-opacity="0.35"/>'),
        '  <circle cx="20" cy="20" r="6" fill="#ff5f57"/>',
        '  <circle cx="40" cy="20" r="6" fill="#febc2e"/>',
        '  <circle cx="60" cy="20" r="6" fill="#28c840"/>',
        f'  <g class="{prefix}">',
        (f'  <text class="{prefix}-title" x="{pixels_wide // 2}" y="26" text-anchor="middle">'
         f"{_xml_text(title_text)}</text>"),
        *body,
        "  </g>",
        "</svg>",
        "",
    ])


def _x(column: int) -> int:
    return PADDING + column * CELL_WIDTH


def _cells(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _slug(title: str) -> str:
    """A CSS class prefix from the title: stable, readable, distinct for each command."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "screenshot"
    if not slug[0].isalpha():
        slug = "s-" + slug
    if len(slug) > 40:
        slug = f"{slug[:31]}-{hashlib.sha256(title.encode()).hexdigest()[:8]}"
    return slug


def _fit(title: str, columns: int) -> str:
    return title if len(title) <= columns else title[:max(columns - 1, 1)] + "…"


_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Escaped for XML; spaces kept (as no-break spaces), characters XML forbids replaced."""
    return html.escape(_NOT_XML.sub("\ufffd", text), quote=False).replace(" ", "&#160;")


def _rect(x, y, width, height, colour: str) -> str:
    return f'<rect x="{x}" y="{y}" width="{width}" height="{height}" fill="{colour}" shape-rendering="crispEdges"/>'


def _colours(style, theme) -> tuple[str, str | None, str]:
    """(text colour, background colour or None, CSS rules) for a rich Style, as rich's SVG does."""
    from rich.color import blend_rgb

    if style is None:
        return theme.foreground_color.hex, None, f"fill: {theme.foreground_color.hex}"
    default_fg, default_bg = theme.foreground_color, theme.background_color
    foreground = default_fg if style.color is None or style.color.is_default else style.color.get_truecolor(theme)
    has_background = style.bgcolor is not None and not style.bgcolor.is_default
    background = style.bgcolor.get_truecolor(theme) if has_background else default_bg
    if style.reverse:
        foreground, background, has_background = background, foreground, True
    if style.dim:
        foreground = blend_rgb(foreground, background, 0.4)
    rules = [f"fill: {foreground.hex}"]
    if style.bold:
        rules.append("font-weight: bold")
    if style.italic:
        rules.append("font-style: italic")
    decorations = [name for name, on in (("underline", style.underline), ("line-through", style.strike)) if on]
    if decorations:
        rules.append(f"text-decoration: {' '.join(decorations)}")
    return foreground.hex, background.hex if has_background else None, "; ".join(rules)


# -- box drawing as shapes ---------------------------------------------------------------------
_DIRECTIONS = {"UP": "u", "DOWN": "d", "LEFT": "l", "RIGHT": "r", "HORIZONTAL": "lr", "VERTICAL": "ud"}
_WEIGHTS = {"LIGHT": 1, "SINGLE": 1, "HEAVY": 2, "DOUBLE": 3}
_BLOCKS = {"█": (0, 0, 1, 1), "▀": (0, 0, 1, 0.5), "▄": (0, 0.5, 1, 0.5), "▌": (0, 0, 0.5, 1), "▐": (0.5, 0, 0.5, 1)}


@cache
def box_arms(char: str) -> tuple[dict[str, int], bool] | None:
    """Which arms a box-drawing character has and how heavy each is, from its Unicode name.

    ``"┤"`` (BOX DRAWINGS LIGHT VERTICAL AND LEFT) -> ({"u": 1, "d": 1, "l": 1}, False);
    weights: 1 light, 2 heavy, 3 double; the flag says the corner is an arc (``╭``).
    Dashed and diagonal characters give None: the font draws those.
    """
    import unicodedata

    name = unicodedata.name(char, "")
    if not name.startswith("BOX DRAWINGS ") or "DASH" in name or "DIAGONAL" in name:
        return None
    words = name.removeprefix("BOX DRAWINGS ").split()
    arc = "ARC" in words
    groups: list[tuple[str, int | None]] = []
    for group in " ".join(word for word in words if word != "ARC").split(" AND "):
        directions = "".join(_DIRECTIONS[word] for word in group.split() if word in _DIRECTIONS)
        weights = [_WEIGHTS[word] for word in group.split() if word in _WEIGHTS]
        groups.append((directions, weights[0] if weights else None))
    known = [weight for _, weight in groups if weight is not None]
    arms: dict[str, int] = {}
    inherited = known[0] if known else 1
    for directions, weight in groups:
        inherited = weight if weight is not None else inherited   # "LIGHT DOWN AND RIGHT"
        for direction in directions:
            arms[direction] = inherited
    return arms, arc


def _runs(text: str):
    """Split text into (start column, text, drawn as a shape?) pieces."""
    start, column, pending = 0, 0, []
    for char in text:
        if char in _BLOCKS or box_arms(char) is not None:
            if pending:
                yield start, "".join(pending), False
                pending = []
            yield column, char, True
            column += 1
            start = column
        else:
            pending.append(char)
            column += _cells(char)
    if pending:
        yield start, "".join(pending), False


def _shape(char: str, left: int, top: int, colour: str) -> str:
    """One box-drawing or block character as rectangles (and an arc path) filling its cell."""
    if char in _BLOCKS:
        x, y, w, h = _BLOCKS[char]
        return _rect(left + x * CELL_WIDTH, top + y * CELL_HEIGHT, w * CELL_WIDTH, h * CELL_HEIGHT, colour)
    arms, arc = box_arms(char)
    right, bottom = left + CELL_WIDTH, top + CELL_HEIGHT
    cx, cy = left + CELL_WIDTH // 2, top + CELL_HEIGHT // 2
    if arc:     # a rounded corner: one quarter circle joining the two arms' lines
        (vertical,) = [d for d in arms if d in "ud"]
        (horizontal,) = [d for d in arms if d in "lr"]
        ex, ey = (right if horizontal == "r" else left), (bottom if vertical == "d" else top)
        radius = CELL_WIDTH // 2
        sx = cx + (radius if horizontal == "r" else -radius)
        sy = cy + (radius if vertical == "d" else -radius)
        return (f'<path d="M{ex},{cy} L{sx},{cy} Q{cx},{cy} {cx},{sy} L{cx},{ey}" fill="none" '
                f'stroke="{colour}" stroke-width="{LIGHT}"/>')
    pieces = []
    for direction, weight in arms.items():
        horizontal = direction in "lr"
        across = ("u", "d") if horizontal else ("l", "r")    # the arms on either side of this one
        if weight == 3:
            for side, offset in zip(across, (-DOUBLE_GAP, DOUBLE_GAP)):
                # A double line stops at the near stroke of a double arm on its side, at the
                # centre line of a single arm, and otherwise runs on to the far stroke.
                neighbour = arms.get(side)
                reach = DOUBLE_GAP - LIGHT // 2 if neighbour == 3 else (0 if neighbour else -DOUBLE_GAP - LIGHT // 2)
                pieces.append(_arm(direction, (cx, cy), (left, top, right, bottom), LIGHT, offset, reach, colour))
        else:
            thickness = HEAVY if weight == 2 else LIGHT
            widest = max(arms.get(side, 0) for side in across)
            # Reach past the centre by half the crossing line's width: corners and tees get no notch.
            reach = -(DOUBLE_GAP + LIGHT // 2) if widest == 3 else -(HEAVY // 2 if widest == 2 else LIGHT // 2)
            pieces.append(_arm(direction, (cx, cy), (left, top, right, bottom), thickness, 0, reach, colour))
    return "".join(pieces)


def _arm(direction: str, centre, cell, thickness: int, offset: int, reach: int, colour: str) -> str:
    """A bar from the cell's edge to ``reach`` px short of its centre (past it, if negative)."""
    (cx, cy), (left, top, right, bottom) = centre, cell
    half = thickness // 2
    if direction == "r":
        return _rect(cx + reach, cy + offset - half, right - cx - reach, thickness, colour)
    if direction == "l":
        return _rect(left, cy + offset - half, cx - reach - left, thickness, colour)
    if direction == "d":
        return _rect(cx + offset - half, cy + reach, thickness, bottom - cy - reach, colour)
    return _rect(cx + offset - half, top, thickness, cy - reach - top, colour)
