"""Rows -> the JSON resources the API returns: ISO times, no internal bookkeeping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def model(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"], "created_at": iso(row["created_at"])}


def snapshot(row: dict[str, Any], *, model_name: str | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "model_id": row["model_id"],
        "model": model_name,
        "version": row["version"],
        "description": row["description"],
        "service_tags": row["service_tags"],
        "runtime_type": row["runtime_type"],
        "runtimes": row["runtimes"],
        "archive": {"name": row["archive_name"], "sha256": row["archive_sha256"], "size": row["archive_size"]} if row["archive_sha256"] else None,
        "location": row["location"],
        "manifest": row["manifest"],
        "created_at": iso(row["created_at"]),
    }


def runtime(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "endpoint": row["endpoint"],
        "stage_tags": row["stage_tags"],
        "service_tags": row["service_tags"],
        "capacity": row["capacity"],
        "status": row["status"],
        "jobs_running": row.get("jobs_running", 0),
        "details": row["details"],
        "registered_at": iso(row["registered_at"]),
        "last_heartbeat": iso(row["last_heartbeat"]),
    }


def job(row: dict[str, Any], *, runtime_names: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "job_type": row["job_type"],
        "status": row["status"],
        "snapshot_id": row["snapshot_id"],
        "model": row["model_name"],
        "stage": row["stage"],
        "service_tags": row["service_tags"],
        "runtime_requested": row["runtime_name"],
        "runtime_id": row["runtime_id"],
        "runtime": (runtime_names or {}).get(row["runtime_id"]) if row["runtime_id"] else None,
        "schema_check": row["schema_check"],
        "inputs": row["inputs"],
        "outputs": row["outputs"],
        "format": row["document_format"],
        "attempt": row["attempt"],
        "cancel_requested": row["cancel_requested"],
        "progress": row["progress"],
        "error": row["error"],
        "has_result": row["result_sha256"] is not None,
        "created_by": row["created_by"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "started_at": iso(row["started_at"]),
        "ended_at": iso(row["ended_at"]),
    }


def log_line(row: dict[str, Any]) -> dict[str, Any]:
    return {"at": iso(row["at"]), "attempt": row["attempt"], "line": row["line"]}
