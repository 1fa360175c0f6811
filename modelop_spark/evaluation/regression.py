"""Regression metrics from one row of Spark aggregates (pure, no Spark)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["DISTRIBUTION_BINS", "REGRESSION_SUMS", "regression_distribution", "regression_metrics"]

DISTRIBUTION_BINS = 30  # residual histogram bins, and the predicted-vs-actual grid's side

# Keys the Spark layer fills: row count, sums of absolute / squared / relative errors, and the
# population variance of the label (Spark's stable one-pass moment, for R2's denominator).
REGRESSION_SUMS = ("n", "abs_error", "squared_error", "abs_percentage_error", "label_var_pop")


def regression_metrics(sums: Mapping[str, float]) -> dict[str, Any]:
    n = int(sums["n"] or 0)
    if not n:
        return {"rows": 0, "mae": None, "mse": None, "rmse": None, "r2": None, "mape": None}
    mse = sums["squared_error"] / n
    total_ss = (sums["label_var_pop"] or 0.0) * n
    # scikit-learn's r2_score: 1.0 for a perfect fit of a constant label, 0.0 otherwise.
    if total_ss > 0:
        r2 = 1.0 - sums["squared_error"] / total_ss
    else:
        r2 = 1.0 if sums["squared_error"] == 0 else 0.0
    return {
        "rows": n,
        "mae": sums["abs_error"] / n,
        "mse": mse,
        "rmse": math.sqrt(mse),
        "r2": r2,
        "mape": sums["abs_percentage_error"] / n,
    }


def _edges(low: float, high: float, bins: int) -> list[float]:
    if high <= low:
        return [low, high]
    step = (high - low) / bins
    return [low + i * step for i in range(bins)] + [high]


def regression_distribution(counts: Mapping[str, Any] | None, *, bins: int = DISTRIBUTION_BINS) -> dict[str, Any] | None:
    """What the residual and predicted-vs-actual plots draw, from binned counts over every row
    (``mlflow.evaluate`` draws the same two from the rows themselves)."""
    if counts is None:
        return None
    low, high = counts["range"]
    r_low, r_high = counts["residual_range"]
    size = bins if high > low else 1
    r_size = bins if r_high > r_low else 1
    grid = [[0] * size for _ in range(size)]  # rows: actual bin, columns: predicted bin
    for (actual, predicted), n in counts["pair_counts"].items():
        grid[actual][predicted] = n
    return {
        "residuals": {"edges": _edges(r_low, r_high, bins), "counts": [counts["residual_counts"].get(i, 0) for i in range(r_size)]},
        "predicted_vs_actual": {"edges": _edges(low, high, bins), "counts": grid},
    }
