"""The metrics job (ModelOp ``MODEL_BATCH_TEST_JOB``, CLI ``testjob``): evaluate labeled data.

Strategy, chosen once per job:
- the snapshot's ``metrics`` function, run unchanged in its shape: pandas ``metrics(df, ...)`` (one
  argument per input, under a row cap), Spark ``metrics(df)``, or ModelOp's PySpark convention;
- the built-in evaluation (``modelop_spark.evaluation``) when there is no metrics function or
  the job asks for it (``options.builtin_evaluation``);
- optionally score first with the snapshot's score function (the scoring path's ``apply_function``),
  so one job scores and evaluates.
- a built-in monitor (``options.monitor``: data drift, concept drift, performance, bias,
  stability) on the inputs picked by ModelOp role (``jobs.monitoring``);
- champion/challenger (``options.compare``): the job's snapshot and each challenger scored on the
  same labeled input, read once (``jobs.compare``).
The metrics document goes into the JobResult and to each output asset (a JSON file, or embedded);
plots and a self-contained ``report.html`` go beside a file output; MLflow logging is optional.
With ``options.interpretability`` the document gains an ``interpretability`` section (SHAP on
Spark, ``explain``), and an output named by its ``output_asset`` receives the per-row
explanations, staged and committed with the other outputs.
A ``TEST_RESULT_COMPARATOR`` input (a DMN) judges the document: its ``judgement`` (PASSED /
FAILED with reasons, or ERROR) is in the document and in the result's details.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from pyspark import StorageLevel

from modelop_spark._redact import redacted_logger
from modelop_spark.assets import StagedOutput, read_asset, stage_asset
from modelop_spark.assets.commit import commit_staged_outputs
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import (
    AssetError,
    ModelFunctionError,
    SchemaError,
    SnapshotError,
    SpecError,
)
from modelop_spark.evaluation import (
    EvaluationColumns,
    columns_from_roles,
    evaluate,
    log_evaluation,
    write_report,
)
from modelop_spark.evaluation.job_options import MetricsOptions
from modelop_spark.evaluation.monitor_config import config_from_schema
from modelop_spark.evaluation.monitors import MONITORS, run_monitor
from modelop_spark.evaluation.report import EvaluationFiles
from modelop_spark.evaluation.user_metrics import collect_metrics, jsonable
from modelop_spark.interpretability import interpretability
from modelop_spark.jobs.compare import run_comparison
from modelop_spark.jobs.metrics_documents import (
    check_document_output,
    read_model_document,
    stage_document,
)
from modelop_spark.jobs.monitoring import data_inputs, judge_document, monitor_inputs
from modelop_spark.jobs.rejected import rejected_target
from modelop_spark.jobs.result import Outcome, RowCounts
from modelop_spark.jobs.spec import JobSpec
from modelop_spark.runtime.apply import apply_function
from modelop_spark.runtime.conventions import Convention
from modelop_spark.runtime.functions import ModelFunctions, takes_pyspark_convention
from modelop_spark.runtime.pyspark_convention import (
    call_pyspark_convention,
    outputs_with_specs,
    written_asset,
)
from modelop_spark.runtime.pyspark_outputs import ModelOutput
from modelop_spark.runtime.session_guard import runtime_session_kept
from modelop_spark.runtime.snapshot import Snapshot
from modelop_spark.schema.loader import load_schema
from modelop_spark.schema.roles import roles_of
from modelop_spark.spark_compat import to_pandas

__all__ = ["run_metrics"]

log = redacted_logger(__name__)


def check_metrics(spec: JobSpec, snapshot: Snapshot) -> None:
    """Before Spark: inputs given, the baseline named exists, every output can hold the document."""
    options = spec.metrics or MetricsOptions()
    explanations = explanations_output(spec, options)
    if options.monitor is not None:
        monitor_inputs(spec, needs_baseline=MONITORS[options.monitor.type][1], baseline_name=options.baseline_input)
    else:
        split_inputs(spec, options)
    if options.compare is not None and options.monitor is not None:
        raise SpecError("options: a job is either a monitor or a comparison; give options.monitor or options.compare")
    if takes_pyspark_convention(snapshot, "metrics") is not True:  # otherwise the model writes them
        for asset in spec.outputs:
            if asset is not explanations:
                check_document_output(asset)


def explanations_output(spec: JobSpec, options: MetricsOptions) -> AssetSpec | None:
    """The output named by ``options.interpretability.output_asset`` (per-row explanations)."""
    name = options.interpretability.output_asset if options.interpretability else None
    if not name:
        return None
    found = [a for a in spec.outputs if a.name == name]
    if not found:
        raise SpecError(f"options.interpretability.output_asset: no output is named {name!r}; outputs are "
                        f"{', '.join(a.label for a in spec.outputs) or 'none'}")
    return found[0]


def run_metrics(spark: Any, spec: JobSpec, snapshot: Snapshot) -> Outcome:
    """The runner for job type ``metrics``; ``jobs.runner.run_job`` dispatches here."""
    options = spec.metrics or MetricsOptions()
    functions = ModelFunctions.resolve(snapshot, job_document=spec.document)
    if options.monitor is not None:
        return _MetricsRun(spark, spec, functions, options).run_builtin_monitor()
    if options.compare is not None:
        return run_comparison(_MetricsRun(spark, spec, functions, options))
    convention = _metrics_convention(functions, options)
    builtin = options.builtin_evaluation in ("always", "only") or (
        options.builtin_evaluation == "auto" and convention is None
    )
    if convention is None and not builtin:
        raise SnapshotError(
            f"snapshot {snapshot.name}: no metrics function and options.builtin_evaluation is 'never'; "
            "tag one with '# modelop.metrics', or let the built-in evaluation run"
        )
    run_user = convention is not None and options.builtin_evaluation != "only"
    return _MetricsRun(spark, spec, functions, options).run(convention if run_user else None, builtin=builtin)


def _metrics_convention(functions: ModelFunctions, options: MetricsOptions) -> Convention | None:
    """How the metrics function is called (what it gets: pandas, Spark DataFrames or ModelOp's
    asset dicts), from the job's ``metrics_shape`` or the function itself; None without one."""
    if not functions.has("metrics"):
        return None
    return functions.convention("metrics", declared=options.metrics_shape and _DECLARED[options.metrics_shape])


