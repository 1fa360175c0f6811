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

import contextlib
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from pyspark import StorageLevel

from modelop_spark._redact import redacted_logger
from modelop_spark.assets import StagedOutput, read_asset, stage_asset
from modelop_spark.assets.base import WrittenAsset
from modelop_spark.assets.commit import (
    check_mode,
    commit_directory,
    commit_single_file,
    split_parent,
    staging_path,
)
from modelop_spark.assets.filesystem import absolute_url, filesystem_for, is_local, local_path
from modelop_spark.assets.spec import AssetSpec, format_from_url
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
from modelop_spark.jobs.monitoring import data_inputs, judge_document, monitor_inputs
from modelop_spark.jobs.result import Outcome, RowCounts
from modelop_spark.jobs.scoring import default_rejected_output
from modelop_spark.jobs.spec import JobSpec
from modelop_spark.runtime.apply import apply_function
from modelop_spark.runtime.functions import ModelFunctions, takes_pyspark_convention
from modelop_spark.runtime.pyspark_convention import call_pyspark_convention, written_asset
from modelop_spark.runtime.pyspark_outputs import ModelOutput
from modelop_spark.runtime.session_guard import runtime_session_kept
from modelop_spark.runtime.snapshot import Snapshot
from modelop_spark.schema.loader import load_schema
from modelop_spark.schema.roles import roles_of
from modelop_spark.spark_compat import session_conf

__all__ = ["run_metrics"]

log = redacted_logger(__name__)

ARROW_CONF = "spark.sql.execution.arrow.pyspark.enabled"


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
                _check_document_output(asset)


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
    shape = _user_shape(functions, options)
    builtin = options.builtin_evaluation in ("always", "only") or (
        options.builtin_evaluation == "auto" and shape is None
    )
    if shape is None and not builtin:
        raise SnapshotError(
            f"snapshot {snapshot.name}: no metrics function and options.builtin_evaluation is 'never'; "
            "tag one with '# modelop.metrics', or let the built-in evaluation run"
        )
    run_user = shape is not None and options.builtin_evaluation != "only"
    return _MetricsRun(spark, spec, functions, options).run(shape=shape if run_user else None, builtin=builtin)


def _user_shape(functions: ModelFunctions, options: MetricsOptions) -> str | None:
    """What the metrics function gets: pandas | spark | modelop_pyspark (asset dicts), from the
    job's ``metrics_shape`` or the function's calling convention; None without one."""
    if not functions.has("metrics"):
        return None
    return functions.convention("metrics", declared=options.metrics_shape and _DECLARED[options.metrics_shape]).receives


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


