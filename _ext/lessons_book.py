"""Sphinx extension that keeps the built book self-contained, light and quick to load.

Wired in ``_config.yml`` (``sphinx: local_extensions``). It does seven things:

1. Serves the math's stylesheet and fonts from the site. sphinxcontrib-katex renders every
   formula at build time (``katex_prerender``) with the pinned KaTeX of ``tools/vendor``
   (its ``katex_js_path`` is set here, where the path is known), so a page loads no math
   JavaScript. This step copies KaTeX's stylesheet and WOFF2 fonts into ``_static``, keeps
   the stylesheets to the pages that show math, preloads the italic font there, lets a wide
   formula's scroll box take the keyboard focus, and fails the build on TeX that KaTeX
   rejects (sphinxcontrib-katex would show it in red), naming the page.
2. Moves every inlined ``data:image/png;base64,...`` picture (the static explorers'
   frames) into its own file under ``_images/frames/`` named by its content, and points
   the page at it: the explorer's player keeps assigning those strings to ``img.src``, so
   a frame is fetched the first time a reader asks for it instead of with the page.
3. Gives every local PNG picture its size (``width``/``height`` read from the file, which
   the stylesheet scales with ``height: auto``), so the text does not jump when a picture
   arrives; marks images ``loading="lazy"`` (all but a page's first picture), so pictures below
   the fold wait until the reader scrolls near them, and defers the pages' scripts (all
   but ``documentation_options.js``, which inline scripts read at once), so that they no
   longer hold up the first paint.
4. Drops the theme's ``fontawesome.js`` (1.5 MB of JavaScript that swaps icons for SVG)
   and draws the icons that the pages use with a small generated stylesheet,
   ``_static/lessons-icons.css``: each icon's SVG path, read from the theme's own copy of
   Font Awesome, as a CSS mask. An icon it cannot find falls back to the theme's
   Font Awesome web font, so nothing disappears.
5. Adds our own static files from ``_ext/static/`` (a folder of its own rather than a root
   ``_static/``, whose every ``.js`` Jupyter Book would add to every page): the stylesheet
   (reading comfort at 375 px) and ``lessons-zoom.js`` (a tap on a figure or an explorer's
   frame opens it full size).
6. Stacks a figure's panels on a phone. While the book is built, every figure that is one
   row of panels also carries a copy with its panels stacked (see
   ``lessons_lib.plotting.narrow_layout``), which the page ignores; after the build, each
   such figure becomes a ``<picture>`` that shows the stacked copy on screens at most
   ``NARROW_SCREEN`` wide, from ``_images/narrow/``.
7. Removes exact duplicates among a page's scripts. sphinx-thebe registers its inline
   configuration script (``const THEBE_JS_URL = ...``) twice under Jupyter Book 1, and the
   second copy raises "Identifier 'THEBE_JS_URL' has already been declared".

It also drops the widget state that myst-nb stores in each page for a widget manager the
book does not load (its explorers are static), and gives the bibliography's entries the
list-item role that their list needs (docutils' ``doc-biblioentry`` fails axe).

Steps 1-4 and 6 rewrite the written HTML pages after a successful build. Each step leaves a
page it has already handled as it is, so an incremental build may run them over every
page again at little cost.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parent.parent
STATIC = Path(__file__).resolve().parent / "static"
VENDOR = ROOT / "tools" / "vendor"
KATEX_SOURCE = VENDOR / "node_modules" / "katex" / "dist"
KATEX_TARGET = Path("_static") / "vendor" / "katex"
FRAMES = Path("_images") / "frames"
NARROW = Path("_images") / "narrow"
NARROW_SCREEN = "640px"  # phones, and a browser window narrowed to a phone's width
ICONS_CSS = "lessons-icons.css"
# sphinxcontrib-katex's stylesheets: KaTeX's own (katex_css_path in _config.yml) and its own.
KATEX_STYLESHEETS = ("vendor/katex/katex.min.css", "katex-math.css")
KATEX_ERROR = re.compile(r'<span class="katex-error"[^>]*title="([^"]*)"[^>]*>(.*?)</span>', re.S)
PRELOADED_FONT = "KaTeX_Math-Italic.woff2"  # inline math's letters: the reflow when it came

DISPLAY_BOX = '<span class="katex-display" tabindex="0">'
# docutils marks the bibliography role="list" around role="doc-biblioentry" entries, which
# axe (and Lighthouse) reject: a list needs list items. Each entry becomes one.
CITATION_ROLE = 'role="doc-biblioentry"'
DATA_PNG = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
IMG_TAG = re.compile(r"<img\b[^>]*>")
# The output type of a figure's stacked copy, which the kernel adds: the same string as
# lessons_lib.plotting.NARROW_FIGURE_MIME (a test checks). Not imported from there: that
# would load torch and matplotlib into Sphinx's process, a second of the build's serial end.
NARROW_FIGURE_MIME = "application/vnd.lessons-book.narrow-figure+png"
# A figure written by myst-nb: _images/<sha256 of the PNG>.png
FIGURE_IMG = re.compile(r'<img\b[^>]*\bsrc="([^"]*?)_images/([0-9a-f]{64})\.png"[^>]*>')
# myst-nb stores the notebook's widget state in each page for a widget manager; the book
# loads none (nb_ipywidgets_js is empty in _config.yml): its explorers are static.
WIDGET_STATE = re.compile(
    r'[ \t]*<script type="application/vnd\.jupyter\.widget-state\+json">.*?</script>\s*', re.DOTALL
)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)\bsrc=\"([^\"]+)\"([^>]*)></script>")
# Read by the inline scripts that follow it (DOCUMENTATION_OPTIONS.pagename = ...): kept in order.
KEEP_BLOCKING = ("documentation_options.js",)
FONTAWESOME_SCRIPT = re.compile(
    r'[ \t]*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>\s*'
)
# Classes of the icons a page shows: <i class="fa-brands fa-github"></i>, ...
# (sphinx-book-theme writes the short style names, pydata-sphinx-theme the long ones.)
ICON_STYLES = {
    "fa-solid": "fas",
    "fa-regular": "far",
    "fa-brands": "fab",
    "fas": "fas",
    "far": "far",
    "fab": "fab",
}
STYLE_CLASSES = {
    "fas": ("fa-solid", "fas"),
    "far": ("fa-regular", "far"),
    "fab": ("fa-brands", "fab"),
}
ICON_CLASS_ATTRIBUTE = re.compile(
    r'class="([^"]*(?<![\w-])(?:fa-solid|fa-regular|fa-brands|fas|far|fab)\b[^"]*)"'
)
NOT_ICON_NAMES = {
    "fa-solid",
    "fa-regular",
    "fa-brands",
    "fa-lg",
    "fa-fw",
    "fa-xl",
    "fa-sm",
    "fa-2x",
}


# --- 1. math at build time -------------------------------------------------------------


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


def math_stylesheets_where_math(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """KaTeX's stylesheets, and a preload of its italic font, on the pages that show math only.

    sphinxcontrib-katex adds its stylesheets to every page; a page without math drops them.
    The preload fetches the font with the stylesheet rather than once the stylesheet has been
    read, so it is usually there before the first paint and the text does not reflow (a
    layout shift, 0.17 on chapter 04 without it) when it replaces the fallback font. A font
    is fetched in CORS mode, which a page opened from disk (file://) cannot do, so a
    one-line script adds the preload on the web only.
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
    href = context["pathto"](f"_static/{folder}/fonts/{PRELOADED_FONT}", 1)
    context["metatags"] += (
        "\n<script>if (location.protocol !== 'file:') { const font = "
        "Object.assign(document.createElement('link'), {rel: 'preload', as: 'font', "
        f"type: 'font/woff2', crossOrigin: 'anonymous', href: '{href}'}}); "
        "document.head.appendChild(font); }</script>"
    )


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


def copy_katex(outdir: Path) -> None:
    """KaTeX's stylesheet and its WOFF2 fonts (every browser that runs the book reads WOFF2)."""
    target = outdir / KATEX_TARGET
    (target / "fonts").mkdir(parents=True, exist_ok=True)
    shutil.copy2(KATEX_SOURCE / "katex.min.css", target / "katex.min.css")
    shutil.copy2(KATEX_SOURCE.parent / "LICENSE", target / "LICENSE")
    for font in (KATEX_SOURCE / "fonts").glob("*.woff2"):
        shutil.copy2(font, target / "fonts" / font.name)
    css = (target / "katex.min.css").read_text(encoding="utf-8")
    # Name only the WOFF2 file of each font, so that no browser asks for a file not copied.
    css = re.sub(r',url\(fonts/[^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)', "", css)
    # Text with inline math is painted at once, in a fallback font until KaTeX's has come.
    css = css.replace("font-display:block", "font-display:swap")
    (target / "katex.min.css").write_text(css, encoding="utf-8")


# --- 2. explorer frames as files -------------------------------------------------------


def move_frames_to_files(outdir: Path, pages: dict[Path, str]) -> None:
    """Each inlined PNG becomes _images/frames/<hash>.png; the page points at that file."""
    folder = outdir / FRAMES
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in pages.items():
        prefix = os.path.relpath(folder, path.parent).replace(os.sep, "/")

        def to_file(match: re.Match, prefix: str = prefix) -> str:
            png = base64.b64decode(match[1])
            name = hashlib.sha1(png).hexdigest()[:20] + ".png"
            if not (folder / name).exists():
                (folder / name).write_bytes(png)
            return f"{prefix}/{name}"

        pages[path] = DATA_PNG.sub(to_file, text)


# --- 3. sized and lazy images ---------------------------------------------------------

SIZED_TAG = re.compile(r'<(?:img|source)\b[^>]*?\b(?:src|srcset)="([^"]+\.png)"[^>]*>')


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG file's header, or None if it is not a PNG."""
    with path.open("rb") as file:
        header = file.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def sized_images(page: Path, text: str) -> str:
    """Every <img>/<source> of a local PNG gets width and height: space kept before it loads."""

    def add_size(match: re.Match) -> str:
        tag = match[0]
        file = page.parent / match[1]
        if re.search(r"\swidth=", tag) or "://" in match[1] or not file.is_file():
            return tag
        size = png_size(file)
        if size is None:
            return tag
        at = tag.index(" ")
        return f'{tag[:at]} width="{size[0]}" height="{size[1]}"{tag[at:]}'

    return SIZED_TAG.sub(add_size, text)


def lazy_images(text: str) -> str:
    """Every image but the article's first waits until the reader scrolls near it."""
    article = text.find("<article")
    first = IMG_TAG.search(text, article if article >= 0 else 0)

    def lazy(match: re.Match) -> str:
        tag = match[0]
        if "loading=" in tag or (first is not None and match.start() == first.start()):
            return tag
        return tag[:4] + ' loading="lazy" decoding="async"' + tag[4:]

    return IMG_TAG.sub(lazy, text)


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


# --- 4. icons without fontawesome.js ---------------------------------------------------


def fontawesome_icons(source: Path) -> dict[tuple[str, str], tuple[int, int, str]]:
    """{(style, name): (width, height, path)} from the theme's fontawesome.js.

    Each icon pack in that bundle is an object literal ``var p={name:[w,h,[aliases],
    "unicode","path"], ...}`` handed to ``d("fas", p)`` (solid), ``d("far", p)`` or
    ``d("fab", p)``. An empty result only means the icons keep the web font.
    """
    if not source.is_file():
        return {}
    bundle = source.read_text(encoding="utf-8")
    icon = re.compile(r'(?:"([\w-]+)"|([A-Za-z_][\w]*)):\[(\d+),(\d+),\[[^\]]*\],"\w+","([^"]+)"\]')
    found: dict[tuple[str, str], tuple[int, int, str]] = {}
    start = 0
    for pack in re.finditer(r'\bd\("(fas|far|fab)",p\)', bundle):
        begin = bundle.rfind("var p={", start, pack.start())
        if begin < 0:
            continue
        for match in icon.finditer(bundle, begin, pack.start()):
            name = match[1] or match[2]
            found.setdefault((pack[1], name), (int(match[3]), int(match[4]), match[5]))
        start = pack.end()
    return found


def used_icons(pages: dict[Path, str]) -> set[tuple[str, str]]:
    """(style, name) of every Font Awesome icon in the pages' markup."""
    used = set()
    for text in pages.values():
        for attribute in ICON_CLASS_ATTRIBUTE.finditer(text):
            classes = attribute[1].split()
            style = next(ICON_STYLES[c] for c in classes if c in ICON_STYLES)
            for name in classes:
                if name.startswith("fa-") and name not in NOT_ICON_NAMES:
                    used.add((style, name.removeprefix("fa-")))
    return used


def icons_stylesheet(
    used: set[tuple[str, str]], icons: dict[tuple[str, str], tuple[int, int, str]]
) -> str:
    """CSS that draws each used icon as an SVG mask in the text colour."""
    rules = [
        "/* Generated by _ext/lessons_book.py from the theme's Font Awesome (CC BY 4.0 icons):",
        "   the icons the pages use, drawn without fontawesome.js or its web fonts. */",
    ]
    for style, name in sorted(used):
        if (style, name) not in icons:
            continue
        width, height, path = icons[(style, name)]
        svg = (
            f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}'>"
            f"<path d='{path}'/></svg>"
        )
        url = 'url("data:image/svg+xml;base64,' + base64.b64encode(svg.encode()).decode() + '")'
        icon_classes = [f".{style_class}.fa-{name}" for style_class in STYLE_CLASSES[style]]
        # The icon's own box keeps the text's font: a box in the Font Awesome font, even an
        # empty one, makes the browser download that font for its line metrics.
        rules.append(f"{','.join(icon_classes)}{{font-family:inherit}}")
        selectors = ",".join(f"{icon}::before" for icon in icon_classes)
        rules.append(
            f"{selectors}{{content:'';display:inline-block;"
            f"width:{width / height:.4f}em;height:1em;vertical-align:-0.125em;"
            f"background-color:currentColor;-webkit-mask:{url} center/contain no-repeat;"
            f"mask:{url} center/contain no-repeat}}"
        )
    return "\n".join(rules) + "\n"


