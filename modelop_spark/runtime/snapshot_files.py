"""A snapshot's file vocabulary: the manifest's name and the sha256 checksums, defined once for
the loader (``snapshot``), the writer (``snapshot_writer``) and the MLflow wrapper."""

from __future__ import annotations

import hashlib
from pathlib import Path

from modelop_spark import vocabulary

__all__ = ["MANIFEST_FILE", "folder_digest", "sha256_file"]

MANIFEST_FILE = vocabulary.MANIFEST_FILE


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_digest(root: Path) -> str:
    """One sha256 over every file's relative path and content: the snapshot's identity."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        digest.update(str(path.relative_to(root)).encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()
