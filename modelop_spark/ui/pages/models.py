"""Models with their snapshots, a snapshot's page (versions, jobs, lineage, life cycles), the
life cycle's diagram, and approvals."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from modelop_spark.ui import views
from modelop_spark.ui.api import ApiRefused, InProcessApi
from modelop_spark.ui.pages.common import api, back, checked, local_path, page, session_of

router = APIRouter(include_in_schema=False)

DECISIONS = ("approve", "reject")


@router.get("/models", response_class=HTMLResponse)
async def models(request: Request) -> HTMLResponse:
    session = session_of(request)
    async with api(request, session) as client:
        found = await client.get("/models")
        snapshots = await client.get("/snapshots")
    by_model: dict[str, list[dict[str, Any]]] = {}
    for snapshot in snapshots:
        by_model.setdefault(snapshot["model_id"], []).append(snapshot)
    return page(request, "models.html", session, nav="models", models=found, snapshots=by_model)


@router.get("/snapshots/{snapshot_id}", response_class=HTMLResponse)
async def snapshot_page(request: Request, snapshot_id: str, error: str | None = None) -> HTMLResponse:
    session = session_of(request)
    async with api(request, session) as client:
        snapshot = await client.get(f"/snapshots/{snapshot_id}")
        versions = await client.get("/snapshots", model=snapshot["model"])
        jobs_run = [j for j in await client.get("/jobs", model=snapshot["model"], limit=50) if j["snapshot_id"] == snapshot["id"]][:10]
        instances, mlc_error = await _life_cycles(client, snapshot["id"])
    return page(request, "snapshot.html", session, nav="models", snapshot=snapshot, versions=versions, jobs=jobs_run,
                lineage=views.lineage(snapshot), instances=instances, mlc_error=mlc_error, error=error)


async def _life_cycles(client: InProcessApi, snapshot_id: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The snapshot's life-cycle instances (None when this control plane has no life cycles),
    and the API's refusal, shown in the section without breaking the page."""
    try:
        return await client.get("/mlc/instances", snapshot=snapshot_id), None
    except ApiRefused as exc:
        return None, (None if exc.code == "NOT_FOUND_ROUTE" else exc.message)


@router.get("/mlc/processes/{name}/diagram.svg")
async def diagram(request: Request, name: str, highlight: str | None = None) -> Response:
    session = session_of(request)
    async with api(request, session) as client:
        answer = await client.call("GET", f"/mlc/processes/{quote(name)}/diagram.svg", params={"highlight": highlight})
    # shown through <img>: scripts in an SVG never run there
    return Response(answer.content, media_type="image/svg+xml", headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.post("/mlc/instances/{instance_id}/{decision}")
async def decide(request: Request, instance_id: str, decision: str) -> Response:
    session, form = await checked(request)
    to = local_path(str(form.get("back") or "/models"))
    if decision not in DECISIONS:
        raise HTTPException(status_code=404, detail="decide with approve or reject")
    comment = str(form.get("comment") or "").strip()
    if decision == "reject" and not comment:
        return back(to, error="a rejection needs a comment saying why")
    try:
        async with api(request, session) as client:
            await client.post(f"/mlc/instances/{instance_id}/{decision}", {"comment": comment} if comment else {})
    except ApiRefused as exc:  # shown on the page the decision was made on
        return back(to, error=exc.message)
    return back(to)
