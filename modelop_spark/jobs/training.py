"""The training job: run a snapshot's ``train`` function and write a new snapshot version.

Steps, on the driver:

1. Check the options and open a draft of the new snapshot beside its target (a copy of the parent
   snapshot: source, schemas, assets). A target another job wrote is refused here, before work.
2. Import the model source from the draft and run ``init`` there, then ``train`` in the shape the
   function has: ``train(df, ...)`` with one pandas DataFrame per input (at most
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
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from modelop_spark._redact import redacted_logger
from modelop_spark.assets import read_asset
from modelop_spark.assets.base import WrittenAsset
from modelop_spark.assets.filesystem import absolute_url
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import AssetError, ModelFunctionError, SnapshotError, SpecError
from modelop_spark.jobs.result import Outcome, RowCounts
from modelop_spark.jobs.spec import JobSpec
from modelop_spark.runtime.lineage import (
    InputLineage,
    Lineage,
    MlflowLineage,
    ParentRef,
    clean_metrics,
    delta_table_version,
)
from modelop_spark.runtime.mlflow_snapshot import (
    TrackingOptions,
    find_mlflow_models,
    log_training_run,
    sklearn_serialization_format,
)
from modelop_spark.runtime.model_module import (
    import_model_source,
    resolve_function,
    working_directory,
)
from modelop_spark.runtime.pyspark_convention import (
    job_assets,
    model_assets,
    run_pyspark_function,
    written_asset,
)
from modelop_spark.runtime.pyspark_outputs import ModelOutput
from modelop_spark.runtime.session_guard import runtime_session_kept
from modelop_spark.runtime.shapes import detect_shape, pyspark_convention_in_source, takes_argument
from modelop_spark.runtime.snapshot import Snapshot
from modelop_spark.runtime.snapshot_writer import (
    IfExists,
    SnapshotDraft,
    WrittenSnapshot,
    bump_version,
    start_snapshot,
)

__all__ = ["TrainingOptions", "run_training", "train", "train_shape"]

log = redacted_logger(__name__)

TrainShape = Literal["pandas", "spark", "modelop_pyspark"]
DEFAULT_MAX_ROWS = 1_000_000
ARROW_CONF = "spark.sql.execution.arrow.pyspark.enabled"
_OPTION_KEYS = ("snapshot_output", "snapshot_version", "if_exists", "max_train_rows", "model_artifact", "mlflow")


@dataclass(frozen=True)
class TrainingOptions:
    """The training keys of a job's ``options`` (the runner keeps them in ``JobOptions.extra``)."""

    snapshot_output: str | None = None  # folder, or a path ending .tar.gz / .tgz / .zip
    snapshot_version: str | None = None  # default: the parent's version bumped
    if_exists: IfExists = "replace_own"
    max_train_rows: int = DEFAULT_MAX_ROWS  # per input, for pandas train functions
    model_artifact: str | None = None  # where a returned model is saved inside the snapshot
    mlflow: TrackingOptions | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingOptions:
        if data.get("if_exists", "replace_own") not in ("replace_own", "replace", "error"):
            raise SpecError(f"options.if_exists: expected replace_own, replace or error, found {data['if_exists']!r}")
        rows = data.get("max_train_rows", DEFAULT_MAX_ROWS)
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise SpecError(f"options.max_train_rows: expected a whole number >= 1, found {rows!r}")
        artifact = data.get("model_artifact")
        if artifact is not None and (not isinstance(artifact, str) or artifact.startswith(("/", "..")) or not artifact.strip()):
            raise SpecError(f"options.model_artifact: expected a relative path inside the snapshot, found {artifact!r}")
        for key in ("snapshot_output", "snapshot_version"):
            if data.get(key) is not None and not isinstance(data[key], str | int | float):
                raise SpecError(f"options.{key}: expected text, found {type(data[key]).__name__}")
        return cls(
            snapshot_output=data.get("snapshot_output"),
            snapshot_version=str(data["snapshot_version"]) if data.get("snapshot_version") is not None else None,
            if_exists=data.get("if_exists", "replace_own"),
            max_train_rows=rows,
            model_artifact=artifact,
            mlflow=TrackingOptions.from_dict(data["mlflow"]) if data.get("mlflow") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in _OPTION_KEYS if k != "mlflow" and getattr(self, k) is not None}
        if self.mlflow is not None:
            out["mlflow"] = self.mlflow.to_dict()
        return out


def train_shape(function: Any, declared: str | None) -> TrainShape:
    """How to call ``train``: ModelOp's PySpark convention, Spark DataFrames, or pandas (the
    default: ModelOp's ``train(df)`` gets pandas, annotated or not)."""
    shape = detect_shape(function, declared)
    if shape in ("spark", "modelop_pyspark"):
        return shape  # type: ignore[return-value]
    return "pandas"


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


def _feature_example(frames: list[Any], shape: str) -> Any:
    """A few rows of the first pandas input, for an MLflow signature."""
    if shape != "pandas" or not frames:
        return None
    return frames[0].head(5)


