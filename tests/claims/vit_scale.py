"""Claims of the appendix "The ViT at other scales" about its glued run results."""

from tests.claims import Claim

NOTEBOOK = "12_vit_scale"

SIZES = (50, 100, 200, 400, "all")


def resolved(g, size):
    """The paired gap CNN - ViT at this size, with its 95% interval wholly above 0."""
    return g[f"gap_{size}"] - g[f"gap_{size}_half"] > 0


CLAIMS = [
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
        "A small CNN of similar size to the ViT (parameter counts within 10%).",
        lambda g: abs(g["cnn_parameters"] - g["vit_parameters"]) < 0.1 * g["vit_parameters"],
    ),
    Claim(
        "The book reads these runs from a file ... one of its runs ... repeated live gives the "
        "same accuracy as the file.",
        lambda g: g["live_matches_file"] is True,
    ),
    Claim(
        "Ten seeds for each of five sizes and both models (issue 22: at least five seeds).",
        lambda g: g["sweep_seeds"] == 10,
    ),
    Claim(
        "Both models fit their training subsets almost completely (at least the glued share, "
        "which is above 95%).",
        lambda g: (
            g["min_train_fit"] > 0.95
            and all(
                g[f"{m}_{s}_train"] >= g["min_train_fit"] for m in ("vit", "cnn") for s in SIZES
            )
        ),
    ),
    Claim(
        "The CNN is ahead at every size, and for each size the 95% interval of the paired gap "
        "excludes 0.",
        lambda g: all(resolved(g, size) for size in SIZES),
    ),
    Claim(
        "The gap narrows as the training set grows: the intervals at 100 digits and with all "
        "digits do not overlap.",
        lambda g: g["gap_all"] + g["gap_all_half"] < g["gap_100"] - g["gap_100_half"],
    ),
    Claim(
        "The ViT gains the most from more data (its rise from 50 digits to all is larger than "
        "the CNN's).",
        lambda g: g["vit_all_mean"] - g["vit_50_mean"] > g["cnn_all_mean"] - g["cnn_50_mean"],
    ),
    Claim(
        "with all 1,258 training digits",
        lambda g: g["n_train"] == 1258,
    ),
]
