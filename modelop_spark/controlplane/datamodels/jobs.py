"""Jobs: the request (ours or a ModelOp Center job JSON), the resource, its logs and counts, a
claimed job as a runtime gets it, and a runtime's result."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, RootModel

from modelop_spark.controlplane.datamodels.common import Body, Document, Resource
from modelop_spark.controlplane.leases import ResultDecision


class JobRequest(Body):
    """This control plane's request, or a ModelOp Center job JSON as it is (``jobType``,
    ``inputData``...): every key is kept and checked by the runtime's own job parser."""

    model_config = ConfigDict(extra="allow")

    job_type: str | None = Field(None, description="batchjob|testjob|trainingjob (or scoring|metrics|training)")
    snapshot: str | None = Field(None, description="a snapshot's uuid, or a model name for its newest")
    inputs: list[Any] | None = None
    outputs: list[Any] | None = None
    stage: str | None = None
    runtime: str | None = None


class Job(Resource):
    id: str
    job_type: str
    status: str
    snapshot_id: str | None
    model: str | None
    stage: str | None
    service_tags: list[str]
    runtime_requested: str | None
    runtime_id: str | None
    runtime: str | None
    schema_check: bool
    inputs: list[Any]
    outputs: list[Any]
    format: str
    attempt: int
    cancel_requested: bool
    progress: dict[str, Any] | None
    error: dict[str, Any] | None
    has_result: bool
    created_by: str | None
    created_at: str | None
    updated_at: str | None
    started_at: str | None
    ended_at: str | None


class LogLine(Resource):
    at: str | None
    attempt: int
    line: str


class JobCounts(RootModel[dict[str, int]]):
    """How many jobs are in each status (every status named)."""


class ClaimedSnapshot(Resource):
    id: str
    sha256: str | None
    name: str | None
    location: str | None
    model: str | None
    version: str


class ClaimedJob(Resource):
    """A job as its runtime claims it: the resource, the attempt it holds, what to run."""

    job: Job
    attempt: int
    document: dict[str, Any]
    snapshot: ClaimedSnapshot | None


class JobResultReport(Body):
    """A runtime's final word on its attempt."""

    attempt: int = 0
    status: str = Field("ERROR", description="COMPLETE, ERROR or CANCELLED")
    result: Any = Field(None, description="the job's result document (any JSON)")
    log: list[Any] | None = None
    progress: dict[str, Any] | None = None


class ResultAnswer(Resource):
    accepted: bool
    decision: ResultDecision
    job: Job


class JobResultDocument(Document):
    """The result a runtime reported (``jobs/result.py`` ``JobResult``)."""


__all__ = ["ClaimedJob", "ClaimedSnapshot", "Job", "JobCounts", "JobRequest", "JobResultDocument", "JobResultReport", "LogLine", "ResultAnswer"]
