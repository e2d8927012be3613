"""tools/build_book.py: jupyter-cache runs what changed, stops on a failing chapter, and the
hash of the execution inputs follows their contents."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("jupyter_book")  # the build's own environment; the ipywidgets 7 one has none

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402
import export_live_models  # noqa: E402
from inputs_hash import digest  # noqa: E402
from jupyter_cache import get_cache  # noqa: E402


def notebook(path: Path, *sources: str) -> Path:
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_runs_what_changed_and_only_that(tmp_path, capsys):
    one = notebook(tmp_path / "one.ipynb", "print(1 + 1)")
    two = notebook(tmp_path / "two.ipynb", "x = 3", "print(x * 2)")
    cache = tmp_path / "cache"
    assert build_book.execute([one, two], cache, timeout=60) == 0
    executed = {record.uri: record.pk for record in get_cache(str(cache)).list_cache_records()}
    assert set(executed) == {str(one), str(two)}
    bundle = get_cache(str(cache)).get_cache_bundle(executed[str(two)])
    assert bundle.nb.cells[1].outputs[0]["text"] == "6\n"
    notebook(two, "x = 4", "print(x * 2)")  # an edited code cell
    assert build_book.execute([one, two], cache, timeout=60) == 0
    again = {record.uri: record.pk for record in get_cache(str(cache)).list_cache_records()}
    assert again[str(one)] == executed[str(one)], "an unchanged chapter ran again"
    newest = get_cache(str(cache)).get_cache_bundle(max(again.values()))
    assert newest.nb.cells[1].outputs[0]["text"] == "8\n"


def test_a_failing_chapter_stops_the_build_with_its_traceback(tmp_path, capsys):
    good = notebook(tmp_path / "good.ipynb", "1")
    bad = notebook(tmp_path / "bad.ipynb", "raise ValueError('the reason')")
    assert build_book.execute([good, bad], tmp_path / "cache", timeout=60) == 1
    printed = capsys.readouterr().out
    assert f"{bad} failed" in printed and "the reason" in printed
    assert f"{good} failed" not in printed


def test_force_runs_everything_afresh(tmp_path):
    one = notebook(tmp_path / "one.ipynb", "import random; print(random.random())")
    cache = tmp_path / "cache"
    assert build_book.execute([one], cache, timeout=60) == 0
    first = get_cache(str(cache)).list_cache_records()[0]
    assert build_book.execute([one], cache, timeout=60, force=True) == 0
    (second,) = get_cache(str(cache)).list_cache_records()
    assert second.created > first.created


def test_the_execution_hash_follows_contents_and_environment(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1")
    before = digest(tmp_path, ["pkg"], ["LESSONS_TEST_VARIABLE"])
    assert digest(tmp_path, ["pkg"], ["LESSONS_TEST_VARIABLE"]) == before
    (tmp_path / "pkg" / "a.py").write_text("x = 2")
    edited = digest(tmp_path, ["pkg"], ["LESSONS_TEST_VARIABLE"])
    assert edited != before
    monkeypatch.setenv("LESSONS_TEST_VARIABLE", "1")
    with_variable = digest(tmp_path, ["pkg"], ["LESSONS_TEST_VARIABLE"])
    assert with_variable != edited
    (tmp_path / "pkg" / "__pycache__").mkdir()  # bytecode is not an input
    (tmp_path / "pkg" / "__pycache__" / "a.pyc").write_bytes(b"\0")
    assert digest(tmp_path, ["pkg"], ["LESSONS_TEST_VARIABLE"]) == with_variable


def test_the_build_script_patches_no_other_package():
    source = (ROOT / "tools" / "build_book.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) < 100  # one short module: execute, then render
    for patched in ("monkeypatch", "_slowest_first", "build_sphinx =", "make_chunks", ".setup ="):
        assert patched not in source


def test_no_export_starts_while_the_cached_one_is_current(monkeypatch, tmp_path):
    monkeypatch.setattr(export_live_models, "cached_exports", lambda: {"a": tmp_path})
    assert export_live_models.start_export() is None
    assert export_live_models.finish_export(None) == 0


def child(code: str) -> subprocess.Popen:
    command = [sys.executable, "-c", code]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_finished_export_shows_its_summary_lines_only(capsys):
    done = child("print('loading'); print('export_live_models: date_model.onnx, 265 KiB')")
    assert export_live_models.finish_export(done) == 0
    assert capsys.readouterr().out == "export_live_models: date_model.onnx, 265 KiB\n"


def test_a_failed_export_fails_the_build_with_its_last_lines(capsys):
    failed = child("print('onnxruntime differs from torch by 0.3'); raise SystemExit(3)")
    assert export_live_models.finish_export(failed) == 1
    out = capsys.readouterr().out
    assert "tools/export_live_models.py failed" in out
    assert "onnxruntime differs from torch by 0.3" in out


def test_the_chinese_build_beside_the_english_shows_its_output_and_copies_only_on_success(
    capsys, monkeypatch
):
    copied = []
    monkeypatch.setattr(build_book.zh_book, "copy_site", lambda: copied.append(True) or 0)
    failed = child("print('02_softmax.po: a message KaTeX cannot render'); raise SystemExit(1)")
    assert build_book.zh_book.finish_build(failed) == 1
    out = capsys.readouterr().out
    assert "02_softmax.po: a message KaTeX cannot render" in out
    assert "the Chinese build failed (exit 1)" in out
    assert not copied
    assert build_book.zh_book.finish_build(child("print('rendered')")) == 0
    assert capsys.readouterr().out == "rendered\n"
    assert copied == [True]


def test_the_chinese_child_waits_for_the_chapters_and_stops_without_them(capsys, monkeypatch):
    copied = []
    monkeypatch.setattr(build_book.zh_book, "copy_site", lambda: copied.append(True) or 0)
    chinese = build_book.zh_book.start_build(["--keep-going"])  # loads its libraries, waits
    assert chinese.poll() is None
    build_book.zh_book.go_on(chinese, go=False)  # the chapters failed: nothing to render
    assert build_book.zh_book.finish_build(chinese) == 1
    out = capsys.readouterr().out
    assert "stopped before rendering: the chapters' run is not in the cache" in out
    assert not copied
    gone = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE)
    gone.wait()
    build_book.zh_book.go_on(gone)  # a child that has already stopped: no BrokenPipeError


def test_running_the_chapters_leaves_other_packages_info_logs_quiet(tmp_path):
    # After the chapters ran, Sphinx renders in the same process, and fontTools (cutting
    # KaTeX's fonts) logs every glyph at INFO: that must not reach the build's output.
    one = notebook(tmp_path / "one.ipynb", "print(1)")
    code = (
        f"import logging, sys; sys.path.insert(0, {str(ROOT / 'tools')!r}); import build_book; "
        f"from pathlib import Path; "
        f"rc = build_book.execute([Path({str(one)!r})], Path({str(tmp_path / 'cache')!r}), 60); "
        "logging.getLogger('fontTools.subset').info('glyph noise'); print('rc', rc)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "rc 0" in done.stdout
    assert "build_book: Executing 1 notebook(s)" in done.stderr  # the build's own lines stay
    assert "glyph noise" not in done.stdout + done.stderr
