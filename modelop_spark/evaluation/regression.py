"""Regression metrics from one row of Spark aggregates (pure, no Spark)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["REGRESSION_SUMS", "regression_metrics"]

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
