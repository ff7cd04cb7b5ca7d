"""Recordings of a run (issue 17): Mermaid, asciicast, animated SVG, the light theme."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import run_demo
from test_screenshots import shoot, shoot_three

from narration import events as ev
from narration.screenshots.mermaid import mermaid

INERT = r"(?:[^;#<>\"%{}\n\x00-\x1f]|#\w+;)+"      # no syntax, no markup: only entity codes
MERMAID_LINE = re.compile(rf"    (participant P\d+ as {INERT}|P\d+(->>|-x|--\))P\d+: {INERT}|Note over P\d+: {INERT})")


# -- Mermaid ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["echo", "chat"])
def test_mermaid_is_byte_identical_across_runs(tmp_path, mode):
    runs = shoot_three(tmp_path, ".mmd", "--mode", mode)
    assert runs[0] == runs[1] == runs[2]


def test_mermaid_draws_the_ladder_as_a_sequence_diagram(tmp_path):
    lines = shoot(tmp_path, "echo.mmd", "--mode", "echo").decode().splitlines()
    assert lines[0] == "sequenceDiagram"
    assert lines[1:3] == ["    participant P0 as server", "    participant P1 as client"]
    for line in lines[1:]:
        assert MERMAID_LINE.fullmatch(line), line
    assert "    P1->>P0: connect" in lines
    assert "    P1->>P0: #quot;hello\\n#quot; 6 B" in lines
    assert "    P0--)P1: close" in lines
    assert lines.index("    P1->>P0: connect") < lines.index("    P1->>P0: #quot;hello\\n#quot; 6 B")


def test_mermaid_keeps_network_text_inert(tmp_path):
    """A payload cannot end a statement, open a tag, start a directive or act on a terminal."""
    hostile = 'a;b#c<img src=x>"d" %%{init: {}}%% \x1b[2J end'
    lines = shoot(tmp_path, "echo.mmd", "--mode", "echo", "--send", hostile).decode().splitlines()
    for line in lines[1:]:
        assert MERMAID_LINE.fullmatch(line), line
    sent = next(line for line in lines if line.startswith("    P1->>P0: #quot;a"))
    assert sent == ("    P1->>P0: #quot;a#59;b#35;c#lt;img src=x#gt;#quot;d#quot; #37;#37;#123;init: "
                    "#123;#125;#125;#37;#37; \\x1b[2J …#quot; 44 B")     # cut at 40 characters
    assert "\x1b" not in "\n".join(lines)


def test_mermaid_draws_a_lost_datagram_as_a_crossed_arrow():
    """Events are data: a datagram sent to a socket of the run that never received it."""
    server, client = ("127.0.0.1", 5000), ("127.0.0.1", 6000)
    events = [ev.Bind("server", ("127.0.0.1", 0), server), ev.SendTo("client", b"ping 1", 6, client, server),
              ev.RecvFrom("server", b"ping 1", 6, server, client), ev.SendTo("client", b"ping 2", 6, client, server)]
    lines = mermaid(events, {"server": 0, "client": 1}).splitlines()
    assert "    P1->>P0: #quot;ping 1#quot; 6 B" in lines
    assert lines[-1] == "    P1-xP0: #quot;ping 2#quot; 6 B"


def test_an_unknown_screenshot_extension_names_the_formats(tmp_path):
    result = run_demo("--mode", "echo", "--screenshot", str(tmp_path / "run.gif2"))
    assert result.returncode == 2
    assert ".mmd" in result.stderr


# -- asciicast ------------------------------------------------------------------------------------
def read_cast(data: bytes) -> tuple[dict, list]:
    header, *records = data.decode("ascii").splitlines()      # JSON with ASCII escapes only
    return json.loads(header), [json.loads(record) for record in records]


@pytest.mark.parametrize("mode", ["echo", "relay"])
def test_a_cast_is_byte_identical_across_runs(tmp_path, mode):
    runs = shoot_three(tmp_path, ".cast", "--mode", mode)
    assert runs[0] == runs[1] == runs[2]


def test_a_cast_has_one_step_and_one_marker_per_event_at_a_steady_pace(tmp_path):
    header, records = read_cast(shoot(tmp_path, "echo.cast", "--mode", "echo"))
    assert header == {"version": 2, "width": 80, "height": header["height"], "title": "python demo.py --mode echo",
                      "env": {"TERM": "xterm-256color"}}
    assert records[0] == [0.0, "o", "$ python demo.py --mode echo\r\n"]
    steps = records[1:-1]
    outputs, markers = steps[0::2], steps[1::2]
    assert [kind for _, kind, _ in outputs] == ["o"] * len(outputs)
    assert [kind for _, kind, _ in markers] == ["m"] * len(markers)
    assert [time for time, _, _ in outputs] == [0.5 * n for n in range(1, len(outputs) + 1)]
    assert [time for time, _, _ in markers] == [time for time, _, _ in outputs]
    assert markers[3][2] == "4 server listen backlog 256; waiting for connections on 127."
    assert records[-1] == [outputs[-1][0] + 2.0, "o", ""]            # a pause on the last frame
    text = "".join(data for _, kind, data in records if kind == "o")
    assert header["height"] == text.count("\r\n") + 1             # every row, and the cursor below


def test_a_cast_carries_no_control_sequence_from_the_network(tmp_path):
    _, records = read_cast(shoot(tmp_path, "echo.cast", "--mode", "echo", "--send", "\x1b[2J\x1b]0;owned\x07 hi"))
    text = "".join(data for _, kind, data in records if kind == "o")
    assert re.sub(r"\x1b\[[0-9;]*m", "", text).count("\x1b") == 0     # colours only
    assert "\\x1b[2J\\x1b]0;owned\\x07 hi" in text


def test_asciinema_plays_the_cast(tmp_path):
    target = tmp_path / "echo.cast"
    shoot(tmp_path, "echo.cast", "--mode", "echo")
    played = subprocess.run([sys.executable, "-m", "asciinema", "cat", str(target)], capture_output=True,
                            timeout=30, check=True).stdout.decode("utf-8")
    _, records = read_cast(target.read_bytes())
    assert played == "".join(data for _, kind, data in records if kind == "o")
    assert "waiting for connections on 127.0.0.1:PORT" in played


# -- animated SVG ---------------------------------------------------------------------------------
def test_an_animated_svg_is_byte_identical_across_runs(tmp_path):
    runs = shoot_three(tmp_path, ".svg", "--mode", "ordering", "--animate")
    assert runs[0] == runs[1] == runs[2]


def test_an_animation_reveals_one_event_per_step_without_copying_text(tmp_path):
    still = shoot(tmp_path, "still.svg", "--mode", "echo").decode()
    moving = shoot(tmp_path, "moving.svg", "--mode", "echo", "--animate").decode()
    delays = [float(d) for d in re.findall(r'<g class="[\w-]+-step" style="animation-delay: ([\d.]+)s">', moving)]
    assert len(delays) == 28                                      # the echo run's 28 events
    assert delays == [1.5 + 0.5 * n for n in range(28)]           # after the poster, a steady pace
    assert moving.count("<text ") == still.count("<text ") + 1    # each text once, and the poster
    poster = "▶ python demo.py --mode echo: 28 steps, one every 0.5 s, played once"
    assert poster.replace(" ", "&#160;") in moving
    assert "infinite" not in moving                               # no loop


@pytest.mark.timeout(120)      # two drawings of the whole run: resvg takes a while on a busy machine
def test_a_viewer_that_does_not_animate_shows_the_whole_run(tmp_path):
    """resvg (the PNG renderer) ignores CSS animation: the animated SVG must draw what the still one does."""
    import io

    from PIL import Image

    from narration.screenshots import png

    still = shoot(tmp_path, "still.svg", "--mode", "echo").decode()
    moving = shoot(tmp_path, "moving.svg", "--mode", "echo", "--animate").decode()
    pixels = (lambda drawn: Image.open(io.BytesIO(drawn)).convert("RGBA").tobytes())
    assert pixels(png(moving, zoom=1)) == pixels(png(still, zoom=1))


def test_animate_needs_an_svg_screenshot(tmp_path):
    for args in ([], ["--screenshot", str(tmp_path / "run.png")]):
        result = run_demo("--mode", "echo", "--animate", *args)
        assert result.returncode == 2 and "--animate" in result.stderr


# -- themes ---------------------------------------------------------------------------------------
def luminance(colour: str) -> float:
    def channel(value: int) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_contrasts(svg: str) -> list[tuple[float, str, str, str]]:
    """(contrast, text, its colour, the colour behind it) for every text run of a screenshot."""
    fills = dict(re.findall(r"\.([\w-]+) \{ fill: (#[0-9a-f]{6})", svg))
    window = re.search(r'<rect x="0.5" y="0.5" [^>]* fill="(#[0-9a-f]{6})"', svg).group(1)
    boxes = [(int(x), int(y), int(w), int(h), fill) for x, y, w, h, fill in
             re.findall(r'<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)" fill="(#[0-9a-f]{6})"', svg)]
    found = []
    for name, x, y, text in re.findall(r'<text class="([\w-]+)" x="(\d+)" y="(\d+)"[^>]*>([^<]*)</text>', svg):
        if name not in fills:
            continue
        behind = next((fill for bx, by, bw, bh, fill in boxes
                       if bx <= int(x) < bx + bw and by <= int(y) - 5 < by + bh), window)
        found.append((contrast(fills[name], behind), text, fills[name], behind))
    return found


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_every_colour_meets_wcag_aa_on_its_theme(tmp_path, theme):
    """4.5:1 at least, for every run of text (dimmed notes, payloads in their boxes, each actor)."""
    for args in (["--mode", "chat"], ["--mode", "echo", "--explain", "--send", "\x1b[1m"]):
        svg = shoot(tmp_path, f"{theme}.svg", *args, "--theme", theme).decode()
        measured = text_contrasts(svg)
        assert len(measured) > 50
        worst = min(measured)
        assert worst[0] >= 4.5, worst


def test_the_light_theme_is_light_and_the_dark_dark(tmp_path):
    light = shoot(tmp_path, "light.svg", "--mode", "echo", "--theme", "light").decode()
    dark = shoot(tmp_path, "dark.svg", "--mode", "echo").decode()
    window = re.compile(r'<rect x="0.5" y="0.5" [^>]* fill="(#[0-9a-f]{6})"')
    assert luminance(window.search(light).group(1)) > 0.9
    assert luminance(window.search(dark).group(1)) < 0.1
    assert light.replace("\n", "") != dark.replace("\n", "")


# -- GIF and WebP -----------------------------------------------------------------------------------
def webp_durations(data: bytes) -> list[int]:
    """Each frame's duration in ms, from the ANMF chunks of an animated WebP (RIFF)."""
    import struct

    durations, position = [], 12
    while position + 8 <= len(data):
        kind, size = data[position:position + 4], struct.unpack("<I", data[position + 4:position + 8])[0]
        if kind == b"ANMF":
            durations.append(int.from_bytes(data[position + 20:position + 23], "little"))
        position += 8 + size + (size & 1)
    return durations


