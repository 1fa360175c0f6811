"""The HTTP API: thin FastAPI routes over ``ControlPlane`` methods.

Each route checks the caller's permission (``auth``), calls one method and returns its dict. Our
errors become ``{"error": {"code", "message"}}`` with the status the error class names. The
OpenAPI document is at ``/openapi.json`` (and the browsable docs at ``/docs``). More routers (the
model life cycles, the Command Center pages) mount on the same app with ``app.include_router``
and use the same ``permission`` dependency and the same ``ControlPlane``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from modelop_spark import __version__
from modelop_spark._redact import redacted_logger
from modelop_spark.controlplane.auth import ADMIN, READ, RUN, WRITE, Forbidden, Principal, TokenBook
from modelop_spark.controlplane.service import ControlPlane
from modelop_spark.errors import ModelOpSparkError

log = redacted_logger("modelop_spark.controlplane")

API = "/api/v1"


def permission(needed: str) -> Callable[..., Principal]:
    """A dependency: the caller, when their token grants ``needed``; 401/403 otherwise."""

    def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
        principal = request.app.state.tokens.identify(authorization)
        if not principal.can(needed):
            raise Forbidden(f"user {principal.name} (roles {', '.join(sorted(principal.roles))}) may not {needed}; ask an admin for a role that grants it")
        return principal

    return check


def plane(request: Request) -> ControlPlane:
    return request.app.state.plane


Plane = Annotated[ControlPlane, Depends(plane)]
Reader = Annotated[Principal, Depends(permission(READ))]
Writer = Annotated[Principal, Depends(permission(WRITE))]
Runner = Annotated[Principal, Depends(permission(RUN))]

router = APIRouter(prefix=API)


@router.get("/whoami", tags=["auth"])
def whoami(principal: Reader) -> dict[str, Any]:
    return {"user": principal.name, "roles": sorted(principal.roles), "permissions": sorted(principal.permissions)}


# -- models and snapshots ----------------------------------------------------------------------

@router.post("/models", status_code=201, tags=["models"])
def create_model(cp: Plane, _: Writer, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    return cp.create_model(str(body.get("name") or ""), str(body.get("description") or ""))


@router.get("/models", tags=["models"])
def list_models(cp: Plane, _: Reader) -> list[dict[str, Any]]:
    return cp.list_models()


@router.post("/snapshots", status_code=201, tags=["snapshots"])
async def create_snapshot(
    request: Request,
    cp: Plane,
    _: Writer,
    model: str,
    version: str | None = None,
    description: str | None = None,
    service_tag: Annotated[list[str] | None, Query()] = None,
    runtime: Annotated[list[str] | None, Query()] = None,
    filename: str = "snapshot.tar.gz",
    location: str | None = None,
    x_content_sha256: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Upload a snapshot archive (.tar.gz or .zip) as the request body, or give its ``location``."""
    from starlette.concurrency import run_in_threadpool

    archive = None
    if location is None:
        archive = await cp.blobs.put_stream(
            request.stream(), limit=cp.limits.max_snapshot_bytes, what=f"snapshot archive {filename}", expected_sha256=x_content_sha256
        )
    return await run_in_threadpool(
        cp.add_snapshot, model=model, archive=archive, archive_name=filename, version=version, description=description,
        service_tags=list(service_tag or ()), runtimes=list(runtime or ()), location=location,
    )


@router.get("/snapshots", tags=["snapshots"])
def list_snapshots(cp: Plane, _: Reader, model: str | None = None) -> list[dict[str, Any]]:
    return cp.list_snapshots(model)


@router.get("/snapshots/{reference}", tags=["snapshots"])
def get_snapshot(cp: Plane, _: Reader, reference: str) -> dict[str, Any]:
    """A snapshot by uuid, or the newest snapshot of a model by the model's name."""
    return cp.get_snapshot(reference)


@router.get("/snapshots/{snapshot_id}/archive", tags=["snapshots"])
def snapshot_archive(cp: Plane, _: Reader, snapshot_id: str) -> Response:
    data, row = cp.snapshot_archive(snapshot_id)
    return Response(data, media_type="application/octet-stream", headers={"X-Content-SHA256": row["archive_sha256"]})


# -- runtimes ----------------------------------------------------------------------------------

