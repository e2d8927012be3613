"""The Chromium the browser tests drive (through ``playwright``; nothing is downloaded).

Debian's ``chromium`` by default, or the binary that ``LESSONS_CHROMIUM`` names, started with
the flags every browser test uses: no sandbox (containers), no GPU, no background traffic.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

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


@contextlib.contextmanager
def launched_chromium(args: list[str] = CHROMIUM_ARGS) -> Iterator[Any]:
    """Chromium started through playwright; a skip without it, or a failure when CI is set."""
    executable = shutil.which(CHROMIUM)
    if executable is None:
        message = (
            f"no Chromium at {CHROMIUM}: install it with `sudo apt-get install chromium` "
            "(Debian/Ubuntu), or point LESSONS_CHROMIUM at a Chromium or Chrome binary"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            yield chromium
        finally:
            chromium.close()


# The book's pages load their scripts once the first paint is shown (_ext/lessons_book/
# scripts.py) and mark <html> when all of them have run; pages without such scripts are ready.
SCRIPTS_READY = """() => !document.querySelector('script[data-lessons-scripts]')
  || document.documentElement.dataset.lessonsScripts === 'ready'"""


def open_page(page: Any, url: str) -> None:
    """Go to ``url`` and wait for its load event and then for its scripts to have run."""
    page.goto(url, wait_until="load")
    page.wait_for_function(SCRIPTS_READY, polling=50)
