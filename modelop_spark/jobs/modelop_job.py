"""ModelOp Center job JSON -> the runtime's own job document, so existing jobs run here unchanged.

``jobs.spec.JobSpec.from_dict`` calls :func:`runtime_document` first, then checks the result
against ``job.schema.json`` like any job file: a ModelOp job gets the same validation.

Fields honoured: ``jobType``, ``id``, ``inputData``/``outputData`` (``assetType`` EXTERNAL_FILE,
EMBEDDED or SQL; ``fileUrl``, ``filename``, ``fileFormat``, ``assetRole``, ``repositoryInfo``),
``model.storedModel.modelAssets`` (SOURCE_CODE: ``sourceCodeFilePath`` inside the checked-out
repository, ``repositoryInfo.repositoryDirectory`` on the asset, on ``modelMetaData`` or on the
stored model; else inline ``sourceCode``, unless that is a placeholder; ``initFunction``/
``scoreFunction``/``metricsFunction``/``trainingFunction``), ``model.storedModel.modelMetaData``
(``name``, ``inputSchema``, ``outputSchema``, ``enableInputSchemaChecking``,
``enableOutputSchemaChecking``), ``jobParameters`` (spark-submit flags in it, and
``targetEngine.sparkConf``/``executorMemory``, become the job's Spark settings: ``jobs.spark_settings``).
An optional top-level ``options`` object carries this runtime's own job options. Every other
field ModelOp writes is ignored with a debug line.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelop_spark import vocabulary
from modelop_spark._redact import redacted_logger
from modelop_spark.assets.spec import FILE_FORMATS, AssetKind, AssetSpec, format_from_url
from modelop_spark.errors import SpecError
from modelop_spark.jobs.spark_settings import engine_spark_conf, split_job_parameters

log = redacted_logger(__name__)

JOB_TYPES = vocabulary.MODELOP_JOB_TYPES
_FUNCTION_FIELDS = {
    "initFunction": "init",
    "scoreFunction": "score",
    "metricsFunction": "metrics",
    "trainingFunction": "train",
}
_HUMAN_FORMATS = ("csv", "json")  # ModelOp writes these as one file; so do we
# The asset option that keeps a fileFormat this runtime has no reader for (XLSX, TEXT, ...).
UNREADABLE_FORMAT = "modelop_file_format"


def is_modelop_job(document: Mapping[str, Any]) -> bool:
    return "jobType" in document or "inputData" in document or "storedModel" in (document.get("model") or {})


def _records_from_embedded(asset: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    data = asset.get("data", asset.get("records"))
    if data is None and asset.get("content") is not None:
        try:
            data = base64.b64decode(asset["content"]).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise SpecError(f"{where}.content: not base64 UTF-8 text") from exc
    if data is None:
        return []
    if isinstance(data, str):
        text = data.strip()
        try:
            data = json.loads(text) if text.startswith(("[", "{")) and "\n{" not in text else [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise SpecError(f"{where}.data: neither a JSON array nor JSON lines ({exc.msg} at line {exc.lineno})") from exc
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise SpecError(f"{where}.data: expected records (JSON objects)")
    return [dict(r) for r in data]


def translate_asset(asset: Mapping[str, Any], *, where: str, output: bool) -> AssetSpec:
    """One ModelOp asset (``inputData``/``outputData`` entry) as the runtime's AssetSpec."""
    asset_type = str(asset.get("assetType", "EXTERNAL_FILE")).upper()
    name = asset.get("filename") or asset.get("name")
    role = asset.get("assetRole")
    if asset_type == "EMBEDDED":
        records = None if output else _records_from_embedded(asset, where)
        return AssetSpec(kind="embedded", name=name, records=tuple(records) if records is not None else None, role=role)
    if asset_type.startswith("SQL"):
        return _sql_asset(asset, name=name, role=role)
    return _file_asset(asset, asset_type, where=where, output=output)


