"""The monospace font a PNG screenshot is drawn with: found on this machine, or named with --font.

Exposes ``Font`` (family, files, digest), ``find_font(named=None)`` (the font, or a one-line
``ScreenshotError``), ``candidate_fonts()`` (where systems keep one, best first) and
``font_names(data)`` (family name and monospace flag read from a font file's own tables).
Called by ``narration.screenshots.png`` when drawing a PNG, and by the images script and tests,
which compare a PNG's recorded renderer with ``renderer(find_font())``.

Nothing here imports matplotlib, rich or resvg: font files are read as bytes with ``struct``.
"""
from __future__ import annotations

import hashlib
import os
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from narration.errors import ScreenshotError


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
