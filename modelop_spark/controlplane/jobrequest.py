"""A job request on ``POST /jobs`` -> the job document a runtime runs, plus what matching needs.

Two forms are accepted:

- this control plane's request: ``{"job_type": "batchjob"|"testjob"|"trainingjob"|"scoring"|...,
  "snapshot": "<uuid or model name>", "inputs": [asset...], "outputs": [asset...],
  "stage": "DEV", "runtime": "name", "schema_check": true, "parameters": {...}, "options": {...}}``
  with assets in the runtime's own job-file form (``kind``, ``url``, ``records``...);
- a ModelOp Center job JSON, as it is (``jobType``, ``inputData``, ``model.storedModel``...).

Both are checked here with the runtime's own parser (``JobSpec.from_dict``), so a bad job is
refused with the field named before it is queued, not minutes later on a runtime. Pure: the
caller resolves the snapshot and stores the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelop_spark.controlplane.matching import JobNeeds
from modelop_spark.errors import SpecError
from modelop_spark.jobs.modelop_job import is_modelop_job
from modelop_spark.jobs.spec import JobSpec
from modelop_spark.vocabulary import BATCH_JOB, JOB_TYPES, JOB_WORDS

# moc's words and ModelOp's, and the runtime's own names, to the runtime's job types
JOB_TYPE_WORDS = {**JOB_WORDS, **{job_type: job_type for job_type in JOB_TYPES}}
SNAPSHOT_PLACEHOLDER = "controlplane-snapshot:"  # the runtime swaps in its downloaded copy
# a training job whose output is a plain name: the runtime writes the new snapshot locally and
# registers it with the control plane as a new snapshot of the same model
TRAINED_SNAPSHOT_PLACEHOLDER = "controlplane-new-snapshot:"


@dataclass(frozen=True)
class PreparedJob:
    document: dict[str, Any]
    document_format: str  # "runtime" or "modelop"
    job_type: str
    needs: JobNeeds
    schema_check: bool
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    model_name: str | None = None


def job_type_of(word: str) -> str:
    try:
        return JOB_TYPE_WORDS[str(word).lower()]
    except KeyError:
        *first, last = JOB_WORDS
        raise SpecError(f"job_type: expected {', '.join(first)} or {last}, found {word!r}") from None


def summarise(asset: Mapping[str, Any]) -> dict[str, Any]:
    """An asset without its records, for listings."""
    out = {k: v for k, v in asset.items() if k not in ("records", "data", "content")}
    for key in ("records", "data"):
        if isinstance(asset.get(key), list):
            out["records"] = len(asset[key])
    return out


def prepare_runtime_job(request: Mapping[str, Any], *, job_id: str, snapshot: Mapping[str, Any]) -> PreparedJob:
    job_type = job_type_of(request.get("job_type", BATCH_JOB))
    schema_check = bool(request.get("schema_check", False))
    mode = "quarantine" if schema_check else "off"
    options = {"input_schema_check": mode, "output_schema_check": mode, **dict(request.get("options") or {})}
    inputs = [dict(a) for a in request.get("inputs") or ()]
    outputs = [dict(a) for a in request.get("outputs") or ()]
    if job_type == "training":
        outputs = _training_outputs(outputs, options)
    if not inputs:
        raise SpecError("inputs: a job needs at least one input (a data file, a URL or sql:SELECT ...)")
    document: dict[str, Any] = {
        "job_id": job_id,
        "job_type": job_type,
        "snapshot": SNAPSHOT_PLACEHOLDER + str(snapshot["id"]),
        "inputs": inputs,
        "outputs": outputs,
        "options": options,
        "parameters": dict(request.get("parameters") or {}),
    }
    if request.get("rejected_output"):
        document["rejected_output"] = dict(request["rejected_output"])
    JobSpec.from_dict(document)  # refuse a bad job now, naming the field
    needs = JobNeeds(
        stage=(request.get("stage") or None),
        service_tags=frozenset(snapshot.get("service_tags") or ()),
        runtime_name=request.get("runtime") or None,
    )
    return PreparedJob(
        document=document, document_format="runtime", job_type=job_type, needs=needs, schema_check=schema_check,
        inputs=[summarise(a) for a in inputs], outputs=[summarise(a) for a in outputs],
    )


def _training_outputs(outputs: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
    """A training job's first output is where the new snapshot goes: a URL or path is written
    there; a plain name (an embedded output) is registered with the control plane."""
    if not outputs or "snapshot_output" in options:
        return outputs
    first, rest = outputs[0], outputs[1:]
    if first.get("kind") == "embedded":
        options["snapshot_output"] = TRAINED_SNAPSHOT_PLACEHOLDER + str(first.get("name") or "snapshot")
    else:
        options["snapshot_output"] = str(first.get("url") or "")
    return rest


def prepare_modelop_job(document: Mapping[str, Any], *, job_id: str, stage: str | None, runtime: str | None) -> PreparedJob:
    """A ModelOp job JSON runs as it is; its id becomes the control plane's job id."""
    runnable = {**document, "id": job_id}
    spec = JobSpec.from_dict(runnable)
    stored = (document.get("model") or {}).get("storedModel") or {}
    metadata = stored.get("modelMetaData") or {}
    engine = document.get("targetEngine") or {}
    needs = JobNeeds(
        stage=stage,
        service_tags=frozenset(str(t) for t in metadata.get("tags") or ()),
        runtime_name=runtime or engine.get("name") or None,
    )
    return PreparedJob(
        document=runnable, document_format="modelop", job_type=spec.job_type, needs=needs,
        schema_check=spec.options.input_schema_check != "off",
        inputs=[summarise(a) for a in document.get("inputData") or ()],
        outputs=[summarise(a) for a in document.get("outputData") or ()],
        model_name=metadata.get("name"),
    )


def is_modelop_request(request: Mapping[str, Any]) -> bool:
    return is_modelop_job(request)


__all__ = [
    "JOB_TYPE_WORDS",
    "SNAPSHOT_PLACEHOLDER",
    "TRAINED_SNAPSHOT_PLACEHOLDER",
    "PreparedJob",
    "is_modelop_request",
    "job_type_of",
    "prepare_modelop_job",
    "prepare_runtime_job",
]
