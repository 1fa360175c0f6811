"""Drift between a baseline and a sample from shared-bin counts (pure numpy/scipy, no Spark).

Numeric features are binned on the baseline's quantiles (the same edges for both sides): PSI on
``psi_bins`` bins, Kolmogorov-Smirnov on ``ks_bins`` finer bins (the statistic is read at the bin
edges, so it can fall short of the exact one by at most the largest bin's share). Categorical
features compare category counts: PSI and a chi-square test of homogeneity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["PSI_EPSILON", "categorical_drift", "ks_from_counts", "numeric_drift", "psi"]

# A bin empty on one side would make PSI infinite; a small floor is the usual convention.
PSI_EPSILON = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray) -> float | None:
    e_total, a_total = expected.sum(), actual.sum()
    if not e_total or not a_total:
        return None
    e = np.maximum(expected / e_total, PSI_EPSILON)
    a = np.maximum(actual / a_total, PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_from_counts(expected: np.ndarray, actual: np.ndarray) -> dict[str, float | None]:
    n, m = float(expected.sum()), float(actual.sum())
    if not n or not m:
        return {"statistic": None, "p_value": None}
    d = float(np.max(np.abs(np.cumsum(expected) / n - np.cumsum(actual) / m)))
    # Asymptotic two-sample p-value (Kolmogorov distribution at sqrt(n*m/(n+m)) * D).
    p = float(stats.kstwobign.sf(d * np.sqrt(n * m / (n + m))))
    return {"statistic": d, "p_value": p}


def numeric_drift(
    *, psi_expected: np.ndarray, psi_actual: np.ndarray, ks_expected: np.ndarray, ks_actual: np.ndarray,
    missing_expected: int = 0, missing_actual: int = 0, psi_edges: list[float] | None = None,
) -> dict[str, Any]:
    """``psi_edges`` are the inner bin edges (bins are [e_i, e_i+1), open at both ends)."""
    return {
        "type": "numeric",
        "psi_edges": list(psi_edges or []),
        "psi_bins": {"baseline": psi_expected.astype(int).tolist(), "sample": psi_actual.astype(int).tolist()},
        "psi": psi(psi_expected, psi_actual),
        "ks": ks_from_counts(ks_expected, ks_actual),
        "baseline_rows": int(psi_expected.sum()) + missing_expected,
        "sample_rows": int(psi_actual.sum()) + missing_actual,
        "baseline_missing": missing_expected,
        "sample_missing": missing_actual,
    }


def categorical_drift(expected: Mapping[str, int], actual: Mapping[str, int]) -> dict[str, Any]:
    categories = sorted(set(expected) | set(actual))
    e = np.array([expected.get(c, 0) for c in categories], dtype=np.float64)
    a = np.array([actual.get(c, 0) for c in categories], dtype=np.float64)
    chi2: dict[str, float | None] = {"statistic": None, "p_value": None, "dof": None}
    if len(categories) > 1 and e.sum() and a.sum():
        result = stats.chi2_contingency(np.vstack([e, a]), correction=False)
        chi2 = {"statistic": float(result.statistic), "p_value": float(result.pvalue), "dof": int(result.dof)}
    return {
        "type": "categorical",
        "psi": psi(e, a),
        "chi_square": chi2,
        "baseline_rows": int(e.sum()),
        "sample_rows": int(a.sum()),
        "categories": {c: {"baseline": int(x), "sample": int(y)} for c, x, y in zip(categories, e, a, strict=True)},
    }
