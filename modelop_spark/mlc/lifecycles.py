"""The life-cycle runner: starts instances, advances them one step at a time, takes approvals.

Each step is: load the instance's serialized workflow, let the engine run what it runs by itself,
then do the one waiting service task (``handlers``), complete it and save the workflow with the
step in the history. Every save is version-guarded (``LifeCycleStore.save``), so a step is
recorded once; a job step remembers its job id before it creates the job, so a control plane
killed between any two lines resumes every RUNNING instance from its last save without creating
a job twice. A background thread ticks every ``poll_seconds``; approvals and new snapshots
advance their instance at once.
"""

from __future__ import annotations

import threading
import time
from enum import StrEnum
from typing import Any

from modelop_spark._redact import redacted_logger
from modelop_spark.controlplane import resources
from modelop_spark.controlplane.auth import ADMIN, Forbidden, Principal
from modelop_spark.controlplane.notifications import Kind
from modelop_spark.controlplane.service import ControlPlane
from modelop_spark.controlplane.store import Conflict
from modelop_spark.errors import ModelOpSparkError, SpecError
from modelop_spark.mlc import engine, handlers, schedules
from modelop_spark.mlc.processes import Catalog, select
from modelop_spark.mlc.store import LifeCycleStore

log = redacted_logger("modelop_spark.mlc")

MAX_STEPS_PER_ADVANCE = 50  # a process that loops without waiting is stopped here for this tick


class State(StrEnum):
    RUNNING = "RUNNING"
    WAITING_APPROVAL = "WAITING_APPROVAL"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    REJECTED = "REJECTED"


