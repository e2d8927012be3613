"""The built book in a real browser: every page of _build/html, served over http on 127.0.0.1.

Headless Chromium (Debian's ``chromium`` package, or the binary named by
``LESSONS_CHROMIUM``) is driven by the ``playwright`` package; nothing is downloaded
(``playwright install`` is never needed). Each page is opened once; everything the
checks need is gathered during that one visit, and a screenshot of the whole page at
1280 px and at 375 px goes to ``_build/screenshots/`` for people to review.

Run after the book is built (``make test`` does: ``make book-tests``). Without a
built book the tests skip, or fail under ``REQUIRE_BOOK=1``. Without a browser they
skip with the command that installs one, or fail when ``CI`` is set.
"""

from __future__ import annotations

import functools
import http.server
import itertools
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import yaml

from tests.chromium import SCRIPTS_READY, launched_chromium, open_page

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
WIDTHS = (1280, 375)
# Every wait below is on a state (a page loaded, a dialog open, a layout settled); this only
# bounds it, generously for a loaded machine, so a passing run never waits it out.
STEP_TIMEOUT_MS = 300_000
CHECK_TIMEOUT_MS = 60_000  # the same for a check that is recorded per item (a toggle, a dialog)
SMALLEST_TEXT_PX = 14  # body text at 375 px
SMALLEST_FIGURE_SCALE = 0.7  # a stacked figure at 375 px, shown width / its pixel width
# axe-core, pinned in tools/vendor (the version Lighthouse 12.2.3 runs): every WCAG 2.0/2.1
# A and AA rule, which covers the audits of Lighthouse's accessibility category.
AXE = ROOT / "tools" / "vendor" / "node_modules" / "axe-core" / "axe.min.js"
AXE_RUN = """() => axe.run(document, {
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
  resultTypes: ['violations'],
  // No fetching of stylesheets: axe resolves their @import against the page, not the sheet.
  preload: false,
}).then((result) => result.violations.map((v) => ({
  id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
})))"""


def built_pages() -> list[str]:
    """Every HTML page of the built book, relative to the site root."""
    if not SITE.is_dir():
        return []
    return sorted(
        path.relative_to(SITE).as_posix()
        for path in SITE.rglob("*.html")  # the Chinese edition's pages too (zh/...)
        if not any(part.startswith("_") for part in path.relative_to(SITE).parts)
    )


PAGES = built_pages()


def test_the_book_is_built():
    if not PAGES:
        message = "no built book in _build/html: run `make book` first"
        if os.environ.get("REQUIRE_BOOK"):
            pytest.fail(message)
        pytest.skip(message)
    assert "index.html" in PAGES


