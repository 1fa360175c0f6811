"""modelop_spark: run governed ModelOp model snapshots as batch jobs on Apache Spark.

The notebook API::

    import modelop_spark as ms
    snapshot = ms.load_snapshot("examples/fraud/snapshot")
    scores = ms.score(df, snapshot, key_columns=["transaction_id"])
    result = ms.run_job("examples/fraud/jobs/score.json")
    new_version = ms.train("examples/training/churn/snapshot", [{"url": "train.csv"}])
    figures = ms.evaluate(scored_df, columns=ms.EvaluationColumns(label="is_fraud", score="p"))

Nothing here creates a SparkSession at import; functions use the session of the DataFrame they
are given, or the active one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelop_spark.errors import (
    AssetError,
    ControlPlaneError,
    ModelFunctionError,
    ModelOpSparkError,
    SchemaError,
    SessionError,
    SnapshotError,
    SpecError,
)
from modelop_spark.evaluation import EvaluationColumns, EvaluationOptions, drift, evaluate
from modelop_spark.jobs.result import JobResult
from modelop_spark.jobs.runner import run_job
from modelop_spark.jobs.spec import JobSpec
from modelop_spark.runtime.snapshot import Snapshot, load_snapshot

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

__all__ = [
    "AssetError",
    "ControlPlaneError",
    "EvaluationColumns",
    "EvaluationOptions",
    "JobResult",
    "JobSpec",
    "ModelFunctionError",
    "ModelOpSparkError",
    "SchemaError",
    "SessionError",
    "Snapshot",
    "SnapshotError",
    "SpecError",
    "drift",
    "evaluate",
    "load_snapshot",
    "run_job",
    "score",
    "score_with_rejects",
    "train",
]

__version__ = "0.1.0"


def _snapshot(snapshot: Snapshot | str | os.PathLike[str]) -> Snapshot:
    return snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)


def score(
    df: DataFrame,
    snapshot: Snapshot | str | os.PathLike[str],
    *,
    key_columns: Sequence[str] = (),
    output_schema: StructType | None = None,
    job: dict[str, Any] | None = None,
    scoring_path: str = "auto",
) -> DataFrame:
    """Score ``df`` with the snapshot's score function; a lazy DataFrame of the outputs.

    A record the model fails on fails the query with that record's reason (nothing is dropped
    silently); use ``score_with_rejects`` to keep going and collect such rows instead.
    ``job`` is what ``init(job_json)`` receives. ``scoring_path``: ``auto`` (a scikit-learn
    model that compiles to Spark expressions and agrees with the Python path on a sample runs
    compiled, anything else in the Python workers), ``compiled`` (fail if it cannot) or ``python``.
    """
    from modelop_spark.jobs.quarantine import REJECTED_MARK
    from modelop_spark.runtime.apply import apply_function

    if REJECTED_MARK in df.columns:
        raise SchemaError(
            "score() returns outputs only, so rows the input checks marked would vanish; use "
            "score_with_rejects() on validate(...).in_band(), or score validate(...).valid"
        )
    scored = apply_function(
        df, _snapshot(snapshot), key_columns=key_columns, on_error="fail", output_schema=output_schema, job_document=job,
        scoring_path=scoring_path,
    )
    return scored.outputs()


def score_with_rejects(
    df: DataFrame,
    snapshot: Snapshot | str | os.PathLike[str],
    *,
    key_columns: Sequence[str] = (),
    output_schema: StructType | None = None,
    job: dict[str, Any] | None = None,
    scoring_path: str = "auto",
):
    """Score ``df``, keeping rows the model fails on: returns ``Scored`` with ``outputs()``,
    ``rejected()`` (key columns, ``_stage``, ``_reasons``, ``_record``) and ``counts()``.
    ``df`` may be ``validate(...).in_band()``: rows the checks marked are set aside in the same
    pass, with their reasons. Persist ``.combined`` first if you use more than one of them, or
    the model runs again. ``scoring_path`` as for ``score``; ``.scoring_path`` and
    ``.fallback_reason`` say which path runs and why."""
    from modelop_spark.runtime.apply import apply_function

    return apply_function(
        df, _snapshot(snapshot), key_columns=key_columns, on_error="reject", output_schema=output_schema, job_document=job,
        scoring_path=scoring_path,
    )


def train(snapshot: Snapshot | str | os.PathLike[str], inputs: Sequence[Any], **options: Any) -> JobResult:
    """Run a training job from a notebook and return its JobResult, whose first output is the
    new snapshot version: ``ms.train("snap", [{"url": "train.csv"}], output="snap-2.tar.gz")``.
    Keywords: ``output``, ``version``, ``job_id``, ``parameters``, ``spark`` and job options."""
    from modelop_spark.jobs.training import train as run_training

    location = snapshot.location if isinstance(snapshot, Snapshot) else snapshot
    return run_training(location, inputs, **options)
