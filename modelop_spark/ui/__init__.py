"""The Command Center: web pages served by the control plane itself at ``/``.

``include_ui(app)`` adds the pages to a control-plane app: a login page
that takes a token, Home, Jobs (+ the Create Batch Job wizard), job detail, Models/snapshots with
their Model Life Cycle, and Runtimes. Server-side Jinja2 templates, htmx (vendored under
``static/``, ``make ui-assets``) for the live parts; every action is an API call made in process as
the logged-in user. ``install`` is the control plane's extension that mounts them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException

from modelop_spark.controlplane.server import ServerSettings
from modelop_spark.controlplane.service import ControlPlane
from modelop_spark.ui.api import ApiRefused
from modelop_spark.ui.routes import DEFAULT_MAX_UPLOAD_BYTES, page_error, refused_page, ui_router
from modelop_spark.ui.sessions import SessionBook


def include_ui(app: Any, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, sessions: SessionBook | None = None) -> Any:
    app.state.ui_sessions = sessions or SessionBook()
    app.state.ui_max_upload_bytes = max_upload_bytes
    app.include_router(ui_router())
    app.add_exception_handler(HTTPException, page_error)
    app.add_exception_handler(ApiRefused, refused_page)
    return app


def install(app: FastAPI, plane: ControlPlane, settings: ServerSettings) -> None:
    """The control plane's extension (``build_app(..., extensions=(install,))``; the command line
    passes it): the pages at ``/``. An upload becomes the job's embedded data, so the job limit
    (``--max-job-mb``) is the upload limit."""
    include_ui(app, max_upload_bytes=settings.limits.max_job_bytes)


__all__ = ["include_ui", "install"]
