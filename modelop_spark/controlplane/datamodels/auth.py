"""``/whoami``."""

from __future__ import annotations

from modelop_spark.controlplane.datamodels.common import Resource


class Identity(Resource):
    user: str
    roles: list[str]
    permissions: list[str]


class Health(Resource):
    status: str
    version: str


__all__ = ["Health", "Identity"]
