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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelop_spark.assets.spec import AssetSpec
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
from modelop_spark.quarantine import REJECTED_MARK
from modelop_spark.runtime.apply import apply_function
from modelop_spark.runtime.functions import ModelFunctions
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
) -> DataFrame:
    """Score ``df`` with the snapshot's score function; a lazy DataFrame of the outputs.

    A record the model fails on fails the query with that record's reason (nothing is dropped
    silently); use ``score_with_rejects`` to keep going and collect such rows instead.
    ``job`` is what ``init(job_json)`` receives.
    """
    if REJECTED_MARK in df.columns:
        raise SchemaError(
            "score() returns outputs only, so rows the input checks marked would vanish; use "
            "score_with_rejects() on validate(...).in_band(), or score validate(...).valid"
        )
    functions = ModelFunctions.resolve(_snapshot(snapshot), job_document=job)
    scored = apply_function(df, functions, key_columns=key_columns, on_error="fail", output_schema=output_schema)
    return scored.outputs()


def score_with_rejects(
    df: DataFrame,
    snapshot: Snapshot | str | os.PathLike[str],
    *,
    key_columns: Sequence[str] = (),
    output_schema: StructType | None = None,
    job: dict[str, Any] | None = None,
):
    """Score ``df``, keeping rows the model fails on: returns ``Scored`` with ``outputs()``,
    ``rejected()`` (key columns, ``_stage``, ``_reasons``, ``_record``) and ``counts()``.
    ``df`` may be ``validate(...).in_band()``: rows the checks marked are set aside in the same
    pass, with their reasons. Persist ``.combined`` first if you use more than one of them, or
    the model runs again."""
    functions = ModelFunctions.resolve(_snapshot(snapshot), job_document=job)
    return apply_function(df, functions, key_columns=key_columns, on_error="reject", output_schema=output_schema)


def train(
    snapshot: Snapshot | str | os.PathLike[str],
    inputs: Sequence[Mapping[str, Any] | AssetSpec],
    *,
    output: str | None = None,
    version: str | None = None,
    job_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    spark: Any = None,
    **options: Any,
) -> JobResult:
    """Run a training job from a notebook and return its JobResult, whose first output is the
    new snapshot version: ``ms.train("snap", [{"url": "train.csv"}], output="snap-2.tar.gz")``.
    ``options`` are the job options (``max_train_rows``, ``mlflow``, ...). Raises nothing for a
    failed job (check ``result.ok``), like ``run_job``."""
    location = snapshot.location if isinstance(snapshot, Snapshot) else snapshot
    job: dict[str, Any] = {
        "job_type": "training",
        "snapshot": str(location),
        "inputs": [a.to_dict() if isinstance(a, AssetSpec) else dict(a) for a in inputs],
        "options": {**options, **({"snapshot_output": output} if output else {}), **({"snapshot_version": version} if version else {})},
    }
    if job_id:
        job["job_id"] = job_id
    if parameters:
        job["parameters"] = dict(parameters)
    return run_job(job, spark=spark)
