"""The theme's stylesheet, trimmed by PurgeCSS to the rules the built site can use.

pydata-sphinx-theme (under sphinx-book-theme) ships one stylesheet with all of Bootstrap and
every component the theme might show: 387 KB, 66 KB gzipped, render-blocking, and about 90%
unused on a chapter (Lighthouse's "reduce unused CSS"). On a simulated phone it delays the
first paint by a few hundred milliseconds.

After each build (``build-finished``) ``trim_theme_stylesheet`` runs PurgeCSS (pinned in
``tools/vendor``) on the theme's own copy of that file and writes the result over the site's
``_static/styles/pydata-sphinx-theme.css``. PurgeCSS keeps a rule when the words of its
selector (class names, ids, element and attribute names) occur in the site: in any built page
or in any of its scripts, which is where the theme and Bootstrap write the classes they add
at run time (``show``, ``tooltip-inner``, ...). Classes that scripts assemble from pieces, and
so never occur whole, are kept by the safelist in ``purgecss.config.mjs`` beside this file.
It always starts from the theme's file, so a page that starts using a rule gets it back on
the next build, and running it twice gives the same file.

``tests/test_trimmed_stylesheet.py`` opens pages with the trimmed and with the full stylesheet
(light and dark, 375 and 1280 px wide, the search box and the sidebar open) and requires the
same computed style on every element.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
PURGECSS = ROOT / "tools" / "vendor" / "node_modules" / "purgecss" / "bin" / "purgecss.js"
CONFIG = Path(__file__).with_name("purgecss.config.mjs")
STYLESHEET = Path("static") / "styles" / "pydata-sphinx-theme.css"
TARGET = Path("_static") / "styles"
# Where a page's words come from: every page, and every script the site serves.
CONTENT = ("**/*.html", "_static/**/*.js", "_static/**/*.mjs")


def theme_stylesheet(theme_dirs: list[str]) -> Path:
    """The theme's own ``pydata-sphinx-theme.css``, from the first theme folder that has it."""
    for folder in theme_dirs:
        candidate = Path(folder) / STYLESHEET
        if candidate.is_file():
            return candidate
    raise ExtensionError(
        f"no {STYLESHEET} in the theme's folders ({', '.join(theme_dirs) or 'none'}); "
        "is sphinx-book-theme (with pydata-sphinx-theme) the html_theme?"
    )


def trim(stylesheet: Path, outdir: Path) -> Path:
    """PurgeCSS ``stylesheet`` against the site in ``outdir``; the trimmed file's path."""
    node = shutil.which("node")
    if node is None or not PURGECSS.is_file():
        raise ExtensionError(
            f"PurgeCSS is not installed at {PURGECSS} (or node is missing): run "
            "`make setup` (or `npm ci --prefix tools/vendor`) before building the book"
        )
    target = outdir / TARGET
    target.mkdir(parents=True, exist_ok=True)
    content = [str(outdir / pattern) for pattern in CONTENT]
    command = [node, str(PURGECSS), "--config", str(CONFIG), "--css", str(stylesheet)]
    command += ["--content", *content, "--output", str(target)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    trimmed = target / stylesheet.name
    if result.returncode != 0 or not trimmed.is_file():
        raise ExtensionError(
            f"PurgeCSS failed on {stylesheet} (exit {result.returncode}): "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    return trimmed


def trim_theme_stylesheet(app: Sphinx, exception: Exception | None) -> None:
    """``build-finished``: the site's theme stylesheet, trimmed to what the site uses."""
    if exception is not None or app.builder.format != "html":
        return
    trim(theme_stylesheet(app.builder.theme.get_theme_dirs()), Path(app.outdir))
