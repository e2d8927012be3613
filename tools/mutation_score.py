"""The mutation score of the concept modules, from the results of mutmut (``make mutate``).

    make mutate                      # mutmut run, then this script
    make mutate MUTATE="softmax data"  # some modules only
    .venv/bin/python tools/mutation_score.py [--modules softmax data] [--fail-under 95]
                                     [--json _build/mutation.json]

mutmut (PyPI, pinned in ``requirements-mutate.txt``; configured under ``[tool.mutmut]`` in
``pyproject.toml``) plants one small change at a time in a copy of the package under
``mutants/`` and runs the unit tests that cover the changed function. This script reads its
verdicts through its own command, ``mutmut results --all true``, and prints, module by module:

- *killed*: a test failed (a mutant that runs past mutmut's time limit, or that the type check
  refuses, counts as killed too);
- *survived*: every test that covers the function passed;
- *no tests*: no selected test calls the function, so nothing could fail.

The score is killed / (mutants - :data:`EQUIVALENT`): a mutant that no test covers counts
against it, as a survivor does. :data:`EQUIVALENT` names the survivors that no test can
kill, each with its change and why.
``mutmut show NAME`` prints a survivor's change.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def configured_modules() -> tuple[str, ...]:
    """The modules pyproject.toml's ``[tool.mutmut]`` mutates: ``("softmax", "masking", ...)``."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        paths = tomllib.load(handle)["tool"]["mutmut"]["source_paths"]
    return tuple(Path(path).stem for path in paths)


MODULES = configured_modules()
DETECTED = ("killed", "timeout", "caught by type check")
# Survivors that no test can tell from the original: mutant name -> (its changed line, as
# `mutmut show NAME` prints it, and why). A name whose change is no longer that line (the
# function was edited, so mutmut numbered its mutants anew) is stale and counts again.
_LENGTH_NAME = (
    "padding_mask's require_int('length', n) sits in a try whose except clause raises its own "
    "message, so the name never reaches the reader"
)
_INT_DTYPE = (
    "the values are Python ints (require_int made them so), which torch.tensor stores as int64 "
    "anyway; an empty list is refused before the tensor is used"
)
_CPU_ONLY = (
    "it changes only which device a tensor or generator is on: equivalent where make mutate "
    "runs, with no GPU; a GPU machine could tell it"
)
_IN_RANGE = (
    "the confidences were checked to lie in [0, 1], so ceil(confidence * bins) - 1 is at most "
    "bins - 1 and the upper clamp never acts"
)
EQUIVALENT: dict[str, tuple[str, str]] = {
    "lessons_lib.masking.x_padding_mask__mutmut_19": ("require_int(None, n)", _LENGTH_NAME),
    "lessons_lib.masking.x_padding_mask__mutmut_23": ('require_int("XXlengthXX", n)', _LENGTH_NAME),
    "lessons_lib.masking.x_padding_mask__mutmut_24": ('require_int("LENGTH", n)', _LENGTH_NAME),
    "lessons_lib.masking.x_padding_mask__mutmut_28": (
        "torch.tensor(values, dtype=None)",
        _INT_DTYPE,
    ),
    "lessons_lib.masking.x_padding_mask__mutmut_30": ("torch.tensor(values, )", _INT_DTYPE),
    "lessons_lib.patching.x_patch_grid__mutmut_27": (
        "range(1, size + 2)",
        "the one candidate it adds, size + 1, never divides size, so the message lists the "
        "same divisors",
    ),
    "lessons_lib.decoding.x_greedy_choice__mutmut_3": (
        "argmax(dim=+1)",
        "the logits were checked to be (batch, vocab), whose axis +1 is axis -1",
    ),
    "lessons_lib.decoding.x_sampling_choice__mutmut_31": (
        "torch.Generator(device=None)",
        _CPU_ONLY,
    ),
    "lessons_lib.metrics.x_expected_calibration_error__mutmut_68": ("clamp(0, None)", _IN_RANGE),
    "lessons_lib.metrics.x_expected_calibration_error__mutmut_70": ("clamp(0, )", _IN_RANGE),
    "lessons_lib.metrics.x_expected_calibration_error__mutmut_76": (
        "clamp(0, bins + 1)",
        _IN_RANGE,
    ),
    "lessons_lib.vit.xǁViTǁ_check_images__mutmut_30": (
        "images.shape[+2:]",
        "images were checked to have 4 dimensions, whose last two are [2:] as well as [-2:]",
    ),
    "lessons_lib.vit.xǁViTǁembed__mutmut_11": (
        "expand(patches.shape[0], +1, -1)",
        "the class token is (1, 1, d): expanding its middle axis to 1 or keeping it (-1) is one",
    ),
    "lessons_lib.decoding.x__check_next_token_probabilities__mutmut_28": (
        "_check_top_p(None)",
        "next_token_probabilities hands top_p to nucleus, whose own check refuses a bad one with "
        "the same message",
    ),
    "lessons_lib.metrics.x_expected_calibration_error__mutmut_82": (
        "torch.bincount(index, )",
        "only counts.sum() is read, the number of predictions, whatever the vector's length",
    ),
    "lessons_lib.vit.x_stretch_positions__mutmut_38": ("fork_rng(devices=None)", _CPU_ONLY),
    "lessons_lib.vit.x_stretch_positions__mutmut_104": ("to(device=None, dtype", _CPU_ONLY),
    "lessons_lib.vit.x_stretch_positions__mutmut_106": (
        "stretched.to(dtype=weight.dtype)",
        _CPU_ONLY,
    ),
}


