"""The control plane's operations as plain methods: the routes call these and nothing else.

``ControlPlane`` ties the store, the blob store, the matching rules, the lease rules and the
notifier together. Every method takes plain values and returns JSON-ready dicts, so another front
end (the Command Center pages, a model life cycle engine) calls the same methods the HTTP API does.
A background sweeper marks silent runtimes DOWN, requeues jobs whose lease expired, and dispatches
waiting jobs; creating a job and registering a runtime dispatch at once.
"""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import threading
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelop_spark._redact import redact, redacted_logger
from modelop_spark.controlplane import jobrequest, leases, resources
from modelop_spark.controlplane.auth import ADMIN, Forbidden, Principal
from modelop_spark.controlplane.blobs import BlobRef, BlobStore
from modelop_spark.controlplane.job_timeouts import end_overdue_jobs
from modelop_spark.controlplane.matching import (
    SPARK_RUNTIME_TYPE,
    Assigned,
    JobNeeds,
    NoMatch,
    choose_runtime,
)
from modelop_spark.controlplane.notifications import Kind, Notifier, as_resource
from modelop_spark.controlplane.states import JobStatus
from modelop_spark.controlplane.store import NotFound, Store, new_id
from modelop_spark.errors import ControlPlaneError, ModelOpSparkError, SpecError

log = redacted_logger("modelop_spark.controlplane")

MB = 1024 * 1024
CLAIM_POLL_SECONDS = 0.25  # how often a long poll looks for a newly assigned job


@dataclass(frozen=True)
class Limits:
    max_snapshot_bytes: int = 512 * MB
    max_job_bytes: int = 64 * MB  # a job document with its embedded input
    max_result_bytes: int = 64 * MB