def _check_document_output(asset: AssetSpec) -> None:
    if asset.kind == "embedded":
        return
    if asset.kind != "file" or not asset.url:
        raise SpecError(f"output {asset.label}: a metrics job writes its JSON document to a file or embedded output")
    if asset.format not in (None, "json"):
        raise SpecError(f"output {asset.label}: a metrics job writes one JSON document; use format json, found {asset.format}")
    if asset.mode == "append":
        raise SpecError(f"output {asset.label}: a metrics document cannot be appended to; use mode overwrite")


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
            target = self.spec.rejected_output or default_rejected_output(self.spec)
            self.staged_rejected = stage_asset(scored.rejected(), target, job_id=self.spec.job_id)
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
    def _call_user(self, shape: str, frames: list[Any]) -> dict[str, Any] | None:
        source = self.functions.source
        if shape == "modelop_pyspark":
            return self._call_pyspark(source)
        arguments = frames if shape == "spark" else [self._to_pandas(f, a) for f, a in zip(frames, self.data_assets, strict=True)]
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

    def _to_pandas(self, frame: Any, asset: AssetSpec) -> Any:
        cap = self.options.max_metrics_rows
        if frame.limit(cap + 1).count() > cap:
            raise AssetError(
                f"input {asset.label}: more than {cap} rows for a pandas metrics function, which holds its "
                "input in driver memory; raise options.max_metrics_rows, or declare the metrics function's "
                "shape 'spark' (snapshot.json shapes.metrics, or options.metrics_shape) to get a Spark "
                "DataFrame, or use the built-in evaluation (options.builtin_evaluation: only)"
            )
        with session_conf(self.spark, {ARROW_CONF: "true"}):
            return frame.toPandas()

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
    def run(self, *, shape: str | None, builtin: bool) -> Outcome:
        try:
            if shape == "modelop_pyspark" and not builtin and not self.options.score_first:
                frames: list[Any] = []
                baseline = None
            else:
                frames, baseline = self._frames()
            user = self._call_user(shape, frames) if shape else None
            doc: dict[str, Any]
            if builtin:
                doc = evaluate(frames[0], columns=self._columns(), options=self.options.evaluation, baseline=baseline)
                if self.rows_in is None:
                    self.rows_in = doc["rows"]["input"]
                if user is not None:
                    doc["model_metrics"] = user
            elif user is None and self.model_outputs:
                doc = self._read_back()
            else:
                doc = user or {}
            if self.options.interpretability is not None:
                if not frames:
                    frames, _ = self._frames()
                doc["interpretability"] = self._interpretability(frames[0])
            doc = jsonable(doc)
            if self.rows_in is None:
                self.rows_in = self._count_inputs(frames)
            return self._finish(doc, shape=shape, builtin=builtin)
        except BaseException:
            for staged in (self.staged_rejected, self.staged_explanations):
                if staged is not None:
                    staged.abort()
            raise
        finally:
            for frame in self._persisted:
                frame.unpersist()

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
        return self._finish(jsonable(doc), shape=None, builtin=True)

    def _count_inputs(self, frames: list[Any]) -> int:
        if frames:
            return frames[0].count()
        try:  # the PySpark convention reads its own inputs; count the first when we can read it
            return read_asset(self.spark, self.spec.inputs[0]).count()
        except Exception:
            log.warning("metrics: could not count the rows of input %s", self.spec.inputs[0].label, exc_info=True)
            return 0

    def _finish(self, doc: dict[str, Any], *, shape: str | None, builtin: bool) -> Outcome:
        judgement = judge_document(self.spark, self.spec, doc)
        if judgement is not None:
            doc = {**doc, "judgement": judgement.to_dict()}
        report_dir = Path(tempfile.mkdtemp(prefix="modelop-metrics-"))
        try:
            files = write_report(doc, report_dir, plots=self.options.report and "format_version" in doc,
                                 title=f"{self.snapshot.name} {self.snapshot.version or ''}: evaluation".strip())
            staged = self._stage_outputs(doc, files)
            # Every output is staged: now the quarantine and the documents become visible together.
            rejected = [self.staged_rejected] if self.staged_rejected is not None else []
            explanations = [self.staged_explanations] if self.staged_explanations is not None else []
            for output in [*rejected, *explanations, *staged]:
                output.commit()
            written = tuple(s.written for s in [*staged, *explanations])
            details: dict[str, Any] = {"metrics_function": shape, "builtin_evaluation": builtin}
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
        specs = list(self.spec.outputs) if len(self.spec.outputs) == len(self.model_outputs) else [None] * len(self.model_outputs)
        staged = []
        for output, asset in zip(self.model_outputs, specs, strict=True):
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
        _check_document_output(asset)
        if asset.kind == "embedded":
            return StagedOutput(written=WrittenAsset(name=asset.name, kind="embedded", location=None, format="json", records=[doc]))
        return _stage_document(self.spark, asset, json_line(doc), files if self.options.report else None,
                               job_id=self.spec.job_id)


def json_line(doc: dict[str, Any]) -> str:
    """The metrics document as one JSON object on one line, as ModelOp writes it and as
    ``pandas.read_json(lines=True)`` and Spark's JSON reader read it."""
    return json.dumps(doc, sort_keys=True, allow_nan=False) + "\n"


def _is_one_file(asset: AssetSpec, url: str) -> bool:
    """A ``.json`` URL, or an output whose job said its format (a ModelOp ``fileFormat``: its
    URL names a file even without an extension); any other URL is a folder."""
    return url.endswith(".json") or asset.single_file


def _report_location(url: str) -> str:
    """``.../metrics.json`` (or ``.../metrics``) -> ``.../metrics_report``: plots and report.html
    beside the document, named after it."""
    parent, name = split_parent(url)
    return f"{parent}/{name.removesuffix('.json')}_report"


def _put_report(fs: Any, folder: str, files: EvaluationFiles) -> dict[str, Any]:
    """report.html (self-contained) and, on a local filesystem, the PNGs under ``plots/``."""
    fs.write_text(f"{folder}/report.html", files.html.read_text(encoding="utf-8"))
    details: dict[str, Any] = {"report": f"{folder}/report.html"}
    if is_local(folder) and files.plots:
        target = local_path(f"{folder}/plots")
        target.mkdir(parents=True, exist_ok=True)
        for path in files.plots.values():
            shutil.copyfile(path, target / path.name)
        details["plots"] = {k: f"{folder}/plots/{p.name}" for k, p in files.plots.items()}
    return details


