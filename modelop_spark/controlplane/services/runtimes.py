"""Runtimes: registration (the agent's, by name), an admin's tags, and heartbeats (liveness,
lease renewal, progress and log tails in one call). Only the user that registered a runtime, or
an admin, speaks for it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from modelop_spark._redact import redact, redacted_logger
from modelop_spark.controlplane import leases, resources
from modelop_spark.controlplane.auth import ADMIN, Forbidden, Principal
from modelop_spark.controlplane.matching import SPARK_RUNTIME_TYPE
from modelop_spark.controlplane.services.context import Context
from modelop_spark.controlplane.services.dispatch import Dispatch
from modelop_spark.controlplane.store import NotFound, RunningReport
from modelop_spark.errors import SpecError

log = redacted_logger("modelop_spark.controlplane")

TAG_KEYS = ("stage_tags", "service_tags")
OWNER_KNOWN_SECONDS = 30.0  # how long a runtime's owner is trusted without reading it again


class Runtimes:
    def __init__(self, context: Context, dispatch: Dispatch) -> None:
        self.store = context.store
        self.timing = context.timing
        self.dispatch = dispatch
        self._owners: dict[str, tuple[str | None, float]] = {}  # runtime id -> (who registered it, known until)

    def check_owner(self, runtime_id: str, principal: Principal) -> None:
        """Only the user that registered a runtime (or an admin) speaks for it: one runtime's
        token cannot claim, renew or report another runtime's jobs. The owner is remembered for
        ``OWNER_KNOWN_SECONDS`` (a long poll every few seconds per runtime would otherwise read it
        each time); a registration here forgets it at once."""
        known = self._owners.get(runtime_id)
        if known is None or known[1] < time.monotonic():
            owner = (self.store.get_runtime(runtime_id)["details"] or {}).get("registered_by")
            known = (owner, time.monotonic() + OWNER_KNOWN_SECONDS)
            self._owners[runtime_id] = known
        owner = known[0]
        if not principal.can(ADMIN) and owner != principal.name:
            raise Forbidden(f"user {principal.name} did not register runtime {runtime_id} and may not act for it")

    def _named(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.store.list_runtimes() if r["name"] == name), None)

    def register(self, body: Mapping[str, Any], *, principal: Principal | None = None) -> dict[str, Any]:
        name = str(body.get("name") or "").strip()
        if not name:
            raise SpecError("name: a runtime needs a name")
        existing = self._named(name)
        owner = ((existing or {}).get("details") or {}).get("registered_by")
        if existing and principal is not None and not principal.can(ADMIN) and owner != principal.name:
            raise Forbidden(f"runtime {name} was registered by another user; choose another name")
        values = {
            "type": body.get("type") or SPARK_RUNTIME_TYPE,
            "endpoint": body.get("endpoint"),
            **_tags_and_details(body, existing, by=principal.name if principal else None),
            "capacity": max(int(body.get("capacity") or 1), 1),
        }
        row, came_up = self.store.register_runtime(name=name, values=values, now=time.time())
        self._owners.pop(row["id"], None)
        if came_up:
            log.info("runtime %s registered (%s)", name, ", ".join(values["stage_tags"] + values["service_tags"]))
        self.dispatch.assign(time.time())
        return {"runtime": resources.runtime({**row, "jobs_running": 0}), "timing": self.timing.to_dict()}

    def all(self) -> list[dict[str, Any]]:
        return [resources.runtime(r) for r in self.store.list_runtimes()]

    def set_tags(self, runtime_id: str, body: Mapping[str, Any], *, principal: Principal) -> dict[str, Any]:
        """An admin's stage and service tags for a runtime; kept when its agent registers again.
        Waiting jobs are matched again at once."""
        tags = {key: _tag_list(body.get(key), key=key) for key in TAG_KEYS}
        self.store.set_runtime_tags(runtime_id, **tags, by=principal.name)
        log.info("runtime %s tags set by %s: %s", runtime_id, principal.name, ", ".join(tags["stage_tags"] + tags["service_tags"]))
        self.dispatch.assign(time.time())
        return next(r for r in self.all() if r["id"] == runtime_id)

    def heartbeat(self, runtime_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Liveness, lease renewal, progress and log tails in one call (one transaction); answers
        which running jobs to cancel and which the runtime no longer holds."""
        now = time.time()
        running = [
            RunningReport(
                job_id=str(r["job_id"]), attempt=int(r.get("attempt", 0)),
                progress=dict(r["progress"]) if r.get("progress") is not None else None,
                lines=tuple(redact(str(line)) for line in r.get("log") or ()),
            )
            for r in body.get("running") or () if r.get("job_id")
        ]
        beat = self.store.heartbeat(runtime_id, now, lease_until=leases.renewed_until(now, self.timing), running=running)
        if beat is None:
            raise NotFound(f"runtime {runtime_id} is not registered here; register again")
        return {"cancel": beat.cancel, "lost": beat.lost, "timing": self.timing.to_dict()}


def _tags_and_details(body: Mapping[str, Any], existing: Mapping[str, Any] | None, *, by: str | None) -> dict[str, Any]:
    """The agent's tags and details; an admin's tags (``tags_set_by``) outlive its restarts."""
    details: dict[str, Any] = {**dict(body.get("details") or {}), "registered_by": by}
    stage_tags = [str(t) for t in body.get("stage_tags") or ()]
    service_tags = [str(t) for t in body.get("service_tags") or ()]
    edited_by = ((existing or {}).get("details") or {}).get("tags_set_by")
    if existing is not None and edited_by:
        stage_tags, service_tags = list(existing["stage_tags"]), list(existing["service_tags"])
        details["tags_set_by"] = edited_by
    return {"stage_tags": stage_tags, "service_tags": service_tags, "details": details}


def _tag_list(value: Any, *, key: str) -> list[str]:
    """Tags from a list or a comma-separated string: trimmed, no empties, no duplicates."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{key}: expected a list of tags (or 'DEV, cc-fraud'), found {value!r}")
    return list(dict.fromkeys(v.strip() for v in value if v.strip()))


__all__ = ["Runtimes"]
