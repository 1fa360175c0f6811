"""Dispatch: the job <-> runtime protocol, in one room with one seam per step.

    assign(now)             every unassigned job to the best matching runtime (matching.py), or
                            left WAITING with one notification naming what is missing
    claim(runtime, wait)    a runtime's long poll: its next assigned job, RUNNING with a lease
                            (leases.py), or None after ``wait``; waiting holds no worker thread
    report_result(...)      the runtime's final word on its attempt, judged by the lease rules
                            (``ResultDecision``): accepted once, a duplicate, or stale

The store's guarded moves (``Store._move``) make each step atomic across control-plane processes;
this room decides, the store records.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from modelop_spark._redact import redact
from modelop_spark.controlplane import leases, resources
from modelop_spark.controlplane.leases import ResultDecision
from modelop_spark.controlplane.matching import (
    Assigned,
    JobNeeds,
    NoMatch,
    RuntimeView,
    choose_runtime,
)
from modelop_spark.controlplane.notifications import Kind
from modelop_spark.controlplane.services.context import Context
from modelop_spark.controlplane.states import JobStatus
from modelop_spark.errors import SpecError

CLAIM_POLL_SECONDS = 0.25  # how often a long poll looks for a newly assigned job


class Dispatch:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.store = context.store
        self._assigning = threading.Lock()

    # -- assignment ----------------------------------------------------------------------------

    def assign(self, now: float) -> None:
        """Give every unassigned job to the best matching runtime, or leave it WAITING with a
        notification (once) naming what is missing."""
        with self._assigning:
            jobs = self.store.unassigned_jobs()
            if not jobs:
                return
            runtimes = self.store.runtime_views()
            for job in jobs:
                runtimes = self._assign_one(job, runtimes, now)

    def _assign_one(self, job: dict[str, Any], runtimes: list[RuntimeView], now: float) -> list[RuntimeView]:
        """Queue one job; the runtimes with their loads as this assignment leaves them."""
        needs = JobNeeds(stage=job["stage"], service_tags=frozenset(job["service_tags"]), runtime_name=job["runtime_name"])
        decision = choose_runtime(needs, runtimes)
        if isinstance(decision, Assigned):
            chosen = decision.runtime.id
            if self.store.queue(job["id"], runtime_id=chosen, now=now):
                return [replace(r, load=r.load + 1, last_assigned_at=now) if r.id == chosen else r for r in runtimes]
            return runtimes
        self.store.queue(job["id"], runtime_id=None, now=now)
        if isinstance(decision, NoMatch) and self.store.mark_no_match_notified(job["id"]):
            self.context.notifier.notify(Kind.NO_MATCHING_RUNTIME, decision.message(job["id"]), job_id=job["id"])
        return runtimes

    # -- claims --------------------------------------------------------------------------------

    def claim_next(self, runtime_id: str, token: str | None = None) -> dict[str, Any] | None:
        """The next job assigned to this runtime, claimed with a lease, or None (one try). A claim
        that repeats the token of one that took a job gets that job again, at the same attempt:
        the first answer never arrived, and the job would otherwise sit leased to a runtime that
        does not know it until the lease ran out and ran a second time."""
        now = time.time()
        if token and (taken := self.store.claimed_with(runtime_id, token)) is not None:
            return self._runnable(taken)
        job = self.store.claim_next(runtime_id, now=now, lease_until=leases.renewed_until(now, self.context.timing), token=token)
        if job is None:
            return None
        name = self.store.get_runtime(runtime_id)["name"]
        self.store.append_logs(job["id"], attempt=job["attempt"], now=now, lines=[f"control plane: attempt {job['attempt']} claimed by runtime {name}"])
        return self._runnable(job)

    async def claim(self, runtime_id: str, *, wait: float, token: str | None = None) -> dict[str, Any] | None:
        """The long poll: a claimed job, or None after ``wait`` seconds (at most the long-poll
        limit). A waiting runtime holds no worker thread, so hundreds can poll at once."""
        deadline = time.monotonic() + min(max(wait, 0.0), self.context.timing.long_poll_seconds)
        await asyncio.to_thread(self.store.get_runtime, runtime_id)
        while (job := await asyncio.to_thread(self.claim_next, runtime_id, token)) is None:
            if time.monotonic() >= deadline or self.context.stopping.is_set():
                return None
            await asyncio.sleep(CLAIM_POLL_SECONDS)
        return job

    def _runnable(self, job: dict[str, Any]) -> dict[str, Any]:
        document = json.loads(self.context.blobs.read(job["document_sha256"]))
        snapshot = None
        if job["snapshot_id"]:
            row = self.store.get_snapshot(job["snapshot_id"])
            snapshot = {
                "id": row["id"], "sha256": row["archive_sha256"], "name": row["archive_name"], "location": row["location"],
                "model": job["model_name"], "version": row["version"],
            }
        return {"job": resources.job(job), "attempt": job["attempt"], "document": document, "snapshot": snapshot}

    # -- results -------------------------------------------------------------------------------

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
            digest = self.context.blobs.put_bytes(
                json.dumps(result, default=str).encode(), limit=self.context.limits.max_result_bytes, what="job result"
            ).sha256
        error = (result or {}).get("error") if isinstance(result, Mapping) else None
        job = self.store.get_job(job_id)
        decision = leases.result_decision(
            current_attempt=job["attempt"], owner=job["lease_owner"], finished=JobStatus(job["status"]).finished,
            attempt=attempt, runtime_id=runtime_id,
        )
        if decision is ResultDecision.ACCEPT:
            lines = [redact(str(line)) for line in body.get("log") or ()]
            decision = self._accept(job, runtime_id, attempt, status, digest, error, body.get("progress"), lines, now)
        return {"accepted": decision is ResultDecision.ACCEPT, "decision": decision, "job": resources.job(self.store.get_job(job_id))}

    def _accept(
        self, job: dict[str, Any], runtime_id: str, attempt: int, status: JobStatus, digest: str | None,
        error: dict[str, Any] | None, progress: Any, lines: list[str], now: float,
    ) -> ResultDecision:
        """Record the result if this attempt still holds the job (another caller may have won)."""
        job_id = job["id"]
        if not self.store.finish(job_id, runtime_id=runtime_id, attempt=attempt, status=status, result_sha256=digest, error=error,
                                 progress=progress, now=now):
            return ResultDecision.STALE if self.store.get_job(job_id)["status"] != status else ResultDecision.DUPLICATE
        self.store.append_logs(job_id, attempt=attempt, lines=[*lines, f"control plane: attempt {attempt} ended {status}"], now=now)
        if status is JobStatus.ERROR:
            message = (error or {}).get("message") or "the job failed"
            self.context.notifier.notify(Kind.JOB_ERROR, f"job {job_id} ({job['job_type']}) failed: {message}", job_id=job_id, runtime_id=runtime_id)
        self.assign(now)
        return ResultDecision.ACCEPT


__all__ = ["CLAIM_POLL_SECONDS", "Dispatch"]
