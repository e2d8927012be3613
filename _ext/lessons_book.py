"""Sphinx extension that keeps the built book self-contained.

Wired in ``_config.yml`` (``sphinx: local_extensions``). It does two things:

1. Serves MathJax from the site itself. ``tools/vendor/package.json`` pins MathJax
   and ``make setup`` installs it with ``npm ci`` into ``tools/vendor/node_modules``
   (ignored by git, never committed). After a successful HTML build, the files a
   page can load are copied to ``_build/html/_static/vendor/mathjax/``, where
   ``mathjax_path`` in ``_config.yml`` points. They are copied after the build, and
   not kept in a root ``_static/`` folder, because Jupyter Book would add every
   ``.js`` file found there to every page.
2. Adds our own stylesheet, ``_ext/static/lessons-book.css`` (reading comfort at
   375 px), from a folder of its own rather than a root ``_static/``.
3. Removes exact duplicates among a page's scripts. sphinx-thebe registers its
   inline configuration script (``const THEBE_JS_URL = ...``) twice under Jupyter
   Book 1, and the second copy raises "Identifier 'THEBE_JS_URL' has already been
   declared" in every browser.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parent.parent
MATHJAX_SOURCE = ROOT / "tools" / "vendor" / "node_modules" / "mathjax" / "es5"
MATHJAX_TARGET = Path("_static") / "vendor" / "mathjax"
# The combined component a page loads, and the folders it loads further pieces from
# (fonts, the menu, accessibility and speech rules when a reader turns them on).
MATHJAX_FILES = ["tex-mml-chtml.js", "core.js", "loader.js", "startup.js"]
MATHJAX_FOLDERS = ["a11y", "adaptors", "input", "output/chtml", "sre", "ui"]


def check_mathjax_installed(app: Sphinx) -> None:
    """Fail early, with the fix, when the pinned MathJax has not been installed."""
    if app.builder.format != "html":
        return
    if not (MATHJAX_SOURCE / MATHJAX_FILES[0]).is_file():
        raise ExtensionError(
            f"MathJax is not installed at {MATHJAX_SOURCE}: run `make setup` "
            "(or `npm ci --prefix tools/vendor`) before building the book"
        )
    expected = f"{MATHJAX_TARGET.relative_to('_static').as_posix()}/{MATHJAX_FILES[0]}"
    if app.config.mathjax_path != expected:
        raise ExtensionError(
            f"mathjax_path is {app.config.mathjax_path!r}; set it to {expected!r} in "
            "_config.yml (sphinx: config:) so that pages load the vendored MathJax"
        )


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    """Copy the vendored MathJax into the built site."""
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / MATHJAX_TARGET
    target.mkdir(parents=True, exist_ok=True)
    for name in MATHJAX_FILES:
        shutil.copy2(MATHJAX_SOURCE / name, target / name)
    for folder in MATHJAX_FOLDERS:
        shutil.copytree(MATHJAX_SOURCE / folder, target / folder, dirs_exist_ok=True)
    shutil.copy2(MATHJAX_SOURCE.parent / "LICENSE", target / "LICENSE")


def drop_duplicate_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Keep the first of identical script entries (same file, same inline body).

    The copies differ only in an empty file name being ``None`` or ``""``.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        filename = getattr(script, "filename", script) or ""
        key = (str(filename), repr(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def add_stylesheet(app: Sphinx, config: Any) -> None:
    """Serve _ext/static/ as static files and load our stylesheet on every page."""
    config.html_static_path.append(str(Path(__file__).resolve().parent / "static"))
    app.add_css_file("lessons-book.css")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", add_stylesheet)
    app.connect("builder-inited", check_mathjax_installed)
    app.connect("build-finished", copy_mathjax)
    # After sphinx.ext.mathjax and sphinx-thebe have added their scripts.
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
