"""The Command Center pages: thin handlers that call the API in process (``api.InProcessApi``)
as the logged-in user and render Jinja2 templates; htmx swaps the live parts.

Every POST needs the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``); without it the request is refused with 403 and nothing changes.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelop_spark import __version__
from modelop_spark._redact import redacted_logger
from modelop_spark.controlplane.auth import ADMIN, APPROVE, WRITE
from modelop_spark.controlplane.deps import API as API_PREFIX
from modelop_spark.ui import views, wizard
from modelop_spark.ui.api import ApiRefused, InProcessApi
from modelop_spark.ui.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Session,
    SessionBook,
    secure_cookies_work,
)
from modelop_spark.ui.wizard import MB

log = redacted_logger("modelop_spark.ui")

HERE = Path(__file__).parent
STATIC = {"htmx.min.js": "text/javascript", "ui.css": "text/css"}
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
DEFAULT_MAX_UPLOAD_BYTES = 20 * MB
FORM_OVERHEAD_BYTES = 64 * 1024  # the wizard's other fields around an upload

templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
templates.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)


class LoginNeeded(HTTPException):
    def __init__(self, request: Request) -> None:
        target = "/login?" + urlencode({"next": _local_path(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))})
        headers = {"Location": target}
        if request.headers.get("HX-Request"):
            headers["HX-Redirect"] = target
        super().__init__(status_code=303, detail="log in first", headers=headers)


def _local_path(path: str) -> str:
    """Only a path on this site is a redirect target (no //host, no scheme)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


def _book(request: Request) -> SessionBook:
    return request.app.state.ui_sessions


def _session(request: Request) -> Session:
    session = _book(request).find(request.cookies.get(SESSION_COOKIE), now=time.time())
    if session is None:
        raise LoginNeeded(request)
    return session


async def _checked(request: Request) -> tuple[Session, dict[str, Any]]:
    """The session of a POST whose CSRF token matches, and its form; 403 otherwise."""
    session = _session(request)
    form = dict(await request.form())
    if not session.csrf_ok(str(form.get("csrf_token") or request.headers.get("X-CSRF-Token") or "")):
        raise HTTPException(status_code=403, detail="the form's CSRF token is missing or out of date; reload the page and try again")
    return session, form


def _api(request: Request, session: Session) -> InProcessApi:
    return InProcessApi(request.app, session.token)


def _page(request: Request, name: str, session: Session | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(name).render(
        request=request, session=session, csrf=session.csrf if session else "", version=__version__,
        can_write=bool(session and session.can(WRITE)), can_admin=bool(session and session.can(ADMIN)),
        can_approve=bool(session and session.can(APPROVE)), **context,
    )
    return HTMLResponse(body, status_code=status_code, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


def _refused(request: Request, session: Session, exc: ApiRefused) -> HTMLResponse:
    return _page(request, "error.html", session, status_code=exc.status if exc.status >= 400 else 400, message=exc.message, code=exc.code)


def _back(path: str, **query: str) -> RedirectResponse:
    return RedirectResponse(path + ("?" + urlencode(query) if query else ""), status_code=303)


async def page_error(request: Request, exc: Exception) -> Response:
    """Errors of the pages as a page with their one line; the API's own errors stay JSON."""
    from fastapi.exception_handlers import http_exception_handler

    assert isinstance(exc, StarletteHTTPException)  # the only kind this handler is registered for
    status = exc.status_code
    if request.url.path.startswith(API_PREFIX) or status in (301, 302, 303, 307, 308):
        return await http_exception_handler(request, exc)
    session = _book(request).find(request.cookies.get(SESSION_COOKIE), now=time.time())
    return _page(request, "error.html", session, status_code=status, message=str(getattr(exc, "detail", "")), code=str(status))


def ui_router(*, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> APIRouter:
    """The pages; ``include_ui(app)`` mounts them with their session book."""
    router = APIRouter(include_in_schema=False)

    # -- static files, login, logout -------------------------------------------------------------

    @router.get("/ui/static/{name}")
    def static(name: str) -> FileResponse:
        if name not in STATIC:
            raise HTTPException(status_code=404, detail="no such file")
        return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "max-age=3600"})

    @router.get("/login")
    def login_page(request: Request, next: str = "/", error: str | None = None) -> HTMLResponse:
        token = secrets.token_urlsafe(24)  # double-submit: the cookie and the form must agree
        response = _page(request, "login.html", None, next=_local_path(next), login_csrf=token, error=error)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=True, path="/login")
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = dict(await request.form())
        target = _local_path(str(form.get("next") or "/"))
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not cookie or not secrets.compare_digest(cookie, str(form.get("csrf_token") or "")):
            raise HTTPException(status_code=403, detail="the login form's CSRF token is missing or out of date; reload the page")
        if not secure_cookies_work(request.url.scheme, request.url.hostname):
            return _back("/login", next=target, error="this page was reached over plain HTTP from another machine, where a browser drops the secure session cookie "
                         "(and the token would cross the network in clear): serve the control plane behind HTTPS, or open it on 127.0.0.1")
        token = str(form.get("token") or "").strip()
        if not token:
            return _back("/login", next=target, error="enter your access token (the one moc reads from MODELOP_TOKEN)")
        try:
            async with InProcessApi(request.app, token) as api:
                me = await api.get("/whoami")
        except ApiRefused as exc:
            log.info("Command Center login refused: %s", exc.code)
            return _back("/login", next=target, error="that token is not valid for this control plane" if exc.status == 401 else exc.message)
        session = _book(request).open(token=token, user=me["user"], permissions=frozenset(me["permissions"]), now=time.time())
        log.info("Command Center: %s logged in", me["user"])
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="strict", secure=True, path="/")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        session, _ = await _checked(request)
        _book(request).close(session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- home --------------------------------------------------------------------------------

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        session = _session(request)
        async with _api(request, session) as api:
            counts = await api.get("/jobs/counts")
            runtimes = await api.get("/runtimes")
            notes = await api.get("/notifications", limit=20, include_dismissed="false")
            recent = await api.get("/jobs", limit=10)
        up = sum(1 for r in runtimes if r["status"] == "UP")
        return _page(request, "home.html", session, nav="home", counts=counts, up=up, down=len(runtimes) - up, notifications=notes, jobs=recent)

    @router.post("/notifications/{notification_id}/dismiss")
    async def dismiss(request: Request, notification_id: int) -> Response:
        session, _ = await _checked(request)
        try:
            async with _api(request, session) as api:
                await api.post(f"/notifications/{notification_id}/dismiss")
                notes = await api.get("/notifications", limit=20, include_dismissed="false")
        except ApiRefused as exc:
            return _refused(request, session, exc)
        if request.headers.get("HX-Request"):
            return _page(request, "_notifications.html", session, notifications=notes)
        return _back("/")

    # -- jobs --------------------------------------------------------------------------------

    @router.get("/jobs", response_class=HTMLResponse)
    async def jobs(request: Request) -> HTMLResponse:
        session = _session(request)
        params = dict(request.query_params)
        chosen, page = views.filters_of(params), views.page_of(params)
        try:
            async with _api(request, session) as api:
                found = await api.get("/jobs", limit=views.PAGE_SIZE + 1, offset=(page - 1) * views.PAGE_SIZE, **chosen)
                runtimes = await api.get("/runtimes")
                models = await api.get("/models")
        except ApiRefused as exc:
            return _page(request, "jobs.html", session, status_code=400, nav="jobs", jobs=[], filters=params, error=exc.message,
                         page=1, more=False, runtimes=[], models=[], query="")
        query = urlencode(chosen)
        return _page(request, "jobs.html", session, nav="jobs", jobs=found[: views.PAGE_SIZE], more=len(found) > views.PAGE_SIZE,
                     page=page, filters=chosen, runtimes=runtimes, models=models, query=query, error=None)

    @router.get("/jobs/new", response_class=HTMLResponse)
    async def wizard_start(request: Request, model: str | None = None) -> Response:
        session = _session(request)
        if not session.can(WRITE):
            return _page(request, "error.html", session, status_code=403, code="FORBIDDEN",
                         message=f"user {session.user} may not create jobs (no write permission); ask an admin for the operator role")
        draft_id = secrets.token_urlsafe(12)
        session.drafts = dict(list(session.drafts.items())[-9:])  # a few open wizards per session
        session.drafts[draft_id] = {"model": model} if model else {}
        return await _wizard(request, session, draft_id, "model", {})

    @router.post("/jobs/new", response_class=HTMLResponse)
    async def wizard_step(request: Request) -> Response:
        session = _session(request)
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_upload_bytes + FORM_OVERHEAD_BYTES:  # refuse before the body is read
            message = f"the upload is {declared / MB:.1f} MB; uploads are limited to {max_upload_bytes / MB:.1f} MB: put larger data on S3 or HDFS and give its URL"
            draft_id = request.query_params.get("draft", "")
            if draft_id in session.drafts:  # the form names its draft in its action URL too
                return await _wizard(request, session, draft_id, "inputs", {"input_file": message}, status_code=413)
            return _page(request, "error.html", session, status_code=413, code="TOO_LARGE", message=message)
        form_data = await request.form()
        if not session.csrf_ok(str(form_data.get("csrf_token") or "")):
            raise HTTPException(status_code=403, detail="the form's CSRF token is missing or out of date; reload the page and try again")
        draft_id, step = str(form_data.get("draft") or ""), str(form_data.get("step") or "model")
        draft = session.drafts.get(draft_id)
        if draft is None or step not in wizard.STEPS:
            return _back("/jobs/new")
        if form_data.get("back"):  # keep what was typed on this step, checked when it is submitted
            _copy_fields(draft, step, form_data)
            return await _wizard(request, session, draft_id, wizard.previous_step(step), {})
        errors = await _take_step(request, session, draft, step, form_data, max_upload_bytes)
        if errors:
            return await _wizard(request, session, draft_id, step, errors, status_code=422)
        if step != "review":
            return await _wizard(request, session, draft_id, wizard.next_step(step), {})
        try:
            async with _api(request, session) as api:
                job = await api.post("/jobs", wizard.job_request(draft))
        except ApiRefused as exc:
            return await _wizard(request, session, draft_id, step, {"review": exc.message}, status_code=exc.status)
        session.drafts.pop(draft_id, None)
        return _back(f"/jobs/{job['id']}")

    @router.get("/jobs/{job_id}", response_class=HTMLResponse)
    async def job_page(request: Request, job_id: str) -> HTMLResponse:
        session = _session(request)
        try:
            context = await _job_context(request, session, job_id)
        except ApiRefused as exc:
            return _refused(request, session, exc)
        return _page(request, "job.html", session, nav="jobs", **context)

    @router.get("/jobs/{job_id}/live", response_class=HTMLResponse)
    async def job_live(request: Request, job_id: str) -> HTMLResponse:
        session = _session(request)
        try:
            context = await _job_context(request, session, job_id)
        except ApiRefused as exc:
            return _refused(request, session, exc)
        return _page(request, "_job_live.html", session, **context)

    @router.post("/jobs/{job_id}/cancel")
    async def cancel(request: Request, job_id: str) -> Response:
        session, _ = await _checked(request)
        try:
            async with _api(request, session) as api:
                await api.post(f"/jobs/{job_id}/cancel")
        except ApiRefused as exc:
            return _refused(request, session, exc)
        return _back(f"/jobs/{job_id}")

    @router.get("/jobs/{job_id}/outputs/{index}")
    async def download(request: Request, job_id: str, index: int) -> Response:
        session = _session(request)
        try:
            async with _api(request, session) as api:
                result = await api.get(f"/jobs/{job_id}/result")
        except ApiRefused as exc:
            return _refused(request, session, exc)
        outputs = result.get("outputs") or []
        if not 0 <= index < len(outputs) or outputs[index].get("records") is None:
            raise HTTPException(status_code=404, detail=f"job {job_id} has no embedded output number {index}")
        name = Path(str(outputs[index].get("name") or "output")).stem + ".jsonl"
        body = "".join(json.dumps(r, default=str) + "\n" for r in outputs[index]["records"])
        return Response(body, media_type="application/x-ndjson", headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    @router.get("/jobs/{job_id}/report.html")
    async def report(request: Request, job_id: str) -> Response:
        session = _session(request)
        try:
            async with _api(request, session) as api:
                result = await api.get(f"/jobs/{job_id}/result")
        except ApiRefused as exc:
            return _refused(request, session, exc)
        if not isinstance(result.get("metrics"), dict):
            raise HTTPException(status_code=404, detail=f"job {job_id} has no metrics")
        title = f"{(result.get('snapshot') or {}).get('name') or 'model'}: evaluation"
        body = await run_in_threadpool(views.report_html, result["metrics"], title=title)
        return HTMLResponse(body, headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"})

    # -- models and snapshots ----------------------------------------------------------------

    @router.get("/models", response_class=HTMLResponse)
    async def models(request: Request) -> HTMLResponse:
        session = _session(request)
        async with _api(request, session) as api:
            found = await api.get("/models")
            snapshots = await api.get("/snapshots")
        by_model: dict[str, list[dict[str, Any]]] = {}
        for snapshot in snapshots:
            by_model.setdefault(snapshot["model_id"], []).append(snapshot)
        return _page(request, "models.html", session, nav="models", models=found, snapshots=by_model)

    @router.get("/snapshots/{snapshot_id}", response_class=HTMLResponse)
    async def snapshot_page(request: Request, snapshot_id: str, error: str | None = None) -> HTMLResponse:
        session = _session(request)
        try:
            async with _api(request, session) as api:
                snapshot = await api.get(f"/snapshots/{snapshot_id}")
                versions = await api.get("/snapshots", model=snapshot["model"])
                jobs_run = [j for j in await api.get("/jobs", model=snapshot["model"], limit=50) if j["snapshot_id"] == snapshot["id"]][:10]
                instances, mlc_error = await _life_cycles(api, snapshot["id"])
        except ApiRefused as exc:
            return _refused(request, session, exc)
        return _page(request, "snapshot.html", session, nav="models", snapshot=snapshot, versions=versions, jobs=jobs_run,
                     lineage=views.lineage(snapshot), instances=instances, mlc_error=mlc_error, error=error)

    @router.get("/mlc/processes/{name}/diagram.svg")
    async def diagram(request: Request, name: str, highlight: str | None = None) -> Response:
        session = _session(request)
        try:
            async with _api(request, session) as api:
                answer = await api.call("GET", f"/mlc/processes/{quote(name)}/diagram.svg", params={"highlight": highlight})
        except ApiRefused as exc:
            return _refused(request, session, exc)
        # shown through <img>: scripts in an SVG never run there
        return Response(answer.content, media_type="image/svg+xml", headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    @router.post("/mlc/instances/{instance_id}/{decision}")
    async def decide(request: Request, instance_id: str, decision: str) -> Response:
        session, form = await _checked(request)
        back = _local_path(str(form.get("back") or "/models"))
        if decision not in ("approve", "reject"):
            raise HTTPException(status_code=404, detail="decide with approve or reject")
        comment = str(form.get("comment") or "").strip()
        if decision == "reject" and not comment:
            return _back(back, error="a rejection needs a comment saying why")
        try:
            async with _api(request, session) as api:
                await api.post(f"/mlc/instances/{instance_id}/{decision}", {"comment": comment} if comment else {})
        except ApiRefused as exc:
            return _back(back, error=exc.message)
        return _back(back)

    # -- runtimes ----------------------------------------------------------------------------

    @router.get("/runtimes", response_class=HTMLResponse)
    async def runtimes(request: Request, error: str | None = None) -> HTMLResponse:
        session = _session(request)
        async with _api(request, session) as api:
            found = await api.get("/runtimes")
            running = await api.get("/jobs", status="RUNNING", limit=200)
        by_runtime: dict[str, list[dict[str, Any]]] = {}
        for job in running:
            by_runtime.setdefault(job["runtime_id"], []).append(job)
        return _page(request, "runtimes.html", session, nav="runtimes", runtimes=found, running=by_runtime, error=error)

    @router.post("/runtimes/{runtime_id}/tags")
    async def runtime_tags(request: Request, runtime_id: str) -> Response:
        session, form = await _checked(request)
        try:
            async with _api(request, session) as api:
                await api.put(f"/runtimes/{runtime_id}/tags", {"stage_tags": str(form.get("stage_tags") or ""), "service_tags": str(form.get("service_tags") or "")})
        except ApiRefused as exc:
            return _back("/runtimes", error=exc.message)
        return _back("/runtimes")

    return router


# -- helpers the handlers share -----------------------------------------------------------------

async def _job_context(request: Request, session: Session, job_id: str) -> dict[str, Any]:
    async with _api(request, session) as api:
        job = await api.get(f"/jobs/{job_id}")
        logs = await api.get(f"/jobs/{job_id}/logs", tail=30)
        result = await api.get(f"/jobs/{job_id}/result") if job["has_result"] else None
    plots = await run_in_threadpool(views.plots, (result or {}).get("metrics")) if result else {}
    return {
        "job": job, "logs": logs, "result": result, "plots": plots, "finished": job["status"] in views.FINISHED,
        "percent": views.progress_percent(job), "rejected": views.rejected_sample(result or {}),
    }


async def _life_cycles(api: InProcessApi, snapshot_id: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The snapshot's life-cycle instances (None when this control plane has no life cycles),
    and the API's refusal, shown in the section without breaking the page."""
    try:
        return await api.get("/mlc/instances", snapshot=snapshot_id), None
    except ApiRefused as exc:
        return None, (None if exc.code == "NOT_FOUND_ROUTE" else exc.message)


async def _take_step(request: Request, session: Session, draft: dict[str, Any], step: str, form: Any, max_upload_bytes: int) -> dict[str, str]:
    """Copy one step's fields into the draft and check them against the control plane."""
    _copy_fields(draft, step, form)
    if step == "model" and draft.get("model") != draft.get("_model_for_snapshot"):
        draft.pop("snapshot", None)
        draft["_model_for_snapshot"] = draft.get("model")
    upload = form.get("input_file")
    if step == "inputs" and draft.get("input_kind") == "upload" and getattr(upload, "filename", None):
        data = await upload.read(max_upload_bytes + 1)
        records, errors = await run_in_threadpool(wizard.read_upload, upload.filename, data, limit=max_upload_bytes)
        if errors:
            draft.pop("input_records", None)
            return errors
        draft["input_records"], draft["input_filename"] = records, Path(upload.filename).name
    known = await _choices(request, session, draft, step)
    return wizard.check_step(step, draft, **known)


STEP_FIELDS = {
    "model": ("model",), "snapshot": ("snapshot",), "runtime": ("runtime_choice", "stage", "runtime"),
    "type": ("job_type", "label_column", "score_column"), "schemas": ("schema_check",),
    "inputs": ("input_kind", "input_url", "input_sql"), "outputs": ("output_kind", "output_name", "output_url", "output_table"),
}


def _copy_fields(draft: dict[str, Any], step: str, form: Any) -> None:
    for key in STEP_FIELDS.get(step, ()):
        draft[key] = str(form.get(key) or "").strip()


async def _choices(request: Request, session: Session, draft: dict[str, Any], step: str) -> dict[str, Any]:
    """What the control plane offers for a step: models, the model's snapshots, runtimes,
    and whether the chosen snapshot has schemas."""
    async with _api(request, session) as api:
        if step == "model":
            return {"models": {m["name"] for m in await api.get("/models")}}
        if step == "snapshot":
            return {"snapshot_ids": {s["id"] for s in await api.get("/snapshots", model=draft.get("model"))}}
        if step == "runtime":
            return {"runtimes": {r["name"] for r in await api.get("/runtimes")}}
        if step == "schemas" and draft.get("schema_check"):
            snapshot = await api.get(f"/snapshots/{draft['snapshot']}")
            archive = None
            if snapshot.get("archive"):
                archive = (await api.call("GET", f"/snapshots/{snapshot['id']}/archive")).content
            return {"has_schemas": await run_in_threadpool(wizard.snapshot_has_schemas, snapshot, archive)}
    return {}


async def _wizard(request: Request, session: Session, draft_id: str, step: str, errors: dict[str, str], status_code: int = 200) -> HTMLResponse:
    draft = session.drafts[draft_id]
    context: dict[str, Any] = {"models": [], "snapshots": [], "runtimes": [], "review": []}
    async with _api(request, session) as api:
        if step == "model":
            context["models"] = await api.get("/models")
        if step == "snapshot":
            context["snapshots"] = await api.get("/snapshots", model=draft.get("model"))
        if step in ("runtime", "review") and draft.get("snapshot"):
            snapshot = await api.get(f"/snapshots/{draft['snapshot']}")
            tags = {t.lower() for t in snapshot["service_tags"]}
            context["runtimes"] = [dict(r, proposed=r["name"] in snapshot["runtimes"] or bool(tags & {t.lower() for t in r["service_tags"]}))
                                   for r in await api.get("/runtimes")]
            context["snapshot_label"] = f"{snapshot['model']} version {snapshot['version']} ({snapshot['id'][:8]})"
    if step == "review":
        context["review"] = wizard.review_lines(draft, snapshot_label=context.get("snapshot_label", draft.get("snapshot", "")))
    return _page(
        request, "job_new.html", session, status_code=status_code, nav="jobs", draft_id=draft_id, draft=draft, step=step,
        steps=wizard.STEPS, titles=wizard.STEP_TITLES, errors=errors, stages=wizard.STAGES, job_types=wizard.JOB_TYPES,
        max_upload_mb=f"{max_upload_bytes_of(request) / MB:.0f}", **context,
    )


def max_upload_bytes_of(request: Request) -> int:
    return getattr(request.app.state, "ui_max_upload_bytes", DEFAULT_MAX_UPLOAD_BYTES)


__all__ = ["ui_router"]
