"""Screenshots of a finished run: SVG, HTML, TXT and PNG, byte-identical run after run.

Who calls what: ``demo.py --screenshot PATH`` records the run on a fixed-width console (ports
already normalised, no times) and calls ``save(console, path, title=..., font=...)``; the
extension picks the format.  ``python -m modes._images`` makes ``images/`` with the same code.

What keeps the bytes stable
---------------------------
- The content is the canonical run (``modes._narrate.canonical``) at a fixed width, with
  ephemeral ports shown as ``PORT``/``EPH1`` and no times: the caller's job.
- The SVG is written here, not by ``Console.export_svg``: every coordinate is a whole number of
  pixels on a fixed cell grid, CSS class names are numbered in order of first use and prefixed
  with a slug of the title (not a hash of the content), and nothing else names an element.
- Files are written as UTF-8 bytes with ``\\n`` line ends on every OS.
- The PNG is that SVG drawn by resvg (``resvg-py``) with system fonts switched off and one named
  font loaded, so the same font file and resvg version give the same pixels on any machine.  Its
  ``tEXt`` chunk records the SHA-256 of the SVG it was drawn from, which lets a test tell a stale
  PNG from a current one without depending on the font installed.

Columns and lines
-----------------
Each character cell is ``CELL_WIDTH`` x ``CELL_HEIGHT`` pixels and every text run carries
``textLength``, so columns line up whatever monospace font draws them.  Box-drawing characters
(``─ │ ┌ ┼ ╭ ═ ━`` ...) and full or half blocks are drawn as shapes that fill their cell to the
edge, as terminal emulators do, so lines join across rows in the PNG and in a browser alike.
"""
from __future__ import annotations

import hashlib
import html
import os
import re
import struct
import zlib
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from modes._framing import visible

FORMATS = (".svg", ".html", ".txt", ".png")

CELL_WIDTH = 12          # pixels per column: DejaVu Sans Mono's advance at FONT_SIZE
CELL_HEIGHT = 24         # pixels per row: tall enough for descenders, short enough to read
FONT_SIZE = 19.93        # 1233/2048 em (DejaVu Sans Mono's advance) x 19.93 px = 12.0 px
BASELINE = 19            # from the top of a row to the text's baseline
PADDING = 12             # around the text, inside the window
TITLE_BAR = 40           # the window's title bar, above the text
PNG_ZOOM = 2             # PNG pixels per SVG pixel: sharp on slides and high-density screens
LIGHT, HEAVY = 2, 4      # box-drawing line thickness in pixels
DOUBLE_GAP = 3           # half the distance between the two strokes of a double line
FONT_FAMILIES = '"DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace'


class ScreenshotError(Exception):
    """The screenshot could not be written; str(error) is the one line to show."""


