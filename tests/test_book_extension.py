"""The book's Sphinx extension (the package _ext/lessons_book/) and its icon stylesheet.

Stacked figures on a phone (phone_figures.py), the page steps run by pages.finish_pages, and
the committed icon stylesheet _ext/static/lessons-icons.css that tools/make_icons_css.py
makes. The tests marked ``book`` read the built site and skip when it is missing, unless
REQUIRE_BOOK=1.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("sphinx")  # the extension is Sphinx's; the ipywidgets 7 test env has none
import pydata_sphinx_theme
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
ICONS_CSS = ROOT / "_ext" / "static" / "lessons-icons.css"
sys.path.insert(0, str(ROOT / "_ext"))
sys.path.insert(0, str(ROOT / "tools"))
import lessons_book  # noqa: E402
import make_icons_css  # noqa: E402
from lessons_book import bundle as book_bundle  # noqa: E402
from lessons_book import images as book_images  # noqa: E402
from lessons_book import math as book_math  # noqa: E402
from lessons_book import pages as book_pages  # noqa: E402
from lessons_book import scripts as book_scripts  # noqa: E402
from lessons_book import stylesheet as book_stylesheet  # noqa: E402
from lessons_book import toggles as book_toggles  # noqa: E402

from lessons_lib.plotting import NARROW_FIGURE_MIME  # noqa: E402

REMAKE = "run `.venv/bin/python tools/make_icons_css.py` after `make book` and commit its output"

WIDE = b"\x89PNG wide figure"
STACKED = b"\x89PNG stacked figure"
OTHER = b"\x89PNG a figure of one panel"


def executed_notebook(folder: Path) -> None:
    """An executed notebook as myst-nb keeps it: one row figure with a copy, one without."""
    outputs = [
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {
                "text/plain": "<Figure>",
                "image/png": base64.b64encode(WIDE).decode(),
                NARROW_FIGURE_MIME: base64.b64encode(STACKED).decode(),
            },
        },
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"image/png": base64.b64encode(OTHER).decode()},
        },
    ]
    notebook = {"cells": [{"cell_type": "code", "source": "", "outputs": outputs}]}
    (folder / "book").mkdir(parents=True)
    (folder / "book" / "chapter.ipynb").write_text(json.dumps(notebook), encoding="utf-8")


def test_a_figure_with_a_stacked_copy_becomes_a_picture(tmp_path):
    executed_notebook(tmp_path / "jupyter_execute")
    notebook = tmp_path / "jupyter_execute" / "book" / "chapter.ipynb"
    copies = lessons_book.narrow_copies([json.loads(notebook.read_text(encoding="utf-8"))])
    wide, other = (hashlib.sha256(png).hexdigest() for png in (WIDE, OTHER))
    assert copies == {wide: STACKED}

    outdir = tmp_path / "html"
    page = outdir / "book" / "chapter.html"
    text = (
        f'<img alt="a row" src="../_images/{wide}.png" />\n'
        f'<img alt="one panel" src="../_images/{other}.png" />'
    )
    pages = {page: text}
    no_figure = {outdir / "intro.html": '<img alt="a logo" src="_static/logo.png" />'}
    assert lessons_book.unstacked({**pages, **no_figure}) == pages  # the chapters are read
    lessons_book.stack_figures_on_phones(outdir, pages, copies)
    assert lessons_book.unstacked(pages) == {}  # handled: the chapters need not be read again

    name = hashlib.sha256(STACKED).hexdigest()[:20] + ".png"
    assert (outdir / "_images" / "narrow" / name).read_bytes() == STACKED
    source = f'<source media="(max-width: 640px)" srcset="../_images/narrow/{name}">'
    assert pages[page] == (
        f'<picture>{source}<img alt="a row" src="../_images/{wide}.png" /></picture>\n'
        f'<img alt="one panel" src="../_images/{other}.png" />'
    )
    # A page that has been through this step already is left as it is.
    again = dict(pages)
    lessons_book.stack_figures_on_phones(outdir, again, copies)
    assert again == pages


def test_the_extension_reads_the_output_type_the_kernel_writes():
    # The extension keeps its own copy of the name, so that Sphinx's process never imports
    # lessons_lib (and with it torch); the two must agree or no figure would stack.
    assert lessons_book.NARROW_FIGURE_MIME == NARROW_FIGURE_MIME


def test_reading_the_stacked_copies_does_not_import_torch():
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / '_ext')!r}); import lessons_book; "
        "lessons_book.narrow_copies([]); "
        "print('torch' in sys.modules, 'lessons_lib' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.split() == ["False", "False"]


# --- the page steps, run in order by pages.finish_pages ----------------------------------


def png_file(width: int, height: int) -> bytes:
    """A valid grey PNG of this size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.mark.skipif(
    not (book_math.KATEX_SOURCE / "katex.min.css").is_file(), reason="KaTeX not installed"
)
def test_finish_pages_runs_every_page_step_and_makes_no_icon_stylesheet(tmp_path):
    outdir = tmp_path / "html"
    (outdir / "_images").mkdir(parents=True)
    (outdir / "book").mkdir()
    (outdir / "_images" / "figure.png").write_bytes(png_file(7, 3))
    frame = png_file(2, 5)
    page = outdir / "book" / "chapter.html"
    page.write_text(
        '<script src="../_static/documentation_options.js"></script>\n'
        '<script src="../_static/theme.js"></script>\n'
        '<script defer src="../_static/scripts/fontawesome.js?digest=1"></script>\n'
        '<script type="application/vnd.jupyter.widget-state+json">{"state": {}}</script>\n'
        '<article><img alt="first" src="../_images/figure.png" />\n'
        f'<img alt="frame" src="data:image/png;base64,{base64.b64encode(frame).decode()}" />\n'
        '<span class="katex-display">x</span>\n'
        '<div role="doc-biblioentry">Vaswani</div></article>\n',
        encoding="utf-8",
    )
    app = SimpleNamespace(
        outdir=str(outdir),
        srcdir=str(tmp_path),
        builder=SimpleNamespace(format="html"),
        config=SimpleNamespace(nb_execution_cache_path="cache", html_theme_options={}),
    )
    book_pages.finish_pages(app, None)

    text = page.read_text(encoding="utf-8")
    name = hashlib.sha1(frame).hexdigest()[:20] + ".png"
    assert (outdir / "_images" / "frames" / name).read_bytes() == frame
    lazy = '<img loading="lazy" decoding="async"'
    # The frame, a file now, is sized too (2 x 5), and lazy: it is not the first picture.
    assert f'{lazy} width="2" height="5" alt="frame" src="../_images/frames/{name}"' in text
    assert '<img width="7" height="3" alt="first" src="../_images/figure.png" />' in text
    assert '<script src="../_static/documentation_options.js"></script>' in text
    assert '<script defer src="../_static/theme.js"></script>' in text
    assert "fontawesome" not in text and "widget-state" not in text
    assert '<span class="katex-display" tabindex="0">x</span>' in text
    assert 'role="listitem"' in text and "doc-biblioentry" not in text
    assert (outdir / "_static" / "vendor" / "katex" / "katex.min.css").is_file()
    # The search tools and index stay on the search page only (search-as-you-type is off).
    search = (
        '<script defer src="../_static/searchtools.js"></script>\n'
        '<script defer src="../_static/language_data.js"></script>\n'
        '<script defer src="../searchindex.js"></script>\n'
    )
    assert "search" not in book_scripts.lighter_scripts(search)
    assert book_scripts.lighter_scripts(search, keep_search=True) == search
    # After the first section heading, the first picture too waits for the reader.
    assert book_images.lazy_images('<article><h2>1.</h2><img src="a.png"></article>') == (
        f'<article><h2>1.</h2>{lazy} src="a.png"></article>'
    )
    # The icons are the committed stylesheet's: the build no longer makes one.
    assert not (outdir / "_static" / "lessons-icons.css").exists()
    # A second run over the finished page changes nothing.
    book_pages.finish_pages(app, None)
    assert page.read_text(encoding="utf-8") == text


