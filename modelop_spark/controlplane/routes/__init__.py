"""The ``/api/v1`` routes, one module per resource (as Airflow's ``routes/public``): each route
checks the caller's permission (``deps.py``), calls one room of the ``ControlPlane`` and returns
its declared response model."""

from __future__ import annotations

from fastapi import APIRouter

from modelop_spark.controlplane.datamodels.common import ERRORS
from modelop_spark.controlplane.deps import API
from modelop_spark.controlplane.routes import (
    admin,
    claims,
    jobs,
    models,
    notifications,
    runtimes,
    snapshots,
)

router = APIRouter(prefix=API, responses=ERRORS)
for module in (admin, models, snapshots, runtimes, claims, jobs, notifications):
    router.include_router(module.router)

__all__ = ["router"]
