"""`make bench`: how fast the book builds, runs and responds. Prints one table.

Every figure is the median of several runs (``--repeat``, default 3) on this
machine; the table's header names the machine. Results also go to
``_build/bench.json``. Targets are reported, never asserted: a missed target
shows as "MISSED" and does not fail anything.

    python bench/run.py [--repeat N] [--skip-build]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

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
from lessons_lib.widgets.core import Explorer as _Explorer, control_options as _options
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--skip-build", action="store_true", help="skip the two build timings")
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

    if not args.skip_build:
        jupyter_book = [sys.executable, "tools/build_book.py", ".", "--keep-going"]  # as make book
        clean = []
        for _ in range(args.repeat):
            shutil.rmtree(ROOT / "_build", ignore_errors=True)
            clean.append(timed([*jupyter_book, "--all"]))
        row("clean book build", statistics.median(clean), "s", 90)
        (ROOT / "_build" / "html" / ".built").touch()
        rebuild = [timed([*jupyter_book]) for _ in range(args.repeat)]
        row("rebuild, nothing changed (jupyter-book)", statistics.median(rebuild), "s", 10)
        make_noop = [timed(["make", "book"]) for _ in range(args.repeat)]
        row("rebuild, nothing changed (make book)", statistics.median(make_noop), "s", 10)

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
    row("toy Transformer: seconds to 99%", training.get("transformer_seconds_to_target"), "s", 20)
    row("toy Transformer: held-out accuracy", training.get("transformer_accuracy"), "", 0.99, True)
    row("small ViT: seconds to 95%", training.get("vit_seconds_to_target"), "s", 30)
    row("small ViT: test accuracy", training.get("vit_accuracy"), "", 0.95, True)
    row("KV cache speed-up, 64-token decode", training.get("cache_speedup_64"), "x", 1.0, True)

    width = max(len(r[0]) for r in rows)
    print(f"\nmake bench on {report['machine']} (median of {args.repeat} runs)\n")
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