# --- the committed icon stylesheet ------------------------------------------------------

BUNDLE = (
    'var p={github:[496,512,[],"f09b","M1 2z"],"arrow-up":[384,512,[8593],"f062","M3 4z"]};'
    'd("fab",p);var p={bars:[448,512,["navicon"],"f0c9","M5 6z"]};d("fas",p)'
)


def test_the_script_reads_each_icon_pack_of_the_bundle(tmp_path):
    bundle = tmp_path / "fontawesome.js"
    bundle.write_text(BUNDLE, encoding="utf-8")
    assert make_icons_css.fontawesome_icons(bundle) == {
        ("fab", "github"): (496, 512, "M1 2z"),
        ("fab", "arrow-up"): (384, 512, "M3 4z"),
        ("fas", "bars"): (448, 512, "M5 6z"),
    }
    bundle.write_text("console.log('no icons')", encoding="utf-8")
    with pytest.raises(ValueError, match="format has changed"):
        make_icons_css.fontawesome_icons(bundle)
    with pytest.raises(ValueError, match="missing file"):
        make_icons_css.fontawesome_icons(tmp_path / "absent.js")


def test_the_script_finds_icons_in_both_spellings_of_a_style():
    pages = [
        '<i class="fa-brands fa-github fa-lg"></i><span class="fas fa-bars"></span>',
        '<a class="btn"><i class="fa-regular fa-fw fa-moon"></i></a><div class="fa-list"></div>',
    ]
    assert make_icons_css.used_icons(pages) == {
        ("fab", "github"),
        ("fas", "bars"),
        ("far", "moon"),
    }
    with pytest.raises(TypeError, match="one str"):
        make_icons_css.used_icons(pages[0])


