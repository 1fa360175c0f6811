"""The HTTP app: health, the ``/api/v1`` routes (``routes/``, one module per resource), and our
errors as ``{"error": {"code", "message"}, "detail"}`` with the status the error class names.

The OpenAPI document is at ``/openapi.json`` (the browsable docs at ``/docs``); every body is a
declared model (``datamodels/``). More routers (the model life cycles, the Command Center pages)
mount on the same app and use the same dependencies (``deps.py``) and the same ``ControlPlane``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from modelop_spark import __version__
from modelop_spark.controlplane.auth import TokenBook
from modelop_spark.controlplane.datamodels.auth import Health
from modelop_spark.controlplane.deps import API, permission
from modelop_spark.controlplane.routes import router
from modelop_spark.controlplane.service import ControlPlane
from modelop_spark.errors import ModelOpSparkError


def _error(code: str, message: str, status: int) -> JSONResponse:
    # "detail": the one line, where FastAPI's own errors put it too
    return JSONResponse({"error": {"code": code, "message": message}, "detail": message}, status_code=status)


def create_app(plane_: ControlPlane, tokens: TokenBook, *, routers: tuple[APIRouter, ...] = ()) -> FastAPI:
    """The app: health, the API router, and any further ``routers`` (life cycles, pages)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        plane_.start()
        try:
            yield
        finally:
            plane_.stop()

    app = FastAPI(
        title="modelop_spark control plane",
        version=__version__,
        description="Models, snapshots, Spark runtimes, jobs and notifications. Every route but /health needs 'Authorization: Bearer <token>'.",
        lifespan=lifespan,
    )
    app.state.plane = plane_
    app.state.tokens = tokens

    @app.exception_handler(ModelOpSparkError)
    async def our_error(_request: Request, exc: ModelOpSparkError) -> JSONResponse:
        return _error(exc.code, exc.message, exc.http_status)

    @app.exception_handler(ValueError)
    async def bad_value(_request: Request, exc: ValueError) -> JSONResponse:
        return _error("INVALID_REQUEST", str(exc), 400)

    @app.get("/health", tags=["health"])
    def health() -> Health:
        return Health(status="ok", version=__version__)

    app.include_router(router)
    for extra in routers:
        app.include_router(extra)
    return app


__all__ = ["API", "create_app", "permission"]