# ``options.metrics_shape`` names what the function gets; the convention that gives it.
_DECLARED = {"pandas": "batch", "spark": "spark"}


def split_inputs(spec: JobSpec, options: MetricsOptions) -> tuple[list[AssetSpec], AssetSpec | None]:
    """The data to evaluate and the drift baseline (named by ``options.baseline_input``, else the
    input whose role is ``baseline``)."""
    inputs = data_inputs(spec)
    if not inputs:
        raise SpecError("inputs: a metrics job needs at least one input asset (the labeled data)")
    name = options.baseline_input
    baseline = [a for a in inputs if (name and a.name == name) or (not name and a.role == "baseline")]
    if name and not baseline:
        raise SpecError(f"options.baseline_input: no input is named {name!r}; inputs are "
                        f"{', '.join(a.label for a in inputs)}")
    data = [a for a in inputs if a not in baseline[:1]]
    if not data:
        raise SpecError("inputs: every input is the drift baseline; add the labeled data to evaluate")
    return data, (baseline[0] if baseline else None)


class _MetricsRun:
    def __init__(self, spark: Any, spec: JobSpec, functions: ModelFunctions, options: MetricsOptions) -> None:
        self.spark, self.spec, self.functions, self.options = spark, spec, functions, options
        self.snapshot = functions.snapshot
        self.staged_rejected: StagedOutput | None = None  # committed with the documents, not before
        self.staged_explanations: StagedOutput | None = None  # likewise
        self.explanations = explanations_output(spec, options)
        self.rows_rejected = 0
        self.rows_in: int | None = None
        self._persisted: list[Any] = []
        self.data_assets: list[AssetSpec] = []
        self.model_outputs: tuple[ModelOutput, ...] = ()  # what a PySpark metrics function wrote

    # -- inputs ---------------------------------------------------------------------------------
    def _scored(self, frame: Any, source: AssetSpec) -> Any:
        """Score with the snapshot's score function (the scoring job's path), keep the columns
        the evaluation needs, and quarantine rows the model rejected."""
        keys = self.spec.options.key_columns
        scored = apply_function(
            frame, self.functions, role="score", key_columns=keys, on_error=self.spec.options.on_model_error,
            input_label=f"input {source.label}",
        )
        scored, persisted = scored.persisted(StorageLevel.MEMORY_AND_DISK)
        self._persisted += persisted
        counts = scored.counts()
        self.rows_in, self.rows_rejected = counts["rows_in"], counts["rows_rejected"]
        if counts["rows_rejected"]:
            self.staged_rejected = stage_asset(scored.rejected(), rejected_target(self.spec), job_id=self.spec.job_id)
        outputs = scored.outputs()
        extra = [c for c in frame.columns if c not in outputs.columns]
        if not extra:
            return outputs
        if not keys:
            raise SpecError(
                f"options.key_columns: the score function's output lacks input column(s) "
                f"{', '.join(extra[:5])}; name key columns so scores can be joined back to the labels, "
                "or have the score function pass them through"
            )
        return outputs.join(frame.select(*keys, *extra), on=list(keys), how="inner")

    def _frames(self) -> tuple[list[Any], Any]:
        data, baseline = split_inputs(self.spec, self.options)
        frames = [read_asset(self.spark, a) for a in data]
        if self.options.score_first:
            frames[0] = self._scored(frames[0], data[0])
        self.data_assets = data
        return frames, (read_asset(self.spark, baseline) if baseline else None)

    # -- the user's function --------------------------------------------------------------------
    def _call_user(self, convention: Convention, frames: list[Any]) -> dict[str, Any] | None:
        source = self.functions.source
        if not convention.applies_to_a_dataframe:
            return self._call_pyspark(source)
        if convention.holds_whole_input_in_memory:
            for frame, asset in zip(frames, self.data_assets, strict=True):
                self._check_row_cap(frame, asset)
        arguments = convention.whole_input_arguments(frames, partial(to_pandas, self.spark))
        with runtime_session_kept(self.spark):  # a stop() of the runtime's session is ignored
            return collect_metrics(self.functions.call("metrics", *arguments), source=source)

    def _call_pyspark(self, source: str) -> dict[str, Any] | None:
        """ModelOp's PySpark metrics: it may return (or yield) its metrics, or return nothing
        after writing them itself to its outputs; then None, and ``self.model_outputs`` says
        what it wrote."""
        call = call_pyspark_convention(self.spark, self.spec, self.functions, role="metrics")
        self.model_outputs = call.outputs
        if call.returned is not None and call.returned != []:
            return collect_metrics(call.returned, source=source)
        if not any(o.written for o in call.outputs):
            where = "wrote none of the job's outputs" if call.outputs else "the job has no output asset for it to write"
            raise ModelFunctionError(
                f"{source}: metrics returned nothing and {where}; return or yield a dict of metrics, "
                "or write them to external_outputs"
            )
        return None

    def _check_row_cap(self, frame: Any, asset: AssetSpec) -> None:
        cap = self.options.max_metrics_rows
        if frame.limit(cap + 1).count() > cap:
            raise AssetError(
                f"input {asset.label}: more than {cap} rows for a pandas metrics function, which holds its "
                "input in driver memory; raise options.max_metrics_rows, or declare the metrics function's "
                "shape 'spark' (snapshot.json shapes.metrics, or options.metrics_shape) to get a Spark "
                "DataFrame, or use the built-in evaluation (options.builtin_evaluation: only)"
            )

    # -- built-in -------------------------------------------------------------------------------
    def _columns(self) -> EvaluationColumns:
        """Job options first, then schema roles (label, score, protected classes, drift candidates)."""
        given = self.options.columns
        try:
            roles = _schema_roles(self.snapshot, self.spec)
        except SchemaError:
            if given.label and (given.score or given.prediction):
                log.warning("metrics: schema roles unreadable; using the job's columns", exc_info=True)
                return given
            raise
        return given if roles is None else columns_from_roles(roles, **given.to_dict())

    # -- the job --------------------------------------------------------------------------------
    def run(self, convention: Convention | None, *, builtin: bool) -> Outcome:
        """The user's metrics function (``convention``: how it is called; None: not run) and/or
        the built-in evaluation, then interpretability, then every output staged and committed."""
        try:
            # a PySpark-convention function reads its own inputs: read them only for what else runs
            reads_its_own = convention is not None and not convention.applies_to_a_dataframe
            frames, baseline = ([], None) if reads_its_own and not builtin and not self.options.score_first else self._frames()
            user = self._call_user(convention, frames) if convention is not None else None
            doc = self._document(user, frames, baseline, builtin=builtin)
            if self.options.interpretability is not None:
                if not frames:
                    frames, _ = self._frames()
                doc["interpretability"] = self._interpretability(frames[0])
            doc = jsonable(doc)
            if self.rows_in is None:
                self.rows_in = self._count_inputs(frames)
            return self._finish(doc, metrics_function=convention.receives if convention else None, builtin=builtin)
        except BaseException:
            for staged in (self.staged_rejected, self.staged_explanations):
                if staged is not None:
                    staged.abort()
            raise
        finally:
            for frame in self._persisted:
                frame.unpersist()

    def _document(self, user: dict[str, Any] | None, frames: list[Any], baseline: Any, *, builtin: bool) -> dict[str, Any]:
        """The built-in evaluation with the user's metrics under ``model_metrics``; else the
        user's metrics, returned or (a PySpark model) read back from what it wrote."""
        if builtin:
            doc = evaluate(frames[0], columns=self._columns(), options=self.options.evaluation, baseline=baseline)
            if self.rows_in is None:
                self.rows_in = doc["rows"]["input"]
            return doc if user is None else {**doc, "model_metrics": user}
        if user is None and self.model_outputs:
            return self._read_back()
        return user or {}

    def _interpretability(self, frame: Any) -> dict[str, Any]:
        """SHAP importances over the evaluated data; the per-row explanations staged when asked."""
        assert self.options.interpretability is not None
        try:
            columns = self._columns()
        except SchemaError:  # interpretability needs no label: protected attributes are optional here
            columns = self.options.columns
        explained = interpretability(
            frame, self.functions, self.options.interpretability, protected=columns.protected,
            key_columns=self.spec.options.key_columns, positive_label=self.options.evaluation.positive_label,
            default_output=columns.score,
        )
        try:
            if explained.rows is not None and self.explanations is not None:
                self.staged_explanations = stage_asset(explained.rows, self.explanations, job_id=self.spec.job_id)
        finally:
            explained.release()
        return explained.section

    def run_builtin_monitor(self) -> Outcome:
        """A built-in monitor on the inputs picked by role; its document is the job's metrics."""
        monitor = self.options.monitor
        assert monitor is not None
        baseline_asset, comparator_asset = monitor_inputs(self.spec, needs_baseline=MONITORS[monitor.type][1],
                                                          baseline_name=self.options.baseline_input)
        comparator = read_asset(self.spark, comparator_asset)
        baseline = read_asset(self.spark, baseline_asset) if baseline_asset is not None else None
        schemas = _schemas(self.snapshot, self.spec)
        if not schemas and not monitor.columns:
            raise SchemaError(f"snapshot {self.snapshot.name}: the {monitor.type} monitor configures itself from the base "
                              "model's extended input schema, and there is none; add it to the snapshot (or the job's "
                              "modelMetaData.inputSchema), or name the columns in options.monitor.columns")
        config = monitor.config(config_from_schema(*schemas))
        doc = run_monitor(monitor.type, comparator=comparator, baseline=baseline, config=config, settings=monitor.settings)
        doc["inputs"] = {"comparator": comparator_asset.label, "baseline": baseline_asset.label if baseline_asset else None}
        rows = doc["rows"]
        self.rows_in = rows["comparator"] if "comparator" in rows else rows.get("input", 0)
        return self._finish(jsonable(doc), metrics_function=None, builtin=True)

    def _count_inputs(self, frames: list[Any]) -> int:
        if frames:
            return frames[0].count()
        try:  # the PySpark convention reads its own inputs; count the first when we can read it
            return read_asset(self.spark, self.spec.inputs[0]).count()
        except Exception:
            log.warning("metrics: could not count the rows of input %s", self.spec.inputs[0].label, exc_info=True)
            return 0

    def _finish(self, doc: dict[str, Any], *, metrics_function: str | None, builtin: bool) -> Outcome:
        judgement = judge_document(self.spark, self.spec, doc)
        if judgement is not None:
            doc = {**doc, "judgement": judgement.to_dict()}
        report_dir = Path(tempfile.mkdtemp(prefix="modelop-metrics-"))
        try:
            files = write_report(doc, report_dir, plots=self.options.report and "format_version" in doc,
                                 title=f"{self.snapshot.name} {self.snapshot.version or ''}: evaluation".strip())
            staged = self._stage_outputs(doc, files)
            # Every output is staged: the quarantine, the explanations and the documents become
            # visible together, in the one commit every job type uses.
            rejected = [self.staged_rejected] if self.staged_rejected is not None else []
            explanations = [self.staged_explanations] if self.staged_explanations is not None else []
            commit_staged_outputs([*rejected, *explanations, *staged], job_id=self.spec.job_id)
            written = tuple(s.written for s in [*staged, *explanations])
            details: dict[str, Any] = {"metrics_function": metrics_function, "builtin_evaluation": builtin}
            if self.options.monitor is not None:
                details["monitor"] = self.options.monitor.type
            if judgement is not None:
                details["judgement"] = judgement.to_dict()
            if self.options.mlflow is not None:
                m = self.options.mlflow
                details["mlflow_run_id"] = log_evaluation(
                    doc, tracking_uri=m.tracking_uri, experiment=m.experiment or self.snapshot.name,
                    run_name=m.run_name or self.spec.job_id, artifacts=files.paths(),
                    artifact_location=m.artifact_location,
                    tags={"modelop_spark.job_id": self.spec.job_id, "modelop_spark.snapshot": self.snapshot.name},
                )
        finally:
            shutil.rmtree(report_dir, ignore_errors=True)
        rows_in = int(self.rows_in or 0)
        explanations_written = [self.staged_explanations] if self.staged_explanations is not None else []  # data, not a document
        rows = RowCounts(
            rows_in=rows_in, rows_scored=rows_in - self.rows_rejected, rows_rejected=self.rows_rejected,
            rows_out=len(written) - len(explanations_written), rejected_by_stage={"model": self.rows_rejected} if self.rows_rejected else {},
        )
        rejected_output = self.staged_rejected.written if self.staged_rejected is not None else None
        return Outcome(rows=rows, outputs=written, rejected_output=rejected_output, metrics=doc, details=details)

    def _stage_outputs(self, doc: dict[str, Any], files: EvaluationFiles) -> list[StagedOutput]:
        """The document to each output, except those a PySpark model wrote itself (already
        committed: listed as they are)."""
        if not self.model_outputs:
            return [self._stage(doc, asset, files) for asset in self.spec.outputs if asset is not self.explanations]
        staged = []
        for output, asset in outputs_with_specs(self.model_outputs, self.spec.outputs):
            if output.written or asset is None or not doc:
                staged.append(StagedOutput(written=written_asset(output, asset, rows=1 if output.written else None)))
            else:
                staged.append(self._stage(doc, asset, files))
        return staged

    def _read_back(self) -> dict[str, Any]:
        """The metrics a PySpark model wrote itself, read from the first small JSON or CSV
        document among its outputs ({} when there is none to read)."""
        for output in self.model_outputs:
            if not output.written or output.target is None:
                continue
            doc = read_model_document(self.spark, output)
            if doc is not None:
                return doc
        return {}

    def _stage(self, doc: dict[str, Any], asset: AssetSpec, files: EvaluationFiles) -> StagedOutput:
        return stage_document(self.spark, asset, doc, files if self.options.report else None, job_id=self.spec.job_id)


def _schema_roles(snapshot: Snapshot, spec: JobSpec) -> Any:
    """Roles from the snapshot's (or the job's) input and output schemas, when there are any."""
    schemas = _schemas(snapshot, spec)
    return roles_of(*schemas) if schemas else None


def _schemas(snapshot: Snapshot, spec: JobSpec) -> list[Any]:
    """The snapshot's (or the job's) input and output schemas, the extended attributes kept."""
    sources: list[Any] = [snapshot.schema_path("input"), snapshot.schema_path("output"),
                          spec.model.input_schema, spec.model.output_schema]
    schemas = []
    for source in sources:
        if source is None:
            continue
        try:
            schemas.append(load_schema(source))
        except SchemaError as exc:
            raise SchemaError(f"metrics: cannot read column roles: {exc.message}") from exc
    return schemas