# --- serving the site and driving the browser -----------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def visit(browser: Any, site_url: str):
    """visit(page) -> what was seen on that page; each page is opened only once."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return functools.cache(lambda page: inspect_page(browser, site_url, page))


def inspect_page(browser: Any, site_url: str, page_path: str) -> dict[str, Any]:
    own_host = urlsplit(site_url).netloc
    seen: dict[str, Any] = {
        "requests": [],
        "third_party": [],
        "failed": [],
        "aborted_by_screenshots": [],
        "page_errors": [],
        "console_errors": [],
    }
    # has_touch: at 375 px the reader taps, as on a phone.
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900}, has_touch=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)

    def route(route: Any) -> None:  # nothing ever leaves this machine
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != own_host:
            seen["third_party"].append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", route)
    page = context.new_page()
    # Chromium's full-page screenshot resizes the page while it captures it: a <picture> can
    # start loading its narrow copy for that moment (seen, about one visit in six), and the
    # request is aborted when the size comes back. A request that started during a
    # screenshot and was aborted is the screenshot's, not the page's; any other failure,
    # and any HTTP error, counts.
    shooting: list[bool] = [False]
    started_in_screenshot: set[Any] = set()

    def on_request(request: Any) -> None:
        seen["requests"].append(request.url)
        if shooting[0]:
            started_in_screenshot.add(request)

    def on_request_failed(request: Any) -> None:
        if request in started_in_screenshot and request.failure == "net::ERR_ABORTED":
            seen["aborted_by_screenshots"].append(request.url)
        else:
            seen["failed"].append(f"{request.url} ({request.failure})")

    def screenshot(path: str) -> None:
        shooting[0] = True
        try:
            page.screenshot(path=path, full_page=True)
        finally:
            shooting[0] = False

    page.on("request", on_request)
    page.on("requestfailed", on_request_failed)
    page.on(
        "response",
        lambda response: (
            seen["failed"].append(f"{response.url} (HTTP {response.status})")
            if response.status >= 400
            else None
        ),
    )
    page.on("pageerror", lambda error: seen["page_errors"].append(str(error)))
    page.on(
        "console",
        lambda message: (
            seen["console_errors"].append(message.text) if message.type == "error" else None
        ),
    )
    try:
        page.goto(site_url + page_path, wait_until="load")
        if 'http-equiv="refresh"' in (SITE / page_path).read_text(encoding="utf-8").lower():
            # index.html only forwards to the first page: follow it, then check that page.
            page.wait_for_url(lambda url: not url.endswith(page_path), wait_until="load")
            seen["forwards_to"] = page.url
        page.wait_for_function(SCRIPTS_READY, polling=50)
        page.evaluate(LOAD_EVERY_IMAGE)
        page.evaluate("() => document.fonts.ready.then(() => true)")
        seen.update(page.evaluate(COLLECT))
        page.add_script_tag(path=str(AXE))
        seen["accessibility"] = page.evaluate(AXE_RUN)
        seen["toggles_1280"] = page.evaluate(TOGGLES_VISIBLE)
        shot = SCREENSHOTS / page_path.replace("/", "__").removesuffix(".html")
        screenshot(f"{shot}-1280.png")
        page.set_viewport_size({"width": WIDTHS[1], "height": 800})
        page.evaluate(TWO_FRAMES)  # then the theme's layout settles
        page.wait_for_function(SETTLED, arg=WIDTHS[1], polling=100)
        seen["narrow"] = page.evaluate(NARROW, SMALLEST_TEXT_PX)
        page.evaluate(LOAD_EVERY_IMAGE)  # a <picture> now loads its stacked copy
        seen["figures_375"] = page.evaluate(STACKED_FIGURES)
        seen["toggles_375"] = page.evaluate(TOGGLES_VISIBLE)
        screenshot(f"{shot}-375.png")
        seen["zoom"] = tap_to_zoom(page)
        seen["explorers"] = drive_explorers(page)
        seen["toggle_clicks"] = click_toggles(page)
    finally:
        context.close()
    return seen


# After a change of width: two frames pass, so the page's resize handlers have run and
# anything they started (a CSS transition) is under way; then the window has the new width
# and no finite animation or transition is still running.
TWO_FRAMES = """() => new Promise((resolve) =>
  requestAnimationFrame(() => requestAnimationFrame(() => resolve(true))))"""
SETTLED = """(width) => window.innerWidth === width
  && document.getAnimations().every((animation) => animation.playState !== 'running'
    || animation.effect.getComputedTiming().endTime === Infinity)"""

# Images below the fold load lazily: load them all now, so that every one can be checked.
LOAD_EVERY_IMAGE = """() => Promise.all(Array.from(document.images).map((img) => {
  img.loading = 'eager';
  return img.decode().catch(() => null);
}))"""

# Everything that can be read off the page as it loaded, at 1280 px.
COLLECT = """() => {
  const article = document.querySelector('article.bd-article')
    || document.querySelector('main') || document.body;
  const skip = 'pre, code, script, style, textarea, .katex, .highlight';
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const rawMath = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest(skip)) { continue; }
    const text = node.textContent;
    if (/\\\\\\(|\\\\\\[/.test(text)) { rawMath.push(text.trim().slice(0, 80)); }
  }
  const looksLikePath = (text) =>
    /\\.(png|jpe?g|svg|gif)$/i.test(text) || text.startsWith('_images');
  const images = Array.from(document.images).map((img) => ({
    src: img.currentSrc.slice(0, 120),
    loaded: img.complete && img.naturalWidth > 0,
    inArticle: article.contains(img),
    alt: (img.getAttribute('alt') || '').trim(),
    caption: ((img.closest('figure') || {}).querySelector
      ? (img.closest('figure').querySelector('figcaption') || {textContent: ''}).textContent.trim()
      : ''),
  }));
  const figuresWithoutText = images
    .filter((img) => img.inArticle && !img.caption && (!img.alt || looksLikePath(img.alt)))
    .map((img) => img.src);
  const headings = Array.from(article.querySelectorAll('h1, h2, h3, h4, h5, h6'))
    .map((h) => ({level: Number(h.tagName[1]), text: h.textContent.trim().slice(0, 60)}));
  const links = Array.from(document.querySelectorAll('a[href]')).map((a) => a.href);
  return {
    mathElements: article.querySelectorAll('.math').length,
    mathRendered: Array.from(article.querySelectorAll('.math'))
      .filter((el) => el.querySelector('.katex')).length,
    mathErrors: Array.from(document.querySelectorAll(
      '.katex-error, .lessons-tex, .lessons-tex-display')).map((el) => el.textContent.slice(0, 80)),
    mathScripts: Array.from(document.scripts).map((s) => s.src)
      .filter((src) => /mathjax|katex/i.test(src)),
    rawMath,
    images,
    figuresWithoutText,
    headings,
    colab: links.filter((href) => href.includes('colab.research.google.com')),
    binder: links.filter((href) => href.includes('mybinder.org')),
    explorerCount: document.querySelectorAll('.lessons-explorer').length,
  };
}"""

# The fold toggles of hide-input / hide-cell / hide-output cells must be visible.
TOGGLES_VISIBLE = """() => Array.from(document.querySelectorAll(
    '.cell.tag_hide-input, .cell.tag_hide-cell, .cell.tag_hide-output'))
  .map((cell) => {
    const toggle = cell.querySelector('details.hide > summary');
    const box = toggle ? toggle.getBoundingClientRect() : null;
    const style = toggle ? getComputedStyle(toggle) : null;
    return {
      cell: cell.className,
      visible: !!box && box.width > 0 && box.height > 0 && style.visibility !== 'hidden'
        && style.display !== 'none',
    };
  })"""

# At 375 px: nothing pokes out of the window sideways (unless inside its own scroll box),
# and body text is not shrunk below a readable size.
NARROW = """(smallest) => {
  const article = document.querySelector('article.bd-article')
    || document.querySelector('main') || document.body;
  const width = window.innerWidth;
  // Inside a box that scrolls sideways (code, wide tables, display math) is fine; clipped is not.
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const insideScroller = (el) => {
    for (let p = el.parentElement; p && article.contains(p); p = p.parentElement) {
      if (scrolls(p)) { return true; }
    }
    return false;
  };
  const overflowing = [];
  for (const el of article.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || (box.right <= width + 1 && box.left >= -1)) { continue; }
    if (el.closest('.katex-mathml')) { continue; }  // screen readers only, clipped to 1 px
    // KaTeX draws stretchy symbols with wide SVGs that its own boxes clip: judge the formula.
    const formula = el.closest('.katex');
    if (formula && formula !== el) { continue; }
    if (insideScroller(el) || overflowing.some((outer) => outer.contains(el))) { continue; }
    overflowing.push(el);
  }
  const describe = (el) => {
    const box = el.getBoundingClientRect();
    const where = `(${Math.round(box.left)}..${Math.round(box.right)} px)`;
    return `${el.tagName.toLowerCase()}.${el.className} ${where}: ` +
      el.textContent.trim().slice(0, 50);
  };
  const tooSmall = Array.from(article.querySelectorAll('p, li'))
    .filter((el) => el.closest('.cell_output, .highlight, figcaption, .footnote, .citation')
      === null && el.textContent.trim().length > 20)
    .map((el) => [parseFloat(getComputedStyle(el).fontSize), el.textContent.trim().slice(0, 40)])
    .filter(([size]) => size < smallest);
  return {
    pageScrollsSideways: document.documentElement.scrollWidth > width + 1,
    overflowing: overflowing.slice(0, 10).map(describe),
    tooSmall: tooSmall.slice(0, 10),
  };
}"""


# Figures whose panels stack on a phone (_ext/lessons_book/phone_figures.py), at 375 px.
STACKED_FIGURES = """() => Array.from(document.querySelectorAll('article picture img'))
  .map((img) => ({
    src: img.currentSrc.split('/').slice(-3).join('/'),
    stacked: img.currentSrc.includes('/_images/narrow/'),
    scale: img.naturalWidth ? img.clientWidth / img.naturalWidth : 0,
  }))"""


def tap_to_zoom(page: Any) -> list[dict[str, Any]]:
    """At 375 px, tap the first figure and the first explorer frame: each opens full size."""
    results = []
    for selector in (
        "article .cell_output img:not(.lessons-explorer-frame)",
        ".lessons-explorer-frame",
    ):
        found = page.locator(selector)
        if not found.count():
            continue
        picture = found.first
        picture.scroll_into_view_if_needed()
        picture.tap()
        dialog = page.locator("dialog.lessons-zoom")
        dialog.wait_for(state="visible")
        shown = dialog.locator("img").evaluate(
            "img => img.decode().then(() => ({natural: img.naturalWidth, shown: img.clientWidth,"
            " src: img.src}))"
        )
        results.append(
            {
                "what": selector,
                "open": dialog.evaluate("d => d.open"),
                "same_picture": shown["src"] == picture.evaluate("img => img.currentSrc"),
                **shown,
            }
        )
        page.keyboard.press("Escape")
        results[-1]["closed"] = became(
            page, "() => !document.querySelector('dialog.lessons-zoom').open", CHECK_TIMEOUT_MS
        )
    return results


def became(page: Any, condition: str, timeout_ms: int) -> bool:
    """Whether ``condition`` (a JavaScript function) comes true within ``timeout_ms``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(condition, timeout=timeout_ms, polling=100)
        return True
    except PlaywrightTimeoutError:
        return False