@pytest.mark.timeout(120)
@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_gif_and_webp_are_byte_identical_and_play_once(tmp_path, suffix):
    import io

    from PIL import Image

    runs = shoot_three(tmp_path, suffix, "--mode", "echo")
    assert runs[0] == runs[1] == runs[2]
    movie = Image.open(io.BytesIO(runs[0]))
    assert movie.n_frames == 1 + 28                       # the poster, then the echo run's 28 events
    if suffix == ".gif":
        durations = []
        for frame in range(movie.n_frames):
            movie.seek(frame)
            durations.append(movie.info.get("duration"))
    else:                                                 # Pillow does not report WebP's: read them
        durations = webp_durations(runs[0])
    assert durations == [1500] + [500] * 27 + [2000]
    assert movie.info.get("loop") in (None, 1)            # GIF: no loop extension; WebP: once


@pytest.mark.timeout(120)
def test_the_last_frame_is_the_whole_run(tmp_path):
    import io

    from PIL import Image

    from narration.screenshots import png

    movie = Image.open(io.BytesIO(shoot(tmp_path, "run.webp", "--mode", "echo")))
    movie.seek(movie.n_frames - 1)
    still = Image.open(io.BytesIO(png(shoot(tmp_path, "run.svg", "--mode", "echo").decode(), zoom=1)))
    assert movie.convert("RGB").tobytes() == still.convert("RGB").tobytes()
    movie.seek(1)                                          # after the poster: the first event only
    assert movie.convert("RGB").tobytes() != still.convert("RGB").tobytes()


