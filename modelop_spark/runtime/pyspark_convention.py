"""ModelOp's PySpark convention: ``fn(external_inputs, external_outputs, external_model_assets)``.

The model reads and writes with the active SparkSession itself; we hand it the job's assets as
ModelOp asset dicts. Each list also answers lookups by file name, for older models that take
dicts keyed by file name. Job parameters reach the model as Spark conf ``modelop.jobParameters``
(the JSON) and ``modelop.jobParameters.<key>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelop_spark.assets.filesystem import absolute_url
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.runtime.functions import ModelFunctions
from modelop_spark.runtime.snapshot_files import MANIFEST_FILE


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


def _asset_dicts(original: Sequence[Mapping[str, Any]] | None, assets: Sequence[AssetSpec]) -> AssetList:
    """A ModelOp job's own asset dicts pass through unchanged; others are translated."""
    if original and len(original) == len(assets):
        return AssetList(dict(a) for a in original)
    return AssetList(modelop_asset(a) for a in assets)


def set_job_parameters(spark: Any, parameters: Mapping[str, Any]) -> None:
    spark.conf.set("modelop.jobParameters", json.dumps(dict(parameters), default=str))
    for key, value in parameters.items():
        spark.conf.set(f"modelop.jobParameters.{key}", value if isinstance(value, str) else json.dumps(value, default=str))


def call_pyspark_convention(spark: Any, spec: Any, functions: ModelFunctions, *, role: str) -> Any:
    """Run ``role`` on the driver in the PySpark convention; return what it returned. The model
    assets are the files of the folder the model runs in (a training draft for ``train``)."""
    document = spec.document or {}
    inputs = _asset_dicts(document.get("inputData"), spec.inputs)
    outputs = _asset_dicts(document.get("outputData"), spec.outputs)
    set_job_parameters(spark, spec.parameters)
    return functions.call(role, inputs, outputs, model_assets(functions.root, functions.snapshot.manifest.source))
