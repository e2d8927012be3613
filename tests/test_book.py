"""Checks of the built HTML book in _build/html (run by `make test` after the strict build).

Marked ``book``: they skip when the book has not been built, unless REQUIRE_BOOK=1
(as `make test` sets), in which case a missing build is a failure.
"""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"

pytestmark = [pytest.mark.book, pytest.mark.usefixtures("built_site")]  # tests/conftest.py

TOC_ENTRIES = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text(encoding="utf-8"))
CHAPTERS = sorted(path.stem for path in (ROOT / "book").glob("*.ipynb"))
TOC_CHAPTERS = [entry.split("/")[-1] for entry in TOC_ENTRIES if entry.split("/")[-1] in CHAPTERS]
MAX_PAGE_BYTES = 1_500_000


def page(name: str) -> str:
    return (HTML / "book" / f"{name}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("entry", ["book/intro", *TOC_ENTRIES])
def test_every_page_is_built(entry):
    assert (HTML / f"{entry}.html").exists(), f"{entry}.html was not built"


@pytest.mark.parametrize("name", TOC_CHAPTERS)
def test_chapter_was_executed_without_errors(name):
    html = page(name)
    assert "cell_output" in html, f"{name} shows no executed output"
    assert "Traceback" not in html, f"{name} shows a traceback"
    error_output = re.search(r'class="[^"]*\boutput\b[^"]*\berror\b', html)
    assert not error_output, f"{name} has an error output"


@pytest.mark.parametrize("name", TOC_CHAPTERS)
def test_chapter_shows_no_warning(name):
    """A warning in a cell's output reaches the reader with a path from the build machine
    (matplotlib's "Glyph ... missing" was one); progress bars on stderr are fine."""
    warning = re.search(r"\b[A-Z]\w*Warning: [^<\n]{0,120}", page(name))
    assert not warning, f"{name} shows a warning: {warning.group(0)}"


@pytest.mark.parametrize("name", TOC_CHAPTERS)
def test_chapter_figures_are_rendered_and_captioned(name):
    html = page(name)
    images = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+\.png)"', html)
    assert images, f"{name} has no executed figure"
    for source in images:
        assert (HTML / "book" / source).resolve().stat().st_size > 1000
    for tag in re.findall(r"<img[^>]*>", html):
        assert re.search(r'alt="[^"]+"', tag), f"{name}: an image has no alt text: {tag[:120]}"
    assert "<figcaption" in html, f"{name} has no figure caption"


@pytest.fixture(scope="module")
def stacked_copies() -> dict[str, bytes]:
    """{sha256 of a figure: its stacked copy}, read as the build read them."""
    sys.path.insert(0, str(ROOT / "_ext"))
    import lessons_book

    return lessons_book.narrow_copies(
        lessons_book.executed_notebooks(ROOT / "_build" / ".jupyter_cache")
    )


@pytest.mark.parametrize("name", TOC_CHAPTERS)
def test_every_row_of_panels_offers_its_stacked_copy_to_phones(name, stacked_copies):
    """A figure the kernel gave a stacked copy is a <picture> with that copy; no other is."""
    html = page(name)
    figures = re.findall(
        r'(<picture>.{0,300}?)?<img\b[^>]*src="\.\./_images/([0-9a-f]{64})\.png"', html
    )
    assert any(key in stacked_copies for _, key in figures), f"{name}: no figure stacks"
    for picture, key in figures:
        if key not in stacked_copies:
            assert not picture, f"{name}: {key[:12]} has no stacked copy but is a <picture>"
            continue
        source = re.search(
            r'<source\b[^>]*\bmedia="\(max-width: \d+px\)"[^>]*\bsrcset="\.\./([^"]+)"', picture
        )
        assert source, f"{name}: figure {key[:12]} is not offered stacked: {picture[:200]!r}"
        assert (HTML / source[1]).read_bytes() == stacked_copies[key], source[1]


@pytest.mark.parametrize("name", TOC_CHAPTERS)
def test_chapter_has_a_static_explorer_that_fits_the_page_budget(name):
    html = page(name)
    assert 'class="lessons-explorer"' in html, f"{name} shows no static explorer"
    frames = re.findall(r'class="lessons-explorer-data">(.*?)</script>', html, re.DOTALL)
    assert frames and all('"images"' in data for data in frames)
    assert len(html.encode("utf-8")) < MAX_PAGE_BYTES, f"{name} is over 1.5 MB"
    # Frames are files fetched on first use (_ext/lessons_book/frames.py), never inlined.
    assert "data:image/png;base64," not in html, f"{name} still inlines PNG frames"
    for frame in set(re.findall(r"\.\./_images/frames/[0-9a-f]+\.png", html)):
        assert (HTML / "book" / frame).resolve().is_file(), f"{name}: {frame} is missing"


def test_every_chapter_is_in_the_toc():
    assert sorted(TOC_CHAPTERS) == CHAPTERS


def test_citations_resolve():
    html = (HTML / "book" / "bibliography.html").read_text(encoding="utf-8")
    for author in ("Vaswani", "Dosovitskiy", "Ba", "He"):
        assert author in html
