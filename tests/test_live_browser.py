"""The live cells (lessons_lib/widgets/live_static.py) in a real browser, served over http.

A small site (``tests/live_fixture``: both cells, onnxruntime-web, the exported models) is
written to a temporary folder and served on 127.0.0.1; headless Chromium (Debian's
``chromium``, or ``LESSONS_CHROMIUM``) is driven by ``playwright``. Every wait is on the
cell's own state (``data-state``, ``data-answered`` catching up with ``data-request``),
bounded generously for a loaded machine; nothing is decided by timing. What the page
answers is compared with torch on the same weights (``lessons_lib.live``).

Without Chromium or onnxruntime-web (``npm ci`` in tools/vendor) the tests skip, or fail
when ``CI`` is set.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("playwright")
pytest.importorskip("onnxscript")  # the export's requirements (requirements.txt)
pytest.importorskip("onnxruntime")

from lessons_lib.data import DATE_FORMATS, format_date
from lessons_lib.live import read_date, read_digit
from tests import live_fixture
from tests.chromium import open_page

AXE = live_fixture.ROOT / "tools" / "vendor" / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 300_000  # a bound on each wait for a state, never reached by a passing run
TOLERANCE = 1e-4
N_DATES = 100
RUNTIME = ("ort", ".onnx")  # what must not be requested before first use

# The cell of one kind: is its newest input answered? (a refusal counts; an error says so)
ANSWERED = """([kind, text]) => {
  const cell = document.querySelector(`.lessons-live[data-live="${kind}"]`);
  if (cell.dataset.state === 'error') {
    return 'error: ' + cell.querySelector('.lessons-live-message').textContent;
  }
  const current = cell.dataset.answered === cell.dataset.request
    && Number(cell.dataset.request) > 0
    && (text === null || cell.dataset.text === text);
  return current && (cell.dataset.state === 'ready' || Boolean(cell.dataset.refused));
}"""


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> live_fixture.LiveSite:
    if live_fixture.ort_dist() is None:
        _missing(
            f"onnxruntime-web is not installed in {live_fixture.ORT_DIST}: run `npm ci` in "
            "tools/vendor (make setup)"
        )
    return live_fixture.write_site(tmp_path_factory.mktemp("live") / "site")


@pytest.fixture(scope="module")
def page_url(live_site: live_fixture.LiveSite) -> Iterator[str]:
    with live_fixture.serve(live_site.folder) as url:
        yield url + live_fixture.PAGE


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = live_fixture.chromium_path()
    if executable is None:
        _missing(
            f"no Chromium at {live_fixture.CHROMIUM}: install it with `sudo apt-get install "
            "chromium`, or point LESSONS_CHROMIUM at a Chromium or Chrome binary"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, args=live_fixture.CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Visit:
    """One page in a fresh browser context, with every request and page error it saw."""

    def __init__(self, browser: Any, url: str, **options: Any) -> None:
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        open_page(self.page, url)

    def cell(self, kind: str) -> Any:
        return self.page.locator(f'.lessons-live[data-live="{kind}"]')

    def answered(self, kind: str, text: str | None = None) -> dict[str, Any]:
        """Wait until the cell's newest input is answered; its result (``lessonsLive``)."""
        done = self.page.wait_for_function(ANSWERED, arg=[kind, text], polling=20)
        assert done.json_value() is True, done.json_value()
        return self.cell(kind).evaluate("cell => cell.lessonsLive")

    def runtime_requests(self) -> list[str]:
        return [
            url for url in self.requests if any(part in url.rsplit("/", 1)[-1] for part in RUNTIME)
        ]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any, page_url: str) -> Iterator[Visit]:
    opened = Visit(browser, page_url)
    yield opened
    assert not opened.errors, f"errors in the page: {opened.errors}"
    opened.close()


def _close(got: list[float], want: list[float]) -> float:
    """The largest difference between two equal-length lists of numbers."""
    assert len(got) == len(want), f"{len(got)} numbers where torch has {len(want)}"
    return max(abs(a - b) for a, b in zip(got, want))


