"""The control plane's tables (SQLAlchemy 2). The Alembic migrations in ``migrations/`` create
them; a test checks that the migrations and these classes agree.

Times are seconds since the epoch (floats): lease and heartbeat arithmetic stays plain and works
the same on SQLite and PostgreSQL. Tag lists and documents are JSON columns. Large things
(snapshot archives, job documents with embedded data, job results) live in the blob store; rows
hold their sha256.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ModelRow(Base):
    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)


class SnapshotRow(Base):
    __tablename__ = "snapshots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id"), index=True)
    version: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    service_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    runtime_type: Mapped[str] = mapped_column(String(100))
    runtimes: Mapped[list[str]] = mapped_column(JSON, default=list)  # suggested runtime names
    archive_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    archive_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    archive_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    location: Mapped[str | None] = mapped_column(Text, nullable=True)  # an external snapshot URL
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)
    # model life cycles (revision 0002): the stage it was promoted to, its test data, its lineage
    stage: Mapped[str | None] = mapped_column(String(50), nullable=True)
    test_data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # {"path": in the archive} or {"url": ...}
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    trained_by_job: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


class RuntimeRow(Base):
    __tablename__ = "runtimes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    endpoint: Mapped[str | None] = mapped_column(Text, nullable=True)
    stage_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    service_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(10))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # master, mode, version
    registered_at: Mapped[float] = mapped_column(Float)
    last_heartbeat: Mapped[float] = mapped_column(Float)
    last_assigned_at: Mapped[float] = mapped_column(Float, default=0.0)


class JobRow(Base):
    __tablename__ = "jobs"
    # one index per query of the hot path: assignment and claims (status, runtime), expired
    # leases (status, lease), a runtime's held jobs (lease owner), the newest jobs (created)
    __table_args__ = (
        Index("ix_jobs_status_runtime", "status", "runtime_id"),
        Index("ix_jobs_status_lease_expires", "status", "lease_expires"),
        Index("ix_jobs_lease_owner_status", "lease_owner", "status"),
        Index("ix_jobs_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    snapshot_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"), nullable=True)
    model_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(50), nullable=True)
    service_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    runtime_name: Mapped[str | None] = mapped_column(String(200), nullable=True)  # asked for
    runtime_id: Mapped[str | None] = mapped_column(ForeignKey("runtimes.id"), nullable=True)  # assigned
    schema_check: Mapped[bool] = mapped_column(Boolean, default=False)
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # summaries, no records
    outputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    document_sha256: Mapped[str] = mapped_column(String(64))
    document_format: Mapped[str] = mapped_column(String(20))  # "runtime" or "modelop"
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(36), nullable=True)
    lease_expires: Mapped[float | None] = mapped_column(Float, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the claim that took this attempt
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    no_match_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class IdempotencyKeyRow(Base):
    """A creation a client may retry: the ``Idempotency-Key`` it sent (per user and kind of
    resource), the id of what it creates and a digest of the request, so a retry with the key
    gets that resource and a different request with the same key is refused. The row is written
    in the resource's own transaction: both exist or neither."""

    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # job, snapshot, model
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(36))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the request
    created_at: Mapped[float] = mapped_column(Float, index=True)


class JobLogRow(Base):
    __tablename__ = "job_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Float)
    line: Mapped[str] = mapped_column(Text)


class NotificationRow(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    runtime_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    dismissed_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # hidden from the pane
    dismissed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class LifeCycleRow(Base):
    """A running or ended model life cycle: its SpiffWorkflow state (serialized JSON, spec
    included) and what the API shows. ``version`` guards every save, so two control-plane
    processes never both advance one instance."""

    __tablename__ = "mlc_instances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    process: Mapped[str] = mapped_column(String(200))
    snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    model_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"by": "snapshot"|"user"|"schedule", ...}
    current_step: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # {id, name}
    waiting_for: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # {stage, role}
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    workflow: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
