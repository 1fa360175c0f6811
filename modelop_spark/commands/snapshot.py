"""``modelop-spark snapshot build DIR``: write a folder's ``snapshot.json`` manifest.

    modelop-spark snapshot build DIR [--version V] [--name N] [--description TEXT]

The manifest names the model source (found by its smart tags), keeps what an existing
manifest says (functions, shapes, schemas, tags), sets the version (``--version``, else the
existing one, else ``1.0.0``) and lists every file with its sha256, so a changed or missing
asset is refused when the snapshot is loaded. The folder is then loaded as a job would load it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from modelop_spark.errors import ModelOpSparkError, SnapshotError
from modelop_spark.runtime.snapshot import MANIFEST_FILE, Manifest, _find_source, load_snapshot
from modelop_spark.runtime.snapshot_writer import new_manifest

__all__ = ["DEFAULT_VERSION", "add_snapshot_commands", "build_manifest"]

DEFAULT_VERSION = "1.0.0"


def add_snapshot_commands(commands: Any) -> None:
    snapshot = commands.add_parser("snapshot", help="make and check model snapshots")
    sub = snapshot.add_subparsers(dest="snapshot_command", required=True)
    build = sub.add_parser("build", help="write DIR/snapshot.json: source, version, sha256 of every file")
    build.add_argument("folder", metavar="DIR", help="the snapshot folder (a smart-tagged .py and its assets)")
    build.add_argument("--version", dest="snapshot_version", help=f"version to record (default: the manifest's, else {DEFAULT_VERSION})")
    build.add_argument("--name", help="snapshot name (default: the manifest's, else the folder name)")
    build.add_argument("--description", help="a line describing the model")
    build.set_defaults(handler=_build)


def build_manifest(folder: Path, *, version: str | None = None, name: str | None = None,
                   description: str | None = None) -> dict[str, Any]:
    """The manifest for ``folder`` (pure apart from reading the folder)."""

    if not folder.is_dir():
        raise SnapshotError(f"snapshot build: {folder} is not a folder; give the folder holding the model's .py and assets")
    existing: dict[str, Any] = {}
    manifest_path = folder / MANIFEST_FILE
    if manifest_path.is_file():
        try:
            existing = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise SnapshotError(f"{manifest_path}: invalid JSON at line {exc.lineno}: {exc.msg}; fix or delete it") from exc
    parsed = Manifest.from_dict(existing or {"name": folder.name}, where=str(manifest_path))
    parent = {**existing, "source": _find_source(folder, parsed)}
    manifest = new_manifest(parent, folder, version=version or existing.get("version") or DEFAULT_VERSION,
                            name=name or existing.get("name") or folder.resolve().name, description=description)
    first: dict[str, Any] = {key: manifest[key] for key in ("name", "version", "description") if key in manifest}
    return {**first, **manifest}


def _write_atomically(path: Path, text: str) -> None:
    handle, staging = tempfile.mkstemp(prefix=".snapshot-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(staging, path)


def _build(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    try:
        manifest = build_manifest(folder, version=args.snapshot_version, name=args.name, description=args.description)
        _write_atomically(folder / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
        snapshot = load_snapshot(folder)  # what a job will see: source compiles, checksums hold
    except ModelOpSparkError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    roles = ", ".join(f"{role}={name}" for role, name in sorted(snapshot.functions.items())) or "none tagged"
    print(f"snapshot {snapshot.name} {snapshot.version}: {len(manifest['assets'])} files with sha256, "
          f"source {manifest['source']} ({roles}) -> {folder / MANIFEST_FILE}")
    return 0
