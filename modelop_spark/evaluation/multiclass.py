"""Multiclass metrics from a confusion matrix (pure numpy, no Spark)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["multiclass_metrics"]


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # zero_division=0, as scikit-learn reports an undefined ratio.
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den != 0)


def multiclass_metrics(labels: list[str], matrix: np.ndarray) -> dict[str, Any]:
    """``matrix[i, j]`` counts rows with true class ``labels[i]`` predicted as ``labels[j]``."""
    m = matrix.astype(np.float64)
    tp = np.diag(m)
    support = m.sum(axis=1)
    predicted = m.sum(axis=0)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    total = m.sum()
    weights = support / total if total else np.zeros_like(support)
    per_class = {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }
    return {
        "rows": int(total),
        "classes": list(labels),
        "accuracy": float(tp.sum() / total) if total else None,
        "per_class": per_class,
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "weighted": {
            "precision": float((precision * weights).sum()),
            "recall": float((recall * weights).sum()),
            "f1": float((f1 * weights).sum()),
        },
        "confusion_matrix": {"labels": list(labels), "matrix": matrix.astype(int).tolist()},
    }
