"""Reading a stored snapshot archive (zip or tar, told apart by its name): the paths in it, one
file of it, and its ``snapshot.json``. Pure functions over bytes or a local file."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from modelop_spark.controlplane.store import NotFound
from modelop_spark.errors import SpecError
from modelop_spark.vocabulary import MANIFEST_FILE, is_zip


def archive_names(data: bytes, name: str) -> list[str]:
    """The file paths inside an archive."""
    try:
        if is_zip(name):
            with zipfile.ZipFile(io.BytesIO(data)) as bundle:
                return [n for n in bundle.namelist() if not n.endswith("/")]
        with tarfile.open(fileobj=io.BytesIO(data)) as bundle:
            return [m.name.removeprefix("./") for m in bundle.getmembers() if m.isfile()]
    except (zipfile.BadZipFile, tarfile.TarError) as exc:
        raise SpecError(f"snapshot archive {name}: not readable: {exc}") from exc


def _matches(path: str, wanted: str) -> bool:
    """At the archive's root or one folder down."""
    return path == wanted or path.split("/", 1)[-1] == wanted


def _zip_member(data: bytes, wanted: str) -> bytes | None:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        found = next((n for n in bundle.namelist() if _matches(n, wanted)), None)
        return bundle.read(found) if found else None


def _tar_member(data: bytes, wanted: str) -> bytes | None:
    with tarfile.open(fileobj=io.BytesIO(data)) as bundle:
        for entry in bundle.getmembers():
            if entry.isfile() and _matches(entry.name.removeprefix("./"), wanted):
                handle = bundle.extractfile(entry)
                if handle is not None:
                    return handle.read()
    return None


def archive_member(data: bytes, name: str, member: str) -> bytes:
    """A file of an archive by its path, at the archive's root or one folder down."""
    wanted = member.strip("/")
    try:
        found = _zip_member(data, wanted) if is_zip(name) else _tar_member(data, wanted)
    except (zipfile.BadZipFile, tarfile.TarError) as exc:
        raise SpecError(f"snapshot archive {name}: not readable: {exc}") from exc
    if found is None:
        raise NotFound(f"snapshot archive {name} has no file {member}")
    return found


def _zip_manifest(archive: Path) -> dict[str, Any]:
    with zipfile.ZipFile(archive) as bundle:
        member = next((n for n in bundle.namelist() if n.rstrip("/").split("/")[-1] == MANIFEST_FILE and n.count("/") <= 1), None)
        return json.loads(bundle.read(member)) if member else {}


def _tar_manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as bundle:
        entry = next((m for m in bundle.getmembers() if m.isfile() and Path(m.name).name == MANIFEST_FILE and len(Path(m.name).parts) <= 2), None)
        handle = bundle.extractfile(entry) if entry else None
        return json.loads(io.TextIOWrapper(handle, encoding="utf-8").read()) if handle else {}


def read_manifest(archive: Path, name: str) -> dict[str, Any]:
    """``snapshot.json`` from a stored archive (at its root or one folder down), or {}."""
    try:
        return _zip_manifest(archive) if is_zip(name) else _tar_manifest(archive)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise SpecError(f"snapshot archive {name or archive.name} is not a readable .zip or .tar.gz: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"snapshot archive {name}: {MANIFEST_FILE} is not valid JSON: {exc}") from exc


__all__ = ["archive_member", "archive_names", "read_manifest"]
