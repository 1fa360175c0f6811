"""Staged output, committed once: what a failed job leaves behind is never visible at the target.

Spark writes into a hidden staging folder beside the target (``.modelop-staging/``; Spark and
Hive readers skip dot-folders); only when that write has succeeded is the staging folder renamed
into place. Modes:
- ``overwrite``: the target is replaced as a whole (the previous copy is kept aside until the
  new one is in place, and restored if that rename fails);
- ``append``: the job's files join the target under a ``part-<job>-`` prefix; a rerun of the same
  job first removes its own earlier files, so it never adds a second copy;
- ``error``: fail, before writing anything, when the target exists.
"""

from __future__ import annotations

from modelop_spark.assets.filesystem import FileSystem
from modelop_spark.assets.staging import STAGING_FOLDER, safe_job_id
from modelop_spark.errors import AssetError


def split_parent(url: str) -> tuple[str, str]:
    stripped = url.rstrip("/")
    parent, _, name = stripped.rpartition("/")
    return (parent or "."), name


def staging_path(url: str, job_id: str) -> str:
    parent, name = split_parent(url)
    return f"{parent}/{STAGING_FOLDER}/{name}.{safe_job_id(job_id)}"


def _data_files(fs: FileSystem, folder: str) -> list[str]:
    return [p for p in fs.list(folder) if not split_parent(p)[1].startswith(("_", "."))]


def check_mode(fs: FileSystem, url: str, mode: str, *, label: str) -> None:
    """Refuse ``error`` mode early, before any Spark job runs."""
    if mode == "error" and fs.exists(url):
        raise AssetError(f"output {label}: {url} already exists and mode is 'error'; remove it or use mode overwrite/append")


def commit_directory(fs: FileSystem, staging: str, url: str, *, mode: str, job_id: str) -> None:
    """Move a fully written staging folder to ``url``."""
    check_mode(fs, url, mode, label=url)
    if mode == "append" and fs.exists(url):
        prefix = f"part-{safe_job_id(job_id)}-"
        for old in fs.list(url):
            if split_parent(old)[1].startswith(prefix):
                fs.delete(old)
        for path in _data_files(fs, staging):
            fs.rename(path, f"{url.rstrip('/')}/{prefix}{split_parent(path)[1]}")
        fs.delete(staging)
        return
    if mode == "append":
        prefix = f"part-{safe_job_id(job_id)}-"
        for path in _data_files(fs, staging):
            fs.rename(path, f"{staging}/{prefix}{split_parent(path)[1]}")
    replace_target(fs, staging, url)


def commit_single_file(fs: FileSystem, staging: str, url: str, *, mode: str) -> None:
    """Move the one data file Spark wrote into ``staging`` to the file path ``url``."""
    check_mode(fs, url, mode, label=url)
    files = _data_files(fs, staging)
    if len(files) != 1:
        raise AssetError(f"output {url}: expected one data file in staging, found {len(files)}")
    replace_target(fs, files[0], url)
    fs.delete(staging)


def replace_target(fs: FileSystem, source: str, url: str) -> None:
    """Rename ``source`` to ``url``; an existing ``url`` is moved aside first and restored if
    the rename fails, so the target is never left half-replaced."""
    if not fs.exists(url):
        parent, _ = split_parent(url)
        fs.mkdirs(parent)
        fs.rename(source, url)
        return
    previous = f"{source}.previous"
    fs.delete(previous)  # left by a killed attempt of the same job
    fs.rename(url, previous)
    try:
        fs.rename(source, url)
    except Exception:
        fs.rename(previous, url)
        raise
    fs.delete(previous)