class ControlPlane:
    def __init__(self, store: Store, blobs: BlobStore, *, timing: leases.Timing, notifier: Notifier, limits: Limits = Limits()) -> None:
        self.store = store
        self.blobs = blobs
        self.timing = timing
        self.notifier = notifier
        self.limits = limits
        self.started_at = time.time()
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._dispatching = threading.Lock()
        # companions started and stopped with the control plane (the life-cycle runner), and
        # callbacks told of every new snapshot (a life cycle starts for it)
        self.companions: list[Any] = []
        self.snapshot_listeners: list[Any] = []

    # -- life --------------------------------------------------------------------------------

    def start(self) -> None:
        self.started_at = time.time()
        self.store.restart_grace(now=self.started_at, lease_until=self.started_at + self.timing.lease_seconds)
        self.notifier.start()
        self._stop.clear()
        self._sweeper = threading.Thread(target=self._sweep_forever, name="sweeper", daemon=True)
        self._sweeper.start()
        for companion in self.companions:
            companion.start()

    def stop(self) -> None:
        for companion in self.companions:
            companion.stop()
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=10)
        self.notifier.stop()

    def _sweep_forever(self) -> None:
        interval = max(min(self.timing.heartbeat_interval / 2, 5.0), 0.2)
        while not self._stop.wait(interval):
            try:
                self.sweep(time.time())
            except Exception:  # the database may be briefly unreachable; try again next tick
                log.warning("sweep failed", exc_info=True)

    def sweep(self, now: float) -> None:
        for runtime in self.store.list_runtimes():
            silent = runtime["status"] == "UP" and leases.is_down(runtime["last_heartbeat"], now, self.timing)
            if silent and self.store.mark_down(runtime["id"], silent_since=now - self.timing.down_after):
                released = self.store.release_unclaimed(runtime["id"], now=now)
                self.notifier.notify(
                    Kind.RUNTIME_DOWN,
                    f"runtime {runtime['name']} is DOWN: no heartbeat for {self.timing.down_after:g}s"
                    + (f"; {released} queued job(s) go to other runtimes" if released else ""),
                    runtime_id=runtime["id"],
                )
        for job in self.store.expired_leases(now):
            if job["cancel_requested"]:
                self.store.cancel_expired(job, now=now)
            elif self.store.requeue_expired(job, now=now):
                self.store.append_logs(job["id"], attempt=job["attempt"], now=now,
                                       lines=[f"control plane: the lease of attempt {job['attempt']} expired (its runtime stopped reporting); the job is queued again"])
        end_overdue_jobs(self.store, self.blobs.read, now)
        self.dispatch(now)

    # -- models and snapshots ----------------------------------------------------------------

    def create_model(self, name: str, description: str = "") -> dict[str, Any]:
        if not name or not name.strip():
            raise SpecError("name: a model needs a name")
        return resources.model(self.store.create_model(name=name.strip(), description=description, now=time.time()))

    def list_models(self) -> list[dict[str, Any]]:
        return [resources.model(m) for m in self.store.list_models()]

    def add_snapshot(
        self, *, model: str, archive: BlobRef | None, archive_name: str | None, version: str | None, description: str | None,
        service_tags: list[str], runtimes: list[str], location: str | None = None,
        test_data: str | None = None, parent_id: str | None = None, trained_by_job: str | None = None,
    ) -> dict[str, Any]:
        model_row = self.store.find_model(model)
        manifest = {}
        if archive:
            with self.blobs.local_copy(archive.sha256) as local:
                manifest = read_manifest(local, archive_name or "")
        version = version or manifest.get("version") or _next_version(self.store.list_snapshots(model_row["id"]))
        tags = service_tags or list(manifest.get("tags") or ())
        if not tags and not runtimes:
            raise SpecError("service tags: a snapshot needs at least one service tag (--service-tag cc-fraud) so runtimes can be matched to it")
        if archive is None and not location:
            raise SpecError("snapshot: give the archive (a folder, .zip or .tar.gz) or its location")
        test_data_ref = _test_data_ref(test_data or manifest.get("test_data"), has_archive=archive is not None)
        row = self.store.create_snapshot(
            model_id=model_row["id"], version=str(version), description=description or manifest.get("description") or "",
            service_tags=tags, runtime_type=SPARK_RUNTIME_TYPE, runtimes=runtimes,
            archive_name=archive_name, archive_sha256=archive.sha256 if archive else None, archive_size=archive.size if archive else None,
            location=location, manifest=manifest, created_at=time.time(),
            stage=None, test_data=test_data_ref, parent_id=parent_id, trained_by_job=trained_by_job,
        )
        created = resources.snapshot(row, model_name=model_row["name"])
        for listener in self.snapshot_listeners:
            try:
                listener(created)
            except ModelOpSparkError as exc:  # a life cycle that cannot start must not refuse the snapshot
                log.error("snapshot %s: %s", created["id"], exc.message)
        return created

    def set_snapshot_stage(self, snapshot_id: str, stage: str) -> None:
        self.store.set_snapshot_stage(snapshot_id, stage)

    def snapshot_file(self, snapshot_id: str, member: str) -> bytes:
        """One file of a stored snapshot archive (its test data), by its path inside the archive."""
        data, row = self.snapshot_archive(snapshot_id)
        return archive_member(data, row["archive_name"] or "", member)

    def list_snapshots(self, model: str | None = None) -> list[dict[str, Any]]:
        names = self.store.model_names()
        model_id = self.store.find_model(model)["id"] if model else None
        return [resources.snapshot(s, model_name=names.get(s["model_id"])) for s in self.store.list_snapshots(model_id)]

    def get_snapshot(self, reference: str) -> dict[str, Any]:
        """A snapshot by uuid, or a model name for its newest snapshot."""
        try:
            row = self.store.get_snapshot(reference)
        except NotFound:
            model = self.store.find_model(reference)
            newest = self.store.list_snapshots(model["id"])
            if not newest:
                raise NotFound(f"model {reference} has no snapshot yet; add one with 'moc snapshot create PATH --model {reference}'") from None
            row = newest[0]
        return resources.snapshot(row, model_name=self.store.model_names().get(row["model_id"]))

    def snapshot_archive(self, snapshot_id: str) -> tuple[bytes, dict[str, Any]]:
        row = self.store.get_snapshot(snapshot_id)
        if not row["archive_sha256"]:
            raise NotFound(f"snapshot {snapshot_id} has no stored archive (it lives at {row['location']})")
        return self.blobs.read(row["archive_sha256"]), row

    # -- runtimes ----------------------------------------------------------------------------

    def check_runtime_owner(self, runtime_id: str, principal: Principal) -> None:
        """Only the user that registered a runtime (or an admin) speaks for it: one runtime's
        token cannot claim, renew or report another runtime's jobs."""
        owner = (self.store.get_runtime(runtime_id)["details"] or {}).get("registered_by")
        if not principal.can(ADMIN) and owner != principal.name:
            raise Forbidden(f"user {principal.name} did not register runtime {runtime_id} and may not act for it")

    def register_runtime(self, body: Mapping[str, Any], *, principal: Principal | None = None) -> dict[str, Any]:
        name = str(body.get("name") or "").strip()
        if not name:
            raise SpecError("name: a runtime needs a name")
        if principal is not None and not principal.can(ADMIN):
            existing = next((r for r in self.store.list_runtimes() if r["name"] == name), None)
            owner = (existing or {}).get("details", {}).get("registered_by")
            if existing and owner != principal.name:
                raise Forbidden(f"runtime {name} was registered by another user; choose another name")
        existing = next((r for r in self.store.list_runtimes() if r["name"] == name), None)
        details: dict[str, Any] = {**dict(body.get("details") or {}), "registered_by": principal.name if principal else None}
        stage_tags = [str(t) for t in body.get("stage_tags") or ()]
        service_tags = [str(t) for t in body.get("service_tags") or ()]
        edited_by = ((existing or {}).get("details") or {}).get("tags_set_by")
        if existing is not None and edited_by:  # an admin's tags outlive the agent's restarts
            stage_tags, service_tags = list(existing["stage_tags"]), list(existing["service_tags"])
            details["tags_set_by"] = edited_by
        values = {
            "type": body.get("type") or SPARK_RUNTIME_TYPE,
            "endpoint": body.get("endpoint"),
            "stage_tags": stage_tags,
            "service_tags": service_tags,
            "capacity": max(int(body.get("capacity") or 1), 1),
            "details": details,
        }
        row, came_up = self.store.register_runtime(name=name, values=values, now=time.time())
        if came_up:
            log.info("runtime %s registered (%s)", name, ", ".join(stage_tags + service_tags))
        self.dispatch(time.time())
        return {"runtime": resources.runtime({**row, "jobs_running": 0}), "timing": self.timing.to_dict()}

    def list_runtimes(self) -> list[dict[str, Any]]:
        return [resources.runtime(r) for r in self.store.list_runtimes()]

    def set_runtime_tags(self, runtime_id: str, body: Mapping[str, Any], *, principal: Principal) -> dict[str, Any]:
        """An admin's stage and service tags for a runtime; kept when its agent registers again.
        Waiting jobs are matched again at once."""
        tags = {key: _tag_list(body.get(key), key=key) for key in ("stage_tags", "service_tags")}
        self.store.set_runtime_tags(runtime_id, **tags, by=principal.name)
        log.info("runtime %s tags set by %s: %s", runtime_id, principal.name, ", ".join(tags["stage_tags"] + tags["service_tags"]))
        self.dispatch(time.time())
        return next(r for r in self.list_runtimes() if r["id"] == runtime_id)

    def heartbeat(self, runtime_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Liveness, lease renewal, progress and log tails in one call; answers which running jobs
        to cancel and which the runtime no longer holds."""
        now = time.time()
        if not self.store.heartbeat(runtime_id, now):
            raise NotFound(f"runtime {runtime_id} is not registered here; register again")
        running = [r for r in body.get("running") or () if r.get("job_id")]
        lost = self.store.renew_leases(runtime_id, [(r["job_id"], int(r.get("attempt", 0))) for r in running], until=leases.renewed_until(now, self.timing))
        for report in running:
            if report["job_id"] in lost:
                continue
            attempt = int(report.get("attempt", 0))
            if report.get("progress") is not None:
                self.store.record_progress(report["job_id"], runtime_id=runtime_id, attempt=attempt, progress=dict(report["progress"]), now=now)
            self.store.append_logs(report["job_id"], attempt=attempt, lines=[redact(str(line)) for line in report.get("log") or ()], now=now)
        return {"cancel": self.store.cancel_requests(runtime_id), "lost": lost, "timing": self.timing.to_dict()}

    # -- dispatch and claims -----------------------------------------------------------------

    def dispatch(self, now: float) -> None:
        """Give every unassigned job to the best matching runtime, or leave it WAITING with a
        notification (once) naming what is missing."""
        with self._dispatching:
            jobs = self.store.unassigned_jobs()
            if not jobs:
                return
            runtimes = self.store.runtime_views()
            for job in jobs:
                needs = JobNeeds(stage=job["stage"], service_tags=frozenset(job["service_tags"]), runtime_name=job["runtime_name"])
                decision = choose_runtime(needs, runtimes)
                if isinstance(decision, Assigned):
                    if self.store.queue(job["id"], runtime_id=decision.runtime.id, now=now):
                        runtimes = [r if r.id != decision.runtime.id else _loaded(r, now) for r in runtimes]
                    continue
                self.store.queue(job["id"], runtime_id=None, now=now)
                if isinstance(decision, NoMatch) and self.store.mark_no_match_notified(job["id"]):
                    self.notifier.notify(Kind.NO_MATCHING_RUNTIME, decision.message(job["id"]), job_id=job["id"])

    def claim_once(self, runtime_id: str) -> dict[str, Any] | None:
        """The next job assigned to this runtime, claimed with a lease, or None."""
        now = time.time()
        job = self.store.claim_next(runtime_id, now=now, lease_until=leases.renewed_until(now, self.timing))
        if job is None:
            return None
        name = self.store.get_runtime(runtime_id)["name"]
        self.store.append_logs(job["id"], attempt=job["attempt"], now=now, lines=[f"control plane: attempt {job['attempt']} claimed by runtime {name}"])
        return self._runnable(job)

    def claim(self, runtime_id: str, *, wait: float) -> dict[str, Any] | None:
        """Long poll from a thread: a claimed job, or None after ``wait`` seconds."""
        deadline = time.monotonic() + min(max(wait, 0.0), self.timing.long_poll_seconds)
        self.store.get_runtime(runtime_id)
        while (job := self.claim_once(runtime_id)) is None:
            if time.monotonic() >= deadline or self._stop.is_set():
                return None
            time.sleep(CLAIM_POLL_SECONDS)
        return job

    async def claim_async(self, runtime_id: str, *, wait: float) -> dict[str, Any] | None:
        """The same long poll for the HTTP route: a waiting runtime holds no worker thread, so
        hundreds of runtimes can poll at once."""
        deadline = time.monotonic() + min(max(wait, 0.0), self.timing.long_poll_seconds)
        await asyncio.to_thread(self.store.get_runtime, runtime_id)
        while (job := await asyncio.to_thread(self.claim_once, runtime_id)) is None:
            if time.monotonic() >= deadline or self._stop.is_set():
                return None
            await asyncio.sleep(CLAIM_POLL_SECONDS)
        return job

    def _runnable(self, job: dict[str, Any]) -> dict[str, Any]:
        document = json.loads(self.blobs.read(job["document_sha256"]))
        snapshot = None
        if job["snapshot_id"]:
            row = self.store.get_snapshot(job["snapshot_id"])
            snapshot = {
                "id": row["id"], "sha256": row["archive_sha256"], "name": row["archive_name"], "location": row["location"],
                "model": job["model_name"], "version": row["version"],
            }
        return {"job": resources.job(job), "attempt": job["attempt"], "document": document, "snapshot": snapshot}

    def report_result(self, job_id: str, runtime_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A runtime's final word on its attempt. Delivered twice, it counts once; from an attempt
        that lost its lease, it is refused (``stale``) and the job's current attempt stands."""
        now = time.time()
        attempt = int(body.get("attempt", 0))
        status = JobStatus(body.get("status", "ERROR"))
        if not status.finished:
            raise SpecError(f"status: a result ends the job: COMPLETE, ERROR or CANCELLED, not {status}")
        result = body.get("result")
        digest = None
        if result is not None:
            digest = self.blobs.put_bytes(json.dumps(result, default=str).encode(), limit=self.limits.max_result_bytes, what="job result").sha256
        error = (result or {}).get("error") if isinstance(result, Mapping) else None
        lines = [redact(str(line)) for line in body.get("log") or ()]
        job = self.store.get_job(job_id)
        decision = leases.result_decision(
            current_attempt=job["attempt"], owner=job["lease_owner"], finished=JobStatus(job["status"]).finished,
            attempt=attempt, runtime_id=runtime_id,
        )
        if decision == "accept":
            if self.store.finish(job_id, runtime_id=runtime_id, attempt=attempt, status=status, result_sha256=digest, error=error,
                                 progress=body.get("progress"), now=now):
                self.store.append_logs(job_id, attempt=attempt, lines=[*lines, f"control plane: attempt {attempt} ended {status}"], now=now)
                if status is JobStatus.ERROR:
                    message = (error or {}).get("message") or "the job failed"
                    self.notifier.notify(Kind.JOB_ERROR, f"job {job_id} ({job['job_type']}) failed: {message}", job_id=job_id, runtime_id=runtime_id)
                self.dispatch(now)
            else:
                decision = "stale" if self.store.get_job(job_id)["status"] != status else "duplicate"
        return {"accepted": decision == "accept", "decision": decision, "job": resources.job(self.store.get_job(job_id))}

    def add_trained_snapshot(self, job_id: str, runtime_id: str, archive: BlobRef, archive_name: str) -> dict[str, Any]:
        """A training job's new snapshot, sent by the runtime that holds the job: a new snapshot of
        the job's model, with the parent's service tags."""
        job = self.store.get_job(job_id)
        if job["lease_owner"] != runtime_id or job["status"] != JobStatus.RUNNING or not job["snapshot_id"]:
            raise ControlPlaneError(f"job {job_id} is not a running training job of runtime {runtime_id}; snapshot not registered")
        parent = self.store.get_snapshot(job["snapshot_id"])
        with self.blobs.local_copy(archive.sha256) as local:
            manifest = read_manifest(local, archive_name)
        test_data = parent["test_data"] or {}
        return self.add_snapshot(
            model=parent["model_id"], archive=archive, archive_name=archive_name, version=manifest.get("version"),
            description=f"trained by job {job_id}", service_tags=list(parent["service_tags"]), runtimes=list(parent["runtimes"]),
            test_data=test_data.get("url") or test_data.get("path"), parent_id=parent["id"], trained_by_job=job_id,
        )

    # -- jobs --------------------------------------------------------------------------------

    def create_job(
        self, request: Mapping[str, Any], *, principal: Principal, stage: str | None = None, runtime: str | None = None, job_id: str | None = None,
    ) -> dict[str, Any]:
        """Check, store and dispatch a job. With ``job_id`` (a caller that must not create a job
        twice, like a life-cycle step after a restart) an existing job of that id is returned."""
        if job_id is not None:
            try:
                return self.get_job(job_id)
            except NotFound:
                pass
        job_id = job_id or new_id()
        snapshot_id = None
        if jobrequest.is_modelop_request(request):
            prepared = jobrequest.prepare_modelop_job(request, job_id=job_id, stage=stage, runtime=runtime)
        else:
            if not request.get("snapshot"):
                raise SpecError("snapshot: say which snapshot to run (its uuid, or a model name for its newest)")
            snapshot = self.get_snapshot(str(request["snapshot"]))
            snapshot_id = snapshot["id"]
            request = {**request, "stage": request.get("stage") or stage, "runtime": request.get("runtime") or runtime}
            if not request.get("runtime") and snapshot["runtimes"] and not snapshot["service_tags"]:
                request = {**request, "runtime": snapshot["runtimes"][0]}
            prepared = jobrequest.prepare_runtime_job(request, job_id=job_id, snapshot={"id": snapshot_id, "service_tags": snapshot["service_tags"]})
            prepared = jobrequest.PreparedJob(**{**prepared.__dict__, "model_name": snapshot["model"]})
        document = json.dumps(prepared.document, default=str).encode()
        stored = self.blobs.put_bytes(document, limit=self.limits.max_job_bytes, what="job document (with its embedded data)")
        now = time.time()
        self.store.create_job(
            id=job_id, job_type=prepared.job_type, snapshot_id=snapshot_id, model_name=prepared.model_name,
            stage=prepared.needs.stage, service_tags=sorted(prepared.needs.service_tags), runtime_name=prepared.needs.runtime_name,
            schema_check=prepared.schema_check, inputs=prepared.inputs, outputs=prepared.outputs,
            document_sha256=stored.sha256, document_format=prepared.document_format, created_by=principal.name,
            created_at=now, updated_at=now,
        )
        self.store.append_logs(job_id, attempt=0, now=now, lines=[f"control plane: {prepared.job_type} job created by {principal.name}"])
        self.dispatch(now)
        return self.get_job(job_id)

    def get_job(self, job_id: str) -> dict[str, Any]:
        names = {r["id"]: r["name"] for r in self.store.list_runtimes()}
        return resources.job(self.store.get_job(job_id), runtime_names=names)

    def list_jobs(
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

    def job_counts(self) -> dict[str, int]:
        """Jobs by status, every status named (0 when none)."""
        found = self.store.count_jobs_by_status()
        return {s.value: found.get(s.value, 0) for s in JobStatus}

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        job = self.store.get_job(job_id)
        if JobStatus(job["status"]).finished:
            raise ControlPlaneError(f"job {job_id} has already ended {job['status']}; nothing to cancel")
        self.store.request_cancel(job_id, now=time.time())
        return self.get_job(job_id)

    def job_result(self, job_id: str) -> dict[str, Any]:
        job = self.store.get_job(job_id)
        if job["result_sha256"] is None:
            raise NotFound(f"job {job_id} is {job['status']} and has no result yet; 'moc job watch {job_id}' waits for it")
        return json.loads(self.blobs.read(job["result_sha256"]))

    def job_logs(self, job_id: str, *, tail: int | None = None) -> list[dict[str, Any]]:
        self.store.get_job(job_id)
        return [resources.log_line(r) for r in self.store.logs(job_id, tail=tail)]

    def notifications(self, *, limit: int = 100, job_id: str | None = None, include_dismissed: bool = True) -> list[dict[str, Any]]:
        return [as_resource(n) for n in self.store.notifications(limit=limit, job_id=job_id, include_dismissed=include_dismissed)]

    def dismiss_notification(self, notification_id: int, *, principal: Principal) -> dict[str, Any]:
        return as_resource(self.store.dismiss_notification(notification_id, by=principal.name, now=time.time()))


def _tag_list(value: Any, *, key: str) -> list[str]:
    """Tags from a list or a comma-separated string: trimmed, no empties, no duplicates."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{key}: expected a list of tags (or 'DEV, cc-fraud'), found {value!r}")
    return list(dict.fromkeys(v.strip() for v in value if v.strip()))


def _loaded(runtime: Any, now: float) -> Any:
    from dataclasses import replace

    return replace(runtime, load=runtime.load + 1, last_assigned_at=now)


def _next_version(existing: list[dict[str, Any]]) -> str:
    return str(len(existing) + 1)


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


def archive_names(data: bytes, name: str) -> list[str]:
    """The file paths inside an archive."""
    try:
        if name.lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as bundle:
                return [n for n in bundle.namelist() if not n.endswith("/")]
        with tarfile.open(fileobj=io.BytesIO(data)) as bundle:
            return [m.name.removeprefix("./") for m in bundle.getmembers() if m.isfile()]
    except (zipfile.BadZipFile, tarfile.TarError) as exc:
        raise SpecError(f"snapshot archive {name}: not readable: {exc}") from exc


def archive_member(data: bytes, name: str, member: str) -> bytes:
    """A file of an archive by its path, at the archive's root or one folder down."""
    wanted = member.strip("/")
    try:
        if name.lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as bundle:
                found = next((n for n in bundle.namelist() if n == wanted or n.split("/", 1)[-1] == wanted), None)
                if found:
                    return bundle.read(found)
        else:
            with tarfile.open(fileobj=io.BytesIO(data)) as bundle:
                for entry in bundle.getmembers():
                    path = entry.name.removeprefix("./")
                    if entry.isfile() and (path == wanted or path.split("/", 1)[-1] == wanted):
                        handle = bundle.extractfile(entry)
                        if handle is not None:
                            return handle.read()
    except (zipfile.BadZipFile, tarfile.TarError) as exc:
        raise SpecError(f"snapshot archive {name}: not readable: {exc}") from exc
    raise NotFound(f"snapshot archive {name} has no file {member}")


def read_manifest(archive: Path, name: str) -> dict[str, Any]:
    """``snapshot.json`` from a stored archive (at its root or one folder down), or {}."""
    try:
        if name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                member = next((n for n in bundle.namelist() if n.rstrip("/").split("/")[-1] == "snapshot.json" and n.count("/") <= 1), None)
                return json.loads(bundle.read(member)) if member else {}
        with tarfile.open(archive) as bundle:
            entry = next((m for m in bundle.getmembers() if m.isfile() and Path(m.name).name == "snapshot.json" and len(Path(m.name).parts) <= 2), None)
            handle = bundle.extractfile(entry) if entry else None
            return json.loads(io.TextIOWrapper(handle, encoding="utf-8").read()) if handle else {}
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise SpecError(f"snapshot archive {name or archive.name} is not a readable .zip or .tar.gz: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"snapshot archive {name}: snapshot.json is not valid JSON: {exc}") from exc


__all__ = ["ControlPlane", "Limits", "archive_member", "archive_names", "read_manifest"]