# --- 6. stacked figures on a phone ------------------------------------------------------


def executed_notebooks(folder: Path) -> list[dict]:
    """The executed chapters in jupyter-cache's cache at ``folder``, read with its API.

    tools/build_book.py executes every chapter into this cache before Sphinx starts, and
    myst-nb takes their outputs from it.
    """
    from jupyter_cache import get_cache  # here, so that importing this module stays light

    cache = get_cache(str(folder))
    return [cache.get_cache_bundle(record.pk).nb for record in cache.list_cache_records()]


def narrow_copies(notebooks: list[dict]) -> dict[str, bytes]:
    """{sha256 of a figure's PNG: its stacked copy's PNG}, from executed notebooks."""

    def png(text: str | list[str]) -> bytes:
        return base64.b64decode("".join(text))

    copies = {}
    for notebook in notebooks:
        for cell in notebook.get("cells", []):
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if NARROW_FIGURE_MIME in data and "image/png" in data:
                    key = hashlib.sha256(png(data["image/png"])).hexdigest()
                    copies[key] = png(data[NARROW_FIGURE_MIME])
    return copies


def stack_figures_on_phones(outdir: Path, pages: dict[Path, str], copies: dict[str, bytes]) -> None:
    """Each figure with a stacked copy becomes a <picture> that shows it on narrow screens."""
    folder = outdir / NARROW
    for path, text in pages.items():
        if f"{NARROW.as_posix()}/" in text:
            continue  # rewritten by an earlier build, and not written again since

        def picture(match: re.Match) -> str:
            stacked = copies.get(match[2])
            if stacked is None:
                return match[0]
            name = hashlib.sha256(stacked).hexdigest()[:20] + ".png"
            folder.mkdir(parents=True, exist_ok=True)
            if not (folder / name).exists():
                (folder / name).write_bytes(stacked)
            media = f"(max-width: {NARROW_SCREEN})"
            source = f'<source media="{media}" srcset="{match[1]}{NARROW.as_posix()}/{name}">'
            return f"<picture>{source}{match[0]}</picture>"

        pages[path] = FIGURE_IMG.sub(picture, text)


