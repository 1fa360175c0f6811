"""Runtimes: each with its running jobs; an admin edits their tags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from modelop_spark.ui.api import ApiRefused
from modelop_spark.ui.pages.common import api, back, checked, page, session_of

router = APIRouter(include_in_schema=False)


@router.get("/runtimes", response_class=HTMLResponse)
async def runtimes(request: Request, error: str | None = None) -> HTMLResponse:
    session = session_of(request)
    async with api(request, session) as client:
        found = await client.get("/runtimes")
        running = await client.get("/jobs", status="RUNNING", limit=200)
    by_runtime: dict[str, list[dict[str, Any]]] = {}
    for job in running:
        by_runtime.setdefault(job["runtime_id"], []).append(job)
    return page(request, "runtimes.html", session, nav="runtimes", runtimes=found, running=by_runtime, error=error)


@router.post("/runtimes/{runtime_id}/tags")
async def runtime_tags(request: Request, runtime_id: str) -> Response:
    session, form = await checked(request)
    tags = {"stage_tags": str(form.get("stage_tags") or ""), "service_tags": str(form.get("service_tags") or "")}
    try:
        async with api(request, session) as client:
            await client.put(f"/runtimes/{runtime_id}/tags", tags)
    except ApiRefused as exc:  # shown on the runtimes page, beside the form
        return back("/runtimes", error=exc.message)
    return back("/runtimes")
