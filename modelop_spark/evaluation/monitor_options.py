"""``options.monitor`` of a metrics job (and the notebook's ``ms.monitor``), as one frozen value.

    "options": {"monitor": {
        "type": "data-drift" | "concept-drift" | "performance" | "bias" | "stability",
        "bins": 10, "max_categories": 50, "thresholds": [0.5],
        "columns": {"numerical": [...], "categorical": [...], "score": "...", "label": "...",
                    "protected": [...], "positive_label": 1}      # only to override the schema
    }}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelop_spark.errors import SpecError
from modelop_spark.evaluation.champion import MetricGate
from modelop_spark.evaluation.monitor_config import MonitorConfig
from modelop_spark.evaluation.monitors import MONITOR_TYPES, MonitorSettings

__all__ = ["CompareSpec", "MonitorSpec"]

_COLUMN_KEYS = ("numerical", "categorical", "score", "label", "protected", "positive_label", "optional")


@dataclass(frozen=True)
class MonitorSpec:
    type: str
    settings: MonitorSettings = field(default_factory=MonitorSettings)
    columns: Mapping[str, Any] = field(default_factory=dict)  # overrides of the schema's choices

    @classmethod
    def from_dict(cls, data: Any) -> MonitorSpec:
        if isinstance(data, str):
            data = {"type": data}
        if not isinstance(data, Mapping):
            raise SpecError("options.monitor: expected an object such as {\"type\": \"data-drift\"}")
        kind = data.get("type")
        if kind not in MONITOR_TYPES:
            raise SpecError(f"options.monitor.type: {kind!r} is not a built-in monitor; expected one of {', '.join(MONITOR_TYPES)}")
        known = {"type", "bins", "max_categories", "thresholds", "columns"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"options.monitor: unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(sorted(known))}")
        columns = data.get("columns") or {}
        if not isinstance(columns, Mapping) or set(columns) - set(_COLUMN_KEYS):
            raise SpecError(f"options.monitor.columns: expected an object with keys among {', '.join(_COLUMN_KEYS)}")
        thresholds = data.get("thresholds", [0.5])
        settings = MonitorSettings(
            bins=data.get("bins", 10), max_categories=data.get("max_categories", 50),
            thresholds=tuple(thresholds) if isinstance(thresholds, list | tuple) else (thresholds,),
        )
        return cls(type=kind, settings=settings, columns=dict(columns))

    def config(self, base: MonitorConfig) -> MonitorConfig:
        return base.with_overrides(**self.columns)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "bins": self.settings.bins, "max_categories": self.settings.max_categories,
                               "thresholds": list(self.settings.thresholds)}
        if self.columns:
            out["columns"] = dict(self.columns)
        return out


@dataclass(frozen=True)
class CompareSpec:
    """``options.compare`` of a metrics job: the job's snapshot is the champion; each challenger
    is a snapshot location; all are scored on the job's labeled input, read once.

        "options": {"compare": {"challengers": ["path/or/url", ...], "label": "is_fraud",
                                "score": "probability", "gate": {"metric": "auc", "min_absolute_change": 0.01}}}
    """

    challengers: tuple[str, ...]
    label: str | None = None
    score: str | None = None
    gate: MetricGate | None = None
    positive_label: Any = None

    @classmethod
    def from_dict(cls, data: Any) -> CompareSpec:
        if not isinstance(data, Mapping):
            raise SpecError("options.compare: expected an object with 'challengers' (snapshot locations)")
        known = {"challengers", "label", "score", "gate", "positive_label"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"options.compare: unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(sorted(known))}")
        challengers = data.get("challengers")
        if not isinstance(challengers, list) or not challengers or not all(isinstance(c, str) for c in challengers):
            raise SpecError("options.compare.challengers: give one or more snapshot locations")
        gate = MetricGate.from_dict(data["gate"]) if data.get("gate") else None
        if gate is not None:
            gate.direction()  # an unknown direction is an error now, not after the scoring
        return cls(challengers=tuple(challengers), label=data.get("label"), score=data.get("score"), gate=gate,
                   positive_label=data.get("positive_label"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"challengers": list(self.challengers)}
        for key in ("label", "score", "positive_label"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.gate is not None:
            out["gate"] = self.gate.to_dict()
        return out
