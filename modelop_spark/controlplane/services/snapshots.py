"""Snapshots: a model's versions, as a stored archive (uploaded) or a location the runtimes
read; a training job's new version; one file of an archive (a life cycle's test data).

Every new snapshot is told to the ``listeners`` (a model life cycle starts for it); a listener
that fails is logged and the snapshot stands.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from modelop_spark._redact import redacted_logger
from modelop_spark.controlplane import resources
from modelop_spark.controlplane.archives import archive_member, read_manifest
from modelop_spark.controlplane.blobs import BlobRef
from modelop_spark.controlplane.matching import SPARK_RUNTIME_TYPE
from modelop_spark.controlplane.services.context import Context
from modelop_spark.controlplane.services.idempotency import Idempotent, create_once
from modelop_spark.controlplane.states import JobStatus
from modelop_spark.controlplane.store import NotFound
from modelop_spark.errors import ControlPlaneError, ModelOpSparkError, SpecError

log = redacted_logger("modelop_spark.controlplane")

SnapshotListener = Callable[[dict[str, Any]], None]
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Snapshots:
    def __init__(self, context: Context) -> None:
        self.store = context.store
        self.blobs = context.blobs
        self.listeners: list[SnapshotListener] = []

    def add(self, *, key: Idempotent | None = None, **request: Any) -> dict[str, Any]:
        """A new snapshot (``_add``'s arguments); once per idempotency ``key``: a retry gets the
        snapshot its first request made, and the life cycles are told of it once."""
        return create_once(self.store, key, create=lambda once: self._add(key=once, **request), existing=self.get)

    def _add(
        self, *, key: Idempotent | None, model: str, archive: BlobRef | None, archive_name: str | None, version: str | None, description: str | None,
        service_tags: list[str], runtimes: list[str], location: str | None = None,
        test_data: str | None = None, parent_id: str | None = None, trained_by_job: str | None = None,
    ) -> dict[str, Any]:
        model_row = self.store.find_model(model)
        manifest = {}
        if archive:
            with self.blobs.local_copy(archive.sha256) as local:
                manifest = read_manifest(local, archive_name or "")
        version = version or manifest.get("version") or str(len(self.store.list_snapshots(model_row["id"])) + 1)
        tags = service_tags or list(manifest.get("tags") or ())
        if not tags and not runtimes:
            raise SpecError("service tags: a snapshot needs at least one service tag (--service-tag cc-fraud) so runtimes can be matched to it")
        if archive is None and not location:
            raise SpecError("snapshot: give the archive (a folder, .zip or .tar.gz) or its location")
        test_data_ref = _test_data_ref(test_data or manifest.get("test_data"), has_archive=archive is not None)
        row = self.store.create_snapshot(
            key=key, model_id=model_row["id"], version=str(version), description=description or manifest.get("description") or "",
            service_tags=tags, runtime_type=SPARK_RUNTIME_TYPE, runtimes=runtimes,
            archive_name=archive_name, archive_sha256=archive.sha256 if archive else None, archive_size=archive.size if archive else None,
            location=location, manifest=manifest, created_at=time.time(),
            stage=None, test_data=test_data_ref, parent_id=parent_id, trained_by_job=trained_by_job,
        )
        created = resources.snapshot(row, model_name=model_row["name"])
        self._tell_listeners(created)
        return created

    def _tell_listeners(self, created: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(created)
            except ModelOpSparkError as exc:  # a life cycle that cannot start must not refuse the snapshot
                log.error("snapshot %s: %s", created["id"], exc.message)

    def add_trained(self, job_id: str, runtime_id: str, archive: BlobRef, archive_name: str) -> dict[str, Any]:
        """A training job's new snapshot, sent by the runtime that holds the job: a new snapshot of
        the job's model, with the parent's service tags. Sent again (its answer was lost), the
        same archive for the same attempt is that snapshot, not a second one."""
        job = self.store.get_job(job_id)
        if job["lease_owner"] != runtime_id or job["status"] != JobStatus.RUNNING or not job["snapshot_id"]:
            raise ControlPlaneError(f"job {job_id} is not a running training job of runtime {runtime_id}; snapshot not registered")
        parent = self.store.get_snapshot(job["snapshot_id"])
        with self.blobs.local_copy(archive.sha256) as local:
            manifest = read_manifest(local, archive_name)
        test_data = parent["test_data"] or {}
        key = Idempotent(principal=runtime_id, kind="snapshot", key=f"trained:{job_id}:{job['attempt']}", fingerprint=archive.sha256)
        return self.add(
            key=key, model=parent["model_id"], archive=archive, archive_name=archive_name, version=manifest.get("version"),
            description=f"trained by job {job_id}", service_tags=list(parent["service_tags"]), runtimes=list(parent["runtimes"]),
            test_data=test_data.get("url") or test_data.get("path"), parent_id=parent["id"], trained_by_job=job_id,
        )

    def set_stage(self, snapshot_id: str, stage: str) -> None:
        self.store.set_snapshot_stage(snapshot_id, stage)

    def file(self, snapshot_id: str, member: str) -> bytes:
        """One file of a stored snapshot archive (its test data), by its path inside the archive."""
        data, row = self.archive(snapshot_id)
        return archive_member(data, row["archive_name"] or "", member)

    def all(self, model: str | None = None) -> list[dict[str, Any]]:
        names = self.store.model_names()
        model_id = self.store.find_model(model)["id"] if model else None
        return [resources.snapshot(s, model_name=names.get(s["model_id"])) for s in self.store.list_snapshots(model_id)]

    def get(self, reference: str) -> dict[str, Any]:
        """A snapshot by uuid, or a model name for its newest snapshot."""
        try:
            if not _UUID.fullmatch(reference):
                raise NotFound(reference)  # a model's name: its newest snapshot
            row = self.store.get_snapshot(reference)
        except NotFound:
            found = self.store.newest_snapshot(reference)
            if found is None:
                self.store.find_model(reference)  # no such model: says so
                raise NotFound(f"model {reference} has no snapshot yet; add one with 'moc snapshot create PATH --model {reference}'") from None
            return resources.snapshot(found[0], model_name=found[1])
        return resources.snapshot(row, model_name=self.store.model_name(row["model_id"]))

    def archive(self, snapshot_id: str) -> tuple[bytes, dict[str, Any]]:
        row = self.store.get_snapshot(snapshot_id)
        if not row["archive_sha256"]:
            raise NotFound(f"snapshot {snapshot_id} has no stored archive (it lives at {row['location']})")
        return self.blobs.read(row["archive_sha256"]), row


def _test_data_ref(value: Any, *, has_archive: bool) -> dict[str, str] | None:
    """A snapshot's test data: a URL the runtimes read, or a file inside its archive."""
    if not value:
        return None
    text = str(value).strip()
    if "://" in text:
        return {"url": text}
    if not has_archive:
        raise SpecError(f"test data {text}: a snapshot given by location needs its test data as a URL (s3://, hdfs://, file://)")
    return {"path": text.lstrip("./")}


__all__ = ["SnapshotListener", "Snapshots"]
