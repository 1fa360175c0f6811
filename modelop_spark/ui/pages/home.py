"""Home: job counts, runtimes up and down, notifications, the newest jobs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from modelop_spark.controlplane.states import RuntimeStatus
from modelop_spark.ui.pages.common import api, back, checked, page, session_of

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    session = session_of(request)
    async with api(request, session) as client:
        counts = await client.get("/jobs/counts")
        runtimes = await client.get("/runtimes")
        notes = await client.get("/notifications", limit=20, include_dismissed="false")
        recent = await client.get("/jobs", limit=10)
    up = sum(1 for r in runtimes if r["status"] == RuntimeStatus.UP)
    return page(request, "home.html", session, nav="home", counts=counts, up=up, down=len(runtimes) - up, notifications=notes, jobs=recent)


@router.post("/notifications/{notification_id}/dismiss")
async def dismiss(request: Request, notification_id: int) -> Response:
    session, _ = await checked(request)
    async with api(request, session) as client:
        await client.post(f"/notifications/{notification_id}/dismiss")
        notes = await client.get("/notifications", limit=20, include_dismissed="false")
    if request.headers.get("HX-Request"):
        return page(request, "_notifications.html", session, notifications=notes)
    return back("/")
