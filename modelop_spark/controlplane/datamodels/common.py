"""The bases every body shares, and the error body of every refusal."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, RootModel


class Body(BaseModel):
    """A request body: unknown keys are ignored, as the routes always did."""

    model_config = ConfigDict(extra="ignore")


class Resource(BaseModel):
    """A response body: exactly the keys the service returns (a key the model does not name is
    a mistake, refused, so the document cannot drift from the wire)."""

    model_config = ConfigDict(extra="forbid")


class Document(RootModel[dict[str, Any]]):
    """A JSON object whose keys belong to another contract (a job file, a result, a manifest)."""


class ErrorDetail(Resource):
    code: str
    message: str


class ErrorBody(Resource):
    """``{"error": {"code", "message"}, "detail": message}`` with the status the error names."""

    error: ErrorDetail
    detail: str


class InvalidRequest(BaseModel):
    """FastAPI's own refusal of a request that does not fit its declared parameters or body."""

    detail: list[dict[str, Any]]


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "the request is invalid: the message names the field"),
        (401, "no or an unknown bearer token"),
        (403, "the token's roles do not grant this"),
        (404, "no such resource"),
        (409, "a conflict with the resource's state"),
    )
}
ERRORS[413] = {"model": ErrorBody, "description": "the upload is larger than the control plane's limit"}
ERRORS[422] = {"model": ErrorBody | InvalidRequest, "description": "the body does not fit its schema, or an upload's checksum does not match"}

__all__ = ["ERRORS", "Body", "Document", "ErrorBody", "ErrorDetail", "InvalidRequest", "Resource"]
