"""Notifications: job errors, jobs no runtime matches, runtimes gone DOWN.

Each is stored (``moc notifications``), logged, and POSTed as JSON to the configured webhook (the
hook for Jira/ServiceNow-style ticketing) from a background thread, so a slow or dead webhook
never holds up a request. Webhook deliveries retry a few times with backoff, then are logged and
dropped: the stored notification stays the record.
"""

from __future__ import annotations

import queue
import threading
import time
from enum import StrEnum
from typing import Any

from modelop_spark._redact import redact, redacted_logger
from modelop_spark.controlplane.resources import iso
from modelop_spark.controlplane.store import Store

log = redacted_logger("modelop_spark.controlplane.notifications")


class Kind(StrEnum):
    JOB_ERROR = "JOB_ERROR"
    NO_MATCHING_RUNTIME = "NO_MATCHING_RUNTIME"
    RUNTIME_DOWN = "RUNTIME_DOWN"
    MLC_FAILED = "MLC_FAILED"  # a life cycle's test failed (the DMN rule's reason) or a step failed
    MLC_REJECTED = "MLC_REJECTED"
    MLC_APPROVAL_NEEDED = "MLC_APPROVAL_NEEDED"
    MLC_NOTICE = "MLC_NOTICE"


SEVERITY = {
    Kind.JOB_ERROR: "ERROR", Kind.NO_MATCHING_RUNTIME: "WARNING", Kind.RUNTIME_DOWN: "ERROR",
    Kind.MLC_FAILED: "ERROR", Kind.MLC_REJECTED: "WARNING", Kind.MLC_APPROVAL_NEEDED: "INFO", Kind.MLC_NOTICE: "INFO",
}


def as_resource(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "at": iso(row["at"])}


class Notifier:
    def __init__(self, store: Store, *, webhook: str | None = None, webhook_timeout: float = 5.0) -> None:
        self.store = store
        self.webhook = webhook
        self.webhook_timeout = webhook_timeout
        self._outgoing: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=1000)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.webhook and self._thread is None:
            self._thread = threading.Thread(target=self._deliver_all, name="webhook", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._outgoing.put(None)
            self._thread.join(timeout=self.webhook_timeout * 2)
            self._thread = None

    def notify(self, kind: Kind, message: str, *, job_id: str | None = None, runtime_id: str | None = None) -> dict[str, Any]:
        row = self.store.add_notification(
            kind=kind, severity=SEVERITY[kind], message=redact(message), now=time.time(), job_id=job_id, runtime_id=runtime_id
        )
        resource = as_resource(row)
        log.warning("notification %s: %s", kind, resource["message"], extra={"notification": resource})
        if self.webhook:
            try:
                self._outgoing.put_nowait(resource)
            except queue.Full:
                log.error("webhook queue full; notification %s not posted", row["id"])
        return resource

    def _deliver_all(self) -> None:
        import httpx

        with httpx.Client(timeout=self.webhook_timeout) as client:
            while (item := self._outgoing.get()) is not None:
                self._deliver(client, item)

    def _deliver(self, client: Any, item: dict[str, Any]) -> None:
        import httpx
        from tenacity import retry, stop_after_attempt, wait_exponential

        @retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=4), reraise=True)
        def post() -> None:
            client.post(self.webhook, json=item).raise_for_status()

        try:
            post()
        except httpx.HTTPError as exc:
            log.error("webhook: notification %s not delivered: %s", item["id"], exc)


__all__ = ["Kind", "Notifier"]