def test_without_pillow_a_gif_is_one_line_and_exit_9(tmp_path):
    blocker = tmp_path / "blocked" / "PIL"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('no Pillow here')\n")
    result = run_demo("--mode", "echo", "--screenshot", str(tmp_path / "run.gif"),
                      env={**os.environ, "PYTHONPATH": str(blocker.parent)})
    assert result.returncode == 9
    needed = "demo.py: GIF and WebP screenshots need Pillow: python -m pip install Pillow"
    assert result.stderr.strip().splitlines() == [needed]


@pytest.mark.parametrize("name", ["echo", "number-add", "ordering", "relay", "chat", "udp-echo", "udp-ping"])
def test_every_mode_records_the_same_bytes_three_times(tmp_path, name):
    """Each mode as an animated SVG and as a .cast, three runs each (in this process: the runs
    themselves are what varies; test_*_byte_identical_* above vary the process and hash seed)."""
    import contextlib
    import io

    import demo
    import modes

    assert name in modes.names()
    for suffix, extra in ((".svg", ["--animate"]), (".cast", [])):
        made = []
        for attempt in range(3):
            target = tmp_path / f"{name}-{attempt}{suffix}"
            with contextlib.redirect_stdout(io.StringIO()):
                assert demo.main(["--mode", name, *extra, "--screenshot", str(target)]) == 0
            made.append(target.read_bytes())
        assert made[0] == made[1] == made[2], suffix


