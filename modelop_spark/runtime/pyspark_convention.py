"""ModelOp's PySpark convention: ``fn(external_inputs, external_outputs, external_model_assets)``.

The model reads and writes with the active SparkSession itself; we hand it the job's assets as
ModelOp asset dicts: for a ModelOp job exactly the dicts its job file lists, in order. Each list
also answers lookups by file name, for older models that take dicts keyed by file name. Outputs
are staged and committed once the function returns (``pyspark_outputs``); a ``stop()`` of the
runtime's session is ignored while the function runs (``session_guard``). Job parameters reach
the model as Spark conf ``modelop.jobParameters`` (the JSON) and ``modelop.jobParameters.<key>``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelop_spark.assets.base import WrittenAsset
from modelop_spark.assets.filesystem import absolute_url
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import ModelFunctionError
from modelop_spark.runtime.functions import ModelFunctions
from modelop_spark.runtime.model_module import working_directory as working_directory_of
from modelop_spark.runtime.pyspark_outputs import ModelOutput, StagedModelOutputs
from modelop_spark.runtime.session_guard import runtime_session_kept
from modelop_spark.runtime.snapshot_files import MANIFEST_FILE

_LISTED_FILES = 20  # a JobResult lists the first files of a folder output the model wrote


class AssetList(list):
    """A list of asset dicts that also reads like a dict keyed by file name."""

    def _by_name(self) -> dict[str, Any]:
        return {a.get("filename") or Path(str(a.get("fileUrl", ""))).name: a for a in self}

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._by_name()[key]
        return super().__getitem__(key)

    def keys(self):
        return self._by_name().keys()

    def values(self):
        return self._by_name().values()

    def items(self):
        return self._by_name().items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._by_name().get(key, default)


def modelop_asset(asset: AssetSpec) -> dict[str, Any]:
    """An AssetSpec as the ModelOp asset dict a PySpark model expects."""
    if asset.kind == "embedded":
        return {"assetType": "EMBEDDED", "filename": asset.name, "data": list(asset.records or ())}
    if asset.kind in ("sql", "jdbc"):
        return {"assetType": "SQL", "filename": asset.name, "query": asset.query, "tableName": asset.table}
    url = absolute_url(asset.url or "")
    out: dict[str, Any] = {
        "assetType": "EXTERNAL_FILE",
        "fileUrl": url,
        "filename": asset.name or Path(url.rstrip("/")).name,
        "fileFormat": (asset.format or "").upper(),
    }
    if asset.role:
        out["assetRole"] = asset.role
    if asset.repository:
        out["repositoryInfo"] = dict(asset.repository)
    return out


def model_assets(root: Path, source: str | None) -> AssetList:
    """The model folder's files other than its source and manifest, with absolute file URLs."""
    skip = {source, MANIFEST_FILE}
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return AssetList(
        {"assetType": "EXTERNAL_FILE", "filename": p.name, "fileUrl": f"file://{p}", "fileFormat": p.suffix.lstrip(".").upper()}
        for p in files
        if str(p.relative_to(root)) not in skip
    )


def job_assets(document: Mapping[str, Any] | None, key: str, assets: Sequence[AssetSpec]) -> AssetList:
    """The model's view of one asset list: for a ModelOp job, exactly what the job file lists
    under ``key`` (``inputData``, ``outputData``), in its order, as the dicts it holds; for the
    runtime's own job file, its assets in ModelOp's form."""
    if document and key in document:
        return AssetList(dict(a) for a in document.get(key) or ())
    return AssetList(modelop_asset(a) for a in assets)


def set_job_parameters(spark: Any, parameters: Mapping[str, Any]) -> None:
    spark.conf.set("modelop.jobParameters", json.dumps(dict(parameters), default=str))
    for key, value in parameters.items():
        spark.conf.set(f"modelop.jobParameters.{key}", value if isinstance(value, str) else json.dumps(value, default=str))


