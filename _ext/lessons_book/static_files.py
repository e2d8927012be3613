"""The book's own static files, from ``_ext/static/``, on every page.

A folder of its own rather than a root ``_static/``, whose every ``.js`` Jupyter Book would
add to every page: ``lessons-book.css`` (reading comfort at 375 px), ``lessons-icons.css``
(the icons the pages use, drawn without ``fontawesome.js``; committed, made once by
``tools/make_icons_css.py``) and ``lessons-zoom.js`` (a tap on a figure or an explorer's
frame opens it full size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

STATIC = Path(__file__).resolve().parents[1] / "static"
ICONS_CSS = "lessons-icons.css"


def add_static_files(app: Sphinx, config: Any) -> None:
    """Serve _ext/static/ as static files; our stylesheet, icons and zoom on every page."""
    config.html_static_path.append(str(STATIC))
    app.add_css_file("lessons-book.css")
    app.add_css_file(ICONS_CSS)
    app.add_js_file("lessons-zoom.js", loading_method="defer")
