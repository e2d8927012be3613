"""The trimmed theme stylesheet draws the built pages exactly as the theme's full one does.

``_ext/lessons_book/stylesheet.py`` serves pydata-sphinx-theme's stylesheet trimmed by
PurgeCSS to the rules the site's pages and scripts name. A rule dropped by mistake would
change how something looks, perhaps only in dark mode, on a phone, or once a dialog opens.
So each page below is opened twice in headless Chromium, once as built and once with the
theme's full stylesheet served in its place. In each state (light and dark; 1280 and 375 px
wide; the search dialog open; the phone's navigation and contents drawers open; the wide
screen's navigation hidden) the computed style of every element and of its ``::before`` and
``::after`` must be the same. Each state is reached by clicking the page's own buttons, so
the test also shows that they work.

Transitions and animations are switched off in both, and every snapshot waits for the
fonts, the page's load and two animation frames: the test decides from state, not time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import live_fixture
from tests.chromium import launched_chromium, open_page

pytestmark = pytest.mark.book

STYLESHEET = "_static/styles/pydata-sphinx-theme.css"
# A long chapter with math, widgets and the live cell; a Chinese chapter; the search page
# (it alone keeps the search tools).
PAGES = ("book/06_transformer.html", "zh/book/08_gpt.html", "search.html")
WIDTHS = (1280, 375)
WIDE = 992  # sphinx-book-theme's breakpoint: below it the sidebars are drawers
OPEN = "document.querySelector('dialog#%s[open]') !== null"
STEP_TIMEOUT_MS = 300_000  # bounds each wait on a state; a passing run never waits it out
NO_MOTION = "*, *::before, *::after { transition: none !important; animation: none !important; }"
PROPERTIES = (
    "display", "position", "float", "visibility", "opacity", "z-index", "overflow-x",
    "overflow-y", "box-sizing", "width", "height", "top", "left", "margin-top", "margin-right",
    "margin-bottom", "margin-left", "padding-top", "padding-right", "padding-bottom",
    "padding-left", "border-top-width", "border-bottom-width", "border-left-width",
    "border-right-width", "border-top-style", "border-top-color", "border-radius",
    "color", "background-color", "background-image", "box-shadow", "font-family",
    "font-size", "font-weight", "font-style", "line-height", "text-align",
    "text-decoration-line", "white-space", "list-style-type", "cursor", "flex-direction",
    "justify-content", "align-items", "transform", "outline-style", "content",
)  # fmt: skip
# Every element and its pseudo-elements, as [path, pseudo, values...] rows.
SNAPSHOT = """(properties) => {
  const rows = [];
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const i = e.parentElement ? [...e.parentElement.children].indexOf(e) : 0;
      parts.unshift(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}:${i}`);
    }
    return parts.join(' > ');
  };
  for (const el of document.querySelectorAll('*')) {
    for (const pseudo of [null, '::before', '::after']) {
      const style = getComputedStyle(el, pseudo);
      if (pseudo && (style.content === 'none' || style.content === 'normal')) continue;
      rows.push([path(el), pseudo || '', ...properties.map((p) => style.getPropertyValue(p))]);
    }
  }
  return rows;
}"""
SETTLED = """() => document.fonts.ready.then(() => new Promise((done) =>
  requestAnimationFrame(() => requestAnimationFrame(() => done(true)))))"""


@pytest.fixture(scope="module")
def full_stylesheet() -> Path:
    theme = pytest.importorskip("pydata_sphinx_theme")
    path = Path(theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static" / "styles"
    return path / "pydata-sphinx-theme.css"


@pytest.fixture(scope="module")
def site_url(built_site: Path) -> Iterator[str]:
    with live_fixture.serve(built_site) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as chromium:
        yield chromium


def snapshots(browser: Any, url: str, width: int, full: Path | None) -> dict[str, list]:
    """The page's computed styles in each state; with the full stylesheet when ``full``."""
    context = browser.new_context(viewport={"width": width, "height": 900}, reduced_motion="reduce")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    if full is not None:
        page.route(f"**/{STYLESHEET}*", lambda route: route.fulfill(path=str(full)))
    seen: dict[str, list] = {}
    try:
        for mode in ("light", "dark"):
            # The theme reads the reader's choice from localStorage before it draws the page.
            page.add_init_script(
                f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}')"
            )
            open_page(page, url)
            page.add_style_tag(content=NO_MOTION)
            page.wait_for_function(f"document.documentElement.dataset.theme === '{mode}'")
            page.evaluate(SETTLED)
            seen[mode] = page.evaluate(SNAPSHOT, list(PROPERTIES))
            if not url.endswith("/search.html"):  # there Ctrl+K goes to the page's own box
                page.keyboard.press("Control+k")
                page.wait_for_function(OPEN % "pst-search-dialog")
                page.evaluate(SETTLED)
                seen[f"{mode}, search open"] = page.evaluate(SNAPSHOT, list(PROPERTIES))
                page.keyboard.press("Escape")
                page.wait_for_function(f"!({OPEN % 'pst-search-dialog'})")
            for name, toggle, opened in sidebar_states(width):
                button = page.locator(f"button.{toggle}:visible")
                if not button.count():
                    continue  # a page without that sidebar (the search page's contents)
                button.first.click()
                page.wait_for_function(opened)
                page.evaluate(SETTLED)
                seen[f"{mode}, {name}"] = page.evaluate(SNAPSHOT, list(PROPERTIES))
                if width < WIDE:
                    page.keyboard.press("Escape")
                else:
                    button.first.click()
                page.wait_for_function(f"!({opened})")
    finally:
        context.close()
    return seen


def sidebar_states(width: int) -> list[tuple[str, str, str]]:
    """(state, button class, the page condition once it took effect) for the sidebar buttons.

    On a phone each opens a drawer (a modal dialog); on a wide screen the first hides the
    navigation sidebar (the contents are always shown there).
    """
    if width < WIDE:
        return [
            ("navigation open", "primary-toggle", OPEN % "pst-primary-sidebar-modal"),
            ("contents open", "secondary-toggle", OPEN % "pst-secondary-sidebar-modal"),
        ]
    hidden = "document.querySelector('#pst-primary-sidebar.pst-sidebar-hidden') !== null"
    return [("navigation hidden", "primary-toggle", hidden)]


def differences(trimmed: list, full: list, limit: int = 5) -> list[str]:
    """The first elements whose computed style differs, with each differing property."""
    if len(trimmed) != len(full):
        return [
            f"{len(trimmed)} styled boxes with the trimmed stylesheet, {len(full)} with the full"
        ]
    found = []
    for mine, theirs in zip(trimmed, full, strict=True):
        if mine == theirs:
            continue
        changed = [
            f"{name}: {b!r} -> {a!r}"
            for name, a, b in zip(PROPERTIES, mine[2:], theirs[2:], strict=True)
            if a != b
        ]
        found.append(f"{mine[0]}{mine[1]} ({'; '.join(changed) or 'path'})")
        if len(found) == limit:
            break
    return found


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page_path", PAGES)
def test_the_trimmed_stylesheet_draws_every_element_as_the_full_one(
    browser, site_url, full_stylesheet, page_path, width
):
    url = site_url + page_path
    trimmed = snapshots(browser, url, width, None)
    full = snapshots(browser, url, width, full_stylesheet)
    assert trimmed.keys() == full.keys()
    # The search box and the sidebar buttons worked (each state was waited on); a chapter
    # has both sidebars.
    if page_path.startswith(("book/", "zh/book/")):
        expected = {"search open"} | {state for state, _, _ in sidebar_states(width)}
        assert expected <= {state.split(", ")[1] for state in trimmed if ", " in state}
    for state in trimmed:
        found = differences(trimmed[state], full[state])
        assert not found, f"{page_path} at {width} px, {state}: " + "; ".join(found)