def _check_date(result: dict[str, Any], live_site: live_fixture.LiveSite) -> list[str]:
    """What differs between the page's answer for a text and torch's (empty: nothing)."""
    text = result["text"]
    reading = read_date(live_site.date_reader, live_site.task, text)
    wrong = []
    if result["answer"] != reading.answer:
        wrong.append(f"{text!r}: the page wrote {result['answer']!r}, torch {reading.answer!r}")
    if _close(result["probability"], reading.probabilities) > TOLERANCE:
        wrong.append(f"{text!r}: probabilities differ from torch's by more than {TOLERANCE}")
    rows = reading.cross.tolist()  # (10, len(text))
    assert len(result["cross"]) == len(rows)
    worst = max(_close(got, want) for got, want in zip(result["cross"], rows))
    if worst > TOLERANCE:
        wrong.append(f"{text!r}: cross-attention differs from torch's by {worst:.1e}")
    return wrong


def _check_digit(result: dict[str, Any], live_site: live_fixture.LiveSite) -> list[str]:
    pixels = torch.tensor(result["pixels"], dtype=torch.float32).reshape(8, 8)  # (8, 8)
    reading = read_digit(live_site.digit_reader, pixels)
    wrong = []
    worst = _close(result["probability"], reading.probabilities.tolist())
    if worst > TOLERANCE:
        wrong.append(f"probabilities differ from torch's by {worst:.1e}")
    worst = _close(result["rollout"], reading.rollout.flatten().tolist())
    if worst > TOLERANCE:
        wrong.append(f"rollout differs from torch's by {worst:.1e}")
    if result["answer"] != int(reading.probabilities.argmax()):
        wrong.append(
            f"the page reads {result['answer']}, torch {int(reading.probabilities.argmax())}"
        )
    return wrong


def test_the_initial_reading_is_shown_and_nothing_is_loaded_before_first_use(
    visit: Visit, live_site: live_fixture.LiveSite
) -> None:
    date, digit = visit.cell("date"), visit.cell("digit")
    visit.page.mouse.wheel(0, 2000)  # scrolling past the cells is not using them
    visit.page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done(true)))")
    assert date.get_attribute("data-state") == digit.get_attribute("data-state") == "idle"
    assert visit.runtime_requests() == [], "the runtime or a model was requested before first use"
    # The readings worked out in Python at build time are on show, heatmap and bars included.
    initial = date.evaluate("cell => cell.lessonsLive")
    assert date.locator(".lessons-live-answer-text").inner_text() == initial["answer"]
    assert date.locator(".lessons-live-char").count() == len(initial["probability"]) == 10
    assert date.locator("svg rect").count() == 10 * len(initial["text"])
    assert digit.locator(".lessons-live-bar-row").count() == 10
    assert digit.locator("svg rect").count() == 16
    assert not _check_date(initial, live_site)

    # First use: focusing the box loads the runtime and the date model, nothing else.
    date.locator("input").focus()
    visit.page.wait_for_function(
        "() => document.querySelector('.lessons-live[data-live=date]').dataset.state !== 'loading'"
        " && document.querySelector('.lessons-live[data-live=date]').dataset.state !== 'idle'",
        polling=20,
    )
    assert date.get_attribute("data-state") == "ready"
    names = sorted(url.rsplit("/", 1)[-1] for url in visit.runtime_requests())
    assert names == sorted([*live_fixture.ORT_FILES, "date_model.onnx"]), names
    date.locator("input").fill("27.11.2026")
    result = visit.answered("date", "27.11.2026")
    assert not _check_date(result, live_site)
    assert date.get_attribute("data-answer") == result["answer"]
    assert date.get_attribute("data-runs") == "1"
    # The digit cell shares the runtime: only its model is fetched on its first use.
    digit.locator(".lessons-live-load").click()
    assert not _check_digit(visit.answered("digit"), live_site)
    names = sorted(url.rsplit("/", 1)[-1] for url in visit.runtime_requests())
    assert names == sorted([*live_fixture.ORT_FILES, "date_model.onnx", "digit_vit.onnx"]), names