# -- the entry point ---------------------------------------------------------------------------
def save(console, path: str, *, title: str, font: str | None = None) -> None:
    """Write what ``console`` recorded to ``path``; the extension picks the format."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".svg":
        content = svg(console, title=title).encode("utf-8")
    elif suffix == ".html":
        content = page(console, title=title).encode("utf-8")
    elif suffix == ".txt":
        content = text(console, title=title).encode("utf-8")
    elif suffix == ".png":
        content = png(svg(console, title=title), font=font)
    else:
        raise ScreenshotError(f"{path}: a screenshot's name must end in {', '.join(FORMATS)}")
    write(target, content)


def write(target: Path, content: bytes) -> None:
    try:
        target.write_bytes(content)      # bytes: no "\r\n" on Windows, the same file everywhere
    except OSError as error:
        raise ScreenshotError(f"cannot write {target}: {error.strerror}") from None


# -- TXT and HTML ------------------------------------------------------------------------------
def text(console, *, title: str) -> str:
    """Plain text, as a shell transcript: the command, then what it printed."""
    return f"$ {visible(title)}\n{console.export_text(clear=False)}"


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


def page(console, *, title: str) -> str:
    """A standalone HTML page in the same colours as the SVG and PNG."""
    from rich.terminal_theme import SVG_EXPORT_THEME

    escaped = html.escape(visible(title)).replace("{", "{{").replace("}", "}}")
    template = _HTML_PAGE.format(title=escaped, families=FONT_FAMILIES.replace('"', "'"))
    return console.export_html(theme=SVG_EXPORT_THEME, clear=False, code_format=template)


# -- SVG ---------------------------------------------------------------------------------------
def svg(console, *, title: str) -> str:
    """The recorded console as an SVG terminal window, on a fixed grid of whole pixels."""
    from rich.segment import Segment
    from rich.terminal_theme import SVG_EXPORT_THEME as theme

    title = visible(title)
    # rich's own exporters read the record buffer the same way, under the same lock.
    with console._record_buffer_lock:
        segments = list(Segment.filter_control(console._record_buffer))
    rows = list(Segment.split_and_crop_lines(segments, console.width, pad=False))
    while rows and not "".join(segment.text for segment in rows[-1]).strip():
        rows.pop()      # the final newline leaves an empty row; an image does not need it

    prefix = _slug(title)
    classes: dict[str, str] = {}      # CSS rules -> class name, numbered in order of first use
    backgrounds: list[str] = []
    shapes: list[str] = []
    texts: list[str] = []
    for row, line in enumerate(rows):
        top = TITLE_BAR + row * CELL_HEIGHT
        column = 0
        for segment in line:
            foreground, background, css = _colours(segment.style, theme)
            width = _cells(segment.text)
            if background is not None:
                backgrounds.append(_rect(_x(column), top, width * CELL_WIDTH, CELL_HEIGHT, background))
            for start, run, is_shape in _runs(segment.text):
                x = _x(column + start)
                if is_shape:
                    shapes.append(_shape(run, x, top, foreground))
                elif run.strip():
                    name = classes.setdefault(css, f"{prefix}-{len(classes) + 1}")
                    texts.append(f'<text class="{name}" x="{x}" y="{top + BASELINE}" '
                                 f'textLength="{_cells(run) * CELL_WIDTH}">{_xml_text(run)}</text>')
            column += width

    width = console.width * CELL_WIDTH + 2 * PADDING
    height = TITLE_BAR + max(len(rows), 1) * CELL_HEIGHT + PADDING
    styles = "\n".join(f"    .{name} {{ {css} }}" for css, name in classes.items())
    fg, bg = theme.foreground_color.hex, theme.background_color.hex
    title_text = _fit(title, console.width - 8)
    return "\n".join([
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
         f'width="{width}" height="{height}">'),
        f"  <title>{html.escape(title)}</title>",
        "  <style>",
        f"    .{prefix} {{ font-family: {FONT_FAMILIES}; font-size: {FONT_SIZE}px; }}",
        f"    .{prefix}-title {{ fill: {fg}; font-weight: bold; font-size: 16px; }}",
        styles,
        "  </style>",
        (f'  <rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="8" fill="{bg}" '
         f'stroke="#ffffff" stroke-opacity="0.35"/>'),
        '  <circle cx="20" cy="20" r="6" fill="#ff5f57"/>',
        '  <circle cx="40" cy="20" r="6" fill="#febc2e"/>',
        '  <circle cx="60" cy="20" r="6" fill="#28c840"/>',
        f'  <g class="{prefix}">',
        (f'  <text class="{prefix}-title" x="{width // 2}" y="26" text-anchor="middle">'
         f"{_xml_text(title_text)}</text>"),
        *(f"  {item}" for item in backgrounds + shapes + texts),
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


# -- PNG ---------------------------------------------------------------------------------------
def png(svg_text: str, *, font: str | None = None) -> bytes:
    """The SVG drawn by resvg with one monospace font (``font``, or one this machine ships)."""
    chosen = find_font(font)
    resvg_py = _resvg()
    try:
        drawn = resvg_py.svg_to_bytes(
            svg_string=svg_text, skip_system_fonts=True, font_files=list(chosen.files),
            font_family=chosen.family, monospace_family=chosen.family, sans_serif_family=chosen.family,
            zoom=PNG_ZOOM)
    except ValueError as error:
        raise ScreenshotError(f"resvg could not draw the screenshot: {error}") from None
    return _with_text_chunks(bytes(drawn), {"Source": f"sha256:{sha256_text(svg_text)}",
                                            "Renderer": renderer(chosen)})


def _resvg():
    try:
        import resvg_py  # imported only here: a run without a PNG never pays for it
    except ImportError:
        raise ScreenshotError("PNG screenshots need resvg-py: python -m pip install resvg-py") from None
    return resvg_py


def renderer(font: Font) -> str:
    """What a PNG's pixels depend on besides the SVG: the font files and the resvg version."""
    return f"{font.family}; fonts sha256:{font.digest}; resvg-py {_resvg().__version__}"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def png_renderer(data: bytes) -> str | None:
    """The ``Renderer`` text chunk of a PNG of ours: compare it with ``renderer(find_font())``."""
    return _text_chunk(data, "Renderer")


