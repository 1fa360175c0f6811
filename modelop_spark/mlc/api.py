"""The life-cycle routes under ``/api/v1/mlc``: thin over ``LifeCycles`` and the catalog.

Reading needs ``read``; starting a process ``write``; approving or rejecting ``approve`` (and the
stage's role, when the process names one).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response

from modelop_spark.controlplane.app import API, permission
from modelop_spark.controlplane.auth import APPROVE, READ, WRITE, Principal
from modelop_spark.mlc.diagram import render_svg
from modelop_spark.mlc.lifecycles import LifeCycles

router = APIRouter(prefix=API + "/mlc", tags=["life cycles"])


def lifecycles(request: Request) -> LifeCycles:
    return request.app.state.lifecycles


Cycles = Annotated[LifeCycles, Depends(lifecycles)]
Reader = Annotated[Principal, Depends(permission(READ))]
Writer = Annotated[Principal, Depends(permission(WRITE))]
Approver = Annotated[Principal, Depends(permission(APPROVE))]


@router.get("/processes")
def processes(mlc: Cycles, _: Reader) -> list[dict[str, Any]]:
    """The deployed processes: what each handles and its stages."""
    return [p.to_dict() for p in mlc.catalog.processes.values()]


@router.get("/processes/{name}/diagram.svg")
def diagram(mlc: Cycles, _: Reader, name: str, highlight: str | None = None) -> Response:
    """The process drawn from its BPMN DI; the ``highlight`` element has class ``current``."""
    return Response(render_svg(mlc.catalog.bpmn(name), highlight), media_type="image/svg+xml")


@router.get("/instances")
def instances(mlc: Cycles, _: Reader, snapshot: str | None = None) -> list[dict[str, Any]]:
    return mlc.list(snapshot_id=snapshot)


@router.get("/instances/{instance_id}")
def instance(mlc: Cycles, _: Reader, instance_id: str) -> dict[str, Any]:
    return mlc.view(instance_id)


@router.post("/instances/{instance_id}/approve")
def approve(mlc: Cycles, principal: Approver, instance_id: str, body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
    return mlc.decide(instance_id, principal=principal, approve=True, comment=(body or {}).get("comment"))


@router.post("/instances/{instance_id}/reject")
def reject(mlc: Cycles, principal: Approver, instance_id: str, body: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
    return mlc.decide(instance_id, principal=principal, approve=False, comment=(body or {}).get("comment"))


@router.post("/start", status_code=201)
def start(mlc: Cycles, principal: Writer, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Start a process whose trigger is ``start`` (the re-train) for a model's newest snapshot."""
    return mlc.start_process(str(body.get("process") or ""), model=str(body.get("model") or ""), data=body.get("data"), principal=principal)


__all__ = ["router"]
