"""The one store interface: every read and write of the control plane's database.

The same code serves SQLite and PostgreSQL. Every change of a job's state is a guarded
``UPDATE ... WHERE status IN (the states it may come from) [AND lease_owner = ...]`` whose row
count says whether this caller won, so a claim, a lease take-over or a result is atomic even with
several control-plane processes on one database. Methods take and return plain values (dicts,
``RuntimeView``); the service layer decides, the store records.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from modelop_spark.controlplane.matching import RuntimeView
from modelop_spark.controlplane.states import JobStatus, RuntimeStatus, sources_of
from modelop_spark.controlplane.tables import (
    IdempotencyKeyRow,
    JobLogRow,
    JobRow,
    ModelRow,
    NotificationRow,
    RuntimeRow,
    SnapshotRow,
)
from modelop_spark.errors import ControlPlaneError

JOBS, RUNTIMES, SNAPSHOTS, KEYS = JobRow.__table__, RuntimeRow.__table__, SnapshotRow.__table__, IdempotencyKeyRow.__table__
MAX_LOG_LINES_PER_JOB = 5000
ASSIGNED_CHANNEL = "modelop_spark_assigned"  # PostgreSQL NOTIFY channel: payload, the runtime that got jobs
_LOADED = (JobStatus.WAITING, JobStatus.RUNNING)  # jobs that count against a runtime's capacity


@dataclass(frozen=True)
class RunningReport:
    """What a heartbeat says of one job its runtime runs."""

    job_id: str
    attempt: int
    progress: dict[str, Any] | None = None
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Beat:
    """A heartbeat's answer: the jobs to cancel, and the jobs the runtime no longer holds."""

    cancel: list[str]
    lost: list[str]


@dataclass(frozen=True)
class Idempotent:
    """A creation's ``Idempotency-Key``: who sent it, for what kind of resource, and a digest of
    the request (the same key with another request is refused)."""

    principal: str
    kind: str  # job, snapshot, model
    key: str
    fingerprint: str


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


def _one(session: Session, query: Any) -> dict[str, Any] | None:
    """The first row of a Core query as a dict. The reads on the dispatch path select table
    columns, not ORM objects: building and tracking an object per row cost most of a request."""
    found = session.execute(query).mappings().first()
    return dict(found) if found is not None else None


def _all(session: Session, query: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in session.execute(query).mappings()]


