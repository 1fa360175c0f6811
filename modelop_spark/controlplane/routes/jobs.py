"""``/jobs``: create, list, count, read, cancel, result, logs."""

from __future__ import annotations

from fastapi import APIRouter

from modelop_spark.controlplane.datamodels.jobs import (
    Job,
    JobCounts,
    JobRequest,
    JobResultDocument,
    LogLine,
)
from modelop_spark.controlplane.deps import IdempotencyKey, Plane, Reader, Writer

router = APIRouter(tags=["jobs"])


@router.post("/jobs", status_code=201)
def create_job(
    cp: Plane, principal: Writer, body: JobRequest, key: IdempotencyKey = None, stage: str | None = None, runtime: str | None = None,
) -> Job:
    """This control plane's job request, or a ModelOp Center job JSON as it is. With an
    ``Idempotency-Key``, a retry of the request gets the job the first one created."""
    request = body.model_dump(exclude_unset=True)
    return Job.model_validate(cp.jobs.create(request, principal=principal, stage=stage, runtime=runtime, idempotency_key=key))


@router.get("/jobs")
def list_jobs(
    cp: Plane, _: Reader, status: str | None = None, limit: int = 100, offset: int = 0, type: str | None = None,
    model: str | None = None, stage: str | None = None, runtime: str | None = None,
) -> list[Job]:
    """Newest first; filters: status, type (batchjob|testjob|trainingjob), model, stage, runtime (name)."""
    found = cp.jobs.find(status=status, limit=limit, offset=offset, job_type=type, model=model, stage=stage, runtime=runtime)
    return [Job.model_validate(j) for j in found]


@router.get("/jobs/counts")
def job_counts(cp: Plane, _: Reader) -> JobCounts:
    """How many jobs are in each status."""
    return JobCounts(cp.jobs.counts())


@router.get("/jobs/{job_id}")
def get_job(cp: Plane, _: Reader, job_id: str) -> Job:
    return Job.model_validate(cp.jobs.get(job_id))


@router.post("/jobs/{job_id}/cancel")
def cancel_job(cp: Plane, _: Writer, job_id: str) -> Job:
    return Job.model_validate(cp.jobs.cancel(job_id))


@router.get("/jobs/{job_id}/result")
def job_result(cp: Plane, _: Reader, job_id: str) -> JobResultDocument:
    return JobResultDocument(cp.jobs.result(job_id))


@router.get("/jobs/{job_id}/logs")
def job_logs(cp: Plane, _: Reader, job_id: str, tail: int | None = None) -> list[LogLine]:
    return [LogLine.model_validate(line) for line in cp.jobs.logs(job_id, tail=tail)]
