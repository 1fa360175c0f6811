"""Snapshots: a model's source, assets, schemas and manifest, loaded from a folder or archive.

Loading checks everything the driver can check before any Spark task starts: the source compiles,
the manifest parses, every listed asset exists with the right sha256. Importing the source (which
runs its top-level code) happens in ``model_module``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from modelop_spark.assets.fetch import fetch_to_local
from modelop_spark.cache import cache_folder
from modelop_spark.errors import SnapshotError
from modelop_spark.runtime.archive import extract_archive, is_archive
from modelop_spark.runtime.conventions import CONVENTION_NAMES
from modelop_spark.runtime.mlflow_registry import download_registered_model, is_registry_uri
from modelop_spark.runtime.mlflow_snapshot import wrap_mlflow_model
from modelop_spark.runtime.smart_tags import ROLES, parse_smart_tags
from modelop_spark.runtime.snapshot_files import MANIFEST_FILE, folder_digest, sha256_file


@dataclass(frozen=True)
class AssetEntry:
    path: str
    sha256: str | None = None


@dataclass(frozen=True)
class Manifest:
    """``snapshot.json``: what the snapshot is and which function is which."""

    name: str
    version: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    source: str | None = None
    functions: Mapping[str, str] = field(default_factory=dict)
    shapes: Mapping[str, str] = field(default_factory=dict)
    schemas: Mapping[str, str] = field(default_factory=dict)
    assets: tuple[AssetEntry, ...] = ()
    lineage: Mapping[str, Any] = field(default_factory=dict)
    # The input columns the score function reads: only these (and the key columns) are sent to
    # the Python workers. Empty: every input column goes.
    reads: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = MANIFEST_FILE) -> Manifest:
        if not isinstance(data, Mapping):
            raise SnapshotError(f"{where}: expected a JSON object, found {type(data).__name__}")
        version = data.get("version")
        return cls(
            name=str(data.get("name") or "unnamed"),
            version=str(version) if version is not None else None,
            description=str(data.get("description") or ""),
            tags=tuple(data.get("tags") or ()),
            source=data.get("source"),
            functions=_functions(data, where),
            shapes=_shapes(data, where),
            schemas=dict(data.get("schemas") or {}),
            assets=_assets(data, where),
            lineage=dict(data.get("lineage") or {}),
            reads=_reads(data, where),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.version is not None:
            out["version"] = self.version
        if self.description:
            out["description"] = self.description
        out["tags"] = list(self.tags)
        if self.source:
            out["source"] = self.source
        for key in ("functions", "shapes", "schemas", "lineage"):
            value = getattr(self, key)
            if value:
                out[key] = dict(value)
        if self.reads:
            out["reads"] = list(self.reads)
        out["assets"] = [{"path": a.path, "sha256": a.sha256} for a in self.assets]
        return out


def _functions(data: Mapping[str, Any], where: str) -> dict[str, str]:
    """``functions``: role -> function name, for the roles there are."""
    functions = dict(data.get("functions") or {})
    unknown = sorted(set(functions) - set(ROLES))
    if unknown:
        raise SnapshotError(f"{where}: functions.{unknown[0]} is not a role; roles are {', '.join(ROLES)}")
    return functions


def _shapes(data: Mapping[str, Any], where: str) -> dict[str, str]:
    """``shapes``: role -> the calling convention declared for it."""
    shapes = dict(data.get("shapes") or {})
    for role, shape in shapes.items():
        if role not in ROLES:
            raise SnapshotError(f"{where}: shapes.{role} is not a role; roles are {', '.join(ROLES)}")
        if shape not in CONVENTION_NAMES:
            raise SnapshotError(f"{where}: shapes.{role} must be one of {', '.join(CONVENTION_NAMES)}, found {shape!r}")
    return shapes


def _assets(data: Mapping[str, Any], where: str) -> tuple[AssetEntry, ...]:
    """``assets``: paths, or ``{"path", "sha256"}`` objects."""
    assets = []
    for index, entry in enumerate(data.get("assets") or ()):
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, Mapping) or not entry.get("path"):
            raise SnapshotError(f"{where}: assets[{index}] needs a path")
        assets.append(AssetEntry(path=str(entry["path"]), sha256=entry.get("sha256")))
    return tuple(assets)


def _reads(data: Mapping[str, Any], where: str) -> tuple[str, ...]:
    reads = data.get("reads") or ()
    if not isinstance(reads, (list, tuple)) or not all(isinstance(c, str) and c for c in reads):
        raise SnapshotError(f"{where}: reads must be a list of the input column names the score function reads")
    return tuple(reads)


@dataclass(frozen=True)
class Snapshot:
    """A loaded snapshot: everything lives under ``root`` on this machine."""

    root: Path
    manifest: Manifest
    location: str
    digest: str
    functions: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str | None:
        return self.manifest.version

    @property
    def source_path(self) -> Path | None:
        return self.root / self.manifest.source if self.manifest.source else None

    def function(self, role: str) -> str | None:
        return self.functions.get(role)

    def shape(self, role: str) -> str | None:
        return self.manifest.shapes.get(role)

    def schema_path(self, which: str) -> Path | None:
        name = self.manifest.schemas.get(which)
        return self.root / name if name else None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "location": self.location, "digest": self.digest}


def _local_folder(location: str) -> Path:
    """Turn a snapshot location into a local folder, extracting archives once per content."""

    if is_registry_uri(location):
        return download_registered_model(location, cache_folder("registry"))
    parsed = urlparse(location)
    if parsed.scheme and parsed.scheme != "file" and len(parsed.scheme) > 1:
        path = fetch_to_local(location, cache_folder("fetched"))
    else:
        path = Path(parsed.path if parsed.scheme == "file" else location).expanduser()
    if not path.exists():
        raise SnapshotError(f"snapshot not found at {location}: give a folder, a .zip or a .tar.gz")
    if path.is_dir():
        return path.resolve()
    if not is_archive(path):
        raise SnapshotError(f"snapshot {location} is neither a folder nor a .zip/.tar.gz/.tgz archive")
    target = cache_folder("snapshots") / sha256_file(path)
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="extract-", dir=target.parent if target.parent.exists() else None))
        extract_archive(path, staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(target)
        except OSError:  # another process extracted the same archive first: use its copy
            shutil.rmtree(staging, ignore_errors=True)
    # An archive of a single top folder holds the snapshot inside that folder.
    entries = [p for p in target.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


def _read_manifest(root: Path) -> Manifest | None:
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        return None
    try:
        data = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{manifest_path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    return Manifest.from_dict(data, where=str(manifest_path))


def _find_source(root: Path, manifest: Manifest) -> str:
    if manifest.source:
        if not (root / manifest.source).is_file():
            raise SnapshotError(f"snapshot {root}: model source {manifest.source!r} named in {MANIFEST_FILE} is missing")
        return manifest.source
    candidates = sorted(p for p in root.glob("*.py") if not p.name.startswith("_"))
    tagged = [p for p in candidates if "modelop." in p.read_text(errors="replace")]
    chosen = tagged or candidates
    if len(chosen) == 1:
        return chosen[0].name
    if not chosen:
        raise SnapshotError(f"snapshot {root} has no model source (.py): add one, or name it in {MANIFEST_FILE} 'source'")
    names = ", ".join(p.name for p in chosen)
    raise SnapshotError(f"snapshot {root} has several model sources ({names}): name one in {MANIFEST_FILE} 'source'")


def compile_source(path: Path) -> str:
    """The source text, compiled once so a syntax error is reported with file and line."""
    text = path.read_text()
    try:
        compile(text, str(path), "exec")
    except SyntaxError as exc:
        raise SnapshotError(f"{path.name}:{exc.lineno}: syntax error in model source: {exc.msg}") from exc
    return text


def _verify_assets(root: Path, manifest: Manifest) -> None:
    for asset in manifest.assets:
        path = root / asset.path
        if not path.resolve().is_relative_to(root.resolve()):
            raise SnapshotError(f"{MANIFEST_FILE}: asset {asset.path!r} points outside the snapshot")
        if not path.is_file():
            raise SnapshotError(f"snapshot {manifest.name}: asset {asset.path!r} listed in {MANIFEST_FILE} is missing from {root}")
        if asset.sha256 and sha256_file(path) != asset.sha256.lower():
            raise SnapshotError(
                f"snapshot {manifest.name}: asset {asset.path!r} fails its checksum (sha256 differs from "
                f"{MANIFEST_FILE}); the file changed after the snapshot was made: restore it, or record the change with modelop-spark snapshot build {root}"
            )


def load_snapshot(
    location: str | os.PathLike[str],
    *,
    functions: Mapping[str, str] | None = None,
    source: str | None = None,
) -> Snapshot:
    """Load a snapshot from a folder, a ``.zip`` or a ``.tar.gz`` (local, or a URL ``fetch`` knows),
    an MLflow model folder, or a registered MLflow model (``models:/NAME/VERSION``,
    ``models:/NAME@ALIAS``).

    ``functions`` (role -> name) and ``source`` override the manifest and the smart tags, as a
    ModelOp job's model asset can.
    """
    location = str(location)
    root = _local_folder(location)
    manifest = _read_manifest(root)
    if manifest is None and (root / "MLmodel").is_file():
        # An MLflow model folder is scored through a generated snapshot that wraps it.
        root = wrap_mlflow_model(root)
        manifest = _read_manifest(root)
    manifest = manifest or Manifest(name=root.name)
    if source:
        manifest = replace(manifest, source=source)
    manifest = replace(manifest, source=_find_source(root, manifest))
    assert manifest.source is not None  # _find_source names one or raises
    tags = parse_smart_tags(compile_source(root / manifest.source))
    merged = {**tags.functions, **manifest.functions, **(functions or {})}
    schemas = dict(manifest.schemas)
    for index, key in ((0, "input"), (1, "output")):
        if key not in schemas and index in tags.schemas:
            schemas[key] = tags.schemas[index]
    manifest = replace(manifest, functions=merged, schemas=schemas)
    _verify_assets(root, manifest)
    for key, name in schemas.items():
        if not (root / name).is_file():
            raise SnapshotError(f"snapshot {manifest.name}: {key} schema {name!r} is missing from {root}")
    return Snapshot(root=root, manifest=manifest, location=location, digest=folder_digest(root), functions=merged)
