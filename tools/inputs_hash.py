"""One hash of some files' names and contents: how the build tells whether its inputs changed.

Used by ``tools/build_book.py`` (run the chapters again? read every page again?) and
``tools/zh_book.py`` (write a Chinese notebook again?).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path


def digest(root: Path, paths: Iterable[str], environment: Iterable[str] = ()) -> str:
    """One hash of these files' (and folders' files') names and contents, relative to ``root``,
    and of these environment variables' values; ``__pycache__`` is left out."""
    hasher = hashlib.sha256()
    for name in paths:
        path = root / name
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and "__pycache__" not in file.parts:
                hasher.update(file.relative_to(root).as_posix().encode() + b"\0")
                hasher.update(file.read_bytes() + b"\0")
    for name in environment:
        hasher.update(f"{name}={os.environ.get(name, '')}\0".encode())
    return hasher.hexdigest()
