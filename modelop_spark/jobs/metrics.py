"""The metrics job (ModelOp ``MODEL_BATCH_TEST_JOB``, CLI ``testjob``): evaluate labeled data.

Strategy, chosen once per job:
- the snapshot's ``metrics`` function, run unchanged in its shape: pandas ``metrics(df, ...)`` (one
  argument per input, under a row cap), Spark ``metrics(df)``, or ModelOp's PySpark convention;
- the built-in evaluation (``modelop_spark.evaluation``) when there is no metrics function or
  the job asks for it (``options.builtin_evaluation``);
- optionally score first with the snapshot's score function (the scoring path's ``apply_function``),
  so one job scores and evaluates.
The metrics document goes into the JobResult and to each output asset (a JSON file, or embedded);
plots and a self-contained ``report.html`` go beside a file output; MLflow logging is optional.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from modelop_spark._redact import redacted_logger
from modelop_spark.assets import read_asset, stage_asset
from modelop_spark.assets.base import WrittenAsset
from modelop_spark.assets.commit import (
    check_mode,
    commit_directory,
    commit_single_file,
    split_parent,
    staging_path,
)
from modelop_spark.assets.filesystem import absolute_url, filesystem_for, is_local, local_path
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
from modelop_spark.evaluation.report import EvaluationFiles, to_json
from modelop_spark.evaluation.user_metrics import collect_metrics, jsonable
from modelop_spark.jobs.result import Outcome, RowCounts
from modelop_spark.jobs.spec import JobSpec
from modelop_spark.runtime.apply import apply_function, function_shape
from modelop_spark.runtime.snapshot import Snapshot

__all__ = ["run_metrics"]

log = redacted_logger(__name__)

ARROW_CONF = "spark.sql.execution.arrow.pyspark.enabled"


def run_metrics(spark: Any, spec: JobSpec, snapshot: Snapshot) -> Outcome:
    """The runner for job type ``metrics``; ``jobs.runner.run_job`` dispatches here."""
    options = MetricsOptions.from_dict(_option_block(spec))
    if not spec.inputs:
        raise SpecError("inputs: a metrics job needs at least one input asset (the labeled data)")
    shape = _user_shape(snapshot, spec, options)
    builtin = options.builtin_evaluation in ("always", "only") or (
        options.builtin_evaluation == "auto" and shape is None
    )
    if shape is None and not builtin:
        raise SnapshotError(
            f"snapshot {snapshot.name}: no metrics function and options.builtin_evaluation is 'never'; "
            "tag one with '# modelop.metrics', or let the built-in evaluation run"
        )
    run_user = shape is not None and options.builtin_evaluation != "only"
    return _MetricsRun(spark, spec, snapshot, options).run(shape=shape if run_user else None, builtin=builtin)


def _option_block(spec: JobSpec) -> dict[str, Any]:
    """Job options; a ModelOp job may carry the same keys in ``jobParameters``."""
    merged = {k: v for k, v in (spec.parameters or {}).items() if k in _OPTION_KEYS}
    merged.update({k: v for k, v in spec.options.extra.items() if k in _OPTION_KEYS})
    return merged


_OPTION_KEYS = set(MetricsOptions.__dataclass_fields__) - {"columns"}


def _user_shape(snapshot: Snapshot, spec: JobSpec, options: MetricsOptions) -> str | None:
    """pandas | spark | modelop_pyspark, or None when the snapshot has no metrics function."""
    shape = function_shape(snapshot, role="metrics", job_document=spec.document)
    if shape is None:
        return None
    if options.metrics_shape:
        return options.metrics_shape
    return shape if shape in ("spark", "modelop_pyspark") else "pandas"


class _MetricsRun:
    def __init__(self, spark: Any, spec: JobSpec, snapshot: Snapshot, options: MetricsOptions) -> None:
        self.spark, self.spec, self.snapshot, self.options = spark, spec, snapshot, options
        self.rejected_output: WrittenAsset | None = None
        self.rows_rejected = 0

    # -- inputs ---------------------------------------------------------------------------------
    def _split_inputs(self) -> tuple[list[AssetSpec], AssetSpec | None]:
        name = self.options.baseline_input
        baseline = [a for a in self.spec.inputs if (name and a.name == name) or (not name and a.role == "baseline")]
        if name and not baseline:
            raise SpecError(f"options.baseline_input: no input is named {name!r}; inputs are "
                            f"{', '.join(a.label for a in self.spec.inputs)}")
        data = [a for a in self.spec.inputs if a not in baseline[:1]]
        if not data:
            raise SpecError("inputs: every input is the drift baseline; add the labeled data to evaluate")
        return data, (baseline[0] if baseline else None)

    def _scored(self, frame: Any, source: AssetSpec) -> Any:
        """Score with the snapshot's score function (the scoring job's path), keep the columns
        the evaluation needs, and quarantine rows the model rejected."""
        from pyspark import StorageLevel

        from modelop_spark.jobs.scoring import default_rejected_output

        keys = self.spec.options.key_columns
        scored = apply_function(
            frame, self.snapshot, role="score", key_columns=keys, on_error=self.spec.options.on_model_error,
            job_document=self.spec.document, input_label=f"input {source.label}",
        )
        scored.combined.persist(StorageLevel.MEMORY_AND_DISK)
        self._persisted.append(scored.combined)
        counts = scored.counts()
        self.rows_in, self.rows_rejected = counts["rows_in"], counts["rows_rejected"]
        if counts["rows_rejected"]:
            target = self.spec.rejected_output or default_rejected_output(self.spec)
            staged = stage_asset(scored.rejected(), target, job_id=self.spec.job_id)
            staged.commit()
            self.rejected_output = staged.written
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
        data, baseline = self._split_inputs()
        frames = [read_asset(self.spark, a) for a in data]
        if self.options.score_first:
            frames[0] = self._scored(frames[0], data[0])
        self.data_assets = data
        return frames, (read_asset(self.spark, baseline) if baseline else None)

    # -- the user's function --------------------------------------------------------------------
    def _function(self) -> tuple[Any, Any]:
        from modelop_spark.runtime.model_cache import ModelPayload, loaded_model

        payload = ModelPayload.from_snapshot(self.snapshot, job_document=self.spec.document, for_tasks=False)
        model = loaded_model(payload)
        return model, model.function("metrics")

    def _call_user(self, shape: str, frames: list[Any]) -> dict[str, Any]:
        source = self.snapshot.manifest.source or "model"
        if shape == "modelop_pyspark":
            from modelop_spark.runtime.pyspark_convention import call_pyspark_convention

            return collect_metrics(call_pyspark_convention(self.spark, self.spec, self.snapshot, role="metrics"), source=source)
        arguments = frames if shape == "spark" else [self._to_pandas(f, a) for f, a in zip(frames, self.data_assets, strict=True)]
        model, function = self._function()
        try:
            with model.working_directory():
                return collect_metrics(function(*arguments), source=source)
        except ModelFunctionError:
            raise
        except Exception as exc:
            raise ModelFunctionError(f"{source}: metrics raised {type(exc).__name__}: {exc}") from exc

    def _to_pandas(self, frame: Any, asset: AssetSpec) -> Any:
        from modelop_spark.jobs.scoring import session_conf

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
        self._persisted: list[Any] = []
        self.rows_in: int | None = None
        try:
            if shape == "modelop_pyspark" and not builtin and not self.options.score_first:
                frames, baseline = [], None
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
            else:
                doc = user or {}
            doc = jsonable(doc)
            if self.rows_in is None:
                self.rows_in = self._count_inputs(frames)
            return self._finish(doc, shape=shape, builtin=builtin)
        finally:
            for frame in self._persisted:
                frame.unpersist()

    def _count_inputs(self, frames: list[Any]) -> int:
        if frames:
            return frames[0].count()
        try:  # the PySpark convention reads its own inputs; count the first when we can read it
            return read_asset(self.spark, self.spec.inputs[0]).count()
        except Exception:
            log.warning("metrics: could not count the rows of input %s", self.spec.inputs[0].label, exc_info=True)
            return 0

    def _finish(self, doc: dict[str, Any], *, shape: str | None, builtin: bool) -> Outcome:
        report_dir = Path(tempfile.mkdtemp(prefix="modelop-metrics-"))
        try:
            files = write_report(doc, report_dir, plots=self.options.report and "format_version" in doc,
                                 title=f"{self.snapshot.name} {self.snapshot.version or ''}: evaluation".strip())
            written = tuple(self._write(doc, asset, files) for asset in self.spec.outputs)
            details: dict[str, Any] = {"metrics_function": shape, "builtin_evaluation": builtin}
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
        rows = RowCounts(
            rows_in=rows_in, rows_scored=rows_in - self.rows_rejected, rows_rejected=self.rows_rejected,
            rows_out=len(written), rejected_by_stage={"model": self.rows_rejected} if self.rows_rejected else {},
        )
        return Outcome(rows=rows, outputs=written, rejected_output=self.rejected_output, metrics=doc, details=details)

    def _write(self, doc: dict[str, Any], asset: AssetSpec, files: EvaluationFiles) -> WrittenAsset:
        if asset.kind == "embedded":
            return WrittenAsset(name=asset.name, kind="embedded", location=None, format="json", records=[doc])
        if asset.kind != "file" or not asset.url:
            raise SpecError(f"output {asset.label}: a metrics job writes its JSON document to a file or embedded output")
        if asset.format not in (None, "json"):
            raise SpecError(f"output {asset.label}: a metrics job writes one JSON document; use format json, found {asset.format}")
        return _write_document(self.spark, asset, to_json(doc) + "\n", files if self.options.report else None,
                               job_id=self.spec.job_id)


def _report_location(url: str) -> str:
    """``.../metrics.json`` -> ``.../metrics_report``: plots and report.html beside the JSON."""
    parent, name = split_parent(url)
    return f"{parent}/{name[: -len('.json')]}_report"


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


def _write_document(spark: Any, asset: AssetSpec, text: str, files: EvaluationFiles | None, *, job_id: str) -> WrittenAsset:
    """Staged, then committed with the scoring outputs' commit: nothing half-written is visible.

    A URL ending ``.json`` is that one file, with ``<stem>_report/`` beside it; any other URL is a
    folder holding ``metrics.json``, ``report.html`` and ``plots/``."""
    url = absolute_url(asset.url or "")
    if asset.mode == "append":
        raise SpecError(f"output {asset.label}: a metrics document cannot be appended to; use mode overwrite")
    fs = filesystem_for(url, spark)
    check_mode(fs, url, asset.mode, label=asset.label)
    staging = staging_path(url, job_id)
    fs.delete(staging)
    details: dict[str, Any] = {}
    try:
        if url.endswith(".json"):
            fs.write_text(f"{staging}/{split_parent(url)[1]}", text)
            if files is not None:
                report = _report_location(url)
                report_staging = staging_path(report, job_id)
                fs.delete(report_staging)
                details = _put_report(fs, report_staging, files)
                commit_directory(fs, report_staging, report, mode="overwrite", job_id=job_id)
                details = {k: (v.replace(report_staging, report) if isinstance(v, str)
                               else {n: p.replace(report_staging, report) for n, p in v.items()})
                           for k, v in details.items()}
            commit_single_file(fs, staging, url, mode=asset.mode, job_id=job_id)
        else:
            fs.write_text(f"{staging}/metrics.json", text)
            if files is not None:
                details = _put_report(fs, staging, files)
            commit_directory(fs, staging, url, mode=asset.mode, job_id=job_id)
            details = {k: (v.replace(staging, url) if isinstance(v, str) else {n: p.replace(staging, url) for n, p in v.items()})
                       for k, v in details.items()}
            details["document"] = f"{url.rstrip('/')}/metrics.json"
    finally:
        fs.delete(staging)
        folder = split_parent(staging)[0]
        with contextlib.suppress(OSError):  # another job may be staging beside us right now
            if fs.exists(folder) and not fs.list(folder):
                fs.delete(folder)
    return WrittenAsset(name=asset.name, kind="file", location=asset.url, format="json", rows=1, details=details)


def _schema_roles(snapshot: Snapshot, spec: JobSpec) -> Any:
    """Roles from the snapshot's (or the job's) input and output schemas, when there are any."""
    try:
        from modelop_spark.schema.loader import load_schema
        from modelop_spark.schema.roles import roles_of
    except ImportError:  # the schema package is optional to this module
        return None
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
    return roles_of(*schemas) if schemas else None

