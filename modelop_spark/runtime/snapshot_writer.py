"""Write a new snapshot version: a folder or an archive, made visible in one step, rerun-safe.

The life cycle a training job follows:

1. :func:`start_snapshot` opens a working folder (``SnapshotDraft``) next to the target, filled
   with the parent snapshot's files (source, schemas, assets; not its manifest). It clears what an
   earlier, killed attempt of the same job left there.
2. The training function writes its artifacts into that folder (its working directory).
3. :meth:`SnapshotDraft.commit` checksums every file (sha256), writes ``snapshot.json`` last, and
   makes the snapshot visible at once: a folder is renamed into place, an archive is packed beside
   the target and renamed over it. Until then readers see the previous content or nothing.
   :meth:`SnapshotDraft.discard` removes the draft after a failure, leaving no half-written output.

Rerun rule: a target written by the same job id is replaced; a target written by another job (or
by hand) is left alone with an error naming both, because a released snapshot version is
immutable. ``if_exists="replace"`` overrides that; ``"error"`` refuses any existing target.

Targets: local paths and ``file://`` URLs (folder or archive), and ``s3://`` archives. On S3 the
draft is a local folder and the archive is uploaded in one PUT, which S3 makes visible only when
complete; a folder on S3 is refused, since an object store cannot rename a folder at once.
Endpoint and credentials for S3 come from the environment, as for S3 assets.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from modelop_spark import vocabulary
from modelop_spark.assets.commit import replace_target
from modelop_spark.assets.filesystem import LocalFileSystem
from modelop_spark.assets.s3 import location_of, resolve_settings
from modelop_spark.assets.s3_settings import explain_s3_error
from modelop_spark.assets.s3_source import make_filesystem
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.assets.staging import STAGING_FOLDER, safe_job_id
from modelop_spark.cache import cache_folder
from modelop_spark.errors import SnapshotError
from modelop_spark.runtime.lineage import Lineage
from modelop_spark.runtime.snapshot_files import MANIFEST_FILE, folder_digest, sha256_file

__all__ = [
    "MANIFEST_FILE",
    "SnapshotDraft",
    "WrittenSnapshot",
    "bump_version",
    "checksums",
    "new_manifest",
    "read_target_manifest",
    "start_snapshot",
    "write_snapshot",
]

IfExists = Literal["replace_own", "replace", "error"]
_SKIPPED = ("__pycache__", ".ipynb_checkpoints", ".DS_Store")
_ARCHIVES = vocabulary.SNAPSHOT_ARCHIVES


def bump_version(version: str | None) -> str:
    """The next version: the last number in ``version`` plus one (``1.0.0`` -> ``1.0.1``,
    ``v2`` -> ``v3``, ``2024.1-rc1`` -> ``2024.1-rc2``); ``None`` -> ``1``; no number -> ``<v>.1``."""
    if version is None or not str(version).strip():
        return "1"
    version = str(version).strip()
    numbers = list(re.finditer(r"\d+", version))
    if not numbers:
        return f"{version}.1"
    last = numbers[-1]
    bumped = str(int(last.group()) + 1).zfill(len(last.group()))
    return version[: last.start()] + bumped + version[last.end() :]


_S3_SCHEMES = ("s3", "s3a", "s3n")


def _is_s3(target: str) -> bool:
    return urlparse(target).scheme.lower() in _S3_SCHEMES


def _local(target: str) -> Path:
    parsed = urlparse(target)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:
        raise SnapshotError(
            f"snapshot output {target}: scheme {parsed.scheme}:// is not written here; use a local path, "
            "file:// or an s3:// archive (.tar.gz/.zip)"
        )
    return Path(target).expanduser().absolute()


def _s3(target: str) -> tuple[Any, str]:
    """pyarrow's S3 filesystem for ``target`` and the object path (bucket/key)."""

    asset = AssetSpec(kind="file", name="snapshot output", url=target)
    return make_filesystem(resolve_settings(asset)), location_of(asset).path


def _s3_failure(target: str, action: str, exc: BaseException) -> SnapshotError:
    return SnapshotError(f"snapshot output {target}: cannot {action}: {explain_s3_error(exc)}")


def _archive_kind(path: Path) -> str | None:
    name = path.name.lower()
    return next((suffix for suffix in _ARCHIVES if name.endswith(suffix)), None)


def _stem(target: str) -> str:
    name = Path(urlparse(target).path.rstrip("/")).name
    kind = _archive_kind(Path(name))
    return name[: -len(kind)] if kind else name


def _files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part in _SKIPPED for part in p.relative_to(folder).parts)
    )


def checksums(folder: Path) -> list[dict[str, str]]:
    """``[{"path", "sha256"}]`` for every file under ``folder`` except the manifest, sorted."""
    return [
        {"path": p.relative_to(folder).as_posix(), "sha256": sha256_file(p)}
        for p in _files(folder)
        if p.relative_to(folder).as_posix() != MANIFEST_FILE
    ]


