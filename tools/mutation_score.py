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
_RANDINT_LOW = (
    "torch.randint(high, size) is torch's own overload for low=0: the same draws, and the "
    "generator left in the same state"
)
_ONE_ROUNDING = (
    "the angles are float64 and each entry is written once, so it is rounded once to the "
    "default dtype either way"
)
_BILINEAR_CORNERS = "F.interpolate reads align_corners=None as False for bilinear resizing"
_PERSISTENT_NONE = (
    "register_buffer tests `if persistent`, so None keeps the buffer out of the state_dict as "
    "False does (a test checks the state_dict)"
)
_CLAMPED_END = (
    "a new point can lie at most half an old cell past the last old point, where its two "
    "neighbours are both that point (right is clamped), so the weights 1 - t and t land in one "
    "cell and add up to 1, as the clamp's single weight does (checked bit for bit for every "
    "size pair up to 199 -> 199)"
)
_PAD_FIRST = (
    "token 0 is pad (DateTask.__post_init__ makes it so), and the loop stops at pad before "
    "this check; non-integer tokens were refused before the loop"
)
_FOREACH = (
    "foreach only picks torch's multi-tensor kernel for the same Adam update; the optimiser "
    "never leaves the function, and the weights came out bit for bit the same after 50 steps"
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
    "lessons_lib.positions.x_sinusoidal_offset_matrix__mutmut_42": (
        "torch.zeros(d, d, dtype=None)",
        _ONE_ROUNDING,
    ),
    "lessons_lib.positions.x_sinusoidal_offset_matrix__mutmut_45": (
        "torch.zeros(d, d, )",
        _ONE_ROUNDING,
    ),
    "lessons_lib.positions.x_relative_offsets__mutmut_26": (
        "torch.stack([rows, cols], dim=+1)",
        "rows and cols are 1-D, so the stacked tensor is 2-D and its axis +1 is axis -1",
    ),
    "lessons_lib.positions.xǁRelativePositionBias2Dǁ_check_forward__mutmut_14": (
        "queries.shape[+2:]",
        "the left side of the `or` already refused all but 4-D queries, whose [2:] is [-2:]",
    ),
    "lessons_lib.positions.xǁRelativePositionBias2Dǁ__init____mutmut_74": (
        "persistent=None)",
        _PERSISTENT_NONE,
    ),
    "lessons_lib.data.x__digits_arrays__mutmut_27": (
        "reshape(-2, 8, 8)",
        "numpy 2 reads any negative size in reshape as the one it works out (checked on the "
        "pinned numpy), and the file read is always the same",
    ),
    "lessons_lib.data.x_load_sample_photo__mutmut_53": ("align_corners=None", _BILINEAR_CORNERS),
    "lessons_lib.data.x_load_sample_photo__mutmut_58": (
        'mode="bilinear", antialias=True, )',
        _BILINEAR_CORNERS + " (None is its default)",
    ),
    "lessons_lib.data.x_load_sample_photo__mutmut_63": (
        "clamp(None, 1.0)",
        "antialiased bilinear resizing takes non-negative weights of pixels in [0, 1], so the "
        "result is never below 0 and the lower clamp never acts",
    ),
    "lessons_lib.data.x_ordinal_suffix__mutmut_6": (
        "11 <= day % 100 <= 14",
        "the one day it adds, day % 100 == 14, ends in 4 and takes 'th' either way",
    ),
    "lessons_lib.data.xǁDateTaskǁsample__mutmut_17": ("torch.randint(len(pool), ", _RANDINT_LOW),
    "lessons_lib.data.xǁDateTaskǁsample__mutmut_27": (
        "torch.randint(len(DATE_FORMATS), ",
        _RANDINT_LOW,
    ),
    "lessons_lib.data.xǁImageSetǁ_batches__mutmut_7": ("torch.randint(len(self), ", _RANDINT_LOW),
    "lessons_lib.data.xǁMarkPositionTaskǁsample__mutmut_27": (
        "rows = torch.randint(grid, ",
        _RANDINT_LOW,
    ),
    "lessons_lib.data.xǁMarkPositionTaskǁsample__mutmut_37": (
        "cols = torch.randint(grid, ",
        _RANDINT_LOW,
    ),
    "lessons_lib.data.xǁReversalTaskǁsample__mutmut_21": (
        "torch.randint(self.n_digits, shape",
        _RANDINT_LOW,
    ),
    "lessons_lib.data.xǁMarkPositionTaskǁsample__mutmut_59": (
        "half = grid / 2",
        "__post_init__ makes grid even and far below 2**53, so grid / 2 equals grid // 2 and "
        "the comparisons with it give the same labels",
    ),
    "lessons_lib.data.xǁMarkPositionTaskǁmark__mutmut_6": (
        "if self.patch_size >= 2:",
        "for a patch of 2 the inner slice mark[1:-1, 1:-1] is empty, so the branch changes nothing",
    ),
    "lessons_lib.attention.x_attend__mutmut_21": (
        'float("-INF")',
        "Python's float() reads -INF and -inf alike",
    ),
    "lessons_lib.attention.x_attend__mutmut_26": (
        "softmax(scores, )",
        "lessons_lib.softmax.softmax takes dim=-1 by default, the axis the line names",
    ),
    "lessons_lib.attention.xǁMultiHeadAttentionǁ__init____mutmut_34": (
        "range(1, d_model + 2)",
        "the one candidate it adds, d_model + 1, never divides d_model, so the message lists "
        "the same divisors",
    ),
    "lessons_lib.attention.xǁMultiHeadAttentionǁ_bias_for_heads__mutmut_27": (
        'shape = ""',
        "after a failed broadcast the shape is only compared with the wanted tuple, which "
        "neither None nor an empty string equals, so the same error is raised",
    ),
    "lessons_lib.transformer.x_copy_torch_weights__mutmut_23": (
        'getattr(theirs, "norm_first", None)',
        "it is read through bool(), and bool(None) is bool(False)",
    ),
    "lessons_lib.transformer.xǁTransformerǁ__init____mutmut_53": (
        "persistent=None)",
        _PERSISTENT_NONE,
    ),
    "lessons_lib.transformer.xǁEncoderStackǁ__init____mutmut_38": (
        "persistent=None)",
        _PERSISTENT_NONE,
    ),
    "lessons_lib.positions.x_linear_resize_matrix__mutmut_34": ("clamp(0, None)", _CLAMPED_END),
    "lessons_lib.positions.x_linear_resize_matrix__mutmut_36": ("clamp(0, )", _CLAMPED_END),
    "lessons_lib.positions.x_linear_resize_matrix__mutmut_38": (
        "clamp(0, old_n + 1)",
        _CLAMPED_END,
    ),
    "lessons_lib.positions.x_linear_resize_matrix__mutmut_56": (
        "left] = 1 - share",
        "the matrix starts at zero and each row's left cell is written once, before its right "
        "one, so = and += give the same matrix",
    ),
    "lessons_lib.data.xǁDateTaskǁdecode__mutmut_24": ("if not 1 <= token", _PAD_FIRST),
    "lessons_lib.data.xǁDateTaskǁdecode__mutmut_25": ("if not 0 < token", _PAD_FIRST),
    "lessons_lib.training.x_train_alignment_model__mutmut_20": (
        "eval_every=50,",
        "it removes eval_every=50 from the call to fit, whose own default is 50",
    ),
    "lessons_lib.training.x_train_to_best__mutmut_26": ("lr=lr, foreach=None)", _FOREACH),
    "lessons_lib.training.x_train_to_best__mutmut_29": ("lr=lr, )", _FOREACH),
    "lessons_lib.training.x_train_to_best__mutmut_30": ("lr=lr, foreach=False)", _FOREACH),
    "lessons_lib.training.x_validation_windows__mutmut_32": (
        "<= n_windows:",
        "when max_windows equals the number of windows, the stride is 1 and the starts are the "
        "same either way",
    ),
}


def still_equivalent(mutmut: list[str], name: str) -> bool:
    """Whether mutant ``name`` still makes the change :data:`EQUIVALENT` describes: its added
    line, or the line it removes when it only removes one."""
    shown = subprocess.run([*mutmut, "show", name], cwd=ROOT, capture_output=True, text=True)
    lines = shown.stdout.splitlines()
    changed = [line for line in lines if line.startswith("+ ")] or [
        line for line in lines if line.startswith("- ")
    ]
    return any(EQUIVALENT[name][0] in line for line in changed)


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