def _sql_asset(asset: Mapping[str, Any], *, name: str | None, role: str | None) -> AssetSpec:
    """A SQL asset: a JDBC read when it (or its repository) names a ``jdbcUrl``, else Spark SQL."""
    repository = dict(asset.get("repositoryInfo") or {})
    query = asset.get("query") or asset.get("sqlQuery")
    table = asset.get("tableName") or asset.get("table")
    jdbc_url = asset.get("jdbcUrl") or repository.get("jdbcUrl")
    options = {"url": jdbc_url} if jdbc_url else {}
    kind: AssetKind = "jdbc" if jdbc_url else "sql"
    return AssetSpec(kind=kind, name=name, query=query, table=table, role=role, options=options, repository=repository)


def _file_asset(asset: Mapping[str, Any], asset_type: str, *, where: str, output: bool) -> AssetSpec:
    """A file asset (``EXTERNAL_FILE`` and the like): a Delta table, a data format the runtime
    reads, or a file only a PySpark model knows how to read."""
    repository = dict(asset.get("repositoryInfo") or {})
    name = asset.get("filename") or asset.get("name")
    role = asset.get("assetRole")
    url = asset.get("fileUrl")
    if not url:
        raise SpecError(f"{where}.fileUrl: an {asset_type} asset needs a fileUrl")
    declared = _declared_format(asset)
    file_format = declared or format_from_url(url) or ""
    if file_format == "delta":
        return AssetSpec(kind="delta", name=name, url=url, format="delta", role=role, repository=repository)
    if file_format not in FILE_FORMATS:
        # A PySpark model reads and writes such assets itself (a Spark ML model folder, a text
        # file); any other model's job is refused before Spark when one names a format the
        # runtime has no reader for (check_declared_formats), and one with none when it is read.
        log.debug("ModelOp job: %s: no data format this runtime reads (%r)", where, asset.get("fileFormat"))
        unreadable = {UNREADABLE_FORMAT: str(asset["fileFormat"]).strip()} if declared else {}
        return AssetSpec(kind="file", name=name, url=url, role=role, repository=repository, options=unreadable)
    single = {"single_file": True} if output and file_format in _HUMAN_FORMATS else {}
    return AssetSpec.from_dict(
        {"kind": "file", "name": name, "url": url, "format": file_format or None, "role": role, "options": single, "repository": repository},
        where=where,
    )


def _declared_format(asset: Mapping[str, Any]) -> str:
    """The asset's ``fileFormat`` in lower case; "" when it names none (ModelOp's ``UNKNOWN``
    means: take the URL's extension)."""
    declared = str(asset.get("fileFormat") or "").strip().lower()
    return "" if declared == "unknown" else declared


def check_declared_formats(inputs: Sequence[AssetSpec], outputs: Sequence[AssetSpec]) -> None:
    """Before Spark, for a job whose assets the runtime reads and writes (not a PySpark model's
    own): a ``fileFormat`` it has no reader for is refused, never read as another format."""
    for direction, assets in (("input", inputs), ("output", outputs)):
        for asset in assets:
            declared = asset.options.get(UNREADABLE_FORMAT)
            if not declared:
                continue
            readable = ", ".join(f.upper() for f in (*FILE_FORMATS, "delta"))
            raise SpecError(
                f"{direction} {asset.label}: fileFormat {declared} is not a format "
                f"this runtime reads or writes ({readable}, or UNKNOWN to take the URL's extension); convert the "
                "data to one of them, or read it in a PySpark model (external_inputs)"
            )


def _names_a_snapshot(asset: Mapping[str, Any]) -> bool:
    """A training job's file output with no data format is where the new snapshot goes (a
    folder, .zip or .tar.gz)."""
    url = str(asset.get("fileUrl") or "")
    return bool(url) and not _declared_format(asset) and format_from_url(url) is None


def _schema_document(value: Any) -> Any:
    """ModelOp keeps schemas as an Avro document, or a list of ``{"schemaDefinition": ...}``."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, Mapping) and "schemaDefinition" in value:
        value = value["schemaDefinition"]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value or None


def translate_model(model: Mapping[str, Any]) -> dict[str, Any]:
    """``model.storedModel`` -> the runtime's ``model`` object (``snapshot`` or ``source_code``)."""
    stored = model.get("storedModel") or model
    metadata = stored.get("modelMetaData") or {}
    primary = _primary_source(stored)
    return {**_model_source(primary, metadata, stored), **_model_fields(primary, metadata, stored)}


