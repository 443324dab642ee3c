"""Sheet music as SVG: the MusicXML of `notation.py` engraved by verovio.

verovio (a C++ engraver with Python wheels on PyPI) lays out the MusicXML tunesmith
already writes — parts, clefs, key and time signatures, tempo, chord symbols — so no
MuseScore or LilyPond binary is needed. A score is written one SVG per page
(`score-1.svg`, `score-2.svg`, ...; a one-page score keeps the name it was given) or as
one tall page (`pages="single"`). verovio writes no PDF; docs/NOTATION.md says how to
make one from the SVG.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import symusic

from ..deadline import check as check_deadline
from ..errors import BadInputError
from ..extras import require
from ..fileio import atomic_write_text
from ..music.chords import ChordSpan

log = logging.getLogger(__name__)

SVG_PAGES = ("split", "single")  # one file per page, or one tall page
PAGE_WIDTH = 2100  # verovio units: tenths of a millimetre, so A4 (210 x 297 mm)
PAGE_HEIGHT = 2970
TALL_PAGE_HEIGHT = 60000  # verovio's largest page; taller scores are stacked pages
SCALE = 40  # percent: about 840 px wide, 7 mm staves when printed on A4


def check_pages(pages: str) -> str:
    """`pages` when it is one of SVG_PAGES; else BadInputError naming the choices."""
    if pages not in SVG_PAGES:
        raise BadInputError(
            f"unknown SVG page layout {pages!r}; use one of: {', '.join(SVG_PAGES)}",
            field="svg_pages",
        )
    return pages


# verovio keeps state per thread: after one thread has engraved, a toolkit made in another
# thread (a server job's worker) fails to read any MusicXML. Every engraving therefore runs
# in this one long-lived thread.
_ENGRAVER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verovio")


def engrave_musicxml(
    musicxml: bytes | str, pages: str = "split", width: int = PAGE_WIDTH, scale: int = SCALE
) -> list[str]:
    """SVG documents for a MusicXML string: one per page, or one (`pages="single"`)."""
    check_pages(pages)
    text = musicxml.decode("utf-8") if isinstance(musicxml, bytes) else musicxml
    svgs = _ENGRAVER.submit(_engrave, text, pages, width, scale).result()
    if svgs is None:
        check_deadline()  # a stopped server job's cut-short MusicXML is a stop, not a bug
        raise RuntimeError("verovio could not read the MusicXML tunesmith wrote")
    if not svgs:
        raise RuntimeError("verovio laid out no page")
    if pages == "single" and len(svgs) > 1:
        return [stack_pages(svgs)]
    return svgs


def _engrave(text: str, pages: str, width: int, scale: int) -> list[str] | None:
    """The pages verovio lays out for `text` (None when it cannot read it)."""
    require("verovio", "notation", "sheet music (SVG)")
    import verovio

    verovio.enableLog(verovio.LOG_OFF)  # it logs layout notes to stderr, not errors
    tk = verovio.toolkit()
    tk.setOptions(
        {
            "pageWidth": width,
            "pageHeight": TALL_PAGE_HEIGHT if pages == "single" else PAGE_HEIGHT,
            "adjustPageHeight": True,
            "scale": scale,
            "footer": "none",
            "svgViewBox": True,  # scales to its container on a web page
        }
    )
    if not tk.loadData(text):
        return None
    return [tk.renderToSVG(n) for n in range(1, tk.getPageCount() + 1)]


_SIZE = re.compile(r'<svg\b[^>]*?\bwidth="([\d.]+)px"[^>]*?\bheight="([\d.]+)px"')


def stack_pages(svgs: Sequence[str]) -> str:
    """One SVG with the pages one under the other (each page a nested <svg>)."""
    sizes = []
    for svg in svgs:
        m = _SIZE.search(svg)
        if m is None:
            raise RuntimeError("a verovio page has no width and height")
        sizes.append((float(m.group(1)), float(m.group(2))))
    width = max(w for w, _ in sizes)
    height = sum(h for _, h in sizes)
    body, y = [], 0.0
    for svg, (_, h) in zip(svgs, sizes, strict=True):
        inner = re.sub(r"^\s*<\?xml[^>]*>\s*", "", svg)
        inner = inner.replace("<svg ", f'<svg x="0" y="{y:g}" ', 1)
        body.append(inner)
        y += h
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'version="1.1" width="{width:g}px" height="{height:g}px" '
        f'viewBox="0 0 {width:g} {height:g}">\n' + "\n".join(body) + "\n</svg>\n"
    )


def page_paths(path: str | os.PathLike, pages: int) -> list[Path]:
    """Where the pages of `path` go: `path` itself for one page, else name-1.svg, ..."""
    path = Path(path)
    if pages == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{n}{path.suffix}") for n in range(1, pages + 1)]


def score_svgs(
    score: symusic.Score,
    title: str | None = None,
    key: str | None = None,
    chords: Sequence[ChordSpan] | None = None,
    pages: str = "split",
) -> list[str]:
    """`score` engraved: its MusicXML (with chord symbols when `chords` are given) as SVG."""
    from .notation import musicxml_bytes

    check_pages(pages)
    return engrave_musicxml(musicxml_bytes(score, title, key, chords), pages)


def export_svg(
    score: symusic.Score,
    path: str | os.PathLike,
    title: str | None = None,
    key: str | None = None,
    chords: Sequence[ChordSpan] | None = None,
    pages: str = "split",
) -> list[Path]:
    """Write `score` as SVG sheet music at `path` (`page_paths` for several pages), each
    file atomically; returns the files written."""
    svgs = score_svgs(score, title, key, chords, pages)
    paths = page_paths(path, len(svgs))
    for p, svg in zip(paths, svgs, strict=True):
        atomic_write_text(p, svg)
    log.info("engraved %d page(s) to %s", len(paths), paths[0])
    return paths
