"""The Command Center's pages, assembled: one router per page group (``ui/pages/``), each a thin
set of handlers that call the API in process (``api.InProcessApi``) as the logged-in user and
render Jinja2 templates; htmx swaps the live parts.

Every POST needs the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``); without it the request is refused with 403 and nothing changes. An API refusal
a page does not handle itself becomes the error page (``pages/common.py refused_page``).
"""

from __future__ import annotations

from fastapi import APIRouter

from modelop_spark.ui.pages import auth, home, jobs, models, runtimes, wizard
from modelop_spark.ui.pages.common import DEFAULT_MAX_UPLOAD_BYTES, page_error, refused_page

# the wizard's /jobs/new before the job pages' /jobs/{job_id}
PAGE_GROUPS = (auth, home, wizard, jobs, models, runtimes)


def ui_router() -> APIRouter:
    """The pages; ``include_ui(app)`` mounts them with their session book and error pages."""
    router = APIRouter(include_in_schema=False)
    for group in PAGE_GROUPS:
        router.include_router(group.router)
    return router


__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "page_error", "refused_page", "ui_router"]