def new_manifest(
    parent: Mapping[str, Any],
    folder: Path,
    *,
    version: str,
    lineage: Lineage | None = None,
    name: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The new snapshot's manifest: the parent's (name, tags, source, functions, shapes, schemas)
    with the new version, a checksum for every file now in ``folder``, and the lineage."""
    manifest = {k: v for k, v in dict(parent).items() if k not in ("assets", "lineage", "version")}
    manifest["name"] = name or manifest.get("name") or folder.name
    manifest["version"] = version
    if description is not None:
        manifest["description"] = description
    manifest["assets"] = checksums(folder)
    if lineage is not None:
        manifest["lineage"] = lineage.to_dict()
    return manifest


def read_target_manifest(target: str) -> dict[str, Any] | None:
    """The manifest of the snapshot already at ``target`` (folder or archive), None if none."""
    if _is_s3(target):
        return _remote_manifest(target)
    path = _local(target)
    try:
        if path.is_dir():
            manifest = path / MANIFEST_FILE
            return json.loads(manifest.read_text()) if manifest.is_file() else {}
        if path.is_file():
            return _manifest_in_archive(path)
    except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile):
        return {}  # something unreadable is there: treat it as not ours
    return None


def _remote_manifest(target: str) -> dict[str, Any] | None:
    import pyarrow.fs as pa_fs

    fs, path = _s3(target)
    try:
        if fs.get_file_info(path).type != pa_fs.FileType.File:
            return None
        with fs.open_input_file(path) as handle:
            data = handle.read()
    except OSError as exc:
        raise _s3_failure(target, "check what is there", exc) from None
    try:
        return _manifest_in_archive(io.BytesIO(data), zip_format=_archive_kind(Path(path)) == ".zip")
    except (ValueError, tarfile.TarError, zipfile.BadZipFile):
        return {}


def _manifest_in_archive(path: Path | io.BytesIO, *, zip_format: bool | None = None) -> dict[str, Any]:
    names = (MANIFEST_FILE, f"./{MANIFEST_FILE}")
    if zip_format is None:
        zip_format = _archive_kind(path) == ".zip"  # type: ignore[arg-type]
    if zip_format:
        with zipfile.ZipFile(path) as bundle:
            for name in bundle.namelist():
                if name in names:
                    return json.loads(bundle.read(name))
        return {}
    with (tarfile.open(fileobj=path) if isinstance(path, io.BytesIO) else tarfile.open(path)) as bundle:
        for member in bundle.getmembers():
            if member.name in names and member.isfile():
                handle = bundle.extractfile(member)
                return json.loads(handle.read()) if handle else {}
    return {}


def _check_existing(target: str, *, job_id: str, if_exists: IfExists) -> None:
    existing = read_target_manifest(target)
    if existing is None or if_exists == "replace":
        return
    if if_exists == "error":
        raise SnapshotError(f"snapshot output {target} already exists and if_exists is 'error': remove it or choose another location")
    owner = (existing.get("lineage") or {}).get("training_job_id")
    if owner != job_id:
        who = f"training job {owner!r}" if owner else "something other than a training job"
        raise SnapshotError(
            f"snapshot output {target} already holds {existing.get('name', '?')} version "
            f"{existing.get('version', '?')}, written by {who}; a snapshot version is not overwritten "
            f"by another job (this is {job_id!r}): give a new version or output location"
        )


@dataclass(frozen=True)
class WrittenSnapshot:
    """What a committed snapshot is: where, which name and version, its content digest."""

    location: str
    name: str
    version: str
    digest: str  # the loader's ``Snapshot.digest`` of this content
    files: int
    archive: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SnapshotDraft:
    """A snapshot being written: ``folder`` is the working folder; nothing is visible at
    ``target`` until :meth:`commit`."""

    target: str
    job_id: str
    folder: Path
    parent_manifest: Mapping[str, Any] = field(default_factory=dict)
    if_exists: IfExists = "replace_own"

    def commit(
        self, *, version: str, lineage: Lineage | None = None, name: str | None = None, description: str | None = None
    ) -> WrittenSnapshot:
        for cache in [p for p in self.folder.rglob("__pycache__") if p.is_dir()]:
            shutil.rmtree(cache, ignore_errors=True)  # bytecode of the imported source: not content
        name = name or self.parent_manifest.get("name") or _stem(self.target)
        manifest = new_manifest(self.parent_manifest, self.folder, version=version, lineage=lineage, name=name, description=description)
        (self.folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
        digest = folder_digest(self.folder)  # the same identity the loader computes
        _check_existing(self.target, job_id=self.job_id, if_exists=self.if_exists)  # again: it may have appeared meanwhile
        if _is_s3(self.target):
            _upload_archive(self.folder, self.target)
            shutil.rmtree(self.folder, ignore_errors=True)
            location, archive = self.target, True
        else:
            path = _local(self.target)
            archive = _archive_kind(path) is not None
            if archive:
                _commit_archive(self.folder, path, self.job_id)
                shutil.rmtree(self.folder, ignore_errors=True)
            else:
                replace_target(LocalFileSystem(), str(self.folder), str(path))
            location = str(path)
        _drop_empty(self.folder.parent)
        return WrittenSnapshot(
            location=location, name=manifest["name"], version=version, digest=digest, files=len(manifest["assets"]) + 1, archive=archive
        )

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        _drop_empty(self.folder.parent)


def _drop_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty: another job may be staging beside us


def _staging(target: str, job_id: str) -> Path:
    if _is_s3(target):
        # The draft of a remote snapshot is local, in one place per target and job.
        key = hashlib.sha256(target.encode()).hexdigest()[:16]
        return cache_folder("training") / STAGING_FOLDER / f"{key}.{safe_job_id(job_id)}"
    path = _local(target)
    return path.parent / STAGING_FOLDER / f"{path.name}.{safe_job_id(job_id)}"


def start_snapshot(
    target: str,
    *,
    job_id: str,
    parent_root: Path | None = None,
    parent_manifest: Mapping[str, Any] | None = None,
    if_exists: IfExists = "replace_own",
) -> SnapshotDraft:
    """Open a draft for ``target`` (a folder path, or a path ending ``.tar.gz``/``.tgz``/``.zip``),
    holding a copy of ``parent_root`` without its manifest. Fails before any work when ``target``
    belongs to another job (see the module notes)."""
    if _is_s3(target) and not _archive_kind(Path(urlparse(target).path)):
        raise SnapshotError(
            f"snapshot output {target}: on S3 a snapshot is written as one archive; end the URL with .tar.gz or .zip"
        )
    _check_existing(target, job_id=job_id, if_exists=if_exists)
    # Folder targets stage beside the target (same filesystem: the commit is a rename); archive
    # targets stage there too, so a crash leaves debris in one known, hidden place.
    folder = _staging(target, job_id)
    shutil.rmtree(folder, ignore_errors=True)  # a killed attempt of this same job
    folder.parent.mkdir(parents=True, exist_ok=True)
    if parent_root is not None:
        shutil.copytree(
            parent_root, folder, ignore=shutil.ignore_patterns(MANIFEST_FILE, *_SKIPPED, STAGING_FOLDER)
        )
    else:
        folder.mkdir()
    return SnapshotDraft(
        target=target, job_id=job_id, folder=folder, parent_manifest=dict(parent_manifest or {}), if_exists=if_exists
    )


def _commit_archive(folder: Path, path: Path, job_id: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / STAGING_FOLDER / f"{path.name}.{safe_job_id(job_id)}.partial"
    partial.write_bytes(pack(folder, zip_format=_archive_kind(path) == ".zip"))
    os.replace(partial, path)  # atomic on one filesystem, over an existing file too


def _upload_archive(folder: Path, target: str) -> None:
    fs, path = _s3(target)
    data = pack(folder, zip_format=_archive_kind(Path(path)) == ".zip")
    try:
        # compression=None: pyarrow would otherwise gzip a ".gz" name a second time.
        with fs.open_output_stream(path, compression=None) as sink:  # visible only once complete
            sink.write(data)
    except OSError as exc:
        raise _s3_failure(target, "upload the snapshot", exc) from None


def pack(folder: Path, *, zip_format: bool = False) -> bytes:
    """``folder`` as ``.tar.gz`` (or ``.zip``) bytes, entries relative to it, in a stable order."""
    buffer = io.BytesIO()
    if zip_format:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for path in _files(folder):
                bundle.write(path, path.relative_to(folder).as_posix())
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
            for path in _files(folder):
                bundle.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return buffer.getvalue()


def write_snapshot(
    source_folder: Path,
    target: str,
    *,
    job_id: str,
    version: str,
    parent_manifest: Mapping[str, Any] | None = None,
    lineage: Lineage | None = None,
    if_exists: IfExists = "replace_own",
) -> WrittenSnapshot:
    """Write the files of ``source_folder`` as a snapshot at ``target`` in one step (the
    start/commit life cycle for callers that already have the files). The parent manifest
    defaults to ``source_folder``'s own ``snapshot.json``."""
    if parent_manifest is None and (source_folder / MANIFEST_FILE).is_file():
        parent_manifest = json.loads((source_folder / MANIFEST_FILE).read_text())
    draft = start_snapshot(
        target, job_id=job_id, parent_root=source_folder, parent_manifest=parent_manifest, if_exists=if_exists
    )
    try:
        return draft.commit(version=version, lineage=lineage)
    except BaseException:
        draft.discard()
        raise