@router.post("/runtimes", tags=["runtimes"])
def register_runtime(cp: Plane, principal: Runner, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    return cp.register_runtime(body, principal=principal)


@router.get("/runtimes", tags=["runtimes"])
def list_runtimes(cp: Plane, _: Reader) -> list[dict[str, Any]]:
    return cp.list_runtimes()


@router.post("/runtimes/{runtime_id}/heartbeat", tags=["runtimes"])
def heartbeat(cp: Plane, principal: Runner, runtime_id: str, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    cp.check_runtime_owner(runtime_id, principal)
    return cp.heartbeat(runtime_id, body)


@router.post("/runtimes/{runtime_id}/claim", tags=["runtimes"])
async def claim(cp: Plane, principal: Runner, runtime_id: str, wait: float = 0.0) -> Response:
    """Long poll for the next job assigned to this runtime: 200 with the job, or 204 after ``wait``."""
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(cp.check_runtime_owner, runtime_id, principal)
    job = await cp.claim_async(runtime_id, wait=wait)
    return JSONResponse(job) if job is not None else Response(status_code=204)


@router.post("/jobs/{job_id}/result", tags=["runtimes"])
def report_result(cp: Plane, principal: Runner, job_id: str, runtime_id: str, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    cp.check_runtime_owner(runtime_id, principal)
    return cp.report_result(job_id, runtime_id, body)


@router.post("/jobs/{job_id}/snapshot", status_code=201, tags=["runtimes"])
async def add_trained_snapshot(
    request: Request, cp: Plane, principal: Runner, job_id: str, runtime_id: str, filename: str = "snapshot.tar.gz",
    x_content_sha256: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The new snapshot version a training job wrote, registered for the job's model."""
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(cp.check_runtime_owner, runtime_id, principal)
    archive = await cp.blobs.put_stream(request.stream(), limit=cp.limits.max_snapshot_bytes, what=f"snapshot archive {filename}", expected_sha256=x_content_sha256)
    return await run_in_threadpool(cp.add_trained_snapshot, job_id, runtime_id, archive, filename)


# -- jobs --------------------------------------------------------------------------------------

@router.post("/jobs", status_code=201, tags=["jobs"])
def create_job(
    cp: Plane, principal: Writer, body: Annotated[dict[str, Any], Body()], stage: str | None = None, runtime: str | None = None
) -> dict[str, Any]:
    """This control plane's job request, or a ModelOp Center job JSON as it is."""
    return cp.create_job(body, principal=principal, stage=stage, runtime=runtime)


@router.get("/jobs", tags=["jobs"])
def list_jobs(cp: Plane, _: Reader, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    return cp.list_jobs(status=status, limit=limit)


@router.get("/jobs/{job_id}", tags=["jobs"])
def get_job(cp: Plane, _: Reader, job_id: str) -> dict[str, Any]:
    return cp.get_job(job_id)


@router.post("/jobs/{job_id}/cancel", tags=["jobs"])
def cancel_job(cp: Plane, _: Writer, job_id: str) -> dict[str, Any]:
    return cp.cancel_job(job_id)


@router.get("/jobs/{job_id}/result", tags=["jobs"])
def job_result(cp: Plane, _: Reader, job_id: str) -> dict[str, Any]:
    return cp.job_result(job_id)


@router.get("/jobs/{job_id}/logs", tags=["jobs"])
def job_logs(cp: Plane, _: Reader, job_id: str, tail: int | None = None) -> list[dict[str, Any]]:
    return cp.job_logs(job_id, tail=tail)


@router.get("/notifications", tags=["notifications"])
def notifications(cp: Plane, _: Reader, limit: int = 100, job: str | None = None) -> list[dict[str, Any]]:
    return cp.notifications(limit=limit, job_id=job)


@router.post("/sweep", tags=["admin"])
def sweep(cp: Plane, _: Annotated[Principal, Depends(permission(ADMIN))]) -> dict[str, str]:
    """Run the sweeper now (DOWN runtimes, expired leases, dispatch)."""
    import time

    cp.sweep(time.time())
    return {"status": "swept"}


def create_app(plane_: ControlPlane, tokens: TokenBook, *, routers: tuple[APIRouter, ...] = ()) -> FastAPI:
    """The app: health, the API router, and any further ``routers`` (life cycles, pages)."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        plane_.start()
        try:
            yield
        finally:
            plane_.stop()

    app = FastAPI(
        title="modelop_spark control plane",
        version=__version__,
        description="Models, snapshots, Spark runtimes, jobs and notifications. Every route but /health needs 'Authorization: Bearer <token>'.",
        lifespan=lifespan,
    )
    app.state.plane = plane_
    app.state.tokens = tokens

    @app.exception_handler(ModelOpSparkError)
    async def our_error(_request: Request, exc: ModelOpSparkError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)

    @app.exception_handler(ValueError)
    async def bad_value(_request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"error": {"code": "INVALID_REQUEST", "message": str(exc)}}, status_code=400)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    app.include_router(router)
    for extra in routers:
        app.include_router(extra)
    return app


__all__ = ["API", "create_app", "permission"]