@dataclass(frozen=True)
class PySparkCall:
    """What a PySpark-convention function returned (a generator already run to its end) and
    what became of each of the job's outputs."""

    returned: Any
    outputs: tuple[ModelOutput, ...]
    yielded: bool = False  # ``returned`` is the list of what a generator yielded


def _output_modes(document: Mapping[str, Any] | None, listed: Sequence[Mapping[str, Any]], specs: Sequence[AssetSpec]) -> list[str]:
    """A ModelOp output is replaced on each run; the runtime's own job file says per output."""
    if (document and "outputData" in document) or len(specs) != len(listed):
        return ["overwrite"] * len(listed)
    return [a.mode for a in specs]


def run_pyspark_function(
    spark: Any, function: Any, spec: Any, *, model_assets: AssetList, working_directory: Path, label: str
) -> PySparkCall:
    """Call ``function(external_inputs, external_outputs, external_model_assets)`` on the driver.

    The model gets the job's assets exactly as listed, its outputs at staging locations
    (``runtime.pyspark_outputs``), and the job parameters as Spark conf. Its ``stop()`` on the
    runtime's session is ignored while it runs. When it returns, what it wrote is committed to the
    job's locations; when it raises, nothing is, and the error names the model."""
    document = spec.document or {}
    listed = job_assets(document, "outputData", spec.outputs)
    staged = StagedModelOutputs(spark, listed, modes=_output_modes(document, listed, spec.outputs), job_id=spec.job_id)
    set_job_parameters(spark, spec.parameters)
    try:
        with working_directory_of(working_directory), runtime_session_kept(spark):
            returned = function(job_assets(document, "inputData", spec.inputs), AssetList(staged.for_model()), model_assets)
            yielded = inspect.isgenerator(returned)
            if yielded:  # its body (writes, stop()) runs now, inside the guard, before the commit
                returned = list(returned)
    except Exception as exc:
        staged.discard()
        raise ModelFunctionError(f"{label} raised {type(exc).__name__}: {exc}") from exc
    except BaseException:
        staged.discard()
        raise
    return PySparkCall(returned=returned, outputs=tuple(staged.commit()), yielded=yielded)


def call_pyspark_convention(spark: Any, spec: Any, functions: ModelFunctions, *, role: str) -> PySparkCall:
    """Run ``role`` on the driver in the PySpark convention. The model assets are the files of
    the folder the model runs in (a training draft for ``train``)."""
    function = functions.function(role)
    return run_pyspark_function(
        spark, function, spec, model_assets=model_assets(functions.root, functions.snapshot.manifest.source),
        working_directory=functions.root, label=f"{functions.source}: {role} function {function.__name__}",
    )


def outputs_with_specs(outputs: Sequence[ModelOutput], specs: Sequence[AssetSpec]) -> list[tuple[ModelOutput, AssetSpec | None]]:
    """Each output the model was handed beside the job's output spec it came from (the same
    list, translated); None beside each when the lists differ (a ModelOp job's own dicts)."""
    beside: list[AssetSpec | None] = list(specs) if len(specs) == len(outputs) else [None] * len(outputs)
    return list(zip(outputs, beside, strict=True))


def written_asset(output: ModelOutput, spec: AssetSpec | None, *, rows: int | None = None) -> WrittenAsset:
    """How the JobResult lists an output the model wrote itself."""
    asset = output.asset
    details: dict[str, Any] = {"written_by_model": output.written}
    if output.files:
        details["files"] = list(output.files[:_LISTED_FILES]) + (["..."] if len(output.files) > _LISTED_FILES else [])
    url = asset.get("fileUrl") or (spec.url if spec else None) or asset.get("tableName")
    fmt = asset.get("fileFormat") or (spec.format if spec else None)
    return WrittenAsset(
        name=asset.get("filename") or asset.get("name") or (spec.name if spec else None),
        kind=spec.kind if spec else ("file" if asset.get("fileUrl") else str(asset.get("assetType", "")).lower()),
        location=url, format=str(fmt).lower() if fmt else None, rows=rows, details=details,
    )
