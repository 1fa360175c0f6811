"""``/notifications``."""

from __future__ import annotations

from fastapi import APIRouter

from modelop_spark.controlplane.datamodels.notifications import Notification
from modelop_spark.controlplane.deps import Plane, Reader, Writer

router = APIRouter(tags=["notifications"])


@router.get("/notifications")
def notifications(cp: Plane, _: Reader, limit: int = 100, job: str | None = None, include_dismissed: bool = True) -> list[Notification]:
    return [Notification.model_validate(n) for n in cp.notifications.recent(limit=limit, job_id=job, include_dismissed=include_dismissed)]


@router.post("/notifications/{notification_id}/dismiss")
def dismiss_notification(cp: Plane, principal: Writer, notification_id: int) -> Notification:
    """Hide a notification from the Notifications pane (it stays listed with ``dismissed_at``)."""
    return Notification.model_validate(cp.notifications.dismiss(notification_id, principal=principal))