def _init_argument(document: Mapping[str, Any]) -> dict[str, Any]:
    """What ``init(job_json)`` receives, as in scoring: the job as a dict plus ``rawJson``."""
    return {**document, "rawJson": json.dumps(dict(document), default=str)}


class _Run:
    """One training run over a draft snapshot folder."""

    def __init__(self, spark: Any, spec: JobSpec, snapshot: Snapshot, options: TrainingOptions, draft: SnapshotDraft) -> None:
        self.spark, self.spec, self.snapshot, self.options, self.draft = spark, spec, snapshot, options, draft
        self.module_name = f"modelop_train_{uuid.uuid4().hex}"
        self.source = snapshot.manifest.source or ""
        self.model_outputs: tuple[ModelOutput, ...] = ()

    def functions(self) -> tuple[Any, Any]:
        module = import_model_source(self.draft.folder, self.source, module_name=self.module_name)
        train = resolve_function(module, self.snapshot.function("train"), role="train", source=self.source)
        if train is None:
            raise SnapshotError(
                f"snapshot {self.snapshot.name}: no train function; tag one with '# modelop.train' or name it in snapshot.json 'functions'"
            )
        init = resolve_function(module, self.snapshot.function("init"), role="init", source=self.source)
        return init, train

    def init(self, init: Any) -> None:
        if init is None:
            return
        try:
            with working_directory(self.draft.folder):
                init(_init_argument(self.spec.document)) if takes_argument(init) else init()
        except Exception as exc:
            raise ModelFunctionError(f"{self.source}: init function {init.__name__} raised {type(exc).__name__}: {exc}") from exc

    def read_inputs(self, shape: TrainShape) -> tuple[list[Any], list[int]]:
        if not self.spec.inputs:
            raise SpecError("inputs: a training job needs at least one input asset")
        frames = [read_asset(self.spark, asset) for asset in self.spec.inputs]
        counts = [frame.count() for frame in frames]
        for asset, count in zip(self.spec.inputs, counts, strict=True):
            if count == 0 and not self.spec.options.allow_empty_input:
                raise AssetError(f"input {asset.label}: no rows to train on; check the input, or set options.allow_empty_input")
            if shape == "pandas" and count > self.options.max_train_rows:
                raise AssetError(
                    f"input {asset.label}: {count} rows, more than the {self.options.max_train_rows} a pandas train function "
                    "gets in memory; raise options.max_train_rows, sample the input, or declare the train function's "
                    "shape 'spark' (snapshot.json shapes.train) to train on a Spark DataFrame"
                )
        if shape != "pandas":
            return frames, counts
        return [_to_pandas(self.spark, frame) for frame in frames], counts

    def call(self, train: Any, shape: TrainShape, frames: list[Any]) -> Any:
        if shape == "modelop_pyspark":
            return self._call_pyspark(train)
        try:
            with working_directory(self.draft.folder), runtime_session_kept(self.spark):
                return _collect(train(*frames))
        except ModelFunctionError:
            raise
        except Exception as exc:
            raise ModelFunctionError(f"{self.source}: train function {train.__name__} raised {type(exc).__name__}: {exc}") from exc

    def _call_pyspark(self, train: Any) -> _Trained:
        """The job's assets exactly as listed; what the model writes to its outputs is staged and
        committed when it returns; the draft is its working directory."""
        in_draft = replace(self.snapshot, root=self.draft.folder)
        call = run_pyspark_function(
            self.spark, train, self.spec, model_assets=model_assets(in_draft), working_directory=self.draft.folder,
            label=f"{self.source}: train function {train.__name__}",
        )
        self.model_outputs = call.outputs
        return _collect(iter(call.returned) if call.yielded else call.returned)

    def close(self) -> None:
        sys.modules.pop(self.module_name, None)
        folder = str(self.draft.folder)
        while folder in sys.path:  # import_model_source put it there for helper modules
            sys.path.remove(folder)


def _count(spark: Any, asset: AssetSpec) -> int | None:
    try:
        return read_asset(spark, asset).count()
    except Exception:  # an input only the model knows how to read: its row count stays unknown
        log.warning("training: could not count the rows of input %s", asset.label, exc_info=True)
        return None


def _to_pandas(spark: Any, frame: Any) -> Any:
    from modelop_spark.jobs.scoring import session_conf

    with session_conf(spark, {ARROW_CONF: "true"}):
        return frame.toPandas()


