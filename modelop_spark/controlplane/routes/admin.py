"""``/whoami`` and ``/sweep``."""

from __future__ import annotations

import time

from fastapi import APIRouter

from modelop_spark.controlplane.datamodels.auth import Identity
from modelop_spark.controlplane.datamodels.notifications import Swept
from modelop_spark.controlplane.deps import Admin, Plane, Reader

router = APIRouter()


@router.get("/whoami", tags=["auth"])
def whoami(principal: Reader) -> Identity:
    return Identity(user=principal.name, roles=sorted(principal.roles), permissions=sorted(principal.permissions))


@router.post("/sweep", tags=["admin"])
def sweep(cp: Plane, _: Admin) -> Swept:
    """Run the sweeper now (DOWN runtimes, expired leases, dispatch)."""
    cp.sweeper.sweep(time.time())
    return Swept(status="swept")
