"""Staged output and the one commit that makes it visible.

Tasks write part files under a staging folder beside the target (``<parent>/.modelop-staging/
<target name>.<job id>/``, the layout ``commit.py`` uses for Hadoop filesystems): nothing appears
at the target while a job runs, and a failed or killed job leaves only the staging folder, which
readers skip (``.``-prefixed) and the next attempt clears. Spark's write ends by recording the
files its successful tasks staged (``_staged.json``, so a failed attempt's leftovers are never
published); the commit then, on the driver:

* ``overwrite`` (and ``error``, whose target was checked to be empty): removes what the target
  held, then moves the new parts in;
* ``append``: removes only the parts this job id wrote before (a rerun replaces them), then moves
  the new parts in, so a retried job never adds a second copy;

and writes ``_modelop_commit.json`` (job id, files, rows) last. Object stores have no atomic
rename: the visible window is the moves themselves, never a task's partial file.

The plan is pure (``plan_commit``); ``commit_staged`` carries it out on any pyarrow filesystem.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow.fs as pa_fs

from modelop_spark.assets.arrow_io import WrittenFile

STAGING_FOLDER = ".modelop-staging"
MARKER = "_modelop_commit.json"
STAGED_LIST = "_staged.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def safe_job_id(job_id: str) -> str:
    """A job id usable in a file name (ids may hold ``/`` or spaces)."""
    cleaned = _UNSAFE.sub("_", job_id.strip()) or "job"
    return cleaned[:64]


def staging_dir(target: str, job_id: str) -> str:
    parent, name = posixpath.split(target.rstrip("/"))
    return posixpath.join(parent, STAGING_FOLDER, f"{name or 'root'}.{safe_job_id(job_id)}")


def part_name(job_id: str, index: int, extension: str) -> str:
    return f"part-{safe_job_id(job_id)}-{index:05d}{extension}"


@dataclass(frozen=True)
class CommitPlan:
    delete: tuple[str, ...]
    moves: tuple[tuple[str, str], ...]
    marker: str


def plan_commit(
    *,
    existing: Sequence[str],
    staged: Sequence[str],
    target: str,
    job_id: str,
    mode: str,
    extension: str,
) -> CommitPlan:
    """What to delete and what to move so the target holds this job's output exactly once."""
    target = target.rstrip("/")
    own_prefix = f"part-{safe_job_id(job_id)}-"
    if mode == "append":
        delete = [p for p in existing if posixpath.basename(p).startswith(own_prefix)]
    else:
        delete = list(existing)
    moves = [
        (src, posixpath.join(target, part_name(job_id, index, extension)))
        for index, src in enumerate(sorted(staged))
    ]
    new = {dst for _, dst in moves}
    # A rerun's part names equal the old ones: the move overwrites them, no delete needed.
    delete = [p for p in delete if p not in new]
    return CommitPlan(delete=tuple(sorted(delete)), moves=tuple(moves), marker=posixpath.join(target, MARKER))


def existing_files(fs: pa_fs.FileSystem, target: str) -> list[str]:
    selector = pa_fs.FileSelector(target.rstrip("/"), recursive=True, allow_not_found=True)
    return [f.path for f in fs.get_file_info(selector) if f.type == pa_fs.FileType.File]


def target_has_data(fs: pa_fs.FileSystem, target: str) -> bool:
    info = fs.get_file_info(target.rstrip("/"))
    if info.type == pa_fs.FileType.File:
        return True
    return any(posixpath.basename(p) != MARKER for p in existing_files(fs, target))


def commit_staged(
    fs: pa_fs.FileSystem,
    written: Sequence[WrittenFile],
    *,
    target: str,
    job_id: str,
    mode: str,
    extension: str,
) -> dict[str, object]:
    """Make the staged files visible at ``target`` once; returns what the marker records."""
    plan = plan_commit(
        existing=existing_files(fs, target),
        staged=[w.path for w in written],
        target=target,
        job_id=job_id,
        mode=mode,
        extension=extension,
    )
    for path in plan.delete:
        fs.delete_file(path)
    fs.create_dir(target.rstrip("/"), recursive=True)
    for src, dst in plan.moves:
        fs.move(src, dst)
    rows = {w.path: w.rows for w in written}
    summary: dict[str, object] = {
        "job_id": job_id,
        "mode": mode,
        "files": [posixpath.basename(dst) for _, dst in plan.moves],
        "rows": sum(rows.values()),
    }
    with fs.open_output_stream(plan.marker) as sink:
        sink.write(json.dumps(summary).encode())
    discard_staging(fs, target, job_id)
    return summary


def record_staged(fs: pa_fs.FileSystem, target: str, job_id: str, written: Sequence[WrittenFile]) -> None:
    """Spark's write succeeded: note which staged files are the output (driver side)."""
    listing = [{"path": w.path, "rows": w.rows, "size": w.size, "partition_values": dict(w.partition_values)} for w in written]
    folder = staging_dir(target, job_id)
    fs.create_dir(folder, recursive=True)
    with fs.open_output_stream(posixpath.join(folder, STAGED_LIST)) as sink:
        sink.write(json.dumps(listing).encode())


def staged_files(fs: pa_fs.FileSystem, target: str, job_id: str) -> list[WrittenFile]:
    """What ``record_staged`` noted; an empty list when the job wrote no rows."""
    with fs.open_input_stream(posixpath.join(staging_dir(target, job_id), STAGED_LIST)) as stream:
        return [WrittenFile(**entry) for entry in json.loads(stream.read())]


def commit_single_file(fs: pa_fs.FileSystem, written: Sequence[WrittenFile], *, target: str, job_id: str) -> dict[str, object]:
    """Move the one staged file to the file path ``target`` (replacing the previous copy)."""
    if len(written) > 1:
        raise ValueError(f"expected one staged file for single-file output {target}, found {len(written)}")
    if written:
        fs.move(written[0].path, target)
    discard_staging(fs, target, job_id)
    return {"job_id": job_id, "mode": "overwrite", "files": [posixpath.basename(target)], "rows": sum(w.rows for w in written)}


def discard_staging(fs: pa_fs.FileSystem, target: str, job_id: str) -> None:
    """Remove this job's staging folder for ``target`` (after a commit, or to clean a failure)."""
    folder = staging_dir(target, job_id)
    for path in (folder, posixpath.dirname(folder)):
        try:
            if path != folder and fs.get_file_info(pa_fs.FileSelector(path, recursive=True, allow_not_found=True)):
                return  # another output or another job still stages here
            fs.delete_dir(path)
        except (FileNotFoundError, OSError):
            pass  # nothing staged, or the store already dropped an empty prefix


def read_marker(fs: pa_fs.FileSystem, target: str) -> dict[str, object] | None:
    try:
        with fs.open_input_stream(posixpath.join(target.rstrip("/"), MARKER)) as stream:
            return json.loads(stream.read())
    except (FileNotFoundError, OSError, ValueError):
        return None
