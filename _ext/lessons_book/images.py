"""Pictures that keep their space and wait for the reader.

Every local PNG picture gets its size (``width``/``height`` read from the file, which the
stylesheet scales with ``height: auto``), so the text does not jump when the picture arrives;
every image is marked ``loading="lazy"``, so pictures below the fold wait until the reader
scrolls near them, except the article's first when it stands before the first section heading
(``<h2``): there it may be on the first screen, perhaps its largest element. On a chapter,
whose first screen is its title and opening text, a picture fetched at once would only compete
with the stylesheets and fonts that the first paint waits for.
"""

from __future__ import annotations

import re
from pathlib import Path

IMG_TAG = re.compile(r"<img\b[^>]*>")
SIZED_TAG = re.compile(r'<(?:img|source)\b[^>]*?\b(?:src|srcset)="([^"]+\.png)"[^>]*>')


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG file's header, or None if it is not a PNG."""
    with path.open("rb") as file:
        header = file.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def sized_images(page: Path, text: str) -> str:
    """Every <img>/<source> of a local PNG gets width and height: space kept before it loads."""

    def add_size(match: re.Match) -> str:
        tag = match[0]
        file = page.parent / match[1]
        if re.search(r"\swidth=", tag) or "://" in match[1] or not file.is_file():
            return tag
        size = png_size(file)
        if size is None:
            return tag
        at = tag.index(" ")
        return f'{tag[:at]} width="{size[0]}" height="{size[1]}"{tag[at:]}'

    return SIZED_TAG.sub(add_size, text)


def lazy_images(text: str) -> str:
    """Every image waits until the reader scrolls near it, but the article's first when it
    comes before the first section heading."""
    article = max(text.find("<article"), 0)
    first = IMG_TAG.search(text, article)
    heading = text.find("<h2", article)
    if first is not None and 0 <= heading < first.start():  # below the opening: lazy too
        first = None

    def lazy(match: re.Match) -> str:
        tag = match[0]
        if "loading=" in tag or (first is not None and match.start() == first.start()):
            return tag
        return tag[:4] + ' loading="lazy" decoding="async"' + tag[4:]

    return IMG_TAG.sub(lazy, text)
