"""The scoring job: read, (check), score, (check), stage every output, commit them all.

Rows are never dropped: each input row is scored or rejected with a reason, rejected rows go to
the quarantine output, and the JobResult carries rows in = rows scored + rows rejected.

``check_scoring`` runs before a SparkSession exists (the schemas the checks need load here);
``run_scoring`` resolves the model's functions once and picks the path from the score function's
calling convention: the ModelOp PySpark convention does its own I/O; every other one goes
through ``runtime.apply``.
"""

from __future__ import annotations

from dataclasses import replace
from functools import reduce
from typing import Any

from pyspark import StorageLevel

from modelop_spark.assets import StagedOutput, read_asset, stage_asset
from modelop_spark.assets.commit import commit_staged_outputs
from modelop_spark.errors import AssetError, SpecError
from modelop_spark.jobs.reject_limit import RejectLimit
from modelop_spark.jobs.rejected import rejected_target
from modelop_spark.jobs.result import Outcome, RowCounts
from modelop_spark.jobs.schema_checks import CheckedInput, SchemaChecks
from modelop_spark.jobs.spec import JobSpec
from modelop_spark.quarantine import REASONS_COLUMN
from modelop_spark.runtime.apply import REJECTED_KINDS, Scored, apply_function
from modelop_spark.runtime.declared_output import DeclaredOutput
from modelop_spark.runtime.functions import ModelFunctions, takes_pyspark_convention
from modelop_spark.runtime.pyspark_convention import (
    call_pyspark_convention,
    outputs_with_specs,
    written_asset,
)
from modelop_spark.runtime.snapshot import Snapshot
from modelop_spark.spark_compat import functions_for, session_conf

__all__ = ["check_scoring", "run_scoring"]

ARROW_BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"


def check_scoring(spec: JobSpec, snapshot: Snapshot) -> None:
    """Before Spark: the schemas the checks need exist and load; one input and some output,
    unless the score function does its own I/O (the PySpark convention)."""
    SchemaChecks.for_job(spec, snapshot)
    if takes_pyspark_convention(snapshot, "score") is False:
        _check_assets(spec)


def _check_assets(spec: JobSpec) -> None:
    if len(spec.inputs) != 1:
        raise SpecError(f"inputs: a scoring job reads one input asset, found {len(spec.inputs)}")
    if not spec.outputs:
        raise SpecError("outputs: a scoring job needs at least one output asset")


def run_scoring(spark: Any, spec: JobSpec, snapshot: Snapshot) -> Outcome:
    functions = ModelFunctions.resolve(snapshot, job_document=spec.document)
    convention = functions.convention("score")
    if not convention.applies_to_a_dataframe:  # ModelOp's PySpark convention: it does its own I/O
        return _run_pyspark_convention(spark, spec, functions)
    _check_assets(spec)  # known only now when the source defines score dynamically
    settings = {ARROW_BATCH_CONF: str(spec.options.arrow_batch_size)} if spec.options.arrow_batch_size else {}
    with session_conf(spark, settings):
        return _score(spark, spec, functions, in_python_workers=convention.in_python_workers)


def _score(spark: Any, spec: JobSpec, functions: ModelFunctions, *, in_python_workers: bool) -> Outcome:
    source = spec.inputs[0]
    checks = SchemaChecks.for_job(spec, functions.snapshot)
    # Input check: a model in Python workers gets every row, the rejected ones marked, and sets
    # them aside in the same pass; a Spark function gets only the valid rows.
    checked_in = checks.read_input(spark, source, in_band=in_python_workers)
    declared = checks.declared_output(spec, functions.snapshot)  # its types win over the sample's
    scored = apply_function(
        checked_in.valid,
        functions,
        role="score",
        key_columns=spec.options.key_columns,
        on_error=spec.options.on_model_error,
        input_label=f"input {source.label}",
        sample_frame=checked_in.sample,
        timeout=spec.options.model_timeout_seconds,
        declared=DeclaredOutput.typed(declared, empty_input_allowed=spec.options.allow_empty_input),
        scoring_path=spec.options.scoring_path,
    )
    # Settled once persisted: a compiled pass's rows for the Python path are found in the cache.
    scored, persisted = scored.persisted(StorageLevel.MEMORY_AND_DISK)
    staged: list[StagedOutput] = []
    try:
        tally = _tally(spec, scored, checks, checked_in)
        # strict output checking fails here, before any write
        valid_outputs = tally.checked_out.valid(tally.output_rejected)
        # past options.max_rejected only the rejected rows are written (for a look), then ERROR
        limit = RejectLimit.from_option(spec.options.max_rejected)
        counted = tally.rows()
        over = limit is not None and limit.exceeded(counted.rows_in, counted.rows_rejected)
        outputs = [] if over else [stage_asset(valid_outputs, asset, job_id=spec.job_id) for asset in spec.outputs]
        staged.extend(outputs)
        rejected = None
        if tally.quarantine is not None or spec.rejected_output is not None:
            quarantine = tally.quarantine if tally.quarantine is not None else scored.rejected()
            rejected = stage_asset(quarantine, rejected_target(spec), job_id=spec.job_id)
            staged.append(rejected)
        commit_staged_outputs(staged, job_id=spec.job_id)  # one transaction for file outputs
        reasons = commonest_reasons(tally.quarantine) if over and tally.quarantine is not None else []
    except BaseException:
        for output in staged:
            output.abort()
        raise
    finally:
        for frame in persisted:
            frame.unpersist()
    if limit is not None and over:
        limit.check(counted.rows_in, counted.rows_rejected, reasons)
    rows = tally.rows()
    details = {"schema_checks": {"input": checks.input_mode, "output": checks.output_mode}} if checks.active else {}
    return Outcome(
        rows=rows,
        outputs=tuple(replace(s.written, rows=rows.rows_out) for s in outputs),
        rejected_output=replace(rejected.written, rows=rows.rows_rejected) if rejected is not None else None,
        details=details | {"scoring_path": scored.scoring_path, "fallback_reason": scored.fallback_reason},
    )


