"""The public entry points: ``evaluate`` (classification or regression, with fairness, and drift
when a baseline is given) and ``drift``. Each returns the evaluation document, a plain dict with
the stable keys listed in ``docs/metrics.md``.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from modelop_spark._redact import redacted_logger
from modelop_spark.errors import SpecError
from modelop_spark.evaluation import _spark
from modelop_spark.evaluation.binary import binary_metrics
from modelop_spark.evaluation.drift import categorical_drift, numeric_drift
from modelop_spark.evaluation.fairness import fairness_metrics
from modelop_spark.evaluation.multiclass import multiclass_metrics
from modelop_spark.evaluation.options import EvaluationColumns, EvaluationOptions
from modelop_spark.evaluation.regression import (
    DISTRIBUTION_BINS,
    regression_distribution,
    regression_metrics,
)

__all__ = ["FORMAT_VERSION", "choose_kind", "drift", "evaluate"]

FORMAT_VERSION = 1

log = redacted_logger("modelop_spark.evaluation")


def choose_kind(df: DataFrame, columns: EvaluationColumns, options: EvaluationOptions) -> str:
    """``kind="auto"``: a score with a boolean/integer/string label, or a float label holding only
    0 and 1, is binary; a prediction without a score is multiclass; a score with any other float
    label is regression."""
    if options.kind != "auto":
        return options.kind
    if columns.label is None:
        raise SpecError("evaluation: no label column; name it in the job (evaluation.columns.label) "
                        "or give one schema field \"role\": \"label\"")
    label_type = df.schema[columns.label].dataType
    if columns.score is not None:
        if isinstance(label_type, T.FloatType | T.DoubleType | T.DecimalType):
            # Spark ML labels are doubles: 0.0/1.0 only means binary. This costs one scan of the
            # label column (stopping at the first other value); set kind to skip it.
            label = F.col(columns.label)
            other = df.where(label.isNotNull() & ~F.isnan(label) & ~label.isin(0.0, 1.0)).limit(1).count()
            return "regression" if other else "binary"
        return "binary"
    if columns.prediction is not None:
        return "multiclass"
    raise SpecError("evaluation: no score or prediction column; name one in the job "
                    "(evaluation.columns.score / .prediction) or give a schema field \"role\": \"score\"")


def _require(value: str | None, *, name: str, kind: str) -> str:
    if value is None:
        raise SpecError(f"evaluation: kind {kind!r} needs a {name} column; name it in evaluation.columns.{name}")
    return value


def _fairness(df: DataFrame, columns: EvaluationColumns, options: EvaluationOptions, kind: str) -> list[dict[str, Any]]:
    label = _require(columns.label, name="label", kind=kind)
    positive = F.when(F.col(label).isNotNull(), _spark.equals_value(df, label, options.positive_label))
    if kind == "binary":
        score = _spark.score_column(df, _require(columns.score, name="score", kind=kind))
        predicted = F.when(score.isNotNull() & ~F.isnan(score), score >= F.lit(float(options.thresholds[0])))
    elif columns.prediction is not None:
        predicted = F.when(F.col(columns.prediction).isNotNull(),
                           _spark.equals_value(df, columns.prediction, options.positive_label))
    else:
        raise SpecError("evaluation: fairness needs a score (binary) or a prediction column")
    return [
        fairness_metrics(
            column,
            _spark.group_confusions(df, column=column, positive=positive, predicted=predicted,
                                    max_groups=options.max_groups),
            reference_group=options.reference_groups.get(column),
        )
        for column in columns.protected
    ]


def evaluate(
    df: DataFrame,
    *,
    columns: EvaluationColumns,
    options: EvaluationOptions | None = None,
    baseline: DataFrame | None = None,
) -> dict[str, Any]:
    """Evaluate a labeled, scored DataFrame. Only bounded aggregates reach the driver."""
    options = options or EvaluationOptions()
    _spark.require_columns(
        df, [columns.label, columns.score, columns.prediction, *columns.protected], what="evaluation"
    )
    kind = choose_kind(df, columns, options)
    doc: dict[str, Any] = {"format_version": FORMAT_VERSION, "kind": kind, "columns": columns.to_dict()}
    label = _require(columns.label, name="label", kind=kind)
    if kind == "binary":
        agg, counts = _spark.binary_aggregates(
            df, label=label, score=_require(columns.score, name="score", kind=kind),
            positive_label=options.positive_label, thresholds=options.thresholds, score_bins=options.score_bins,
        )
        counts.pop("out_of_range")
        doc["binary"] = binary_metrics(agg, curve_points=options.curve_points,
                                       calibration_bins=options.calibration_bins)
    elif kind == "multiclass":
        labels, matrix, counts = _spark.confusion_counts(
            df, label=label, prediction=_require(columns.prediction, name="prediction", kind=kind),
            max_classes=options.max_classes,
        )
        doc["multiclass"] = multiclass_metrics(labels, matrix)
    else:
        score = _require(columns.score, name="score", kind=kind)
        sums, counts = _spark.regression_sums(df, label=label, score=score)
        doc["regression"] = regression_metrics(sums)
        doc["regression_distribution"] = regression_distribution(
            _spark.regression_distribution_counts(df, label=label, score=score, bins=DISTRIBUTION_BINS)
        )
    doc["rows"] = counts
    doc["fairness"] = _fairness(df, columns, options, kind) if columns.protected and kind != "regression" else []
    if columns.protected and kind == "regression":
        # The group rates fairness compares need a predicted class; a regression has none.
        warning = (f"protected columns {', '.join(columns.protected)} are not evaluated for fairness: fairness "
                   "compares classification rates per group, and these are regression metrics")
        log.warning("evaluation: %s", warning)
        doc["warnings"] = [warning]
    doc["drift"] = None
    if baseline is not None:
        # Without named features: every shared column but the label and the model's outputs.
        own = {columns.label, columns.score, columns.prediction}
        features = columns.features or tuple(c for c in baseline.columns if c in set(df.columns) and c not in own)
        # Chosen for the user (no schema, no option): identifiers are not features.
        identifiers = [] if columns.features else _spark.identifier_columns(baseline, features)
        features = tuple(f for f in features if f not in identifiers)
        doc["drift"] = drift(baseline, df, features=features, options=options) if features else {"features": {}}
        if identifiers:
            doc["drift"]["not_compared"] = {name: "identifier: (nearly) every value is distinct" for name in identifiers}
    doc["options"] = options.to_dict()
    return doc


def _is_numeric(df: DataFrame, name: str) -> bool:
    dtype = df.schema[name].dataType
    return isinstance(dtype, T.NumericType) and not isinstance(dtype, T.BooleanType)


def drift(
    baseline: DataFrame,
    sample: DataFrame,
    *,
    features: tuple[str, ...] | list[str] = (),
    categorical: tuple[str, ...] | list[str] = (),
    options: EvaluationOptions | None = None,
) -> dict[str, Any]:
    """PSI and KS per numeric feature, PSI and chi-square per categorical feature. Without
    ``features``, every column the two frames share is compared. A numeric column listed in
    ``categorical`` is compared as categories."""
    options = options or EvaluationOptions()
    names = list(features) or [c for c in baseline.columns if c in set(sample.columns)]
    _spark.require_columns(baseline, names, what="drift baseline")
    _spark.require_columns(sample, names, what="drift sample")
    numeric = [f for f in names if f not in categorical and _is_numeric(baseline, f)]
    for f in numeric:
        if not _is_numeric(sample, f):
            raise SpecError(f"drift: feature {f!r} is numeric in the baseline but "
                            f"{sample.schema[f].dataType.simpleString()} in the sample")
    cats = [f for f in names if f not in numeric]
    result: dict[str, Any] = {}
    bins = _spark.numeric_bin_counts(baseline, sample, features=numeric, psi_bins=options.psi_bins,
                                     ks_bins=options.ks_bins) if numeric else {}
    for f in numeric:
        if f not in bins:
            result[f] = {"type": "numeric", "psi": None, "ks": {"statistic": None, "p_value": None},
                         "note": "the baseline has no value for this feature"}
            continue
        result[f] = numeric_drift(**bins[f])
    for f, (expected, actual) in _spark.categorical_counts(
        baseline, sample, features=cats, max_categories=options.max_categories
    ).items():
        result[f] = categorical_drift(expected, actual)
    return {"features": {f: result[f] for f in names}}
