"""The training job: run a snapshot's ``train`` function and write a new snapshot version.

Steps, on the driver:

1. Before Spark (``check_training``; the options were typed when the job file was parsed): inputs
   given and a place for the new snapshot. Then open a draft of the new snapshot beside its
   target (a copy of the parent snapshot: source, schemas, assets). A target another job wrote is
   refused here, before work.
2. Resolve the model's functions in the draft (``ModelFunctions.resolve(..., root=draft)``:
   import, ``init`` there), then call ``train`` in its calling convention: ``train(df, ...)`` with one pandas DataFrame per input (at most
   ``max_train_rows`` rows each), ``train(df: pyspark.sql.DataFrame, ...)`` with Spark DataFrames
   (Spark ML estimators), or ModelOp's ``train(external_inputs, external_outputs,
   external_model_assets)``. The draft is the function's working directory: artifacts it writes
   by relative path become the new snapshot's assets.
3. What it returns or yields: dicts are metrics; another object is the trained model, saved into
   the draft (Spark ML models with ``save``, scikit-learn as an MLflow model in the skops format,
   anything else pickled).
4. With ``options.mlflow``, log params, metrics and the MLflow model, and register a version.
5. Commit the snapshot (checksums, lineage, one rename). Any failure discards the draft: no
   snapshot is written, and the JobResult says why.

A ModelOp job whose PySpark ``train`` writes its own outputs (a Spark ML model folder in
``outputData``) has those outputs as its product: they are staged and committed like any job's,
and no snapshot version is made unless its options ask for one (``snapshot_output``,
``snapshot_version``; a control plane registering the result sets ``snapshot_output``). The draft
is then a scratch copy of the parent, the model's working directory, removed after the run.
"""

from __future__ import annotations

import inspect
import pickle
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from modelop_spark._redact import redacted_logger
from modelop_spark.assets import read_asset
from modelop_spark.assets.base import WrittenAsset
from modelop_spark.assets.filesystem import absolute_url
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import AssetError, SpecError
from modelop_spark.jobs.modelop_job import is_modelop_job
from modelop_spark.jobs.result import Outcome, RowCounts
from modelop_spark.jobs.spec import JobSpec
from modelop_spark.jobs.training_options import TrainingOptions
from modelop_spark.runtime.conventions import Convention
from modelop_spark.runtime.functions import ModelFunctions, takes_pyspark_convention
from modelop_spark.runtime.lineage import (
    InputLineage,
    Lineage,
    MlflowLineage,
    ParentRef,
    clean_metrics,
    delta_table_version,
)
from modelop_spark.runtime.mlflow_snapshot import (
    find_mlflow_models,
    log_training_run,
    sklearn_serialization_format,
)
from modelop_spark.runtime.pyspark_convention import (
    call_pyspark_convention,
    job_assets,
    outputs_with_specs,
    written_asset,
)
from modelop_spark.runtime.pyspark_outputs import ModelOutput
from modelop_spark.runtime.session_guard import runtime_session_kept
from modelop_spark.runtime.snapshot import Snapshot
from modelop_spark.runtime.snapshot_writer import (
    WrittenSnapshot,
    bump_version,
    start_snapshot,
)
from modelop_spark.spark_compat import to_pandas

__all__ = ["check_training", "run_training"]

log = redacted_logger(__name__)

DEFAULT_MAX_ROWS = 1_000_000


def default_output(spec: JobSpec, snapshot: Snapshot, version: str) -> str:
    """Beside a local parent snapshot: ``<parent folder>/<name>-<version>``."""
    location = spec.model.snapshot or ""
    if location and "://" not in location.removeprefix("file://"):
        parent = Path(location.removeprefix("file://")).expanduser().absolute().parent
        return str(parent / f"{snapshot.name}-{version}")
    raise SpecError(
        "options.snapshot_output: say where the new snapshot goes (a folder, or a .tar.gz/.zip path); "
        "there is no local parent snapshot folder to put it beside"
    )


@dataclass
class _Trained:
    """What the train function handed back."""

    metrics: dict[str, Any] = field(default_factory=dict)
    model: Any = None


def _collect(result: Any) -> _Trained:
    """Dicts are metrics; anything else is the model. Generators are consumed (ModelOp models may
    ``yield`` their metrics)."""
    trained = _Trained()
    items = result if inspect.isgenerator(result) or isinstance(result, Iterator) else [result]
    for item in items:
        if item is None:
            continue
        if isinstance(item, Mapping):
            trained.metrics.update(item)
        else:
            trained.model = item
    return trained


