"""Champion/challenger: metrics side by side, the better value marked, and the gate.

The gate follows MLflow's ``MetricThreshold``: a challenger passes on metric M when its value
meets the absolute ``threshold`` (if given) and beats the champion's by at least
``min_absolute_change`` and/or ``min_relative_change`` (relative to the champion's magnitude), in
the metric's direction (``greater_is_better``, known for the built-in metrics). Pure: dicts in,
dicts out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelop_spark.errors import SpecError

__all__ = ["GREATER_IS_BETTER", "GateResult", "MetricGate", "gate", "side_by_side"]

GREATER_IS_BETTER: dict[str, bool] = {
    **dict.fromkeys(("auc", "roc_auc", "average_precision", "accuracy", "precision", "recall", "f1",
                     "specificity", "r2"), True),
    **dict.fromkeys(("log_loss", "rmse", "mae", "mse", "mape"), False),
}


@dataclass(frozen=True)
class MetricGate:
    metric: str
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    threshold: float | None = None
    greater_is_better: bool | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricGate:
        known = set(cls.__dataclass_fields__)
        if not isinstance(data, Mapping) or not isinstance(data.get("metric"), str):
            raise SpecError("gate: give the metric to compare, e.g. {\"metric\": \"auc\", \"min_absolute_change\": 0.01}")
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"gate: unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(sorted(known))}")
        return cls(**dict(data))

    def direction(self) -> bool:
        if self.greater_is_better is not None:
            return self.greater_is_better
        if self.metric in GREATER_IS_BETTER:
            return GREATER_IS_BETTER[self.metric]
        raise SpecError(f"gate on {self.metric!r}: its direction is unknown; set greater_is_better true or false")

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k) is not None}


@dataclass(frozen=True)
class GateResult:
    passes: bool
    reason: str
    metric: str
    champion: float | None
    challenger: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"passes": self.passes, "reason": self.reason, "metric": self.metric,
                "champion": self.champion, "challenger": self.challenger}


def gate(champion: Mapping[str, Any], challenger: Mapping[str, Any], rule: MetricGate) -> GateResult:
    """Does the challenger beat the champion on ``rule.metric`` by the margin the rule asks?"""
    up = rule.direction()
    m = rule.metric
    old, new = champion.get(m), challenger.get(m)
    if not isinstance(old, int | float) or not isinstance(new, int | float):
        return GateResult(False, f"{m}: no value for the {'champion' if not isinstance(old, int | float) else 'challenger'}", m, old, new)
    gain = (new - old) if up else (old - new)  # positive: the challenger is better
    failures = []
    if rule.threshold is not None and ((new < rule.threshold) if up else (new > rule.threshold)):
        failures.append(f"{m} {new:.6g} is {'below' if up else 'above'} the threshold {rule.threshold:g}")
    if rule.min_absolute_change is not None and gain < rule.min_absolute_change:
        failures.append(f"{m} improves by {gain:.6g}, less than {rule.min_absolute_change:g}")
    if rule.min_relative_change is not None:
        relative = gain / abs(old) if old else (float("inf") if gain > 0 else 0.0)
        if relative < rule.min_relative_change:
            failures.append(f"{m} improves by {relative:.2%}, less than {rule.min_relative_change:.2%}")
    if rule.min_absolute_change is None and rule.min_relative_change is None and rule.threshold is None and gain <= 0:
        failures.append(f"{m} {new:.6g} is not better than the champion's {old:.6g}")
    if failures:
        return GateResult(False, "; ".join(failures), m, old, new)
    return GateResult(True, f"{m} {new:.6g} beats the champion's {old:.6g}", m, old, new)


def side_by_side(metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{model id: {metric: value}}`` -> per metric the values by model and ``best``: the ids
    holding the better value (empty for a metric without a known direction)."""
    names = list(dict.fromkeys(k for values in metrics.values() for k in values))
    table: dict[str, dict[str, Any]] = {}
    for name in names:
        values = {model: values.get(name) for model, values in metrics.items()}
        numbers = {k: v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        up = GREATER_IS_BETTER.get(name)
        best: list[str] = []
        if up is not None and numbers:
            target = max(numbers.values()) if up else min(numbers.values())
            best = [k for k, v in numbers.items() if v == target]
        table[name] = {"values": values, "best": best, "greater_is_better": up}
    return table
