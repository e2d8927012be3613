"""`make bench`: how fast the book builds, runs and responds. Prints one table.

Every figure is the median of several runs (``--repeat``, default 3) on this
machine; the table's header names the machine. Results also go to
``_build/bench.json``. Targets are reported, never asserted: a missed target
shows as "MISSED" and does not fail anything.

    python bench/run.py [--repeat N] [--skip-build] [--skip-lighthouse] [--only-lighthouse]

Lighthouse (12.2.3, pinned in tools/vendor; mobile preset, its default) measures every page
of the built book, served gzip-compressed from 127.0.0.1 as GitHub Pages serves it, in the
Chromium at ``CHROME_PATH`` (default /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUILD_ENV = {
    **os.environ,
    "LESSONS_STATIC_WIDGETS": "1",
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
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


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def timed(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env or BUILD_ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def chapters() -> list[Path]:
    return sorted((ROOT / "book").glob("*.ipynb"))


def chapter_timings(path: Path, repeat: int) -> dict:
    """Median execution time of a chapter, and its widgets' update times (live path)."""
    seconds: list[float] = []
    widget_times: dict[str, list[float]] = {}
    for _ in range(repeat):
        notebook = nbformat.read(path, as_version=4)
        notebook.cells.append(nbformat.v4.new_code_cell(WIDGET_PROBE))
        client = NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        live_env = {k: v for k, v in os.environ.items() if k != "LESSONS_STATIC_WIDGETS"}
        # The live path, as in Jupyter and Colab; the kernel's own log lines are not wanted here.
        with client.setup_kernel(env=live_env, stderr=subprocess.DEVNULL):
            start = time.perf_counter()
            for index, cell in enumerate(notebook.cells[:-1]):
                client.execute_cell(cell, index)
            seconds.append(time.perf_counter() - start)
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


