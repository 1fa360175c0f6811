"""The built-in monitors: data drift, concept drift, performance, bias, stability.

Each is a Spark computation with bounded aggregates on the driver and returns one result
document: an evaluation document (``format_version``, ``kind``; so ``write_report`` draws its
plots and report) with ``monitor`` (its type), ``metrics`` (its scalars under identifier names,
what a DMN judges) and its own sections. Columns come from a ``MonitorConfig`` (the base model's
extended schema); see ``docs/monitoring.md`` for every key.

Binning, stated once: a numerical field's histogram has ``bins`` bins (default 10) cut at the
baseline's quantiles, ``[e_i, e_i+1)`` open at both ends, shared by both sides; PSI and the
Jensen-Shannon distance read it. KS is exact over every value (no bins). A categorical field
compares category counts (the ``max_categories`` most frequent, the rest as ``__other__``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from modelop_spark.errors import SpecError
from modelop_spark.evaluation import _spark
from modelop_spark.evaluation._monitor_spark import numeric_distributions
from modelop_spark.evaluation.drift import categorical_drift
from modelop_spark.evaluation.evaluate import FORMAT_VERSION, evaluate
from modelop_spark.evaluation.monitor_config import MonitorConfig
from modelop_spark.evaluation.monitor_formulas import (
    histogram_drift,
    ks_p_value,
    metric_name,
    scalar_items,
    worst,
)
from modelop_spark.evaluation.options import EvaluationColumns, EvaluationOptions, Kind

__all__ = ["MONITOR_TYPES", "MonitorSettings", "run_monitor"]


@dataclass(frozen=True)
class MonitorSettings:
    """The bounds of a monitor: what reaches the driver stays this small whatever the rows."""

    bins: int = 10
    max_categories: int = 50
    thresholds: tuple[float, ...] = (0.5,)

    def __post_init__(self) -> None:
        if not isinstance(self.bins, int) or not 2 <= self.bins <= 1000:
            raise SpecError(f"monitor setting 'bins': expected an integer in [2, 1000], found {self.bins!r}")
        if not isinstance(self.max_categories, int) or not 2 <= self.max_categories <= 10_000:
            raise SpecError(f"monitor setting 'max_categories': expected an integer in [2, 10000], found {self.max_categories!r}")


def _present(frame: DataFrame, names: tuple[str, ...], config: MonitorConfig, *, side: str) -> tuple[list[str], dict[str, str]]:
    """The fields both sides can compare; a scoringOptional field absent from a side is noted,
    any other absent field is an error."""
    kept, skipped = [], {}
    for name in names:
        if name in frame.columns:
            kept.append(name)
        elif name in config.optional:
            skipped[name] = f"scoringOptional and absent from the {side}"
        else:
            raise SpecError(f"monitor: field {name!r} (a drift candidate of the schema) is not in the {side} data; "
                            f"its columns are {', '.join(frame.columns[:30])}")
    return kept, skipped


def _is_numeric(frame: DataFrame, name: str) -> bool:
    dtype = frame.schema[name].dataType
    return isinstance(dtype, T.NumericType) and not isinstance(dtype, T.BooleanType)


def _numerical_section(entry: Mapping[str, Any]) -> dict[str, Any]:
    b, c = entry["baseline"], entry["comparator"]
    n, m = int(b.sum()), int(c.sum())
    statistic = entry["ks_statistic"]
    return {
        "type": "numerical",
        **histogram_drift(b, c),
        "ks": {"statistic": statistic, "p_value": ks_p_value(statistic, n, m)},
        "bins": {"edges": list(entry["edges"]), "baseline": b.tolist(), "comparator": c.tolist()},
        "rows": {"baseline": n, "comparator": m},
        "missing": dict(entry["missing"]),
        "special_values": dict(entry["special"]),
    }


def _categorical_section(expected: Mapping[str, int], actual: Mapping[str, int]) -> dict[str, Any]:
    base = categorical_drift(expected, actual)
    categories = list(base["categories"])
    e = np.array([base["categories"][k]["baseline"] for k in categories], dtype=np.float64)
    a = np.array([base["categories"][k]["sample"] for k in categories], dtype=np.float64)
    return {
        "type": "categorical",
        **histogram_drift(e, a),
        "chi_square": base["chi_square"],
        "categories": {k: {"baseline": v["baseline"], "comparator": v["sample"]} for k, v in base["categories"].items()},
        "rows": {"baseline": base["baseline_rows"], "comparator": base["sample_rows"]},
    }


def compare_distributions(
    baseline: DataFrame, comparator: DataFrame, *, numerical: list[str], categorical: list[str],
    config: MonitorConfig, settings: MonitorSettings,
) -> dict[str, dict[str, Any]]:
    """Per field, the drift section; numerical fields share one plan, categorical ones another."""
    for f in numerical:
        for frame, side in ((baseline, "baseline"), (comparator, "comparator")):
            if not _is_numeric(frame, f):
                raise SpecError(f"monitor: field {f!r} is numerical in the schema but "
                                f"{frame.schema[f].dataType.simpleString()} in the {side}; mark it dataClass categorical")
    sections: dict[str, dict[str, Any]] = {}
    distributions = numeric_distributions(baseline, comparator, fields=numerical, bins=settings.bins,
                                          special_values=config.special_values)
    for f in numerical:
        sections[f] = _numerical_section(distributions[f])
    counts = _spark.categorical_counts(baseline, comparator, features=categorical, max_categories=settings.max_categories)
    for f, (expected, actual) in counts.items():
        sections[f] = _categorical_section(expected, actual)
    return sections


def _drift_metrics(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for name, s in sections.items():
        metrics[metric_name(name, "psi")] = s["psi"]
        metrics[metric_name(name, "js_distance")] = s["js_distance"]
        if s["type"] == "numerical":
            metrics[metric_name(name, "ks_statistic")] = s["ks"]["statistic"]
            metrics[metric_name(name, "ks_p_value")] = s["ks"]["p_value"]
        else:
            metrics[metric_name(name, "chi_square_p_value")] = s["chi_square"]["p_value"]
    of = [s for s in sections.values()]
    metrics["max_psi"] = worst(s["psi"] for s in of)
    metrics["max_js_distance"] = worst(s["js_distance"] for s in of)
    metrics["max_ks_statistic"] = worst(s["ks"]["statistic"] for s in of if s["type"] == "numerical")
    metrics["min_ks_p_value"] = worst((s["ks"]["p_value"] for s in of if s["type"] == "numerical"), largest=False)
    metrics["min_chi_square_p_value"] = worst(
        (s["chi_square"]["p_value"] for s in of if s["type"] == "categorical"), largest=False)
    return metrics


def _document(kind: str, rows: Mapping[str, int], sections: Mapping[str, Any], metrics: Mapping[str, Any],
              config: MonitorConfig, settings: MonitorSettings, **extra: Any) -> dict[str, Any]:
    # The evaluation report's "drift" section reads each field's type, psi and ks / chi_square.
    return {
        "format_version": FORMAT_VERSION, "kind": kind, "monitor": kind, "rows": dict(rows),
        "drift": {"features": dict(sections)}, "metrics": dict(metrics),
        "config": config.to_dict(), "settings": {"bins": settings.bins, "max_categories": settings.max_categories},
        **extra,
    }


def _row_counts(baseline: DataFrame, comparator: DataFrame) -> dict[str, int]:
    return {"baseline": baseline.count(), "comparator": comparator.count()}


def data_drift(baseline: DataFrame, comparator: DataFrame, config: MonitorConfig, settings: MonitorSettings) -> dict[str, Any]:
    if not config.numerical and not config.categorical:
        raise SpecError("data-drift monitor: no field is a drift candidate; mark fields \"driftCandidate\": true "
                        "in the base model's input schema, or name them in the monitor's 'numerical'/'categorical'")
    skipped: dict[str, str] = {}
    fields: dict[str, list[str]] = {}
    for kind in ("numerical", "categorical"):
        names = getattr(config, kind)
        in_base, s1 = _present(baseline, names, config, side="baseline")
        in_both, s2 = _present(comparator, tuple(in_base), config, side="comparator")
        fields[kind] = in_both
        skipped.update(s1)
        skipped.update(s2)
    sections = compare_distributions(baseline, comparator, numerical=fields["numerical"],
                                     categorical=fields["categorical"], config=config, settings=settings)
    return _document("data-drift", _row_counts(baseline, comparator), sections, _drift_metrics(sections),
                     config, settings, not_compared=skipped)


def concept_drift(baseline: DataFrame, comparator: DataFrame, config: MonitorConfig, settings: MonitorSettings) -> dict[str, Any]:
    """The same comparison on the model's output (score) and the ground truth (label)."""
    if config.score is None and config.label is None:
        raise SpecError("concept-drift monitor: no score or label field; give the schema a field with "
                        "\"role\": \"score\" and one with \"role\": \"label\", or name them in the monitor")
    numerical = [c for c in (config.score,) if c]
    categorical = [config.label] if config.label and config.label_categorical else []
    if config.label and not config.label_categorical:
        numerical.append(config.label)
    for name in (*numerical, *categorical):
        _spark.require_columns(baseline, [name], what="concept-drift baseline")
        _spark.require_columns(comparator, [name], what="concept-drift comparator")
    sections = compare_distributions(baseline, comparator, numerical=numerical, categorical=categorical,
                                     config=config, settings=settings)
    return _document("concept-drift", _row_counts(baseline, comparator), sections, _drift_metrics(sections), config, settings)


