"""A small site holding both live cells, served over http on 127.0.0.1, with no book build.

``tests/test_live_browser.py`` drives it in headless Chromium, and ``make bench`` times it
(:func:`live_timings`). The site, in a folder of the caller's choice:

    book/live.html             <html data-content_root="../">: the date cell and the digit cell,
                               one folder down as the book's chapters are
    _static/ort/               the three onnxruntime-web files the page loads
                               (tools/vendor/node_modules/onnxruntime-web/dist, or the folder
                               named by LESSONS_ORT_DIST)
    _static/live/*.onnx        the live models, exported by tools/export_live_models.py

The models are the shipped ones (``lessons_lib.pretrained``) when their weights are there;
otherwise freshly built ones from a fixed seed, so that the page is still checked against
torch on the same weights (:attr:`LiveSite.shipped` says which).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import http.server
import importlib.util
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from lessons_lib.data import DATE_FORMATS, DateTask, format_date, load_digits_split
from lessons_lib.live import DateReader, DigitReader, read_date, read_digit
from lessons_lib.widgets.live_static import date_live_html, digit_live_html
from tests.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent.parent
ORT_DIST = ROOT / "tools" / "vendor" / "node_modules" / "onnxruntime-web" / "dist"
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
PAGE = "book/live.html"
N_TEST_DIGITS = 50
EXAMPLE_DAY = datetime.date(2026, 11, 27)
SUGGESTIONS = ("2026-11-27", "Nov 27 2026", "27 Nov 2026")


def ort_dist() -> Path | None:
    """The folder holding onnxruntime-web's three wasm files, or None when it is not installed."""
    folder = Path(os.environ.get("LESSONS_ORT_DIST", ORT_DIST))
    return folder if all((folder / name).is_file() for name in ORT_FILES) else None