def png_source(data: bytes) -> str | None:
    """The SHA-256 of the SVG a PNG of ours was drawn from (its ``Source`` text chunk)."""
    source = _text_chunk(data, "Source")
    return source.removeprefix("sha256:") if source else None


def _text_chunk(data: bytes, key: str) -> str | None:
    for kind, body in _chunks(data):
        if kind == b"tEXt" and body.startswith(key.encode("latin-1") + b"\0"):
            return body.split(b"\0", 1)[1].decode("latin-1")
    return None


def _chunks(data: bytes):
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        yield kind, data[position + 8:position + 8 + length]
        position += 12 + length


def _with_text_chunks(data: bytes, fields: dict[str, str]) -> bytes:
    """Insert ``tEXt`` chunks after the PNG header chunk (IHDR is always first, 25 bytes long)."""
    chunks = b""
    for key, value in fields.items():
        body = key.encode("latin-1") + b"\0" + value.encode("latin-1", "replace")
        chunks += struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return data[:33] + chunks + data[33:]


# -- fonts -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Font:
    family: str                 # the name resvg matches, from the font's own name table
    files: tuple[str, ...]      # the regular face first, then its bold and italic siblings
    digest: str = ""            # SHA-256 of the files' bytes: which exact font draws the PNG


def candidate_fonts() -> list[Path]:
    """Where operating systems keep a monospace font, best first (DejaVu Sans Mono everywhere,
    so PNGs made on different machines match as often as possible)."""
    home = Path.home()
    windows = Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts"
    local_windows = Path(os.environ.get("LOCALAPPDATA", home)) / "Microsoft" / "Windows" / "Fonts"
    found = [
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),       # Debian, Ubuntu
        Path("/usr/share/fonts/TTF/DejaVuSansMono.ttf"),                   # Arch
        Path("/usr/share/fonts/dejavu-sans-mono-fonts/DejaVuSansMono.ttf"),  # Fedora
        Path("/usr/share/fonts/dejavu/DejaVuSansMono.ttf"),                # Alpine, older Fedora
        Path("/usr/local/share/fonts/dejavu/DejaVuSansMono.ttf"),          # FreeBSD
        home / "Library/Fonts/DejaVuSansMono.ttf", Path("/Library/Fonts/DejaVuSansMono.ttf"),
        local_windows / "DejaVuSansMono.ttf", windows / "DejaVuSansMono.ttf",
    ]
    found += _matplotlib_font()
    found += [
        Path("/System/Library/Fonts/Menlo.ttc"),                           # macOS
        windows / "consola.ttf",                                           # Windows: Consolas
        Path("/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf"),
        Path("/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"),
        Path("/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf"),
        Path("/usr/share/fonts/truetype/ubuntu/UbuntuMono-R.ttf"),
        Path("/usr/share/fonts/truetype/freefont/FreeMono.ttf"),
    ]
    return found


def _matplotlib_font() -> list[Path]:
    """matplotlib, if installed, bundles DejaVu Sans Mono; finding it does not import it."""
    from importlib.util import find_spec

    try:
        spec = find_spec("matplotlib")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(location) / "mpl-data/fonts/ttf/DejaVuSansMono.ttf" for location in spec.submodule_search_locations]


NO_FONT = ("no monospace font found for PNG screenshots: install DejaVu Sans Mono "
           "(Debian/Ubuntu: apt-get install fonts-dejavu-core) or name a .ttf/.otf file with --font FILE")


