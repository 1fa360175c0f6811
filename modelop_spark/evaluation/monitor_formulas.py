"""The monitors' formulas on bounded aggregates (pure numpy/scipy, no Spark).

- PSI from two histograms over the same bins (``drift.psi``: shares floored at ``PSI_EPSILON``).
- Jensen-Shannon distance from the same histograms: ``scipy.spatial.distance.jensenshannon``
  with base 2, so 0 means the same distribution and 1 disjoint ones.
- Kolmogorov-Smirnov from the merged empirical CDFs: the Spark layer returns the exact statistic
  (the largest gap of the two ECDFs over every distinct value); the p-value is scipy's
  ``ks_2samp(method="asymp")`` formula for it, ``kstwo.sf(D, round(n*m/(n+m)))``.
- ``flat_metrics``: a monitor document's scalars under identifier names, as a DMN reads them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from modelop_spark.evaluation.drift import psi

__all__ = ["histogram_drift", "js_distance", "ks_p_value", "metric_name", "worst"]


def js_distance(expected: np.ndarray, actual: np.ndarray) -> float | None:
    """Jensen-Shannon distance (base 2) of two count vectors over the same bins."""
    e, a = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    if not e.sum() or not a.sum():
        return None
    return float(jensenshannon(e, a, base=2))


def ks_p_value(statistic: float | None, n: int, m: int) -> float | None:
    """Two-sided p-value of a two-sample KS statistic, as scipy's ``ks_2samp(method="asymp")``."""
    if statistic is None or not n or not m:
        return None
    big, small = sorted((float(n), float(m)), reverse=True)
    en = big * small / (big + small)
    return float(np.clip(stats.kstwo.sf(statistic, np.round(en)), 0.0, 1.0))


def histogram_drift(expected: np.ndarray, actual: np.ndarray) -> dict[str, float | None]:
    """PSI and JS distance of two histograms over shared bins."""
    e, a = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    return {"psi": psi(e, a), "js_distance": js_distance(e, a)}


_NOT_WORD = re.compile(r"\W+")


def metric_name(*parts: str) -> str:
    """``("credit score", "psi")`` -> ``credit_score_psi``: a name a DMN input expression can read."""
    name = "_".join(_NOT_WORD.sub("_", p).strip("_") for p in parts if p)
    return f"m_{name}" if not name or name[0].isdigit() else name


def worst(values: Iterable[float | None], *, largest: bool = True) -> float | None:
    """The largest (or smallest) present, finite value; None when there is none."""
    present = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not present:
        return None
    return max(present) if largest else min(present)


def scalar_items(metrics: Mapping[str, Any]) -> dict[str, float | int | bool | str | None]:
    """Only the scalars of a metrics mapping (what a DMN can compare)."""
    return {k: v for k, v in metrics.items() if v is None or isinstance(v, bool | int | float | str)}
