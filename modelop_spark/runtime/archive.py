"""Safe extraction of snapshot archives: no entry may land outside the target folder, and no
archive may expand past the limits (total size, file count, compression ratio).

The limits come from the environment (``MODELOP_SPARK_MAX_EXTRACT_BYTES``, default 4 GiB;
``MODELOP_SPARK_MAX_EXTRACT_FILES``, default 20000; ``MODELOP_SPARK_MAX_EXTRACT_RATIO``, default
200, checked once the content passes 16 MiB) and are checked from the archive's index before a
byte is written. Declared sizes cannot lie: zipfile stops at a member's declared size and
checks its CRC; a tar member's size is its stored length.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modelop_spark import vocabulary
from modelop_spark.errors import SnapshotError

ARCHIVE_SUFFIXES = vocabulary.ARCHIVE_SUFFIXES


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _check_member(name: str, target: Path, archive: Path) -> None:
    destination = (target / name).resolve()
    if not destination.is_relative_to(target.resolve()):
        raise SnapshotError(
            f"snapshot archive {archive.name}: entry {name!r} would be written outside the "
            "extraction folder; the archive is refused (rebuild it with relative paths)"
        )


@dataclass(frozen=True)
class ExtractLimits:
    max_bytes: int = 4 << 30
    max_files: int = 20_000
    max_ratio: float = 200.0
    ratio_floor: int = 16 << 20  # below this much content, any ratio is harmless

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ExtractLimits:
        defaults = cls()
        return cls(
            max_bytes=int(environ.get("MODELOP_SPARK_MAX_EXTRACT_BYTES", defaults.max_bytes)),
            max_files=int(environ.get("MODELOP_SPARK_MAX_EXTRACT_FILES", defaults.max_files)),
            max_ratio=float(environ.get("MODELOP_SPARK_MAX_EXTRACT_RATIO", defaults.max_ratio)),
        )

    def check(self, archive: Path, *, files: int, total: int) -> None:
        """Refuse an archive whose index says it would expand past the limits."""
        packed = max(archive.stat().st_size, 1)
        problem = None
        if files > self.max_files:
            problem = f"{files} entries (limit {self.max_files}, MODELOP_SPARK_MAX_EXTRACT_FILES)"
        elif total > self.max_bytes:
            problem = f"{total} bytes once extracted (limit {self.max_bytes}, MODELOP_SPARK_MAX_EXTRACT_BYTES)"
        elif total > self.ratio_floor and total / packed > self.max_ratio:
            problem = (f"a compression ratio of {total / packed:.0f} ({packed} bytes expand to {total}; limit "
                       f"{self.max_ratio:g}, MODELOP_SPARK_MAX_EXTRACT_RATIO)")  # fmt: skip
        if problem:
            raise SnapshotError(
                f"snapshot archive {archive.name}: refused, it holds {problem}; a snapshot this large "
                "is likely an archive bomb (raise the limit if it is genuine)"
            )


def extract_archive(archive: Path, target: Path, *, limits: ExtractLimits | None = None) -> None:
    """Extract ``archive`` into ``target``, refusing entries that escape it or are links, and
    archives that would expand past ``limits`` (default: from the environment)."""
    limits = limits or ExtractLimits.from_env()
    target.mkdir(parents=True, exist_ok=True)
    try:
        if vocabulary.is_zip(archive.name):
            with zipfile.ZipFile(archive) as bundle:
                entries = bundle.infolist()
                limits.check(archive, files=len(entries), total=sum(e.file_size for e in entries))
                for name in bundle.namelist():
                    _check_member(name, target, archive)
                bundle.extractall(target)
        else:
            with tarfile.open(archive) as bundle:
                members = bundle.getmembers()
                limits.check(archive, files=len(members), total=sum(m.size for m in members if m.isfile()))
                for member in members:
                    _check_member(member.name, target, archive)
                    if member.issym() or member.islnk():
                        raise SnapshotError(
                            f"snapshot archive {archive.name}: entry {member.name!r} is a link; "
                            "links are refused in snapshots (store the file itself)"
                        )
                bundle.extractall(target, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise SnapshotError(f"snapshot archive {archive} is not a readable archive: {exc}") from exc


def pack_folder(folder: Path, *, extra: dict[str, Path] | None = None) -> bytes:
    """The folder as gzip'd tar bytes, entries relative to the folder, in a stable order;
    ``extra`` adds files from elsewhere under the given archive paths (a snapshot's test data)."""
    import io

    buffer = io.BytesIO()
    root = folder.resolve()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                # Workers would refuse it while unpacking, as a stack per task: say it here, once.
                raise SnapshotError(
                    f"snapshot folder {folder}: {path.relative_to(folder)} is a link to {path.resolve()}, outside "
                    "the snapshot; copy that file into the snapshot instead"
                )
            if "__pycache__" in path.parts or not path.is_file():
                continue
            bundle.add(path, arcname=str(path.relative_to(folder)), recursive=False)
        for arcname, path in sorted((extra or {}).items()):
            bundle.add(path, arcname=arcname, recursive=False)
    return buffer.getvalue()
