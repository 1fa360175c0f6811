"""Binary classification metrics from bounded aggregates (pure numpy, no Spark).

The Spark layer hands over, per fine score bin, the positive and negative counts and the sum of
scores, plus exact confusion counts at each requested threshold. Curves and areas come from the
bins: pairs of rows inside one bin count as ties, so the AUC error is at most half the share of
positive/negative pairs that fall in the same bin (about 1 / (2 * score_bins) for spread scores).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BinaryAggregates", "Confusion", "binary_metrics", "confusion_metrics", "downsample"]


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.tn + self.fn


@dataclass(frozen=True)
class BinaryAggregates:
    """What one Spark aggregation returns; arrays are indexed by fine bin (0 = lowest scores)."""

    positives: np.ndarray
    negatives: np.ndarray
    score_sums: np.ndarray
    log_loss_sum: float
    at_threshold: Mapping[float, Confusion]


def _ratio(num: float, den: float) -> float:
    # scikit-learn's zero_division=0 convention: an undefined ratio is reported as 0.
    return float(num) / float(den) if den else 0.0


def confusion_metrics(c: Confusion) -> dict[str, Any]:
    precision = _ratio(c.tp, c.tp + c.fp)
    recall = _ratio(c.tp, c.tp + c.fn)
    return {
        "confusion_matrix": {"tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn},
        "accuracy": _ratio(c.tp + c.tn, c.total),
        "precision": precision,
        "recall": recall,
        "specificity": _ratio(c.tn, c.tn + c.fp),
        "f1": _ratio(2 * precision * recall, precision + recall),
        "selection_rate": _ratio(c.tp + c.fp, c.total),
    }


def downsample(n: int, points: int) -> np.ndarray:
    """Indices of at most ``points`` evenly spread items of ``n``, first and last included."""
    if n <= points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, points).round().astype(int))


def _curves(agg: BinaryAggregates, *, curve_points: int) -> dict[str, Any]:
    bins = len(agg.positives)
    pos = agg.positives[::-1].astype(np.float64)  # highest scores first
    neg = agg.negatives[::-1].astype(np.float64)
    keep = (pos + neg) > 0
    lower_edges = (np.arange(bins)[::-1] / bins)[keep]  # a point counts scores above its bin's lower edge
    tp = np.cumsum(pos[keep])
    fp = np.cumsum(neg[keep])
    total_pos, total_neg = float(pos.sum()), float(neg.sum())

    tpr = np.concatenate([[0.0], tp / total_pos]) if total_pos else np.zeros(len(tp) + 1)
    fpr = np.concatenate([[0.0], fp / total_neg]) if total_neg else np.zeros(len(fp) + 1)
    roc_thresholds = np.concatenate([[np.inf], lower_edges])
    auc = float(np.trapezoid(tpr, fpr)) if total_pos and total_neg else None

    precision = tp / (tp + fp)
    recall = tp / total_pos if total_pos else np.zeros(len(tp))
    # Average precision as scikit-learn defines it: sum over thresholds of (R_n - R_{n-1}) * P_n.
    ap = float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision)) if total_pos else None

    r = downsample(len(fpr), curve_points)
    p = downsample(len(precision), curve_points)
    return {
        "roc_auc": auc,
        "average_precision": ap,
        "roc_curve": {
            "fpr": fpr[r].tolist(),
            "tpr": tpr[r].tolist(),
            "thresholds": [None if np.isinf(t) else float(t) for t in roc_thresholds[r]],
        },
        "pr_curve": {
            "precision": precision[p].tolist(),
            "recall": recall[p].tolist(),
            "thresholds": lower_edges[p].tolist(),
        },
    }


def _calibration(agg: BinaryAggregates, *, calibration_bins: int) -> dict[str, Any]:
    per = len(agg.positives) // calibration_bins
    pos = agg.positives.reshape(calibration_bins, per).sum(axis=1)
    neg = agg.negatives.reshape(calibration_bins, per).sum(axis=1)
    sums = agg.score_sums.reshape(calibration_bins, per).sum(axis=1)
    count = pos + neg
    rows = [
        {
            "bin_lower": i / calibration_bins,
            "bin_upper": (i + 1) / calibration_bins,
            "count": int(count[i]),
            "mean_predicted": float(sums[i] / count[i]),
            "fraction_positive": float(pos[i] / count[i]),
        }
        for i in range(calibration_bins)
        if count[i]
    ]
    return {"bins": rows}


def binary_metrics(agg: BinaryAggregates, *, curve_points: int, calibration_bins: int) -> dict[str, Any]:
    """The ``binary`` section of the evaluation document."""
    total_pos = int(agg.positives.sum())
    total_neg = int(agg.negatives.sum())
    n = total_pos + total_neg
    thresholds = [
        {"threshold": float(t), **confusion_metrics(c)} for t, c in sorted(agg.at_threshold.items())
    ]
    return {
        "rows": n,
        "positives": total_pos,
        "negatives": total_neg,
        "thresholds": thresholds,
        "log_loss": float(agg.log_loss_sum / n) if n else None,
        **_curves(agg, curve_points=curve_points),
        "calibration": _calibration(agg, calibration_bins=calibration_bins),
    }
