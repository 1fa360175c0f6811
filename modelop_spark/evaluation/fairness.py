"""Group fairness from per-group confusion counts (pure, no Spark).

Per group, against a reference group: selection rate, statistical parity difference, disparate
impact ratio, equal opportunity difference (TPR gap), equalized odds difference (the larger of the
TPR and FPR gaps). The summary gives the between-group spreads fairlearn reports
(``demographic_parity_difference``, ``equal_opportunity_difference``, ``equalized_odds_difference``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelop_spark.errors import SpecError
from modelop_spark.evaluation.binary import Confusion

__all__ = ["fairness_metrics"]


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _spread(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) - min(present) if present else None


def fairness_metrics(
    column: str, groups: Mapping[str, Confusion], *, reference_group: Any = None
) -> dict[str, Any]:
    """The fairness section for one protected column. Without a reference group the largest group
    is the reference (ties broken by name), as it is the usual privileged baseline."""
    if not groups:
        return {"column": column, "reference_group": None, "groups": {}, "summary": {}}
    if reference_group is None:
        reference = sorted(groups, key=lambda g: (-groups[g].total, g))[0]
    else:
        reference = str(reference_group)
        if reference not in groups:
            raise SpecError(
                f"evaluation option 'reference_groups.{column}': group {reference!r} is not in the data; "
                f"found {', '.join(sorted(groups)[:20])}"
            )

    def rates(c: Confusion) -> dict[str, float | None]:
        return {
            "selection_rate": _rate(c.tp + c.fp, c.total),
            "true_positive_rate": _rate(c.tp, c.tp + c.fn),
            "false_positive_rate": _rate(c.fp, c.fp + c.tn),
        }

    ref = rates(groups[reference])
    out: dict[str, Any] = {}
    for name in sorted(groups):
        c = groups[name]
        r = rates(c)
        sr, ref_sr = r["selection_rate"], ref["selection_rate"]
        tpr_gap = _diff(r["true_positive_rate"], ref["true_positive_rate"])
        fpr_gap = _diff(r["false_positive_rate"], ref["false_positive_rate"])
        gaps = [abs(g) for g in (tpr_gap, fpr_gap) if g is not None]
        out[name] = {
            "size": c.total,
            **r,
            "statistical_parity_difference": _diff(sr, ref_sr),
            "disparate_impact_ratio": (sr / ref_sr) if sr is not None and ref_sr else None,
            "equal_opportunity_difference": tpr_gap,
            "equalized_odds_difference": max(gaps) if gaps else None,
            "confusion_matrix": {"tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn},
        }
    selection = [g["selection_rate"] for g in out.values()]
    tpr = [g["true_positive_rate"] for g in out.values()]
    fpr = [g["false_positive_rate"] for g in out.values()]
    present_sr = [s for s in selection if s is not None]
    tpr_spread, fpr_spread = _spread(tpr), _spread(fpr)
    return {
        "column": column,
        "reference_group": reference,
        "groups": out,
        "summary": {
            "demographic_parity_difference": _spread(selection),
            "demographic_parity_ratio": (min(present_sr) / max(present_sr)) if present_sr and max(present_sr) else None,
            "equal_opportunity_difference": tpr_spread,
            "equalized_odds_difference": max(v for v in (tpr_spread, fpr_spread, 0.0) if v is not None),
        },
    }
