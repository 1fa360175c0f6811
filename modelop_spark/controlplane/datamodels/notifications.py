"""Notifications."""

from __future__ import annotations

from modelop_spark.controlplane.datamodels.common import Resource


class Notification(Resource):
    id: int
    at: str | None
    kind: str
    severity: str
    message: str
    job_id: str | None
    runtime_id: str | None
    dismissed_at: str | None
    dismissed_by: str | None


class Swept(Resource):
    status: str


__all__ = ["Notification", "Swept"]
