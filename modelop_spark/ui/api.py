"""The pages call the control plane's own HTTP API, in process, with the logged-in user's token.

So every action in the Command Center goes through the same routes, permission checks and
validation as ``moc``: a page can never do more than the API allows that user. The calls go
through httpx's ASGI transport straight into the app (no socket, no second server).
"""

from __future__ import annotations

from typing import Any

import httpx

from modelop_spark.controlplane.client import IDEMPOTENCY_HEADER
from modelop_spark.controlplane.deps import API


class ApiRefused(Exception):
    """The API said no: ``status`` and its one-line ``message`` (shown to the user as it is)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class InProcessApi:
    def __init__(self, app: Any, token: str) -> None:
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://command-center" + API,
            headers={"Authorization": f"Bearer {token}"}, timeout=60.0,
        )

    async def __aenter__(self) -> InProcessApi:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._client.aclose()

    async def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        response = await self._client.request(method, path, json=json, params=params, headers=headers)
        if response.status_code >= 400:
            raise ApiRefused(response.status_code, *_error_of(response))
        return response

    async def get(self, path: str, **params: Any) -> Any:
        return (await self.call("GET", path, params=params)).json()

    async def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        """``idempotency_key``: a creation the page may send twice (a form submitted twice) makes one."""
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else None
        return (await self.call("POST", path, json=body if body is not None else {}, headers=headers)).json()

    async def put(self, path: str, body: Any) -> Any:
        return (await self.call("PUT", path, json=body)).json()

    async def archive(self, snapshot_id: str) -> bytes:
        """A stored snapshot archive's bytes."""
        return (await self.call("GET", f"/snapshots/{snapshot_id}/archive")).content


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "HTTP_" + str(response.status_code), response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code")), str(body["error"].get("message"))
    detail = body.get("detail") if isinstance(body, dict) else None
    if detail == "Not Found":
        return "NOT_FOUND_ROUTE", "this control plane has no such route"
    if isinstance(detail, list):  # FastAPI's validation errors
        return "INVALID_REQUEST", "; ".join(f"{'.'.join(str(p) for p in d.get('loc', ())[1:])}: {d.get('msg')}" for d in detail)
    return "HTTP_" + str(response.status_code), str(detail or response.reason_phrase)


__all__ = ["ApiRefused", "InProcessApi"]