def _stage_document(spark: Any, asset: AssetSpec, text: str, files: EvaluationFiles | None, *, job_id: str) -> StagedOutput:
    """The document (and its report) written out of sight; committed with the job's other outputs.

    A URL ending ``.json`` (or a ModelOp output with a ``fileFormat``) is that one file, with
    ``<stem>_report/`` beside it; any other URL is a folder holding ``metrics.json``,
    ``report.html`` and ``plots/``."""
    url = absolute_url(asset.url or "")
    fs = filesystem_for(url, spark)
    check_mode(fs, url, asset.mode, label=asset.label)
    staging = staging_path(url, job_id)
    single = _is_one_file(asset, url)
    report = _report_location(url) if single and files is not None else None
    report_staging = staging_path(report, job_id) if report else None
    for folder in (staging, report_staging):
        if folder:
            fs.delete(folder)
    details: dict[str, Any] = {}
    try:
        if single:
            fs.write_text(f"{staging}/{split_parent(url)[1]}", text)
            if report and report_staging and files is not None:
                details = _moved(_put_report(fs, report_staging, files), report_staging, report)
        else:
            fs.write_text(f"{staging}/metrics.json", text)
            if files is not None:
                details = _moved(_put_report(fs, staging, files), staging, url)
            details["document"] = f"{url.rstrip('/')}/metrics.json"
    except BaseException:
        _clean(fs, staging, report_staging)
        raise

    def commit() -> None:
        try:
            if single:
                if report and report_staging:
                    commit_directory(fs, report_staging, report, mode="overwrite", job_id=job_id)
                commit_single_file(fs, staging, url, mode=asset.mode, job_id=job_id, replace_foreign=asset.replace_foreign)
            else:
                commit_directory(fs, staging, url, mode=asset.mode, job_id=job_id, replace_foreign=asset.replace_foreign)
        finally:
            _clean(fs, staging, report_staging)

    written = WrittenAsset(name=asset.name, kind="file", location=asset.url, format="json", rows=1, details=details)
    return StagedOutput(written=written, commit=commit, abort=lambda: _clean(fs, staging, report_staging))


def _moved(details: dict[str, Any], staging: str, target: str) -> dict[str, Any]:
    """Report paths as they will be once the staging folder is committed to ``target``."""
    return {k: (v.replace(staging, target) if isinstance(v, str) else {n: p.replace(staging, target) for n, p in v.items()})
            for k, v in details.items()}


def _clean(fs: Any, *stagings: str | None) -> None:
    for staging in stagings:
        if not staging:
            continue
        fs.delete(staging)
        folder = split_parent(staging)[0]
        with contextlib.suppress(OSError):  # another job may be staging beside us right now
            if fs.exists(folder) and not fs.list(folder):
                fs.delete(folder)


_READ_BACK_ROWS = 100  # a metrics document is a handful of rows; a bigger output is data, not metrics


def read_model_document(spark: Any, output: ModelOutput) -> dict[str, Any] | None:
    """A small JSON or CSV document a PySpark model wrote to ``output`` (one row: that row;
    several: ``{"results": [...]}``), or None when the output is not one (another format, more rows)."""
    assert output.target is not None
    fmt = str(output.asset.get("fileFormat") or format_from_url(output.target) or "").lower()
    if fmt not in ("json", "csv"):
        return None
    asset = AssetSpec(kind="file", name=output.asset.get("filename"), url=output.target, format=fmt)
    try:
        frame = read_asset(spark, asset)
        if frame.columns == ["_corrupt_record"]:  # one indented JSON document, not JSON lines
            frame = read_asset(spark, replace(asset, options={"multiLine": "true"}))
        rows = frame.limit(_READ_BACK_ROWS + 1).collect()
    except Exception:  # the model's own file: not being able to read it back does not fail its job
        log.warning("could not read the metrics the model wrote to %s", output.target, exc_info=True)
        return None
    if not rows or len(rows) > _READ_BACK_ROWS:
        return None
    documents = [jsonable(r.asDict(recursive=True)) for r in rows]
    return documents[0] if len(documents) == 1 else {"results": documents}


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