def test_dates_typed_into_the_page_get_the_answers_torch_gives(
    visit: Visit, live_site: live_fixture.LiveSite
) -> None:
    task = live_site.task
    batch = task.sample(N_DATES, torch.Generator().manual_seed(2025), "test")
    texts = [task.decode(row) for row in batch.sources]
    # and one date in every format, the Chinese 2003年4月5日 among them
    texts += [format_date(datetime.date(2003, 4, 5), style)[0] for style in DATE_FORMATS]
    suggested = (
        visit.cell("date")
        .locator("[data-text]")
        .evaluate_all("buttons => buttons.map((b) => b.dataset.text)")
    )
    box = visit.cell("date").locator("input")
    wrong = []
    for text in [*texts, *suggested]:
        box.fill(text)
        box.press("Enter")
        wrong += _check_date(visit.answered("date", text), live_site)
    assert not wrong, f"{len(wrong)} differences, e.g. {wrong[:5]}"
    # A suggestion button fills the box and answers it.
    button = visit.cell("date").locator("[data-text]").first
    button.click()
    result = visit.answered("date", suggested[0])
    assert box.input_value() == suggested[0] and not _check_date(result, live_site)


def test_typing_answers_without_enter(visit: Visit, live_site: live_fixture.LiveSite) -> None:
    box = visit.cell("date").locator("input")
    box.fill("")
    box.press_sequentially("Friday, March 5th 2027")  # one input event per key: debounced
    result = visit.answered("date", "Friday, March 5th 2027")
    assert not _check_date(result, live_site)
    runs = int(visit.cell("date").get_attribute("data-runs"))
    assert 1 <= runs <= len("Friday, March 5th 2027")


def test_characters_outside_the_vocabulary_are_refused_and_nothing_runs(
    visit: Visit, live_site: live_fixture.LiveSite
) -> None:
    date = visit.cell("date")
    box = date.locator("input")
    box.fill("Nov 27, 2026")
    box.press("Enter")
    visit.answered("date", "Nov 27, 2026")
    runs = date.get_attribute("data-runs")
    too_long = "Wednesday, September 30th 2026!"[:30] + "0"
    for text in ("2026年11月27号", "Nov 27, 2026?", too_long, ""):  # 号: not a date character
        with pytest.raises(ValueError):
            read_date(live_site.date_reader, live_site.task, text)  # torch refuses it too
        box.fill(text)
        box.press("Enter")
        result = visit.answered("date", text)
        message = date.locator(".lessons-live-message").inner_text()
        assert result["refused"] == date.get_attribute("data-refused") == message != ""
        assert date.get_attribute("data-runs") == runs, f"the model ran on {text!r}"
        assert date.locator(".lessons-live-answer-text").inner_text() == ""
        assert date.locator("svg").count() == 0
    box.fill("Nov 27, 2026?")
    box.press("Enter")
    message = visit.answered("date", "Nov 27, 2026?")["refused"]
    assert "“?”" in message
    assert all(character in message for character in live_site.task.characters.strip())
    box.fill(too_long)
    box.press("Enter")
    assert str(live_site.task.max_source_length) in visit.answered("date", too_long)["refused"]
    box.fill("Nov 27, 2026")  # a readable date again: answered, message gone
    box.press("Enter")
    assert not _check_date(visit.answered("date", "Nov 27, 2026"), live_site)
    assert date.locator(".lessons-live-message").inner_text() == ""


def test_test_digits_loaded_into_the_grid_get_torch_probabilities(
    visit: Visit, live_site: live_fixture.LiveSite
) -> None:
    digit = visit.cell("digit")
    load = digit.locator(".lessons-live-load")
    seen, wrong = set(), []
    for _ in range(live_fixture.N_TEST_DIGITS):
        load.click()
        result = visit.answered("digit")
        index = int(digit.get_attribute("data-digit"))
        seen.add(index)
        expected = live_site.test_images[index].flatten().tolist()
        assert result["pixels"] == pytest.approx(expected, abs=1e-7)
        wrong += [f"test digit {index}: {line}" for line in _check_digit(result, live_site)]
        shown = digit.locator(".lessons-live-digit-name").inner_text()
        assert f"labelled {live_site.test_labels[index]}" in shown
    assert seen == set(range(live_fixture.N_TEST_DIGITS))
    assert not wrong, f"{len(wrong)} differences, e.g. {wrong[:5]}"
    digit.locator(".lessons-live-clear").click()
    result = visit.answered("digit")
    assert result["pixels"] == [0] * 64 and not _check_digit(result, live_site)


