"""``/models``."""

from __future__ import annotations

from fastapi import APIRouter

from modelop_spark.controlplane.datamodels.models import Model, ModelCreate
from modelop_spark.controlplane.deps import IdempotencyKey, Plane, Reader, Writer
from modelop_spark.controlplane.services.idempotency import Idempotent, fingerprint

router = APIRouter(tags=["models"])


@router.post("/models", status_code=201)
def create_model(cp: Plane, principal: Writer, body: ModelCreate, key: IdempotencyKey = None) -> Model:
    name, description = str(body.name or ""), str(body.description or "")
    once = Idempotent(principal.name, "model", key, fingerprint([name, description])) if key else None
    return Model.model_validate(cp.models.create(name, description, key=once))


@router.get("/models")
def list_models(cp: Plane, _: Reader) -> list[Model]:
    return [Model.model_validate(m) for m in cp.models.all()]
