"""What each service-task topic does, through the control plane's own service layer.

A handler gets the task's process data, its properties and its memory (``task.internal_data``,
saved with the workflow) and answers one of:

- ``Remember(values)``: save these in the task's memory first (the runner persists the workflow),
  then call me again. A job step picks its job id this way *before* creating the job, and
  creates it with that id, so a crash between the two never makes a second job;
- ``Pending()``: not done yet (a job is still running); ask again on the next tick;
- ``Done(data, job_ids, outcome)``: complete the task with ``data`` merged into the process data.

A step that cannot succeed raises ``StepFailed`` with one line saying why; the life cycle ends
FAILED with a notification carrying that line.

Topics: ``testjob`` (metrics job on the stage's runtime with the snapshot's test data),
``evaluate`` (the snapshot's DMN, else the default table, on the metrics), ``deploy`` (a batch
job on the stage's runtime as a smoke test, then the snapshot's stage is that stage),
``trainingjob`` (re-train on the given data; the runtime registers the new snapshot),
``child-snapshot`` (the new snapshot's own life cycle), ``notify`` (a notification; the property
``outcome`` FAILED or REJECTED ends the life cycle in that state).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelop_spark.controlplane.archives import archive_member, archive_names
from modelop_spark.controlplane.auth import Principal
from modelop_spark.controlplane.notifications import Kind
from modelop_spark.controlplane.service import ControlPlane
from modelop_spark.controlplane.states import JobStatus
from modelop_spark.controlplane.store import NotFound, new_id
from modelop_spark.errors import ModelOpSparkError
from modelop_spark.mlc import dmn
from modelop_spark.moc.assets import read_records
from modelop_spark.vocabulary import BATCH_JOB, TEST_JOB, TRAINING_JOB


class StepFailed(ModelOpSparkError):
    code = "MLC_STEP_FAILED"


@dataclass(frozen=True)
class Remember:
    values: dict[str, Any]


@dataclass(frozen=True)
class Pending:
    pass


@dataclass(frozen=True)
class Done:
    data: dict[str, Any] = field(default_factory=dict)
    job_ids: tuple[str, ...] = ()
    outcome: str = "done"


Outcome = Remember | Pending | Done


@dataclass(frozen=True)
class Step:
    plane: ControlPlane
    instance_id: str
    process: str
    data: Mapping[str, Any]  # the process data so far
    props: Mapping[str, str]  # the task's camunda:properties (stage, outcome...)
    memory: Mapping[str, Any]  # the task's internal data, saved with the workflow
    find_instance: Callable[[str], str | None]  # snapshot id -> its life cycle's id

    @property
    def principal(self) -> Principal:
        return Principal(f"mlc:{self.process}", frozenset({"operator"}))

    def snapshot(self) -> dict[str, Any]:
        return self.plane.snapshots.get(str(self.data["snapshot_id"]))


def run(topic: str, step: Step) -> Outcome:
    handler = HANDLERS.get(topic)
    if handler is None:
        raise StepFailed(f"service task topic {topic!r} has no handler; known topics: {', '.join(sorted(HANDLERS))}")
    return handler(step)


# -- jobs ---------------------------------------------------------------------------------------

def _job_step(step: Step, job_type: str, request: Callable[[], dict[str, Any]], *, stage: str | None) -> Outcome | dict[str, Any]:
    """Create the step's job once (under the id remembered first), then wait for it; its result
    once COMPLETE."""
    job_id = step.memory.get("job_id")
    if not job_id:
        return Remember({"job_id": new_id()})
    try:
        job = step.plane.jobs.get(job_id)
    except NotFound:
        job = step.plane.jobs.create(request(), principal=step.principal, stage=stage, job_id=job_id)
    status = JobStatus(job["status"])
    if not status.finished:
        return Pending()
    if status is not JobStatus.COMPLETE:
        message = (job.get("error") or {}).get("message") or "no error message"
        raise StepFailed(f"{job_type} {job_id} on {stage or 'any stage'} ended {status}: {message}")
    return step.plane.jobs.result(job_id)


def _test_data_input(step: Step) -> dict[str, Any]:
    snapshot = step.snapshot()
    ref = snapshot.get("test_data") or {}
    if ref.get("url"):
        return {"name": Path(ref["url"]).name or "test-data", "url": ref["url"]}
    if ref.get("path"):
        content = step.plane.snapshots.file(snapshot["id"], ref["path"])
        with tempfile.TemporaryDirectory(prefix="mlc-test-data-") as folder:
            local = Path(folder) / Path(ref["path"]).name
            local.write_bytes(content)
            return {"kind": "embedded", "name": local.name, "records": read_records(local)}
    raise StepFailed(
        f"snapshot {snapshot['id']} of model {snapshot['model']} has no test data; create it with "
        "'moc snapshot create PATH --test-data FILE_OR_URL' or set test_data in its snapshot.json"
    )


def testjob(step: Step) -> Outcome:
    stage = step.props.get("stage") or "DEV"
    result = _job_step(step, TEST_JOB, lambda: {
        "job_type": TEST_JOB, "snapshot": step.data["snapshot_id"], "inputs": [_test_data_input(step)],
        "outputs": [{"kind": "embedded", "name": "metrics.json"}], "stage": stage,
    }, stage=stage)
    if not isinstance(result, dict):
        return result
    metrics = result.get("metrics")
    if not isinstance(metrics, dict):
        raise StepFailed(f"testjob {step.memory['job_id']} returned no metrics; the model's metrics function must yield one dict")
    return Done({"metrics": metrics}, (step.memory["job_id"],), "metrics: " + _scalars(metrics))


def _scalars(metrics: Mapping[str, Any], limit: int = 300) -> str:
    """The plain-number metrics for the history line (a report's nested tables stay in the result)."""
    text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(metrics.items())
                     if isinstance(v, (int, float, str, bool)))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def deploy(step: Step) -> Outcome:
    stage = step.props.get("stage")
    if not stage:
        raise StepFailed("a deploy task needs the property stage (DEV, SIT, UAT, PROD)")
    result = _job_step(step, BATCH_JOB, lambda: {
        "job_type": BATCH_JOB, "snapshot": step.data["snapshot_id"], "inputs": [_test_data_input(step)],
        "outputs": [{"kind": "embedded", "name": "smoke.json"}], "stage": stage,
    }, stage=stage)
    if not isinstance(result, dict):
        return result
    step.plane.snapshots.set_stage(str(step.data["snapshot_id"]), stage)
    return Done({"stage": stage}, (step.memory["job_id"],), f"smoke batchjob COMPLETE; snapshot promoted to {stage}")


