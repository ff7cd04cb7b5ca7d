"""GIF and WebP: the animation as frames, for places where an SVG does not play (slides, chat
apps), from pip packages only (resvg draws, Pillow writes).

The frames are the animated SVG's (``narration.screenshots.svg``): a poster saying what will
play, then one frame per event, at the same pace, then a pause on the last frame; played once.
Only two pictures are drawn: the poster and the whole run.  Frame *n* is the whole run with the
rows after event *n* painted over in the background colour, so a long run costs little more than
a short one, and every frame is exact.
"""
from __future__ import annotations

import io

from narration.errors import ScreenshotError

END_MILLISECONDS = 2000      # on the last frame
FRAME_ZOOM = 1               # pixels per SVG pixel: a GIF or WebP stays small


def motion(view, *, width: int, title: str, kind: str, theme: str = "dark", font: str | None = None) -> bytes:
    """The run as an animated ``kind`` ("gif" or "webp")."""
    try:
        from PIL import Image
    except ImportError:
        raise ScreenshotError("GIF and WebP screenshots need Pillow: python -m pip install Pillow") from None
    from rich.text import Text

    from narration.screenshots.drawing import render_rows, stepped_rows
    from narration.screenshots.png import png
    from narration.screenshots.svg import CELL_HEIGHT, LEAD_IN, PADDING, STEP_SECONDS, TITLE_BAR, poster, svg
    from narration.views.theme import palette

    rows, steps = stepped_rows(view, width, theme)
    count = steps[-1] if steps else 0
    first = render_rows(Text(poster(title, count), style="closed"), width, theme)[:1]
    cover = [*first, *([[]] * (len(rows) - len(first)))]        # the same size as the whole run

    def picture(drawn_rows) -> Image.Image:
        return Image.open(io.BytesIO(png(svg(drawn_rows, width=width, title=title, theme=theme),
                                         font=font, zoom=FRAME_ZOOM))).convert("RGB")

    whole = picture(rows)
    background = palette(theme).background_color
    frames, durations = [picture(cover)], [round(LEAD_IN * 1000)]
    for step in range(1, count + 1):
        shown = max(index for index, row_step in enumerate(steps) if row_step <= step) + 1
        frame = whole.copy()
        top = (TITLE_BAR + shown * CELL_HEIGHT) * FRAME_ZOOM
        if top < whole.height - PADDING * FRAME_ZOOM:
            frame.paste(tuple(background), (PADDING * FRAME_ZOOM // 2, top, whole.width - PADDING * FRAME_ZOOM // 2,
                                            whole.height - PADDING * FRAME_ZOOM // 2))
        frames.append(frame)
        durations.append(round(STEP_SECONDS * 1000))
    durations[-1] = END_MILLISECONDS
    buffer = io.BytesIO()
    if kind == "gif":       # no loop count written: a GIF plays once
        # One palette for every frame, made once from the whole run: the frames are parts of it.
        palette = whole.quantize(colors=255)
        frames = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
        frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations)
    else:                   # loop=1: once
        frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:], duration=durations,
                       loop=1, lossless=True, method=4)
    return buffer.getvalue()
