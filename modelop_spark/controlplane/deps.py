"""What every route depends on, defined once for the control plane's routes and for the routers
that join it (the life cycles, the pages): the caller's permission and the ``ControlPlane``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from modelop_spark.controlplane.auth import ADMIN, APPROVE, READ, RUN, WRITE, Forbidden, Principal
from modelop_spark.controlplane.service import ControlPlane

API = "/api/v1"


def permission(needed: str) -> Callable[..., Principal]:
    """A dependency: the caller, when their token grants ``needed``; 401/403 otherwise."""

    def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
        principal = request.app.state.tokens.identify(authorization)
        if not principal.can(needed):
            raise Forbidden(f"user {principal.name} (roles {', '.join(sorted(principal.roles))}) may not {needed}; ask an admin for a role that grants it")
        return principal

    return check


def plane(request: Request) -> ControlPlane:
    return request.app.state.plane


Plane = Annotated[ControlPlane, Depends(plane)]
Reader = Annotated[Principal, Depends(permission(READ))]
Writer = Annotated[Principal, Depends(permission(WRITE))]
Runner = Annotated[Principal, Depends(permission(RUN))]
Approver = Annotated[Principal, Depends(permission(APPROVE))]
Admin = Annotated[Principal, Depends(permission(ADMIN))]
# A creation's Idempotency-Key: the same key again returns what the first request created.
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="send the same key again to get what the first request created"),
]

__all__ = ["API", "Admin", "Approver", "IdempotencyKey", "Plane", "Reader", "Runner", "Writer", "permission", "plane"]