def trainingjob(step: Step) -> Outcome:
    stage = step.props.get("stage") or "DEV"
    data_url = step.data.get("training_data")

    def request() -> dict[str, Any]:
        source = {"name": Path(str(data_url)).name or "training-data", "url": data_url} if data_url else _test_data_input(step)
        return {"job_type": TRAINING_JOB, "snapshot": step.data["snapshot_id"], "inputs": [source],
                "outputs": [{"kind": "embedded", "name": "retrained"}], "stage": stage}

    result = _job_step(step, TRAINING_JOB, request, stage=stage)
    if not isinstance(result, dict):
        return result
    child = step.plane.store.snapshot_trained_by(step.memory["job_id"])
    if child is None:
        raise StepFailed(f"trainingjob {step.memory['job_id']} ended COMPLETE but registered no new snapshot")
    return Done({"child_snapshot_id": child["id"], "child_version": child["version"]}, (step.memory["job_id"],),
                f"new snapshot {child['id']} version {child['version']}")


def child_snapshot(step: Step) -> Outcome:
    child = str(step.data.get("child_snapshot_id") or "")
    instance = step.find_instance(child) if child else None
    outcome = f"snapshot {child} entered life cycle {instance}" if instance else f"no life-cycle process handles snapshot {child}"
    return Done({"child_instance_id": instance}, (), outcome)


# -- decisions and notifications ----------------------------------------------------------------

def evaluate(step: Step) -> Outcome:
    metrics = step.data.get("metrics")
    if not isinstance(metrics, dict):
        raise StepFailed("evaluate: no metrics in the process data; put a testjob task before it")
    xml, source = _snapshot_dmn(step)
    try:
        verdict = dmn.evaluate(xml, metrics, filename=source)
    except ModelOpSparkError as exc:
        raise StepFailed(exc.message) from exc
    return Done({"passes": verdict.passes, "reasons": list(verdict.reasons), "decision": verdict.decision, "dmn": source}, (),
                f"{'passes' if verdict.passes else 'fails'} ({source}): {verdict.summary}")


def _snapshot_dmn(step: Step) -> tuple[bytes, str]:
    """The first ``.dmn`` file of the snapshot's archive, else the default thresholds."""
    snapshot = step.snapshot()
    if snapshot.get("archive"):
        data, row = step.plane.snapshots.archive(snapshot["id"])
        for name in archive_names(data, row["archive_name"] or ""):
            if name.lower().endswith(".dmn"):
                return archive_member(data, row["archive_name"] or "", name), name
    return dmn.default_dmn(), dmn.DEFAULT_DMN.name


def notify(step: Step) -> Outcome:
    if not step.memory.get("sending"):  # win the step first: two control planes never both send it
        return Remember({"sending": True})
    outcome = (step.props.get("outcome") or "").upper()
    who = f"model {step.data.get('model')} snapshot {step.data.get('version')} ({step.data.get('snapshot_id')})"
    if outcome == "FAILED":
        message = f"life cycle {step.instance_id} ({step.process}): {who} failed its test: {'; '.join(step.data.get('reasons') or ['no reason given'])}"
        kind = Kind.MLC_FAILED
    elif outcome == "REJECTED":
        comment = step.data.get("comment") or "no comment"
        message = f"life cycle {step.instance_id} ({step.process}): {who} rejected by {step.data.get('decided_by')}: {comment}"
        kind = Kind.MLC_REJECTED
    else:
        message = f"life cycle {step.instance_id} ({step.process}): {who}: {step.props.get('message') or 'notification'}"
        kind = Kind.MLC_NOTICE
    step.plane.notifier.notify(kind, message)
    return Done({"outcome": outcome} if outcome in ("FAILED", "REJECTED") else {}, (), message)


HANDLERS: dict[str, Callable[[Step], Outcome]] = {
    TEST_JOB: testjob,
    "evaluate": evaluate,
    "deploy": deploy,
    TRAINING_JOB: trainingjob,
    "child-snapshot": child_snapshot,
    "notify": notify,
}

__all__ = ["HANDLERS", "Done", "Pending", "Remember", "Step", "StepFailed", "run"]
