"""Claims of chapter 10, 1-D vs 2-D position codes, about its runs."""

import math

from lessons_lib.intervals import T_975
from tests.claims import Claim

NOTEBOOK = "10_position_codes"

ROUNDING = 1e-5  # float32 rounding, with room for a few operations

KINDS = ("1-D learned", "2-D learned", "relative (learned)", "1-D sinusoidal (fixed)")
CODED = ("1d", "2d", "sinusoidal", "relative")  # the glued names of the kinds with codes
OTHERS = ("1d", "2d", "sinusoidal")  # the kinds the relative code falls below
UNRESOLVED = (("1d", "2d"), ("1d", "sinusoidal"), ("2d", "sinusoidal"))


def _listed(text: str) -> set[str]:
    return set() if text in ("none", "none of them") else {part.strip() for part in text.split(",")}


def _pairs(text: str) -> list[str]:
    """The pairs a glued list names, separated by "; " ("none": no pair)."""
    return [] if text == "none" else [part.strip() for part in text.split(";")]


CLAIMS = [
    Claim(
        "Without codes the model scores {mark_none}; the most common quadrant makes up "
        "{mark_largest_share} of the test images, so it does no better than always naming one "
        "quadrant: that is chance here.",
        lambda g: 0.2 <= g["mark_none"] <= g["mark_largest_share"] + 0.02,
    ),
    Claim(
        "With 1-D codes it scores {mark_1d}, with 2-D codes {mark_2d} (each kind of code lets "
        "it find the mark's quadrant).",
        lambda g: g["mark_1d"] >= 0.95 and g["mark_2d"] >= 0.95,
    ),
    Claim(
        "The file took {results_minutes} minutes; every run was checked every {eval_every} "
        "steps and stopped after {patience} checks without a new best; the best checks came "
        "between steps {first_best_step} and {last_best_step}, so no run reached the cap of "
        "{max_steps} steps.",
        lambda g: (
            g["results_minutes"] > 0
            and 0 < g["first_best_step"] <= g["last_best_step"]
            and g["last_best_step"] + g["patience"] * g["eval_every"] < g["max_steps"]
        ),
    ),
    Claim(
        "{n_seeds} seeds give {n_seeds} numbers per kind ... Student's t is {t_seeds} for "
        "{n_seeds} runs (4.30 for 3).",
        lambda g: (
            g["n_seeds"] >= 8 and math.isclose(g["t_seeds"], T_975[g["n_seeds"] - 2], abs_tol=5e-4)
        ),
    ),
    Claim(
        "Against no codes, every interval excludes 0: {told_apart} (every kind, each above none).",
        lambda g: (
            g["n_cannot_tell"] == 0
            and _listed(g["cannot_tell"]) == set()
            and {t.removesuffix(" (above none)") for t in _listed(g["told_apart"])} == set(KINDS)
            and all(t.endswith(" (above none)") for t in _listed(g["told_apart"]))
            and g["smallest_gap_none"] > g["widest_half_none"]
        ),
    ),
    Claim(
        "Without codes the model scores {mean_none}; each kind of code gets between "
        "{smallest_gap_none} and {largest_gap_none} more of the test images right, with "
        "intervals no wider than ±{widest_half_none}.",
        lambda g: (
            abs(min(g[f"mean_{k}"] for k in CODED) - g["mean_none"] - g["smallest_gap_none"]) < 1e-9
            and abs(max(g[f"mean_{k}"] for k in CODED) - g["mean_none"] - g["largest_gap_none"])
            < 1e-9
        ),
    ),
    Claim(
        "On a grid of 16 small patches, the codes are worth a great deal (at least 10% of the "
        "test images each), and {n_seeds} seeds settle that; without codes our model falls far "
        "behind.",
        lambda g: (
            g["smallest_gap_none"] - g["widest_half_none"] >= 0.1
            and g["mean_none"] < min(g[f"mean_{k}"] for k in CODED) - 0.1
        ),
    ),
    Claim(
        "The relative code is below each of the other three: {pairs_resolved}.",
        lambda g: (
            all(g[f"gap_{k}_relative"] - g[f"half_{k}_relative"] > 0 for k in OTHERS)
            and g["n_pairs_resolved"] == 3
            and len(_pairs(g["pairs_resolved"])) == 3
            and all(
                pair.startswith("relative (learned) below ") for pair in _pairs(g["pairs_resolved"])
            )
        ),
    ),
    Claim(
        "The other intervals hold 0: {pairs_unresolved}. Between 1-D and 2-D codes the gap is "
        "{gap_1d_2d} ± {half_1d_2d}, so this run cannot tell them apart, nor either of them "
        "from the fixed sinusoidal code.",
        lambda g: (
            all(abs(g[f"gap_{a}_{b}"]) < g[f"half_{a}_{b}"] for a, b in UNRESOLVED)
            and len(_pairs(g["pairs_unresolved"])) == len(UNRESOLVED)
        ),
    ),
    Claim(
        "Each interval is a 95% interval on its own, and we read ten of them (four against "
        "none, six between two kinds of code).",
        lambda g: (
            g["n_cannot_tell"] + len(_listed(g["told_apart"])) == 4
            and len(_pairs(g["pairs_resolved"])) + len(_pairs(g["pairs_unresolved"])) == 6
        ),
    ),
    Claim(
        "The narrowest of the resolved gaps, relative against sinusoidal "
        "({gap_sinusoidal_relative} ± {half_sinusoidal_relative}), is the least certain.",
        lambda g: (
            g["gap_sinusoidal_relative"] == min(g[f"gap_{k}_relative"] for k in OTHERS)
            and g["gap_sinusoidal_relative"] / g["half_sinusoidal_relative"]
            == min(g[f"gap_{k}_relative"] / g[f"half_{k}_relative"] for k in OTHERS)
        ),
    ),
    Claim(
        "{n_test} images measure an accuracy near {overall_accuracy} only to about "
        "±{one_test_error} (one standard error).",
        lambda g: (
            abs(
                g["one_test_error"]
                - (g["overall_accuracy"] * (1 - g["overall_accuracy"]) / g["n_test"]) ** 0.5
            )
            < 1e-9
            and abs(g["overall_accuracy"] - sum(g[f"mean_{k}"] for k in ("none", *CODED)) / 5)
            < 1e-9
        ),
    ),
    Claim(
        "In Table 8, every code beats no codes, by {paper_gap_1d} (1-D), {paper_gap_2d} (2-D) "
        "and {paper_gap_relative} (relative) points, and the three lie within a quarter of a "
        "point of each other.",
        lambda g: (
            min(g["paper_gap_1d"], g["paper_gap_2d"], g["paper_gap_relative"]) > 0
            and max(g["paper_gap_1d"], g["paper_gap_2d"], g["paper_gap_relative"])
            - min(g["paper_gap_1d"], g["paper_gap_2d"], g["paper_gap_relative"])
            < 0.25
        ),
    ),
    Claim(
        "Our run agrees that every code beats none, and that 1-D and 2-D codes cannot be told "
        "apart. It does not find the relative code level with them: here it is below.",
        lambda g: (
            min(g["paper_gap_1d"], g["paper_gap_2d"], g["paper_gap_relative"]) > 0
            and g["smallest_gap_none"] > g["widest_half_none"]
            and abs(g["gap_1d_2d"]) < g["half_1d_2d"]
            and g["gap_2d_relative"] > g["half_2d_relative"]
            and g["gap_1d_relative"] > g["half_1d_relative"]
        ),
    ),
    Claim(
        "Summary: from {n_seeds} seeds, every code beats none by {smallest_gap_none} of the "
        "test images or more, the relative code falls below the others, and 1-D, 2-D and "
        "sinusoidal codes cannot be told apart.",
        lambda g: (
            g["n_cannot_tell"] == 0
            and all(g[f"gap_{k}_relative"] > g[f"half_{k}_relative"] for k in OTHERS)
            and all(abs(g[f"gap_{a}_{b}"]) < g[f"half_{a}_{b}"] for a, b in UNRESOLVED)
        ),
    ),
    Claim(
        "For both kinds, the codes of two patches in the same quadrant are more alike than those "
        "of two patches in different quadrants.",
        lambda g: (
            g["same_quadrant_1d"] > g["other_quadrant_1d"] + 0.1
            and g["same_quadrant_2d"] > g["other_quadrant_2d"] + 0.1
        ),
    ),
    Claim(
        "The four RoPE scores differ by float32 rounding; the added codes' by far more.",
        lambda g: g["rope_spread"] < 1e-4 and g["added_spread"] > 0.1,
    ),
    Claim(
        "Every diagonal of the RoPE matrix holds a single value, and the rotation left the "
        "query's length unchanged.",
        lambda g: g["rope_diagonal_spread"] < 1e-4 and g["rope_length_change"] < ROUNDING,
    ),
    Claim(
        "Patch 4 is at the other end of the image from patch 3, yet its sinusoidal code is "
        "closer ({sin_3_4}) than that of patch 7, right below ({sin_3_7}).",
        lambda g: g["sin_3_4"] > g["sin_3_7"],
    ),
    Claim(
        "Our position-task model without codes scored {mark_none}, no better than always "
        "naming the most common quadrant.",
        lambda g: g["mark_none"] <= g["mark_largest_share"] + 0.02,
    ),
]
