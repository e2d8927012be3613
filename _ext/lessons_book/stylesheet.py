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
the next build, and running it twice gives the same file. Sphinx copies the theme's full file
again on every build, so the trimmed one is written every time; when the stylesheet, the
configuration and the site's pages and scripts are those of the last run, it is copied from
that run (kept beside Sphinx's doctrees) instead of running node again, which takes a second.

``tests/test_trimmed_stylesheet.py`` opens pages with the trimmed and with the full stylesheet
(light and dark, 375 and 1280 px wide, the search box and the sidebar open) and requires the
same computed style on every element.
"""

from __future__ import annotations

import hashlib
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


def trim_inputs(stylesheet: Path, outdir: Path) -> str:
    """One hash of what PurgeCSS reads: the stylesheet, its configuration and version, and the
    site's pages and scripts (``CONTENT``) in ``outdir``."""
    hasher = hashlib.sha256()
    files = [stylesheet, CONFIG, PURGECSS.parents[1] / "package.json"]
    files += sorted({path for pattern in CONTENT for path in outdir.glob(pattern)})
    for path in (path for path in files if path.is_file()):  # no PurgeCSS: _run_purgecss says so
        name = path.relative_to(outdir) if path.is_relative_to(outdir) else path
        hasher.update(str(name).encode() + b"\0" + path.read_bytes() + b"\0")
    return hasher.hexdigest()


def trim(stylesheet: Path, outdir: Path, saved: Path | None = None) -> Path:
    """PurgeCSS ``stylesheet`` against the site in ``outdir``; the trimmed file's path.

    ``saved``: a folder that keeps the last trimmed file and what it was made from; when
    nothing changed since, that file is copied instead of running PurgeCSS again.
    """
    key = trim_inputs(stylesheet, outdir) if saved and stylesheet.is_file() else None
    last = saved / "inputs" if saved else None
    if key and last.is_file() and last.read_text(encoding="utf-8") == key:
        target = outdir / TARGET
        target.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copyfile(saved / stylesheet.name, target / stylesheet.name))
    trimmed = _run_purgecss(stylesheet, outdir)
    if key:
        saved.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trimmed, saved / stylesheet.name)
        last.write_text(key, encoding="utf-8")  # after the file: a stopped build is not current
    return trimmed


def _run_purgecss(stylesheet: Path, outdir: Path) -> Path:
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
    saved = Path(app.doctreedir) / "lessons-trimmed-stylesheet"  # the build's own state
    trim(theme_stylesheet(app.builder.theme.get_theme_dirs()), Path(app.outdir), saved)
