"""`make bench`: how fast the book builds, runs and responds, reported as it goes.

Five sections run in turn: ``build`` (clean build, no-op rebuilds, rebuilds after an edit),
``lighthouse`` (every page of the built book), ``live`` (the live cells' first use and
answers in Chromium), ``notebooks`` (every chapter run as in
Jupyter, and its explorers' update times) and ``training`` (bench/bench_*.py). The run
first prints its plan with a rough time for each section; each section prints a header,
a progress line for every step, and each row the moment it is measured (stdout is flushed,
so ``make`` and pipes show it at once); the end prints the whole table and writes
``_build/bench.json`` (also written after every section, marked incomplete, so a stopped
run keeps what it measured). Targets are reported, never asserted: a missed target shows as
"MISSED" and does not fail anything.

    python bench/run.py [--quick] [--repeat N] [--section NAME ...] [--lighthouse-repeat N]
                        [--threads N] [--output PATH]
                        [--skip-build] [--skip-lighthouse] [--only-lighthouse]

``--quick`` (about 5 minutes on an idle 2-core machine): one run per figure, Lighthouse on
two pages, and only the training benchmarks that have targets (plus the cheap GRU timing).
The full run (27.4 minutes on 6 December 2026, 14 of them Lighthouse): the median of
``--repeat`` runs (3) everywhere, every page, every training benchmark.
bench/README.md lists both plans.

Lighthouse (12.2.3, pinned in tools/vendor; mobile preset, its default) measures the pages
of the built book, served gzip-compressed from 127.0.0.1 as GitHub Pages serves it, in the
Chromium at ``CHROME_PATH`` (default /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import http.server
import io
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TextIO

ROOT = Path(__file__).resolve().parent.parent
BENCH_JSON = ROOT / "_build" / "bench.json"
BUILD_ENV = {
    **os.environ,
    "LESSONS_STATIC_WIDGETS": "1",
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
    "IPYTHONDIR": str(ROOT / "tools" / "ipython_build_profile"),  # as the Makefile's BUILD_ENV
}

# Runs inside a chapter's kernel after its last cell: drives every control of every explorer
# through its values and times control change -> new PNG rendered with the Agg backend.
WIDGET_PROBE = """
import json as _json, time as _time
from lessons_lib.widgets import Explorer as _Explorer, control_options as _options
_times = {}
for _number, _explorer in enumerate(sorted(_Explorer.instances, key=lambda e: e.caption)):
    _mine = _times.setdefault(f"{_number + 1}: {_explorer.caption[:40]}", [])
    for _name, _control in _explorer.controls.items():
        _start_value = _control.value
        for _label, _value in _options(_control) * 2:
            if _value == _control.value:
                continue
            _t = _time.perf_counter()
            _control.value = _value  # observers redraw the figure synchronously
            _mine.append(_time.perf_counter() - _t)
        _control.value = _start_value
