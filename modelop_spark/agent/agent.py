"""The runtime agent: register as an "Apache Spark" runtime, heartbeat, claim jobs, run, report.

Threads: the main loop long-polls the control plane for a job whenever a slot is free; each job
runs in its own thread; a progress thread samples Spark's status tracker; a heartbeat thread
renews the leases of running jobs, ships their latest progress and log lines, passes on cancel
requests, and delivers finished results from the outbox. The heartbeat never waits on Spark (a
busy JVM must not cost a runtime its leases).

When the control plane cannot be reached, running jobs go on; calls are retried with exponential
backoff (tenacity), the runtime registers again when the control plane no longer knows it, and
results wait in the on-disk outbox until delivered. The control plane's leases make sure a job
is run by one runtime at a time, and its attempt numbers that a result counts once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_when_event_set, wait_exponential

from modelop_spark._redact import redact, redacted_logger
from modelop_spark.agent.executors import Executor
from modelop_spark.agent.outbox import Outbox
from modelop_spark.assets.commit import recover_under
from modelop_spark.controlplane.client import ApiError, Client, Unreachable
from modelop_spark.controlplane.jobrequest import SNAPSHOT_PLACEHOLDER, TRAINED_SNAPSHOT_PLACEHOLDER
from modelop_spark.errors import ControlPlaneError, ModelOpSparkError
from modelop_spark.runtime.archive import extract_archive, pack_folder
from modelop_spark.vocabulary import DEFAULT_ARCHIVE_SUFFIX, is_snapshot_archive, is_zip

log = redacted_logger("modelop_spark.agent")

STAGE_TAGS = frozenset({"DEV", "SIT", "UAT", "QA", "TEST", "STAGING", "PREPROD", "PROD"})
MAX_LOG_BUFFER = 2000
_saved_level = [logging.NOTSET]  # the package logger's level before the first agent raised it to INFO


def split_tags(tags: list[str]) -> tuple[list[str], list[str]]:
    """``--tag`` values: environment/stage tags (DEV, SIT, UAT, PROD, ...) and service tags."""
    stages = [t for t in tags if t.strip().upper() in STAGE_TAGS]
    services = [t for t in tags if t.strip().upper() not in STAGE_TAGS]
    return stages, services


@dataclass(frozen=True)
class AgentSettings:
    control_plane: str
    name: str
    work_dir: Path
    stage_tags: tuple[str, ...] = ()
    service_tags: tuple[str, ...] = ()
    max_jobs: int = 1
    token: str | None = None
    endpoint: str | None = None
    heartbeat_interval: float | None = None  # default: what the control plane says
    details: dict[str, Any] = field(default_factory=dict)
    recover: tuple[Path, ...] = ()  # folders whose interrupted output commits are repaired at start


class _RunningJob:
    def __init__(self, job_id: str, attempt: int) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.lines: deque[str] = deque(maxlen=MAX_LOG_BUFFER)
        self.progress: dict[str, Any] | None = None  # the latest sample, set by the progress thread
        self.cancel_requested = threading.Event()
        self.lost = threading.Event()
        self.lock = threading.Lock()

    def log(self, line: str) -> None:
        with self.lock:
            self.lines.append(redact(line))

    def drain(self) -> list[str]:
        with self.lock:
            lines = list(self.lines)
            self.lines.clear()
            return lines


class _JobLogHandler(logging.Handler):
    """Routes this package's log records to the job whose thread emitted them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.by_thread: dict[int, _RunningJob] = {}
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        job = self.by_thread.get(record.thread or 0)
        if job is not None:
            job.log(self.format(record))


