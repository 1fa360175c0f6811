"""The control plane's bound on a job's ``options.timeout_seconds``.

The runtime stops a job past its limit itself; this is the backstop for a runtime that keeps
heartbeating but never reports (its driver stuck in a model call no signal reaches). A RUNNING
job past ``started_at + timeout_seconds + GRACE_SECONDS`` is ended ERROR here, once (one guarded
move), and the line says why. Called by the sweeper.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from modelop_spark.controlplane.states import JobStatus

__all__ = ["GRACE_SECONDS", "end_overdue_jobs", "timeout_of"]

GRACE_SECONDS = 60.0  # the runtime's own ERROR, with its details, normally arrives first
_TIMEOUTS: dict[str, float | None] = {}  # by document sha256: a document never changes


def timeout_of(document: Mapping[str, Any]) -> float | None:
    """A job document's ``options.timeout_seconds`` (None or 0: no limit)."""
    options = document.get("options")
    seconds = options.get("timeout_seconds") if isinstance(options, Mapping) else None
    return float(seconds) if isinstance(seconds, int | float) and seconds > 0 else None


def end_overdue_jobs(store: Any, read_blob: Callable[[str], bytes], now: float) -> list[str]:
    """End every RUNNING job past its limit; the ids of those ended."""
    ended = []
    for job in store.list_jobs(status=JobStatus.RUNNING, limit=10_000):
        sha = job["document_sha256"]
        if sha not in _TIMEOUTS:
            _TIMEOUTS[sha] = timeout_of(json.loads(read_blob(sha)))
        seconds = _TIMEOUTS[sha]
        if seconds is None or not job["started_at"] or now < job["started_at"] + seconds + GRACE_SECONDS:
            continue
        message = f"the job ran longer than options.timeout_seconds ({seconds:g}s) and its runtime did not end it; the control plane did"
        if store.finish(
            job["id"], runtime_id=job["lease_owner"], attempt=job["attempt"], status=JobStatus.ERROR,
            result_sha256=None, error={"code": "JOB_TIMEOUT", "message": message}, progress=None, now=now,
        ):  # fmt: skip
            store.append_logs(job["id"], attempt=job["attempt"], now=now, lines=[f"control plane: {message}"])
            ended.append(job["id"])
    return ended
