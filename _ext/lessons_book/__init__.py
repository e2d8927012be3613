"""Sphinx extension that keeps the built book self-contained, light and quick to load.

Wired in ``_config.yml`` (``sphinx: local_extensions``: ``lessons_book: _ext/`` imports this
package). One module per step; the steps run in this order:

Before the pages are read (``config-inited``, ``builder-inited``):

1. ``static_files`` serves ``_ext/static/`` on every page: the book's stylesheet, the
   committed icon stylesheet (made once by ``tools/make_icons_css.py``) and the zoom script.
2. ``math`` points sphinxcontrib-katex, which renders every formula at build time, at the
   pinned KaTeX of ``tools/vendor``,
   ``language`` adds the link to the same page in the other language to every page's header
   (``_ext/templates/lessons-language-switch.html``; the Chinese site is ``tools/zh_book.py``'s).
3. and fails at once, with the fix, when that KaTeX (or node) is not installed; then
   ``math.start_katex_server`` starts sphinxcontrib-katex's KaTeX server, retrying while its
   socket refuses connections (the one workaround for an upstream race; a test notices
   when upstream no longer needs it).
3b. ``live`` fails at once, with the fix, when the pinned onnxruntime-web is not installed, and
   exports the shipped models to ONNX when their inputs changed (``tools/export_live_models.py``
   in a child process; cached in ``_build/live/``).

While each page is written (``html-page-context``):

4. ``math`` keeps KaTeX's stylesheets to the pages that show math, and preloads there every
   KaTeX font that the page's math uses; ``language`` gives the language link its address on
   this page.
5. ``scripts`` drops exact duplicates among the page's scripts (sphinx-thebe's configuration
   twice), after sphinx.ext.mathjax and sphinx-thebe have added theirs, and the files of
   sphinx-design and sphinx-thebe from the pages that use neither.
5b. ``bundle`` puts one bundle file in the place of the stylesheets that the extensions add
   to the page (nine on a chapter): fewer requests before the first paint.

After a successful build (``build-finished``: ``pages.finish_pages`` runs 6-14):

6. ``pages`` reads the written pages.
7. ``math`` copies KaTeX's stylesheet and WOFF2 fonts into ``_static``, the fonts that the
   pages' math uses cut down (fontTools) to the characters that this math draws.
8. ``math`` fails the build on TeX that KaTeX rejected, naming the page, and lets a wide
   formula's scroll box take the keyboard focus.
9. ``frames`` moves the explorers' inlined PNG frames into files under ``_images/frames/``.
10. ``phone_figures`` makes each figure with a stacked copy (read from the executed
    notebooks with jupyter-cache's API, when a page has figures not handled yet) a
    ``<picture>`` that shows that copy on a phone.
11. ``images`` gives every local PNG picture its size, and all but a page's first
    ``loading="lazy"``.
12. ``scripts`` defers the page's scripts, drops the theme's preloads of its scripts, its
    ``fontawesome.js``, the widget state that no widget manager reads, and (but on the
    search page) the search tools and index that only search-as-you-type would use; then
    the deferred scripts load, in order, once the page's first paint has been shown.
13. ``accessibility`` gives the bibliography's entries the list-item role that their list
    needs (docutils' ``doc-biblioentry`` fails axe).
13b. ``toggles`` takes the sidebar buttons' classes off the theme's hidden copies of them, so
    that the visible buttons open the navigation and contents (they did nothing).
14. ``pages`` writes each page that a step changed. Each step leaves a page it has already
    handled as it is, so an incremental build may run them over every page again.
15. ``live`` copies the exported models into ``_static/live/`` and onnxruntime-web's wasm
    backend into ``_static/ort/``, which the live cells of chapters 06 and 11 load on first use.
16. ``stylesheet`` writes the theme's stylesheet trimmed by PurgeCSS to the rules that the
    site's pages and scripts can use (387 KB to 109 KB); the last build's trim when nothing
    that PurgeCSS reads has changed.
17. ``bundle`` writes each bundle that a page names from its files as they are now (KaTeX's
    stylesheet is copied in step 7).

Importing the package loads neither torch nor lessons_lib (a test checks).
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

from .bundle import bundle_stylesheets, write_bundles
from .language import add_language_switch, language_link
from .live import copy_live_models, prepare_live_models
from .math import (
    check_vendor_installed,
    math_stylesheets_where_math,
    start_katex_server,
    use_vendored_katex,
)
from .pages import finish_pages
from .phone_figures import (
    NARROW_FIGURE_MIME,
    executed_notebooks,
    narrow_copies,
    stack_figures_on_phones,
    unstacked,
)
from .scripts import drop_duplicate_scripts, drop_unused_extension_files
from .static_files import add_static_files
from .stylesheet import trim_theme_stylesheet

__all__ = [
    "NARROW_FIGURE_MIME",
    "executed_notebooks",
    "narrow_copies",
    "setup",
    "stack_figures_on_phones",
    "unstacked",
]


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinxcontrib.katex")
    # Handlers of one event run by priority (default 500), then in the order connected.
    app.connect("config-inited", add_static_files)  # 1
    app.connect("config-inited", use_vendored_katex)  # 2
    app.add_config_value("lessons_other_language", None, "html", types=[dict, type(None)])
    app.connect("config-inited", add_language_switch)  # 2a
    app.connect("builder-inited", check_vendor_installed, priority=400)  # 3
    # After sphinxcontrib-katex's own builder-inited has told its server where KaTeX is.
    app.connect("builder-inited", start_katex_server, priority=600)  # 3
    app.connect("html-page-context", math_stylesheets_where_math)  # 4
    app.connect("html-page-context", language_link)  # 4a
    # After sphinx.ext.mathjax and sphinx-thebe have added their scripts.
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)  # 5
    app.connect("html-page-context", drop_unused_extension_files, priority=900)  # 5
    app.connect("html-page-context", bundle_stylesheets, priority=950)  # 5b: after the rest
    app.connect("builder-inited", prepare_live_models, priority=400)  # 3b
    app.connect("build-finished", finish_pages)  # 6-14
    app.connect("build-finished", copy_live_models)  # 15
    app.connect("build-finished", trim_theme_stylesheet)  # 16: after every page is final
    # 17: after the handlers of other packages that write the files it bundles (pydata-sphinx-
    # theme's pygments.css, MyST-NB's stylesheet), all at the default priority.
    app.connect("build-finished", write_bundles, priority=950)
    # Not safe to write in parallel: sphinxcontrib-katex keeps one connection to its KaTeX
    # server per process, which forked writers would share. The book is written on one process.
    return {"version": "3.0", "parallel_read_safe": True, "parallel_write_safe": False}