def rows_changed(result: Any) -> int:
    """The rows an UPDATE changed (a CursorResult's rowcount; the generic Result type hides it)."""
    return int(result.rowcount)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # One-statement reads need no transaction: in autocommit they cost the database one round
        # trip, not three (BEGIN, the query, ROLLBACK). Every write opens ``session().begin()``.
        self._reads = sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)

    def reading(self) -> Session:
        """A session for reads only (autocommit: each statement on its own)."""
        return self._reads()

    def session(self) -> Session:
        return self._sessions()

    # -- models and snapshots ------------------------------------------------------------------

    def create_model(self, *, name: str, description: str, now: float, key: Idempotent | None = None) -> dict[str, Any]:
        row = ModelRow(id=new_id(), name=name, description=description, created_at=now)
        try:
            with self.session() as s, s.begin():
                s.add(row)
                self._add_key(s, key, row.id, now)
        except IntegrityError as exc:
            raise Conflict(f"a model named {name!r} exists already") from exc
        return columns(row)

    def find_model(self, name_or_id: str) -> dict[str, Any]:
        with self.reading() as s:
            row = s.scalar(select(ModelRow).where((ModelRow.name == name_or_id) | (ModelRow.id == name_or_id)))
            if row is None:
                raise NotFound(f"no model named {name_or_id!r}; create it with 'moc model create {name_or_id}'")
            return columns(row)

    def list_models(self) -> list[dict[str, Any]]:
        with self.reading() as s:
            return [columns(r) for r in s.scalars(select(ModelRow).order_by(ModelRow.name))]

    def create_snapshot(self, *, key: Idempotent | None = None, **values: Any) -> dict[str, Any]:
        row = SnapshotRow(id=new_id(), **values)
        try:
            with self.session() as s, s.begin():
                s.add(row)
                self._add_key(s, key, row.id, row.created_at)
        except IntegrityError as exc:
            raise Conflict(f"snapshot {row.id} exists already") from exc
        return columns(row)

    def get_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        with self.reading() as s:
            row = _one(s, select(SNAPSHOTS).where(SNAPSHOTS.c.id == snapshot_id))
        if row is None:
            raise NotFound(f"no snapshot {snapshot_id}; 'moc snapshot list' shows them")
        return row

    def list_snapshots(self, model_id: str | None = None) -> list[dict[str, Any]]:
        query = select(SnapshotRow).order_by(SnapshotRow.created_at.desc())
        if model_id:
            query = query.where(SnapshotRow.model_id == model_id)
        with self.reading() as s:
            return [columns(r) for r in s.scalars(query)]

    def set_snapshot_stage(self, snapshot_id: str, stage: str) -> None:
        with self.session() as s, s.begin():
            s.execute(update(SnapshotRow).where(SnapshotRow.id == snapshot_id).values(stage=stage))

    def snapshot_trained_by(self, job_id: str) -> dict[str, Any] | None:
        with self.reading() as s:
            row = s.scalar(select(SnapshotRow).where(SnapshotRow.trained_by_job == job_id))
            return columns(row) if row is not None else None

    def newest_snapshot(self, model: str) -> tuple[dict[str, Any], str] | None:
        """The newest snapshot of the model named (or with the id) ``model``, and its model's name."""
        query = (select(SNAPSHOTS, ModelRow.name.label("model_name")).join(ModelRow, SNAPSHOTS.c.model_id == ModelRow.id)
                 .where((ModelRow.name == model) | (ModelRow.id == model)).order_by(SNAPSHOTS.c.created_at.desc()).limit(1))
        with self.reading() as s:
            found = _one(s, query)
        if found is None:
            return None
        name = found.pop("model_name")
        return found, str(name)

    def model_name(self, model_id: str) -> str | None:
        with self.reading() as s:
            return s.scalar(select(ModelRow.name).where(ModelRow.id == model_id))

    def runtime_name(self, runtime_id: str) -> str | None:
        with self.reading() as s:
            return s.scalar(select(RuntimeRow.name).where(RuntimeRow.id == runtime_id))

    def model_names(self) -> dict[str, str]:
        with self.reading() as s:
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

    def heartbeat(self, runtime_id: str, now: float, *, lease_until: float | None = None, running: Sequence[RunningReport] = ()) -> Beat | None:
        """One transaction per heartbeat, however many jobs the runtime runs: it is alive, the
        leases it still holds are renewed with their progress and log lines, and it learns which
        of its jobs to cancel and which it no longer holds. None: the runtime is unknown (it must
        register again)."""
        with self.session() as s, s.begin():
            alive = s.execute(update(RuntimeRow).where(RuntimeRow.id == runtime_id).values(last_heartbeat=now, status=RuntimeStatus.UP))
            if rows_changed(alive) != 1:
                return None
            lost = []
            for report in running:
                held = (JobRow.id == report.job_id, JobRow.status == JobStatus.RUNNING, JobRow.lease_owner == runtime_id,
                        JobRow.attempt == report.attempt)
                values: dict[str, Any] = {"lease_expires": lease_until if lease_until is not None else JobRow.lease_expires}
                if report.progress is not None:
                    values |= {"progress": report.progress, "updated_at": now}
                if rows_changed(s.execute(update(JobRow).where(*held).values(**values))) != 1:
                    lost.append(report.job_id)
                    continue
                s.add_all(JobLogRow(job_id=report.job_id, attempt=report.attempt, at=now, line=line[:4000])
                          for line in report.lines[-MAX_LOG_LINES_PER_JOB:])
            cancel = s.scalars(select(JobRow.id).where(
                JobRow.lease_owner == runtime_id, JobRow.status == JobStatus.RUNNING, JobRow.cancel_requested.is_(True)))
            return Beat(cancel=list(cancel), lost=lost)

    def get_runtime(self, runtime_id: str) -> dict[str, Any]:
        with self.reading() as s:
            row = _one(s, select(RUNTIMES).where(RUNTIMES.c.id == runtime_id))
        if row is None:
            raise NotFound(f"no runtime {runtime_id}; register it again")
        return row

    def list_runtimes(self) -> list[dict[str, Any]]:
        """Every runtime with its load (running + queued jobs), in one query."""
        loads = (select(JobRow.runtime_id.label("runtime_id"), func.count().label("load"))
                 .where(JobRow.status.in_(_LOADED), JobRow.runtime_id.is_not(None)).group_by(JobRow.runtime_id).subquery())
        query = (select(RUNTIMES, func.coalesce(loads.c.load, 0).label("jobs_running"))
                 .outerjoin(loads, loads.c.runtime_id == RUNTIMES.c.id).order_by(RUNTIMES.c.name))
        with self.reading() as s:
            return _all(s, query)

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

    def create_job(self, *, log_line: str | None = None, key: Idempotent | None = None, **values: Any) -> dict[str, Any]:
        """A new job (CREATED), with its first log line and its idempotency key in the same transaction."""
        row = JobRow(status=JobStatus.CREATED, attempt=0, cancel_requested=False, no_match_notified=False, progress={}, **values)
        try:
            with self.session() as s, s.begin():
                s.add(row)
                self._add_key(s, key, row.id, row.created_at)
                if log_line:
                    s.flush()  # the job row first: the log line refers to it
                    s.add(JobLogRow(job_id=row.id, attempt=0, at=row.created_at, line=log_line))
        except IntegrityError as exc:
            raise Conflict(f"job {row.id} exists already") from exc
        return columns(row)

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self.reading() as s:
            row = _one(s, select(JOBS).where(JOBS.c.id == job_id))
        if row is None:
            raise NotFound(f"no job {job_id}; 'moc job list' shows them")
        return row

    def list_jobs(self, *, status: str | None = None, limit: int = 100, offset: int = 0, **filters: str | None) -> list[dict[str, Any]]:
        """Newest first. ``filters``: job_type, model_name, stage, runtime_id (exact matches)."""
        query = select(JOBS).order_by(JobRow.created_at.desc(), JobRow.id).limit(limit).offset(offset)
        if status:
            query = query.where(JobRow.status == status)
        for column, value in filters.items():
            if value:
                query = query.where(getattr(JobRow, column) == value)
        with self.reading() as s:
            return _all(s, query)

    def count_jobs_by_status(self) -> dict[str, int]:
        with self.reading() as s:
            return {status: count for status, count in s.execute(select(JobRow.status, func.count()).group_by(JobRow.status))}

    def _move(self, job_id: str, target: JobStatus, *, where: Sequence[Any] = (), log: tuple[int, Sequence[str]] | None = None,
              **values: Any) -> bool:
        """The guarded transition: True when this caller moved the job. ``log``: (attempt, lines)
        written in the same transaction, only when the move happened."""
        with self.session() as s, s.begin():
            moved = rows_changed(s.execute(self._guarded(job_id, target, where, values))) == 1
            if moved and log is not None:
                attempt, lines = log
                at = values.get("updated_at") or time.time()
                s.add_all(JobLogRow(job_id=job_id, attempt=attempt, at=at, line=line[:4000]) for line in lines[-MAX_LOG_LINES_PER_JOB:])
            return moved

    @staticmethod
    def _guarded(job_id: str, target: JobStatus, where: Sequence[Any], values: dict[str, Any]) -> Any:
        sources = sources_of(target) | ({target} if target == JobStatus.WAITING else set())
        return update(JobRow).where(JobRow.id == job_id, JobRow.status.in_(sources), *where).values(status=target, **values)

    # -- assignment: reads bounded, writes only for what changes -------------------------------

    def created_jobs(self, *, limit: int) -> list[dict[str, Any]]:
        """The oldest jobs not yet seen by an assignment pass (CREATED)."""
        query = select(JOBS).where(JobRow.status == JobStatus.CREATED).order_by(JobRow.created_at, JobRow.id).limit(limit)
        with self.reading() as s:
            return _all(s, query)

    def unassigned_jobs(self, *, limit: int, after: tuple[float, str] | None = None) -> list[dict[str, Any]]:
        """Queued jobs with no runtime, oldest first, a page of ``limit`` after the ``(created_at,
        id)`` of the last one seen."""
        query = select(JOBS).where(JobRow.status == JobStatus.WAITING, JobRow.runtime_id.is_(None))
        if after is not None:
            query = query.where(tuple_(JobRow.created_at, JobRow.id) > tuple_(*after))
        with self.reading() as s:
            return _all(s, query.order_by(JobRow.created_at, JobRow.id).limit(limit))

    def apply_assignments(self, assigned: dict[str, list[str]], *, seen: Sequence[str], now: float) -> dict[str, int]:
        """One transaction for an assignment pass: the ``seen`` CREATED jobs become WAITING, each
        runtime's jobs are queued to it (only those still unassigned: another control plane may
        have taken some), and each runtime that got a job is told (PostgreSQL ``NOTIFY``, so a
        long poll waiting on another process wakes). Returns how many jobs each runtime got.

        The transaction locks job rows only: a runtime's ``last_assigned_at`` (the matching's tie
        breaker) is set afterwards, one runtime per statement, so it never holds two runtime rows
        against a transaction that updates many (a restart's grace, another process's pass) and
        deadlocks with it."""
        got: dict[str, int] = {}
        with self.session() as s, s.begin():
            if seen:
                s.execute(update(JobRow).where(JobRow.id.in_(seen), JobRow.status == JobStatus.CREATED)
                          .values(status=JobStatus.WAITING, updated_at=now))
            for runtime_id, job_ids in assigned.items():
                done = s.execute(
                    update(JobRow)
                    .where(JobRow.id.in_(job_ids), JobRow.runtime_id.is_(None), JobRow.status.in_((JobStatus.CREATED, JobStatus.WAITING)))
                    .values(status=JobStatus.WAITING, runtime_id=runtime_id, updated_at=now)
                )
                if rows_changed(done):
                    got[runtime_id] = rows_changed(done)
                    if self.engine.dialect.name == "postgresql":
                        s.execute(select(func.pg_notify(ASSIGNED_CHANNEL, runtime_id)))
        for runtime_id in got:
            with self.session() as s, s.begin():
                s.execute(update(RuntimeRow).where(RuntimeRow.id == runtime_id).values(last_assigned_at=now))
        return got

    def mark_no_match_notified(self, job_ids: Sequence[str]) -> list[str]:
        """Of ``job_ids``, those no NO_MATCHING_RUNTIME notification has named yet, marked now."""
        if not job_ids:
            return []
        with self.session() as s, s.begin():
            done = s.execute(
                update(JobRow).where(JobRow.id.in_(job_ids), JobRow.no_match_notified.is_(False))
                .values(no_match_notified=True).returning(JobRow.id)
            )
            return [str(job_id) for job_id in done.scalars()]

    def release_unclaimed(self, runtime_id: str, *, now: float) -> int:
        """A DOWN runtime's assigned but unclaimed jobs go back to the queue."""
        with self.session() as s, s.begin():
            done = s.execute(
                update(JobRow)
                .where(JobRow.runtime_id == runtime_id, JobRow.status == JobStatus.WAITING)
                .values(runtime_id=None, updated_at=now)
            )
            return rows_changed(done)

    def claim_candidates(self, runtime_id: str, *, token: str | None = None) -> tuple[dict[str, Any] | None, list[str]]:
        """In one read: the job a claim with ``token`` already took and still holds (its answer was
        lost: the control plane died before replying, so the runtime asks again with the same
        token), else the oldest WAITING jobs queued to this runtime, for ``claim_next``."""
        with self.reading() as s:
            if token:
                taken = _one(s, select(JOBS).where(
                    JobRow.lease_owner == runtime_id, JobRow.claim_token == token, JobRow.status == JobStatus.RUNNING).limit(1))
                if taken is not None:
                    return taken, []
            return None, list(s.scalars(self._queued_to(runtime_id)))

    @staticmethod
    def _queued_to(runtime_id: str) -> Any:
        return (select(JobRow.id)
                .where(JobRow.runtime_id == runtime_id, JobRow.status == JobStatus.WAITING, JobRow.cancel_requested.is_(False))
                .order_by(JobRow.created_at).limit(5))

    def claim_next(
        self, runtime_id: str, *, now: float, lease_until: float, token: str | None = None, candidates: Sequence[str] | None = None,
        by: str | None = None,
    ) -> dict[str, Any] | None:
        """Atomically take the oldest WAITING job assigned to this runtime (of ``candidates`` when
        they were just read): RUNNING, leased, its "claimed by" log line (runtime ``by``) and the
        row as it is now in one transaction."""
        if candidates is None:
            with self.reading() as s:
                candidates = list(s.scalars(self._queued_to(runtime_id)))
        values = {"lease_owner": runtime_id, "lease_expires": lease_until, "attempt": JobRow.attempt + 1, "claim_token": token,
                  "started_at": func.coalesce(JobRow.started_at, now), "updated_at": now, "progress": {}}
        for job_id in candidates:
            with self.session() as s, s.begin():
                taken = _one(s, self._guarded(job_id, JobStatus.RUNNING, (JobRow.runtime_id == runtime_id,), values).returning(*JOBS.c))
                if taken is not None:
                    line = f"control plane: attempt {taken['attempt']} claimed by runtime {by or runtime_id}"
                    s.add(JobLogRow(job_id=job_id, attempt=taken["attempt"], at=now, line=line))
                    return taken
        return None

    def request_cancel(self, job_id: str, *, now: float) -> dict[str, Any]:
        """Cancel a queued job at once; ask the runtime of a running one to stop it."""
        if self._move(job_id, JobStatus.CANCELLED, where=(JobRow.status != JobStatus.RUNNING,), cancel_requested=True, ended_at=now, updated_at=now):
            return self.get_job(job_id)
        with self.session() as s, s.begin():
            s.execute(update(JobRow).where(JobRow.id == job_id, JobRow.status == JobStatus.RUNNING).values(cancel_requested=True, updated_at=now))
        return self.get_job(job_id)

    def finish(
        self, job_id: str, *, runtime_id: str, attempt: int, status: JobStatus, result_sha256: str | None,
        error: dict[str, Any] | None, progress: dict[str, Any] | None, now: float, lines: Sequence[str] = (),
    ) -> bool:
        """The attempt's end, if it still holds the job, with its last log ``lines`` in the same
        transaction; False when another caller (a duplicate, a take-over) was first."""
        values: dict[str, Any] = {"result_sha256": result_sha256, "error": error, "ended_at": now, "updated_at": now, "lease_expires": None}
        if progress is not None:
            values["progress"] = progress
        return self._move(job_id, status, where=(JobRow.lease_owner == runtime_id, JobRow.attempt == attempt), log=(attempt, lines), **values)

    def expired_leases(self, now: float) -> list[dict[str, Any]]:
        with self.reading() as s:
            return _all(s, select(JOBS).where(JobRow.status == JobStatus.RUNNING, JobRow.lease_expires <= now))

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

    # -- idempotency keys ----------------------------------------------------------------------

    def key_holder(self, key: Idempotent) -> str | None:
        """The id of what the creation under ``key`` made (None: the key is new); the same key
        with a different request is a Conflict."""
        with self.reading() as s:
            row = _one(s, select(KEYS).where(KEYS.c.principal == key.principal, KEYS.c.kind == key.kind, KEYS.c.key == key.key))
        if row is None:
            return None
        if row["fingerprint"] != key.fingerprint:
            raise Conflict(f"this Idempotency-Key was sent before with a different {key.kind} request; send a new key for a new {key.kind}")
        return str(row["resource_id"])

    @staticmethod
    def _add_key(s: Session, key: Idempotent | None, resource_id: str, now: float) -> None:
        """The key beside what it creates, in the creation's own transaction: both or neither."""
        if key is not None:
            s.add(IdempotencyKeyRow(principal=key.principal, kind=key.kind, key=key.key, resource_id=resource_id,
                                    fingerprint=key.fingerprint, created_at=now))

    def forget_keys(self, *, older_than: float) -> int:
        """Keys past their retry window go (the resources they made stay)."""
        with self.session() as s, s.begin():
            return rows_changed(s.execute(delete(IdempotencyKeyRow).where(IdempotencyKeyRow.created_at < older_than)))

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
        with self.reading() as s:
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
        with self.reading() as s:
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


__all__ = ["ASSIGNED_CHANNEL", "Beat", "Conflict", "Idempotent", "NotFound", "RunningReport", "Store", "columns", "new_id", "rows_changed"]