def drive_explorers(page: Any) -> list[dict[str, Any]]:
    """Move every control of every static explorer, as a reader would; note what changed.

    The player (lessons_lib/widgets/static_player.js) sets the frame's src in the control's
    own input/change handler, so the src is read as soon as the move has been dispatched;
    the new frame's loading is then awaited (decode).
    """
    results = []
    explorers = page.locator(".lessons-explorer")
    for i in range(explorers.count()):
        explorer = explorers.nth(i)
        frame = explorer.locator("img.lessons-explorer-frame")
        controls = explorer.locator("[data-position]")
        for j in range(controls.count()):
            control = controls.nth(j)
            control.scroll_into_view_if_needed()
            kind = control.evaluate("el => el.type || el.tagName.toLowerCase()")
            before = frame.get_attribute("src")
            changed = False
            for move in control_moves(control, kind):
                move()
                if frame.get_attribute("src") != before:
                    changed = True
                    break
            decoded = frame.evaluate("img => img.decode().then(() => img.naturalWidth)")
            label = control.evaluate("el => (el.closest('label') || el).textContent.trim()")
            result = {"explorer": i, "control": j, "kind": kind, "label": label[:40]}
            result.update(changed=changed, frame_width=decoded)
            if kind == "range":
                labels = json.loads(control.get_attribute("data-labels"))
                shown = control.evaluate("el => el.parentElement.querySelector('output').value")
                result["label_follows"] = shown == labels[int(control.input_value())]
            results.append(result)
    return results


