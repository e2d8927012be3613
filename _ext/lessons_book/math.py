"""The math, rendered when the book is built: KaTeX's stylesheet and fonts served from the site.

sphinxcontrib-katex renders every formula at build time (``katex_prerender``) with the pinned
KaTeX of ``tools/vendor``, so a page loads no math JavaScript. This module points it at that
KaTeX, fails early when KaTeX is not installed, keeps KaTeX's stylesheets to the pages that
show math (with preloads of the KaTeX fonts that the page's math uses), copies the stylesheet
and WOFF2 fonts into ``_static`` (the fonts that math uses cut down to the characters of the
site's math), fails the build on TeX that KaTeX rejects
(sphinxcontrib-katex would show it in red), naming the page, and lets a wide formula's scroll
box take the keyboard focus.
"""

from __future__ import annotations

import atexit
import functools
import html
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fontTools
import tinycss2
from fontTools import subset
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
KATEX_SOURCE = ROOT / "tools" / "vendor" / "node_modules" / "katex" / "dist"
KATEX_TARGET = Path("_static") / "vendor" / "katex"
# sphinxcontrib-katex's stylesheets: KaTeX's own (katex_css_path in _config.yml) and its own.
KATEX_STYLESHEETS = ("vendor/katex/katex.min.css", "katex-math.css")
KATEX_ERROR = re.compile(r'<span class="katex-error"[^>]*title="([^"]*)"[^>]*>(.*?)</span>', re.S)
# Inline math's letters and its digits, operators and brackets: the reflow when they came
# (a layout shift of 0.14 on the Chinese introduction with the first alone preloaded).
PRELOADED_FONTS = ("KaTeX_Math-Italic.woff2", "KaTeX_Main-Regular.woff2")
CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
DISPLAY_BOX = '<span class="katex-display" tabindex="0">'
# Where KaTeX's drawn math starts, and an HTML tag (closing?, name, self-closing?) or text.
DRAWN_MATH = '<span class="katex-html"'
TAG_OR_TEXT = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*?(/?)>|([^<]+)")
# HTML elements that have no end tag.
VOID_ELEMENTS = frozenset("area base br col embed hr img input link meta source track wbr".split())


def use_vendored_katex(app: Sphinx, config: Any) -> None:
    """sphinxcontrib-katex prerenders with the pinned KaTeX, not the copy in its wheel."""
    config.katex_js_path = str(KATEX_SOURCE / "katex.min.js")


def check_vendor_installed(app: Sphinx) -> None:
    """Fail early, with the fix, when the pinned KaTeX has not been installed."""
    if app.builder.format != "html":
        return
    if not (KATEX_SOURCE / "katex.min.css").is_file() or shutil.which("node") is None:
        raise ExtensionError(
            f"KaTeX is not installed at {KATEX_SOURCE} (or node is missing): run "
            "`make setup` (or `npm ci --prefix tools/vendor`) before building the book"
        )


def start_katex_server(app: Sphinx, timeout: float = 30.0) -> None:
    """Start sphinxcontrib-katex's KaTeX server, retrying while its socket refuses connections.

    The one workaround for an upstream race in this build. sphinxcontrib-katex 0.9.11
    (``KaTeXServer.start_server_process``, https://github.com/hagenw/sphinxcontrib-katex/blob/
    v0.9.11/sphinxcontrib/katex.py) connects as soon as the server's socket file exists,
    but Node creates that file (bind) a moment before it accepts connections (listen), so on
    a loaded machine the build failed now and then with ``ConnectionRefusedError``. Here the
    same server is started the same way and the connection is retried until the server
    listens; sphinxcontrib-katex then uses it (its ``KaTeXServer.get`` returns a started
    server). tests/test_book_extension.py fails once upstream retries by itself, so that this
    function can go.
    """
    if app.builder.format != "html" or not app.config.katex_prerender:
        return
    from sphinxcontrib.katex import KaTeXServer

    if KaTeXServer.katex_server is not None:
        return
    rundir = Path(tempfile.mkdtemp(prefix="lessons_katex"))
    path = rundir / "katex.sock"
    command = KaTeXServer.build_command(socket=path)
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=rundir)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ExtensionError(f"the KaTeX server stopped at start ({process.returncode})")
        if path.is_socket():
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                connection.connect(str(path))
                break
            except ConnectionRefusedError:  # bound, not yet listening
                connection.close()
        if time.monotonic() > deadline:
            process.kill()
            raise ExtensionError(f"the KaTeX server did not start within {timeout:.0f} s")
        time.sleep(0.01)
    server = KaTeXServer(rundir, process, connection)
    atexit.register(KaTeXServer.terminate, server)
    KaTeXServer.katex_server = server


