"""``/models``."""

from __future__ import annotations

from fastapi import APIRouter

from modelop_spark.controlplane.datamodels.models import Model, ModelCreate
from modelop_spark.controlplane.deps import Plane, Reader, Writer

router = APIRouter(tags=["models"])


@router.post("/models", status_code=201)
def create_model(cp: Plane, _: Writer, body: ModelCreate) -> Model:
    return Model.model_validate(cp.models.create(str(body.name or ""), str(body.description or "")))


@router.get("/models")
def list_models(cp: Plane, _: Reader) -> list[Model]:
    return [Model.model_validate(m) for m in cp.models.all()]