# -- an embedded font ---------------------------------------------------------------------------------
def test_an_svg_can_carry_its_font_cut_to_the_characters_it_shows(tmp_path):
    import base64
    import io

    from fontTools.ttLib import TTFont

    from narration.screenshots.embed import EMBEDDED_FAMILY, shown_characters

    runs = shoot_three(tmp_path, ".svg", "--mode", "echo", "--embed-font")
    assert runs[0] == runs[1] == runs[2]
    svg = runs[0].decode()
    plain = shoot(tmp_path, "plain.svg", "--mode", "echo").decode()
    faces = re.findall(r'@font-face \{ font-family: "([^"]+)"; font-weight: (\w+); font-style: (\w+); '
                       r"src: url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", svg)
    assert {(weight, style) for _, weight, style, _ in faces} == {
        ("normal", "normal"), ("bold", "normal"), ("normal", "italic"), ("bold", "italic")}
    assert {family for family, *_ in faces} == {EMBEDDED_FAMILY}
    assert f'font-family: "{EMBEDDED_FAMILY}", "DejaVu Sans Mono"' in svg       # asked for first
    wanted = {ord(char) for char in shown_characters(plain)} - {ord(" ")}
    for *_, data in faces:
        font = TTFont(io.BytesIO(base64.b64decode(data)))
        assert wanted <= set(font.getBestCmap())                   # every character shown, in each face
        assert len(font.getBestCmap()) < len(wanted) + 10          # and hardly more: a subset
    assert len(svg) - len(plain) < 40_000                          # the stated cost: about 27 kB here


def test_embed_font_needs_an_svg(tmp_path):
    result = run_demo("--mode", "echo", "--embed-font", "--screenshot", str(tmp_path / "run.png"))
    assert result.returncode == 2 and "--embed-font" in result.stderr