def still_equivalent(mutmut: list[str], name: str) -> bool:
    """Whether mutant ``name`` still makes the change :data:`EQUIVALENT` describes."""
    shown = subprocess.run([*mutmut, "show", name], cwd=ROOT, capture_output=True, text=True)
    added = [line for line in shown.stdout.splitlines() if line.startswith("+ ")]
    return any(EQUIVALENT[name][0] in line for line in added)


def read_results(mutmut: list[str]) -> dict[str, str]:
    """``{mutant name: status}`` from ``mutmut results --all true``, run in the repository."""
    done = subprocess.run(
        [*mutmut, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"mutmut results failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    results = {}
    for line in done.stdout.splitlines():
        name, colon, status = line.strip().rpartition(": ")
        if colon and name.startswith("lessons_lib."):
            results[name] = status
    return results


def module_of(name: str) -> str:
    """``"lessons_lib.softmax.x_softmax__mutmut_3"`` -> ``"softmax"``."""
    return name.split(".")[1]


def score(
    results: dict[str, str], modules: tuple[str, ...], equivalent: set[str]
) -> dict[str, object]:
    """Counts per module and in all, the score, and the survivors, for ``modules``;
    ``equivalent``: the survivors of :data:`EQUIVALENT` that still make their change."""
    chosen = {name: status for name, status in results.items() if module_of(name) in modules}
    per_module = {}
    for module in modules:
        counts = Counter(
            "equivalent" if name in equivalent else status
            for name, status in chosen.items()
            if module_of(name) == module
        )
        per_module[module] = dict(counts)
    counted = [name for name in chosen if name not in equivalent]
    detected = sum(chosen[name] in DETECTED for name in counted)
    return {
        "tool": "mutmut " + _version(),
        "modules": list(modules),
        "mutants": len(chosen),
        "equivalent": sorted(equivalent & set(chosen)),
        "detected": detected,
        "score": round(100 * detected / len(counted), 1) if counted else None,
        "per_module": per_module,
        "not_detected": sorted(name for name in counted if chosen[name] not in DETECTED),
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mutmut")
    except PackageNotFoundError:
        return "(not installed)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="*", default=list(MODULES), choices=MODULES)
    parser.add_argument("--fail-under", type=float, default=None, help="exit 1 below this %%")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()
    modules = tuple(args.modules or MODULES)
    mutmut = [sys.executable, "-m", "mutmut"]
    results = read_results(mutmut)
    if not results:
        sys.exit("no mutmut results: run `make mutate` (mutmut run) first")
    listed = [name for name in EQUIVALENT if results.get(name) == "survived"]
    equivalent = {name for name in listed if still_equivalent(mutmut, name)}
    for name in sorted(set(listed) - equivalent):
        print(f"stale in EQUIVALENT (its change is not {EQUIVALENT[name][0]!r}): {name}")
    summary = score(results, modules, equivalent)
    statuses = sorted({s for counts in summary["per_module"].values() for s in counts})
    print(f"{'module':12} {'mutants':>8} " + " ".join(f"{s:>10}" for s in statuses) + "  score")
    for module, counts in summary["per_module"].items():
        total = sum(counts.values())
        found = sum(counts.get(s, 0) for s in DETECTED)
        counted = total - counts.get("equivalent", 0)
        share = f"{100 * found / counted:5.1f}%" if counted else "    -"
        row = " ".join(f"{counts.get(s, 0):>10}" for s in statuses)
        print(f"{module:12} {total:>8} {row}  {share}")
    print(
        f"\n{summary['tool']}: {summary['detected']} of {summary['mutants']} mutants detected "
        f"({len(summary['equivalent'])} listed as equivalent): score {summary['score']}%"
    )
    unchecked = sum(status == "not checked" for status in results.values())
    if unchecked:
        print(
            f"{unchecked} mutants not checked yet (an interrupted run): they count as not "
            "detected until `make mutate` finishes"
        )
    if summary["not_detected"]:
        print(f"{len(summary['not_detected'])} not detected (`mutmut show NAME` shows each):")
        for name in summary["not_detected"]:
            print(f"  {name}: {results[name]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    if args.fail_under is not None and (summary["score"] or 0) < args.fail_under:
        print(f"score {summary['score']}% is below {args.fail_under}%")
        sys.exit(1)


if __name__ == "__main__":
    main()
