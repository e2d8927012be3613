"""A figure's panels stacked on a phone.

While the book is built, every figure that is one row of panels also carries a copy with its
panels stacked (see ``lessons_lib.plotting.narrow_layout``), which the page ignores. After the
build, each such figure becomes a ``<picture>`` that shows the stacked copy on screens at most
``NARROW_SCREEN`` wide, from ``_images/narrow/``. The copies are read from the executed
notebooks in jupyter-cache's cache, with its API.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

NARROW = Path("_images") / "narrow"
NARROW_SCREEN = "640px"  # phones, and a browser window narrowed to a phone's width
# The output type of a figure's stacked copy, which the kernel adds: the same string as
# lessons_lib.plotting.NARROW_FIGURE_MIME (a test checks). Not imported from there: that
# would load torch and matplotlib into Sphinx's process, a second of the build's serial end.
NARROW_FIGURE_MIME = "application/vnd.lessons-book.narrow-figure+png"
# A figure written by myst-nb: _images/<sha256 of the PNG>.png
FIGURE_IMG = re.compile(r'<img\b[^>]*\bsrc="([^"]*?)_images/([0-9a-f]{64})\.png"[^>]*>')


def executed_notebooks(folder: Path) -> list[dict]:
    """The executed chapters in jupyter-cache's cache at ``folder``, read with its API.

    tools/build_book.py executes every chapter into this cache before Sphinx starts, and
    myst-nb takes their outputs from it.
    """
    if not isinstance(folder, (str, Path)):
        raise TypeError(f"folder must be a path to jupyter-cache's cache, got {folder!r}")
    from jupyter_cache import get_cache  # here, so that importing this module stays light

    cache = get_cache(str(folder))
    return [cache.get_cache_bundle(record.pk).nb for record in cache.list_cache_records()]


def narrow_copies(notebooks: list[dict]) -> dict[str, bytes]:
    """{sha256 of a figure's PNG: its stacked copy's PNG}, from executed notebooks."""
    if not isinstance(notebooks, list):
        raise TypeError(f"notebooks must be a list of notebooks, got {type(notebooks).__name__}")

    def png(text: str | list[str]) -> bytes:
        return base64.b64decode("".join(text))

    copies = {}
    for notebook in notebooks:
        for cell in notebook.get("cells", []):
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if NARROW_FIGURE_MIME in data and "image/png" in data:
                    key = hashlib.sha256(png(data["image/png"])).hexdigest()
                    copies[key] = png(data[NARROW_FIGURE_MIME])
    return copies


def unstacked(pages: dict[Path, str]) -> dict[Path, str]:
    """The pages with a figure that this step has not handled yet (none after a build that
    wrote no chapter): only for these are the executed chapters worth reading."""
    if not isinstance(pages, dict):
        raise TypeError(f"pages must be a dict {{path: html}}, got {type(pages).__name__}")
    handled = f"{NARROW.as_posix()}/"
    return {
        path: text
        for path, text in pages.items()
        if FIGURE_IMG.search(text) and handled not in text
    }


def stack_figures_on_phones(outdir: Path, pages: dict[Path, str], copies: dict[str, bytes]) -> None:
    """Each figure with a stacked copy becomes a <picture> that shows it on narrow screens."""
    if not isinstance(pages, dict) or not isinstance(copies, dict):
        raise TypeError(
            "pages and copies must be dicts ({path: html}, {sha256: png}), got "
            f"{type(pages).__name__} and {type(copies).__name__}"
        )
    folder = outdir / NARROW
    for path, text in pages.items():
        if f"{NARROW.as_posix()}/" in text:
            continue  # rewritten by an earlier build, and not written again since

        def picture(match: re.Match) -> str:
            stacked = copies.get(match[2])
            if stacked is None:
                return match[0]
            name = hashlib.sha256(stacked).hexdigest()[:20] + ".png"
            folder.mkdir(parents=True, exist_ok=True)
            if not (folder / name).exists():
                (folder / name).write_bytes(stacked)
            media = f"(max-width: {NARROW_SCREEN})"
            source = f'<source media="{media}" srcset="{match[1]}{NARROW.as_posix()}/{name}">'
            return f"<picture>{source}{match[0]}</picture>"

        pages[path] = FIGURE_IMG.sub(picture, text)
