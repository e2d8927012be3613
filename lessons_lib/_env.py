"""Where the code runs: in Jupyter/Colab, or inside the build of the rendered book.

``make book`` sets ``LESSONS_STATIC_WIDGETS=1``; the kernel that executes the
notebooks inherits it. Explorers then add their kernel-free static form, and
training loops leave out the progress bar, whose live widget cannot move in a
static page.
"""

from __future__ import annotations

import os

STATIC_ENV = "LESSONS_STATIC_WIDGETS"


def building_book() -> bool:
    """True while the rendered book is being built (``LESSONS_STATIC_WIDGETS=1``)."""
    return os.environ.get(STATIC_ENV, "") not in ("", "0")
