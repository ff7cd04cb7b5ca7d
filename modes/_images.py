"""Regenerate every image in images/:  python -m modes._images

Every mode gets images/MODE.svg and images/MODE.png; every lesson gets images/lesson-NAME.svg.
Each file is exactly what ``python demo.py ARGS --screenshot images/NAME.svg`` (or .png) writes.
The runs happen in this one process (start-up is paid once), and the PNGs are drawn from those
SVGs in parallel processes (resvg holds the GIL).  tests/test_screenshots.py fails when any image
here is stale.
"""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"


def png_names() -> list[str]:
    """The images that also get a PNG: one per mode (lessons stay SVG, which READMEs show)."""
    import modes
    return modes.names()


def image_table() -> dict[str, list[str]]:
    """Image name -> the demo.py arguments that draw it: every mode, then the lessons."""
    import modes
    from modes._pitfalls import PITFALLS

    table = {name: ["--mode", name] for name in modes.names()}
    for pitfall, entry in PITFALLS.items():
        table[f"lesson-{pitfall}"] = ["--mode", entry.modes[0], "--pitfall", pitfall]
    table["lesson-explain"] = ["--mode", "echo", "--explain"]
    table["lesson-ladder"] = ["--mode", "ordering", "--view", "ladder"]
    table["lesson-wire"] = ["--mode", "echo", "--pitfall", "stream", "--wire"]
    return table


def draw(name: str, args: list[str], folder: Path) -> Path:
    """Run demo.py ARGS once, here, writing folder/NAME.svg; raise if the run failed."""
    import demo

    target = folder / f"{name}.svg"
    with contextlib.redirect_stdout(io.StringIO()):
        code = demo.main([*args, "--screenshot", str(target)])
    if code != 0:
        raise SystemExit(f"demo.py {' '.join(args)} exited {code}")
    return target


def regenerate(folder: Path = IMAGES) -> list[Path]:
    from modes._screenshot import find_font

    folder.mkdir(exist_ok=True)
    svgs = {name: draw(name, args, folder) for name, args in image_table().items()}
    font = find_font(None)
    jobs = [(svgs[name], font) for name in png_names()]
    try:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(2) as pool:
            pngs = pool.map(_to_png, jobs)
    except (ValueError, OSError):       # no fork on this platform: one at a time
        pngs = [_to_png(job) for job in jobs]
    return [*svgs.values(), *pngs]


def _to_png(job: tuple[Path, Path]) -> Path:
    from modes._screenshot import png
    svg_path, font = job
    target = svg_path.with_suffix(".png")
    target.write_bytes(png(svg_path.read_text(encoding="utf-8"), font))
    return target


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    written = regenerate()
    print(f"wrote {len(written)} images in {IMAGES.relative_to(ROOT)}/")