@functools.cache
def _exporter() -> Any:
    """``tools/export_live_models.py`` as a module (``tools`` is not a package)."""
    path = ROOT / "tools" / "export_live_models.py"
    spec = importlib.util.spec_from_file_location("export_live_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _models() -> tuple[Any, Any, bool]:
    """The shipped date model and digit ViT, or (without weights) seeded fresh ones."""
    try:
        from lessons_lib.pretrained import load_date_model, load_digit_vit

        return load_date_model(), load_digit_vit(), True
    except FileNotFoundError:
        from lessons_lib.transformer import Transformer
        from lessons_lib.vit import DIGITS_VIT, ViT

        generator_state = torch.random.get_rng_state()
        torch.manual_seed(25)
        task = DateTask()
        date_model = Transformer(
            task.vocab_size, d_model=64, num_heads=4, num_layers=1, d_ff=128, max_len=32
        )
        digit_vit = ViT(**DIGITS_VIT)
        torch.random.set_rng_state(generator_state)
        return date_model.eval(), digit_vit.eval(), False


@dataclass
class LiveSite:
    """A written site: its folder, the readers whose weights the page runs, and the test data."""

    folder: Path
    task: DateTask
    date_reader: DateReader
    digit_reader: DigitReader
    test_images: torch.Tensor  # (N_TEST_DIGITS, 1, 8, 8), what "load a test digit" cycles
    test_labels: list[int]
    shipped: bool  # the shipped weights (True) or seeded fresh ones


def date_config(reader: DateReader, task: DateTask, initial: str) -> dict[str, Any]:
    """The date cell's configuration, as the chapter's live cell gives it."""
    reading = read_date(reader, task, initial)
    return {
        "characters": task.characters,
        "max_source_length": task.max_source_length,
        "target_length": task.target_length,
        "formats": [format_date(EXAMPLE_DAY, style)[0] for style in DATE_FORMATS],
        "suggestions": list(SUGGESTIONS),
        "initial": {
            "text": reading.text,
            "answer": reading.answer,
            "probability": reading.probabilities,
            "cross": reading.cross.tolist(),
        },
    }


def digit_config(reader: DigitReader, images: torch.Tensor, labels: list[int]) -> dict[str, Any]:
    """The digit cell's configuration: the test digits, the first one shown."""
    reading = read_digit(reader, images[0])
    return {
        "test_digits": [
            {"label": label, "pixels": image.flatten().tolist()}
            for image, label in zip(images, labels)
        ],
        "initial": {
            "pixels": images[0].flatten().tolist(),
            "probability": reading.probabilities.tolist(),
            "rollout": reading.rollout.flatten().tolist(),
        },
    }


def page_html(date_cell: str, digit_cell: str) -> str:
    """A bare page with both cells, laid out for a phone as well as a desktop."""
    return (
        '<!DOCTYPE html>\n<html lang="en" data-content_root="../"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>Live cells</title><link rel="icon" href="data:,">'
        "<style>body{font-family:sans-serif;line-height:1.5;margin:0 auto;max-width:48rem;"
        "padding:0 1rem}</style></head>"
        "<body><main><h1>Live cells</h1>"
        f"<section><h2>Try your own date</h2>{date_cell}</section>"
        f"<section><h2>Draw a digit</h2>{digit_cell}</section>"
        "</main></body></html>\n"
    )


def write_site(folder: Path, onnx_cache: Path | None = None) -> LiveSite:
    """Write the site into ``folder``; the exported models are cached in ``onnx_cache``
    (default: the book build's cache, ``_build/live``, for the shipped models; a folder beside
    ``folder`` for fresh ones).

    Raises FileNotFoundError when onnxruntime-web is not installed (``make setup`` runs
    ``npm ci`` in tools/vendor).
    """
    dist = ort_dist()
    if dist is None:
        raise FileNotFoundError(
            f"onnxruntime-web is not installed in {ORT_DIST}: run `npm ci` in tools/vendor "
            "(make setup), or point LESSONS_ORT_DIST at its dist folder"
        )
    folder = Path(folder)
    date_model, digit_vit, shipped = _models()
    task = DateTask()
    date_reader, digit_reader = DateReader(date_model, task), DigitReader(digit_vit)
    exporter = _exporter()
    if onnx_cache is None:  # the book build's cache for the shipped models; never fresh ones
        onnx_cache = exporter.CACHE if shipped else folder.parent / f"{folder.name}-onnx"
    cache = Path(onnx_cache)
    exported = (
        exporter.export_live_models(cache, log=lambda line: None)
        if shipped
        else exporter.export_live_models(
            cache, date_model=date_model, digit_vit=digit_vit, log=lambda line: None
        )
    )
    live = folder / "_static" / "live"
    ort = folder / "_static" / "ort"
    for target in (live, ort, folder / "book"):
        target.mkdir(parents=True, exist_ok=True)
    for name, path in exported.items():
        shutil.copyfile(path, live / f"{name}.onnx")
    for name in ORT_FILES:
        shutil.copyfile(dist / name, ort / name)
    _, _, test = load_digits_split()
    images = test.images[:N_TEST_DIGITS, 0]  # (n, 8, 8)
    labels = test.labels[:N_TEST_DIGITS].tolist()
    initial = format_date(EXAMPLE_DAY, DATE_FORMATS[1])[0]
    page = page_html(
        date_live_html(date_config(date_reader, task, initial)),
        digit_live_html(digit_config(digit_reader, images, labels)),
    )
    (folder / PAGE).write_text(page, encoding="utf-8")
    return LiveSite(folder, task, date_reader, digit_reader, images, labels, shipped)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",  # a module must be served as JavaScript
        ".wasm": "application/wasm",  # and wasm as wasm, for streaming compilation
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over http on 127.0.0.1 (an ephemeral port); yields the site's URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def chromium_path() -> str | None:
    """The Chromium binary the browser tests drive, or None when there is none."""
    return shutil.which(CHROMIUM)


# Runs in the page: answers `inputs` one after the other, timing each in the page's own clock
# from the input to the answer shown (data-answered catching up with data-request).
TIME_ANSWERS = """async ([kind, inputs]) => {
  const cell = document.querySelector(`.lessons-live[data-live="${kind}"]`);
  const answered = () => new Promise((resolve) => {
    const done = () => cell.dataset.answered === cell.dataset.request
      && cell.dataset.state === 'ready';
    if (done()) { resolve(); return; }
    const watch = new MutationObserver(() => { if (done()) { watch.disconnect(); resolve(); } });
    watch.observe(cell, {attributes: true});
  });
  const box = cell.querySelector('.lessons-live-input');
  const load = cell.querySelector('.lessons-live-load');
  const times = [];
  for (const input of inputs) {
    const began = performance.now();
    if (kind === 'date') {
      box.focus();
      box.value = input;
      box.dispatchEvent(new Event('input', {bubbles: true}));
      box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
    } else {
      load.click();
    }
    await answered();
    times.push(performance.now() - began);
  }
  return times;
}"""


def live_timings(
    n_answers: int = 20, site: Path | None = None, browser: Any = None
) -> dict[str, float]:
    """Milliseconds, in headless Chromium on this machine: the first use of each cell (the
    runtime and model loaded, the first answer shown; each in a fresh browser, or a fresh
    context of ``browser``, so nothing is cached) and the median and the largest of
    ``n_answers`` answers after it. For ``make bench``.

    ``site``: a folder written by :func:`write_site` (default: a new one, in a temporary
    folder; the export is cached in ``_build/live``). ``browser``: a playwright Browser to
    use (a caller already inside ``sync_playwright``), else Chromium is launched here.

    Returns ``{"date_first_ms", "date_answer_ms", "date_answer_max_ms", "digit_first_ms",
    "digit_answer_ms", "digit_answer_max_ms"}``.
    """
    import tempfile

    if isinstance(n_answers, bool) or not isinstance(n_answers, int) or n_answers < 1:
        raise ValueError(f"n_answers must be a positive int, got {n_answers!r}")
    task = DateTask()
    batch = task.sample(n_answers, torch.Generator().manual_seed(0), "test")
    dates = [task.decode(row) for row in batch.sources]
    with tempfile.TemporaryDirectory() as scratch:
        if site is None:
            site = Path(scratch) / "site"
            write_site(site)
        with serve(Path(site)) as url:
            if browser is not None:
                return _time_cells(browser, url + PAGE, dates)
            executable = chromium_path()
            if executable is None:
                raise FileNotFoundError(f"no Chromium at {CHROMIUM}; set LESSONS_CHROMIUM")
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                timings = {}
                for kind in ("date", "digit"):  # a fresh browser for each first use
                    launched = playwright.chromium.launch(
                        executable_path=executable, args=CHROMIUM_ARGS
                    )
                    try:
                        timings.update(_time_cells(launched, url + PAGE, dates, kinds=(kind,)))
                    finally:
                        launched.close()
                return timings


def _time_cells(
    browser: Any, url: str, dates: list[str], kinds: tuple[str, ...] = ("date", "digit")
) -> dict[str, float]:
    """Time each cell of ``kinds`` in a fresh context: its first use, then len(dates) answers."""
    import statistics

    timings: dict[str, float] = {}
    for kind in kinds:
        inputs = dates if kind == "date" else [None] * len(dates)
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(url, wait_until="load")
            first, *rest = page.evaluate(TIME_ANSWERS, [kind, [inputs[0], *inputs]])
        finally:
            context.close()
        timings[f"{kind}_first_ms"] = round(first, 1)
        timings[f"{kind}_answer_ms"] = round(statistics.median(rest), 1)
        timings[f"{kind}_answer_max_ms"] = round(max(rest), 1)
    return timings