@functools.cache
def katex_font_classes(stylesheet: Path = KATEX_SOURCE / "katex.min.css") -> dict[frozenset, str]:
    """The font file that each of KaTeX's class selectors asks for, read from its stylesheet.

    ``.katex .mathbf{font-family:KaTeX_Main;font-weight:700}`` gives
    ``{"mathbf"} -> "KaTeX_Main-Bold.woff2"``; ``.katex .delimsizing.size1`` gives
    ``{"delimsizing", "size1"}`` (classes of one element) -> ``"KaTeX_Size1-Regular.woff2"``.
    Of a selector with a descendant part, the classes of its last element that has any count.
    """
    fonts: dict[frozenset, str] = {}
    rules = tinycss2.parse_stylesheet(stylesheet.read_text(encoding="utf-8"), True, True)
    for rule in rules:
        if rule.type != "qualified-rule":
            continue
        declarations = tinycss2.parse_blocks_contents(rule.content, True, True)
        values = {
            item.lower_name: tinycss2.serialize(item.value).strip()
            for item in declarations
            if item.type == "declaration"
        }
        family = values.get("font-family", "")
        if not family.startswith("KaTeX_"):
            continue
        bold = values.get("font-weight") in ("700", "bold")
        italic = values.get("font-style") == "italic"
        variant = {(1, 1): "BoldItalic", (1, 0): "Bold", (0, 1): "Italic"}.get(
            (bold, italic), "Regular"
        )
        for selector in tinycss2.serialize(rule.prelude).split(","):
            parts = [re.findall(r"\.([\w-]+)", part) for part in re.split(r"[\s>+~]+", selector)]
            classes = [found for found in parts if found]
            if len(classes) > 1 and classes[0] == ["katex"]:
                fonts[frozenset(classes[-1])] = f"{family}-{variant}.woff2"
    return fonts


def fonts_for(body: str) -> list[str]:
    """The KaTeX fonts that the math of a page body uses: :data:`PRELOADED_FONTS`, then
    those that its elements' classes ask for (:func:`katex_font_classes`), by name."""
    elements = {frozenset(found.split()) for found in CLASS_ATTRIBUTE.findall(body)}
    wanted = {
        font
        for classes, font in katex_font_classes().items()
        if any(classes <= element for element in elements)
    }
    return [*PRELOADED_FONTS, *sorted(wanted - set(PRELOADED_FONTS))]


