"""tools/mutation_score.py: the score `make mutate` prints from mutmut's verdicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import mutation_score  # noqa: E402

RESULTS = {
    "lessons_lib.softmax.x_softmax__mutmut_1": "killed",
    "lessons_lib.softmax.x_softmax__mutmut_2": "timeout",
    "lessons_lib.softmax.x_softmax__mutmut_3": "survived",
    "lessons_lib.masking.x_padding_mask__mutmut_1": "killed",
    "lessons_lib.masking.x_padding_mask__mutmut_2": "no tests",
    "lessons_lib.masking.x_padding_mask__mutmut_3": "survived",
    "lessons_lib.data.x_iso_date__mutmut_1": "survived",
}


def test_the_modules_are_those_pyproject_gives_mutmut():
    assert mutation_score.MODULES[:2] == ("softmax", "masking")
    assert "training" in mutation_score.MODULES
    assert all((ROOT / "lessons_lib" / f"{m}.py").exists() for m in mutation_score.MODULES)


def test_untested_and_surviving_mutants_count_against_the_score_and_equivalents_do_not():
    equivalent = {"lessons_lib.masking.x_padding_mask__mutmut_3"}
    summary = mutation_score.score(RESULTS, ("softmax", "masking"), equivalent)
    assert summary["mutants"] == 6  # the data module's mutant is not asked for
    assert summary["detected"] == 3  # two killed, one timed out
    assert summary["score"] == round(100 * 3 / 5, 1)  # 6 mutants, one equivalent
    assert summary["not_detected"] == [
        "lessons_lib.masking.x_padding_mask__mutmut_2",
        "lessons_lib.softmax.x_softmax__mutmut_3",
    ]
    assert summary["per_module"]["masking"] == {"killed": 1, "no tests": 1, "equivalent": 1}
    assert summary["per_module"]["softmax"] == {"killed": 1, "timeout": 1, "survived": 1}


def test_no_mutants_gives_no_score():
    assert mutation_score.score({}, ("softmax",), set())["score"] is None


def test_mutmut_may_run_every_test_written_for_a_mutant():
    """A tests/test_mutants_*.py file left out of [tool.mutmut]'s test selection kills nothing
    in `make mutate`: mutmut runs only the selected files."""
    import tomllib

    with (ROOT / "pyproject.toml").open("rb") as handle:
        selected = set(tomllib.load(handle)["tool"]["mutmut"]["pytest_add_cli_args_test_selection"])
    written = {f"tests/{path.name}" for path in (ROOT / "tests").glob("test_mutants_*.py")}
    assert written - selected == set()
    assert all((ROOT / path).exists() for path in selected)


def test_an_equivalent_entry_is_stale_once_its_mutant_makes_another_change(monkeypatch):
    """The entry names the added line; for a mutant that only removes a line, the removed one.
    A renumbered mutant that changes the same line shows it as removed too, so an entry for a
    removal must not match a mutant that adds a line."""
    shown = {
        "removal": "--- a\n+++ b\n-    eval_every=50,\n",
        "renumbered": "--- a\n+++ b\n-    eval_every=50,\n+    eval_every=51,\n",
        "rename": '--- a\n+++ b\n-    f("x")\n+    f("XXxXX")\n',
    }

    def fake_run(command, **kwargs):
        return subprocess.CompletedProcess(command, 0, stdout=shown[command[-1]], stderr="")

    monkeypatch.setattr(mutation_score.subprocess, "run", fake_run)
    monkeypatch.setattr(
        mutation_score,
        "EQUIVALENT",
        {
            "removal": ("eval_every=50,", "why"),
            "renumbered": ("eval_every=50,", "why"),
            "rename": ('f("XXxXX")', "why"),
        },
    )
    assert mutation_score.still_equivalent(["mutmut"], "removal")
    assert not mutation_score.still_equivalent(["mutmut"], "renumbered")
    assert mutation_score.still_equivalent(["mutmut"], "rename")
