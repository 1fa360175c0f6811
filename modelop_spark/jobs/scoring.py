"""The scoring job: read, (check), score, (check), stage every output, commit them all.

Rows are never dropped: each input row is scored or rejected with a reason, rejected rows go to
the quarantine output, and the JobResult carries rows in = rows scored + rows rejected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from modelop_spark.assets import read_asset, stage_asset
from modelop_spark.assets.commit import split_parent
from modelop_spark.assets.spec import AssetSpec, format_from_url
from modelop_spark.errors import AssetError, SnapshotError, SpecError
from modelop_spark.jobs.result import Outcome, RowCounts
from modelop_spark.jobs.spec import JobSpec
from modelop_spark.runtime.apply import ARROW_SHAPES, REJECTED_KINDS, apply_function, function_shape
from modelop_spark.runtime.pyspark_convention import call_pyspark_convention
from modelop_spark.runtime.snapshot import Snapshot

ARROW_BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"


@contextmanager
def session_conf(spark: Any, settings: Mapping[str, str]) -> Iterator[None]:
    """Set session conf for the length of a job, then put back what was there."""
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def default_rejected_output(spec: JobSpec) -> AssetSpec:
    """Where rejected rows go when the job names no place: beside the first file output, as
    JSON lines; embedded in the result otherwise."""
    first = spec.outputs[0]
    if first.kind == "file" and first.url:
        parent, name = split_parent(first.url)
        stem = name.rsplit(".", 1)[0] if format_from_url(name) else name
        return AssetSpec(kind="file", name="rejected", url=f"{parent}/{stem}_rejected", format="json")
    return AssetSpec(kind="embedded", name="rejected")


def run_scoring(spark: Any, spec: JobSpec, snapshot: Snapshot) -> Outcome:
    shape = function_shape(snapshot, role="score", job_document=spec.document)
    if shape is None:
        raise SnapshotError(
            f"snapshot {snapshot.name}: no score function; tag one with '# modelop.score' or name it in snapshot.json 'functions'"
        )
    if shape == "modelop_pyspark":
        return _run_pyspark_convention(spark, spec, snapshot)
    if len(spec.inputs) != 1:
        raise SpecError(f"inputs: a scoring job reads one input asset, found {len(spec.inputs)}")
    if not spec.outputs:
        raise SpecError("outputs: a scoring job needs at least one output asset")
    settings = {ARROW_BATCH_CONF: str(spec.options.arrow_batch_size)} if spec.options.arrow_batch_size else {}
    with session_conf(spark, settings):
        return _score(spark, spec, snapshot, in_python_workers=shape in ARROW_SHAPES)


def _score(spark: Any, spec: JobSpec, snapshot: Snapshot, *, in_python_workers: bool) -> Outcome:
    from pyspark import StorageLevel

    from modelop_spark.schema.job_checks import SchemaChecks

    source = spec.inputs[0]
    checks = SchemaChecks.for_job(spec, snapshot)  # schemas load before any Spark work
    # Input check: a model in Python workers gets every row, the rejected ones marked, and sets
    # them aside in the same pass; a Spark function gets only the valid rows.
    checked_in = checks.read_input(spark, source, in_band=in_python_workers)
    scored = apply_function(
        checked_in.valid,
        snapshot,
        role="score",
        key_columns=spec.options.key_columns,
        on_error=spec.options.on_model_error,
        job_document=spec.document,
        input_label=f"input {source.label}",
        sample_frame=checked_in.sample,
        scoring_path=spec.options.scoring_path,
    )
    combined = scored.combined.persist(StorageLevel.MEMORY_AND_DISK)
    staged = []
    try:
        # The model pass: one aggregation counts rows in and out, the rows every stage rejected in
        # band, and the outputs that break the output schema.
        checked_out = checks.check_output(scored.outputs())
        counted = {"rejected_output_schema": checked_out.condition} if checked_out.condition else {}
        counts = scored.counts(also=counted)
        input_rejected, input_counts = checked_in.resolve()
        if counts["rows_in"] + sum(input_counts.values()) == 0 and not spec.options.allow_empty_input:
            raise AssetError(
                f"input {source.label}: no rows to score; check the input, or set options.allow_empty_input"
            )
        output_rejected = counts.get("rejected_output_schema", 0)
        valid_outputs = checked_out.valid(output_rejected)  # strict: fails here, before any write
        for asset in spec.outputs:
            staged.append(stage_asset(valid_outputs, asset, job_id=spec.job_id))
        by_stage = dict(input_counts)
        by_stage |= {stage: counts[f"rejected_{stage}"] for stage in REJECTED_KINDS if counts[f"rejected_{stage}"]}
        parts = list(input_rejected.values())
        if counts["rows_rejected"]:  # every stage the model pass set aside, in one frame
            parts.append(scored.rejected())
        if output_rejected:
            by_stage["output_schema"] = output_rejected
            parts.append(checked_out.rejected())
        rows_rejected = sum(by_stage.values())
        rejected_asset = None
        if parts or spec.rejected_output is not None:
            rejected_asset = spec.rejected_output or default_rejected_output(spec)
            quarantine = _union(parts) if parts else scored.rejected()
            staged.append(stage_asset(quarantine, rejected_asset, job_id=spec.job_id))
        for output in staged:
            output.commit()
    except BaseException:
        for output in staged:
            output.abort()
        raise
    finally:
        combined.unpersist()
    rows_out = counts["rows_out"] - output_rejected
    written = tuple(_with_rows(s.written, rows_out) for s in staged[: len(spec.outputs)])
    rejected_written = _with_rows(staged[-1].written, rows_rejected) if rejected_asset is not None else None
    rows_in = counts["rows_in"] + sum(input_counts.values())
    rows = RowCounts(
        rows_in=rows_in,
        rows_scored=rows_in - rows_rejected,
        rows_rejected=rows_rejected,
        rows_out=rows_out,
        rejected_by_stage=by_stage,
    )
    details = {"schema_checks": {"input": checks.input_mode, "output": checks.output_mode}} if checks.active else {}
    details |= {"scoring_path": scored.scoring_path, "fallback_reason": scored.fallback_reason}
    return Outcome(rows=rows, outputs=written, rejected_output=rejected_written, details=details)


def _union(parts: list[Any]) -> Any:
    """One quarantine frame from every stage (same shape: key columns, _stage, _reasons, _record)."""
    from functools import reduce

    return reduce(lambda a, b: a.unionByName(b), parts)


def _with_rows(written: Any, rows: int) -> Any:
    from dataclasses import replace

    return replace(written, rows=rows)


def _run_pyspark_convention(spark: Any, spec: JobSpec, snapshot: Snapshot) -> Outcome:
    """The model does its own I/O; we count what it read and what it wrote."""
    call_pyspark_convention(spark, spec, snapshot, role="score")
    rows_in = sum(read_asset(spark, asset).count() for asset in spec.inputs)
    written = []
    rows_out = 0
    for asset in spec.outputs:
        count = read_asset(spark, asset).count() if asset.kind == "file" else None
        rows_out += count or 0
        from modelop_spark.assets.base import WrittenAsset

        written.append(WrittenAsset(name=asset.name, kind=asset.kind, location=asset.url or asset.table, format=asset.format, rows=count))
    rows = RowCounts(rows_in=rows_in, rows_scored=rows_in, rows_rejected=0, rows_out=rows_out)
    return Outcome(rows=rows, outputs=tuple(written), details={"shape": "modelop_pyspark"})
