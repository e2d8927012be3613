"""Fewer, later scripts: none twice, none that holds up the first paint, none unused.

While each page is written, exact duplicates among its scripts are removed: sphinx-thebe
registers its inline configuration script (``const THEBE_JS_URL = ...``) twice under Jupyter
Book 1, and the second copy raises "Identifier 'THEBE_JS_URL' has already been declared".
The files of extensions that Jupyter Book always loads but a page does not use (sphinx-design
without a ``sd-`` element, sphinx-thebe without a Thebe button) leave that page: each was a
stylesheet that held up the first paint, or a script that took bandwidth from one.

After the build, each page's scripts are deferred (all but ``documentation_options.js``,
which inline scripts read at once), so that they no longer hold up the first paint, and the
theme's ``<link rel="preload">`` of its two deferred scripts goes (a preloaded script is
fetched at high priority beside the stylesheets, which the first paint waits for); the
theme's ``fontawesome.js`` (1.5 MB of JavaScript that swaps icons for SVG) is dropped, the
committed ``_ext/static/lessons-icons.css`` drawing the icons instead (made by
``tools/make_icons_css.py``); the widget state that myst-nb stores in each page for a
widget manager is dropped: the book loads none (``nb_ipywidgets_js`` is empty in
``_config.yml``), its explorers being static; and the search tools and index, which the theme
loads on every page for its search-as-you-type (off here), stay on the search page only.

Last, the deferred scripts (about 48 KB compressed on a chapter) start to load only once the
page's first paint has been shown (:data:`AFTER_FIRST_PAINT`, one small inline script at the
end of the body). ``defer`` keeps a script from holding up the first paint, but not from taking
the bandwidth of a slow phone's connection while the page, its stylesheets and fonts still load.
Lighthouse counts every request that ends before the largest contentful paint on that paint's
critical path: with the scripts deferred only, chapter 05's simulated LCP was 2.5-2.8 s in 6 of
15 runs (headless Chromium then showed its first frame only after about 1.25 s), and 1.8 s in
every run with them loaded after the paint (bench/README.md, 8 December). They run in their
order, as deferred scripts do; each reads ``document.readyState``, so none misses the document
being ready. When every one has run, ``<html>`` gets ``data-lessons-scripts="ready"`` (the
browser tests wait for it).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from sphinx.application import Sphinx

SCRIPT_TAG = re.compile(r"<script\b([^>]*)\bsrc=\"([^\"]+)\"([^>]*)></script>")
# Read by the inline scripts that follow it (DOCUMENTATION_OPTIONS.pagename = ...): kept in order.
KEEP_BLOCKING = ("documentation_options.js",)
FONTAWESOME_SCRIPT = re.compile(
    r'[ \t]*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>\s*'
)
SCRIPT_PRELOAD = re.compile(r'[ \t]*<link rel="preload" as="script" href="[^"]*"\s*/>\s*')
# Files of extensions a page may not use, and the markup that says it uses them.
UNUSED_UNLESS = {
    "sphinx-design": (("sphinx-design.min.css", "design-tabs.js"), 'class="sd-'),
    # Thebe runs a page's cells on a remote kernel from a launch button, which the book has not.
    "sphinx-thebe": (("sphinx-thebe.css", "sphinx-thebe.js", "THEBE_JS_URL"), 'class="thebe'),
}
# pydata-sphinx-theme loads Sphinx's search tools and the whole search index on every page, for
# its search-as-you-type box; the book leaves that option off (the search box opens search.html,
# which loads them itself), so elsewhere they only take bandwidth and main-thread time
# (searchindex.js: about 110 KB, 170 KB in the Chinese edition).
INLINE_SEARCH = re.compile(
    r'[ \t]*<script (?:defer )?src="[^"]*(?:_static/searchtools\.js|_static/language_data\.js|'
    r'searchindex\.js)"></script>\s*'
)
WIDGET_STATE = re.compile(
    r'[ \t]*<script type="application/vnd\.jupyter\.widget-state\+json">.*?</script>\s*', re.DOTALL
)


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


def drop_unused_extension_files(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """sphinx-design's and sphinx-thebe's stylesheets and scripts, where a page uses them only."""
    body = context.get("body", "")
    launch = app.config.html_theme_options.get("launch_buttons", {})
    for extension, (names, used_when) in UNUSED_UNLESS.items():
        if used_when in body or (extension == "sphinx-thebe" and launch.get("thebe")):
            continue
        for key in ("css_files", "script_files"):
            context[key] = [
                asset
                for asset in context.get(key, [])
                if not any(name in _asset_text(asset) for name in names)
            ]


def _asset_text(asset: Any) -> str:
    """A stylesheet's or script's file name, or an inline script's body."""
    filename = getattr(asset, "filename", asset) or ""
    return f"{filename} {getattr(asset, 'attributes', {}).get('body', '')}"


