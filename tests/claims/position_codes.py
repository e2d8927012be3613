"""Claims of chapter 09, 1-D vs 2-D position codes, about its runs."""

from tests.claims import Claim

NOTEBOOK = "09_position_codes"

KINDS = ("1-D learned", "2-D learned", "relative (learned)", "1-D sinusoidal (fixed)")


def _listed(text: str) -> set[str]:
    return set() if text in ("none", "none of them") else {part.strip() for part in text.split(",")}


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
        "Against no codes, the interval of the gap contains 0 for {cannot_tell} ... the kinds "
        "whose interval excludes 0: {told_apart} (every kind is in exactly one list).",
        lambda g: (
            g["n_cannot_tell"] == len(_listed(g["cannot_tell"]))
            and _listed(g["cannot_tell"]) | {t.split(" (")[0] for t in _listed(g["told_apart"])}
            <= set(KINDS)
            and len(_listed(g["cannot_tell"])) + len(_listed(g["told_apart"])) == len(KINDS)
        ),
    ),
    Claim(
        "Between 1-D and 2-D codes the gap is {gap_1d_2d} ± {half_1d_2d}, so the run cannot "
        "tell them apart either.",
        lambda g: abs(g["gap_1d_2d"]) < g["half_1d_2d"],
    ),
    Claim(
        "Three seeds are too few to settle gaps of a few points (at least one kind cannot be "
        "told from no codes).",
        lambda g: g["n_cannot_tell"] >= 1,
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
        "For both kinds, the codes of two patches in the same quadrant are more alike than those "
        "of two patches in different quadrants.",
        lambda g: (
            g["same_quadrant_1d"] > g["other_quadrant_1d"] + 0.1
            and g["same_quadrant_2d"] > g["other_quadrant_2d"] + 0.1
        ),
    ),
    Claim(
        "Stretched on the grid, both kinds keep most of their skill: {after_grid_1d} and "
        "{after_grid_2d}, against {before_grid_1d} and {before_grid_2d} before.",
        lambda g: (
            g["after_grid_1d"] >= 0.75
            and g["after_grid_2d"] >= 0.75
            and g["before_grid_1d"] >= 0.95
            and g["before_grid_2d"] >= 0.95
        ),
    ),
    Claim(
        "The 1-D codes stretched as a line fall to {after_line}, and the model without codes "
        "stays at chance ({after_none}).",
        lambda g: (
            g["after_line"] < min(g["after_grid_1d"], g["after_grid_2d"]) - 0.2
            and g["after_line"] < g["before_line"] - 0.3
            and g["after_none"] <= g["mark_largest_share"] + 0.02
        ),
    ),
    Claim(
        "Stretched as a line, only {agree_line} of the new patches have a code most like one "
        "from their own quadrant; stretched on the grid, {agree_grid_1d} do, and "
        "{agree_grid_2d} for the 2-D tables.",
        lambda g: g["agree_line"] < 0.75 and min(g["agree_grid_1d"], g["agree_grid_2d"]) >= 0.9,
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
