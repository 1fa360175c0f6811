"""Job and runtime states, with the job's allowed transitions written once.

    CREATED ──> WAITING ──> RUNNING ──> COMPLETE | ERROR | CANCELLED
                  ^            │
                  └────────────┘  the lease expired (its runtime died): queued again

A job is CREATED when the control plane accepts it and WAITING while it is queued: assigned to a
runtime that has not claimed it yet, or with no matching runtime at all (a notification says which
tags are missing). A runtime's claim makes it RUNNING; the runtime's result ends it. CREATED and
WAITING jobs can be cancelled at once; a RUNNING one is cancelled by its runtime, which is asked to
stop its Spark job group and reports CANCELLED.
"""

from __future__ import annotations

from enum import StrEnum

from modelop_spark.errors import ControlPlaneError
from modelop_spark.vocabulary import FINISHED_STATES


class JobStatus(StrEnum):
    """The vocabulary's ``JOB_STATES`` as an enum (tests/test_vocabulary.py keeps them equal)."""

    CREATED = "CREATED"
    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self in FINISHED


class RuntimeStatus(StrEnum):
    UP = "UP"
    DOWN = "DOWN"


FINISHED = frozenset(JobStatus(state) for state in FINISHED_STATES)

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.CREATED: frozenset({JobStatus.WAITING, JobStatus.CANCELLED}),
    JobStatus.WAITING: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset({JobStatus.WAITING, *FINISHED}),
    JobStatus.COMPLETE: frozenset(),
    JobStatus.ERROR: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


class TransitionError(ControlPlaneError):
    """A job was asked to move to a state it cannot reach from where it is."""

    code = "INVALID_TRANSITION"
    http_status = 409


def can_move(current: JobStatus | str, target: JobStatus | str) -> bool:
    return JobStatus(target) in TRANSITIONS[JobStatus(current)]


def check_move(job_id: str, current: JobStatus | str, target: JobStatus | str) -> JobStatus:
    """The target state, or TransitionError naming the states a job in ``current`` can reach."""
    if not can_move(current, target):
        allowed = ", ".join(sorted(TRANSITIONS[JobStatus(current)])) or "none: it has finished"
        raise TransitionError(f"job {job_id} is {current} and cannot become {target} (allowed: {allowed})")
    return JobStatus(target)


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """The states from which ``target`` can be reached: the WHERE clause of a guarded update."""
    return frozenset(state for state, targets in TRANSITIONS.items() if target in targets)


__all__ = ["FINISHED", "TRANSITIONS", "JobStatus", "RuntimeStatus", "TransitionError", "can_move", "check_move", "sources_of"]
