"""Snapshots: the resource, and what a runtime is told of a claimed job's snapshot."""

from __future__ import annotations

from typing import Any

from modelop_spark.controlplane.datamodels.common import Resource


class ArchiveInfo(Resource):
    name: str | None
    sha256: str
    size: int | None


class Snapshot(Resource):
    id: str
    model_id: str
    model: str | None
    version: str
    description: str | None
    service_tags: list[str]
    runtime_type: str | None
    runtimes: list[str]
    archive: ArchiveInfo | None
    location: str | None
    manifest: dict[str, Any] | None
    stage: str | None
    test_data: dict[str, str] | None
    parent_id: str | None
    trained_by_job: str | None
    created_at: str | None


# the request body of POST /snapshots and POST /jobs/{id}/snapshot: the archive's bytes
ARCHIVE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary", "title": "SnapshotArchive"}}},
        "description": "the snapshot archive (.tar.gz or .zip); none when a location is given",
    }
}

ARCHIVE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary", "title": "SnapshotArchive"}}},
        "description": "the stored archive; its sha256 in X-Content-SHA256",
    }
}

__all__ = ["ARCHIVE_BODY", "ARCHIVE_RESPONSE", "ArchiveInfo", "Snapshot"]
