"""``/runtimes`` and what a runtime sends for its jobs: register, tags, heartbeat; the claim and
the result live in ``claims.py`` (the dispatch room's routes)."""

from __future__ import annotations

from fastapi import APIRouter

from modelop_spark.controlplane.datamodels.runtimes import (
    Heartbeat,
    HeartbeatAnswer,
    Registered,
    Runtime,
    RuntimeRegistration,
    RuntimeTags,
)
from modelop_spark.controlplane.deps import Admin, Plane, Reader, Runner

router = APIRouter(tags=["runtimes"])


@router.post("/runtimes")
def register_runtime(cp: Plane, principal: Runner, body: RuntimeRegistration) -> Registered:
    return Registered.model_validate(cp.runtimes.register(body.model_dump(exclude_unset=True), principal=principal))


@router.get("/runtimes")
def list_runtimes(cp: Plane, _: Reader) -> list[Runtime]:
    return [Runtime.model_validate(r) for r in cp.runtimes.all()]


@router.put("/runtimes/{runtime_id}/tags")
def set_runtime_tags(cp: Plane, principal: Admin, runtime_id: str, body: RuntimeTags) -> Runtime:
    """An admin sets a runtime's ``stage_tags`` and ``service_tags``; they outlive the agent's
    re-registration. Waiting jobs are matched again."""
    return Runtime.model_validate(cp.runtimes.set_tags(runtime_id, body.model_dump(exclude_unset=True), principal=principal))


@router.post("/runtimes/{runtime_id}/heartbeat")
def heartbeat(cp: Plane, principal: Runner, runtime_id: str, body: Heartbeat) -> HeartbeatAnswer:
    cp.runtimes.check_owner(runtime_id, principal)
    return HeartbeatAnswer.model_validate(cp.runtimes.heartbeat(runtime_id, body.model_dump(exclude_unset=True)))
