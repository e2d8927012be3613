"""bench/run.py reports as it goes, and --quick plans less: checked without benchmarking.

Every measurement is stubbed, so nothing here builds, trains or times anything, and no
assertion depends on how fast this machine is.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_run", None)


@pytest.fixture
def reporter(bench, tmp_path):
    return bench.Reporter({}, out=io.StringIO(), tick_every=None, output=tmp_path / "b.json")


# --- the plan -----------------------------------------------------------------------------


def test_quick_lowers_every_count_and_every_estimate(bench):
    full, quick = bench.parse_args([]), bench.parse_args(["--quick"])
    assert (full.quick, quick.quick) == (False, True)
    assert (full.repeat, quick.repeat) == (3, 1)
    assert (full.lighthouse_repeat, quick.lighthouse_repeat) == (3, 1)
    assert full.lighthouse_pages is None  # every page
    assert quick.lighthouse_pages == 2
    assert full.training == bench.TRAINING_SCRIPTS
    assert set(quick.training) < set(full.training)
    assert all(script.quick for script in quick.training)
    # every training target is still measured quickly; only the sweeps without targets go
    names = {script.name for script in quick.training}
    assert {"bench_transformer", "bench_dates", "bench_vit"} <= names
    assert full.sections == quick.sections == bench.SECTIONS
    full_estimates, quick_estimates = full.estimates(10, 17), quick.estimates(10, 17)
    for name in bench.SECTIONS:
        assert 0 < quick_estimates[name] < full_estimates[name]
    assert sum(quick_estimates.values()) < 10 * 60  # the quick run's promise, by its own plan


def test_every_training_script_is_planned_and_has_its_rows(bench):
    on_disk = {path.stem for path in (ROOT / "bench").glob("bench_*.py")}
    assert {script.name for script in bench.TRAINING_SCRIPTS} == on_disk
    assert set(bench.TRAINING_ROWS) == on_disk


@pytest.mark.parametrize(
    ("argv", "sections"),
    [
        (["--only-lighthouse"], ("lighthouse",)),
        (["--skip-build", "--skip-lighthouse"], ("live", "notebooks", "training")),
        (["--section", "training", "--section", "build"], ("build", "training")),
        (["--quick", "--section", "notebooks"], ("notebooks",)),
    ],
)
def test_sections_are_chosen_and_kept_in_order(bench, argv, sections):
    assert bench.parse_args(argv).sections == sections


def test_explicit_counts_win_over_quick(bench):
    plan = bench.parse_args(["--quick", "--repeat", "2", "--lighthouse-repeat", "5"])
    assert (plan.repeat, plan.lighthouse_repeat, plan.lighthouse_pages) == (2, 5, 2)


@pytest.mark.parametrize(
    "argv", [["--repeat", "0"], ["--lighthouse-repeat", "-1"], ["--threads", "0"], ["--x"]]
)
def test_bad_arguments_are_refused(bench, argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        bench.parse_args(argv)
    assert stopped.value.code == 2
    if argv[0] != "--x":
        assert f"{argv[0]} must be at least 1, got {argv[1]}" in capsys.readouterr().err


def test_quick_lighthouse_takes_the_intro_and_the_heaviest_pages(bench, tmp_path):
    sizes = {"book/intro.html": 10, "book/a.html": 300, "book/b.html": 900, "search.html": 50}
    for page, size in sizes.items():
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text("x" * size)
    pages = sorted(sizes)
    assert bench.pick_pages(pages, 2, tmp_path) == ["book/intro.html", "book/b.html"]
    assert bench.pick_pages(pages, 3, tmp_path) == ["book/intro.html", "book/b.html", "book/a.html"]
    assert bench.pick_pages(pages, None, tmp_path) == pages


# --- rows, as they are measured -----------------------------------------------------------


def test_a_row_judges_its_target(bench, reporter):
    reporter.row("slow", 2.0, "s", 1.0)
    reporter.row("accurate", 0.95, "", 0.9, higher_is_better=True)
    reporter.row("missing", None, "s", 5)
    reporter.row("shown", 3.25, "ms", None)
    assert reporter.rows == [
        ("slow", "2 s", "<= 1 s", "MISSED"),
        ("accurate", "0.95", ">= 0.9", "met"),
        ("missing", "n/a", "5 s", "n/a"),
        ("shown", "3.25 ms", "-", ""),
    ]
    assert reporter.report == {"slow": 2.0, "accurate": 0.95, "shown": 3.25}
    printed = reporter.out.getvalue().splitlines()
    assert printed[0] == "  slow: 2 s   (target <= 1 s: MISSED)"
    assert printed[3] == "  shown: 3.25 ms"


def test_each_chapter_row_is_printed_before_the_next_chapter_runs(bench, reporter, monkeypatch):
    printed_before: dict[str, str] = {}

    def fake_timings(path, repeat, on_run, threads):
        assert threads == 4
        printed_before[path.stem] = reporter.out.getvalue()
        for run in range(repeat):
            on_run(run, 1.5 + run)
        return {"seconds": 2.5, "widget_times": {"1: an explorer": [0.01, 0.03, 0.02]}}

    monkeypatch.setattr(bench, "chapters", lambda: [Path("01_a.ipynb"), Path("02_b.ipynb")])
    monkeypatch.setattr(bench, "chapter_timings", fake_timings)
    bench.notebook_section(reporter, bench.parse_args(["--repeat", "2", "--threads", "4"]))

    assert "notebook 01_a" not in printed_before["01_a"]
    assert "  notebook 01_a: 2.5 s   (target <= 20 s: met)" in printed_before["02_b"]
    assert "[1/2] notebook 01_a, run 2/2: 2.5 s" in printed_before["02_b"]
    assert "explorer 1: an explorer: median: 20 ms" in printed_before["02_b"]
    whats = [row[0] for row in reporter.rows]
    assert whats[-2:] == ["all widget updates together, median", "all widget updates together, p95"]
    assert reporter.rows[-2][1] == "20 ms"  # the median of 10, 30, 20, 10, 30, 20 ms


def test_each_training_script_reports_before_the_next_starts(bench, reporter, monkeypatch):
    printed_before: dict[str, str] = {}
    results = {
        "bench_transformer": {"transformer_accuracy": 0.995, "cache_speedup_64": 2.0},
        "bench_dates": {},  # as a script that failed: its rows read n/a
        "bench_vit": {"vit_seconds_to_target": 12.0, "vit_accuracy": 0.96},
        "bench_rnn": {"rnn_lengths": [16], "rnn_d64_gru_ms": [0.3], "rnn_d64_attention_ms": [0.2]},
    }

    def fake_script(rep, script, runs, threads):
        assert (runs, threads) == (1, None)
        printed_before[script.name] = rep.out.getvalue()
        return results[script.name]

    monkeypatch.setattr(bench, "run_training_script", fake_script)
    bench.training_section(reporter, bench.parse_args(["--quick"]))

    assert list(printed_before) == list(results)  # the quick plan, in order
    assert "toy Transformer: test accuracy: 0.995" in printed_before["bench_dates"]
    assert "date model: test accuracy: n/a" in printed_before["bench_vit"]
    assert "small ViT: test accuracy: 0.96" in printed_before["bench_rnn"]
    assert ("GRU vs self-attention, d=64, 16 tokens: GRU", "0.3 ms", "-", "") in reporter.rows
    assert reporter.report["training"]["vit_accuracy"] == 0.96


def test_a_script_is_echoed_line_by_line_and_its_json_kept(bench, reporter, monkeypatch, tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "bench_ok.py").write_text(
        "import json, os, sys\n"
        "print('seed 0: done')\n"
        "threads = os.environ.get('OMP_NUM_THREADS')\n"
        "print(json.dumps({'answer': 42, 'runs': int(sys.argv[2]), 'threads': threads}))\n"
    )
    (tmp_path / "bench" / "bench_broken.py").write_text("print('half way')\nraise SystemExit(3)\n")
    monkeypatch.setattr(bench, "ROOT", tmp_path)

    ok = bench.TrainingScript("bench_ok", "a stand-in", 1, 0, True)
    found = bench.run_training_script(reporter, ok, 4, threads=1)
    assert found == {"answer": 42, "runs": 4, "threads": "1"}
    broken = bench.TrainingScript("bench_broken", "a stand-in", 1, 0, True)
    assert bench.run_training_script(reporter, broken, 1) == {}
    printed = reporter.out.getvalue()
    assert "    seed 0: done\n" in printed
    assert "answer" not in printed  # the JSON line goes into the report, not the screen
    assert "    half way\n" in printed
    assert "bench_broken.py gave no result (exit status 3)" in printed


def test_the_build_section_times_each_edit_and_puts_the_chapter_back(
    bench, reporter, monkeypatch, tmp_path
):
    chapter = tmp_path / "book" / "05_x.ipynb"
    chapter.parent.mkdir()
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title"]},
        {"cell_type": "code", "metadata": {}, "source": ["x = 1"], "outputs": []},
    ]
    original = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    chapter.write_text(original)
    builds: list[tuple[str, str]] = []  # (what ran, the chapter's last cells when it ran)

    def fake_timed(command, env=None):
        if not (tmp_path / "_build").exists():  # a clean build leaves a site behind
            (tmp_path / "_build" / "html").mkdir(parents=True, exist_ok=True)
        sources = [cell["source"][-1] for cell in json.loads(chapter.read_text())["cells"]]
        builds.append((" ".join(command[-2:]), " | ".join(sources)))
        return 1.0 + len(builds) / 100

    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.setattr(bench, "chapters", lambda: [chapter])
    monkeypatch.setattr(bench, "timed", fake_timed)
    bench.build_section(reporter, bench.parse_args(["--repeat", "2"]))

    assert chapter.read_text() == original
    edited = [(what, cells) for what, cells in builds if what == "make book"]
    assert [cells for _, cells in edited] == [
        "# Title | x = 1",  # the two no-op `make book` runs
        "# Title | x = 1",
        "# Title (edited 0) | x = 1",
        "# Title (edited 1) | x = 1",
        "# Title | x = 1",  # put back, rebuilt untimed
        "# Title | x = 1  # edited 0",
        "# Title | x = 1  # edited 1",
        "# Title | x = 1",
    ]
    whats = [row[0] for row in reporter.rows]
    assert whats == [
        "clean book build",
        "rebuild, nothing changed (jupyter-book)",
        "rebuild, nothing changed (make book)",
        "make book after editing a markdown cell of 05_x",
        "make book after editing a code cell of 05_x",
    ]
    # the markdown edits were builds 7 and 8 (2 clean, 2 no-op each way): median 1.075 s
    assert reporter.report["make book after editing a markdown cell of 05_x"] == pytest.approx(
        1.075
    )
    printed = reporter.out.getvalue()
    assert printed.index("clean build 2/2: 1.0 s") < printed.index("  clean book build: 1.02 s")


# --- the whole run ------------------------------------------------------------------------


def stub_training(bench, monkeypatch, stop_at: str | None = None):
    def fake_script(rep, script, runs, threads):
        if script.name == stop_at:
            raise KeyboardInterrupt
        return {"transformer_accuracy": 0.99} if script.name == "bench_transformer" else {}

    monkeypatch.setattr(bench, "run_training_script", fake_script)


def test_the_plan_comes_first_and_the_table_and_json_last(bench, monkeypatch, tmp_path):
    stub_training(bench, monkeypatch)
    out, output = io.StringIO(), tmp_path / "bench.json"
    argv = ["--quick", "--section", "training", "--output", str(output)]
    code = bench.main(argv, out, tick_every=None)
    printed = out.getvalue()

    assert code == 0
    plan_at = printed.index("make bench (quick) on ")
    first_row_at = printed.index("  toy Transformer: test accuracy: 0.99")
    table_at = printed.index("make bench (quick, one run per figure)")
    assert plan_at < printed.index("  training ") < first_row_at < table_at
    assert "bench_warmup" not in printed  # not in the quick plan
    written = json.loads(output.read_text())
    assert written["complete"] is True
    assert written["mode"] == "quick"
    assert written["sections"] == ["training"]
    assert {"what": "toy Transformer: test accuracy", "measured": "0.99"}.items() <= written[
        "rows"
    ][1].items()
    assert set(written["section_seconds"]) == {"training"}


def test_a_stopped_run_keeps_what_it_measured(bench, monkeypatch, tmp_path):
    stub_training(bench, monkeypatch, stop_at="bench_vit")
    out, output = io.StringIO(), tmp_path / "bench.json"
    argv = ["--quick", "--section", "training", "--output", str(output)]
    code = bench.main(argv, out, tick_every=None)

    assert code == 130
    assert "stopped early" in out.getvalue()
    written = json.loads(output.read_text())
    assert written["complete"] is False
    whats = [row["what"] for row in written["rows"]]
    assert "toy Transformer: test accuracy" in whats  # measured before the stop
    assert "date model: test accuracy" in whats
    assert "small ViT: test accuracy" not in whats


def test_a_failed_section_is_reported_and_the_rest_still_runs(bench, monkeypatch, tmp_path):
    def broken(rep, plan):
        raise RuntimeError("the kernel died")

    monkeypatch.setitem(bench.SECTION_RUNNERS, "notebooks", broken)
    stub_training(bench, monkeypatch)
    out, output = io.StringIO(), tmp_path / "bench.json"
    argv = ["--quick", "--section", "notebooks", "--section", "training", "--output", str(output)]
    code = bench.main(argv, out, tick_every=None)

    assert code == 1
    assert "notebooks FAILED: the kernel died" in out.getvalue()
    written = json.loads(output.read_text())
    assert written["failed"] == ["notebooks"]
    assert written["complete"] is False
    assert any(row["what"] == "toy Transformer: test accuracy" for row in written["rows"])