def test_a_mouse_stroke_paints_and_is_answered(
    visit: Visit, live_site: live_fixture.LiveSite
) -> None:
    digit = visit.cell("digit")
    digit.locator(".lessons-live-clear").click()
    visit.answered("digit")
    cells = digit.locator(".lessons-live-cell")
    path = [cells.nth(index).bounding_box() for index in (18, 19, 20, 28)]
    mouse = visit.page.mouse
    mouse.move(path[0]["x"] + 5, path[0]["y"] + 5)
    mouse.down()
    for box in path[1:]:
        mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
    mouse.up()
    result = visit.answered("digit")
    inked = [index for index, value in enumerate(result["pixels"]) if value > 0]
    assert inked == [18, 19, 20, 28]
    assert not _check_digit(result, live_site)
    assert [cells.nth(i).get_attribute("aria-pressed") for i in (18, 27)] == ["true", "false"]
    # A stroke that starts on ink erases.
    cells.nth(19).click()
    assert visit.answered("digit")["pixels"][19] == 0


def test_keyboard_only(visit: Visit, live_site: live_fixture.LiveSite) -> None:
    page = visit.page
    focused = """() => document.activeElement.className + '|'
      + (document.activeElement.dataset.index || '')"""
    for _ in range(5):  # Tab until the text box has the focus
        page.keyboard.press("Tab")
        if page.evaluate(focused).startswith("lessons-live-input"):
            break
    assert page.evaluate(focused).startswith("lessons-live-input")
    page.keyboard.press("Control+A")
    page.keyboard.type("Tuesday, June 1st 2027")
    page.keyboard.press("Enter")
    assert not _check_date(visit.answered("date", "Tuesday, June 1st 2027"), live_site)
    for _ in range(12):  # on past the suggestions and the buttons, into the grid (one stop)
        page.keyboard.press("Tab")
        if page.evaluate(focused).startswith("lessons-live-cell"):
            break
    assert page.evaluate(focused) == "lessons-live-cell|0"
    before = visit.cell("digit").evaluate("cell => cell.lessonsLive.pixels")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "lessons-live-cell|9"
    page.keyboard.press("Space")
    result = visit.answered("digit")
    expected = list(before)
    expected[9] = 0.0 if before[9] >= 0.5 else 1.0
    assert result["pixels"] == expected
    assert not _check_digit(result, live_site)
    page.keyboard.press("Enter")  # Enter switches it back
    assert visit.answered("digit")["pixels"][9] == (1.0 if expected[9] == 0 else 0.0)
    page.keyboard.press("Shift+Tab")  # the grid is one tab stop: back to "Clear"
    assert page.evaluate(focused).startswith("lessons-live-clear")
    page.keyboard.press("Enter")
    assert visit.answered("digit")["pixels"] == [0] * 64


AXE_RUN = """() => axe.run({include: [['.lessons-live']]}, {
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
  resultTypes: ['violations'],
}).then((result) => result.violations.map((v) => ({
  id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
})))"""


def test_axe_finds_no_violations_in_the_live_cells(visit: Visit) -> None:
    if not AXE.is_file():
        _missing(f"axe-core is not installed in {AXE.parent}: run `npm ci` in tools/vendor")
    visit.page.add_script_tag(path=str(AXE))
    found = {"before first use": visit.page.evaluate(AXE_RUN)}
    box = visit.cell("date").locator("input")
    box.fill("Nov 27, 2026")
    box.press("Enter")
    visit.answered("date", "Nov 27, 2026")
    visit.cell("digit").locator(".lessons-live-load").click()
    visit.answered("digit")
    found["answered"] = visit.page.evaluate(AXE_RUN)
    box.fill("27 Nov 2026 ?")
    box.press("Enter")
    visit.answered("date", "27 Nov 2026 ?")
    found["refused"] = visit.page.evaluate(AXE_RUN)
    assert found == {"before first use": [], "answered": [], "refused": []}


PHONE = dict(
    viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True, device_scale_factor=2
)
# How far the page, or anything in a live cell, reaches past the screen's right edge (what
# scrolls inside its own box, the heatmap of a long date, counts as its box).
OVERFLOW = """() => ({
  page: document.documentElement.scrollWidth - window.innerWidth,
  cells: Array.from(document.querySelectorAll('.lessons-live, .lessons-live *'))
    .filter((node) => !(node.parentElement.closest('.lessons-live-svg')))
    .filter((node) => node.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map((node) => node.className.baseVal === undefined ? node.className : node.tagName),
})"""


