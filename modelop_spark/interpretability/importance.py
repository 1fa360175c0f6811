"""Importance documents from bounded aggregates (pure: plain numbers in, plain dicts out).

Global importance is the mean |SHAP| per feature over every explained row; its ``share`` is the
feature's part of the total. ``importance_drift`` compares two importances (a baseline and a
comparator): the difference per feature and the change of rank, for a feature-importance monitor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["decision_fields", "importance_drift", "ranked", "top"]


def ranked(mean_abs: Mapping[str, float | None]) -> list[dict[str, Any]]:
    """Features by mean |SHAP|, largest first (ties by name), with their share and rank (1 = top)."""
    values = {f: float(v or 0.0) for f, v in mean_abs.items()}
    total = sum(values.values())
    order = sorted(values, key=lambda f: (-values[f], f))
    return [{"feature": f, "mean_abs_shap": values[f], "share": values[f] / total if total else 0.0, "rank": i + 1}
            for i, f in enumerate(order)]


def top(importance: Sequence[Mapping[str, Any]], n: int) -> list[str]:
    return [row["feature"] for row in importance[:n]]


def decision_fields(importance: Sequence[Mapping[str, Any]], protected: Sequence[str]) -> dict[str, Any]:
    """Flat fields a life cycle's DMN can test: the top feature, the best rank of any protected
    attribute that is a feature, and whether one is in the top 3 (or top 5)."""
    ranks = {row["feature"]: row["rank"] for row in importance}
    protected_ranks = [ranks[p] for p in protected if p in ranks]
    best = min(protected_ranks) if protected_ranks else None
    return {
        "top_feature": importance[0]["feature"] if importance else None,
        "top_feature_share": importance[0]["share"] if importance else None,
        "protected_top_rank": best,
        "protected_in_top_3": best is not None and best <= 3,
        "protected_in_top_5": best is not None and best <= 5,
    }


def importance_drift(baseline: Mapping[str, float], comparator: Mapping[str, float]) -> dict[str, Any]:
    """Feature-importance drift between two mean-|SHAP| maps (feature -> value): per feature the
    two values, their difference (comparator - baseline), both ranks and the rank change (positive:
    the feature moved up); and a summary a DMN can test."""
    names = sorted(set(baseline) | set(comparator))
    before = {row["feature"]: row for row in ranked({f: baseline.get(f, 0.0) for f in names})}
    after = {row["feature"]: row for row in ranked({f: comparator.get(f, 0.0) for f in names})}
    features = {
        f: {
            "baseline": before[f]["mean_abs_shap"], "comparator": after[f]["mean_abs_shap"],
            "difference": after[f]["mean_abs_shap"] - before[f]["mean_abs_shap"],
            "baseline_share": before[f]["share"], "comparator_share": after[f]["share"],
            "share_difference": after[f]["share"] - before[f]["share"],
            "baseline_rank": before[f]["rank"], "comparator_rank": after[f]["rank"],
            "rank_change": before[f]["rank"] - after[f]["rank"],
        }
        for f in names
    }
    top3 = (sorted(names, key=lambda f: before[f]["rank"])[:3], sorted(names, key=lambda f: after[f]["rank"])[:3])
    return {
        "features": features,
        "max_abs_share_difference": max((abs(v["share_difference"]) for v in features.values()), default=0.0),
        "max_rank_change": max((abs(v["rank_change"]) for v in features.values()), default=0),
        "top_3_changed": set(top3[0]) != set(top3[1]),
    }
