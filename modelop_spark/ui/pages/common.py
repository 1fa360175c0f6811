"""What every page shares: templates, the session (with its CSRF check), the in-process API
client, the page response with its security headers, and the one way an API refusal becomes a
page (``refused_page``, the handler of ``ApiRefused`` for every page)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelop_spark import __version__
from modelop_spark.controlplane.auth import ADMIN, APPROVE, WRITE
from modelop_spark.controlplane.deps import API as API_PREFIX
from modelop_spark.ui.api import ApiRefused, InProcessApi
from modelop_spark.ui.sessions import SESSION_COOKIE, Session, SessionBook
from modelop_spark.ui.wizard import MB

HERE = Path(__file__).resolve().parent.parent
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
DEFAULT_MAX_UPLOAD_BYTES = 20 * MB

templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
templates.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)


class LoginNeeded(HTTPException):
    def __init__(self, request: Request) -> None:
        target = "/login?" + urlencode({"next": local_path(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))})
        headers = {"Location": target}
        if request.headers.get("HX-Request"):
            headers["HX-Redirect"] = target
        super().__init__(status_code=303, detail="log in first", headers=headers)


def local_path(path: str) -> str:
    """Only a path on this site is a redirect target (no //host, no scheme)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


def book(request: Request) -> SessionBook:
    return request.app.state.ui_sessions


def session_of(request: Request) -> Session:
    session = book(request).find(request.cookies.get(SESSION_COOKIE), now=time.time())
    if session is None:
        raise LoginNeeded(request)
    return session


def csrf_or_403(session: Session, form: Any, request: Request) -> None:
    if not session.csrf_ok(str(form.get("csrf_token") or request.headers.get("X-CSRF-Token") or "")):
        raise HTTPException(status_code=403, detail="the form's CSRF token is missing or out of date; reload the page and try again")


async def checked(request: Request) -> tuple[Session, dict[str, Any]]:
    """The session of a POST whose CSRF token matches, and its form; 403 otherwise."""
    session = session_of(request)
    form = dict(await request.form())
    csrf_or_403(session, form, request)
    return session, form


def api(request: Request, session: Session) -> InProcessApi:
    return InProcessApi(request.app, session.token)


def page(request: Request, name: str, session: Session | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(name).render(
        request=request, session=session, csrf=session.csrf if session else "", version=__version__,
        can_write=bool(session and session.can(WRITE)), can_admin=bool(session and session.can(ADMIN)),
        can_approve=bool(session and session.can(APPROVE)), **context,
    )
    return HTMLResponse(body, status_code=status_code, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


def back(path: str, **query: str) -> RedirectResponse:
    return RedirectResponse(path + ("?" + urlencode(query) if query else ""), status_code=303)


def max_upload_bytes_of(request: Request) -> int:
    return getattr(request.app.state, "ui_max_upload_bytes", DEFAULT_MAX_UPLOAD_BYTES)


async def refused_page(request: Request, exc: Exception) -> Response:
    """An API refusal a page did not expect: the error page with the API's one line."""
    assert isinstance(exc, ApiRefused)  # the only kind this handler is registered for
    session = book(request).find(request.cookies.get(SESSION_COOKIE), now=time.time())
    return page(request, "error.html", session, status_code=exc.status if exc.status >= 400 else 400, message=exc.message, code=exc.code)


async def page_error(request: Request, exc: Exception) -> Response:
    """Errors of the pages as a page with their one line; the API's own errors stay JSON."""
    assert isinstance(exc, StarletteHTTPException)  # the only kind this handler is registered for
    status = exc.status_code
    if request.url.path.startswith(API_PREFIX) or status in (301, 302, 303, 307, 308):
        return await http_exception_handler(request, exc)
    session = book(request).find(request.cookies.get(SESSION_COOKIE), now=time.time())
    return page(request, "error.html", session, status_code=status, message=str(getattr(exc, "detail", "")), code=str(status))


__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES", "HERE", "LoginNeeded", "api", "back", "book", "checked", "csrf_or_403", "local_path",
    "max_upload_bytes_of", "page", "page_error", "refused_page", "session_of", "templates",
]
