"""Runtimes: registration, tags, heartbeats."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from modelop_spark.controlplane.datamodels.common import Body, Resource


class TimingInfo(Resource):
    """The control plane's clocks, told to every runtime."""

    heartbeat_interval: float
    missed_heartbeats: int
    lease_seconds: float
    long_poll_seconds: float


class RuntimeRegistration(Body):
    name: str = Field("", description="the runtime's unique name")
    type: str | None = None
    endpoint: str | None = None
    stage_tags: list[str] = Field(default_factory=list)
    service_tags: list[str] = Field(default_factory=list)
    capacity: int | None = Field(None, description="jobs at once (at least 1)")
    details: dict[str, Any] | None = None


class Runtime(Resource):
    id: str
    name: str
    type: str
    endpoint: str | None
    stage_tags: list[str]
    service_tags: list[str]
    capacity: int
    status: str
    jobs_running: int
    details: dict[str, Any] | None
    registered_at: str | None
    last_heartbeat: str | None


class Registered(Resource):
    runtime: Runtime
    timing: TimingInfo


class RuntimeTags(Body):
    """Each a list of tags or one comma-separated string ('DEV, cc-fraud')."""

    stage_tags: list[str] | str | None = None
    service_tags: list[str] | str | None = None


class RunningJob(Body):
    job_id: str | None = None
    attempt: int = 0
    progress: dict[str, Any] | None = None
    log: list[Any] | None = None


class Heartbeat(Body):
    running: list[RunningJob] = Field(default_factory=list)


class HeartbeatAnswer(Resource):
    cancel: list[str] = Field(description="running jobs to cancel")
    lost: list[str] = Field(description="jobs whose lease this runtime no longer holds")
    timing: TimingInfo


__all__ = ["Heartbeat", "HeartbeatAnswer", "Registered", "RunningJob", "Runtime", "RuntimeRegistration", "RuntimeTags", "TimingInfo"]
