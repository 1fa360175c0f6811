"""Champion/challenger: several snapshots scored on the same labeled data in one job.

The data is read once: it is cached (memory, spilling to disk) and counted before any model
scores, so every model scores the cached rows and no model re-reads the source. Each model's
scores are evaluated with the built-in evaluation (bounded aggregates only); the metrics are put
side by side with the better value per metric marked, and an optional gate (MLflow's
``MetricThreshold`` semantics, ``evaluation.champion``) says whether each challenger beats the
champion (the first model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from modelop_spark.assets import read_asset
from modelop_spark.errors import SchemaError, SpecError
from modelop_spark.evaluation.champion import MetricGate, gate, side_by_side
from modelop_spark.evaluation.evaluate import FORMAT_VERSION, evaluate
from modelop_spark.evaluation.monitors import performance_metrics
from modelop_spark.evaluation.options import EvaluationColumns, EvaluationOptions
from modelop_spark.evaluation.user_metrics import jsonable
from modelop_spark.jobs.monitoring import data_inputs
from modelop_spark.jobs.result import Outcome
from modelop_spark.runtime.apply import apply_function
from modelop_spark.runtime.functions import ModelFunctions
from modelop_spark.runtime.snapshot import Snapshot, load_snapshot
from modelop_spark.schema.loader import load_schema
from modelop_spark.schema.roles import roles_of

__all__ = ["compare_snapshots", "model_ids", "run_comparison"]


def model_ids(snapshots: Sequence[Snapshot]) -> list[str]:
    """``name@version`` per snapshot (``#2``, ``#3``... added when two would be the same)."""
    ids: list[str] = []
    for s in snapshots:
        base = f"{s.name}@{s.version}" if s.version else s.name
        name, n = base, 1
        while name in ids:
            n += 1
            name = f"{base}#{n}"
        ids.append(name)
    return ids


def _score_column(snapshot: Snapshot, given: str | None) -> str:
    if given:
        return given
    schemas = [load_schema(p) for p in (snapshot.schema_path("output"), snapshot.schema_path("input")) if p is not None]
    roles = roles_of(*schemas) if schemas else None
    if roles is None or roles.score is None:
        raise SchemaError(f"snapshot {snapshot.name}: which output column is the score? give its output schema a field "
                          "\"role\": \"score\", or name it (score=... / options.compare.score)")
    return roles.score


def compare_snapshots(
    df: DataFrame, snapshots: Sequence[Snapshot], *, label: str, score: str | None = None,
    positive_label: Any = None, key_columns: Sequence[str] = (), gate_on: MetricGate | None = None,
    ids: Sequence[str] | None = None, job_document: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The comparison document: per model its metrics and evaluation, the side-by-side table,
    and the gate's verdict per challenger. The first snapshot is the champion."""
    if len(snapshots) < 2:
        raise SpecError("compare: give two or more snapshots (the champion first, then its challengers)")
    if label not in df.columns:
        raise SpecError(f"compare: the label column {label!r} is not in the data; its columns are {', '.join(df.columns[:30])}")
    names = list(ids) if ids else model_ids(snapshots)
    cached = df.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = cached.count()  # the one read of the source; every model scores the cached rows
        options = EvaluationOptions(positive_label=1 if positive_label is None else positive_label)
        models: dict[str, Any] = {}
        for name, snapshot in zip(names, snapshots, strict=True):
            functions = ModelFunctions.resolve(snapshot, job_document=job_document)
            scored = apply_function(cached, functions, role="score", key_columns=key_columns, on_error="fail",
                                    input_label=f"data for {name}").outputs()
            if label not in scored.columns:
                if not key_columns:
                    raise SpecError(f"compare: {name}'s output lacks the label {label!r}; name key columns so its scores "
                                    "can be joined back to the labels, or have the score function pass the label through")
                scored = scored.join(cached.select(*key_columns, label), on=list(key_columns), how="inner")
            column = _score_column(snapshot, score)
            if column not in scored.columns:
                raise SpecError(f"compare: {name}'s output has no column {column!r}; its columns are {', '.join(scored.columns[:30])}")
            doc = evaluate(scored, columns=EvaluationColumns(label=label, score=column), options=options)
            models[name] = {"snapshot": snapshot.describe(), "score_column": column,
                            "metrics": performance_metrics(doc), "evaluation": doc}
    finally:
        cached.unpersist()
    champion = names[0]
    out: dict[str, Any] = {
        "format_version": FORMAT_VERSION, "kind": "champion-challenger", "rows": {"input": rows},
        "champion": champion, "challengers": names[1:], "label": label,
        "models": models, "side_by_side": side_by_side({k: v["metrics"] for k, v in models.items()}),
    }
    if gate_on is not None:
        out["gate"] = {"rule": gate_on.to_dict(), "results": {
            name: gate(models[champion]["metrics"], models[name]["metrics"], gate_on).to_dict() for name in names[1:]}}
    return jsonable(out)


def run_comparison(run: Any) -> Outcome:
    """``options.compare`` of a metrics job (``run`` is the metrics job's run): the job's
    snapshot is the champion; the one data input (the labeled data) is read once."""
    spec, options = run.spec, run.options.compare
    inputs = data_inputs(spec)
    if len(inputs) != 1:
        raise SpecError(f"inputs: a comparison scores one labeled input; found {len(inputs)}")
    frame = read_asset(run.spark, inputs[0])
    snapshots = [run.snapshot, *(load_snapshot(c) for c in options.challengers)]
    label = options.label or (run._columns().label)
    if not label:
        raise SpecError("options.compare.label: name the label column (or give the champion's schema a \"role\": \"label\" field)")
    doc = compare_snapshots(frame, snapshots, label=label, score=options.score, positive_label=options.positive_label,
                            key_columns=spec.options.key_columns, gate_on=options.gate, job_document=spec.document)
    run.rows_in = doc["rows"]["input"]
    return run._finish(doc, metrics_function=None, builtin=True)
