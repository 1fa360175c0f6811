"""modelop_spark: run governed ModelOp model snapshots as batch jobs on Apache Spark.

The notebook API::

    import modelop_spark as ms
    spark = ms.session()                       # the active session, or the embedded default
    snapshot = ms.load_snapshot("examples/fraud/snapshot")   # or "models:/fraud@champion"
    scores = ms.score(df, snapshot, key_columns=["transaction_id"])
    df.withColumn("score", ms.udf(snapshot)(*df.columns))
    result = ms.run_job("examples/fraud/jobs/score.json")
    new_version = ms.train("examples/training/churn/snapshot", [{"url": "train.csv"}])
    figures = ms.evaluate(scored_df, columns=ms.EvaluationColumns(label="is_fraud", score="p"))
    shap_values = ms.explain(df, snapshot, key_columns=["transaction_id"], method="auto")
    drift = ms.monitor("data-drift", comparator_df, baseline=training_df, schema=snapshot, dmn="drift.dmn")
    table = ms.compare(labeled_df, [champion, challenger], label="is_fraud", gate={"metric": "auc"})

Nothing here creates a SparkSession at import; functions use the session of the DataFrame they
are given, or the active one. Importing sets PYSPARK_PYTHON to this interpreter when unset, so
any session created afterwards runs its Python workers here.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, Sequence
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
from modelop_spark.runtime.session import get_or_create_session, workers_use_this_interpreter

# The rest of the API is imported when first used: every Spark Python worker imports this package
# to run the runtime's UDFs, and the evaluation, plotting and asset modules (matplotlib, scipy,
# delta) would add seconds to each worker's start for nothing it uses.
_LAZY: dict[str, str] = {
    "EvaluationColumns": "modelop_spark.evaluation.options",
    "EvaluationOptions": "modelop_spark.evaluation.options",
    "drift": "modelop_spark.evaluation.evaluate",
    "evaluate": "modelop_spark.evaluation.evaluate",
    "MetricGate": "modelop_spark.evaluation.champion",
    "MonitorConfig": "modelop_spark.evaluation.monitor_config",
    "MonitorSettings": "modelop_spark.evaluation.monitors",
    "ExplainOptions": "modelop_spark.interpretability",
    "JobResult": "modelop_spark.jobs.result",
    "JobSpec": "modelop_spark.jobs.spec",
    "AssetSpec": "modelop_spark.assets.spec",
    "ModelFunctions": "modelop_spark.runtime.functions",
    "Snapshot": "modelop_spark.runtime.snapshot",
    "load_snapshot": "modelop_spark.runtime.snapshot",
    "load_schema": "modelop_spark.schema.loader",
    "watch_progress": "modelop_spark.progress",
}


def __getattr__(name: str) -> Any:
    if name == "MONITORS":
        from modelop_spark.evaluation.monitors import MONITOR_TYPES

        return MONITOR_TYPES
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelop_spark' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from modelop_spark.assets.spec import AssetSpec
    from modelop_spark.evaluation.champion import MetricGate
    from modelop_spark.evaluation.evaluate import drift, evaluate
    from modelop_spark.evaluation.options import EvaluationColumns, EvaluationOptions
    from modelop_spark.jobs.result import JobResult
    from modelop_spark.jobs.spec import JobSpec
    from modelop_spark.runtime.snapshot import Snapshot, load_snapshot

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
    "compare",
    "drift",
    "evaluate",
    "explain",
    "judge",
    "load_snapshot",
    "monitor",
    "run_job",
    "score",
    "score_with_rejects",
    "session",
    "train",
    "udf",
]

__version__ = "0.1.0"

# Any session, the user's own included, runs its Python workers on this interpreter unless the
# user chose one; this sets an environment default only and starts no session.
workers_use_this_interpreter()


def session(*, master: str | None = None, conf: Mapping[str, str] | None = None):
    """The active SparkSession, or the embedded default (``local[*]``, quiet logs, the
    runtime's ``conf/``) created for a notebook; ``master`` and ``conf`` apply only when one is
    created."""
    return get_or_create_session(master=master, conf=conf)


def run_job(job: JobSpec | Mapping[str, Any] | str, *, spark: Any = None, progress: bool | None = None) -> JobResult:
    """Run a job (a JobSpec, a job dict, or a job file path) and return its JobResult; never
    raises for a failed job (check ``result.ok``). ``progress`` shows a progress bar while it runs
    (a widget in Jupyter, text elsewhere); by default only in a notebook kernel."""
    from modelop_spark.jobs.runner import run_job as _run_job
    from modelop_spark.progress import watch_progress

    if progress is None:
        progress = "ipykernel" in sys.modules
    if not progress:
        return _run_job(job, spark=spark)
    spark = spark or get_or_create_session()
    with watch_progress(spark, mode="bar"):
        return _run_job(job, spark=spark)


def _snapshot(snapshot: Snapshot | str | os.PathLike[str]) -> Snapshot:
    from modelop_spark.runtime.snapshot import Snapshot, load_snapshot

    return snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)


def _declared_output(snapshot: Snapshot, output_schema: StructType | None) -> StructType | None:
    """The output columns: the caller's, else the snapshot's output schema (no sample at all)."""
    from modelop_spark.runtime.apply import snapshot_output_schema

    return output_schema if output_schema is not None else snapshot_output_schema(snapshot)


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
    from modelop_spark.quarantine import REJECTED_MARK
    from modelop_spark.runtime.apply import apply_function
    from modelop_spark.runtime.declared_output import DeclaredOutput
    from modelop_spark.runtime.functions import ModelFunctions

    if REJECTED_MARK in df.columns:
        raise SchemaError(
            "score() returns outputs only, so rows the input checks marked would vanish; use "
            "score_with_rejects() on validate(...).in_band(), or score validate(...).valid"
        )
    functions = ModelFunctions.resolve(_snapshot(snapshot), job_document=job)
    declared = _declared_output(functions.snapshot, output_schema)
    scored = apply_function(df, functions, key_columns=key_columns, on_error="fail", declared=DeclaredOutput.exactly(declared),
                            scoring_path=scoring_path)
    return scored.settled().outputs()


def explain(
    df: DataFrame,
    snapshot: Snapshot | str | os.PathLike[str],
    *,
    key_columns: Sequence[str] = (),
    method: str = "auto",
    job: dict[str, Any] | None = None,
    positive_label: Any = 1,
    **settings: Any,
) -> DataFrame:
    """SHAP explanations of ``df``: a lazy DataFrame of the key columns, one column per feature
    holding its SHAP value (named after the feature) and ``expected_value``; for a classifier, of
    the positive class's output. ``method``: ``auto`` (tree for a tree ensemble, linear for a
    linear model, else permutation over the score function), ``tree``, ``linear``,
    ``permutation`` or ``kernel``. ``settings`` are the other ``interpretability`` options
    (``features``, ``background_size``, ``seed``, ``output``, ``max_evals``, ``model_object``)."""
    from modelop_spark.interpretability import ExplainOptions
    from modelop_spark.interpretability import explain as _explain
    from modelop_spark.runtime.functions import ModelFunctions

    options = ExplainOptions.from_dict({"method": method, **settings})
    functions = ModelFunctions.resolve(_snapshot(snapshot), job_document=job)
    return _explain(df, functions, options, key_columns=key_columns, positive_label=positive_label)


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
    from modelop_spark.runtime.declared_output import DeclaredOutput
    from modelop_spark.runtime.functions import ModelFunctions

    functions = ModelFunctions.resolve(_snapshot(snapshot), job_document=job)
    declared = _declared_output(functions.snapshot, output_schema)
    return apply_function(df, functions, key_columns=key_columns, on_error="reject", declared=DeclaredOutput.exactly(declared),
                          scoring_path=scoring_path).settled()


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
    from modelop_spark.assets.spec import AssetSpec
    from modelop_spark.runtime.snapshot import Snapshot

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


def udf(
    snapshot: Snapshot | str | os.PathLike[str],
    *,
    result_type: StructType | str | None = None,
    output: str | None = None,
    job: dict[str, Any] | None = None,
):
    """The snapshot's score function as a column function, for ``withColumn``/``select``:
    ``df.withColumn("score", ms.udf(snapshot)(*df.columns))`` gives a struct of the output
    schema's fields (``result_type`` when the snapshot has none), ``output="name"`` one field.
    One output per input row; a row the model fails on fails the query."""
    from modelop_spark.runtime.udf import snapshot_udf

    return snapshot_udf(_snapshot(snapshot), result_type=result_type, output=output, job=job)


def _schemas_of(schema: Any) -> list[Any]:
    """A snapshot (its input and output schemas), a schema file, document or Schema, or a list."""
    from modelop_spark.runtime.snapshot import Snapshot, load_snapshot
    from modelop_spark.schema.loader import load_schema

    if schema is None:
        return []
    if isinstance(schema, list | tuple):
        return [s for item in schema for s in _schemas_of(item)]
    if isinstance(schema, Snapshot):
        return [load_schema(p) for p in (schema.schema_path("input"), schema.schema_path("output")) if p is not None]
    if isinstance(schema, str | os.PathLike) and os.path.isdir(schema):
        return _schemas_of(load_snapshot(schema))
    return [load_schema(schema)]


def _dmn_bytes(dmn: str | os.PathLike[str] | bytes) -> tuple[bytes, str]:
    if isinstance(dmn, bytes):
        return dmn, "thresholds.dmn"
    with open(dmn, "rb") as handle:
        return handle.read(), os.fspath(dmn)


def judge(result: Mapping[str, Any], dmn: str | os.PathLike[str] | bytes) -> dict[str, Any]:
    """Judge a result document (a monitor's, an evaluation's, or a model's own metrics) with a
    DMN decision table: ``{"status": "PASSED" | "FAILED" | "ERROR", "reasons": [...], ...}``."""
    from modelop_spark.evaluation.decision_table import judge as _judge
    from modelop_spark.jobs.monitoring import judged_metrics

    xml, name = _dmn_bytes(dmn)
    return _judge(xml, judged_metrics(result), filename=name).to_dict()


def monitor(
    type: str,
    comparator: DataFrame,
    *,
    baseline: DataFrame | None = None,
    schema: Any = None,
    dmn: str | os.PathLike[str] | bytes | None = None,
    bins: int = 10,
    max_categories: int = 50,
    thresholds: Sequence[float] = (0.5,),
    **columns: Any,
) -> dict[str, Any]:
    """Run a built-in monitor (``data-drift``, ``concept-drift``, ``performance``, ``bias``,
    ``stability``) on DataFrames, no control plane needed. ``schema`` is the base model's
    extended schema (a snapshot, an .avsc path, a dict or a Schema; several allowed) that says
    which fields to compare; ``columns`` override it (``numerical=[...]``, ``label="y"``, ...).
    With ``dmn`` the document carries its ``judgement``. Only bounded aggregates reach the driver."""
    from modelop_spark.evaluation.monitor_config import MonitorConfig, config_from_schema
    from modelop_spark.evaluation.monitors import MonitorSettings, run_monitor

    schemas = _schemas_of(schema)
    config = (config_from_schema(*schemas) if schemas else MonitorConfig()).with_overrides(**columns)
    settings = MonitorSettings(bins=bins, max_categories=max_categories, thresholds=tuple(thresholds))
    doc = run_monitor(type, comparator=comparator, baseline=baseline, config=config, settings=settings)
    if dmn is not None:
        doc["judgement"] = judge(doc, dmn)
    return doc


def compare(
    df: DataFrame,
    snapshots: Sequence[Snapshot | str | os.PathLike[str]] | Mapping[str, Snapshot | str | os.PathLike[str]],
    *,
    label: str,
    score: str | None = None,
    positive_label: Any = None,
    key_columns: Sequence[str] = (),
    gate: Mapping[str, Any] | MetricGate | None = None,
) -> dict[str, Any]:
    """Champion/challenger on one labeled DataFrame, read once: every snapshot scores it, the
    metrics go side by side with the better value marked, and ``gate`` (``{"metric": "auc",
    "min_absolute_change": 0.01}``, MLflow's MetricThreshold terms) says whether each challenger
    beats the champion (the first snapshot; a mapping names them)."""
    from modelop_spark.evaluation.champion import MetricGate
    from modelop_spark.jobs.compare import compare_snapshots

    named = dict(snapshots) if isinstance(snapshots, Mapping) else None
    loaded = [_snapshot(s) for s in (named.values() if named else snapshots)]
    rule = gate if isinstance(gate, MetricGate) or gate is None else MetricGate.from_dict(gate)
    return compare_snapshots(df, loaded, label=label, score=score, positive_label=positive_label,
                             key_columns=key_columns, gate_on=rule, ids=list(named) if named else None)

