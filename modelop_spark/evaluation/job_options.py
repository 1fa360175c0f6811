"""The metrics-job keys of a job's ``options`` (``JobOptions.extra``), as one frozen value.

    "options": {
      "builtin_evaluation": "auto" | "always" | "only" | "never",
      "score_first": false,
      "metrics_shape": "pandas" | "spark",        # override the detected shape of metrics()
      "max_metrics_rows": 1000000,                # per input, for a pandas metrics function
      "baseline_input": "baseline",               # input name used as the drift baseline
      "report": true,                             # plots + report.html beside a file output
      "evaluation": {"columns": {...}, "thresholds": [0.5], ...},
      "mlflow": {"tracking_uri": "sqlite:///mlflow.db", "experiment": "...", "artifact_location": "..."},
      "interpretability": {"method": "auto", "top_n": 10, ...}   # SHAP on Spark (evaluation.explain_options)
      "monitor": {"type": "data-drift", ...},     # a built-in monitor (evaluation.monitor_options)
      "compare": {"challengers": [...], ...}      # champion/challenger on the same labeled data
    }
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from modelop_spark.errors import SpecError
from modelop_spark.evaluation.explain_options import ExplainOptions
from modelop_spark.evaluation.monitor_options import CompareSpec, MonitorSpec
from modelop_spark.evaluation.options import EvaluationColumns, EvaluationOptions

__all__ = ["BUILTIN_MODES", "DEFAULT_MAX_METRICS_ROWS", "MetricsOptions", "MlflowTarget"]

BUILTIN_MODES: tuple[str, ...] = ("auto", "always", "only", "never")
DEFAULT_MAX_METRICS_ROWS = 1_000_000
Builtin = Literal["auto", "always", "only", "never"]


@dataclass(frozen=True)
class MlflowTarget:
    """Where to log. Credentials come from MLflow's own environment variables, never the job."""

    tracking_uri: str
    experiment: str | None = None  # default: the snapshot's name
    artifact_location: str | None = None  # for an experiment created by this job
    run_name: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> MlflowTarget:
        if not isinstance(data, Mapping) or not data.get("tracking_uri"):
            raise SpecError("options.mlflow.tracking_uri: give the MLflow tracking URI (e.g. sqlite:///mlflow.db)")
        known = set(cls.__dataclass_fields__)
        # Training jobs share the "mlflow" block; their registry keys mean nothing here.
        ignored = {"registered_model", "register"}
        unknown = sorted(set(data) - known - ignored)
        if unknown:
            raise SpecError(f"options.mlflow.{unknown[0]}: unknown; expected {', '.join(sorted(known))}")
        return cls(**{k: data[k] for k in known if data.get(k) is not None})

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k) is not None}


def _flag(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise SpecError(f"options.{key}: expected true or false, found {value!r}")
    return value


@dataclass(frozen=True)
class MetricsOptions:
    builtin_evaluation: Builtin = "auto"
    score_first: bool = False
    metrics_shape: Literal["pandas", "spark"] | None = None
    max_metrics_rows: int = DEFAULT_MAX_METRICS_ROWS
    baseline_input: str | None = None
    report: bool = True
    columns: EvaluationColumns = field(default_factory=EvaluationColumns)
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)
    mlflow: MlflowTarget | None = None
    interpretability: ExplainOptions | None = None
    monitor: MonitorSpec | None = None
    compare: CompareSpec | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricsOptions:
        builtin = data.get("builtin_evaluation", "auto")
        if builtin not in BUILTIN_MODES:
            raise SpecError(f"options.builtin_evaluation: {builtin!r} is not valid; expected one of {', '.join(BUILTIN_MODES)}")
        shape = data.get("metrics_shape")
        if shape not in (None, "pandas", "spark"):
            raise SpecError(f"options.metrics_shape: {shape!r} is not valid; expected pandas or spark")
        rows = data.get("max_metrics_rows", DEFAULT_MAX_METRICS_ROWS)
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise SpecError(f"options.max_metrics_rows: expected a whole number >= 1, found {rows!r}")
        evaluation = dict(data.get("evaluation") or {})
        if not isinstance(data.get("evaluation") or {}, Mapping):
            raise SpecError("options.evaluation: expected an object of evaluation settings")
        columns = evaluation.pop("columns", None) or {}
        if not isinstance(columns, Mapping):
            raise SpecError("options.evaluation.columns: expected an object naming label/score/prediction/protected/features")
        unknown_columns = sorted(set(columns) - set(EvaluationColumns.__dataclass_fields__))
        if unknown_columns:
            raise SpecError(
                f"options.evaluation.columns.{unknown_columns[0]}: unknown; expected "
                f"{', '.join(EvaluationColumns.__dataclass_fields__)}"
            )
        return cls(
            builtin_evaluation=builtin,
            score_first=_flag(data, "score_first", False),
            metrics_shape=shape,
            max_metrics_rows=rows,
            baseline_input=data.get("baseline_input"),
            report=_flag(data, "report", True),
            columns=EvaluationColumns.from_dict(columns),
            evaluation=EvaluationOptions.from_dict(evaluation),
            mlflow=MlflowTarget.from_dict(data["mlflow"]) if data.get("mlflow") else None,
            interpretability=_interpretability(data.get("interpretability")),
            monitor=MonitorSpec.from_dict(data["monitor"]) if data.get("monitor") else None,
            compare=CompareSpec.from_dict(data["compare"]) if data.get("compare") else None,
        )

    @classmethod
    def from_job(cls, options: Mapping[str, Any], parameters: Mapping[str, Any]) -> MetricsOptions:
        """From a job's options; a ModelOp job may carry the same keys in ``jobParameters``
        (the job's options win)."""
        keys = set(cls.__dataclass_fields__) - {"columns"}
        merged = {k: v for k, v in parameters.items() if k in keys}
        merged.update({k: v for k, v in options.items() if k in keys})
        return cls.from_dict(merged)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "builtin_evaluation": self.builtin_evaluation,
            "score_first": self.score_first,
            "max_metrics_rows": self.max_metrics_rows,
            "report": self.report,
            "evaluation": {"columns": self.columns.to_dict(), **self.evaluation.to_dict()},
        }
        if self.metrics_shape:
            out["metrics_shape"] = self.metrics_shape
        if self.baseline_input:
            out["baseline_input"] = self.baseline_input
        if self.mlflow:
            out["mlflow"] = self.mlflow.to_dict()
        if self.interpretability:
            out["interpretability"] = self.interpretability.to_dict()
        if self.monitor:
            out["monitor"] = self.monitor.to_dict()
        if self.compare:
            out["compare"] = self.compare.to_dict()
        return out


def _interpretability(value: Any) -> ExplainOptions | None:
    """``interpretability``: true, an object of settings, or (a ModelOp ``jobParameters`` value)
    that object as JSON text; false or absent: off."""
    if value is None or value is False:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SpecError(f"options.interpretability: not valid JSON ({exc.msg}); give true or an object of settings") from exc
    return ExplainOptions.from_dict(value) if value is not False else None