def _is_spark_ml(model: Any) -> bool:
    return callable(getattr(model, "write", None)) and type(model).__module__.startswith("pyspark.ml")


def _is_sklearn(model: Any) -> bool:
    return type(model).__module__.startswith("sklearn.") or any(c.__module__.startswith("sklearn.") for c in type(model).__mro__[1:-1])


def save_model(model: Any, folder: Path, *, artifact: str | None, example: Any = None) -> str:
    """Save a returned model into the snapshot folder; returns its relative path.

    Spark ML -> ``spark_model/`` (``write().overwrite().save``); scikit-learn -> ``mlflow_model/``
    (an MLflow model, skops format where available: it loads without unpickling code; a ``.pkl``
    name pickles instead); anything else -> ``model.pkl`` (pickle: loading it runs code)."""
    if _is_spark_ml(model):
        name = artifact or "spark_model"
        # An absolute path: the JVM resolves relative paths against its own start directory.
        model.write().overwrite().save(str((folder / name).absolute()))
        return name
    name = artifact or ("mlflow_model" if _is_sklearn(model) else "model.pkl")
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith((".pkl", ".pickle")):
        with path.open("wb") as handle:
            pickle.dump(model, handle)
        return name
    if name.endswith(".joblib"):
        import joblib

        joblib.dump(model, path)
        return name
    if not _is_sklearn(model):
        raise SpecError(
            f"options.model_artifact: {name!r} names a folder, which holds Spark ML or scikit-learn models; "
            f"the train function returned a {type(model).__name__}: use a .pkl or .joblib name"
        )
    import mlflow.sklearn
    from mlflow.models import infer_signature

    signature = None
    if example is not None:
        try:
            columns = list(getattr(model, "feature_names_in_", example.columns))  # the features, not ids or labels
            signature = infer_signature(example[columns], model.predict(example[columns]))
        except Exception:  # a signature is a convenience: the model still saves without one
            log.warning("training: could not infer an MLflow signature for %s", type(model).__name__, exc_info=True)
    mlflow.sklearn.save_model(model, str(path), serialization_format=sklearn_serialization_format(), signature=signature)
    return name


def _location(asset: AssetSpec) -> str:
    if asset.url and "://" not in asset.url:
        return str(Path(asset.url).expanduser().absolute())  # lineage outlives the job's directory
    return asset.url or asset.table or ("SQL query" if asset.query else f"embedded:{asset.name or 'records'}")


def pin_delta_version(asset: AssetSpec) -> AssetSpec:
    """A Delta input read at one version: the one the job pinned, else the current one, looked
    up before the read so a concurrent commit cannot slip between the read and the lineage."""
    if asset.kind != "delta" or not asset.url:
        return asset
    options = dict(asset.options)
    pinned = options.get("version", options.get("versionAsOf"))
    if pinned is not None:
        return asset
    version = delta_table_version(asset.url, timestamp=options.get("timestamp", options.get("timestampAsOf")))
    if version is None:
        return asset
    options.pop("timestamp", None)
    options.pop("timestampAsOf", None)
    return replace(asset, options={**options, "version": version})


def _input_lineage(asset: AssetSpec, rows: int | None) -> InputLineage:
    delta_version = None
    if asset.kind == "delta":
        pinned = asset.options.get("version", asset.options.get("versionAsOf"))
        delta_version = int(pinned) if pinned is not None else None
    return InputLineage(location=_location(asset), kind=asset.kind, rows=rows, name=asset.name, format=asset.format, delta_version=delta_version)


def _feature_example(frames: list[Any], convention: Convention) -> Any:
    """A few rows of the first pandas input, for an MLflow signature."""
    if not convention.holds_whole_input_in_memory or not frames:
        return None
    return frames[0].head(5)