def commonest_reasons(quarantine: Any, top: int = 3) -> list[tuple[str, int]]:
    """The ``top`` reasons most rejected rows share, with their counts (one small aggregation)."""
    F = functions_for(quarantine)
    reasons = quarantine.select(F.explode(F.col(REASONS_COLUMN)).alias("reason")).groupBy("reason").count()
    return [(row["reason"], int(row["count"])) for row in reasons.orderBy(F.desc("count"), "reason").limit(top).collect()]


class _Tally:
    """The model pass's counts, per rejecting stage, and the quarantine frame."""

    def __init__(self, counts: dict[str, int], input_counts: dict[str, int], checked_out: Any, quarantine: Any) -> None:
        self.counts, self.input_counts, self.checked_out, self.quarantine = counts, input_counts, checked_out, quarantine
        self.output_rejected = counts.get("rejected_output_schema", 0)
        self.by_stage = dict(input_counts)
        self.by_stage |= {stage: counts[f"rejected_{stage}"] for stage in REJECTED_KINDS if counts[f"rejected_{stage}"]}
        if self.output_rejected:
            self.by_stage["output_schema"] = self.output_rejected

    def rows(self) -> RowCounts:
        rows_in = self.counts["rows_in"] + sum(self.input_counts.values())
        rows_rejected = sum(self.by_stage.values())
        return RowCounts(
            rows_in=rows_in,
            rows_scored=rows_in - rows_rejected,
            rows_rejected=rows_rejected,
            rows_out=self.counts["rows_out"] - self.output_rejected,
            rejected_by_stage=self.by_stage,
        )


def _tally(spec: JobSpec, scored: Scored, checks: SchemaChecks, checked_in: CheckedInput) -> _Tally:
    """One aggregation over the model pass counts rows in and out, the rows every stage rejected
    in band, and the outputs that break the output schema."""
    checked_out = checks.check_output(scored.outputs())
    counted = {"rejected_output_schema": checked_out.condition} if checked_out.condition else {}
    counts = scored.counts(also=counted)
    input_rejected, input_counts = checked_in.resolve()
    if counts["rows_in"] + sum(input_counts.values()) == 0 and not spec.options.allow_empty_input:
        raise AssetError(
            f"input {spec.inputs[0].label}: no rows to score; check the input, or set options.allow_empty_input"
        )
    parts = list(input_rejected.values())
    if counts["rows_rejected"]:  # every stage the model pass set aside, in one frame
        parts.append(scored.rejected())
    if counts.get("rejected_output_schema"):
        parts.append(checked_out.rejected())
    # One quarantine frame from every stage (same shape: key columns, _stage, _reasons, _record).
    quarantine = reduce(lambda a, b: a.unionByName(b), parts) if parts else None
    return _Tally(counts, input_counts, checked_out, quarantine)


def _run_pyspark_convention(spark: Any, spec: JobSpec, functions: ModelFunctions) -> Outcome:
    """The model does its own I/O (its outputs staged and committed for it); we count what it
    read and what it wrote."""
    call = call_pyspark_convention(spark, spec, functions, role="score")
    # Data inputs are counted; what has no data format (a model folder the model loads) is not.
    rows_in = sum(read_asset(spark, asset).count() for asset in spec.inputs if asset.kind != "file" or asset.format)
    written = []
    for output, asset in outputs_with_specs(call.outputs, spec.outputs):
        countable = output.written and asset is not None and asset.kind == "file" and asset.format
        count = read_asset(spark, asset).count() if countable and asset is not None else None
        written.append(written_asset(output, asset, rows=count))
    rows_out = sum(w.rows or 0 for w in written)
    rows = RowCounts(rows_in=rows_in, rows_scored=rows_in, rows_rejected=0, rows_out=rows_out)
    return Outcome(rows=rows, outputs=tuple(written), details={"shape": functions.convention("score").name})
