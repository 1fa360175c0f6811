"""The job list (filters, pages), a job (live part, cancel), its embedded outputs as JSON lines
and its evaluation report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from modelop_spark.ui import views
from modelop_spark.ui.api import ApiRefused
from modelop_spark.ui.pages.common import api, back, checked, page, session_of
from modelop_spark.ui.sessions import Session
from modelop_spark.vocabulary import FINISHED_STATES

REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"

router = APIRouter(include_in_schema=False)


@router.get("/jobs", response_class=HTMLResponse)
async def jobs(request: Request) -> HTMLResponse:
    session = session_of(request)
    params = dict(request.query_params)
    chosen, number = views.filters_of(params), views.page_of(params)
    try:
        async with api(request, session) as client:
            found = await client.get("/jobs", limit=views.PAGE_SIZE + 1, offset=(number - 1) * views.PAGE_SIZE, **chosen)
            runtimes = await client.get("/runtimes")
            models = await client.get("/models")
    except ApiRefused as exc:  # a filter the API refuses: the list page, empty, with the message
        return page(request, "jobs.html", session, status_code=400, nav="jobs", jobs=[], filters=params, error=exc.message,
                    page=1, more=False, runtimes=[], models=[], query="")
    return page(request, "jobs.html", session, nav="jobs", jobs=found[: views.PAGE_SIZE], more=len(found) > views.PAGE_SIZE,
                page=number, filters=chosen, runtimes=runtimes, models=models, query=urlencode(chosen), error=None)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, job_id: str) -> HTMLResponse:
    session = session_of(request)
    return page(request, "job.html", session, nav="jobs", **await _job_context(request, session, job_id))


@router.get("/jobs/{job_id}/live", response_class=HTMLResponse)
async def job_live(request: Request, job_id: str) -> HTMLResponse:
    session = session_of(request)
    return page(request, "_job_live.html", session, **await _job_context(request, session, job_id))


async def _job_context(request: Request, session: Session, job_id: str) -> dict[str, Any]:
    async with api(request, session) as client:
        job = await client.get(f"/jobs/{job_id}")
        logs = await client.get(f"/jobs/{job_id}/logs", tail=30)
        result = await client.get(f"/jobs/{job_id}/result") if job["has_result"] else None
    plots = await run_in_threadpool(views.plots, (result or {}).get("metrics")) if result else {}
    return {
        "job": job, "logs": logs, "result": result, "plots": plots, "finished": job["status"] in FINISHED_STATES,
        "percent": views.progress_percent(job), "rejected": views.rejected_sample(result or {}),
    }


@router.post("/jobs/{job_id}/cancel")
async def cancel(request: Request, job_id: str) -> Response:
    session, _ = await checked(request)
    async with api(request, session) as client:
        await client.post(f"/jobs/{job_id}/cancel")
    return back(f"/jobs/{job_id}")


async def _result(request: Request, job_id: str) -> dict[str, Any]:
    async with api(request, session_of(request)) as client:
        return await client.get(f"/jobs/{job_id}/result")


@router.get("/jobs/{job_id}/outputs/{index}")
async def download(request: Request, job_id: str, index: int) -> Response:
    outputs = (await _result(request, job_id)).get("outputs") or []
    if not 0 <= index < len(outputs) or outputs[index].get("records") is None:
        raise HTTPException(status_code=404, detail=f"job {job_id} has no embedded output number {index}")
    name = Path(str(outputs[index].get("name") or "output")).stem + ".jsonl"
    body = "".join(json.dumps(r, default=str) + "\n" for r in outputs[index]["records"])
    return Response(body, media_type="application/x-ndjson", headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/jobs/{job_id}/report.html")
async def report(request: Request, job_id: str) -> Response:
    result = await _result(request, job_id)
    if not isinstance(result.get("metrics"), dict):
        raise HTTPException(status_code=404, detail=f"job {job_id} has no metrics")
    title = f"{(result.get('snapshot') or {}).get('name') or 'model'}: evaluation"
    body = await run_in_threadpool(views.report_html, result["metrics"], title=title)
    return HTMLResponse(body, headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"})