def test_phone_layout_with_touch(
    browser: Any, page_url: str, live_site: live_fixture.LiveSite
) -> None:
    visit = Visit(browser, page_url, **PHONE)
    try:
        digit = visit.cell("digit")
        assert visit.page.evaluate(OVERFLOW) == {"page": 0, "cells": []}
        digit.locator(".lessons-live-clear").tap()
        visit.answered("digit")
        cells = digit.locator(".lessons-live-cell")
        cells.nth(10).tap()
        result = visit.answered("digit")
        assert [i for i, value in enumerate(result["pixels"]) if value] == [10]
        assert not _check_digit(result, live_site)
        # A finger drawn across a row paints every cell it passes (the grid does not scroll).
        centres = []
        for index in (34, 35, 36, 37):
            box = cells.nth(index).bounding_box()
            centres.append((box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
        scroll = visit.page.evaluate("() => window.scrollY")
        touch = visit.context.new_cdp_session(visit.page)
        x, y = centres[0]
        touch.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]}
        )
        for x, y in centres[1:]:
            touch.send(
                "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
            )
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        result = visit.answered("digit")
        assert [i for i, value in enumerate(result["pixels"]) if value] == [10, 34, 35, 36, 37]
        assert not _check_digit(result, live_site)
        assert visit.page.evaluate("() => window.scrollY") == scroll
        # The date cell on the phone: type, answered; the longest date's heatmap fits too.
        box = visit.cell("date").locator("input")
        box.tap()
        box.fill("Wednesday, September 30th 2026")
        box.press("Enter")
        assert not _check_date(visit.answered("date", "Wednesday, September 30th 2026"), live_site)
        assert visit.page.evaluate(OVERFLOW) == {"page": 0, "cells": []}
        # Its heatmap keeps a readable size and scrolls in its box, which the keyboard can reach.
        heatmap = visit.cell("date").locator(".lessons-live-svg")
        scrolls = heatmap.evaluate("box => box.scrollWidth > box.clientWidth")
        assert heatmap.get_attribute("tabindex") == ("0" if scrolls else None)
        cell_px = heatmap.evaluate("box => box.querySelector('rect').getBoundingClientRect().width")
        assert cell_px >= 11, f"the heatmap's cells are {cell_px:.1f} px wide at 375 px"
        assert not visit.errors, visit.errors
    finally:
        visit.close()


def test_opened_from_disk_one_line_explains(browser: Any, live_site: live_fixture.LiveSite) -> None:
    page_file = (live_site.folder / live_fixture.PAGE).resolve()
    visit = Visit(browser, page_file.as_uri())
    try:
        for kind in ("date", "digit"):
            message = visit.cell(kind).locator(".lessons-live-message")
            assert (
                "http" in message.inner_text() and "python -m http.server" in message.inner_text()
            )
        date = visit.cell("date")
        box = date.locator("input")
        box.fill("27.11.2026")
        box.press("Enter")
        visit.page.wait_for_function(
            "() => { const c = document.querySelector('.lessons-live[data-live=date]');"
            " return c.dataset.request === '1'; }"
        )
        visit.cell("digit").locator(".lessons-live-load").click()
        assert (
            date.get_attribute("data-state")
            == visit.cell("digit").get_attribute("data-state")
            == "idle"
        )
        assert visit.runtime_requests() == []
        # The precomputed reading is still shown, and the line still explains.
        assert date.locator(".lessons-live-answer-text").inner_text() != ""
        assert "http" in date.locator(".lessons-live-message").inner_text()
        assert not visit.errors, visit.errors
    finally:
        visit.close()


def test_timing_helper_reports_first_use_and_per_answer(
    browser: Any, live_site: live_fixture.LiveSite
) -> None:
    timings = live_fixture.live_timings(n_answers=3, site=live_site.folder, browser=browser)
    assert set(timings) == {
        f"{kind}_{what}_ms"
        for kind in ("date", "digit")
        for what in ("first", "answer", "answer_max")
    }
    assert all(value > 0 for value in timings.values()), timings
    assert timings["date_answer_ms"] <= timings["date_answer_max_ms"]


def test_the_site_uses_the_weights_it_says(live_site: live_fixture.LiveSite) -> None:
    """The page is checked against the shipped weights whenever the package has them."""
    weights = Path(live_fixture.ROOT / "lessons_lib" / "weights" / "date_model.pt")
    assert live_site.shipped == weights.is_file()
