"""Intervals over seeds: a mean, its standard error and its 95% confidence interval.

    standard error = s / sqrt(n)                        (s: the sample standard deviation)
    95% interval   = mean ± t_{0.975, n-1} * s / sqrt(n)  (Student's t, n - 1 degrees of freedom)

The t quantile comes from ``scipy.stats.t.ppf``; :data:`T_975` lists it for
1..30 degrees of freedom, for a chapter that computes an interval by hand.

Layer: metrics (imports scipy only).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from scipy import stats


def t_975(df: int) -> float:
    """Student's t quantile t_{0.975, df}: the half-width of a 95% interval, in standard errors.

    >>> round(t_975(2), 3), round(t_975(1000), 2)
    (4.303, 1.96)
    """
    if isinstance(df, bool) or not isinstance(df, int):
        raise TypeError(f"df must be an int (degrees of freedom), got {type(df).__name__}")
    if df < 1:
        raise ValueError(f"df must be at least 1, got {df}")
    return float(stats.t.ppf(0.975, df))


# t_{0.975, df} for df = 1..30 (index df - 1), from scipy: an interval over n seeds uses
# T_975[n - 2]. Computed, not typed.
T_975: tuple[float, ...] = tuple(t_975(df) for df in range(1, 31))


def mean_and_standard_error(values: Sequence[float]) -> tuple[float, float]:
    """The mean of ``values`` and its standard error, ``s / sqrt(n)`` (s: sample std).

    Over seeds, the standard error says how far the mean could move with other
    seeds: two means closer than about two standard errors cannot be told apart.

    >>> [round(x, 4) for x in mean_and_standard_error([0.8, 0.9, 1.0])]
    [0.9, 0.0577]
    """
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"values must be a sequence of numbers, got {type(values).__name__}")
    values = [float(value) for value in values]
    if len(values) < 2:
        raise ValueError(f"a standard error needs at least 2 values, got {len(values)}")
    if not all(math.isfinite(value) for value in values):
        raise ValueError(f"values must be finite numbers, got {values}")
    return statistics.fmean(values), statistics.stdev(values) / len(values) ** 0.5


def interval_95(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% confidence interval (Student's t).

        mean ± t_{0.975, n-1} * s / sqrt(n)

    With 3 seeds t is 4.30, so an interval is more than four standard errors
    wide each way; with 12 seeds, 2.20; with many, it nears 1.96.

    >>> [round(x, 3) for x in interval_95([0.8, 0.9, 1.0])]
    [0.9, 0.248]
    """
    mean, error = mean_and_standard_error(values)
    return mean, t_975(len(values) - 1) * error


def paired_gap(
    scores: Mapping[str, Sequence[float]], kind: str, baseline: str
) -> tuple[float, float]:
    """``scores[kind][i] - scores[baseline][i]`` over seeds i: mean and 95% half-width.

    The runs of one seed share their batches and test set, so the gap is taken
    seed by seed (a paired comparison), which removes what the seeds share;
    the interval is :func:`interval_95` of the gaps. An interval that holds 0
    means the run cannot tell the two kinds apart.

    >>> [round(x, 3) for x in paired_gap({"1d": [0.9, 0.95], "none": [0.85, 0.88]}, "1d", "none")]
    [0.06, 0.127]
    """
    if not isinstance(scores, Mapping):
        raise TypeError(f"scores must map kinds to scores per seed, got {type(scores).__name__}")
    for name in (kind, baseline):
        if name not in scores:
            raise ValueError(f"scores has no kind {name!r}; it has {sorted(scores)}")
    if len(scores[kind]) != len(scores[baseline]):
        raise ValueError(
            f"{kind!r} has {len(scores[kind])} seeds but {baseline!r} has "
            f"{len(scores[baseline])}; a paired gap needs the same seeds"
        )
    gaps = [a - b for a, b in zip(scores[kind], scores[baseline])]
    return interval_95(gaps)
