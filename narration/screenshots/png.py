"""PNG screenshots: an SVG drawn by resvg with one named font, tagged with what it was drawn from.

Exposes ``png(svg_text, font=None) -> bytes``; ``png_source(data)`` and ``png_renderer(data)``,
which read back the two ``tEXt`` chunks every PNG of ours carries; ``sha256_text(text)`` and
``renderer(font)``, the values those chunks are compared with; and ``write(target, content)``,
which every format is saved through.  Called by ``narration.screenshots.save`` for ``.png``, and
by the images script, which draws each PNG from the SVG it has just written.

resvg (``resvg-py``) is imported only inside ``png`` and ``renderer``: a run that saves no PNG
never pays for it.
"""
from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

from narration.errors import ScreenshotError
from narration.screenshots.fonts import Font, find_font

PNG_ZOOM = 2             # PNG pixels per SVG pixel: sharp on slides and high-density screens


def write(target: str | Path, content: bytes) -> None:
    """Write a screenshot's bytes, or raise a one-line ``ScreenshotError``."""
    try:
        Path(target).write_bytes(content)   # bytes: no "\r\n" on Windows, the same file everywhere
    except OSError as error:
        raise ScreenshotError(f"cannot write {target}: {error.strerror}") from None


def png(svg_text: str, *, font: str | None = None, zoom: int = PNG_ZOOM) -> bytes:
    """The SVG drawn by resvg with one monospace font (``font``, or one this machine ships),
    ``zoom`` times its size (2: sharp on a projector; GIF and WebP frames use 1)."""
    chosen = find_font(font)
    resvg_py = _resvg()
    try:
        drawn = resvg_py.svg_to_bytes(
            svg_string=svg_text, skip_system_fonts=True, font_files=list(chosen.files),
            font_family=chosen.family, monospace_family=chosen.family, sans_serif_family=chosen.family,
            zoom=zoom)
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