@lru_cache(maxsize=8)
def find_font(named: str | None = None, candidates: tuple[Path, ...] | None = None) -> Font:
    """The font a PNG is drawn with: the file named with ``--font``, else the first candidate."""
    if named is not None:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ScreenshotError(f"--font {named}: no such font file")
        return _load(path, label=f"--font {named}")
    for path in candidate_fonts() if candidates is None else candidates:
        if path.is_file():
            try:
                return _load(path, label=str(path))
            except ScreenshotError:
                continue        # an unreadable or proportional font: try the next one
    raise ScreenshotError(NO_FONT)


def _load(path: Path, *, label: str) -> Font:
    try:
        family, monospace = font_names(path.read_bytes())
    except OSError as error:
        raise ScreenshotError(f"{label}: cannot read it: {error.strerror}") from None
    except (ValueError, struct.error, IndexError):
        raise ScreenshotError(f"{label}: not a TrueType or OpenType font (.ttf, .otf, .ttc)") from None
    if not monospace:
        raise ScreenshotError(f"{label}: {family} is not a monospace font, so columns would not line up")
    files = (str(path), *_siblings(path, family))
    digest = hashlib.sha256(b"".join(Path(file).read_bytes() for file in files)).hexdigest()[:16]
    return Font(family, files, digest)


def _siblings(path: Path, family: str) -> list[str]:
    """Bold and italic faces of the same family beside the regular one (DejaVuSansMono-Bold.ttf,
    consolab.ttf), so bold text is drawn bold rather than left regular."""
    stem = re.sub(r"[-_ ]?(Regular|Book|Roman|R)$", "", path.stem)
    found = []
    try:
        neighbours = sorted(path.parent.iterdir())
    except OSError:
        return []
    for other in neighbours:
        if other == path or other.suffix.lower() != path.suffix.lower() or not other.stem.startswith(stem):
            continue
        try:
            if font_names(other.read_bytes())[0] == family:
                found.append(str(other))
        except (OSError, ValueError, struct.error, IndexError):
            continue
    return found


def font_names(data: bytes) -> tuple[str, bool]:
    """(family name, is monospace) from a TrueType/OpenType file, or the first font of a .ttc.

    The family is what resvg matches: the typographic family (name 16) if the font has one,
    else the family (name 1), preferring Windows English names.  Monospace: the ``post`` table's
    isFixedPitch, or an OS/2 PANOSE proportion of "monospaced".
    """
    offset = struct.unpack_from(">I", data, 12)[0] if data[:4] == b"ttcf" else 0
    if data[offset:offset + 4] not in (b"\x00\x01\x00\x00", b"OTTO", b"true"):
        raise ValueError("not an sfnt font")
    (count,) = struct.unpack_from(">H", data, offset + 4)
    tables = {}
    for index in range(count):
        tag, _checksum, start, length = struct.unpack_from(">4sIII", data, offset + 12 + 16 * index)
        tables[tag] = (start, length)
    start, _ = tables[b"name"]
    _format, records, strings = struct.unpack_from(">HHH", data, start)
    names = []
    for index in range(records):
        platform, encoding, language, name_id, length, at = struct.unpack_from(">6H", data, start + 6 + 12 * index)
        if name_id not in (1, 16):
            continue
        raw = data[start + strings + at:start + strings + at + length]
        if platform in (0, 3):
            value = raw.decode("utf-16-be", "replace")
        elif platform == 1 and encoding == 0:
            value = raw.decode("mac_roman", "replace")
        else:
            continue
        names.append(((name_id != 16, not (platform == 3 and language == 0x409), platform != 3), value))
    if not names:
        raise ValueError("the font has no family name")
    family = min(names)[1]
    fixed_pitch = False
    if b"post" in tables:
        fixed_pitch = struct.unpack_from(">I", data, tables[b"post"][0] + 12)[0] != 0
    if not fixed_pitch and b"OS/2" in tables:
        panose = data[tables[b"OS/2"][0] + 32:tables[b"OS/2"][0] + 42]
        fixed_pitch = len(panose) == 10 and panose[0] == 2 and panose[3] == 9
    return family, fixed_pitch
