"""Screenshots: byte-identical files in every format, PNGs that really show text, fonts, and an
images/ folder that a test proves current."""
from __future__ import annotations

import html
import re
import struct
import zlib

import pytest
from conftest import ROOT, run_demo

from modes import _images, _screenshot


def shoot(tmp_path, name: str, *args: str, env=None) -> bytes:
    target = tmp_path / name
    result = run_demo(*args, "--screenshot", str(target), env=env)
    assert result.returncode == 0, result.stderr
    return target.read_bytes()


@pytest.mark.parametrize("suffix", [".svg", ".html", ".txt", ".png"])
def test_three_runs_give_identical_bytes(tmp_path, suffix):
    runs = [shoot(tmp_path, f"run{number}{suffix}", "--mode", "echo") for number in range(3)]
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) > 1000


def test_concurrent_modes_are_identical_too(tmp_path):
    for mode in ("ordering", "chat"):
        first = shoot(tmp_path, "a.svg", "--mode", mode)
        assert shoot(tmp_path, "b.svg", "--mode", mode) == first


def test_ports_and_times_are_placeholders(tmp_path):
    text = shoot(tmp_path, "run.txt", "--mode", "echo").decode()
    assert "127.0.0.1:PORT" in text and "local port EPH1" in text
    assert not re.search(r":\d{4,5}\b", text)          # no real port number anywhere
    assert not re.search(r"\d+\.\d+ms", text)           # no times


def test_the_title_names_the_mode_and_the_width_is_fixed(tmp_path):
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    import os
    env = {**os.environ, **env}
    svg = shoot(tmp_path, "run.svg", "--mode", "number-add", env=env).decode()
    assert "demo.py --mode number-add" in html.unescape(svg).replace("\xa0", " ")
    lines = shoot(tmp_path, "run.txt", "--mode", "number-add", env=env).decode().splitlines()
    assert max(len(line) for line in lines) <= 80
    wide = shoot(tmp_path, "wide.txt", "--mode", "number-add", "--width", "120").decode().splitlines()
    assert max(len(line) for line in wide) > 80


def test_a_three_lane_ladder_gets_100_columns(tmp_path):
    lines = shoot(tmp_path, "ladder.txt", "--mode", "ordering", "--view", "ladder").decode().splitlines()
    assert 80 < max(len(line) for line in lines) <= 100
    lines = shoot(tmp_path, "ladder.txt", "--mode", "echo", "--view", "ladder").decode().splitlines()
    assert max(len(line) for line in lines) <= 80


def png_size_and_pixels(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"IDAT":
            chunks.append(data[position + 8:position + 8 + length])
        position += 12 + length
    return width, height, zlib.decompress(b"".join(chunks))


def test_the_png_is_the_svg_drawn_with_its_text(tmp_path):
    svg = shoot(tmp_path, "run.svg", "--mode", "echo").decode()
    view_width, view_height = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    width, height, pixels = png_size_and_pixels(shoot(tmp_path, "run.png", "--mode", "echo"))
    assert (width, height) == (round(view_width), round(view_height))
    # The same SVG drawn with no font at all: only the window and its colours, no glyphs.
    import resvg_py
    blank = bytes(resvg_py.svg_to_bytes(svg_string=svg, skip_system_fonts=True, font_files=[]))
    _, _, blank_pixels = png_size_and_pixels(blank)
    assert len(zlib.compress(pixels)) > 3 * len(zlib.compress(blank_pixels))   # text adds detail


def test_a_font_that_does_not_exist_is_one_line_and_exit_9(tmp_path):
    result = run_demo("--mode", "echo", "--screenshot", str(tmp_path / "x.png"), "--font", "/no/such.ttf")
    assert result.returncode == 9
    assert result.stderr.strip() == "demo.py: --font /no/such.ttf: no such font file"


def test_no_usable_font_says_what_to_do(monkeypatch):
    monkeypatch.setattr(_screenshot, "KNOWN_FONTS", ())
    monkeypatch.setattr(_screenshot.shutil, "which", lambda name: None)
    with pytest.raises(_screenshot.ScreenshotError, match="no monospace font found.*--font FILE"):
        _screenshot.find_font(None)


def test_a_named_font_is_used(tmp_path):
    found = _screenshot.find_font(None)
    other = next((path for path in sorted(found.parent.glob("*Mono*.tt[fc]")) if path != found), None)
    assert other is not None, f"no second monospace face beside {found} to tell the two apart"
    assert _screenshot.font_family(other)
    named = shoot(tmp_path, "named.png", "--mode", "echo", "--font", str(other))
    default = shoot(tmp_path, "found.png", "--mode", "echo")
    assert named != default                              # --font really changed the drawing
    assert png_size_and_pixels(named)[:2] == png_size_and_pixels(default)[:2]


def test_images_are_current(tmp_path):
    """images/ must be exactly what `python -m modes._images` writes now; if not, run it."""
    stale = []
    for name, args in _images.image_table().items():
        drawn = _images.draw(name, args, tmp_path)
        committed = ROOT / "images" / f"{name}.svg"
        if not committed.is_file() or committed.read_bytes() != drawn.read_bytes():
            stale.append(committed.name)
    for name in _images.png_names():
        font = _screenshot.find_font(None)
        drawn = _screenshot.png((tmp_path / f"{name}.svg").read_text(encoding="utf-8"), font)
        committed = ROOT / "images" / f"{name}.png"
        if not committed.is_file() or committed.read_bytes() != drawn:
            stale.append(committed.name)
    assert stale == [], f"stale images: {stale}; regenerate with: python -m modes._images"


def test_every_image_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name in _images.image_table():
        assert f"images/{name}.svg" in readme, name
