"""Safe extraction of snapshot archives: no entry may land outside the target folder."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from modelop_spark.errors import SnapshotError

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _check_member(name: str, target: Path, archive: Path) -> None:
    destination = (target / name).resolve()
    if not destination.is_relative_to(target.resolve()):
        raise SnapshotError(
            f"snapshot archive {archive.name}: entry {name!r} would be written outside the "
            "extraction folder; the archive is refused (rebuild it with relative paths)"
        )


def extract_archive(archive: Path, target: Path) -> None:
    """Extract ``archive`` into ``target``, refusing entries that escape it or are links."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                for name in bundle.namelist():
                    _check_member(name, target, archive)
                bundle.extractall(target)
        else:
            with tarfile.open(archive) as bundle:
                for member in bundle.getmembers():
                    _check_member(member.name, target, archive)
                    if member.issym() or member.islnk():
                        raise SnapshotError(
                            f"snapshot archive {archive.name}: entry {member.name!r} is a link; "
                            "links are refused in snapshots (store the file itself)"
                        )
                bundle.extractall(target, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise SnapshotError(f"snapshot archive {archive} is not a readable archive: {exc}") from exc


def pack_folder(folder: Path) -> bytes:
    """The folder as gzip'd tar bytes, entries relative to the folder, in a stable order."""
    import io

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as bundle:
        for path in sorted(folder.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            bundle.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()
