"""The static explorers' frames as files, fetched the first time a reader asks for one.

Every inlined ``data:image/png;base64,...`` picture of a page moves into its own file under
``_images/frames/``, named by its content, and the page points at that file. The explorer's
player keeps assigning those strings to ``img.src``, so a frame is fetched when it is shown
instead of with the page.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

FRAMES = Path("_images") / "frames"
DATA_PNG = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def move_frames_to_files(outdir: Path, pages: dict[Path, str]) -> None:
    """Each inlined PNG becomes _images/frames/<hash>.png; the page points at that file."""
    folder = outdir / FRAMES
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in pages.items():
        prefix = os.path.relpath(folder, path.parent).replace(os.sep, "/")

        def to_file(match: re.Match, prefix: str = prefix) -> str:
            png = base64.b64decode(match[1])
            name = hashlib.sha1(png).hexdigest()[:20] + ".png"
            if not (folder / name).exists():
                (folder / name).write_bytes(png)
            return f"{prefix}/{name}"

        pages[path] = DATA_PNG.sub(to_file, text)
