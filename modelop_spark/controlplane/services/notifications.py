"""Notifications: what the control plane told its users (runtime DOWN, no matching runtime, a job
failed, a life cycle's step), listed newest first and dismissable."""

from __future__ import annotations

import time
from typing import Any

from modelop_spark.controlplane.auth import Principal
from modelop_spark.controlplane.notifications import as_resource
from modelop_spark.controlplane.services.context import Context


class Notifications:
    def __init__(self, context: Context) -> None:
        self.store = context.store

    def recent(self, *, limit: int = 100, job_id: str | None = None, include_dismissed: bool = True) -> list[dict[str, Any]]:
        return [as_resource(n) for n in self.store.notifications(limit=limit, job_id=job_id, include_dismissed=include_dismissed)]

    def dismiss(self, notification_id: int, *, principal: Principal) -> dict[str, Any]:
        return as_resource(self.store.dismiss_notification(notification_id, by=principal.name, now=time.time()))


__all__ = ["Notifications"]
