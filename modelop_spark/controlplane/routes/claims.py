"""The dispatch room's routes: a runtime's long-poll claim, its result, and a training job's new
snapshot. Only the user that registered the runtime (or an admin) may speak for it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from modelop_spark.controlplane.datamodels.jobs import ClaimedJob, JobResultReport, ResultAnswer
from modelop_spark.controlplane.datamodels.snapshots import ARCHIVE_BODY, Snapshot
from modelop_spark.controlplane.deps import Plane, Runner
from modelop_spark.vocabulary import DEFAULT_ARCHIVE_NAME

router = APIRouter(tags=["runtimes"])


@router.post("/runtimes/{runtime_id}/claim", responses={204: {"description": "no job was assigned within ``wait`` seconds"}})
async def claim(cp: Plane, principal: Runner, runtime_id: str, wait: float = 0.0, token: str | None = Query(None, max_length=64)) -> ClaimedJob | None:
    """Long poll for the next job assigned to this runtime: 200 with the job, or 204 after ``wait``.
    ``token``: the runtime's name for this claim, the same until it gets an answer; a claim
    repeated after a lost answer gets the job the first one took."""
    await run_in_threadpool(cp.runtimes.check_owner, runtime_id, principal)
    job = await cp.dispatch.claim(runtime_id, wait=wait, token=token)
    if job is None:
        return Response(status_code=204)  # type: ignore[return-value]  # FastAPI sends a Response as it is
    return ClaimedJob.model_validate(job)


@router.post("/jobs/{job_id}/result")
def report_result(cp: Plane, principal: Runner, job_id: str, runtime_id: str, body: JobResultReport) -> ResultAnswer:
    cp.runtimes.check_owner(runtime_id, principal)
    return ResultAnswer.model_validate(cp.dispatch.report_result(job_id, runtime_id, body.model_dump(exclude_unset=True)))


@router.post("/jobs/{job_id}/snapshot", status_code=201, openapi_extra=ARCHIVE_BODY)
async def add_trained_snapshot(
    request: Request, cp: Plane, principal: Runner, job_id: str, runtime_id: str, filename: str = DEFAULT_ARCHIVE_NAME,
    x_content_sha256: Annotated[str | None, Header()] = None,
) -> Snapshot:
    """The new snapshot version a training job wrote, registered for the job's model."""
    await run_in_threadpool(cp.runtimes.check_owner, runtime_id, principal)
    archive = await cp.blobs.put_stream(request.stream(), limit=cp.limits.max_snapshot_bytes, what=f"snapshot archive {filename}", expected_sha256=x_content_sha256)
    return Snapshot.model_validate(await run_in_threadpool(cp.snapshots.add_trained, job_id, runtime_id, archive, filename))