# --- after the build: rewrite the pages ------------------------------------------------


def built_pages(outdir: Path) -> list[Path]:
    return [
        path
        for path in sorted(outdir.rglob("*.html"))
        if not path.relative_to(outdir).parts[0].startswith("_")
    ]


def finish_pages(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    copy_katex(outdir)
    pages = {path: path.read_text(encoding="utf-8") for path in built_pages(outdir)}
    original = dict(pages)
    pages = {path: checked_math(path, text) for path, text in pages.items()}
    move_frames_to_files(outdir, pages)
    cache = Path(app.srcdir, app.config.nb_execution_cache_path)
    stack_figures_on_phones(outdir, pages, narrow_copies(executed_notebooks(cache)))
    for path, text in pages.items():
        text = WIDGET_STATE.sub("\n", defer_scripts(lazy_images(sized_images(path, text))))
        text = text.replace(CITATION_ROLE, 'role="listitem"')
        pages[path] = FONTAWESOME_SCRIPT.sub("\n", text)
    # The theme's own copy, which Sphinx has copied into the site (though no page loads it).
    icons = fontawesome_icons(outdir / "_static" / "scripts" / "fontawesome.js")
    css = icons_stylesheet(used_icons(pages), icons)
    (outdir / "_static" / ICONS_CSS).write_text(css, encoding="utf-8")
    for path, text in pages.items():
        if text != original[path]:
            path.write_text(text, encoding="utf-8")


# --- 5, 7. our static files; no duplicate scripts --------------------------------------


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


def add_static_files(app: Sphinx, config: Any) -> None:
    """Serve _ext/static/ as static files; our stylesheet, icons and zoom on every page."""
    config.html_static_path.append(str(STATIC))
    app.add_css_file("lessons-book.css")
    app.add_css_file(ICONS_CSS)
    app.add_js_file("lessons-zoom.js", loading_method="defer")


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinxcontrib.katex")
    app.connect("config-inited", add_static_files)
    app.connect("config-inited", use_vendored_katex)
    app.connect("builder-inited", check_vendor_installed, priority=400)
    app.connect("html-page-context", math_stylesheets_where_math)
    app.connect("build-finished", finish_pages)
    # After sphinx.ext.mathjax and sphinx-thebe have added their scripts.
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    # Not safe to write in parallel: sphinxcontrib-katex keeps one connection to its KaTeX
    # server per process, which forked writers would share. The book is written on one process.
    return {"version": "2.0", "parallel_read_safe": True, "parallel_write_safe": False}