class _Run:
    """One training run over a draft snapshot folder: the model's functions are resolved in the
    draft (its working directory), so what init and train write there joins the new version."""

    def __init__(self, spark: Any, spec: JobSpec, options: TrainingOptions, functions: ModelFunctions) -> None:
        self.spark, self.spec, self.options, self.functions = spark, spec, options, functions
        self.model_outputs: tuple[ModelOutput, ...] = ()

    def read_inputs(self, convention: Convention) -> tuple[list[Any], list[int]]:
        frames = [read_asset(self.spark, asset) for asset in self.spec.inputs]
        counts = [frame.count() for frame in frames]
        for asset, count in zip(self.spec.inputs, counts, strict=True):
            if count == 0 and not self.spec.options.allow_empty_input:
                raise AssetError(f"input {asset.label}: no rows to train on; check the input, or set options.allow_empty_input")
            if convention.holds_whole_input_in_memory and count > self.options.max_train_rows:
                raise AssetError(
                    f"input {asset.label}: {count} rows, more than the {self.options.max_train_rows} a pandas train function "
                    "gets in memory; raise options.max_train_rows, sample the input, or declare the train function's "
                    "shape 'spark' (snapshot.json shapes.train) to train on a Spark DataFrame"
                )
        return convention.whole_input_arguments(frames, partial(to_pandas, self.spark)), counts

    def call(self, convention: Convention, frames: list[Any]) -> _Trained:
        if not convention.applies_to_a_dataframe:
            # The job's assets exactly as listed; what the model writes to its outputs is staged
            # and committed when it returns; the draft is its working directory.
            call = call_pyspark_convention(self.spark, self.spec, self.functions, role="train")
            self.model_outputs = call.outputs
            return _collect(iter(call.returned) if call.yielded else call.returned)
        with runtime_session_kept(self.spark):  # a stop() of the runtime's session is ignored
            return _collect(self.functions.call("train", *frames))


def _count(spark: Any, asset: AssetSpec) -> int | None:
    try:
        return read_asset(spark, asset).count()
    except Exception:  # an input only the model knows how to read: its row count stays unknown
        log.warning("training: could not count the rows of input %s", asset.label, exc_info=True)
        return None


def check_training(spec: JobSpec, snapshot: Snapshot) -> None:
    """Before Spark: inputs given, and a place for the new snapshot when the job makes one."""
    if not spec.inputs:
        raise SpecError("inputs: a training job needs at least one input asset")
    options = spec.training or TrainingOptions()
    _snapshot_target(options, spec, snapshot, options.snapshot_version or bump_version(snapshot.version))


def _draft(spec: JobSpec, snapshot: Snapshot, options: TrainingOptions, target: str | None) -> Any:
    """The train function's working folder, a copy of the parent snapshot: the draft of the new
    version, or (a job that makes none) a scratch copy, discarded after the run."""
    scratch = target is None
    where = str(Path(tempfile.mkdtemp(prefix="modelop-spark-train-")) / snapshot.name) if scratch else target
    assert where is not None
    draft = start_snapshot(
        where, job_id=spec.job_id, parent_root=snapshot.root, parent_manifest=snapshot.manifest.to_dict(), if_exists=options.if_exists
    )
    return draft, (Path(where).parent if scratch else None)


def run_training(spark: Any, spec: JobSpec, snapshot: Snapshot) -> Outcome:
    """The runner for job type ``training`` (ModelOp ``MODEL_BATCH_TRAINING_JOB``)."""
    options = spec.training or TrainingOptions()
    version = options.snapshot_version or bump_version(snapshot.version)
    target = _snapshot_target(options, spec, snapshot, version)
    draft, scratch = _draft(spec, snapshot, options, target)
    inputs = tuple(pin_delta_version(a) for a in spec.inputs)
    functions: ModelFunctions | None = None
    try:
        functions = ModelFunctions.resolve(snapshot, job_document=spec.document, root=draft.folder)
        # What train gets: ModelOp's asset dicts, Spark DataFrames, or pandas (the default:
        # ModelOp's train(df) gets pandas, annotated or not).
        convention = functions.convention("train")
        run = _Run(spark, replace(spec, inputs=inputs), options, functions)
        if not convention.applies_to_a_dataframe:  # the model reads its inputs itself; count them for lineage
            frames: list[Any] = []
            counts: list[int | None] = [_count(spark, a) for a in inputs]
        else:
            frames, read_counts = run.read_inputs(convention)
            counts = list(read_counts)
        trained = run.call(convention, frames)
        saved = None
        if trained.model is not None and target is None:
            raise SpecError(
                f"options.snapshot_output: the train function returned a {type(trained.model).__name__} but the job makes "
                "no new snapshot (its product is the outputs the model writes); set options.snapshot_output to keep it"
            )
        if trained.model is not None:
            saved = save_model(trained.model, draft.folder, artifact=options.model_artifact, example=_feature_example(frames, convention))
        mlflow = _track(options, spec, snapshot, version, trained.metrics, draft.folder, saved)
        lineage = Lineage(
            training_job_id=spec.job_id,
            parent=ParentRef(name=snapshot.name, version=snapshot.version, digest=snapshot.digest, location=snapshot.location),
            inputs=tuple(_input_lineage(a, c) for a, c in zip(inputs, counts, strict=True)),
            metrics=trained.metrics,
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            mlflow=mlflow,
        )
        written = draft.commit(version=version, lineage=lineage) if target is not None else None
    except BaseException:
        draft.discard()
        raise
    finally:
        if functions is not None:
            functions.release()
        if scratch is not None:
            draft.discard()
            shutil.rmtree(scratch, ignore_errors=True)
    if written is not None:
        log.info("training job %s: snapshot %s %s written to %s", spec.job_id, written.name, written.version, written.location)
    return _outcome(spec, written, lineage, convention.receives, saved, run.model_outputs)


