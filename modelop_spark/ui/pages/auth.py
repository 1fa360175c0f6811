"""Static files, login (a token, checked against ``/whoami``) and logout."""

from __future__ import annotations

import secrets
import time

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from modelop_spark._redact import redacted_logger
from modelop_spark.ui.api import ApiRefused, InProcessApi
from modelop_spark.ui.pages.common import HERE, back, book, checked, local_path, page
from modelop_spark.ui.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, secure_cookies_work

log = redacted_logger("modelop_spark.ui")

STATIC = {"htmx.min.js": "text/javascript", "ui.css": "text/css"}
PLAIN_HTTP = ("this page was reached over plain HTTP from another machine, where a browser drops the secure session cookie "
              "(and the token would cross the network in clear): serve the control plane behind HTTPS, or open it on 127.0.0.1")

router = APIRouter(include_in_schema=False)


@router.get("/ui/static/{name}")
def static(name: str) -> FileResponse:
    if name not in STATIC:
        raise HTTPException(status_code=404, detail="no such file")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "max-age=3600"})


@router.get("/login")
def login_page(request: Request, next: str = "/", error: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)  # double-submit: the cookie and the form must agree
    response = page(request, "login.html", None, next=local_path(next), login_csrf=token, error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=True, path="/login")
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = dict(await request.form())
    target = local_path(str(form.get("next") or "/"))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not secrets.compare_digest(cookie, str(form.get("csrf_token") or "")):
        raise HTTPException(status_code=403, detail="the login form's CSRF token is missing or out of date; reload the page")
    if not secure_cookies_work(request.url.scheme, request.url.hostname):
        return back("/login", next=target, error=PLAIN_HTTP)
    token = str(form.get("token") or "").strip()
    if not token:
        return back("/login", next=target, error="enter your access token (the one moc reads from MODELOP_TOKEN)")
    try:
        async with InProcessApi(request.app, token) as client:
            me = await client.get("/whoami")
    except ApiRefused as exc:  # a refused token is the login form again, not an error page
        log.info("Command Center login refused: %s", exc.code)
        return back("/login", next=target, error="that token is not valid for this control plane" if exc.status == 401 else exc.message)
    session = book(request).open(token=token, user=me["user"], permissions=frozenset(me["permissions"]), now=time.time())
    log.info("Command Center: %s logged in", me["user"])
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="strict", secure=True, path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session, _ = await checked(request)
    book(request).close(session.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
