"""The life-cycle routes under ``/api/v1/mlc``: thin over ``LifeCycles`` and the catalog.

Reading needs ``read``; starting a process ``write``; approving or rejecting ``approve`` (and the
stage's role, when the process names one).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from modelop_spark.controlplane.datamodels.common import ERRORS
from modelop_spark.controlplane.deps import API, Approver, Reader, Writer
from modelop_spark.mlc.datamodels import Decision, Instance, Process, StartRequest
from modelop_spark.mlc.diagram import render_svg
from modelop_spark.mlc.lifecycles import LifeCycles

router = APIRouter(prefix=API + "/mlc", tags=["life cycles"], responses=ERRORS)

SVG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/svg+xml": {"schema": {"type": "string", "title": "ProcessDiagram"}}}, "description": "the diagram"}}


def lifecycles(request: Request) -> LifeCycles:
    return request.app.state.lifecycles


Cycles = Annotated[LifeCycles, Depends(lifecycles)]


@router.get("/processes")
def processes(mlc: Cycles, _: Reader) -> list[Process]:
    """The deployed processes: what each handles and its stages."""
    return [Process.model_validate(p.to_dict()) for p in mlc.catalog.processes.values()]


@router.get("/processes/{name}/diagram.svg", response_class=Response, responses=SVG)
def diagram(mlc: Cycles, _: Reader, name: str, highlight: str | None = None) -> Response:
    """The process drawn from its BPMN DI; the ``highlight`` element has class ``current``."""
    return Response(render_svg(mlc.catalog.bpmn(name), highlight), media_type="image/svg+xml")


@router.get("/instances")
def instances(mlc: Cycles, _: Reader, snapshot: str | None = None) -> list[Instance]:
    return [Instance.model_validate(i) for i in mlc.list(snapshot_id=snapshot)]


@router.get("/instances/{instance_id}")
def instance(mlc: Cycles, _: Reader, instance_id: str) -> Instance:
    return Instance.model_validate(mlc.view(instance_id))


@router.post("/instances/{instance_id}/approve")
def approve(mlc: Cycles, principal: Approver, instance_id: str, body: Decision | None = None) -> Instance:
    return Instance.model_validate(mlc.decide(instance_id, principal=principal, approve=True, comment=body.comment if body else None))


@router.post("/instances/{instance_id}/reject")
def reject(mlc: Cycles, principal: Approver, instance_id: str, body: Decision | None = None) -> Instance:
    return Instance.model_validate(mlc.decide(instance_id, principal=principal, approve=False, comment=body.comment if body else None))


@router.post("/start", status_code=201)
def start(mlc: Cycles, principal: Writer, body: StartRequest) -> Instance:
    """Start a process whose trigger is ``start`` (the re-train) for a model's newest snapshot."""
    return Instance.model_validate(mlc.start_process(body.process, model=body.model, data=body.data, principal=principal))


__all__ = ["router"]