class LifeCycles:
    def __init__(self, plane: ControlPlane, catalog: Catalog, *, poll_seconds: float = 1.0) -> None:
        self.plane = plane
        self.catalog = catalog
        self.store = LifeCycleStore(plane.store)
        self.poll_seconds = poll_seconds
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        plane.companions.append(self)
        plane.snapshots.listeners.append(self.snapshot_created)

    # -- life ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick_forever, name="mlc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _tick_forever(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.tick()
            except Exception:  # the database may be briefly unreachable; try again next tick
                log.warning("life-cycle tick failed", exc_info=True)

    def tick(self) -> None:
        self.fire_schedules(time.time())
        for instance in self.store.list(states=(State.RUNNING,)):
            try:
                self.advance(instance["id"])
            except Exception:  # one instance that cannot be advanced (a database hiccup) must not hold up the others
                log.warning("life cycle %s: could not advance it this tick", instance["id"], exc_info=True)

    def fire_schedules(self, now: float) -> list[str]:
        """Start the processes whose schedule came due since it last fired (or since this control
        plane started); the ids of the instances started."""
        started = []
        for schedule in self.catalog.schedules:
            fired = [i["trigger"].get("due", 0.0) for i in self.store.list(process=schedule.process) if i["trigger"].get("schedule") == schedule.name]
            due = schedules.due(schedule.cron, after=max([self.plane.started_at, *fired]), now=now)
            if due is None:
                continue
            trigger = {"by": "schedule", "schedule": schedule.name, "due": due}
            try:
                snapshot = self.plane.snapshots.get(schedule.model)
                started.append(self.start_instance(schedule.process, snapshot, user=None, training_data=schedule.data, trigger=trigger)["id"])
            except ModelOpSparkError as exc:
                self.plane.notifier.notify(Kind.MLC_FAILED, f"schedule {schedule.name} could not start {schedule.process}: {exc.message}")
        return started

    # -- starting ----------------------------------------------------------------------------------

    def snapshot_created(self, snapshot: dict[str, Any]) -> None:
        """A new snapshot enters the life cycle that handles it, if one does."""
        if not snapshot["service_tags"]:
            return
        process = select(self.catalog.processes.values(), service_tags=snapshot["service_tags"], model_name=snapshot["model"] or "")
        if process is not None:
            self.start_instance(process.name, snapshot, user=None, trigger={"by": "snapshot-created"})

    def start_process(self, name: str, *, model: str, data: str | None, principal: Principal) -> dict[str, Any]:
        """``POST /mlc/start``: a process started by hand (the re-train) for a model's newest snapshot."""
        process = self.catalog.get(name)
        if process.trigger != "start":
            raise SpecError(f"process {name} starts by itself for new snapshots (trigger {process.trigger}); start one whose trigger is 'start'")
        if data is not None and "://" not in data:
            raise SpecError(f"data {data}: give the labeled data as a URL the runtimes can read (file://, s3://, hdfs://)")
        snapshot = self.plane.snapshots.get(model)
        return self.start_instance(name, snapshot, user=principal.name, training_data=data, trigger={"by": "user", "user": principal.name})

    def start_instance(
        self, name: str, snapshot: dict[str, Any], *, user: str | None, trigger: dict[str, Any], training_data: str | None = None,
    ) -> dict[str, Any]:
        definition = engine.load_definition(self.catalog.bpmn(name), dmn=self.catalog.dmn_files(), filename=self.catalog.get(name).file)
        data = {
            "snapshot_id": snapshot["id"], "model": snapshot["model"], "version": snapshot["version"],
            "service_tags": list(snapshot["service_tags"]), "training_data": training_data,
        }
        workflow = definition.new_workflow(data)
        now = time.time()
        instance = self.store.create(
            process=name, snapshot_id=snapshot["id"], model_name=snapshot["model"], state=State.RUNNING, trigger=trigger,
            workflow=engine.serialize(workflow), now=now,
        )
        start = engine.start_event(workflow)
        first = _entry(start.bpmn_id if start else None, (start.bpmn_name if start else None) or "started", outcome="started", user=user)
        self.store.save(instance, now=now, history=[first])
        log.info("life cycle %s (%s) started for snapshot %s of %s", instance["id"], name, snapshot["id"], snapshot["model"])
        self.advance(instance["id"])
        return self.view(instance["id"])

    # -- advancing ---------------------------------------------------------------------------------

    def advance(self, instance_id: str) -> None:
        with self._lock:
            instance = self.store.get(instance_id)
            if instance["state"] != State.RUNNING:
                return
            workflow = engine.deserialize(instance["workflow"])
            for _ in range(MAX_STEPS_PER_ADVANCE):
                saved = self._step(instance, workflow)
                if saved is None:
                    return
                instance = saved

    def _step(self, instance: dict[str, Any], workflow) -> dict[str, Any] | None:
        """One step; the saved instance to continue from, or None to stop for now."""
        try:
            engine.advance(workflow)
            if workflow.is_completed():
                outcome = (workflow.data or {}).get("outcome")
                state = State(outcome) if outcome in (State.FAILED, State.REJECTED) else State.COMPLETE
                self._save(instance, workflow, state=state, current=None)
                log.info("life cycle %s ended %s", instance["id"], state)
                return None
            task = engine.waiting_service_task(workflow)
            if task is None:
                self._wait_for_approval(instance, workflow)
                return None
            step = handlers.Step(
                plane=self.plane, instance_id=instance["id"], process=instance["process"], data=dict(task.data),
                props=engine.properties(task), memory=dict(task.internal_data), find_instance=self._instance_of,
            )
            outcome = handlers.run(engine.properties(task)["topic"], step)
        except ModelOpSparkError as exc:
            self._fail(instance, workflow, exc.message)
            return None
        current = _step_ref(task)
        if isinstance(outcome, handlers.Remember):
            task.internal_data.update(outcome.values)
            return self._save(instance, workflow, state=State.RUNNING, current=current)
        if isinstance(outcome, handlers.Pending):
            if instance["current_step"] != current:
                self._save(instance, workflow, state=State.RUNNING, current=current)
            return None
        task.data.update(outcome.data)
        task.run()
        entry = _entry(current["id"], current["name"], outcome=outcome.outcome, job_ids=list(outcome.job_ids))
        return self._save(instance, workflow, state=State.RUNNING, current=current, history=[*instance["history"], entry])

    def _wait_for_approval(self, instance: dict[str, Any], workflow) -> None:
        user_task = engine.waiting_user_task(workflow)
        if user_task is None:
            self._fail(instance, workflow, "the process waits for something this runner does not handle (a message or timer event)")
            return
        props = engine.properties(user_task)
        waiting = {"stage": props.get("stage"), "role": props.get("role")}
        saved = self._save(instance, workflow, state=State.WAITING_APPROVAL, current=_step_ref(user_task), waiting_for=waiting)
        if saved is not None:
            role = f" (role {waiting['role']})" if waiting["role"] else ""
            self.plane.notifier.notify(
                Kind.MLC_APPROVAL_NEEDED,
                f"life cycle {instance['id']} ({instance['process']}): model {instance['model_name']} snapshot {instance['snapshot_id']} "
                f"waits for an approval to promote to {waiting['stage']}{role}: 'moc mlc approve {instance['id']}'",
            )

    def _fail(self, instance: dict[str, Any], workflow, message: str) -> None:
        current = instance["current_step"] or {"id": None, "name": None}
        entry = _entry(current["id"], current["name"], outcome=f"failed: {message}")
        if self._save(instance, workflow, state=State.FAILED, current=instance["current_step"], history=[*instance["history"], entry], error=message):
            self.plane.notifier.notify(Kind.MLC_FAILED, f"life cycle {instance['id']} ({instance['process']}) of model {instance['model_name']} failed: {message}")

    def _save(self, instance: dict[str, Any], workflow, *, state: State, current: dict[str, Any] | None, waiting_for: dict[str, Any] | None = None,
              history: list[dict[str, Any]] | None = None, error: str | None = None) -> dict[str, Any] | None:
        values: dict[str, Any] = {"state": str(state), "current_step": current, "waiting_for": waiting_for, "workflow": engine.serialize(workflow)}
        if history is not None:
            values["history"] = history
        if error is not None:
            values["error"] = error
        saved = self.store.save(instance, now=time.time(), **values)
        if saved is None:
            log.info("life cycle %s moved on elsewhere; this copy stops", instance["id"])
        return saved

    def _instance_of(self, snapshot_id: str) -> str | None:
        found = self.store.list(snapshot_id=snapshot_id)
        return found[-1]["id"] if found else None

    # -- approvals ---------------------------------------------------------------------------------

    def decide(self, instance_id: str, *, principal: Principal, approve: bool, comment: str | None) -> dict[str, Any]:
        """Approve or reject the waiting promotion; refused -> Forbidden/Conflict, nothing changed."""
        comment = (comment or "").strip() or None
        if not approve and not comment:
            raise SpecError("comment: a rejection needs a comment that says why (moc mlc reject ID --comment '...')")
        with self._lock:
            instance = self.store.get(instance_id)
            if instance["state"] != State.WAITING_APPROVAL:
                raise Conflict(f"life cycle {instance_id} is {instance['state']}, not waiting for an approval; nothing changed")
            workflow = engine.deserialize(instance["workflow"])
            task = engine.waiting_user_task(workflow)
            props = engine.properties(task)
            role = props.get("role")
            if role and role not in principal.roles and not principal.can(ADMIN):
                raise Forbidden(
                    f"promotion to {props.get('stage')} needs role {role}; user {principal.name} has {', '.join(sorted(principal.roles))}; nothing changed"
                )
            task.data.update({"approved": approve, "decided_by": principal.name, "comment": comment})
            task.run()
            ref = _step_ref(task)
            entry = _entry(ref["id"], ref["name"], outcome="approved" if approve else "rejected", user=principal.name, comment=comment)
            saved = self._save(instance, workflow, state=State.RUNNING, current=ref, history=[*instance["history"], entry])
            if saved is None:
                raise Conflict(f"life cycle {instance_id} changed while deciding; look again with 'moc mlc show {instance_id}'")
            log.info("life cycle %s: %s %s by %s", instance_id, ref["name"], entry["outcome"], principal.name)
        self.advance(instance_id)
        return self.view(instance_id)

    # -- views -------------------------------------------------------------------------------------

    def view(self, instance_id: str) -> dict[str, Any]:
        return self._resource(self.store.get(instance_id))

    def list(self, *, snapshot_id: str | None = None) -> list[dict[str, Any]]:
        return [self._resource(row) for row in self.store.list(snapshot_id=snapshot_id)]

    def _resource(self, row: dict[str, Any]) -> dict[str, Any]:
        stage = None
        if row["snapshot_id"]:
            try:
                stage = self.plane.store.get_snapshot(row["snapshot_id"])["stage"]
            except ModelOpSparkError:
                stage = None
        return {
            "id": row["id"], "process": row["process"], "snapshot_id": row["snapshot_id"], "model_name": row["model_name"],
            "state": row["state"], "stage": stage, "trigger": row["trigger"], "current_step": row["current_step"], "waiting_for": row["waiting_for"],
            "history": row["history"], "error": row["error"],
            "created_at": resources.iso(row["created_at"]), "updated_at": resources.iso(row["updated_at"]),
        }


def _step_ref(task) -> dict[str, Any]:
    return {"id": task.task_spec.bpmn_id, "name": engine.label(task)}


def _entry(step: str | None, name: str | None, *, outcome: str, job_ids: list[str] | None = None, user: str | None = None,
           comment: str | None = None) -> dict[str, Any]:
    return {"step": step, "name": name, "at": resources.iso(time.time()), "job_ids": job_ids or [], "user": user, "comment": comment, "outcome": outcome}


__all__ = ["LifeCycles", "State"]
