"""Job specs: parse and validate a job file, before anything runs (no SparkSession needed).

One path for every job file: a ModelOp Center job JSON is first translated into the runtime's own
document (``jobs.modelop_job``); that document is checked against ``job.schema.json``; then the
options are typed for the job type (``MetricsOptions``, ``TrainingOptions``). Errors name the
field (``options.arrow_batch_size: 0 is less than the minimum of 1``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator

from modelop_spark import vocabulary
from modelop_spark.assets.roles import DMN_ROLE, is_role
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import SpecError
from modelop_spark.evaluation.job_options import MetricsOptions
from modelop_spark.jobs.modelop_job import is_modelop_job, runtime_document
from modelop_spark.jobs.training_options import TrainingOptions

JobType = Literal["scoring", "metrics", "training"]
CheckMode = Literal["off", "strict", "quarantine"]
JOB_TYPES: tuple[str, ...] = vocabulary.JOB_TYPES

# Options the foundation knows; every other key under "options" is kept in ``extra`` for the
# capability that reads it (metrics, training, ...).
_KNOWN_OPTIONS = {
    "key_columns",
    "arrow_batch_size",
    "input_schema_check",
    "output_schema_check",
    "extra_fields",
    "on_model_error",
    "allow_empty_input",
    "model_timeout_seconds",
    "scoring_path",
    "max_rejected",
    "timeout_seconds",
}


@cache
def job_json_schema() -> dict[str, Any]:
    return json.loads(resources.files("modelop_spark.jobs").joinpath("job.schema.json").read_text())


def check_against_schema(document: Mapping[str, Any], schema: Mapping[str, Any], *, what: str) -> None:
    """Raise SpecError naming the first invalid field."""
    errors = sorted(Draft202012Validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise SpecError(f"{what}: {where}: {error.message}{more}")


@dataclass(frozen=True)
class ModelRef:
    """Which model to run: a snapshot location, or inline source as ModelOp jobs carry it."""

    snapshot: str | None = None
    source_code: str | None = None
    source_name: str = "model.py"
    functions: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    version: str | None = None
    input_schema: Any = None
    output_schema: Any = None
    assets: tuple[str, ...] = ()  # extra files (local paths) placed beside inline source

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelRef:
        return cls(
            assets=tuple(data.get("assets") or ()),
            snapshot=data.get("snapshot"),
            source_code=data.get("source_code"),
            source_name=data.get("source_name", "model.py"),
            functions=dict(data.get("functions") or {}),
            name=data.get("name"),
            version=data.get("version"),
            input_schema=data.get("input_schema"),
            output_schema=data.get("output_schema"),
        )

    def describe(self) -> dict[str, Any]:
        """The snapshot as the job names it, for a result whose snapshot never loaded: its name
        (the job's, else the location's last part, else the source file's stem) and version."""
        location = (self.snapshot or "").rstrip("/")
        stem = location.rsplit("/", 1)[-1] if location else self.source_name.rsplit(".", 1)[0]
        for suffix in (".tar.gz", ".tgz", ".zip"):
            stem = stem.removesuffix(suffix)
        return {"name": self.name or stem, "version": self.version, "location": self.snapshot, "digest": None}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("snapshot", "source_code", "name", "version", "input_schema", "output_schema"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.source_code is not None:
            out["source_name"] = self.source_name
        if self.functions:
            out["functions"] = dict(self.functions)
        if self.assets:
            out["assets"] = list(self.assets)
        return out


@dataclass(frozen=True)
class JobOptions:
    key_columns: tuple[str, ...] = ()
    arrow_batch_size: int | None = None
    input_schema_check: CheckMode = "off"
    output_schema_check: CheckMode = "off"
    extra_fields: Literal["keep", "drop", "reject"] = "keep"
    on_model_error: Literal["reject", "fail"] = "reject"
    allow_empty_input: bool = False
    model_timeout_seconds: float | None = None  # one model call (a record, a batch); None: conf/'s default; 0: none
    scoring_path: Literal["auto", "compiled", "python"] = "auto"
    max_rejected: float | None = None  # a count, or a fraction of the rows in (jobs/reject_limit.py)
    timeout_seconds: float | None = None  # the whole run; 0 or None: none
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobOptions:
        return cls(
            key_columns=tuple(data.get("key_columns") or ()),
            arrow_batch_size=data.get("arrow_batch_size"),
            input_schema_check=data.get("input_schema_check", "off"),
            output_schema_check=data.get("output_schema_check", "off"),
            extra_fields=data.get("extra_fields", "keep"),
            on_model_error=data.get("on_model_error", "reject"),
            allow_empty_input=bool(data.get("allow_empty_input", False)),
            model_timeout_seconds=data.get("model_timeout_seconds"),
            scoring_path=data.get("scoring_path", "auto"),
            max_rejected=data.get("max_rejected"),
            timeout_seconds=data.get("timeout_seconds"),
            extra={k: v for k, v in data.items() if k not in _KNOWN_OPTIONS},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        defaults = JobOptions()
        for key in sorted(_KNOWN_OPTIONS):
            value = getattr(self, key)
            if value != getattr(defaults, key):
                out[key] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    job_type: JobType
    model: ModelRef
    inputs: tuple[AssetSpec, ...]
    outputs: tuple[AssetSpec, ...] = ()
    rejected_output: AssetSpec | None = None
    options: JobOptions = field(default_factory=JobOptions)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    # The job file as given (a ModelOp job JSON stays a ModelOp job JSON): what init(job_json) sees.
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # Spark settings the job asks for (ModelOp's spark-submit flags): applied only when the
    # runtime starts the Spark application for this job (``jobs.spark_settings``).
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    # The options of this job type, typed when the file is parsed (None for other job types).
    metrics: MetricsOptions | None = field(default=None, repr=False)
    training: TrainingOptions | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSpec:
        """Parse and validate a job document: the runtime's own, or a ModelOp job JSON (which is
        translated into the runtime's own document first, then checked the same way)."""
        if not isinstance(data, Mapping):
            raise SpecError(f"job: expected a JSON object, found {type(data).__name__}")
        modelop = is_modelop_job(data)
        document = runtime_document(data) if modelop else data
        check_against_schema(document, job_json_schema(), what="job")
        model = ModelRef.from_dict(document.get("model") or {})
        if document.get("snapshot"):
            model = ModelRef(**{**model.__dict__, "snapshot": document["snapshot"]})
        if model.snapshot is None and model.source_code is None:
            raise SpecError("job: snapshot: say which model to run (a snapshot folder, .zip or .tar.gz)")
        job_type = document["job_type"]
        options = JobOptions.from_dict(document.get("options") or {})
        parameters = dict(document.get("parameters") or {})
        rejected = document.get("rejected_output")
        return cls(
            job_id=document.get("job_id") or derived_job_id(data),
            job_type=job_type,
            model=model,
            inputs=tuple(_assets(document["inputs"], "inputs", require_format=not modelop)),
            outputs=tuple(_assets(document.get("outputs") or (), "outputs", require_format=not modelop)),
            rejected_output=AssetSpec.from_dict(rejected, where="rejected_output") if rejected else None,
            options=options,
            parameters=parameters,
            document=dict(data),
            spark_conf=dict(document.get("spark_conf") or {}),
            metrics=MetricsOptions.from_job(options.extra, parameters) if job_type == "metrics" else None,
            training=TrainingOptions.from_dict(options.extra) if job_type == "training" else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job_id": self.job_id,
            "job_type": self.job_type,
            "model": self.model.to_dict(),
            "inputs": [a.to_dict() for a in self.inputs],
            "outputs": [a.to_dict() for a in self.outputs],
        }
        if self.rejected_output is not None:
            out["rejected_output"] = self.rejected_output.to_dict()
        if options := self.options.to_dict():
            out["options"] = options
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        if self.spark_conf:
            out["spark_conf"] = dict(self.spark_conf)
        return out


def _assets(items: Any, where: str, *, require_format: bool) -> list[AssetSpec]:
    # A DMN (role TEST_RESULT_COMPARATOR) is read as a decision table, never as data: no data format.
    return [AssetSpec.from_dict(a, where=f"{where}[{i}]", require_format=require_format and not is_role(a.get("role"), DMN_ROLE))
            for i, a in enumerate(items)]


def derived_job_id(document: Mapping[str, Any]) -> str:
    """A job without an id gets one from its content, so rerunning the same file is the same job
    (and never appends a second copy of its output)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return "job-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def read_job_document(path: str) -> dict[str, Any]:
    """A job file's JSON object, or one SpecError line saying what is wrong with the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError as exc:
        raise SpecError(f"job file {path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise SpecError(f"job file {path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    if not isinstance(document, dict):
        raise SpecError(f"job file {path}: expected a JSON object, found {type(document).__name__}")
    return document


def load_job_file(path: str) -> JobSpec:
    return JobSpec.from_dict(read_job_document(path))