def _snapshot_target(options: TrainingOptions, spec: JobSpec, snapshot: Snapshot, version: str) -> str | None:
    """Where the new snapshot goes, or None for a job that makes none.

    ``options.snapshot_output`` (the runtime's option, a control plane's registration, or a
    ModelOp job's output with no data format), else beside the parent. A ModelOp job whose
    PySpark train writes its own outputs asks for no snapshot (its product is those outputs; an
    output it writes is never taken for the snapshot's place): it makes one only when its
    options ask (``snapshot_output`` elsewhere, or ``snapshot_version``)."""
    target = options.snapshot_output
    model_writes_outputs = takes_pyspark_convention(snapshot, "train") is True  # read before it runs
    listed = _job_output_locations(spec) if model_writes_outputs else set()
    if target and absolute_url(target) in listed:
        log.info("training: the model writes %s itself (external_outputs); it is not the new snapshot's place", target)
        target = None
    if target:
        return target
    if listed and is_modelop_job(spec.document) and options.snapshot_version is None:
        log.info("training job %s: the model's outputs are its product; no new snapshot version (set options.snapshot_output for one)", spec.job_id)
        return None
    return default_output(spec, snapshot, version)


def _job_output_locations(spec: JobSpec) -> set[str]:
    listed = job_assets(spec.document, "outputData", spec.outputs)
    return {absolute_url(str(a["fileUrl"])) for a in listed if a.get("fileUrl")}


def _track(
    options: TrainingOptions, spec: JobSpec, snapshot: Snapshot, version: str, metrics: Mapping[str, Any], folder: Path, saved: str | None
) -> MlflowLineage | None:
    if options.mlflow is None:
        return None
    models = find_mlflow_models(folder)
    preferred = folder / saved if saved and (folder / saved) in models else (models[0] if models else None)
    params = {**spec.parameters, "parent_snapshot": snapshot.name, "parent_version": snapshot.version or "", "snapshot_version": version}
    return log_training_run(
        options.mlflow,
        snapshot_name=snapshot.name,
        run_name=f"{snapshot.name}-{version}",
        params=params,
        metrics=clean_metrics(metrics),
        model_folder=preferred,
        tags={"modelop_spark.job_id": spec.job_id},
    )


def _outcome(
    spec: JobSpec, written: WrittenSnapshot | None, lineage: Lineage, shape: str, saved: str | None, model_outputs: tuple[ModelOutput, ...]
) -> Outcome:
    rows = lineage.rows or 0
    snapshot_outputs: tuple[WrittenAsset, ...] = ()
    details: dict[str, Any] = {"shape": shape, "lineage": lineage.to_dict()}
    if written is not None:
        snapshot_outputs = (WrittenAsset(
            name="snapshot",
            kind="snapshot",
            location=written.location,
            format="archive" if written.archive else "folder",
            details={"name": written.name, "version": written.version, "digest": written.digest, "files": written.files},
        ),)  # fmt: skip
        details["snapshot_output"] = written.to_dict()
    written_by_model = tuple(written_asset(o, a) for o, a in outputs_with_specs(model_outputs, spec.outputs))  # external_outputs
    if saved:
        details["model_artifact"] = saved
    return Outcome(
        rows=RowCounts(rows_in=rows, rows_scored=rows, rows_rejected=0, rows_out=0),
        outputs=(*snapshot_outputs, *written_by_model),
        metrics=clean_metrics(lineage.metrics),
        details=details,
    )
