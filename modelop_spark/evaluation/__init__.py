"""Distributed evaluation: classification, regression, fairness, drift; plots and report.

Spark computes bounded aggregates (score bins, confusion counts, group counts, quantile bins);
the formulas run on those small arrays; nothing collects rows to the driver.
"""

from modelop_spark.evaluation.evaluate import FORMAT_VERSION, choose_kind, drift, evaluate
from modelop_spark.evaluation.options import (
    EvaluationColumns,
    EvaluationOptions,
    columns_from_roles,
)
from modelop_spark.evaluation.report import EvaluationFiles, render_html, to_json, write_report
from modelop_spark.evaluation.tracking import headline_metrics, log_evaluation

__all__ = [
    "FORMAT_VERSION",
    "EvaluationColumns",
    "EvaluationFiles",
    "EvaluationOptions",
    "choose_kind",
    "columns_from_roles",
    "drift",
    "evaluate",
    "headline_metrics",
    "log_evaluation",
    "render_html",
    "to_json",
    "write_report",
]