def run_training(spark: Any, spec: JobSpec, snapshot: Snapshot) -> Outcome:
    """The runner for job type ``training`` (ModelOp ``MODEL_BATCH_TRAINING_JOB``)."""
    options = TrainingOptions.from_dict(spec.options.extra)
    version = options.snapshot_version or bump_version(snapshot.version)
    target = _snapshot_target(options, spec, snapshot, version)
    draft = start_snapshot(
        target, job_id=spec.job_id, parent_root=snapshot.root, parent_manifest=snapshot.manifest.to_dict(), if_exists=options.if_exists
    )
    inputs = tuple(pin_delta_version(a) for a in spec.inputs)
    run = _Run(spark, replace(spec, inputs=inputs), snapshot, options, draft)
    try:
        init, train = run.functions()
        shape = train_shape(train, snapshot.shape("train"))
        run.init(init)
        if shape == "modelop_pyspark":  # the model reads its inputs itself; count them for lineage
            frames, counts = [], [_count(spark, a) for a in inputs]
        else:
            frames, counts = run.read_inputs(shape)
        trained = run.call(train, shape, frames)
        saved = None
        if trained.model is not None:
            saved = save_model(trained.model, draft.folder, artifact=options.model_artifact, example=_feature_example(frames, shape))
        mlflow = _track(options, spec, snapshot, version, trained.metrics, draft.folder, saved)
        lineage = Lineage(
            training_job_id=spec.job_id,
            parent=ParentRef(name=snapshot.name, version=snapshot.version, digest=snapshot.digest, location=snapshot.location),
            inputs=tuple(_input_lineage(a, c) for a, c in zip(inputs, counts, strict=True)),
            metrics=trained.metrics,
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            mlflow=mlflow,
        )
        written = draft.commit(version=version, lineage=lineage)
    except BaseException:
        draft.discard()
        raise
    finally:
        run.close()
    log.info("training job %s: snapshot %s %s written to %s", spec.job_id, written.name, written.version, written.location)
    return _outcome(spec, written, lineage, shape, saved, run.model_outputs)


def _snapshot_target(options: TrainingOptions, spec: JobSpec, snapshot: Snapshot, version: str) -> str:
    """Where the new snapshot goes: ``options.snapshot_output`` (a ModelOp job's output with no
    data format), else beside the parent. A PySpark-convention train writes its own outputs, so
    the snapshot never goes to one of them: it goes beside the parent instead."""
    target = options.snapshot_output
    if target and _model_writes_outputs(snapshot) and absolute_url(target) in _job_output_locations(spec):
        log.info("training: the model writes %s itself (external_outputs); the new snapshot goes beside its parent", target)
        return default_output(spec, snapshot, version)
    return target or default_output(spec, snapshot, version)


def _model_writes_outputs(snapshot: Snapshot) -> bool:
    """Whether the train function takes ModelOp's PySpark convention, read before it runs."""
    declared = snapshot.shape("train")
    if declared:
        return declared == "modelop_pyspark"
    source = snapshot.source_path
    if source is None or not source.is_file():
        return False
    return pyspark_convention_in_source(source.read_text(), snapshot.function("train") or "train")


def _job_output_locations(spec: JobSpec) -> set[str]:
    listed = job_assets(spec.document, "outputData", spec.outputs)
    return {absolute_url(str(a["fileUrl"])) for a in listed if a.get("fileUrl")}


def train(
    snapshot: str | os.PathLike[str],
    inputs: Sequence[Mapping[str, Any] | AssetSpec],
    *,
    output: str | None = None,
    version: str | None = None,
    job_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    spark: Any = None,
    **options: Any,
) -> Any:
    """The notebook form of a training job: ``train("examples/training/churn/snapshot",
    [{"url": "train.csv"}], output="churn-1.0.1.tar.gz")``. ``options`` are the job options
    (``max_train_rows``, ``mlflow``, ...). Returns the JobResult; raises nothing for a failed
    job (check ``result.ok``), like ``run_job``."""
    from modelop_spark.jobs.runner import run_job

    job: dict[str, Any] = {
        "job_type": "training",
        "snapshot": str(snapshot),
        "inputs": [a.to_dict() if isinstance(a, AssetSpec) else dict(a) for a in inputs],
        "options": {**options, **({"snapshot_output": output} if output else {}), **({"snapshot_version": version} if version else {})},
    }
    if job_id:
        job["job_id"] = job_id
    if parameters:
        job["parameters"] = dict(parameters)
    return run_job(job, spark=spark)


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
    spec: JobSpec, written: WrittenSnapshot, lineage: Lineage, shape: str, saved: str | None, model_outputs: tuple[ModelOutput, ...]
) -> Outcome:
    rows = lineage.rows or 0
    output = WrittenAsset(
        name="snapshot",
        kind="snapshot",
        location=written.location,
        format="archive" if written.archive else "folder",
        details={"name": written.name, "version": written.version, "digest": written.digest, "files": written.files},
    )
    details: dict[str, Any] = {"shape": shape, "snapshot_output": written.to_dict(), "lineage": lineage.to_dict()}
    specs = list(spec.outputs) if len(spec.outputs) == len(model_outputs) else [None] * len(model_outputs)
    written_by_model = tuple(written_asset(o, a) for o, a in zip(model_outputs, specs, strict=True))  # external_outputs
    if saved:
        details["model_artifact"] = saved
    return Outcome(
        rows=RowCounts(rows_in=rows, rows_scored=rows, rows_rejected=0, rows_out=0),
        outputs=(output, *written_by_model),
        metrics=clean_metrics(lineage.metrics),
        details=details,
    )