def test_each_icon_is_a_mask_of_its_path_under_both_style_classes():
    icons = {("fab", "github"): (496, 512, "M1 2z"), ("fas", "bars"): (448, 512, "M5 6z")}
    css = make_icons_css.icons_stylesheet({("fab", "github")}, icons)
    assert make_icons_css.stylesheet_icons(css) == {("fab", "github")}
    rule = re.search(r"\.fa-brands\.fa-github::before,\.fab\.fa-github::before\{([^}]*)\}", css)
    assert rule, css
    assert f"width:{496 / 512:.4f}em" in rule[1]
    svg = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", rule[1])[1]).decode()
    assert "viewBox='0 0 496 512'" in svg and "<path d='M1 2z'/>" in svg
    with pytest.raises(ValueError, match="fas fa-moon"):
        make_icons_css.icons_stylesheet({("fas", "moon")}, icons)


def test_the_committed_stylesheet_is_what_the_script_makes_from_the_installed_theme():
    pytest.importorskip("pydata_sphinx_theme")
    css = ICONS_CSS.read_text(encoding="utf-8")
    drawn = make_icons_css.stylesheet_icons(css)
    assert drawn, f"{ICONS_CSS} draws no icon: {REMAKE}"
    icons = make_icons_css.fontawesome_icons(make_icons_css.theme_fontawesome())
    assert css == make_icons_css.icons_stylesheet(drawn, icons), (
        f"the theme's Font Awesome draws these icons differently now: {REMAKE}"
    )


@pytest.mark.book
def test_the_committed_stylesheet_draws_every_icon_the_built_pages_use(built_site):
    used = make_icons_css.used_icons(make_icons_css.site_pages(built_site))
    assert used, "the built pages show no Font Awesome icon: is the theme's markup the same?"
    drawn = make_icons_css.stylesheet_icons(ICONS_CSS.read_text(encoding="utf-8"))
    missing = sorted(f"{style} fa-{name}" for style, name in used - drawn)
    assert not missing, (
        f"{ICONS_CSS.relative_to(ROOT)} lacks the icons {', '.join(missing)} that the pages "
        f"use (the theme's web font draws them, at the cost of its download): {REMAKE}"
    )