print("WIDGET_TIMES" + _json.dumps({"n_explorers": len(_Explorer.instances), "times": _times}))
"""

# --- the plan ----------------------------------------------------------------------------

SECTIONS = ("build", "lighthouse", "live", "notebooks", "training")
SECTION_TITLES = {
    "build": "book builds as `make book` runs them: clean, nothing changed, one cell edited",
    "lighthouse": "Lighthouse (mobile preset) on the built pages, served gzipped",
    "live": "the live cells of chapters 06 and 11 in Chromium: first use, then each answer",
    "notebooks": "every chapter run top to bottom as in Jupyter, then its explorers driven",
    "training": "training to target, decoding with the cache, and the chapters' longer sweeps",
}
# Rough seconds of one step on an idle 2-core machine, for the plan's estimates only (never
# asserted): the build figures from README.md's table; the rest from single runs with other
# work on the machine, rounded. A loaded machine takes longer: the header prints the load.
STEP_SECONDS = {
    "clean build": 77.0,
    "no-op rebuild": 5.5,
    "markdown edit": 7.5,  # timed rebuild; putting the cell back costs as much again
    "code edit": 29.0,
    "lighthouse run": 16.5,  # one page, one run (Chromium start, load, audits)
    "chapter run": 10.0,  # kernel start, every cell, the widget probe: the mean chapter
    "live cells": 40.0,  # the models exported (cached), two browsers, 20 answers each
}


@dataclass(frozen=True)
class TrainingScript:
    """One bench/bench_*.py: what it measures, and its rough cost (seconds, idle 2 cores)."""

    name: str
    what: str
    seconds_per_run: float  # per --runs (seed); 0 where the script's seeds are fixed
    seconds_fixed: float
    quick: bool  # part of --quick

    def estimate(self, runs: int) -> float:
        return self.seconds_fixed + self.seconds_per_run * runs


# In the order they run: the ones with targets first, then the sweeps shown without targets.
TRAINING_SCRIPTS = (
    TrainingScript(
        "bench_transformer", "toy Transformer to 99%, key/value cache speed-up", 12, 4, True
    ),
    TrainingScript("bench_dates", "date model to 99%", 22, 1, True),
    TrainingScript("bench_vit", "small ViT to 95%", 4, 2, True),
    TrainingScript("bench_rnn", "GRU against self-attention, 16 to 1024 tokens", 1.5, 4, True),
    TrainingScript("bench_warmup", "chapter 05's warm-up sweep, 13 seeds", 0, 31, False),
    TrainingScript("bench_position_codes", "chapter 10's stretched codes, 5 seeds", 0, 30, False),
)
QUICK_LIGHTHOUSE_PAGES = 2


@dataclass(frozen=True)
class Plan:
    """What one run of the bench measures, and how many times."""

    quick: bool
    repeat: int  # runs per build and notebook figure, and training seeds
    sections: tuple[str, ...]
    lighthouse_repeat: int
    lighthouse_pages: int | None  # None: every page; n: the intro and the n - 1 heaviest
    training: tuple[TrainingScript, ...]
    threads: int | None = None  # torch threads in the kernels and scripts; None: torch's own
    output: Path = BENCH_JSON  # where the results go, as JSON

    def estimates(self, n_chapters: int, n_pages: int) -> dict[str, float]:
        """Rough seconds per planned section on an idle 2-core machine."""
        s = STEP_SECONDS
        edits = s["markdown edit"] + s["code edit"]
        pages = n_pages if self.lighthouse_pages is None else min(n_pages, self.lighthouse_pages)
        every = {
            # each edit's rebuild is timed; putting the cells back afterwards rebuilds once more
            "build": self.repeat * (s["clean build"] + 2 * s["no-op rebuild"] + edits) + edits,
            "lighthouse": pages * self.lighthouse_repeat * s["lighthouse run"],
            "live": s["live cells"] * (0.6 if self.quick else 1),  # fewer answers
            "notebooks": n_chapters * self.repeat * s["chapter run"],
            "training": sum(script.estimate(self.repeat) for script in self.training),
        }
        return {name: every[name] for name in self.sections}


def parse_args(argv: Sequence[str] | None = None) -> Plan:
    """The command line as a :class:`Plan`; ``--quick`` lowers every count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one run per figure, Lighthouse on 2 pages, only the training with targets "
        "(and the GRU timing)",
    )
    parser.add_argument("--repeat", type=int, help="runs per figure (median); 3, or 1 with --quick")
    parser.add_argument(
        "--lighthouse-repeat", type=int, help="Lighthouse runs per page (default: as --repeat)"
    )
    parser.add_argument(
        "--section",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); default: all four",
    )
    parser.add_argument("--skip-build", action="store_true", help="skip the build timings")
    parser.add_argument("--skip-lighthouse", action="store_true", help="skip Lighthouse")
    parser.add_argument(
        "--only-lighthouse", action="store_true", help="only Lighthouse, on the built book"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads in the chapters and training scripts (default: torch's own, as a "
        "reader gets them; 1 keeps a busy machine from crawling)",
    )
    parser.add_argument(
        "--output", type=Path, default=BENCH_JSON, help="the JSON results (_build/bench.json)"
    )
    args = parser.parse_args(argv)
    for name in ("repeat", "lighthouse_repeat", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    repeat = args.repeat or (1 if args.quick else 3)
    chosen = set(args.section or SECTIONS)
    if args.only_lighthouse:
        chosen = {"lighthouse"}
    if args.skip_build:
        chosen.discard("build")
    if args.skip_lighthouse:
        chosen.discard("lighthouse")
    return Plan(
        quick=args.quick,
        repeat=repeat,
        sections=tuple(name for name in SECTIONS if name in chosen),
        lighthouse_repeat=args.lighthouse_repeat or repeat,
        lighthouse_pages=QUICK_LIGHTHOUSE_PAGES if args.quick else None,
        training=tuple(s for s in TRAINING_SCRIPTS if s.quick or not args.quick),
        threads=args.threads,
        output=args.output.resolve(),
    )


def child_env(threads: int | None, **extra: str) -> dict[str, str]:
    """This process's environment for a kernel or script, with ``threads`` torch threads."""
    env = {**os.environ, **extra}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)  # torch sizes its thread pool from it
    return env


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


# --- reporting as it goes ----------------------------------------------------------------

Row = tuple[str, str, str, str]  # (what, measured, target, verdict)


@dataclass
class Reporter:
    """Prints each row the moment it is measured and keeps it for the table and bench.json.

    ``tick_every``: while a step runs longer than this many seconds, a line says how long it
    has run so far (None: no such lines).
    """

    report: dict
    out: TextIO = field(default_factory=lambda: sys.stdout)
    tick_every: float | None = 30.0
    output: Path = BENCH_JSON
    rows: list[Row] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def say(self, text: str) -> None:
        with self._lock:
            print(text, file=self.out, flush=True)

    def row(
        self,
        what: str,
        value: float | None,
        unit: str,
        target: float | None,
        higher_is_better: bool = False,
    ) -> None:
        measured = "n/a" if value is None else f"{value:.3g} {unit}".rstrip()
        if target is None:  # shown for information, with no target
            entry: Row = (what, measured, "-", "")
        elif value is None:
            entry = (what, measured, f"{target:g} {unit}".rstrip(), "n/a")
        else:
            met = value >= target if higher_is_better else value <= target
            sign = ">=" if higher_is_better else "<="
            goal = f"{sign} {target:g} {unit}".rstrip()
            entry = (what, measured, goal, "met" if met else "MISSED")
        if value is not None:
            self.report[what] = value
        self.rows.append(entry)
        target_text = "" if entry[2] == "-" else f"   (target {entry[2]}: {entry[3]})"
        self.say(f"  {what}: {measured}{target_text}")

    @contextlib.contextmanager
    def ticking(self, label: str, estimate: float | None = None) -> Iterator[None]:
        """While the block runs, say every ``tick_every`` seconds how long it has run."""
        if self.tick_every is None:
            yield
            return
        stop = threading.Event()
        start = time.perf_counter()
        about = f" (expected about {minutes(estimate)} on an idle machine)" if estimate else ""

        def tick() -> None:
            while not stop.wait(self.tick_every):
                self.say(f"    ... {label}: {minutes(time.perf_counter() - start)} so far{about}")

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()

    def save(self, complete: bool) -> None:
        """Write bench.json: every row so far, and whether the run got to its end."""
        self.report["complete"] = complete
        self.report["rows"] = [
            dict(zip(("what", "measured", "target", "verdict"), r)) for r in self.rows
        ]
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.output.write_text(json.dumps(self.report, indent=2))


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return None


# --- build --------------------------------------------------------------------------------


def timed(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env or BUILD_ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def chapters() -> list[Path]:
    return sorted((ROOT / "book").glob("*.ipynb"))


def edit_cell(kind: str, run: int):
    """An edit of a notebook's last cell of this kind: a markdown word, or a code comment.

    Each run's edit differs (``run`` is in it): the execution cache keeps the outputs of
    every version it has executed, so a second identical edit would execute nothing.
    """

    def edit(source: bytes) -> bytes:
        notebook = json.loads(source)
        cell = [cell for cell in notebook["cells"] if cell["cell_type"] == kind][-1]
        lines = cell["source"] if isinstance(cell["source"], list) else [cell["source"]]
        extra = f" (edited {run})" if kind == "markdown" else f"  # edited {run}"
        cell["source"] = [*lines[:-1], lines[-1] + extra] if lines else [extra]
        return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()

    return edit


def timed_step(rep: Reporter, label: str, command: list[str], estimate: float) -> float:
    """``timed(command)``, with a progress line when it ends (and ticks while it runs)."""
    with rep.ticking(label, estimate):
        seconds = timed(command)
    rep.say(f"    {label}: {seconds:.1f} s")
    return seconds


def build_section(rep: Reporter, plan: Plan) -> None:
    # As `make book` runs it: incremental, with the execution cache (tools/build_book.py).
    jupyter_book = [sys.executable, "tools/build_book.py", "--keep-going", "-W", "-n"]
    n = plan.repeat
    clean = []
    for run in range(n):
        shutil.rmtree(ROOT / "_build", ignore_errors=True)  # the execution cache too
        clean.append(
            timed_step(
                rep,
                f"clean build {run + 1}/{n}",
                jupyter_book,
                STEP_SECONDS["clean build"],
            )
        )
    rep.row("clean book build", statistics.median(clean), "s", 60)
    rep.save(complete=False)  # the clean builds removed _build, and bench.json with it
    (ROOT / "_build" / "html" / ".built").touch()
    no_op = STEP_SECONDS["no-op rebuild"]
    rebuild = [
        timed_step(rep, f"rebuild, nothing changed {run + 1}/{n}", jupyter_book, no_op)
        for run in range(n)
    ]
    rep.row("rebuild, nothing changed (jupyter-book)", statistics.median(rebuild), "s", 10)
    make_noop = [timed(["make", "book"]) for _ in range(n)]
    rep.row("rebuild, nothing changed (make book)", statistics.median(make_noop), "s", 10)
    chapter = chapters()[len(chapters()) // 2]
    for kind, what in (("markdown", "a markdown cell"), ("code", "a code cell")):
        estimate = STEP_SECONDS[f"{kind} edit"]
        original = chapter.read_bytes()
        edits = []
        try:
            for run in range(n):
                # Run k's edit replaces run k - 1's: each timed build sees one changed cell,
                # a version it has never executed, as after putting the cell back in between.
                chapter.write_bytes(edit_cell(kind, run)(original))
                label = f"make book after editing {what} of {chapter.stem} {run + 1}/{n}"
                edits.append(timed_step(rep, label, ["make", "book"], estimate))
        finally:
            chapter.write_bytes(original)
        rep.row(
            f"make book after editing {what} of {chapter.stem}", statistics.median(edits), "s", 20
        )
        timed_step(rep, f"{chapter.stem} put back, make book (not timed)", ["make", "book"], 0)


# --- lighthouse ---------------------------------------------------------------------------

SITE = ROOT / "_build" / "html"
LIGHTHOUSE = ROOT / "tools" / "vendor" / "node_modules" / "lighthouse" / "cli" / "index.js"
COMPRESSIBLE = (".html", ".css", ".js", ".json", ".svg", ".txt", ".xml", ".map")


class CompressingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site as GitHub Pages does: text files gzip-compressed when asked."""

    compressed: ClassVar[dict[Path, bytes]] = {}

    def log_message(self, format: str, *args) -> None:
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        wants_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (wants_gzip and path.is_file() and path.suffix in COMPRESSIBLE):
            return super().send_head()
        if path not in self.compressed:
            self.compressed[path] = gzip.compress(path.read_bytes(), compresslevel=6)
        body = self.compressed[path]
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


def site_pages(site: Path | None = None) -> list[str]:
    """The built book's pages (not redirects), relative to its root, the Chinese edition's
    (``zh/...``) included; [] when there is none."""
    site = site or SITE
    if not site.is_dir():
        return []
    return sorted(
        path.relative_to(site).as_posix()
        for path in site.rglob("*.html")
        if not any(part.startswith("_") for part in path.relative_to(site).parts)
        and 'http-equiv="refresh"' not in path.read_text(encoding="utf-8").lower()
    )


def expected_pages() -> int:
    """Pages a build will have, before there is one: the book's sources, genindex and search,
    in both editions."""
    sources = [*(ROOT / "book").glob("*.ipynb"), *(ROOT / "book").glob("*.md")]
    return 2 * (len(sources) + 2)


def pick_pages(pages: list[str], count: int | None, site: Path | None = None) -> list[str]:
    """Every page, or ``count`` of them: the intro first, then the heaviest (most HTML bytes)."""
    site = site or SITE
    if count is None or count >= len(pages):
        return pages
    intro = [page for page in pages if page.endswith("intro.html")][:1]
    rest = sorted(
        (page for page in pages if page not in intro),
        key=lambda page: (-(site / page).stat().st_size, page),
    )
    return [*intro, *rest][:count]


def lighthouse_page(url: str) -> dict:
    """One Lighthouse run (mobile preset): scores, LCP, TBT and bytes transferred."""
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    completed = subprocess.run(
        [
            "node",
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            "--output-path=stdout",
            "--only-categories=performance,accessibility,best-practices",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result = json.loads(completed.stdout)
    audits = result["audits"]
    return {
        "performance": result["categories"]["performance"]["score"],
        "accessibility": result["categories"]["accessibility"]["score"],
        "best-practices": result["categories"]["best-practices"]["score"],
        "lcp_s": audits["largest-contentful-paint"]["numericValue"] / 1000,
        "tbt_ms": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "kb": audits["total-byte-weight"]["numericValue"] / 1024,
        "errors": audits["errors-in-console"]["details"].get("items", []),
    }


def median_of_runs(runs: list[dict]) -> dict:
    """The median of each Lighthouse figure over runs; console errors: the most in one run."""
    median = {
        key: statistics.median(run[key] for run in runs) for key in runs[0] if key != "errors"
    }
    median["console_errors"] = max(len(run["errors"]) for run in runs)
    return median


def lighthouse_rows(rep: Reporter, page: str, figures: dict) -> None:
    name = page.removeprefix("book/").removesuffix(".html")
    rep.row(f"lighthouse {name}: performance", figures["performance"], "", 0.9, True)
    rep.row(f"  {name}: accessibility", figures["accessibility"], "", 1.0, True)
    rep.row(f"  {name}: best practices", figures["best-practices"], "", 0.95, True)
    rep.row(f"  {name}: largest contentful paint", figures["lcp_s"], "s", None)
    rep.row(f"  {name}: total blocking time", figures["tbt_ms"], "ms", None)
    rep.row(f"  {name}: cumulative layout shift", figures["cls"], "", None)
    rep.row(f"  {name}: transferred", figures["kb"], "KiB", None)
    rep.row(f"  {name}: console errors", figures["console_errors"], "", 0)


def lighthouse_missing() -> str | None:
    """Why Lighthouse cannot run here, or None when it can."""
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not site_pages():
        return "no built book in _build/html (run `make book`, or the build section)"
    if not LIGHTHOUSE.is_file():
        return f"no Lighthouse at {LIGHTHOUSE.relative_to(ROOT)} (run `make setup`)"
    if shutil.which("node") is None:
        return "no `node` on PATH"
    if not Path(chrome).is_file():
        return f"no Chromium at {chrome} (set CHROME_PATH)"
    return None


def lighthouse_section(rep: Reporter, plan: Plan) -> None:
    """The median of ``plan.lighthouse_repeat`` runs for each chosen page, one page at a time."""
    pages = pick_pages(site_pages(), plan.lighthouse_pages)
    n = plan.lighthouse_repeat
    rep.say(f"  {len(pages)} page(s) x {n} run(s): {', '.join(pages)}")
    handler = functools.partial(CompressingHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    results = rep.report.setdefault("lighthouse", {})
    step, steps = 0, len(pages) * n
    try:
        for page in pages:
            runs = []
            for run in range(n):
                step += 1
                label = f"[{step}/{steps}] lighthouse {page}, run {run + 1}/{n}"
                start = time.perf_counter()
                with rep.ticking(label, STEP_SECONDS["lighthouse run"]):
                    runs.append(lighthouse_page(base + page))
                rep.say(f"    {label}: {time.perf_counter() - start:.1f} s")
            results[page] = median_of_runs(runs)
            lighthouse_rows(rep, page, results[page])
    finally:
        server.shutdown()
        server.server_close()


# --- notebooks ----------------------------------------------------------------------------


def chapter_timings(
    path: Path,
    repeat: int,
    on_run: Callable[[int, float], None] | None = None,
    threads: int | None = None,
) -> dict:
    """Median execution time of a chapter, and its widgets' update times (live path).

    ``on_run(run, seconds)`` is called after each run's cells, before its widget probe;
    ``threads``: the kernel's torch threads (None: torch's own choice).
    """
    import nbformat  # here, not at the top: the plan and the other sections do without them
    from nbclient import NotebookClient

    seconds: list[float] = []
    widget_times: dict[str, list[float]] = {}
    for run in range(repeat):
        notebook = nbformat.read(path, as_version=4)
        notebook.cells.append(nbformat.v4.new_code_cell(WIDGET_PROBE))
        client = NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        live_env = child_env(threads)
        live_env.pop("LESSONS_STATIC_WIDGETS", None)
        # The live path, as in Jupyter and Colab; the kernel's own log lines are not wanted here.
        with client.setup_kernel(env=live_env, stderr=subprocess.DEVNULL):
            start = time.perf_counter()
            for index, cell in enumerate(notebook.cells[:-1]):
                client.execute_cell(cell, index)
            seconds.append(time.perf_counter() - start)
            if on_run is not None:
                on_run(run, seconds[-1])
            client.execute_cell(notebook.cells[-1], len(notebook.cells) - 1)
        for output in notebook.cells[-1].outputs:
            text = output.get("text", "")
            if "WIDGET_TIMES" in text:
                found = json.loads(text.split("WIDGET_TIMES", 1)[1])["times"]
                for explorer, times in found.items():
                    widget_times.setdefault(explorer, []).extend(times)
    return {"seconds": statistics.median(seconds), "widget_times": widget_times}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def notebook_section(rep: Reporter, plan: Plan) -> None:
    paths = chapters()
    n = plan.repeat
    all_widget_times: list[float] = []
    for number, path in enumerate(paths, start=1):
        label = f"[{number}/{len(paths)}] notebook {path.stem}"

        def on_run(run: int, seconds: float, label: str = label) -> None:
            rep.say(f"    {label}, run {run + 1}/{n}: {seconds:.1f} s, now its explorers")

        with rep.ticking(label, STEP_SECONDS["chapter run"] * n):
            result = chapter_timings(path, n, on_run, plan.threads)
        rep.row(f"notebook {path.stem}", result["seconds"], "s", 20)
        for explorer, times in result["widget_times"].items():
            times_ms = [t * 1000 for t in times]
            all_widget_times += times_ms
            rep.row(f"  explorer {explorer}: median", statistics.median(times_ms), "ms", 50)
            rep.row(f"  explorer {explorer}: p95", percentile(times_ms, 0.95), "ms", None)
    if all_widget_times:
        median = statistics.median(all_widget_times)
        rep.row("all widget updates together, median", median, "ms", 50)
        p95 = percentile(all_widget_times, 0.95)
        rep.row("all widget updates together, p95", p95, "ms", None)


# --- training -----------------------------------------------------------------------------


def run_training_script(
    rep: Reporter, script: TrainingScript, runs: int, threads: int | None = None
) -> dict:
    """Run one bench script, echoing its progress lines as they come; its final JSON object.

    A script that fails or prints no JSON gives {} (its rows then read n/a) and says so.
    """
    command = [sys.executable, str(ROOT / "bench" / f"{script.name}.py"), "--runs", str(runs)]
    env = child_env(threads, PYTHONUNBUFFERED="1")  # its lines arrive as it prints them
    lines: list[str] = []
    with rep.ticking(f"{script.name}.py", script.estimate(runs)):
        with subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process:
            try:
                for line in process.stdout:
                    line = line.rstrip("\n")
                    lines.append(line)
                    if not line.startswith("{"):
                        rep.say(f"    {line}")
            except BaseException:  # stopped (Ctrl-C, SIGTERM): the script stops too
                process.kill()
                raise
            code = process.wait()
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(found, dict):
                return found
    rep.say(f"    {script.name}.py gave no result (exit status {code}); its rows read n/a")
    return {}


def transformer_rows(rep: Reporter, t: dict) -> None:
    # Training stops on the validation split; the targets refer to the test split, scored once.
    seconds = t.get("transformer_seconds_to_target")
    rep.row("toy Transformer: seconds to 99% (test)", seconds, "s", 20)
    rep.row("toy Transformer: test accuracy", t.get("transformer_accuracy"), "", 0.99, True)
    rep.row("KV cache speed-up, 64-token decode", t.get("cache_speedup_64"), "x", 1.0, True)


def dates_rows(rep: Reporter, t: dict) -> None:
    rep.row("date model: seconds to 99% (test)", t.get("dates_seconds_to_target"), "s", 30)
    rep.row("date model: test accuracy", t.get("dates_accuracy"), "", 0.99, True)


def vit_rows(rep: Reporter, t: dict) -> None:
    rep.row("small ViT: seconds to 95% (test)", t.get("vit_seconds_to_target"), "s", 30)
    rep.row("small ViT: test accuracy", t.get("vit_accuracy"), "", 0.95, True)


def rnn_rows(rep: Reporter, t: dict) -> None:
    # Chapter 04: GRU against self-attention, shown without targets.
    widths = [k[len("rnn_d") : -len("_gru_ms")] for k in t if k.endswith("_gru_ms")]
    for width in sorted(widths, key=int):
        gru_ms = t[f"rnn_d{width}_gru_ms"]
        attention_ms = t[f"rnn_d{width}_attention_ms"]
        for n, gru, attention in zip(t["rnn_lengths"], gru_ms, attention_ms):
            rep.row(f"GRU vs self-attention, d={width}, {n} tokens: GRU", gru, "ms", None)
            rep.row(f"  d={width}, {n} tokens: self-attention", attention, "ms", None)


def warmup_rows(rep: Reporter, t: dict) -> None:
    # Chapter 05: post-norm vs pre-norm, with and without warm-up: the mean final training
    # loss over the seeds, shown without targets.
    for lr, by_setting in t.get("warmup_final_losses", {}).items():
        for setting, values in by_setting.items():
            mean = sum(values) / len(values)
            rep.row(
                f"warm-up, lr={lr}, {setting}: final loss ({len(values)} seeds)", mean, "", None
            )


def position_rows(rep: Reporter, t: dict) -> None:
    # Chapter 10's codes stretched to a grid twice as large, over more seeds than the chapter.
    for label, pairs in t.get("position_stretch", {}).items():
        after = [pair[1] for pair in pairs]
        mean = sum(after) / len(after)
        rep.row(f"{label}: accuracy after (mean of {len(after)} seeds)", mean, "", None)


TRAINING_ROWS: dict[str, Callable[[Reporter, dict], None]] = {
    "bench_transformer": transformer_rows,
    "bench_dates": dates_rows,
    "bench_vit": vit_rows,
    "bench_rnn": rnn_rows,
    "bench_warmup": warmup_rows,
    "bench_position_codes": position_rows,
}


def training_section(rep: Reporter, plan: Plan) -> None:
    """Each planned bench script in turn (``--runs`` = the plan's repeat); its rows at once."""
    training = rep.report.setdefault("training", {})
    for number, script in enumerate(plan.training, start=1):
        about = minutes(script.estimate(plan.repeat))
        rep.say(f"  [{number}/{len(plan.training)}] {script.name}.py: {script.what} (~{about})")
        start = time.perf_counter()
        result = run_training_script(rep, script, plan.repeat, plan.threads)
        rep.say(f"    {script.name}.py took {minutes(time.perf_counter() - start)}")
        training.update(result)
        TRAINING_ROWS[script.name](rep, result)


def live_section(rep: Reporter, plan: Plan) -> None:
    """The live cells (issue 25) on a small site with the shipped models, served over http:
    the first answer after first use (runtime and model loaded), then answers while typing or
    drawing. tests/live_fixture.live_timings does the measuring; the tests assert none of it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.live_fixture import live_timings

    with rep.ticking("  live cells in Chromium", STEP_SECONDS["live cells"]):
        timings = live_timings(n_answers=5 if plan.quick else 20)
    rep.report["live"] = timings
    for kind, name in (("date", "06 type a date"), ("digit", "11 draw a digit")):
        rep.row(
            f"live {name}: first answer after first use", timings[f"{kind}_first_ms"], "ms", 3000
        )
        rep.row(f"  {name}: each answer (median)", timings[f"{kind}_answer_ms"], "ms", 100)
        rep.row(f"  {name}: each answer (slowest)", timings[f"{kind}_answer_max_ms"], "ms", 100)


SECTION_RUNNERS: dict[str, Callable[[Reporter, Plan], None]] = {
    "build": build_section,
    "lighthouse": lighthouse_section,
    "live": live_section,
    "notebooks": notebook_section,
    "training": training_section,
}


# --- the run ------------------------------------------------------------------------------


def describe(plan: Plan, estimates: dict[str, float]) -> list[str]:
    """The plan in words: what each section will measure, and roughly for how long."""
    n = plan.repeat
    details = {
        "build": f"{n} clean build(s), {n} no-op rebuild(s), {n} edit(s) of each kind of cell",
        "lighthouse": (
            "every page"
            if plan.lighthouse_pages is None
            else f"{plan.lighthouse_pages} pages (the intro and the heaviest)"
        )
        + f", {plan.lighthouse_repeat} run(s) each",
        "live": f"the date cell and the digit cell, {5 if plan.quick else 20} answers each",
        "notebooks": f"{len(chapters())} chapters, {n} run(s) each",
        "training": ", ".join(s.name.removeprefix("bench_") for s in plan.training)
        + f"; {n} seed(s) where a script takes --runs",
    }
    return [
        f"  {name:<10} ~{minutes(estimates[name]):>8}  {SECTION_TITLES[name]}: {details[name]}"
        for name in plan.sections
    ]


def print_table(rows: list[Row], heading: str, out: TextIO | None = None) -> None:
    """The whole table, with each row's target and verdict."""
    out = out or sys.stdout
    width = max([len("what"), *(len(r[0]) for r in rows)])
    print(f"\n{heading}\n", file=out)
    print(f"{'what':<{width}}  {'measured':>12}  {'target':>12}  verdict", file=out)
    print(f"{'-' * width}  {'-' * 12}  {'-' * 12}  -------", file=out)
    for what, value, target, verdict in rows:
        print(f"{what:<{width}}  {value:>12}  {target:>12}  {verdict}", file=out)
    out.flush()


def mutation_row(rep: Reporter) -> None:
    """The last `make mutate` score (tools/mutation_score.py writes it), if any: not re-run here."""
    path = ROOT / "_build" / "mutation.json"
    if not path.exists():
        rep.say("\nmutation score: no _build/mutation.json yet (run `make mutate`)")
        return
    result = json.loads(path.read_text())
    modules = ", ".join(result.get("modules", [])) or "concept modules"
    rep.row(f"mutation score, last `make mutate` ({modules})", result.get("score"), "%", 95, True)


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, tick_every: float | None = 30.0
) -> int:
    """Run the planned sections, reporting as they go; 0, or 1 if one failed, 130 if stopped."""
    plan = parse_args(argv)
    output = plan.output
    out = out or sys.stdout
    mode = "quick" if plan.quick else "full"
    report: dict = {
        "machine": machine(),
        "mode": mode,
        "repeat": plan.repeat,
        "lighthouse_repeat": plan.lighthouse_repeat,
        "torch_threads": plan.threads or "torch's default",
        "sections": list(plan.sections),
        "section_seconds": {},
    }
    rep = Reporter(report, out=out, tick_every=tick_every, output=output)
    pages = len(site_pages()) or expected_pages()
    estimates = plan.estimates(len(chapters()), pages)
    load = load_average()
    rep.say(f"make bench ({mode}) on {report['machine']}")
    rep.say(f"about {minutes(sum(estimates.values()))} in all on an idle machine:")
    for line in describe(plan, estimates):
        rep.say(line)
    threads = "torch's own choice" if plan.threads is None else str(plan.threads)
    rep.say(f"torch threads in the chapters and training scripts: {threads}")
    if load is not None:
        rep.say(f"load average now {load:.1f}" + (": expect longer" if load > 1 else ""))
        busy = load >= (os.cpu_count() or 1)
        if busy and plan.threads is None and {"notebooks", "training"} & set(plan.sections):
            # Measured at load 12 on 2 cores: chapter 06 took 221 s with torch's two threads
            # and 75 s with one; decoding 32 tokens, 7.7 s against 0.08 s on a quiet machine.
            rep.say(
                "  a busy machine: torch's threads wait on each other there, and the chapters "
                "and scripts that use them crawl; --threads 1 avoids that"
            )

    def stop(signum, frame):  # SIGTERM (a timeout, a killed job): stop as Ctrl-C does
        raise KeyboardInterrupt

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if in_main_thread else None
    failed: list[str] = []
    status = "complete"
    try:
        for name in plan.sections:
            rep.say(f"\n== {name}: {SECTION_TITLES[name]} (about {minutes(estimates[name])})")
            if name == "lighthouse" and (reason := lighthouse_missing()):
                rep.say(f"  skipped: {reason}")
                report.setdefault("skipped", {})[name] = reason
                continue
            start = time.perf_counter()
            try:
                SECTION_RUNNERS[name](rep, plan)
            except Exception as error:  # a failed section is reported; the others still run
                failed.append(name)
                detail = getattr(error, "stderr", None) or ""
                if isinstance(detail, bytes):
                    detail = detail.decode(errors="replace")
                rep.say(f"  {name} FAILED: {error}")
                for line in detail.strip().splitlines()[-15:]:
                    rep.say(f"    {line}")
            seconds = time.perf_counter() - start
            report["section_seconds"][name] = round(seconds, 1)
            rep.say(f"== {name} took {minutes(seconds)} (estimated {minutes(estimates[name])})")
            rep.save(complete=False)
    except KeyboardInterrupt:
        status = "stopped"
        rep.say("\nstopped: the table holds what was measured before")
    finally:
        if in_main_thread and previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if failed:
        report["failed"] = failed
    mutation_row(rep)
    runs = "one run per figure" if plan.repeat == 1 else f"median of {plan.repeat} runs"
    heading = f"make bench ({mode}, {runs}) on {report['machine']}"
    if status != "complete":
        heading += f" -- {status} early"
    if rep.rows:
        print_table(rep.rows, heading, out)
    rep.save(complete=status == "complete" and not failed)
    shown = output.relative_to(ROOT) if output.is_relative_to(ROOT) else output
    rep.say(f"\nwritten to {shown}")
    if failed:
        rep.say(f"sections that failed: {', '.join(failed)}")
    return 130 if status != "complete" else (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
