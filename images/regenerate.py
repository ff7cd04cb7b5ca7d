"""Regenerate every image in images/:  python images/regenerate.py   (--check: only say which are stale)

``image_table()`` is the list: image name -> the demo.py arguments that draw it.  Every mode gets
images/MODE.svg, images/MODE-light.svg (--theme light) and images/MODE.png; every lesson gets
images/lesson-NAME.svg.  Each file is
exactly what ``python demo.py ARGS --screenshot images/NAME.svg`` (or ``.png``) writes: the runs
go through ``demo.main`` itself, in this one process (start-up is paid once), and each PNG is
drawn from the SVG just written, which is what ``--screenshot NAME.png`` does after the same run
(in two forked processes, since drawing PNGs is most of the time).
tests/test_screenshots.py fails when any image here is stale.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

IMAGES = Path(__file__).resolve().parent
ROOT = IMAGES.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def image_table() -> dict[str, list[str]]:
    """Image name -> the demo.py arguments that draw it: every mode, then the lessons.

    To add an image, add a row here (and the image beneath its section of the README).
    """
    import modes
    from narration import lessons

    table = {name: ["--mode", name] for name in modes.names()}
    table.update({f"{name}-light": ["--mode", name, "--theme", "light"] for name in modes.names()})
    for lesson in lessons.names():
        table[f"lesson-{lesson}"] = ["--lesson", lesson]
    table["lesson-explain"] = ["--mode", "echo", "--explain"]
    table["lesson-ladder"] = ["--mode", "ordering", "--view", "ladder"]
    table["lesson-wire"] = ["--lesson", "stream", "--wire"]
    table["lesson-datagrams-ladder"] = ["--lesson", "datagrams", "--view", "ladder"]
    table["tcp-states"] = ["--mode", "echo", "--tcp"]
    table["tcp-states-ladder"] = ["--mode", "echo", "--tcp", "--view", "ladder"]
    # Your own programs (--run): the textbook pair in examples/, on any free port (the image says PORT).
    port = free_port()
    table["programs"] = ["--run", f"examples/server.py {port}", "--run", f"examples/client.py localhost {port}",
                         "--send", "hello, sockets"]
    return table


def png_names() -> list[str]:
    """The images that also get a PNG: one per mode, and your own programs (READMEs show the SVGs)."""
    import modes

    return [*modes.names(), "programs"]


def free_port() -> int:
    """A port nobody listens on right now (the OS picked it; released at once), for --run rows."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def draw(name: str, args: list[str], folder: Path) -> Path:
    """Run ``demo.py ARGS --screenshot folder/NAME.svg`` here, in this process."""
    import demo

    target = folder / f"{name}.svg"
    here = os.getcwd()
    os.chdir(ROOT)              # a --run row names its programs from the project's folder
    try:
        with contextlib.redirect_stdout(io.StringIO()):     # the run's terminal view is not wanted here
            code = demo.main([*args, "--screenshot", str(target)])
    finally:
        os.chdir(here)
    if code != 0:
        raise RuntimeError(f"python demo.py {' '.join(args)} exited {code}")
    return target


def draw_png(svg_path: Path) -> Path:
    """NAME.png beside NAME.svg, drawn from it as ``--screenshot NAME.png`` would draw it."""
    from narration.screenshots import png, write

    target = svg_path.with_suffix(".png")
    write(target, png(svg_path.read_text(encoding="utf-8")))
    return target


def draw_pngs(svg_paths: list[Path]) -> list[Path]:
    """A PNG beside each SVG, two at a time: resvg holds the GIL, so in two forked processes."""
    import multiprocessing

    largest_first = sorted(svg_paths, key=lambda path: path.stat().st_size, reverse=True)
    if sys.platform != "linux":     # fork after threads is unsafe on macOS, absent on Windows
        return [draw_png(path) for path in largest_first]
    context = multiprocessing.get_context("fork")
    with context.Pool(min(2, len(largest_first)) or 1) as pool:
        return pool.map(draw_png, largest_first, chunksize=1)


def regenerate(folder: Path = IMAGES) -> list[Path]:
    """Write every image of the table into ``folder``; return the files written."""
    from narration.screenshots import find_font

    find_font()                 # no usable font: say so before drawing anything
    folder.mkdir(parents=True, exist_ok=True)
    svgs = {name: draw(name, args, folder) for name, args in image_table().items()}
    return [*svgs.values(), *draw_pngs([svgs[name] for name in png_names()])]


def stale(folder: Path, scratch: Path, names: set[str] | None = None) -> list[str]:
    """The images in ``folder`` that differ from what the table draws now (drawn into ``scratch``);
    only those named in ``names``, when given.

    An SVG must be byte-identical.  A PNG must have been drawn from the current SVG (its Source
    chunk) and, when this machine has the same font files and resvg version it was drawn with
    (its Renderer chunk), be byte-identical too.
    """
    from narration.screenshots import find_font, png_renderer, png_source, renderer, sha256_text

    found = []
    table = {name: args for name, args in image_table().items() if names is None or name in names}
    for name, args in table.items():
        committed = folder / f"{name}.svg"
        fresh = draw(name, args, scratch)
        if not committed.is_file() or committed.read_bytes() != fresh.read_bytes():
            found.append(committed.name)
    local = renderer(find_font())
    comparable = []
    for name in png_names():
        if name not in table:
            continue
        committed = folder / f"{name}.png"
        data = committed.read_bytes() if committed.is_file() else b""
        if png_source(data) != sha256_text((scratch / f"{name}.svg").read_text(encoding="utf-8")):
            found.append(committed.name)
        elif png_renderer(data) == local:
            comparable.append(name)
    for fresh in draw_pngs([scratch / f"{name}.svg" for name in comparable]):
        if (folder / fresh.name).read_bytes() != fresh.read_bytes():
            found.append(fresh.name)
    return found


def main(argv: list[str]) -> int:
    if "--check" in argv:
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            found = stale(IMAGES, Path(scratch))
        print(f"stale: {', '.join(found)}; run: python images/regenerate.py" if found else "images/ is current")
        return 1 if found else 0
    written = regenerate()
    print(f"wrote {len(written)} images in {IMAGES.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
