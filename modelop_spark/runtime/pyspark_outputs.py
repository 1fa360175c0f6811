"""Outputs a PySpark-convention model writes itself: staged while it runs, committed once after.

A ModelOp PySpark model writes to ``external_outputs[i]["fileUrl"]`` with the active session,
often in Spark's default error-if-exists mode (``model.save(path)``, ``df.write.parquet(path)``).
Written straight to the job's locations, a rerun would fail and a model that raises half-way
would leave half an output. So the model is handed a staging location instead, with the same
file name and format (``<parent>/.modelop-staging/<name>.<job id>/<name>``), emptied first. When
the function returns, what it wrote there replaces the job's location with the commit every
other output goes through; when it raises, the staging folder is removed and the targets are
left as they were.

Locations the commit can rename on (local paths, ``file://``, ``hdfs://`` and bare paths in an
HDFS repository, other Hadoop file systems of a classic session) are staged. Anything else
(embedded, SQL, ``s3://`` without Hadoop's S3A connector) is handed over unchanged, and the model
writes it in place, as under ModelOp.

This is the one module here that uses the staging and commit functions of ``assets.commit``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from modelop_spark._redact import redacted_logger
from modelop_spark.assets.commit import (
    check_mode,
    commit_directory,
    replace_target,
    split_parent,
    staging_path,
)
from modelop_spark.assets.filesystem import FileSystem, absolute_url, filesystem_for, is_local
from modelop_spark.assets.hdfs import hdfs_url, is_hdfs_repository

__all__ = ["ModelOutput", "StagedModelOutputs"]

log = redacted_logger(__name__)


@dataclass(frozen=True)
class ModelOutput:
    """One of the job's outputs after the model ran. ``target`` is the resolved location (None
    for an output the model wrote in place); ``written`` says whether the model wrote it."""

    asset: Mapping[str, Any]
    target: str | None
    written: bool
    files: tuple[str, ...] = ()  # the data files of a folder output, as committed


@dataclass
class _Staged:
    asset: dict[str, Any]
    target: str  # where the commit puts it (resolved: absolute or hdfs://)
    staged: str  # what the commit moves: <staging folder>/<name>, resolved like target
    handed: str  # the staged location as the model sees it (same form as the job's fileUrl)
    mode: str
    fs: FileSystem

    @property
    def folder(self) -> str:
        return split_parent(self.staged)[0]


def _resolved(url: str, asset: Mapping[str, Any]) -> str:
    """A location our file systems understand: absolute local paths, full hdfs:// URLs."""
    repository = asset.get("repositoryInfo") or {}
    if not urlparse(url).scheme and is_hdfs_repository(repository):
        return hdfs_url(url, repository, where=f"output {asset.get('filename') or url}")
    return absolute_url(url) if is_local(url) else url


def _handed(url: str, staged: str) -> str:
    """The staged location as the model sees it: resolved (the JVM would resolve a relative path
    from its own start directory), with ``file://`` kept when the job wrote it so."""
    return f"file://{staged}" if urlparse(url).scheme == "file" else staged


class StagedModelOutputs:
    """The job's output asset dicts with staged locations, then one commit (or discard)."""

    def __init__(self, spark: Any, assets: Sequence[Mapping[str, Any]], *, modes: Sequence[str], job_id: str) -> None:
        self.job_id = job_id
        self._entries: list[_Staged | dict[str, Any]] = []
        try:
            for asset, mode in zip(assets, modes, strict=True):
                self._entries.append(self._stage(spark, dict(asset), mode))
        except BaseException:
            self.discard()  # an output refused (mode error): nothing staged stays behind
            raise

    def _stage(self, spark: Any, asset: dict[str, Any], mode: str) -> _Staged | dict[str, Any]:
        url = asset.get("fileUrl")
        if not url or str(asset.get("assetType", "EXTERNAL_FILE")).upper() != "EXTERNAL_FILE":
            return asset
        label = asset.get("filename") or url
        target = _resolved(str(url), asset)
        try:
            fs = filesystem_for(target, spark)
            fs.exists(target)  # a scheme this session has no file system for fails here
        except Exception as exc:
            log.info("output %s: %s cannot be staged here (%s); the model writes it in place", label, url,
                     str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return asset
        check_mode(fs, target, mode, label=label)  # refused before the model runs
        name = split_parent(target)[1]
        folder = staging_path(target, self.job_id)
        fs.delete(folder)  # what a killed earlier attempt of this job left
        fs.mkdirs(folder)  # a model writing one file with plain Python needs the folder to exist
        staged = f"{folder}/{name}"
        return _Staged(asset=asset, target=target, staged=staged, handed=_handed(str(url), staged), mode=mode, fs=fs)

    def for_model(self) -> list[dict[str, Any]]:
        """What the model gets as ``external_outputs``: the job's dicts, staged ``fileUrl``s."""
        return [
            {**entry.asset, "fileUrl": entry.handed} if isinstance(entry, _Staged) else dict(entry)
            for entry in self._entries
        ]

    def commit(self) -> list[ModelOutput]:
        """Move what the model wrote into the job's locations; list every output."""
        done = []
        try:
            for entry in self._entries:
                if isinstance(entry, _Staged):
                    done.append(self._commit_one(entry))
                else:
                    done.append(ModelOutput(asset=entry, target=None, written=True))
        finally:
            self.discard()  # the staging folders, emptied by the commit or not
        return done

    def _commit_one(self, entry: _Staged) -> ModelOutput:
        fs, label = entry.fs, entry.asset.get("filename") or entry.target
        if not fs.exists(entry.staged):
            log.warning("output %s: the model wrote nothing to %s; %s is left as it was",
                        label, entry.asset.get("fileUrl"), entry.target)
            return ModelOutput(asset=entry.asset, target=entry.target, written=False)
        files: tuple[str, ...] = ()
        if fs.is_dir(entry.staged):
            commit_directory(fs, entry.staged, entry.target, mode=entry.mode, job_id=self.job_id)
            names = (split_parent(p)[1] for p in fs.list(entry.target))
            files = tuple(n for n in names if not n.startswith(("_", ".")))
        else:
            replace_target(fs, entry.staged, entry.target)
        log.info("output %s: committed what the model wrote to %s", label, entry.target)
        return ModelOutput(asset=entry.asset, target=entry.target, written=True, files=files)

    def discard(self) -> None:
        """Remove every staging folder: after the commit, or when the model failed (then the
        targets stay as they were)."""
        for entry in self._entries:
            if isinstance(entry, _Staged):
                self._clean(entry)

    @staticmethod
    def _clean(entry: _Staged) -> None:
        entry.fs.delete(entry.folder)
        parent = split_parent(entry.folder)[0]
        with contextlib.suppress(OSError):  # another job may be staging beside us right now
            if entry.fs.exists(parent) and not entry.fs.list(parent):
                entry.fs.delete(parent)
