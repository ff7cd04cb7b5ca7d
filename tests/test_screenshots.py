"""Screenshots: byte-identical files in every format, PNGs whose pixels show the text in the
terminal's colours with box lines that join, fonts found or refused in one line, and an images/
folder that a test proves current."""
from __future__ import annotations

import html
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from xml.etree import ElementTree

import pytest
from conftest import ROOT, run_demo

from narration import screenshots as _screenshot
from narration.screenshots import render_rows

sys.path.insert(0, str(ROOT / "images"))
import regenerate as _images


def shoot(tmp_path, name: str, *args: str, env=None) -> bytes:
    target = tmp_path / name
    result = run_demo(*args, "--screenshot", str(target), env=env)
    assert result.returncode == 0, result.stderr
    return target.read_bytes()


def shoot_three(tmp_path, suffix: str, *args: str) -> list[bytes]:
    """Three separate processes at once, each with its own hash seed (as on other machines)."""
    targets = [tmp_path / f"run{number}{suffix}" for number in range(3)]
    processes = [subprocess.Popen([sys.executable, str(ROOT / "demo.py"), *args, "--screenshot", str(target)],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env={**os.environ, "PYTHONHASHSEED": str(number)})
                 for number, target in enumerate(targets)]
    for process in processes:
        _, err = process.communicate(timeout=20)
        assert process.returncode == 0, err.decode()
    return [target.read_bytes() for target in targets]


# -- determinism -------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["echo", "number-add"])
@pytest.mark.parametrize("suffix", [".svg", ".html", ".txt", ".png"])
def test_three_runs_give_identical_bytes(tmp_path, mode, suffix):
    runs = shoot_three(tmp_path, suffix, "--mode", mode)
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) > 1000


def test_ports_and_times_are_placeholders(tmp_path):
    text = shoot(tmp_path, "run.txt", "--mode", "echo").decode()
    assert "127.0.0.1:PORT" in text and "local port EPH1" in text
    assert not re.search(r":\d{4,5}\b", text)          # no real port number anywhere
    assert not re.search(r"\d+\.\d+ ?ms", text)         # no times


def test_the_title_is_the_command_and_the_width_is_fixed(tmp_path):
    env = {**os.environ, "COLUMNS": "200"}               # the author's wide terminal changes nothing
    svg = shoot(tmp_path, "run.svg", "--mode", "number-add", env=env).decode()
    assert "<title>python demo.py --mode number-add</title>" in svg
    lines = shoot(tmp_path, "run.txt", "--mode", "number-add", env=env).decode().splitlines()
    assert lines[0] == "$ python demo.py --mode number-add"
    assert max(len(line) for line in lines) <= 80
    wide = shoot(tmp_path, "wide.txt", "--mode", "number-add", "--width", "120").decode().splitlines()
    assert wide[0] == "$ python demo.py --mode number-add --width 120"
    assert max(len(line) for line in wide) > 80
    page = shoot(tmp_path, "run.html", "--mode", "echo", "--view", "ladder").decode()
    assert "<title>python demo.py --mode echo --view ladder</title>" in page


def test_a_three_lane_ladder_gets_100_columns(tmp_path):
    lines = shoot(tmp_path, "ladder.txt", "--mode", "ordering", "--view", "ladder").decode().splitlines()
    assert 80 < max(len(line) for line in lines) <= 100
    lines = shoot(tmp_path, "ladder.txt", "--mode", "echo", "--view", "ladder").decode().splitlines()
    assert max(len(line) for line in lines) <= 80


def test_network_text_cannot_break_out_of_the_svg(tmp_path):
    hostile = '</text><script>alert(1)</script> & "quotes" <b>\x1b[31m'
    svg = shoot(tmp_path, "run.svg", "--mode", "echo", "--send", hostile).decode()
    root = ElementTree.fromstring(svg)                 # well-formed XML
    assert not [element for element in root.iter() if element.tag.endswith("script")]
    assert re.findall(r"https?://[^\s\"']+", svg) == ["http://www.w3.org/2000/svg"]   # fetches nothing
    shown = html.unescape("".join(root.itertext())).replace("\xa0", " ")
    assert "<script>alert(1)</script>" in shown and "\\x1b" in shown


def test_column_positions_are_whole_pixels_and_the_width_follows_the_columns(tmp_path):
    narrow = shoot(tmp_path, "a.svg", "--mode", "echo").decode()
    wide = shoot(tmp_path, "b.svg", "--mode", "echo", "--width", "120").decode()
    for element in re.findall(r"<text [^>]*>|<rect [^>]*crispEdges[^>]*>", narrow):
        assert not re.search(r'\b(?:x|y|width|height|textLength)="-?\d+\.', element), element
    assert view_box(wide)[0] - view_box(narrow)[0] == 40 * _screenshot.CELL_WIDTH