def control_moves(control: Any, kind: str) -> Iterator[Any]:
    """Ways to move one control, one step at a time, with the mouse or the keyboard."""
    if kind == "checkbox":
        yield control.click
    elif kind in ("select-one", "select"):
        values = control.evaluate("el => Array.from(el.options).map((o) => o.value)")
        current = control.input_value()
        for value in values:
            if value != current:
                yield functools.partial(control.select_option, value)
    elif kind == "range":
        low, high = int(control.get_attribute("min")), int(control.get_attribute("max"))
        key = "ArrowRight" if int(control.input_value()) < high else "ArrowLeft"
        for _ in range(high - low):
            yield functools.partial(control.press, key)
    else:
        raise AssertionError(f"unknown explorer control {kind!r}")


def click_toggles(page: Any) -> list[dict[str, Any]]:
    """Unfold each folded cell: its code must then be shown."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    results = []
    cells = page.locator(".cell.tag_hide-input, .cell.tag_hide-cell")
    for i in range(cells.count()):
        cell = cells.nth(i)
        summary = cell.locator("details.hide > summary").first
        summary.scroll_into_view_if_needed()
        summary.click()
        code = cell.locator(".cell_input pre").first
        try:
            code.wait_for(state="visible", timeout=CHECK_TIMEOUT_MS)
            shown = True
        except PlaywrightTimeoutError:
            shown = False
        results.append({"cell": i, "code_shown": shown})
    return results


# --- the checks, one test per page and concern ----------------------------------------

pages = pytest.mark.parametrize("page", PAGES)


@pages
def test_no_failed_requests_and_no_other_hosts(visit, page):
    seen = visit(page)
    assert not seen["third_party"], f"{page} requests other hosts: {seen['third_party']}"
    assert not seen["failed"], f"{page} has failed requests: {seen['failed']}"
    local = [url for url in seen["requests"] if not url.startswith("data:")]
    assert local, f"{page}: no requests seen at all"


@pages
def test_no_page_errors_and_no_console_errors(visit, page):
    seen = visit(page)
    assert not seen["page_errors"], f"{page} raises errors in the browser: {seen['page_errors']}"
    assert not seen["console_errors"], f"{page} logs errors: {seen['console_errors']}"


@pages
def test_math_is_rendered_at_build_time(visit, page):
    seen = visit(page)
    assert seen["mathRendered"] == seen["mathElements"], (
        f"{page}: {seen['mathElements']} math elements, {seen['mathRendered']} rendered by KaTeX"
    )
    assert not seen["mathErrors"], f"{page}: math KaTeX did not render: {seen['mathErrors']}"
    assert not seen["mathScripts"], f"{page} loads math JavaScript: {seen['mathScripts']}"
    assert not seen["rawMath"], f"{page} shows raw TeX: {seen['rawMath'][:5]}"


@pages
def test_accessibility(visit, page):
    violations = visit(page)["accessibility"]
    assert not violations, f"{page}: accessibility violations (axe-core): {violations}"


@pages
def test_a_tap_at_375_px_opens_a_figure_full_size(visit, page):
    for result in visit(page)["zoom"]:
        assert result["open"] and result["same_picture"], f"{page}: tap did not zoom: {result}"
        assert result["shown"] == result["natural"] > 0, f"{page}: not at full size: {result}"
        assert result["closed"], f"{page}: Escape did not close the full-size view: {result}"


def test_every_chapter_has_a_figure_to_zoom(visit):
    chapters = [page for page in PAGES if page.startswith("book/") and page[5:7].isdigit()]
    for page in chapters:
        assert visit(page)["zoom"], f"{page}: no figure or explorer frame to tap"


@pages
def test_every_image_loads(visit, page):
    broken = [image["src"] for image in visit(page)["images"] if not image["loaded"]]
    assert not broken, f"{page}: images that did not load: {broken}"


@pages
def test_every_figure_has_a_caption_or_alt_text(visit, page):
    missing = visit(page)["figuresWithoutText"]
    assert not missing, f"{page}: images with neither a caption nor alt text: {missing}"


@pages
def test_heading_levels_are_in_order(visit, page):
    headings = visit(page)["headings"]
    if not headings:
        return
    assert headings[0]["level"] == 1, f"{page} starts with {headings[0]}"
    assert sum(h["level"] == 1 for h in headings) == 1, f"{page} has several h1: {headings}"
    for previous, heading in itertools.pairwise(headings):
        assert heading["level"] <= previous["level"] + 1, (
            f"{page}: {heading} follows {previous}, skipping a level"
        )


@pages
def test_static_explorers_respond_to_their_controls(visit, page):
    seen = visit(page)
    results = seen["explorers"]
    controls_per_explorer = {result["explorer"] for result in results}
    assert len(controls_per_explorer) == seen["explorerCount"], (
        f"{page}: an explorer has no controls: {results}"
    )
    for result in results:
        assert result["changed"], f"{page}: moving a control did not change the picture: {result}"
        assert result["frame_width"] > 0, f"{page}: the new picture did not decode: {result}"
        assert result.get("label_follows", True), f"{page}: slider label is stale: {result}"


def repository() -> tuple[str, str, str, dict[str, str]]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = config["repository"]["url"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", url)
    assert match, f"repository.url should be a GitHub repository, got {url}"
    return match[1], match[2], config["repository"].get("branch", "main"), config["launch_buttons"]


@pages
def test_launch_buttons_open_this_notebook_in_the_repository(visit, page):
    notebook = page.removesuffix(".html") + ".ipynb"  # zh/book/x.ipynb for the Chinese edition
    if not (ROOT / notebook.removeprefix("zh/")).is_file():
        return  # only chapters (notebooks) have launch buttons
    seen = visit(page)
    owner, name, branch, launch = repository()
    assert len(set(seen["colab"])) == 1, f"{page}: Colab links {seen['colab']}"
    colab = urlsplit(seen["colab"][0])
    assert f"{colab.scheme}://{colab.netloc}" == launch["colab_url"].rstrip("/")
    assert colab.path == f"/github/{owner}/{name}/blob/{branch}/{notebook}", seen["colab"]
    assert len(set(seen["binder"])) == 1, f"{page}: Binder links {seen['binder']}"
    binder = urlsplit(seen["binder"][0])
    assert f"{binder.scheme}://{binder.netloc}" == launch["binderhub_url"].rstrip("/")
    assert binder.path == f"/v2/gh/{owner}/{name}/{branch}", seen["binder"]
    assert parse_qs(binder.query)["urlpath"][0].endswith(notebook), seen["binder"]


@pages
def test_readable_at_375_px(visit, page):
    narrow = visit(page)["narrow"]
    assert not narrow["pageScrollsSideways"], f"{page} scrolls sideways at 375 px"
    assert not narrow["overflowing"], f"{page}: wider than 375 px: {narrow['overflowing']}"
    assert not narrow["tooSmall"], f"{page}: text under {SMALLEST_TEXT_PX} px: {narrow['tooSmall']}"


@pages
def test_figures_stack_their_panels_at_375_px(visit, page):
    """A row of panels shows its stacked copy, at nearly its own size, not shrunk to a third."""
    figures = visit(page)["figures_375"]
    wide = [figure["src"] for figure in figures if not figure["stacked"]]
    assert not wide, f"{page}: at 375 px these figures still show their row of panels: {wide}"
    shrunk = [figure for figure in figures if figure["scale"] < SMALLEST_FIGURE_SCALE]
    assert not shrunk, f"{page}: stacked figures shown below {SMALLEST_FIGURE_SCALE:.0%}: {shrunk}"


def test_every_chapter_has_a_figure_that_stacks(visit):
    chapters = [page for page in PAGES if page.startswith("book/") and page[5:7].isdigit()]
    for page in chapters:
        assert visit(page)["figures_375"], f"{page}: no figure stacks its panels at 375 px"


@pages
def test_folded_cells_have_a_visible_toggle_that_unfolds_them(visit, page):
    seen = visit(page)
    for width in WIDTHS:
        hidden = [toggle for toggle in seen[f"toggles_{width}"] if not toggle["visible"]]
        assert not hidden, f"{page} at {width} px: fold toggles not visible: {hidden}"
    stuck = [result for result in seen["toggle_clicks"] if not result["code_shown"]]
    assert not stuck, f"{page}: clicking the toggle did not show the code: {stuck}"


@pages
def test_screenshots_are_saved(visit, page):
    visit(page)
    stem = page.replace("/", "__").removesuffix(".html")
    for width in WIDTHS:
        shot = SCREENSHOTS / f"{stem}-{width}.png"
        assert shot.is_file() and shot.stat().st_size > 1000, shot


def test_a_chapter_saved_for_offline_use_still_has_math_and_widgets(browser):
    """Opened from disk (file://), as after "save the site": math and explorers still work."""
    chapters = [page for page in PAGES if page.startswith("book/") and page[5:7].isdigit()]
    if not chapters:
        pytest.skip("no chapter pages in the built book")
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    failed: list[str] = []
    try:
        page = context.new_page()
        page.on("requestfailed", lambda request: failed.append(request.url))
        open_page(page, (SITE / chapters[0]).as_uri())
        page.evaluate(LOAD_EVERY_IMAGE)
        page.evaluate("() => document.fonts.ready.then(() => true)")
        seen = page.evaluate(COLLECT)
        assert seen["mathRendered"] == seen["mathElements"] > 0
        fonts = page.evaluate("Array.from(document.fonts).map((f) => f.status)")
        assert "error" not in fonts, f"{chapters[0]}: a font failed to load from disk"
        explorers = drive_explorers(page)
        assert explorers and all(result["changed"] for result in explorers), explorers
        assert not failed, f"{chapters[0]} from disk: failed requests {failed}"
    finally:
        context.close()


def test_chinese_search_finds_pages_by_chinese_words(browser, site_url):
    """The Chinese edition's search (Sphinx's, with jieba's words in its index) lists the pages
    that use a Chinese term; decided from the results shown, not from a wait."""
    if "zh/search.html" not in PAGES:
        pytest.fail("no zh/search.html: the Chinese edition was not built (tools/zh_book.py)")
    context = browser.new_context()
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"{site_url}zh/search.html?q={quote('注意力')}")
        page.wait_for_function("document.querySelectorAll('#search-results li').length >= 3")
        titles = page.eval_on_selector_all("#search-results li a", "a => a.map(e => e.innerText)")
    finally:
        context.close()
    assert any("查询、键和值" in title for title in titles), titles