def _is_source(asset: Mapping[str, Any]) -> bool:
    return str(asset.get("assetType", "")).upper() == "SOURCE_CODE"


def _primary_source(stored: Mapping[str, Any]) -> Mapping[str, Any]:
    """The SOURCE_CODE asset marked ``primaryModelSource``, else the first one."""
    sources = [a for a in stored.get("modelAssets") or () if _is_source(a)]
    primary = next((a for a in sources if a.get("primaryModelSource")), sources[0] if sources else None)
    if primary is None:
        raise SpecError("model.storedModel.modelAssets: no SOURCE_CODE asset; the job must carry the model source")
    return primary


def _model_fields(primary: Mapping[str, Any], metadata: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """The tagged functions, name, version, schemas and other assets the model names (only those given)."""
    functions = {role: primary[key] for key, role in _FUNCTION_FIELDS.items() if primary.get(key)}
    others = tuple(a["fileUrl"] for a in stored.get("modelAssets") or () if a is not primary and a.get("fileUrl") and not _is_source(a))
    common = {
        "functions": functions,
        "name": metadata.get("name") or primary.get("name"),
        "version": str(stored["version"]) if stored.get("version") is not None else None,
        "input_schema": _schema_document(metadata.get("inputSchema")),
        "output_schema": _schema_document(metadata.get("outputSchema")),
        "assets": list(others),
    }
    return {k: v for k, v in common.items() if v not in (None, {}, [])}


def _model_source(primary: Mapping[str, Any], metadata: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """Where the model's code comes from: the checked-out repository when its file is there,
    else the inline ``sourceCode`` when it is real source, else the repository folder."""
    directory = _repository_directory(primary, metadata, stored)
    path = primary.get("sourceCodeFilePath")
    code = primary.get("sourceCode")
    if directory and path and (Path(directory) / path).is_file():
        # The checked-out repository: the file runs with the model's other files beside it.
        if code and code != (Path(directory) / path).read_text(errors="replace"):
            log.debug("ModelOp job: sourceCode differs from %s in the repository; the repository's file runs", path)
        return {"snapshot": directory, "source_name": path}
    if is_real_source(code):
        return {"source_code": code, "source_name": primary.get("filename") or primary.get("name") or "model.py"}
    if directory:
        return {"snapshot": directory, "source_name": path or "model.py"}
    found = f"sourceCode is a placeholder ({str(code).strip()[:40]!r})" if code else "no sourceCode"
    raise SpecError(
        f"model.storedModel.modelAssets: the SOURCE_CODE asset has {found} and no repositoryInfo.repositoryDirectory "
        "(on the asset or on modelMetaData); give the model source inline, or the repository and sourceCodeFilePath"
    )


def _repository_directory(primary: Mapping[str, Any], metadata: Mapping[str, Any], stored: Mapping[str, Any]) -> str | None:
    """ModelOp puts the model's checked-out repository on the source asset, on modelMetaData,
    or on the stored model; the asset's own wins."""
    for holder in (primary, metadata, stored):
        directory = (holder.get("repositoryInfo") or {}).get("repositoryDirectory")
        if directory:
            return str(directory)
    return None


# What ModelOp's tooling leaves in sourceCode until it fills it in: one bare token or a file name
# (``CHANGEME``, ``model.py``, ``<placeholder>``, ``${SOURCE_CODE}``).
_PLACEHOLDER = re.compile(r"[<{$]*[\w./\\-]+[>}]*")


def is_real_source(code: Any) -> bool:
    """Model source, not a placeholder: anything but empty text, one token or a file name. Source
    that does not compile is still the user's source: loading it reports the file, the line
    and the syntax error (``runtime.snapshot.compile_source``), never "a placeholder"."""
    return isinstance(code, str) and bool(code.strip()) and _PLACEHOLDER.fullmatch(code.strip()) is None


def runtime_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The runtime's own job document for a ModelOp job JSON (``job_id`` only when it has one)."""
    job_type = JOB_TYPES.get(str(document.get("jobType", "MODEL_BATCH_JOB")))
    if job_type is None:
        raise SpecError(f"jobType: expected one of {', '.join(JOB_TYPES)}, found {document.get('jobType')!r}")
    if not isinstance(document.get("model"), Mapping):
        raise SpecError("model: a ModelOp job needs model.storedModel with the model's assets")
    model = translate_model(document["model"])
    metadata = (document["model"].get("storedModel") or {}).get("modelMetaData") or {}
    options = _schema_check_options(metadata, dict(document.get("options") or {}))
    parameters, flag_conf = split_job_parameters(_job_parameters(document))
    engine = document.get("targetEngine")
    spark_conf = {**(engine_spark_conf(engine) if isinstance(engine, Mapping) else {}), **flag_conf}
    _log_ignored(document)
    inputs = tuple(translate_asset(a, where=f"inputData[{i}]", output=False) for i, a in enumerate(document.get("inputData") or ()))
    outputs = _translated_outputs(document, job_type, options)
    runtime: dict[str, Any] = {
        "job_type": job_type,
        "model": model,
        "inputs": [a.to_dict() for a in inputs],
        "outputs": [a.to_dict() for a in outputs],
        "options": options,
        "parameters": dict(parameters),
    }
    if spark_conf:
        runtime["spark_conf"] = dict(spark_conf)
    job_id = document.get("id") or document.get("jobId")
    if job_id:
        runtime["job_id"] = str(job_id)
    return runtime


def _schema_check_options(metadata: Mapping[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """ModelOp's schema-checking switches on the model, as the job's check options (the job's own win)."""
    if metadata.get("enableInputSchemaChecking"):
        options.setdefault("input_schema_check", "quarantine")
    if metadata.get("enableOutputSchemaChecking"):
        options.setdefault("output_schema_check", "quarantine")
    return options


def _job_parameters(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """``jobParameters``: a JSON object, or its text (ModelOp sends either)."""
    parameters = document.get("jobParameters") or {}
    if isinstance(parameters, str):
        try:
            parameters = json.loads(parameters) if parameters.strip() else {}
        except json.JSONDecodeError as exc:
            raise SpecError(f"jobParameters: not a JSON object ({exc.msg})") from exc
    if not isinstance(parameters, Mapping):
        raise SpecError(f"jobParameters: expected a JSON object, found {type(parameters).__name__}")
    return parameters


def _translated_outputs(document: Mapping[str, Any], job_type: str, options: dict[str, Any]) -> list[AssetSpec]:
    """The ``outputData`` assets; a training job's output naming no data format is where the
    new snapshot goes (``options.snapshot_output``), not an output."""
    outputs = []
    for index, asset in enumerate(document.get("outputData") or ()):
        if job_type == vocabulary.TRAINING and _names_a_snapshot(asset):
            options.setdefault("snapshot_output", asset["fileUrl"])
            continue
        outputs.append(translate_asset(asset, where=f"outputData[{index}]", output=True))
    return outputs


# What the translation reads; ModelOp's other fields are bookkeeping (dates, group, version,
# targetRuntimes, fileSize, ...), ignored with a debug line and never an error.
_READ_FIELDS = {"id", "jobId", "jobType", "inputData", "outputData", "model", "jobParameters", "targetEngine", "options"}
_READ_ASSET_FIELDS = {
    "assetType", "fileUrl", "filename", "name", "fileFormat", "assetRole", "repositoryInfo", "data", "records",
    "content", "query", "sqlQuery", "tableName", "table", "jdbcUrl",
}


def _log_ignored(document: Mapping[str, Any]) -> None:
    ignored = sorted(k for k in document if k not in _READ_FIELDS)
    if ignored:
        log.debug("ModelOp job: ignoring %s (no meaning in this runtime)", ", ".join(ignored))
    for key in ("inputData", "outputData"):
        for index, asset in enumerate(document.get(key) or ()):
            extra = sorted(k for k in asset if k not in _READ_ASSET_FIELDS) if isinstance(asset, Mapping) else []
            if extra:
                log.debug("ModelOp job: %s[%d]: ignoring %s", key, index, ", ".join(extra))
