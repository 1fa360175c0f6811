"""``/snapshots``: upload (the archive as the body) or register a location; read them back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from modelop_spark.controlplane.datamodels.snapshots import ARCHIVE_BODY, ARCHIVE_RESPONSE, Snapshot
from modelop_spark.controlplane.deps import IdempotencyKey, Plane, Reader, Writer
from modelop_spark.controlplane.services.idempotency import Idempotent, fingerprint
from modelop_spark.vocabulary import DEFAULT_ARCHIVE_NAME

router = APIRouter(tags=["snapshots"])


@router.post("/snapshots", status_code=201, openapi_extra=ARCHIVE_BODY)
async def create_snapshot(
    request: Request,
    cp: Plane,
    principal: Writer,
    model: str,
    key: IdempotencyKey = None,
    version: str | None = None,
    description: str | None = None,
    service_tag: Annotated[list[str] | None, Query()] = None,
    runtime: Annotated[list[str] | None, Query()] = None,
    filename: str = DEFAULT_ARCHIVE_NAME,
    location: str | None = None,
    test_data: str | None = None,
    x_content_sha256: Annotated[str | None, Header()] = None,
) -> Snapshot:
    """Upload a snapshot archive (.tar.gz or .zip) as the request body, or give its ``location``.
    ``test_data``: a URL, or a file's path inside the archive (the life cycle's test data)."""
    archive = None
    if location is None:
        archive = await cp.blobs.put_stream(
            request.stream(), limit=cp.limits.max_snapshot_bytes, what=f"snapshot archive {filename}", expected_sha256=x_content_sha256
        )
    asked = {
        "model": model, "archive_name": filename, "version": version, "description": description, "service_tags": list(service_tag or ()),
        "runtimes": list(runtime or ()), "location": location, "test_data": test_data,
    }
    once = Idempotent(principal.name, "snapshot", key, fingerprint({**asked, "archive": archive.sha256 if archive else None})) if key else None
    created = await run_in_threadpool(cp.snapshots.add, key=once, archive=archive, **asked)
    return Snapshot.model_validate(created)


@router.get("/snapshots")
def list_snapshots(cp: Plane, _: Reader, model: str | None = None) -> list[Snapshot]:
    return [Snapshot.model_validate(s) for s in cp.snapshots.all(model)]


@router.get("/snapshots/{reference}")
def get_snapshot(cp: Plane, _: Reader, reference: str) -> Snapshot:
    """A snapshot by uuid, or the newest snapshot of a model by the model's name."""
    return Snapshot.model_validate(cp.snapshots.get(reference))


@router.get("/snapshots/{snapshot_id}/archive", response_class=Response, responses=ARCHIVE_RESPONSE)
def snapshot_archive(cp: Plane, _: Reader, snapshot_id: str) -> Response:
    data, row = cp.snapshots.archive(snapshot_id)
    return Response(data, media_type="application/octet-stream", headers={"X-Content-SHA256": row["archive_sha256"]})
