"""The life-cycle routes' request and response bodies (``/api/v1/mlc``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from modelop_spark.controlplane.datamodels.common import Body, Resource


class Handles(Resource):
    service_tags: list[str]
    model_name_pattern: str


class Process(Resource):
    name: str
    file: str
    process_id: str | None
    title: str | None
    trigger: str
    handles: Handles
    stages: list[str]


class HistoryEntry(Resource):
    step: str | None
    name: str | None
    at: str | None
    job_ids: list[str]
    user: str | None
    comment: str | None
    outcome: str


class StepRef(Resource):
    id: str | None
    name: str | None


class Waiting(Resource):
    stage: str | None
    role: str | None


class Instance(Resource):
    id: str
    process: str
    snapshot_id: str | None
    model_name: str | None
    state: str
    stage: str | None
    trigger: dict[str, Any] | None
    current_step: StepRef | None
    waiting_for: Waiting | None
    history: list[HistoryEntry]
    error: str | None
    created_at: str | None
    updated_at: str | None


class Decision(Body):
    comment: str | None = Field(None, description="why (a rejection needs one)")


class StartRequest(Body):
    process: str = Field("", description="a process whose trigger is 'start'")
    model: str = Field("", description="the model whose newest snapshot it runs for")
    data: str | None = Field(None, description="the labeled data, as a URL the runtimes can read")


__all__ = ["Decision", "Handles", "HistoryEntry", "Instance", "Process", "StartRequest", "StepRef", "Waiting"]