def _evaluation(frame: DataFrame, config: MonitorConfig, settings: MonitorSettings, *, protected: tuple[str, ...]) -> dict[str, Any]:
    if config.label is None or config.score is None:
        raise SpecError("monitor: performance and bias need a label and a score; give the schema fields "
                        "\"role\": \"label\" and \"role\": \"score\", or name them in the monitor")
    columns = EvaluationColumns(label=config.label, score=config.score, protected=protected)
    dtype = frame.schema[config.score].dataType if config.score in frame.columns else None
    kind: Kind = "auto"
    if dtype is not None and not isinstance(dtype, T.NumericType) and not isinstance(dtype, T.UserDefinedType):
        columns = EvaluationColumns(label=config.label, prediction=config.score, protected=protected)
        kind = "multiclass"
    options = EvaluationOptions(kind=kind, positive_label=config.positive_label, thresholds=settings.thresholds,
                                max_categories=settings.max_categories)
    return evaluate(frame, columns=columns, options=options)


PERFORMANCE_KEYS = {
    "binary": ("roc_auc", "average_precision", "log_loss"),
    "regression": ("rmse", "mae", "mse", "r2", "mape"),
}


def performance_metrics(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The headline scalars of an evaluation document, under the names a DMN reads."""
    metrics: dict[str, Any] = {}
    if "binary" in doc:
        b = doc["binary"]
        metrics.update({k: b[k] for k in PERFORMANCE_KEYS["binary"]})
        metrics["auc"] = b["roc_auc"]
        first = b["thresholds"][0]
        metrics.update({k: first[k] for k in ("accuracy", "precision", "recall", "f1", "specificity")})
        metrics.update({f"confusion_{k}": v for k, v in first["confusion_matrix"].items()})
    elif "multiclass" in doc:
        m = doc["multiclass"]
        metrics.update({"accuracy": m["accuracy"], "f1": m["macro"]["f1"], "precision": m["macro"]["precision"],
                        "recall": m["macro"]["recall"]})
    elif "regression" in doc:
        metrics.update({k: doc["regression"][k] for k in PERFORMANCE_KEYS["regression"]})
    return scalar_items(metrics)


def performance(baseline: DataFrame | None, comparator: DataFrame, config: MonitorConfig, settings: MonitorSettings) -> dict[str, Any]:
    doc = _evaluation(comparator, config, settings, protected=())
    return {**doc, "monitor": "performance", "metrics": performance_metrics(doc), "config": config.to_dict()}


def bias(baseline: DataFrame | None, comparator: DataFrame, config: MonitorConfig, settings: MonitorSettings) -> dict[str, Any]:
    if not config.protected:
        raise SpecError("bias monitor: no protected field; mark fields \"protectedClass\": true in the base "
                        "model's input schema, or name them in the monitor's 'protected'")
    doc = _evaluation(comparator, config, settings, protected=config.protected)
    metrics: dict[str, Any] = {}
    for section in doc["fairness"]:
        for key, value in section["summary"].items():
            metrics[metric_name(section["column"], key)] = value
        ratios = [g["disparate_impact_ratio"] for g in section["groups"].values()]
        metrics[metric_name(section["column"], "min_disparate_impact_ratio")] = worst(ratios, largest=False)
    metrics["max_demographic_parity_difference"] = worst(
        s["summary"].get("demographic_parity_difference") for s in doc["fairness"])
    metrics["max_equalized_odds_difference"] = worst(s["summary"].get("equalized_odds_difference") for s in doc["fairness"])
    return {**doc, "monitor": "bias", "metrics": scalar_items(metrics), "config": config.to_dict()}


def stability(baseline: DataFrame, comparator: DataFrame, config: MonitorConfig, settings: MonitorSettings) -> dict[str, Any]:
    """PSI of the score (the stability index) and CSI of each drift candidate (the same formula
    per characteristic), baseline against comparator."""
    numerical = [c for c in (config.score, *config.numerical) if c]
    numerical = list(dict.fromkeys(numerical))
    categorical = [c for c in config.categorical if c in comparator.columns or c not in config.optional]
    numerical = [c for c in numerical if c in comparator.columns or c not in config.optional]
    if not numerical and not categorical:
        raise SpecError("stability monitor: no score field and no drift candidate to compare")
    sections = compare_distributions(baseline, comparator, numerical=numerical, categorical=categorical,
                                     config=config, settings=settings)
    metrics: dict[str, Any] = {}
    if config.score:
        metrics["stability_index"] = sections[config.score]["psi"]
    characteristics = {k: v for k, v in sections.items() if k != config.score}
    for name, s in characteristics.items():
        metrics[metric_name(name, "csi")] = s["psi"]
    metrics["max_csi"] = worst(s["psi"] for s in characteristics.values())
    return _document("stability", _row_counts(baseline, comparator), sections, metrics, config, settings)


Monitor = Callable[[Any, DataFrame, MonitorConfig, MonitorSettings], dict[str, Any]]
MONITORS: dict[str, tuple[Monitor, bool]] = {  # type -> (computation, needs a baseline)
    "data-drift": (data_drift, True),
    "concept-drift": (concept_drift, True),
    "performance": (performance, False),
    "bias": (bias, False),
    "stability": (stability, True),
}
MONITOR_TYPES: tuple[str, ...] = tuple(MONITORS)


def run_monitor(
    kind: str, *, comparator: DataFrame, baseline: DataFrame | None = None, config: MonitorConfig,
    settings: MonitorSettings | None = None,
) -> dict[str, Any]:
    """Run the built-in monitor ``kind`` on the comparator (and baseline) DataFrames."""
    if kind not in MONITORS:
        raise SpecError(f"monitor type {kind!r} is not built in; expected one of {', '.join(MONITOR_TYPES)}")
    compute, needs_baseline = MONITORS[kind]
    if needs_baseline and baseline is None:
        raise SpecError(f"{kind} monitor: needs a baseline (an input with role TRAINING_DATA or BASELINE_DATA) "
                        "and a comparator (role COMPARATOR_DATA)")
    return compute(baseline, comparator, config, settings or MonitorSettings())
