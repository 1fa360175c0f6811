"""Jobs: a request checked with the runtime's own parser (jobrequest.py), stored and dispatched;
listed newest first with filters; cancelled; their result and log lines."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from modelop_spark.controlplane import jobrequest, resources
from modelop_spark.controlplane.auth import Principal
from modelop_spark.controlplane.services.context import Context
from modelop_spark.controlplane.services.dispatch import Dispatch
from modelop_spark.controlplane.services.idempotency import Idempotent, create_once, fingerprint
from modelop_spark.controlplane.services.snapshots import Snapshots
from modelop_spark.controlplane.states import JobStatus
from modelop_spark.controlplane.store import NotFound, new_id
from modelop_spark.errors import ControlPlaneError, SpecError


class Jobs:
    def __init__(self, context: Context, snapshots: Snapshots, dispatch: Dispatch) -> None:
        self.store = context.store
        self.blobs = context.blobs
        self.limits = context.limits
        self.snapshots = snapshots
        self.dispatch = dispatch

    def create(
        self, request: Mapping[str, Any], *, principal: Principal, stage: str | None = None, runtime: str | None = None,
        job_id: str | None = None, idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Check, store and dispatch a job, once per ``idempotency_key`` (a client's retry gets the
        job its first request created). With ``job_id`` (a caller that must not create a job twice,
        like a life-cycle step after a restart) an existing job of that id is returned."""
        if job_id is not None:
            try:
                return self.get(job_id)
            except NotFound:
                pass
            return self._create(request, principal=principal, stage=stage, runtime=runtime, job_id=job_id, key=None)
        key = None
        if idempotency_key:
            asked = fingerprint({"request": request, "stage": stage, "runtime": runtime})
            key = Idempotent(principal=principal.name, kind="job", key=idempotency_key, fingerprint=asked)
        return create_once(
            self.store, key, existing=self.get,
            create=lambda once: self._create(request, principal=principal, stage=stage, runtime=runtime, job_id=new_id(), key=once),
        )

    def _create(
        self, request: Mapping[str, Any], *, principal: Principal, stage: str | None, runtime: str | None, job_id: str, key: Idempotent | None,
    ) -> dict[str, Any]:
        prepared, snapshot_id = self._prepare(request, job_id=job_id, stage=stage, runtime=runtime)
        document = json.dumps(prepared.document, default=str).encode()
        stored = self.blobs.put_bytes(document, limit=self.limits.max_job_bytes, what="job document (with its embedded data)")
        now = time.time()
        self.store.create_job(
            id=job_id, job_type=prepared.job_type, snapshot_id=snapshot_id, model_name=prepared.model_name,
            stage=prepared.needs.stage, service_tags=sorted(prepared.needs.service_tags), runtime_name=prepared.needs.runtime_name,
            schema_check=prepared.schema_check, inputs=prepared.inputs, outputs=prepared.outputs,
            document_sha256=stored.sha256, document_format=prepared.document_format, created_by=principal.name,
            created_at=now, updated_at=now, log_line=f"control plane: {prepared.job_type} job created by {principal.name}", key=key,
        )
        self.dispatch.assign(now)
        return self.get(job_id)

    def _prepare(
        self, request: Mapping[str, Any], *, job_id: str, stage: str | None, runtime: str | None,
    ) -> tuple[jobrequest.PreparedJob, str | None]:
        """The checked job and the id of the snapshot it runs (None for a ModelOp job JSON)."""
        if jobrequest.is_modelop_request(request):
            return jobrequest.prepare_modelop_job(request, job_id=job_id, stage=stage, runtime=runtime), None
        if not request.get("snapshot"):
            raise SpecError("snapshot: say which snapshot to run (its uuid, or a model name for its newest)")
        snapshot = self.snapshots.get(str(request["snapshot"]))
        request = {**request, "stage": request.get("stage") or stage, "runtime": request.get("runtime") or runtime}
        if not request.get("runtime") and snapshot["runtimes"] and not snapshot["service_tags"]:
            request = {**request, "runtime": snapshot["runtimes"][0]}
        prepared = jobrequest.prepare_runtime_job(request, job_id=job_id, snapshot={"id": snapshot["id"], "service_tags": snapshot["service_tags"]})
        return jobrequest.PreparedJob(**{**prepared.__dict__, "model_name": snapshot["model"]}), snapshot["id"]

    def get(self, job_id: str) -> dict[str, Any]:
        row = self.store.get_job(job_id)
        runtime = row["runtime_id"] and self.store.runtime_name(row["runtime_id"])
        return resources.job(row, runtime_names={row["runtime_id"]: runtime} if runtime else None)

    def find(
        self, *, status: str | None = None, limit: int = 100, offset: int = 0, job_type: str | None = None,
        model: str | None = None, stage: str | None = None, runtime: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first, filtered by status, type (batchjob/scoring...), model name, stage and
        runtime name; ``offset`` pages."""
        if status:
            try:
                status = JobStatus(status.upper())
            except ValueError:
                raise SpecError(f"status: expected one of {', '.join(s.value for s in JobStatus)}, found {status!r}") from None
        if limit < 1 or offset < 0:
            raise SpecError("limit must be 1 or more and offset 0 or more")
        names = {r["id"]: r["name"] for r in self.store.list_runtimes()}
        runtime_id = None
        if runtime:
            runtime_id = next((i for i, n in names.items() if n == runtime), None)
            if runtime_id is None:
                return []
        rows = self.store.list_jobs(
            status=status, limit=limit, offset=offset, job_type=jobrequest.job_type_of(job_type) if job_type else None,
            model_name=model or None, stage=stage or None, runtime_id=runtime_id,
        )
        return [resources.job(j, runtime_names=names) for j in rows]

    def counts(self) -> dict[str, int]:
        """Jobs by status, every status named (0 when none)."""
        found = self.store.count_jobs_by_status()
        return {s.value: found.get(s.value, 0) for s in JobStatus}

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self.store.get_job(job_id)
        if JobStatus(job["status"]).finished:
            raise ControlPlaneError(f"job {job_id} has already ended {job['status']}; nothing to cancel")
        self.store.request_cancel(job_id, now=time.time())
        return self.get(job_id)

    def result(self, job_id: str) -> dict[str, Any]:
        job = self.store.get_job(job_id)
        if job["result_sha256"] is None:
            raise NotFound(f"job {job_id} is {job['status']} and has no result yet; 'moc job watch {job_id}' waits for it")
        return json.loads(self.blobs.read(job["result_sha256"]))

    def logs(self, job_id: str, *, tail: int | None = None) -> list[dict[str, Any]]:
        self.store.get_job(job_id)
        return [resources.log_line(r) for r in self.store.logs(job_id, tail=tail)]


__all__ = ["Jobs"]
