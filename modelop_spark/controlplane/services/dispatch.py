"""Dispatch: the job <-> runtime protocol, in one room with one seam per step.

    assign(now)             waiting jobs to the best matching runtimes with a free slot
                            (matching.py), oldest first, in passes whose cost follows what changed;
                            one NO_MATCHING_RUNTIME notification per missing match
    claim(runtime, wait)    a runtime's long poll: its next assigned job, RUNNING with a lease
                            (leases.py), or None after ``wait``; waiting holds no worker thread and
                            no database query: it sleeps until an assignment wakes it (wakeups.py)
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
    choose_among,
    matches,
)
from modelop_spark.controlplane.notifications import Kind
from modelop_spark.controlplane.services.context import Context
from modelop_spark.controlplane.states import JobStatus, RuntimeStatus
from modelop_spark.controlplane.wakeups import SAFETY_POLL_SECONDS, sleep_until_woken
from modelop_spark.errors import SpecError

ASSIGN_PAGE = 200  # jobs read at a time by an assignment pass
MAX_SCANNED = 5000  # waiting jobs one pass looks at, at most (the next pass goes on from the oldest)
SNAPSHOTS_KNOWN = 1000  # snapshot archives remembered for claims
NO_MATCH_QUIET_SECONDS = 60.0  # after a NO_MATCHING_RUNTIME notification, the same missing match waits this long


class AssignmentPass:
    """One pass's decisions over the runtimes as it leaves them (pure: no database). The runtimes
    that match are found once per distinct need (most jobs of a queue share a few), so a pass
    costs jobs + needs x runtimes, not jobs x runtimes."""

    def __init__(self, runtimes: list[RuntimeView]) -> None:
        self.runtimes = {r.id: r for r in runtimes}
        self.free_slots = sum(r.free_slots for r in runtimes if r.status == RuntimeStatus.UP)
        self.assigned: dict[str, list[str]] = {}
        self.unmatched: dict[NoMatch, list[str]] = {}  # the jobs of each missing match
        self._matching: dict[JobNeeds, list[str]] = {}

    def consider(self, job: Mapping[str, Any]) -> None:
        needs = JobNeeds(stage=job["stage"], service_tags=frozenset(job["service_tags"]), runtime_name=job["runtime_name"])
        if needs not in self._matching:
            self._matching[needs] = [r.id for r in self.runtimes.values() if matches(r, needs)]
        candidates = [self.runtimes[i] for i in self._matching[needs]]
        decision = choose_among(needs, candidates, self.runtimes.values())
        if isinstance(decision, Assigned):
            chosen = decision.runtime
            self.assigned.setdefault(chosen.id, []).append(job["id"])
            self.runtimes[chosen.id] = replace(chosen, load=chosen.load + 1, last_assigned_at=time.time())
            self.free_slots -= 1
        elif isinstance(decision, NoMatch) and not job["no_match_notified"]:
            self.unmatched.setdefault(decision, []).append(job["id"])


class Dispatch:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.store = context.store
        self._assigning = threading.Lock()
        self._changed = threading.Event()  # something to assign arrived: a job, a free slot, a runtime
        # what a claim tells the runtime, read once: a runtime's name and a snapshot's archive never change
        self._runtime_names: dict[str, str] = {}
        self._snapshots: dict[str, dict[str, Any]] = {}
        self._no_match_held: dict[NoMatch, list[str]] = {}  # jobs to name in the next notification of their missing match
        self._no_match_quiet_until: dict[NoMatch, float] = {}

    # -- assignment ----------------------------------------------------------------------------

    def assign(self, now: float) -> None:
        """Queue waiting jobs to the best matching runtimes with a free slot, oldest first. The
        cost follows what changed: new jobs are looked at once (a NO_MATCHING_RUNTIME notification
        per missing match, with its count), waiting jobs only while some runtime has a free slot,
        a page at a time, and one transaction writes only the jobs that move.

        Calls that arrive while a pass runs (a burst of creations and results) do not wait for
        it: they leave word, and the running pass runs once more for all of them."""
        self._changed.set()
        while self._changed.is_set():
            if not self._assigning.acquire(blocking=False):
                return  # the pass running now runs again for this change
            try:
                while self._changed.is_set():
                    self._changed.clear()
                    self._assign_pass(now)
            finally:
                self._assigning.release()

    def _assign_pass(self, now: float) -> None:
        pass_ = AssignmentPass(self.store.runtime_views())
        after: tuple[float, str] | None = None
        scanned = 0
        while pass_.free_slots and scanned < MAX_SCANNED:
            page = self.store.unassigned_jobs(limit=ASSIGN_PAGE, after=after)
            for job in page:
                if not pass_.free_slots:
                    break  # every slot is taken: the rest of the queue waits, unread
                pass_.consider(job)
            scanned += len(page)
            if len(page) < ASSIGN_PAGE:
                break
            after = (page[-1]["created_at"], page[-1]["id"])
        created = self.store.created_jobs(limit=ASSIGN_PAGE)  # after the older waiting jobs: first come, first served
        for job in created:
            pass_.consider(job)
        if len(created) == ASSIGN_PAGE:
            self._changed.set()  # more new jobs than a page: the next pass takes the rest
        if pass_.assigned or created:
            got = self.store.apply_assignments(pass_.assigned, seen=[j["id"] for j in created], now=now)
            for runtime_id in got:
                self.context.wakeups.wake(runtime_id)
        self._notify_no_match(pass_.unmatched, now)

    def _notify_no_match(self, unmatched: Mapping[NoMatch, list[str]], now: float) -> None:
        """One notification per missing match: its jobs not named before, and their count. A burst
        of jobs that miss the same runtime is one notification, then at most one a minute for the
        jobs that joined it (``NO_MATCH_QUIET_SECONDS``), not one per job."""
        for decision, job_ids in unmatched.items():
            self._no_match_held.setdefault(decision, []).extend(self.store.mark_no_match_notified(job_ids))
        for decision, held in list(self._no_match_held.items()):
            if held and now >= self._no_match_quiet_until.get(decision, 0.0):
                self.context.notifier.notify(Kind.NO_MATCHING_RUNTIME, decision.message(*held), job_id=held[0])
                self._no_match_quiet_until[decision] = now + NO_MATCH_QUIET_SECONDS
                del self._no_match_held[decision]

    # -- claims --------------------------------------------------------------------------------

    def claim_next(self, runtime_id: str, token: str | None = None) -> dict[str, Any] | None:
        """The next job assigned to this runtime, claimed with a lease, or None (one try). A claim
        that repeats the token of one that took a job gets that job again, at the same attempt:
        the first answer never arrived, and the job would otherwise sit leased to a runtime that
        does not know it until the lease ran out and ran a second time."""
        taken, candidates = self.store.claim_candidates(runtime_id, token=token)  # one read, however idle
        if taken is not None:
            return self._runnable(taken)
        return self._take(runtime_id, token, candidates) if candidates else None

    def _take(self, runtime_id: str, token: str | None, candidates: list[str] | None = None) -> dict[str, Any] | None:
        """The oldest job queued to this runtime, claimed (no look for an earlier claim's job)."""
        now = time.time()
        job = self.store.claim_next(runtime_id, now=now, lease_until=leases.renewed_until(now, self.context.timing), token=token,
                                    candidates=candidates, by=self._runtime_name(runtime_id))
        return self._runnable(job) if job is not None else None

    async def claim(self, runtime_id: str, *, wait: float, token: str | None = None) -> dict[str, Any] | None:
        """The long poll: a claimed job, or None after ``wait`` seconds (at most the long-poll
        limit). A waiting runtime holds no worker thread, so hundreds can poll at once."""
        deadline = time.monotonic() + min(max(wait, 0.0), self.context.timing.long_poll_seconds)
        with self.context.wakeups.waiting_for(runtime_id) as woken:
            # it looks once, then only when a job is assigned to it (or after the safety poll)
            job = await asyncio.to_thread(self.claim_next, runtime_id, token)
            while job is None:
                left = deadline - time.monotonic()
                if left <= 0 or self.context.stopping.is_set():
                    return None
                await sleep_until_woken(woken, min(left, SAFETY_POLL_SECONDS))
                job = await asyncio.to_thread(self._take, runtime_id, token)
        return job

    def _runtime_name(self, runtime_id: str) -> str:
        if runtime_id not in self._runtime_names:
            self._runtime_names[runtime_id] = self.store.runtime_name(runtime_id) or runtime_id
        return self._runtime_names[runtime_id]

    def _runnable(self, job: dict[str, Any]) -> dict[str, Any]:
        document = json.loads(self.context.blobs.read(job["document_sha256"]))
        snapshot = None
        if job["snapshot_id"]:
            snapshot = {**self._archive_of(job["snapshot_id"]), "model": job["model_name"]}
        return {"job": resources.job(job), "attempt": job["attempt"], "document": document, "snapshot": snapshot}

    def _archive_of(self, snapshot_id: str) -> dict[str, Any]:
        known = self._snapshots.get(snapshot_id)
        if known is None:
            row = self.store.get_snapshot(snapshot_id)
            known = {"id": row["id"], "sha256": row["archive_sha256"], "name": row["archive_name"], "location": row["location"], "version": row["version"]}
            if len(self._snapshots) > SNAPSHOTS_KNOWN:
                self._snapshots.clear()
            self._snapshots[snapshot_id] = known
        return known

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
                                 progress=progress, now=now, lines=[*lines, f"control plane: attempt {attempt} ended {status}"]):
            return ResultDecision.STALE if self.store.get_job(job_id)["status"] != status else ResultDecision.DUPLICATE
        if status is JobStatus.ERROR:
            message = (error or {}).get("message") or "the job failed"
            self.context.notifier.notify(Kind.JOB_ERROR, f"job {job_id} ({job['job_type']}) failed: {message}", job_id=job_id, runtime_id=runtime_id)
        self.assign(now)
        return ResultDecision.ACCEPT


__all__ = ["ASSIGN_PAGE", "AssignmentPass", "Dispatch"]
