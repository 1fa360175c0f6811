"""The HTTP client every caller shares: ``moc``, the runtime agent, tests and notebooks.

Errors come back as ``ControlPlaneError`` with the server's one-line message (``NOT_FOUND: no job
...``); a control plane that cannot be reached is ``Unreachable``, which the agent retries and
``moc`` reports. The token is sent as a bearer header and never appears in a message.

Several control-plane processes on one database can be given as a comma-separated list of URLs:
a request that cannot reach one goes to the next, and the next request starts from the one that
answered (client-side fail-over, for when there is no load balancer in front of them).

Every creation (a model, a snapshot, a job) carries an ``Idempotency-Key`` of its own and is sent
again, with the same key, when its answer is lost (a connection reset, a control plane killed
mid-request): the retry gets what the first request created, never a second one.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from modelop_spark.controlplane.auth import TOKEN_ENV
from modelop_spark.errors import ControlPlaneError

URL_ENV = "MODELOP_URL"
API = "/api/v1"
IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0)  # seconds between rounds over the URLs, for a creation sent with its key


class Unreachable(ControlPlaneError):
    code = "CONTROL_PLANE_UNREACHABLE"
    http_status = 503


class ApiError(ControlPlaneError):
    """The control plane answered with an error; ``status`` and ``error_code`` say which."""

    def __init__(self, message: str, *, status: int = 500, error_code: str = "CONTROL_PLANE_ERROR") -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code

    def __reduce__(self):
        return (_rebuild_api_error, (self.message, self.status, self.error_code))


def _rebuild_api_error(message: str, status: int, error_code: str) -> ApiError:
    return ApiError(message, status=status, error_code=error_code)


class Client:
    def __init__(self, url: str | None = None, *, token: str | None = None, timeout: float = 30.0) -> None:
        url = url or os.environ.get(URL_ENV)
        if not url:
            raise ControlPlaneError(f"no control plane URL: pass --url or set {URL_ENV} (e.g. http://127.0.0.1:8090)")
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.urls = [u.strip().rstrip("/") for u in url.split(",") if u.strip()]
        self._current = 0
        self._http = httpx.Client(headers=headers, timeout=timeout)

    @property
    def url(self) -> str:
        return self.urls[self._current]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, timeout: float | None = None, idempotent: bool = False, **kwargs: Any) -> httpx.Response:
        """One call, failing over between the URLs. ``idempotent``: a creation, sent with a new
        Idempotency-Key and sent again with it (after a pause) while no control plane answers."""
        full = path if path.startswith("/health") else API + path
        pauses: tuple[float, ...] = ()
        if idempotent:
            kwargs["headers"] = {**kwargs.get("headers", {}), IDEMPOTENCY_HEADER: uuid.uuid4().hex}
            pauses = RETRY_PAUSES
        failure: httpx.TransportError | None = None
        for pause in (0.0, *pauses):
            if pause:
                time.sleep(pause)
            response, failure = self._around(method, full, timeout, kwargs)
            if response is not None:
                break
        else:
            where = ", ".join(self.urls)
            raise Unreachable(f"control plane {where} cannot be reached ({type(failure).__name__}); is it running?") from failure
        if response.status_code >= 400:
            try:
                error = response.json().get("error") or {}
                message = error.get("message") or response.json().get("detail")
                code = error.get("code") or "HTTP_ERROR"
            except (ValueError, AttributeError):
                message, code = response.text[:300], "HTTP_ERROR"
            raise ApiError(f"{code}: {message}", status=response.status_code, error_code=code)
        return response

    def _around(self, method: str, full: str, timeout: float | None, kwargs: dict[str, Any]) -> tuple[httpx.Response | None, httpx.TransportError | None]:
        """Each URL once, from the one that answered last: the first answer, or the last failure."""
        failure = None
        for tried in range(len(self.urls)):
            index = (self._current + tried) % len(self.urls)
            try:
                response = self._http.request(
                    method, self.urls[index] + full, timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT, **kwargs
                )
            except httpx.TransportError as exc:
                failure = exc
                continue
            self._current = index
            return response, None
        return None, failure

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def post(self, path: str, body: Any = None, *, idempotent: bool = False, **params: Any) -> Any:
        response = self.request(
            "POST", path, json=body if body is not None else {}, params={k: v for k, v in params.items() if v is not None}, idempotent=idempotent,
        )
        return response.json() if response.status_code != 204 else None

    # -- the resources ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/health").json()

    def create_model(self, name: str, description: str = "") -> dict[str, Any]:
        return self.post("/models", {"name": name, "description": description}, idempotent=True)

    def upload_snapshot(
        self, archive: bytes, *, model: str, filename: str, sha256: str, service_tags: Iterable[str] = (),
        version: str | None = None, description: str | None = None, runtimes: Iterable[str] = (), test_data: str | None = None,
    ) -> dict[str, Any]:
        params: list[tuple[str, str]] = [("model", model), ("filename", filename)]
        params += [("service_tag", t) for t in service_tags] + [("runtime", r) for r in runtimes]
        if test_data:
            params.append(("test_data", test_data))
        if version:
            params.append(("version", version))
        if description:
            params.append(("description", description))
        response = self.request(
            "POST", "/snapshots", content=archive, params=params, timeout=300, idempotent=True,
            headers={"Content-Type": "application/octet-stream", "X-Content-SHA256": sha256},
        )
        return response.json()

    def post_snapshot_location(
        self, location: str, *, model: str, service_tags: Iterable[str] = (), version: str | None = None,
        description: str | None = None, runtimes: Iterable[str] = (), test_data: str | None = None,
    ) -> dict[str, Any]:
        params: list[tuple[str, str]] = [("model", model), ("location", location)]
        params += [("service_tag", t) for t in service_tags] + [("runtime", r) for r in runtimes]
        params += [(k, v) for k, v in (("version", version), ("description", description), ("test_data", test_data)) if v]
        return self.request("POST", "/snapshots", params=params, idempotent=True).json()

    def snapshot_archive(self, snapshot_id: str) -> tuple[bytes, str | None]:
        response = self.request("GET", f"/snapshots/{snapshot_id}/archive", timeout=300)
        return response.content, response.headers.get("X-Content-SHA256")

    def create_job(self, request: Mapping[str, Any], *, stage: str | None = None, runtime: str | None = None) -> dict[str, Any]:
        return self.post("/jobs", dict(request), stage=stage, runtime=runtime, idempotent=True)


__all__ = ["IDEMPOTENCY_HEADER", "URL_ENV", "ApiError", "Client", "Unreachable"]
