"""How the life cycles join a served control plane: ``install`` is the control plane's extension
(``controlplane.server.build_app(..., extensions=(install,))``; the command line passes it)."""

from __future__ import annotations

from fastapi import FastAPI

from modelop_spark.controlplane.server import ServerSettings
from modelop_spark.controlplane.service import ControlPlane
from modelop_spark.mlc.api import router
from modelop_spark.mlc.lifecycles import LifeCycles
from modelop_spark.mlc.processes import DEFAULT_FOLDER, Catalog


def install(app: FastAPI, plane: ControlPlane, settings: ServerSettings) -> None:
    """Load the processes folder (a bad file stops the start with one line), start the runner
    with the control plane, mount ``/api/v1/mlc``."""
    app.state.lifecycles = LifeCycles(plane, Catalog.load(settings.mlc_dir or DEFAULT_FOLDER), poll_seconds=settings.mlc_poll_seconds)
    app.include_router(router)


__all__ = ["install"]
