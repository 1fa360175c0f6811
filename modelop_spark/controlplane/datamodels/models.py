"""Models."""

from __future__ import annotations

from pydantic import Field

from modelop_spark.controlplane.datamodels.common import Body, Resource


class ModelCreate(Body):
    name: str = Field("", description="the model's unique name")
    description: str | None = ""


class Model(Resource):
    id: str
    name: str
    description: str
    created_at: str | None


__all__ = ["Model", "ModelCreate"]