def training_results(repeat: int) -> dict:
    """Run each bench/bench_*.py (median over ``repeat`` seeds); merge their JSON lines."""
    results: dict = {}
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        completed = subprocess.run(
            [sys.executable, str(script), "--runs", str(repeat)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,  # a missed target is reported in the table, never an error
        )
        results.update(json.loads(completed.stdout.strip().splitlines()[-1]))
    return results


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


def site_pages() -> list[str]:
    return sorted(
        path.relative_to(SITE).as_posix()
        for path in SITE.rglob("*.html")
        if not path.relative_to(SITE).parts[0].startswith("_")
        and 'http-equiv="refresh"' not in path.read_text(encoding="utf-8").lower()
    )


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


def lighthouse_results(repeat: int) -> dict[str, dict]:
    """The median of ``repeat`` Lighthouse runs for every page of the built book."""
    handler = functools.partial(CompressingHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    results = {}
    try:
        for page in site_pages():
            runs = [lighthouse_page(base + page) for _ in range(repeat)]
            median = {
                key: statistics.median(run[key] for run in runs)
                for key in runs[0]
                if key != "errors"
            }
            median["console_errors"] = max(len(run["errors"]) for run in runs)
            results[page] = median
    finally:
        server.shutdown()
        server.server_close()
    return results


def timed_edit(path: Path, edit, command: list[str]) -> float:
    """Time ``command`` after editing ``path``; then put the file back and rebuild (untimed)."""
    original = path.read_bytes()
    try:
        path.write_bytes(edit(original))
        return timed(command)
    finally:
        path.write_bytes(original)
        timed(command)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--skip-build", action="store_true", help="skip the build timings")
    parser.add_argument("--skip-lighthouse", action="store_true", help="skip Lighthouse")
    parser.add_argument(
        "--only-lighthouse", action="store_true", help="only Lighthouse, on the built book"
    )
    args = parser.parse_args()
    rows: list[tuple[str, str, str, str]] = []  # (what, measured, target, verdict)
    report: dict = {"machine": machine(), "repeat": args.repeat}

    def row(
        what: str, value: float | None, unit: str, target: float | None, higher_is_better=False
    ):
        if target is None:  # shown for information, with no target
            rows.append((what, f"{value:.3g} {unit}", "-", ""))
            report[what] = value
            return
        if value is None:
            rows.append((what, "n/a", f"{target:g} {unit}", "n/a"))
            return
        met = value >= target if higher_is_better else value <= target
        sign = ">=" if higher_is_better else "<="
        rows.append(
            (what, f"{value:.3g} {unit}", f"{sign} {target:g} {unit}", "met" if met else "MISSED")
        )
        report[what] = value

    if not args.skip_build and not args.only_lighthouse:
        # As `make book` runs it: incremental, with the execution cache (tools/build_book.py).
        jupyter_book = [sys.executable, "tools/build_book.py", ".", "--keep-going", "-W", "-n"]
        clean = []
        for _ in range(args.repeat):
            shutil.rmtree(ROOT / "_build", ignore_errors=True)  # the execution cache too
            clean.append(timed([*jupyter_book, "--execute", "cache"]))
        row("clean book build", statistics.median(clean), "s", 45)
        (ROOT / "_build" / "html" / ".built").touch()
        rebuild = [timed([*jupyter_book]) for _ in range(args.repeat)]
        row("rebuild, nothing changed (jupyter-book)", statistics.median(rebuild), "s", 10)
        make_noop = [timed(["make", "book"]) for _ in range(args.repeat)]
        row("rebuild, nothing changed (make book)", statistics.median(make_noop), "s", 10)
        chapter = chapters()[len(chapters()) // 2]
        for kind, what in (("markdown", "a markdown cell"), ("code", "a code cell")):
            edits = [
                timed_edit(chapter, edit_cell(kind, run), ["make", "book"])
                for run in range(args.repeat)
            ]
            row(
                f"make book after editing {what} of {chapter.stem}",
                statistics.median(edits),
                "s",
                20,
            )

    if not args.skip_lighthouse:
        pages = lighthouse_results(args.repeat)
        report["lighthouse"] = pages
        for page, figures in pages.items():
            name = page.removeprefix("book/").removesuffix(".html")
            row(f"lighthouse {name}: performance", figures["performance"], "", 0.9, True)
            row(f"  {name}: accessibility", figures["accessibility"], "", 1.0, True)
            row(f"  {name}: best practices", figures["best-practices"], "", 0.95, True)
            row(f"  {name}: largest contentful paint", figures["lcp_s"], "s", None)
            row(f"  {name}: total blocking time", figures["tbt_ms"], "ms", None)
            row(f"  {name}: cumulative layout shift", figures["cls"], "", None)
            row(f"  {name}: transferred", figures["kb"], "KiB", None)
            row(f"  {name}: console errors", figures["console_errors"], "", 0)
    if args.only_lighthouse:
        print_table(rows, report, args.repeat)
        return

    all_widget_times: list[float] = []
    for path in chapters():
        result = chapter_timings(path, args.repeat)
        row(f"notebook {path.stem}", result["seconds"], "s", 20)
        for explorer, times in result["widget_times"].items():
            times_ms = [t * 1000 for t in times]
            all_widget_times += times_ms
            row(f"  explorer {explorer}: median", statistics.median(times_ms), "ms", 50)
            row(f"  explorer {explorer}: p95", percentile(times_ms, 0.95), "ms", None)
    if all_widget_times:
        row("all widget updates together, median", statistics.median(all_widget_times), "ms", 50)
        row("all widget updates together, p95", percentile(all_widget_times, 0.95), "ms", None)

    training = training_results(args.repeat)
    report["training"] = training
    # Training stops on the validation split; the targets refer to the test split, scored once.
    row(
        "toy Transformer: seconds to 99% (test)",
        training.get("transformer_seconds_to_target"),
        "s",
        20,
    )
    row("toy Transformer: test accuracy", training.get("transformer_accuracy"), "", 0.99, True)
    row("date model: seconds to 99% (test)", training.get("dates_seconds_to_target"), "s", 30)
    row("date model: test accuracy", training.get("dates_accuracy"), "", 0.99, True)
    row("small ViT: seconds to 95% (test)", training.get("vit_seconds_to_target"), "s", 30)
    row("small ViT: test accuracy", training.get("vit_accuracy"), "", 0.95, True)
    row("KV cache speed-up, 64-token decode", training.get("cache_speedup_64"), "x", 1.0, True)
    # Chapter 10's full ViT-against-CNN sweep (bench/bench_vit_vs_cnn.py): mean test accuracy.
    for model, by_size in training.get("vit_vs_cnn", {}).items():
        for size, values in by_size.items():
            mean = sum(values) / len(values)
            row(f"{model}, {size} training digits: test accuracy", mean, "", None)
    # Chapter 09 with more seeds (bench/bench_position_codes.py): each kind of position code
    # on the digits (mean, and its gap to none with a 95% interval), and stretched codes.
    for kind, values in training.get("position_codes", {}).items():
        mean = sum(values) / len(values)
        row(f"position codes, {kind}: digits test accuracy ({len(values)} seeds)", mean, "", None)
    for kind, (gap, half) in training.get("position_gaps", {}).items():
        row(f"  {kind} minus none (± 95% interval {half:.3f})", gap, "", None)
    for label, pairs in training.get("position_stretch", {}).items():
        after = [pair[1] for pair in pairs]
        mean = sum(after) / len(after)
        row(f"{label}: accuracy after (mean of {len(after)} seeds)", mean, "", None)
    # Chapter 01: GRU against self-attention (bench/bench_rnn.py), shown without targets.
    widths = [k[len("rnn_d") : -len("_gru_ms")] for k in training if k.endswith("_gru_ms")]
    for width in sorted(widths, key=int):
        gru_ms = training[f"rnn_d{width}_gru_ms"]
        attention_ms = training[f"rnn_d{width}_attention_ms"]
        for n, gru, attention in zip(training["rnn_lengths"], gru_ms, attention_ms):
            row(f"GRU vs self-attention, d={width}, {n} tokens: GRU", gru, "ms", None)
            row(f"  d={width}, {n} tokens: self-attention", attention, "ms", None)
    # Chapter 05: post-norm vs pre-norm, with and without warm-up (bench/bench_warmup.py):
    # the mean final training loss over the seeds, shown without targets.
    for lr, by_setting in training.get("warmup_final_losses", {}).items():
        for setting, values in by_setting.items():
            mean = sum(values) / len(values)
            row(f"warm-up, lr={lr}, {setting}: final loss ({len(values)} seeds)", mean, "", None)

    print_table(rows, report, args.repeat)


def print_table(rows: list[tuple[str, str, str, str]], report: dict, repeat: int) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"\nmake bench on {report['machine']} (median of {repeat} runs)\n")
    print(f"{'what':<{width}}  {'measured':>12}  {'target':>12}  verdict")
    print(f"{'-' * width}  {'-' * 12}  {'-' * 12}  -------")
    for what, value, target, verdict in rows:
        print(f"{what:<{width}}  {value:>12}  {target:>12}  {verdict}")
    report["rows"] = [dict(zip(("what", "measured", "target", "verdict"), r)) for r in rows]
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "bench.json").write_text(json.dumps(report, indent=2))
    print("\nwritten to _build/bench.json")


if __name__ == "__main__":
    main()