@pytest.mark.book
def test_the_site_serves_the_committed_stylesheet_and_no_fontawesome_script(built_site):
    served = built_site / "_static" / "lessons-icons.css"
    assert served.read_bytes() == ICONS_CSS.read_bytes()
    for page in sorted((built_site / "book").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        assert "_static/lessons-icons.css" in book_bundle.page_stylesheets(
            site=built_site, page=page
        ), f"{page.name} does not link the icon stylesheet"
        assert "fontawesome.js" not in text, f"{page.name} still loads fontawesome.js"


def test_deferred_scripts_load_after_the_first_paint_in_their_order():
    page = (
        "<head>"
        '<script src="../_static/documentation_options.js"></script>'
        '<script defer src="../_static/a.js?v=1&amp;x=2"></script>'
        '<script type="application/json">{"a": 1}</script>'
        "</head><body><p>text</p>"
        '<script src="../searchindex.js" defer="defer"></script>'
        '<script async src="../_static/counter.js"></script>'
        "</body></html>"
    )
    done = book_scripts.load_after_first_paint(page)
    assert "defer" not in done.replace("deferred", "")
    # documentation_options.js (read at once), inline and async scripts keep their places.
    assert done.startswith('<head><script src="../_static/documentation_options.js"></script>')
    assert '<script async src="../_static/counter.js"></script>' in done
    assert '<script type="application/json">{"a": 1}</script>' in done
    body, loader = done.split("<script data-lessons-scripts>")
    assert "a.js" not in body and "searchindex.js" not in body
    sources = json.loads(re.search(r"var sources = (\[.*?\])", loader)[1])
    assert sources == ["../_static/a.js?v=1&x=2", "../searchindex.js"]  # in document order
    assert loader.endswith("</script>\n</body></html>")
    assert book_scripts.load_after_first_paint(done) == done  # a finished page stays as it is
    # A page without a deferred script, or without a body, is left alone.
    assert book_scripts.load_after_first_paint("<body><p>x</p></body>") == "<body><p>x</p></body>"
    head_only = '<script defer src="a.js"></script>'
    assert book_scripts.load_after_first_paint(head_only) == head_only


def test_no_page_holds_a_deferred_script_tag(built_site):
    """Every page of both editions loads its scripts after the first paint, theme's included."""
    pages = [page for page in sorted(built_site.rglob("*.html")) if "_" not in page.parts[-2][:1]]
    assert len(pages) > 20
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<script\b[^>]*\bdefer\b", text), f"{page}: a deferred tag"
        if "<script data-lessons-scripts>" in text:
            loader = text.split("<script data-lessons-scripts>")[1]
            assert loader.split("</script>", 1)[1].lstrip().startswith("</body>"), page
    chapter = (built_site / "book" / "01_qkv.html").read_text(encoding="utf-8")
    sources = json.loads(re.search(r"var sources = (\[.*?\])", chapter)[1])
    assert any("bootstrap.js" in source for source in sources), sources
    assert any("pydata-sphinx-theme.js" in source for source in sources), sources


def test_pages_load_no_unused_extension_files_and_preload_no_script(built_site):
    """sphinx-design and sphinx-thebe files leave the pages that use neither (all, today)."""
    for page in sorted((built_site / "book").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        if 'class="sd-' not in text:
            assert "sphinx-design.min.css" not in text and "design-tabs.js" not in text, page.name
        assert "sphinx-thebe.js" not in text and "THEBE_JS_URL" not in text, page.name
        assert '<link rel="preload" as="script"' not in text, f"{page.name} preloads a script"
        assert "bootstrap.js" in text, f"{page.name} lost the theme's script itself"


def _trim_site(tmp_path: Path) -> tuple[Path, Path]:
    """A theme stylesheet and a one-page site with a script, as the build leaves them."""
    theme = tmp_path / "theme" / "static" / "styles"
    theme.mkdir(parents=True)
    stylesheet = theme / "pydata-sphinx-theme.css"
    stylesheet.write_text(
        "body{margin:0}.on-page{color:red}.from-script{color:blue}.nowhere{color:green}"
        ".bs-tooltip-auto[data-popper-placement^=top]{top:0}#main{padding:1px}#gone{padding:2px}",
        encoding="utf-8",
    )
    site = tmp_path / "site"
    (site / "_static").mkdir(parents=True)
    (site / "page.html").write_text(
        '<html><body><main id="main"><p class="on-page">x</p></main></body></html>',
        encoding="utf-8",
    )
    (site / "_static" / "app.js").write_text(
        'document.body.classList.add("from-script");', encoding="utf-8"
    )
    return stylesheet, site


def test_the_theme_stylesheet_keeps_what_pages_and_scripts_use(tmp_path):
    stylesheet, site = _trim_site(tmp_path)
    trimmed = book_stylesheet.trim(stylesheet, site)
    assert trimmed == site / "_static" / "styles" / "pydata-sphinx-theme.css"
    css = trimmed.read_text(encoding="utf-8")
    for kept in ("body{", ".on-page", ".from-script", ".bs-tooltip-auto", "#main"):
        assert kept in css, f"{kept} was removed from {css!r}"
    for dropped in (".nowhere", "#gone"):
        assert dropped not in css, f"{dropped} was kept in {css!r}"
    # From the theme's own file each time: trimming again gives the same stylesheet.
    assert book_stylesheet.trim(stylesheet, site).read_text(encoding="utf-8") == css


def test_a_trim_of_unchanged_inputs_is_copied_from_the_last_one(tmp_path, monkeypatch):
    stylesheet, site = _trim_site(tmp_path)
    saved = tmp_path / "saved"
    css = book_stylesheet.trim(stylesheet, site, saved).read_text(encoding="utf-8")
    runs = []
    real_run = book_stylesheet.subprocess.run
    monkeypatch.setattr(
        book_stylesheet.subprocess, "run", lambda *a, **k: runs.append(a) or real_run(*a, **k)
    )
    target = site / "_static" / "styles" / "pydata-sphinx-theme.css"
    target.write_text("/* the theme's full file, copied again by Sphinx */", encoding="utf-8")
    assert book_stylesheet.trim(stylesheet, site, saved).read_text(encoding="utf-8") == css
    assert runs == []  # nothing changed: PurgeCSS did not run
    (site / "index.html").write_text('<p class="nowhere">now used</p>', encoding="utf-8")
    again = book_stylesheet.trim(stylesheet, site, saved).read_text(encoding="utf-8")
    assert len(runs) == 1 and ".nowhere" in again  # a page changed: trimmed afresh
    assert book_stylesheet.trim(stylesheet, site, saved).read_text(encoding="utf-8") == again
    assert len(runs) == 1


def test_the_theme_stylesheet_is_found_or_named_when_missing(tmp_path):
    stylesheet, _ = _trim_site(tmp_path)
    folders = [str(tmp_path / "elsewhere"), str(tmp_path / "theme")]
    assert book_stylesheet.theme_stylesheet(folders) == stylesheet
    with pytest.raises(
        ExtensionError, match=r"no static/styles/pydata-sphinx-theme.css.*elsewhere"
    ):
        book_stylesheet.theme_stylesheet(folders[:1])


def test_a_failed_trim_says_what_failed(tmp_path, monkeypatch):
    stylesheet, site = _trim_site(tmp_path)
    with pytest.raises(ExtensionError, match=r"PurgeCSS failed on .*missing\.css"):
        book_stylesheet.trim(tmp_path / "missing.css", site, tmp_path / "saved")
    monkeypatch.setattr(book_stylesheet, "PURGECSS", tmp_path / "none" / "bin" / "purgecss.js")
    with pytest.raises(ExtensionError, match=r"PurgeCSS is not installed .* run `make setup`"):
        book_stylesheet.trim(stylesheet, site, tmp_path / "saved")


@pytest.mark.book
def test_the_site_serves_the_trimmed_theme_stylesheet(built_site):
    full = (
        book_stylesheet.theme_stylesheet(
            [str(Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme")]
        )
        .stat()
        .st_size
    )
    for site in (built_site, built_site / "zh"):
        served = (site / book_stylesheet.TARGET / "pydata-sphinx-theme.css").stat().st_size
        # A third of the full file is a generous bound for what the pages use (about 27%).
        assert served < full / 3, f"{site}: {served} bytes of the theme's {full} are served"


def test_only_the_visible_sidebar_buttons_keep_their_classes():
    header = (
        '<button class="pst-navbar-icon sidebar-toggle primary-toggle" aria-label="Nav">'
        '<button class="pst-navbar-icon sidebar-toggle secondary-toggle" aria-label="On">'
    )
    article = (
        '<button class="sidebar-toggle primary-toggle btn btn-sm" title="Toggle">'
        '<button class="sidebar-toggle secondary-toggle btn btn-sm pst-navbar-icon">'
    )
    text = book_toggles.visible_sidebar_toggles(header + article)
    assert text.count("primary-toggle") == 1 and text.count("secondary-toggle") == 1
    assert text.endswith(article)
    assert book_toggles.visible_sidebar_toggles(text) == text


def test_the_sidebar_button_workaround_is_still_needed():
    """pydata-sphinx-theme binds only the first ``.primary-toggle`` (its issue 2451).

    _ext/lessons_book/toggles.py works around that. When the theme's script binds every
    such button, this test fails: delete the toggles step then.
    """
    script = (
        Path(pydata_sphinx_theme.__file__).parent
        / "theme/pydata_sphinx_theme/static/scripts/pydata-sphinx-theme.js"
    ).read_text(encoding="utf-8")
    assert 'document.querySelector(".primary-toggle")' in script


@pytest.mark.book
def test_each_page_has_one_button_of_each_sidebar(built_site):
    for site in (built_site, built_site / "zh"):
        for page in sorted((site / "book").glob("*.html")):
            text = page.read_text(encoding="utf-8")
            # Every page has the navigation; a page without sections has no contents.
            for name, most in (("primary-toggle", 1), ("secondary-toggle", 1)):
                found = text.count(name)
                assert found <= most, f"{page}: {found} buttons named {name}"
            assert text.count("primary-toggle") == 1, f"{page}: no navigation button"


@pytest.mark.book
def test_pages_with_math_preload_the_fonts_their_math_uses(built_site):
    for site in (built_site, built_site / "zh"):
        for page in sorted((site / "book").glob("*.html")):
            text = page.read_text(encoding="utf-8")
            has_math = 'class="katex"' in text
            preloaded = re.findall(r'"([^"]*/fonts/(KaTeX_[\w-]+\.woff2))"', text)
            names = [name for _, name in preloaded]
            assert names == (book_math.fonts_for(text) if has_math else []), page
            assert set(book_math.PRELOADED_FONTS) <= set(names) or not has_math, page
            for href, _ in preloaded:
                assert (page.parent / href).resolve().is_file(), f"{page}: {href} is missing"


@pytest.mark.skipif(
    not (book_math.KATEX_SOURCE / "katex.min.css").is_file(), reason="KaTeX not installed"
)
def test_the_fonts_a_page_needs_are_read_from_katex_own_stylesheet():
    fonts = book_math.katex_font_classes()
    assert fonts[frozenset({"mathbf"})] == "KaTeX_Main-Bold.woff2"
    assert fonts[frozenset({"mathnormal"})] == "KaTeX_Math-Italic.woff2"
    assert fonts[frozenset({"boldsymbol"})] == "KaTeX_Math-BoldItalic.woff2"
    assert fonts[frozenset({"mathbb"})] == fonts[frozenset({"amsrm"})] == "KaTeX_AMS-Regular.woff2"
    assert fonts[frozenset({"delimsizing", "size3"})] == "KaTeX_Size3-Regular.woff2"
    assert fonts[frozenset({"delim-size4"})] == "KaTeX_Size4-Regular.woff2"
    for name in fonts.values():  # every font it names is one KaTeX ships
        assert (book_math.KATEX_SOURCE / "fonts" / name).is_file(), name
    # The classes of one element must all be there: size3 alone is a font size, not a font.
    body = '<span class="katex"><span class="mord mathbf">x</span><span class="sizing size3">'
    assert book_math.fonts_for(body) == [*book_math.PRELOADED_FONTS, "KaTeX_Main-Bold.woff2"]
    body += '<span class="delimsizing size3">(</span>'
    assert book_math.fonts_for(body)[-1] == "KaTeX_Size3-Regular.woff2"


def cmap(font: Path) -> set[str]:
    """The characters that a font has glyphs for."""
    from fontTools.ttLib import TTFont

    return {chr(code) for code in TTFont(font).getBestCmap()}


# One inline formula as sphinxcontrib-katex writes it: the MathML copy (read by screen
# readers, never drawn in KaTeX's fonts) and the drawn copy, in a page with prose around it.
FORMULA = (
    '<p>Prose &amp; more prose <span class="katex"><span class="katex-mathml"><math><semantics>'
    "<mrow><mi>Q</mi></mrow><annotation>Q^\\top \\mathbf{W}&lt;1</annotation></semantics>"
    '</math></span><span class="katex-html" aria-hidden="true"><span class="base">'
    '<span class="strut"></span><br><span class="mord mathnormal">Q</span><span class="msupsub">'
    '<span class="mord mtight">&#8868;</span></span><span class="mord mathbf">W</span>'
    '<span class="mrel">&lt;</span><svg><path d="M0 0"/></svg><span class="mord">1</span>'
    "</span></span></span> after: x.</p>"
)


def test_the_characters_of_the_math_are_those_katex_draws():
    # Not the prose, nor the TeX source, nor the MathML copy; entities decoded; a void
    # element (<br>) or a self-closing one (<path/>) does not shift where the math ends.
    assert book_math.math_characters([FORMULA, "<p>no math: xyz</p>"]) == "1<QW\u22a4"
    assert book_math.math_characters(["<p>no math</p>"]) == ""


@pytest.mark.skipif(
    not (book_math.KATEX_SOURCE / "katex.min.css").is_file(), reason="KaTeX not installed"
)
def test_the_fonts_the_math_uses_are_cut_to_its_characters_and_the_rest_copied(tmp_path):
    fonts = tmp_path / "_static" / "vendor" / "katex" / "fonts"
    book_math.copy_katex(tmp_path, [FORMULA])
    source = book_math.KATEX_SOURCE / "fonts"
    used = book_math.fonts_for(FORMULA)
    assert "KaTeX_Main-Bold.woff2" in used and "KaTeX_AMS-Regular.woff2" not in used
    for font in sorted(source.glob("*.woff2")):
        if font.name in used:  # the characters of the math that the font has, and few more
            kept = cmap(fonts / font.name)  # (the glyphs of its ligatures and substitutions)
            assert cmap(font) & set("1<QW\u22a4") <= kept, font.name
            assert len(kept) < len(cmap(font)) / 4, font.name
            assert (fonts / font.name).stat().st_size < font.stat().st_size / 2, font.name
        else:
            assert (fonts / font.name).read_bytes() == font.read_bytes(), font.name
    # The same characters again: nothing is cut again.
    before = {font: font.stat().st_mtime_ns for font in fonts.glob("*.woff2")}
    book_math.copy_katex(tmp_path, [FORMULA])
    assert {font: font.stat().st_mtime_ns for font in fonts.glob("*.woff2")} == before
    # A page without math: every font is KaTeX's own file again.
    book_math.copy_katex(tmp_path, ["<p>no math</p>"])
    for font in source.glob("*.woff2"):
        assert (fonts / font.name).read_bytes() == font.read_bytes(), font.name


@pytest.mark.book
def test_every_character_of_the_math_is_in_the_fonts_the_site_serves(built_site):
    source = book_math.KATEX_SOURCE / "fonts"
    for site in (built_site, built_site / "zh"):
        served = site / "_static" / "vendor" / "katex" / "fonts"
        for page in sorted((site / "book").glob("*.html")):
            text = page.read_text(encoding="utf-8")
            drawn = set(book_math.math_characters([text]))
            for name in book_math.fonts_for(text) if drawn else []:
                missing = (cmap(source / name) & drawn) - cmap(served / name)
                assert not missing, f"{page}: {name} lacks {sorted(missing)}"


def test_the_katex_server_workaround_is_still_needed():
    """sphinxcontrib-katex connects once the socket file exists, without retrying.

    _ext/lessons_book/math.py's start_katex_server works around that race. When upstream
    retries a refused connection itself, this test fails: delete start_katex_server then.
    """
    katex = pytest.importorskip("sphinxcontrib.katex")
    source = inspect.getsource(katex.KaTeXServer.start_server_process)
    assert "is_socket()" in source
    assert "ConnectionRefusedError" not in source, "upstream retries now: drop the workaround"


def test_the_katex_server_starts_and_renders(tmp_path):
    """start_katex_server leaves sphinxcontrib-katex a server that renders with our KaTeX."""
    katex = pytest.importorskip("sphinxcontrib.katex")
    pinned = book_math.KATEX_SOURCE / "katex.min.js"
    if not pinned.is_file():
        pytest.skip("the pinned KaTeX is not installed (npm ci --prefix tools/vendor)")
    app = SimpleNamespace(
        builder=SimpleNamespace(format="html"), config=SimpleNamespace(katex_prerender=True)
    )

    saved = katex.KaTeXServer.katex_server, katex.KaTeXServer.katex_path
    katex.KaTeXServer.katex_server = None
    katex.KaTeXServer.katex_path = str(pinned)
    try:
        book_math.start_katex_server(app)
        server = katex.KaTeXServer.katex_server
        assert server is not None
        assert 'class="katex"' in katex.render_latex(r"\sqrt{d_k}")  # stopped at exit
    finally:
        katex.KaTeXServer.katex_server, katex.KaTeXServer.katex_path = saved


# --- the bundled stylesheets -----------------------------------------------------------


def css(filename: str, **attributes: str) -> SimpleNamespace:
    """A stylesheet as Sphinx gives it to a page (``css_files``)."""
    return SimpleNamespace(filename=filename, attributes={"rel": "stylesheet", **attributes})


def test_a_page_s_own_stylesheets_become_one_bundle_in_their_place():
    app = SimpleNamespace(builder=SimpleNamespace(format="html"))
    printed = css("_static/print.css", media="print")
    remote = css("https://example.org/x.css")
    files = [remote, css("_static/pygments.css"), printed, css("vendor/katex/katex.min.css")]
    context = {"css_files": files}
    book_bundle.bundle_stylesheets(app, "book/x", "page.html", context, None)
    name = book_bundle.bundle_name(["_static/pygments.css", "_static/vendor/katex/katex.min.css"])
    assert context["css_files"] == [remote, name, printed]
    assert app.builder.lessons_bundles == {
        name: ["_static/pygments.css", "_static/vendor/katex/katex.min.css"]
    }
    # One stylesheet of its own is left as it is.
    alone = {"css_files": [css("_static/pygments.css")]}
    book_bundle.bundle_stylesheets(app, "book/y", "page.html", alone, None)
    assert alone["css_files"][0].filename == "_static/pygments.css"


def test_bundles_keep_order_and_urls_and_refuse_what_they_cannot_keep(tmp_path):
    (tmp_path / "_static" / "vendor" / "katex").mkdir(parents=True)
    (tmp_path / "_static" / "a.css").write_text('@charset "UTF-8";\np { color: red }\n')
    katex = tmp_path / "_static" / "vendor" / "katex" / "katex.min.css"
    katex.write_text(
        "@font-face{src:url(fonts/KaTeX_Main.woff2)}"
        ".x{background:url('data:image/png;base64,AA')}.y{mask:url(\"../../icons/i.svg\")}"
    )
    files = ["_static/a.css", "_static/vendor/katex/katex.min.css"]
    name = book_bundle.bundle_name(files)
    app = SimpleNamespace(
        outdir=str(tmp_path), builder=SimpleNamespace(format="html", lessons_bundles={name: files})
    )
    book_bundle.write_bundles(app, None)
    text = (tmp_path / name).read_text()
    assert text.index("color: red") < text.index("KaTeX_Main")  # in the page's order
    assert "@charset" not in text  # allowed only at the top of a file
    assert "url(vendor/katex/fonts/KaTeX_Main.woff2)" in text
    assert "url('data:image/png;base64,AA')" in text
    assert 'url("icons/i.svg")' in text
    # A later build that writes no page still writes the bundle, from the files as they are.
    (tmp_path / "_static" / "a.css").write_text("p { color: blue }")
    book_bundle.write_bundles(SimpleNamespace(outdir=str(tmp_path), builder=app.builder), None)
    assert "color: blue" in (tmp_path / name).read_text()
    later = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    (tmp_path / "_static" / "a.css").write_text("p { color: green }")
    book_bundle.write_bundles(later, None)
    assert "color: green" in (tmp_path / name).read_text()
    # An @import cannot stay in the middle of a bundle; a file the pages bundle must be there.
    (tmp_path / "_static" / "a.css").write_text('@import "b.css";')
    with pytest.raises(ExtensionError, match=r"a\.css has an @import"):
        book_bundle.write_bundles(app, None)
    (tmp_path / "_static" / "a.css").unlink()
    with pytest.raises(ExtensionError, match="files that the site lacks"):
        book_bundle.write_bundles(app, None)


@pytest.mark.book
def test_every_page_links_one_bundle_of_the_stylesheets_it_had(built_site):
    for site in (built_site, built_site / "zh"):
        for page in sorted((site / "book").glob("*.html")):
            text = page.read_text(encoding="utf-8")
            assert text.count("lessons-bundle-") == 1, page
            bundled = book_bundle.page_stylesheets(site=site, page=page)
            has_math = 'class="katex"' in text
            assert ("_static/vendor/katex/katex.min.css" in bundled) == has_math, page
            assert bundled[-1] == "_static/katex-math.css" or not has_math, page
    for site in (built_site, built_site / "zh"):  # each file as it is served, in its bundle
        for name, files in json.loads((site / book_bundle.MANIFEST).read_text()).items():
            text = (site / name).read_text(encoding="utf-8")
            for source in files:
                served = (site / source).read_text(encoding="utf-8")
                assert book_bundle.rebased(served, source, name) in text, (site, name, source)
