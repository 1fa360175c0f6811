"""The one store interface: every read and write of the control plane's database.

The same code serves SQLite and PostgreSQL. Every change of a job's state is a guarded
``UPDATE ... WHERE status IN (the states it may come from) [AND lease_owner = ...]`` whose row
count says whether this caller won, so a claim, a lease take-over or a result is atomic even with
several control-plane processes on one database. Methods take and return plain values (dicts,
``RuntimeView``); the service layer decides, the store records.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from modelop_spark.controlplane.matching import RuntimeView
from modelop_spark.controlplane.states import JobStatus, RuntimeStatus, sources_of
from modelop_spark.controlplane.tables import (
    JobLogRow,
    JobRow,
    ModelRow,
    NotificationRow,
    RuntimeRow,
    SnapshotRow,
)
from modelop_spark.errors import ControlPlaneError

MAX_LOG_LINES_PER_JOB = 5000
_LOADED = (JobStatus.WAITING, JobStatus.RUNNING)  # jobs that count against a runtime's capacity


class NotFound(ControlPlaneError):
    code = "NOT_FOUND"
    http_status = 404


class Conflict(ControlPlaneError):
    code = "CONFLICT"
    http_status = 409


def new_id() -> str:
    return str(uuid.uuid4())


def columns(row: Any) -> dict[str, Any]:
    """A mapped row as a plain dict of its columns (what every store method returns)."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def rows_changed(result: Any) -> int:
    """The rows an UPDATE changed (a CursorResult's rowcount; the generic Result type hides it)."""
    return int(result.rowcount)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._sessions()

    # -- models and snapshots ------------------------------------------------------------------

    def create_model(self, *, name: str, description: str, now: float) -> dict[str, Any]:
        row = ModelRow(id=new_id(), name=name, description=description, created_at=now)
        try:
            with self.session() as s, s.begin():
                s.add(row)
        except IntegrityError as exc:
            raise Conflict(f"a model named {name!r} exists already") from exc
        return columns(row)

    def find_model(self, name_or_id: str) -> dict[str, Any]:
        with self.session() as s:
            row = s.scalar(select(ModelRow).where((ModelRow.name == name_or_id) | (ModelRow.id == name_or_id)))
            if row is None:
                raise NotFound(f"no model named {name_or_id!r}; create it with 'moc model create {name_or_id}'")
            return columns(row)

    def list_models(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [columns(r) for r in s.scalars(select(ModelRow).order_by(ModelRow.name))]

    def create_snapshot(self, **values: Any) -> dict[str, Any]:
        row = SnapshotRow(id=new_id(), **values)
        with self.session() as s, s.begin():
            s.add(row)
        return columns(row)

    def get_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        with self.session() as s:
            row = s.get(SnapshotRow, snapshot_id)
            if row is None:
                raise NotFound(f"no snapshot {snapshot_id}; 'moc snapshot list' shows them")
            return columns(row)

    def list_snapshots(self, model_id: str | None = None) -> list[dict[str, Any]]:
        query = select(SnapshotRow).order_by(SnapshotRow.created_at.desc())
        if model_id:
            query = query.where(SnapshotRow.model_id == model_id)
        with self.session() as s:
            return [columns(r) for r in s.scalars(query)]

    def set_snapshot_stage(self, snapshot_id: str, stage: str) -> None:
        with self.session() as s, s.begin():
            s.execute(update(SnapshotRow).where(SnapshotRow.id == snapshot_id).values(stage=stage))

    def snapshot_trained_by(self, job_id: str) -> dict[str, Any] | None:
        with self.session() as s:
            row = s.scalar(select(SnapshotRow).where(SnapshotRow.trained_by_job == job_id))
            return columns(row) if row is not None else None

    def model_names(self) -> dict[str, str]:
        with self.session() as s:
            return {r.id: r.name for r in s.scalars(select(ModelRow))}

    # -- runtimes -----------------------------------------------------------------------------

    def register_runtime(self, *, name: str, values: dict[str, Any], now: float) -> tuple[dict[str, Any], bool]:
        """Insert or refresh the runtime called ``name``; (its row, whether it was DOWN or new)."""
        with self.session() as s, s.begin():
            row = s.scalar(select(RuntimeRow).where(RuntimeRow.name == name).with_for_update())
            came_up = row is None or row.status != RuntimeStatus.UP
            if row is None:
                row = RuntimeRow(id=new_id(), name=name, registered_at=now, last_assigned_at=0.0)
                s.add(row)
            for key, value in values.items():
                setattr(row, key, value)
            row.status = RuntimeStatus.UP
            row.last_heartbeat = now
        return columns(row), came_up

    def heartbeat(self, runtime_id: str, now: float) -> bool:
        """Record a heartbeat; False when the runtime is unknown (it must register again)."""
        with self.session() as s, s.begin():
            done = s.execute(
                update(RuntimeRow).where(RuntimeRow.id == runtime_id).values(last_heartbeat=now, status=RuntimeStatus.UP)
            )
            return rows_changed(done) == 1

    def get_runtime(self, runtime_id: str) -> dict[str, Any]:
        with self.session() as s:
            row = s.get(RuntimeRow, runtime_id)
            if row is None:
                raise NotFound(f"no runtime {runtime_id}; register it again")
            return columns(row)

    def list_runtimes(self) -> list[dict[str, Any]]:
        loads = self._loads()
        with self.session() as s:
            return [{**columns(r), "jobs_running": loads.get(r.id, 0)} for r in s.scalars(select(RuntimeRow).order_by(RuntimeRow.name))]

    def _loads(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(
                select(JobRow.runtime_id, func.count()).where(JobRow.status.in_(_LOADED), JobRow.runtime_id.is_not(None)).group_by(JobRow.runtime_id)
            )
            return {str(runtime_id): count for runtime_id, count in rows}

    def runtime_views(self) -> list[RuntimeView]:
        return [
            RuntimeView(
                id=r["id"], name=r["name"], status=r["status"], type=r["type"], capacity=r["capacity"],
                stage_tags=frozenset(r["stage_tags"]), service_tags=frozenset(r["service_tags"]),
                load=r["jobs_running"], last_assigned_at=r["last_assigned_at"],
            )
            for r in self.list_runtimes()
        ]

    def mark_down(self, runtime_id: str, *, silent_since: float) -> bool:
        """DOWN, if it is still UP and has not beaten since ``silent_since``; True if this call did it."""
        with self.session() as s, s.begin():
            done = s.execute(
                update(RuntimeRow)
                .where(RuntimeRow.id == runtime_id, RuntimeRow.status == RuntimeStatus.UP, RuntimeRow.last_heartbeat <= silent_since)
                .values(status=RuntimeStatus.DOWN)
            )
            return rows_changed(done) == 1

    def restart_grace(self, *, now: float, lease_until: float) -> None:
        """After a restart the downtime does not count: runtimes and leases get a fresh clock."""
        with self.session() as s, s.begin():
            s.execute(update(RuntimeRow).where(RuntimeRow.status == RuntimeStatus.UP, RuntimeRow.last_heartbeat < now).values(last_heartbeat=now))
            s.execute(
                update(JobRow).where(JobRow.status == JobStatus.RUNNING, JobRow.lease_expires < lease_until).values(lease_expires=lease_until)
            )

    # -- jobs ---------------------------------------------------------------------------------

    def create_job(self, **values: Any) -> dict[str, Any]:
        row = JobRow(status=JobStatus.CREATED, attempt=0, cancel_requested=False, no_match_notified=False, progress={}, **values)
        with self.session() as s, s.begin():
            s.add(row)
        return columns(row)

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFound(f"no job {job_id}; 'moc job list' shows them")
            return columns(row)

    def list_jobs(self, *, status: str | None = None, limit: int = 100, offset: int = 0, **filters: str | None) -> list[dict[str, Any]]:
        """Newest first. ``filters``: job_type, model_name, stage, runtime_id (exact matches)."""
        query = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id).limit(limit).offset(offset)
        if status:
            query = query.where(JobRow.status == status)
        for column, value in filters.items():
            if value:
                query = query.where(getattr(JobRow, column) == value)
        with self.session() as s:
            return [columns(r) for r in s.scalars(query)]

    def count_jobs_by_status(self) -> dict[str, int]:
        with self.session() as s:
            return {status: count for status, count in s.execute(select(JobRow.status, func.count()).group_by(JobRow.status))}

    def _move(self, job_id: str, target: JobStatus, *, where: Sequence[Any] = (), **values: Any) -> bool:
        """The guarded transition: True when this caller moved the job."""
        with self.session() as s, s.begin():
            done = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.in_(sources_of(target) | ({target} if target == JobStatus.WAITING else set())), *where)
                .values(status=target, **values)
            )
            return rows_changed(done) == 1

    def queue(self, job_id: str, *, runtime_id: str | None, now: float) -> bool:
        """CREATED or WAITING (unassigned) -> WAITING, assigned to ``runtime_id`` or to none."""
        moved = self._move(
            job_id, JobStatus.WAITING, where=(JobRow.runtime_id.is_(None), JobRow.status != JobStatus.RUNNING),
            runtime_id=runtime_id, updated_at=now,
        )
        if moved and runtime_id:
            with self.session() as s, s.begin():
                s.execute(update(RuntimeRow).where(RuntimeRow.id == runtime_id).values(last_assigned_at=now))
        return moved

    def mark_no_match_notified(self, job_id: str) -> bool:
        with self.session() as s, s.begin():
            done = s.execute(update(JobRow).where(JobRow.id == job_id, JobRow.no_match_notified.is_(False)).values(no_match_notified=True))
            return rows_changed(done) == 1

    def unassigned_jobs(self) -> list[dict[str, Any]]:
        with self.session() as s:
            query = (
                select(JobRow)
                .where(JobRow.status.in_((JobStatus.CREATED, JobStatus.WAITING)), JobRow.runtime_id.is_(None))
                .order_by(JobRow.created_at)
            )
            return [columns(r) for r in s.scalars(query)]

    def release_unclaimed(self, runtime_id: str, *, now: float) -> int:
        """A DOWN runtime's assigned but unclaimed jobs go back to the queue."""
        with self.session() as s, s.begin():
            done = s.execute(
                update(JobRow)
                .where(JobRow.runtime_id == runtime_id, JobRow.status == JobStatus.WAITING)
                .values(runtime_id=None, updated_at=now)
            )
            return rows_changed(done)

    def claimed_with(self, runtime_id: str, token: str) -> dict[str, Any] | None:
        """The job a claim with this token already took and still holds: its answer was lost
        (the control plane died before replying), so the runtime asks again with the same token."""
        with self.session() as s:
            row = s.scalars(
                select(JobRow).where(JobRow.lease_owner == runtime_id, JobRow.claim_token == token, JobRow.status == JobStatus.RUNNING).limit(1)
            ).first()
            return columns(row) if row is not None else None

    def claim_next(self, runtime_id: str, *, now: float, lease_until: float, token: str | None = None) -> dict[str, Any] | None:
        """Atomically take the oldest WAITING job assigned to this runtime: RUNNING, leased."""
        with self.session() as s:
            candidates = list(
                s.scalars(
                    select(JobRow.id)
                    .where(JobRow.runtime_id == runtime_id, JobRow.status == JobStatus.WAITING, JobRow.cancel_requested.is_(False))
                    .order_by(JobRow.created_at)
                    .limit(5)
                )
            )
        for job_id in candidates:
            moved = self._move(
                job_id, JobStatus.RUNNING, where=(JobRow.runtime_id == runtime_id,),
                lease_owner=runtime_id, lease_expires=lease_until, attempt=JobRow.attempt + 1, claim_token=token,
                started_at=func.coalesce(JobRow.started_at, now), updated_at=now,
                progress={},
            )
            if moved:
                return self.get_job(job_id)
        return None

    def renew_leases(self, runtime_id: str, claims: Iterable[tuple[str, int]], *, until: float) -> list[str]:
        """Extend this runtime's leases; returns the job ids it no longer holds (moved on)."""
        lost = []
        with self.session() as s, s.begin():
            for job_id, attempt in claims:
                done = s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == JobStatus.RUNNING, JobRow.lease_owner == runtime_id, JobRow.attempt == attempt)
                    .values(lease_expires=until)
                )
                if rows_changed(done) != 1:
                    lost.append(job_id)
        return lost

    def record_progress(self, job_id: str, *, runtime_id: str, attempt: int, progress: dict[str, Any], now: float) -> None:
        with self.session() as s, s.begin():
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == JobStatus.RUNNING, JobRow.lease_owner == runtime_id, JobRow.attempt == attempt)
                .values(progress=progress, updated_at=now)
            )

    def cancel_requests(self, runtime_id: str) -> list[str]:
        with self.session() as s:
            return list(
                s.scalars(select(JobRow.id).where(JobRow.lease_owner == runtime_id, JobRow.status == JobStatus.RUNNING, JobRow.cancel_requested.is_(True)))
            )

    def request_cancel(self, job_id: str, *, now: float) -> dict[str, Any]:
        """Cancel a queued job at once; ask the runtime of a running one to stop it."""
        if self._move(job_id, JobStatus.CANCELLED, where=(JobRow.status != JobStatus.RUNNING,), cancel_requested=True, ended_at=now, updated_at=now):
            return self.get_job(job_id)
        with self.session() as s, s.begin():
            s.execute(update(JobRow).where(JobRow.id == job_id, JobRow.status == JobStatus.RUNNING).values(cancel_requested=True, updated_at=now))
        return self.get_job(job_id)

    def finish(
        self, job_id: str, *, runtime_id: str, attempt: int, status: JobStatus, result_sha256: str | None,
        error: dict[str, Any] | None, progress: dict[str, Any] | None, now: float,
    ) -> bool:
        values: dict[str, Any] = {"result_sha256": result_sha256, "error": error, "ended_at": now, "updated_at": now, "lease_expires": None}
        if progress is not None:
            values["progress"] = progress
        return self._move(job_id, status, where=(JobRow.lease_owner == runtime_id, JobRow.attempt == attempt), **values)

    def expired_leases(self, now: float) -> list[dict[str, Any]]:
        with self.session() as s:
            query = select(JobRow).where(JobRow.status == JobStatus.RUNNING, JobRow.lease_expires <= now)
            return [columns(r) for r in s.scalars(query)]

    def requeue_expired(self, job: dict[str, Any], *, now: float) -> bool:
        """RUNNING with an expired lease -> WAITING, unassigned (the same attempt must still hold it)."""
        return self._move(
            job["id"], JobStatus.WAITING,
            where=(JobRow.status == JobStatus.RUNNING, JobRow.attempt == job["attempt"], JobRow.lease_expires <= now),
            runtime_id=None, lease_owner=None, lease_expires=None, updated_at=now,
        )

    def cancel_expired(self, job: dict[str, Any], *, now: float) -> bool:
        return self._move(
            job["id"], JobStatus.CANCELLED,
            where=(JobRow.attempt == job["attempt"], JobRow.lease_expires <= now),
            lease_expires=None, ended_at=now, updated_at=now,
        )

    # -- logs and notifications ----------------------------------------------------------------

    def append_logs(self, job_id: str, *, attempt: int, lines: Sequence[str], now: float) -> None:
        if not lines:
            return
        with self.session() as s, s.begin():
            s.add_all(JobLogRow(job_id=job_id, attempt=attempt, at=now, line=line[:4000]) for line in lines[-MAX_LOG_LINES_PER_JOB:])

    def logs(self, job_id: str, *, tail: int | None = None) -> list[dict[str, Any]]:
        query = select(JobLogRow).where(JobLogRow.job_id == job_id).order_by(JobLogRow.id.desc())
        if tail:
            query = query.limit(tail)
        with self.session() as s:
            rows = [columns(r) for r in s.scalars(query)]
        return rows[::-1]

    def add_notification(self, *, kind: str, severity: str, message: str, now: float, job_id: str | None = None, runtime_id: str | None = None) -> dict[str, Any]:
        row = NotificationRow(at=now, kind=kind, severity=severity, message=message, job_id=job_id, runtime_id=runtime_id)
        with self.session() as s, s.begin():
            s.add(row)
        return columns(row)

    def notifications(self, *, limit: int = 100, job_id: str | None = None, include_dismissed: bool = True) -> list[dict[str, Any]]:
        query = select(NotificationRow).order_by(NotificationRow.id.desc()).limit(limit)
        if job_id:
            query = query.where(NotificationRow.job_id == job_id)
        if not include_dismissed:
            query = query.where(NotificationRow.dismissed_at.is_(None))
        with self.session() as s:
            return [columns(r) for r in s.scalars(query)]

    def dismiss_notification(self, notification_id: int, *, by: str, now: float) -> dict[str, Any]:
        """Hide a notification from the pane (kept for the record); dismissing twice is a no-op."""
        with self.session() as s, s.begin():
            row = s.get(NotificationRow, notification_id)
            if row is None:
                raise NotFound(f"no notification {notification_id}; 'moc notifications' lists them")
            if row.dismissed_at is None:
                row.dismissed_at, row.dismissed_by = now, by
        return columns(row)

    def set_runtime_tags(self, runtime_id: str, *, stage_tags: list[str], service_tags: list[str], by: str) -> dict[str, Any]:
        with self.session() as s, s.begin():
            row = s.get(RuntimeRow, runtime_id)
            if row is None:
                raise NotFound(f"no runtime {runtime_id}; 'moc runtime list' shows them")
            row.stage_tags, row.service_tags = stage_tags, service_tags
            row.details = {**(row.details or {}), "tags_set_by": by}
        return columns(row)


__all__ = ["Conflict", "NotFound", "Store", "columns", "new_id", "rows_changed"]
