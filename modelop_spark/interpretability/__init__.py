"""Interpretability: SHAP values computed on Spark with the ``shap`` package.

``explain`` gives the lazy per-row frame (``ms.explain``); ``interpretability`` the metrics job's
section (global and per-group importance, decision fields, summary bins); ``importance_drift``
and ``feature_importance_drift`` compare two importances (a feature-importance monitor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame

from modelop_spark.evaluation.explain_options import METHODS, ExplainOptions
from modelop_spark.interpretability.importance import decision_fields, importance_drift, ranked
from modelop_spark.interpretability.plan import EXPECTED
from modelop_spark.interpretability.spark import (
    Interpretability,
    explained_frame,
    explanation_plan,
    interpretability,
)
from modelop_spark.runtime.functions import ModelFunctions

__all__ = [
    "EXPECTED",
    "METHODS",
    "ExplainOptions",
    "Interpretability",
    "decision_fields",
    "explain",
    "feature_importance_drift",
    "importance_drift",
    "explained_frame",
    "explanation_plan",
    "interpretability",
    "ranked",
]


def explain(df: DataFrame, functions: ModelFunctions, options: ExplainOptions, *, key_columns: Sequence[str] = (),
            positive_label: Any = 1) -> DataFrame:
    """A lazy DataFrame: the key columns, one SHAP value per feature (named after it) and
    ``expected_value``. Only the plan's small inputs (background sample or feature means) are
    computed now."""
    plan = explanation_plan(df, functions, options, carried=tuple(key_columns), positive_label=positive_label)
    return explained_frame(df, plan)


def feature_importance_drift(
    baseline: DataFrame, comparator: DataFrame, functions: ModelFunctions, options: ExplainOptions | None = None,
    *, positive_label: Any = 1, default_output: str | None = None,
) -> dict[str, Any]:
    """Feature-importance drift between a baseline and a comparator (the monitor type): mean |SHAP|
    per feature on each, explained with the same settings (a model-agnostic method draws each
    side's background from that side), their difference and rank change (``importance_drift``)."""
    options = options or ExplainOptions()
    sides = {}
    for name, frame in (("baseline", baseline), ("comparator", comparator)):
        section = interpretability(frame, functions, options, positive_label=positive_label, default_output=default_output).section
        sides[name] = {row["feature"]: row["mean_abs_shap"] for row in section["global_importance"]}
    return {"method": section["method"], **importance_drift(sides["baseline"], sides["comparator"])}
