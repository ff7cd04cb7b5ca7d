"""Screenshots of a finished run: SVG, HTML, TXT and PNG, byte-identical run after run.

Who calls what: ``demo.py --screenshot PATH`` draws the run again on a recording console of a
fixed width, with ports normalised and in canonical order, and calls ``save(console, path,
title=..., font=...)``; the extension picks the format.  ``python -m modes._images`` writes every
image in ``images/`` the same way.

What keeps the bytes stable: the run's canonical order and port placeholders (``modes._narrate``,
``modes._render``), a fixed SVG ``unique_id`` derived from the title (never from the content, nor a
clock), and a PNG drawn by resvg from that SVG with one named font file and no system font lookup.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

# Monospace fonts the usual systems ship, in order of preference; --font names any other.
KNOWN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",          # Debian, Ubuntu (fonts-dejavu-core)
    "/usr/share/fonts/dejavu-sans-mono-fonts/DejaVuSansMono.ttf",   # Fedora
    "/usr/share/fonts/TTF/DejaVuSansMono.ttf",                      # Arch
    "/System/Library/Fonts/Menlo.ttc",                              # macOS
    "C:/Windows/Fonts/consola.ttf",                                 # Windows (Consolas)
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
)
FONT_STACK = '"DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace'


class ScreenshotError(Exception):
    """The screenshot could not be written; str(error) is the one line to show."""


def save(console, path: str, *, title: str, font: str | None = None) -> None:
    """Write what ``console`` recorded to ``path``; the extension picks the format."""
    from rich.terminal_theme import SVG_EXPORT_THEME

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".txt":
        content: str | bytes = console.export_text(clear=False)
    elif suffix == ".html":
        content = console.export_html(clear=False, theme=SVG_EXPORT_THEME, inline_styles=False)
    elif suffix in (".svg", ".png"):
        content = svg(console, title)
        if suffix == ".png":
            content = png(content, find_font(font))
    else:
        raise ScreenshotError(f"{path}: the name must end in .svg, .html, .txt or .png")
    try:
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8", newline="\n")
    except OSError as error:
        raise ScreenshotError(f"cannot write {path}: {error.strerror}") from None


def svg(console, title: str) -> str:
    """Rich's SVG with a stable id, and fonts a machine has (no web font to fetch)."""
    from rich.terminal_theme import SVG_EXPORT_THEME

    unique_id = "demo-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    text = console.export_svg(title=title, theme=SVG_EXPORT_THEME, clear=False, unique_id=unique_id)
    text = re.sub(r"\s*@font-face \{.*?\}\n", "\n", text, flags=re.DOTALL)
    text = text.replace("font-family: Fira Code, monospace;", f"font-family: {FONT_STACK};")
    return text.replace("font-family: arial;", f"font-family: {FONT_STACK};")


def find_font(named: str | None) -> Path:
    """The monospace font file for PNG: the one named, else the first the system has."""
    if named is not None:
        path = Path(named)
        if not path.is_file():
            raise ScreenshotError(f"--font {named}: no such font file")
        return path
    for candidate in KNOWN_FONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    matched = _fontconfig_monospace()
    if matched is not None:
        return matched
    raise ScreenshotError("no monospace font found for PNG: install one (Debian: apt-get install "
                          "fonts-dejavu-core) or name a .ttf/.otf file with --font FILE")


def _fontconfig_monospace() -> Path | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(["fc-match", "-f", "%{file}", "monospace:style=Regular"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(found) if found and Path(found).suffix.lower() in (".ttf", ".otf", ".ttc") else None


def png(svg_text: str, font: Path) -> bytes:
    """Draw the SVG with resvg, using only ``font`` (and its bold face when it sits beside it)."""
    try:
        import resvg_py
    except ImportError:
        raise ScreenshotError("PNG screenshots need resvg-py: pip install -r requirements.txt") from None
    family = font_family(font)
    if family is None:
        raise ScreenshotError(f"{font}: not a TrueType/OpenType font file this program can read")
    files = [str(font)]
    bold = font.with_name(font.stem.replace("-Regular", "") + "-Bold" + font.suffix)
    if bold.is_file() and bold != font:
        files.append(str(bold))
    styled = svg_text.replace(f"font-family: {FONT_STACK};", f'font-family: "{family}";')
    try:
        return bytes(resvg_py.svg_to_bytes(svg_string=styled, skip_system_fonts=True, font_files=files,
                                           font_family=family, monospace_family=family))
    except ValueError as error:
        raise ScreenshotError(f"PNG could not be drawn: {error}") from None


def font_family(path: Path) -> str | None:
    """The family name inside a .ttf/.otf (or the first font of a .ttc), from its 'name' table."""
    import struct
    try:
        data = path.read_bytes()
        start = struct.unpack(">I", data[12:16])[0] if data[:4] == b"ttcf" else 0
        tables = struct.unpack(">H", data[start + 4:start + 6])[0]
        for index in range(tables):
            tag, _, offset, _ = struct.unpack(">4sIII", data[start + 12 + 16 * index:start + 28 + 16 * index])
            if tag != b"name":
                continue
            _, count, strings = struct.unpack(">HHH", data[offset:offset + 6])
            names = {}
            for record in range(count):
                platform, _, _, name_id, length, where = struct.unpack(
                    ">HHHHHH", data[offset + 6 + 12 * record:offset + 18 + 12 * record])
                if name_id in (1, 16):
                    raw = data[offset + strings + where:offset + strings + where + length]
                    names[name_id] = raw.decode("utf-16-be" if platform in (0, 3) else "latin-1", "replace")
            return names.get(16) or names.get(1)
    except (OSError, struct.error, IndexError):
        return None
    return None