# -- PNG pixels --------------------------------------------------------------------------------
def view_box(svg: str) -> tuple[int, int]:
    width, height = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups()
    return int(width), int(height)


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGBA rows of an 8-bit RGBA PNG (what resvg writes); small images only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 6)
    idat, position = b"", 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        idat += data[position + 8:position + 8 + length] if kind == b"IDAT" else b""
        position += 12 + length
    raw, stride, rows, previous = zlib.decompress(idat), width * 4, [], bytearray(width * 4)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 4] if i >= 4 else 0
            b, c = previous[i], (previous[i - 4] if i >= 4 else 0)
            if kind == 4:
                p = a + b - c
                a = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
            line[i] = (line[i] + (0, a, b, (a + b) // 2, a)[kind]) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def colours(rows: list[bytes]) -> set[str]:
    return {row[i:i + 3].hex() for row in rows for i in range(0, len(row), 4) if row[i + 3] == 255}


def crop(svg: str, x: int, y: int, width: int, height: int) -> str:
    """The same drawing seen through a small window (so the test decodes few pixels)."""
    return re.sub(r'viewBox="[^"]*" width="\d+" height="\d+"',
                  f'viewBox="{x} {y} {width} {height}" width="{width}" height="{height}"', svg, count=1)


def test_the_png_is_the_svg_at_twice_the_size_and_shows_text(tmp_path):
    svg = shoot(tmp_path, "run.svg", "--mode", "echo").decode()
    drawn = shoot(tmp_path, "run.png", "--mode", "echo")
    width, height = struct.unpack(">II", drawn[16:24])
    assert (width, height) == tuple(2 * side for side in view_box(svg))
    assert _screenshot.png_source(drawn) == _screenshot.sha256_text(svg)
    # The same SVG drawn with no font at all has the window and backgrounds but no glyphs.
    import resvg_py
    blank = bytes(resvg_py.svg_to_bytes(svg_string=svg, skip_system_fonts=True, font_files=[], zoom=2))
    assert len(drawn) > 3 * len(blank)


def test_text_in_the_png_has_the_terminal_colours(tmp_path):
    from rich.color import Color

    from narration.views.theme import palette

    svg = shoot(tmp_path, "run.svg", "--mode", "echo").decode()
    for name, colour in (("server", "magenta"), ("client", "cyan")):
        css, x, y, length = re.search(rf'<text class="([\w-]+)" x="(\d+)" y="(\d+)" textLength="(\d+)">{name}(?:&#160;)*<',
                                      svg).groups()
        fill = re.search(rf"\.{css} {{ fill: (#[0-9a-f]{{6}})", svg).group(1)
        assert fill == Color.parse(colour).get_truecolor(palette("dark")).hex      # the theme's colour
        window = crop(svg, int(x), int(y) - 18, int(length), 24)
        _, _, rows = decode_png(_screenshot.png(window))
        assert fill[1:] in colours(rows), f"no {fill} pixel where the SVG writes {name!r}"


def drawn(*lines: str, width: int = 40) -> str:
    """An SVG of these lines, one per row, as the screenshot code draws any renderable."""
    from rich.text import Text

    return _screenshot.svg(render_rows(Text("\n".join(lines)), width), width=width, title="boxes")


def test_box_lines_join_across_rows_and_columns():
    svg = drawn("┌──┬──┐", "│  │  │", "╞══╪══╡", "└──┴──┘", "╭─╮ ║", "╰─╯ ║")
    rows_drawn, columns = 6, 7
    width, height = columns * _screenshot.CELL_WIDTH, rows_drawn * _screenshot.CELL_HEIGHT
    _, _, rows = decode_png(_screenshot.png(crop(svg, _screenshot.PADDING, _screenshot.TITLE_BAR, width, height)))
    line_colour = bytes.fromhex("e6e6e6ff")            # the dark theme's foreground

    def inked(x, y):
        return rows[y][4 * x:4 * x + 4] == line_colour

    box_height = 4 * 2 * _screenshot.CELL_HEIGHT       # the first four rows, at zoom 2
    # Some pixel column runs unbroken from the top line of the box to its bottom line ...
    tops = [x for x in range(2 * width) if all(inked(x, y) for y in range(24, box_height - 24))]
    assert len(tops) >= 3 * 2, "vertical box lines break between rows"
    # ... and some pixel row runs unbroken from its left edge to its right edge.
    cell = 2 * _screenshot.CELL_WIDTH
    rows_across = [y for y in range(box_height) if all(inked(x, y) for x in range(cell // 2 + 2, 2 * width - cell // 2 - 2))]
    assert len(rows_across) >= 3, "horizontal box lines break between columns"
    # The double vertical line in the last two rows is two strokes with a gap, unbroken too.
    double = [x for x in range(4 * cell, 5 * cell) if all(inked(x, y) for y in range(box_height, len(rows)))]
    assert double and max(double) - min(double) > len(double)


def test_box_drawing_characters_are_read_from_their_unicode_names():
    assert _screenshot.box_arms("┤") == ({"u": 1, "d": 1, "l": 1}, False)
    assert _screenshot.box_arms("┏") == ({"d": 2, "r": 2}, False)
    assert _screenshot.box_arms("╞") == ({"u": 1, "d": 1, "r": 3}, False)
    assert _screenshot.box_arms("╭") == ({"d": 1, "r": 1}, True)
    assert _screenshot.box_arms("╽") == ({"u": 1, "d": 2}, False)
    assert _screenshot.box_arms("┄") is None and _screenshot.box_arms("╱") is None
    assert _screenshot.box_arms("x") is None and _screenshot.box_arms("▶") is None


# -- fonts -------------------------------------------------------------------------------------
def dejavu(name: str) -> Path:
    """A file of the DejaVu family (CI installs fonts-dejavu-core), beside the font PNGs use."""
    path = Path(_screenshot.find_font().files[0]).with_name(name)
    assert path.is_file(), f"{path} is missing: install fonts-dejavu-core"
    return path


def test_font_names_come_from_the_font_files():
    assert _screenshot.font_names(dejavu("DejaVuSansMono.ttf").read_bytes()) == ("DejaVu Sans Mono", True)
    assert _screenshot.font_names(dejavu("DejaVuSans.ttf").read_bytes()) == ("DejaVu Sans", False)
    font = _screenshot.find_font(str(dejavu("DejaVuSansMono.ttf")))
    assert any(file.endswith("DejaVuSansMono-Bold.ttf") for file in font.files)   # bold drawn bold


@pytest.mark.parametrize("font, words", [
    ("/no/such.ttf", "--font /no/such.ttf: no such font file"),
    ("README.md", "--font README.md: not a TrueType or OpenType font (.ttf, .otf, .ttc)"),
    ("DejaVuSans.ttf", "DejaVu Sans is not a monospace font, so columns would not line up"),
])
def test_an_unusable_font_is_one_line_and_exit_9(tmp_path, font, words):
    path = str(dejavu(font)) if font.startswith("DejaVu") else font
    result = run_demo("--mode", "echo", "--screenshot", str(tmp_path / "x.png"), "--font", path)
    assert result.returncode == 9
    assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_no_usable_font_says_what_to_do(tmp_path):
    proportional = dejavu("DejaVuSans.ttf")
    with pytest.raises(_screenshot.ScreenshotError, match=r"^no monospace font found .*--font FILE$"):
        _screenshot.find_font(None, (tmp_path / "missing.ttf", proportional))


def test_a_named_font_is_used(tmp_path):
    named = shoot(tmp_path, "named.png", "--mode", "echo", "--font", str(dejavu("DejaVuSansMono-Bold.ttf")))
    default = shoot(tmp_path, "found.png", "--mode", "echo")
    assert named != default                              # --font really changed the drawing
    assert named[16:24] == default[16:24]                # and nothing else: same size


def test_only_a_png_screenshot_imports_resvg(tmp_path):
    code = ("import sys, demo; demo.main(['--mode', 'echo', '--screenshot', sys.argv[1]]);"
            "print('resvg_py' in sys.modules)")
    for suffix, imported in ((".svg", "False"), (".png", "True")):
        result = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"run{suffix}")],
                                cwd=ROOT, capture_output=True, text=True, timeout=20, check=False)
        assert result.stdout.strip().splitlines()[-1] == imported, result.stderr


# -- images/ -----------------------------------------------------------------------------------
IMAGE_GROUPS = 4     # the images in four groups, so that parallel workers share the drawing


@pytest.mark.parametrize("group", range(IMAGE_GROUPS))
def test_images_are_current(tmp_path, group):
    """images/ must be what `python images/regenerate.py` writes now, for every mode and lesson."""
    names = set(sorted(_images.image_table())[group::IMAGE_GROUPS])
    stale = _images.stale(ROOT / "images", tmp_path, names)
    assert stale == [], f"stale images: {stale}; regenerate them with: python images/regenerate.py"


def test_a_changed_image_is_reported_stale(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in _images.image_table():
        (folder / f"{name}.svg").write_bytes((ROOT / "images" / f"{name}.svg").read_bytes())
    for name in _images.png_names():
        (folder / f"{name}.png").write_bytes((ROOT / "images" / f"{name}.png").read_bytes())
    (folder / "echo.svg").write_text((folder / "echo.svg").read_text().replace("EPH1", "EPH9"))
    (folder / "relay.png").unlink()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    checked = {"echo", "relay", "number-add", "lesson-stream"}      # two changed, two not: enough to tell
    assert sorted(_images.stale(folder, scratch, checked)) == ["echo.svg", "relay.png"]


def test_every_image_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in _images.image_table():
        assert f"images/{name}.svg" in readme, name


def test_every_mark_a_view_draws_has_a_glyph_in_the_png_font():
    """A character the font lacks is drawn as its 'missing' box: compare with a private-use one."""
    import io

    from PIL import Image
    from rich.text import Text

    def pixels(char: str) -> bytes:
        svg = _screenshot.svg(render_rows(Text(char * 4), 40), width=40, title="glyph")
        return Image.open(io.BytesIO(_screenshot.png(svg))).convert("RGBA").tobytes()

    missing = pixels("\ue000")
    for mark in ("✎", "»", "✗", "→", "←", "…", "●", "▶", "◀", "◇", "┆", "·", "✓"):
        assert pixels(mark) != missing, mark
    assert pixels("ⓘ") == missing                 # why ⓘ is no longer used: this font has no ⓘ