def defer_scripts(text: str) -> str:
    """Scripts load without holding up the first paint; they still run in their order."""

    def defer(match: re.Match) -> str:
        attributes = match[1] + match[3]
        if re.search(r"\b(defer|async)\b|type=\"module\"", attributes) or any(
            name in match[2] for name in KEEP_BLOCKING
        ):
            return match[0]
        return f'<script defer{match[1]}src="{match[2]}"{match[3]}></script>'

    return SCRIPT_TAG.sub(defer, text)


# Loads the page's deferred scripts, in order, once a first paint has been shown (the paint
# timing entry comes when it is presented); at once where the browser reports no paint timing;
# 3 s after the load event where no paint comes (a page opened in a background tab).
AFTER_FIRST_PAINT = """<script data-lessons-scripts>(function () {
  var sources = %s, started = false;
  function start() {
    if (started) { return; }
    started = true;
    var left = sources.length;
    sources.forEach(function (source) {
      var script = document.createElement('script');
      script.src = source;
      script.async = false;  // run in this order, as the deferred scripts did
      script.onload = script.onerror = function () {
        left -= 1;
        if (left === 0) { document.documentElement.dataset.lessonsScripts = 'ready'; }
      };
      document.head.appendChild(script);
    });
  }
  var kinds = window.PerformanceObserver && PerformanceObserver.supportedEntryTypes;
  if (!kinds || kinds.indexOf('paint') < 0) { start(); return; }
  new PerformanceObserver(start).observe({type: 'paint', buffered: true});
  window.addEventListener('load', function () { setTimeout(start, 3000); });
})();</script>
"""


def load_after_first_paint(text: str) -> str:
    """The page's deferred scripts leave their tags for :data:`AFTER_FIRST_PAINT` before
    ``</body>``, which loads them in the same order once the page has painted."""
    sources = []

    def take(match: re.Match) -> str:
        if not re.search(r"\bdefer\b", match[1] + match[3]):
            return match[0]
        sources.append(html.unescape(match[2]))
        return ""

    kept = SCRIPT_TAG.sub(take, text)
    if not sources or "</body>" not in kept:
        return text
    loader = AFTER_FIRST_PAINT % json.dumps(sources).replace("</", "<\\/")
    head, tail = kept.rsplit("</body>", 1)
    return f"{head}{loader}</body>{tail}"


def lighter_scripts(text: str, keep_search: bool = False) -> str:
    """A page's scripts deferred, without fontawesome.js and without the widget state; and,
    unless ``keep_search`` (the search page, or the theme's search-as-you-type turned on),
    without the search tools and index; then loaded after the first paint."""
    text = WIDGET_STATE.sub("\n", defer_scripts(text))
    text = SCRIPT_PRELOAD.sub("\n", text)
    if not keep_search:
        text = INLINE_SEARCH.sub("\n", text)
    return load_after_first_paint(FONTAWESOME_SCRIPT.sub("\n", text))