class Agent:
    def __init__(self, settings: AgentSettings, executor: Executor) -> None:
        self.settings = settings
        self.executor = executor
        self.client = Client(settings.control_plane, token=settings.token)
        self.outbox = Outbox(settings.work_dir / "outbox")
        self.runtime_id: str | None = None
        self.timing: dict[str, float] = {}
        self.running: dict[str, _RunningJob] = {}
        self._running_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._log_handler = _JobLogHandler()
        self._fetch_lock = threading.Lock()

    # -- life --------------------------------------------------------------------------------

    @property
    def heartbeat_interval(self) -> float:
        return self.settings.heartbeat_interval or float(self.timing.get("heartbeat_interval", 10.0))

    def start(self) -> None:
        """Register (retrying until the control plane answers), then run in background threads."""
        package_logger = logging.getLogger("modelop_spark")
        if not any(isinstance(h, _JobLogHandler) for h in package_logger.handlers):
            _saved_level[0] = package_logger.level  # the first agent in this process keeps the level
        for handler in package_logger.handlers:
            handler.setLevel(max(handler.level, package_logger.getEffectiveLevel()))
        package_logger.setLevel(min(package_logger.getEffectiveLevel(), logging.INFO))
        package_logger.addHandler(self._log_handler)
        for folder in self.settings.recover:  # outputs a killed run left half-published
            for line in recover_under(folder):
                log.warning("recover %s: %s", folder, line)
        self._retry_forever(self.register, "register")
        for target, name in ((self._heartbeat_loop, "heartbeat"), (self._claim_loop, "claim"), (self._progress_loop, "progress")):
            thread = threading.Thread(target=target, name=f"agent-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, *, wait_for_jobs: bool = True, timeout: float = 60.0) -> None:
        """Stop claiming; let running jobs finish and deliver what can be delivered."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        while wait_for_jobs and self.running and time.monotonic() < deadline:
            time.sleep(0.1)
        for thread in self._threads:
            thread.join(timeout=max(deadline - time.monotonic(), 1.0))
        self._deliver_outbox()
        package_logger = logging.getLogger("modelop_spark")
        package_logger.removeHandler(self._log_handler)
        if not any(isinstance(h, _JobLogHandler) for h in package_logger.handlers):
            package_logger.setLevel(_saved_level[0])  # the last agent in this process leaves it as it was
        self.client.close()

    def serve_forever(self) -> None:
        import signal

        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())  # stop claiming, finish running jobs
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            log.warning("stopping: waiting for running jobs to finish")
        finally:
            self.stop()

    def _retry_forever(self, call: Callable[[], Any], what: str) -> Any:
        for attempt in Retrying(
            retry=retry_if_exception_type(Unreachable),
            wait=wait_exponential(multiplier=0.5, max=min(self.heartbeat_interval, 10.0)),
            stop=stop_when_event_set(self._stop),
            reraise=True,
            before_sleep=lambda state: log.warning("%s: control plane unreachable, retrying (attempt %d)", what, state.attempt_number),
        ):
            with attempt:
                return call()
        return None

    # -- talking to the control plane --------------------------------------------------------

    def register(self) -> None:
        answer = self.client.post(
            "/runtimes",
            {
                "name": self.settings.name,
                "type": "Apache Spark",
                "endpoint": self.settings.endpoint,
                "stage_tags": list(self.settings.stage_tags),
                "service_tags": list(self.settings.service_tags),
                "capacity": self.settings.max_jobs,
                "details": {**self.executor.describe(), **self.settings.details},
            },
        )
        self.runtime_id = answer["runtime"]["id"]
        self.timing = answer.get("timing") or {}
        log.warning("runtime %s registered with %s (id %s)", self.settings.name, self.client.url, self.runtime_id)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            try:
                self.heartbeat_once()
                self._deliver_outbox()
            except Exception:  # a heartbeat thread that died would leave the runtime DOWN for good
                log.exception("heartbeat failed; trying again at the next one")

    def heartbeat_once(self) -> None:
        with self._running_lock:
            jobs = list(self.running.values())
        reports: list[dict[str, Any]] = [{"job_id": job.job_id, "attempt": job.attempt, "progress": job.progress, "log": job.drain()} for job in jobs]
        try:
            answer = self.client.post(f"/runtimes/{self.runtime_id}/heartbeat", {"running": reports})
        except Unreachable:
            for job, report in zip(jobs, reports, strict=True):
                for line in reversed(report["log"]):  # keep the lines for the next heartbeat
                    job.lines.appendleft(line)
            log.warning("heartbeat: control plane unreachable; %d job(s) keep running", len(jobs))
            return
        except ApiError as exc:
            if exc.status == 404:
                log.warning("the control plane no longer knows this runtime; registering again")
                self._retry_forever(self.register, "register")
                return
            log.warning("heartbeat refused: %s", exc.message)
            return
        for job_id in answer.get("cancel") or ():
            if job_id in self.running:
                self.running[job_id].cancel_requested.set()
                self.executor.cancel(job_id)
        for job_id in answer.get("lost") or ():
            if job_id in self.running:
                log.warning("job %s: this runtime's lease was lost; its result will not count", job_id)
                self.running[job_id].lost.set()
        self.timing = answer.get("timing") or self.timing

    def _progress_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            with self._running_lock:
                jobs = list(self.running.values())
            for job in jobs:
                try:
                    job.progress = self.executor.progress(job.job_id)
                except Exception:  # progress is best effort; the job itself goes on
                    log.debug("progress of job %s not sampled", job.job_id, exc_info=True)

    def _claim_loop(self) -> None:
        failures = 0
        token = uuid.uuid4().hex  # kept until a claim is answered: a lost answer is asked for again
        while not self._stop.is_set():
            if len(self.running) >= self.settings.max_jobs:
                self._stop.wait(0.2)
                continue
            try:
                wait = float(self.timing.get("long_poll_seconds", 20.0))
                claimed = self.client.post(f"/runtimes/{self.runtime_id}/claim", None, wait=wait, token=token) if self.runtime_id else None
                failures = 0
                token = uuid.uuid4().hex
            except Unreachable:
                failures += 1
                self._stop.wait(backoff_seconds(failures))
                continue
            except ApiError as exc:
                failures += 1
                if exc.status == 404:
                    self._retry_forever(self.register, "register")
                else:
                    log.warning("claim refused: %s", exc.message)
                    self._stop.wait(backoff_seconds(failures))
                continue
            except Exception:  # a claim thread that died would leave the runtime UP and idle for good
                failures += 1
                log.exception("claim failed; trying again")
                self._stop.wait(backoff_seconds(failures))
                continue
            if claimed:
                self._start_job(claimed)

    # -- running jobs ------------------------------------------------------------------------

    def _start_job(self, claimed: dict[str, Any]) -> None:
        from pyspark import InheritableThread

        job = _RunningJob(claimed["job"]["id"], int(claimed["attempt"]))
        with self._running_lock:
            self.running[job.job_id] = job
        job.log(f"runtime {self.settings.name}: attempt {job.attempt} starting ({self.executor.mode})")
        thread = InheritableThread(target=self._run_job, args=(job, claimed), name=f"job-{job.job_id[:8]}", daemon=True)
        thread.start()

    def _run_job(self, job: _RunningJob, claimed: dict[str, Any]) -> None:
        self._log_handler.by_thread[threading.get_ident()] = job
        work = self.settings.work_dir / "jobs" / job.job_id
        try:
            work.mkdir(parents=True, exist_ok=True)
            document, trained_target = self._prepare(claimed, work)
            job_file = work / "job.json"
            job_file.write_text(json.dumps(document), encoding="utf-8")
            result = self.executor.run(job.job_id, job_file, work, job.log)
            if trained_target is not None and result.get("status") == "COMPLETE":
                result = self._register_trained(job, result, trained_target)
        except ModelOpSparkError as exc:
            result = {"job_id": job.job_id, "status": "ERROR", "error": exc.to_dict()}
        except Exception as exc:  # the agent must report every job, whatever went wrong
            log.debug("job %s failed in the agent", job.job_id, exc_info=True)
            result = {"job_id": job.job_id, "status": "ERROR", "error": {"code": "RUNTIME_ERROR", "message": redact(f"{type(exc).__name__}: {exc}")}}
        finally:
            self._log_handler.by_thread.pop(threading.get_ident(), None)
        status = "CANCELLED" if job.cancel_requested.is_set() and result.get("status") != "COMPLETE" else result.get("status", "ERROR")
        job.log(f"runtime {self.settings.name}: attempt {job.attempt} ended {status}")
        progress = None
        try:
            progress = {**self.executor.progress(job.job_id), "rows": (result.get("rows") or {})}
        except Exception:
            progress = {"rows": result.get("rows") or {}}
        self.outbox.put(job.job_id, {"runtime_id": self.runtime_id, "attempt": job.attempt, "status": status,
                                     "result": result, "log": job.drain(), "progress": progress})
        with self._running_lock:
            self.running.pop(job.job_id, None)
        self._deliver_outbox()

    def _prepare(self, claimed: dict[str, Any], work: Path) -> tuple[dict[str, Any], Path | None]:
        """The job document with the snapshot swapped for a checked local copy."""
        document = dict(claimed["document"])
        snapshot = claimed.get("snapshot")
        if str(document.get("snapshot", "")).startswith(SNAPSHOT_PLACEHOLDER):
            if not snapshot or not snapshot.get("sha256"):
                document["snapshot"] = (snapshot or {}).get("location")
            else:
                document["snapshot"] = str(self._fetch_snapshot(snapshot))
        trained_target = None
        options = dict(document.get("options") or {})
        target = str(options.get("snapshot_output") or "")
        if target.startswith(TRAINED_SNAPSHOT_PLACEHOLDER):
            name = target.removeprefix(TRAINED_SNAPSHOT_PLACEHOLDER) or "snapshot"
            if not is_snapshot_archive(name):
                name += DEFAULT_ARCHIVE_SUFFIX
            trained_target = work / "trained" / name
            options["snapshot_output"] = str(trained_target)
            document["options"] = options
        return document, trained_target

    def _fetch_snapshot(self, snapshot: dict[str, Any]) -> Path:
        """Download and extract once per sha256, checked against the checksum it was stored with.
        The folder is named after the model, so the JobResult names the snapshot by it."""
        folder = self.settings.work_dir / "snapshots" / snapshot["sha256"]
        target = folder / _safe_name(snapshot.get("model") or "snapshot")
        with self._fetch_lock:  # two jobs of one snapshot extract it once
            if not target.is_dir():
                self._download_and_extract(snapshot, folder, target)
        entries = [p for p in target.iterdir() if not p.name.startswith(".")]
        return entries[0] if len(entries) == 1 and entries[0].is_dir() else target  # an archive of one folder

    def _download_and_extract(self, snapshot: dict[str, Any], folder: Path, target: Path) -> None:
        data, _ = self.client.snapshot_archive(snapshot["id"])
        digest = hashlib.sha256(data).hexdigest()
        if digest != snapshot["sha256"]:
            raise ControlPlaneError(f"snapshot {snapshot['id']}: downloaded archive has sha256 {digest}, expected {snapshot['sha256']}; not run")
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".zip" if is_zip(str(snapshot.get("name") or "")) else DEFAULT_ARCHIVE_SUFFIX
        archive = folder / f"archive{suffix}"
        archive.write_bytes(data)
        staging = folder / ".extracting"
        shutil.rmtree(staging, ignore_errors=True)
        extract_archive(archive, staging)
        archive.unlink()
        staging.rename(target)

    def _register_trained(self, job: _RunningJob, result: dict[str, Any], target: Path) -> dict[str, Any]:
        """Upload the new snapshot version a training job wrote, as a snapshot of the same model."""

        data = pack_folder(target) if target.is_dir() else target.read_bytes()
        response = self.client.request(
            "POST", f"/jobs/{job.job_id}/snapshot", content=data, timeout=300,
            params={"runtime_id": self.runtime_id, "filename": target.name if not target.is_dir() else target.name + DEFAULT_ARCHIVE_SUFFIX},
            headers={"Content-Type": "application/octet-stream", "X-Content-SHA256": hashlib.sha256(data).hexdigest()},
        )
        snapshot = response.json()
        job.log(f"runtime {self.settings.name}: new snapshot {snapshot['id']} (version {snapshot['version']}) registered")
        details = {**(result.get("details") or {}), "registered_snapshot": {"id": snapshot["id"], "version": snapshot["version"], "model": snapshot["model"]}}
        return {**result, "details": details}

    def _deliver_outbox(self) -> None:
        for job_id, report in self.outbox.pending():
            body = {k: v for k, v in report.items() if k != "runtime_id"}
            try:
                answer = self.client.post(f"/jobs/{job_id}/result", body, runtime_id=report.get("runtime_id") or self.runtime_id)
            except Unreachable:
                return  # the next heartbeat tries again
            except ApiError as exc:
                if exc.status >= 500:
                    return
                log.error("result of job %s refused: %s", job_id, exc.message)
                self.outbox.remove(job_id)
                continue
            if answer.get("decision") == "stale":
                log.warning("job %s: result of attempt %s not counted (the job moved to another attempt)", job_id, report.get("attempt"))
            self.outbox.remove(job_id)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "snapshot"


def backoff_seconds(failures: int, *, first: float = 0.5, longest: float = 10.0) -> float:
    """How long to wait after ``failures`` failed calls in a row: doubling, capped."""
    return min(longest, first * 2 ** max(failures - 1, 0))


__all__ = ["STAGE_TAGS", "Agent", "AgentSettings", "split_tags"]
