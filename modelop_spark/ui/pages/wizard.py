"""Create Batch Job: the wizard's step table (``ui/wizard.py``) driven over HTTP. A draft lives in
the session; each POST copies one step's fields, checks them against what the control plane
offers for the step, and shows the next step (or the same one with its errors). The review step
sends the job."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from modelop_spark.controlplane.auth import WRITE
from modelop_spark.ui import wizard
from modelop_spark.ui.api import ApiRefused, InProcessApi
from modelop_spark.ui.pages.common import (
    api,
    back,
    csrf_or_403,
    max_upload_bytes_of,
    page,
    session_of,
)
from modelop_spark.ui.sessions import Session
from modelop_spark.ui.wizard import MB

FORM_OVERHEAD_BYTES = 64 * 1024  # the wizard's other fields around an upload
OPEN_DRAFTS = 10  # a few open wizards per session

router = APIRouter(include_in_schema=False)


@router.get("/jobs/new", response_class=HTMLResponse)
async def wizard_start(request: Request, model: str | None = None) -> Response:
    session = session_of(request)
    if not session.can(WRITE):
        return page(request, "error.html", session, status_code=403, code="FORBIDDEN",
                    message=f"user {session.user} may not create jobs (no write permission); ask an admin for the operator role")
    draft_id = secrets.token_urlsafe(12)
    session.drafts = dict(list(session.drafts.items())[-(OPEN_DRAFTS - 1):])
    session.drafts[draft_id] = {"model": model} if model else {}
    return await _show(request, session, draft_id, wizard.STEPS[0], {})


@router.post("/jobs/new", response_class=HTMLResponse)
async def wizard_step(request: Request) -> Response:
    session = session_of(request)
    limit = max_upload_bytes_of(request)
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit + FORM_OVERHEAD_BYTES:  # refuse before the body is read
        return await _too_large(request, session, declared, limit)
    form = await request.form()
    csrf_or_403(session, form, request)
    draft_id, step = str(form.get("draft") or ""), str(form.get("step") or wizard.STEPS[0])
    draft = session.drafts.get(draft_id)
    if draft is None or step not in wizard.STEP:
        return back("/jobs/new")
    if form.get("back"):  # keep what was typed on this step, checked when it is submitted
        wizard.copy_fields(draft, step, form)
        return await _show(request, session, draft_id, wizard.previous_step(step), {})
    errors = await _take_step(request, session, draft, step, form, limit)
    if errors:
        return await _show(request, session, draft_id, step, errors, status_code=422)
    if step != wizard.STEPS[-1]:
        return await _show(request, session, draft_id, wizard.next_step(step), {})
    try:
        async with api(request, session) as client:
            # the draft's id as the key: the form submitted twice (a double click) makes one job
            job = await client.post("/jobs", wizard.job_request(draft), idempotency_key=f"wizard-{draft_id}")
    except ApiRefused as exc:  # the review step shows the API's refusal beside the summary
        return await _show(request, session, draft_id, step, {"review": exc.message}, status_code=exc.status)
    session.drafts.pop(draft_id, None)
    return back(f"/jobs/{job['id']}")


async def _too_large(request: Request, session: Session, declared: int, limit: int) -> Response:
    message = f"the upload is {declared / MB:.1f} MB; uploads are limited to {limit / MB:.1f} MB: put larger data on S3 or HDFS and give its URL"
    draft_id = request.query_params.get("draft", "")
    if draft_id in session.drafts:  # the form names its draft in its action URL too
        return await _show(request, session, draft_id, "inputs", {"input_file": message}, status_code=413)
    return page(request, "error.html", session, status_code=413, code="TOO_LARGE", message=message)


async def _take_step(request: Request, session: Session, draft: dict[str, Any], step: str, form: Any, limit: int) -> dict[str, str]:
    """Copy one step's fields (and its upload) into the draft; check them against the offer."""
    wizard.copy_fields(draft, step, form)
    field = wizard.wants_upload(step, draft)
    upload: Any = form.get(field) if field else None
    if getattr(upload, "filename", None):
        data = await upload.read(limit + 1)
        records, errors = await run_in_threadpool(wizard.read_upload, upload.filename, data, limit=limit)
        if errors:
            draft.pop("input_records", None)
            return errors
        draft["input_records"], draft["input_filename"] = records, Path(upload.filename).name
    async with api(request, session) as client:
        offer = await _offer(client, step, draft)
    return wizard.STEP[step].check(draft, offer)


async def _offer(client: InProcessApi, step: str, draft: dict[str, Any]) -> dict[str, Any]:
    make = wizard.STEP[step].offer
    return await make(client, draft) if make is not None else {}


async def _show(request: Request, session: Session, draft_id: str, step: str, errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    draft = session.drafts[draft_id]
    async with api(request, session) as client:
        offer = await _offer(client, step, draft)
    context = {"models": [], "snapshots": [], "runtimes": [], "review": [], **offer}
    return page(
        request, "job_new.html", session, status_code=status_code, nav="jobs", draft_id=draft_id, draft=draft, step=step,
        steps=wizard.STEPS, titles=wizard.STEP_TITLES, errors=errors, stages=wizard.STAGES, job_types=wizard.JOB_TYPES,
        max_upload_mb=f"{max_upload_bytes_of(request) / MB:.0f}", **context,
    )
