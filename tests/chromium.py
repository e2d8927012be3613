"""The Chromium the browser tests drive (through ``playwright``; nothing is downloaded).

Debian's ``chromium`` by default, or the binary that ``LESSONS_CHROMIUM`` names, started with
the flags every browser test uses: no sandbox (containers), no GPU, no background traffic.
"""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("LESSONS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
]