def math_stylesheets_where_math(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """KaTeX's stylesheets, and preloads of the fonts its math uses, on pages with math only.

    sphinxcontrib-katex adds its stylesheets to every page; a page without math drops them.
    The preloads fetch the fonts of the page's math (:func:`fonts_for`) with the stylesheets
    rather than once the first layout has found them, so they are usually there before the
    first paint and the text does not reflow (a layout shift, 0.17 on chapter 04 without the
    first two) when they replace the fallback font; and, as preloads, they do not hold up the
    first paint (Chromium fetches a font that a layout finds at the stylesheets' priority;
    with every font preloaded, Lighthouse's first contentful paint on chapter 05 fell from
    1.97 to 1.51 s, median of 3 runs each). A font is fetched in CORS mode, which a page
    opened from disk (file://) cannot do, so a one-line script adds the preloads on the web
    only.
    """
    if app.builder.format != "html" or doctree is None:
        return
    if not app.env.get_domain("math").has_equations(pagename):
        context["css_files"] = [
            css
            for css in context.get("css_files", [])
            if not str(getattr(css, "filename", css)).endswith(KATEX_STYLESHEETS)
        ]
        return
    folder = KATEX_TARGET.relative_to("_static").as_posix()
    fonts = fonts_for(context.get("body", ""))
    hrefs = [context["pathto"](f"_static/{folder}/fonts/{name}", 1) for name in fonts]
    context["metatags"] += (
        "\n<script>if (location.protocol !== 'file:') { for (const href of "
        f"{json.dumps(hrefs)}) document.head.appendChild(Object.assign("
        "document.createElement('link'), {rel: 'preload', as: 'font', type: 'font/woff2', "
        "crossOrigin: 'anonymous', href})); }</script>"
    )


def math_characters(pages: Iterable[str]) -> str:
    """Every character that the math of these pages draws, sorted (``""`` without math).

    The text inside KaTeX's ``katex-html`` spans, entities decoded: the math as the reader
    sees it (KaTeX's MathML copy, for screen readers, is never drawn in its fonts). Each span
    is read tag by tag until its end tag; void and self-closing tags (``<br>``, an SVG's
    ``<path/>``) open nothing.
    """
    characters: set[str] = set()
    for text in pages:
        start = text.find(DRAWN_MATH)
        while start != -1:
            depth = 0
            for match in TAG_OR_TEXT.finditer(text, start):
                closing, tag, self_closing, data = match.groups()
                if data is not None:
                    characters.update(html.unescape(data))
                elif tag.lower() not in VOID_ELEMENTS and not self_closing:
                    depth += -1 if closing else 1
                    if depth == 0:  # the katex-html span's own end tag
                        break
            start = text.find(DRAWN_MATH, match.end())
    return "".join(sorted(characters))


def subset_font(source: Path, characters: str, target: Path) -> None:
    """Write ``source``'s WOFF2 font at ``target`` with only the glyphs of ``characters``.

    With fontTools' own subsetter (it keeps the glyphs that those glyphs need, kerning and
    ligatures included), and without TrueType hinting instructions, which only fit the
    outlines to the pixel grid of a low-resolution screen (macOS and iOS ignore them); they
    were about a fifth of each font.
    """
    options = subset.Options()
    options.flavor = "woff2"
    options.hinting = False
    options.notdef_outline = True  # a missing glyph shows as a box, as in the full font
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(character) for character in characters])
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def copy_katex(outdir: Path, pages: Iterable[str] = ()) -> None:
    """KaTeX's stylesheet and its WOFF2 fonts (every browser that runs the book reads WOFF2).

    The fonts that the math of ``pages`` (the site's pages) uses (:func:`fonts_for`) are cut
    down to the characters that this math draws (:func:`math_characters`): the fonts were
    half of what a chapter with math fetches before Lighthouse counts it painted. The others,
    which no page asks for, are copied whole. A font cut down for the same characters
    before (``subset.json`` beside them) is not cut again.
    """
    target = outdir / KATEX_TARGET
    (target / "fonts").mkdir(parents=True, exist_ok=True)
    shutil.copy2(KATEX_SOURCE / "katex.min.css", target / "katex.min.css")
    shutil.copy2(KATEX_SOURCE.parent / "LICENSE", target / "LICENSE")
    pages = [text for text in pages if "katex-html" in text]
    characters = math_characters(pages)
    used = {font for text in pages for font in fonts_for(text)}
    record = target / "fonts" / "subset.json"
    version = json.loads((KATEX_SOURCE.parent / "package.json").read_text())["version"]
    wanted = {"katex": version, "fonttools": fontTools.version, "characters": characters}
    done = json.loads(record.read_text()) if record.is_file() else {}
    for font in sorted((KATEX_SOURCE / "fonts").glob("*.woff2")):
        copy = target / "fonts" / font.name
        if font.name not in used:
            shutil.copy2(font, copy)
            done.pop(font.name, None)
        elif done.get(font.name) != wanted or not copy.is_file():
            subset_font(font, characters, copy)
            done[font.name] = wanted
    record.write_text(json.dumps(done, indent=1, sort_keys=True), encoding="utf-8")
    css = (target / "katex.min.css").read_text(encoding="utf-8")
    # Name only the WOFF2 file of each font, so that no browser asks for a file not copied.
    css = re.sub(r',url\(fonts/[^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)', "", css)
    # Text with inline math is painted at once, in a fallback font until KaTeX's has come.
    css = css.replace("font-display:block", "font-display:swap")
    (target / "katex.min.css").write_text(css, encoding="utf-8")


def checked_math(path: Path, text: str) -> str:
    """Fail on TeX that KaTeX rejected; a wide formula's scroll box takes the keyboard focus."""
    errors = [
        f"{html.unescape(tex)!r}: {html.unescape(why)}" for why, tex in KATEX_ERROR.findall(text)
    ]
    if errors:
        raise ExtensionError(
            f"KaTeX cannot render this math in {path.name}:\n  " + "\n  ".join(errors)
        )
    return text.replace('<span class="katex-display">', DISPLAY_BOX)
