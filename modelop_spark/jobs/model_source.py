"""From a job's model reference to a loaded snapshot (inline ModelOp source becomes a folder)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from modelop_spark.cache import cache_folder
from modelop_spark.errors import SnapshotError
from modelop_spark.jobs.spec import ModelRef
from modelop_spark.runtime.snapshot import MANIFEST_FILE, Snapshot, load_snapshot


def _inline_folder(model: ModelRef) -> Path:
    """Write inline source (and its schemas and assets) to a folder named by its content."""
    content = json.dumps(model.to_dict(), sort_keys=True, default=str)
    folder = cache_folder("inline") / hashlib.sha256(content.encode()).hexdigest()[:24]
    if folder.is_dir():
        return folder
    staging = Path(tempfile.mkdtemp(prefix="inline-"))
    (staging / model.source_name).write_text(model.source_code or "")
    manifest: dict[str, object] = {"name": model.name or Path(model.source_name).stem, "source": model.source_name}
    if model.version:
        manifest["version"] = model.version
    if model.functions:
        manifest["functions"] = dict(model.functions)
    schemas = {}
    for key, document in (("input", model.input_schema), ("output", model.output_schema)):
        if document is not None:
            (staging / f"{key}_schema.json").write_text(json.dumps(document))
            schemas[key] = f"{key}_schema.json"
    if schemas:
        manifest["schemas"] = schemas
    for asset in model.assets:
        path = Path(asset.removeprefix("file://"))
        if not path.is_file():
            raise SnapshotError(f"model asset {asset} does not exist (only local model assets can be copied here)")
        shutil.copy2(path, staging / path.name)
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(folder)
    except OSError:  # written by a concurrent run with the same content
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def snapshot_for(model: ModelRef) -> Snapshot:
    if model.source_code is not None:
        return load_snapshot(_inline_folder(model))
    assert model.snapshot is not None
    source = model.source_name if model.source_name != "model.py" else None
    snapshot = load_snapshot(model.snapshot, functions=model.functions or None, source=source)
    if not (snapshot.root / MANIFEST_FILE).is_file() and (model.name or model.version):
        # A ModelOp repository has no manifest: the job names the model and its version.
        manifest = replace(snapshot.manifest, name=model.name or snapshot.manifest.name, version=model.version or snapshot.manifest.version)
        snapshot = replace(snapshot, manifest=manifest)
    return snapshot
