"""run_job: the one path every job takes.

    parse + validate (jobs.spec)  ->  load the snapshot (runtime.snapshot, via jobs.model_source)
    ->  the job type's checks (Runner.check: still no SparkSession)  ->  the session
    ->  Runner.run: resolve the model's functions once (runtime.functions.ModelFunctions), run,
        stage every output, commit once  ->  JobResult

Every failure becomes a JobResult with status ERROR and one clear message (the traceback goes to
the log at debug level); file outputs get the result JSON beside them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from modelop_spark import errors
from modelop_spark._failures import one_line
from modelop_spark._redact import redacted_logger, remember_secrets, secrets_in
from modelop_spark.assets import write_result_file
from modelop_spark.assets.commit import job_lock, recover
from modelop_spark.assets.filesystem import absolute_url, filesystem_for, is_local
from modelop_spark.assets.locations import check_output_locations
from modelop_spark.errors import ModelOpSparkError
from modelop_spark.jobs.deadline import run_deadline
from modelop_spark.jobs.metrics import check_metrics, run_metrics
from modelop_spark.jobs.model_source import snapshot_for
from modelop_spark.jobs.modelop_job import check_declared_formats
from modelop_spark.jobs.rejected import rejected_target
from modelop_spark.jobs.result import JobResult, Outcome, utc_now
from modelop_spark.jobs.scoring import check_scoring, run_scoring
from modelop_spark.jobs.spark_settings import session_conf_for_job
from modelop_spark.jobs.spec import JobSpec, load_job_file
from modelop_spark.jobs.training import check_training, run_training
from modelop_spark.runtime.functions import takes_pyspark_convention
from modelop_spark.runtime.session import active_session, get_or_create_session, under_spark_submit
from modelop_spark.runtime.snapshot import Snapshot

log = redacted_logger("modelop_spark")


@dataclass(frozen=True)
class Runner:
    """One job type. ``check`` sees only the job and the snapshot (no SparkSession exists yet);
    ``run`` resolves the model's functions, runs, stages every output and commits once."""

    check: Callable[[JobSpec, Snapshot], None]
    run: Callable[[Any, JobSpec, Snapshot], Outcome]


# Registered explicitly: one entry per job type of job.schema.json.
RUNNERS: dict[str, Runner] = {
    "scoring": Runner(check=check_scoring, run=run_scoring),
    "metrics": Runner(check=check_metrics, run=run_metrics),
    "training": Runner(check=check_training, run=run_training),
}

_OUR_ERROR = re.compile(r"modelop_spark\.errors\.(\w+): (.+)")


def as_our_error(exc: BaseException) -> ModelOpSparkError:
    """Our error, recovered from a Spark-wrapped executor exception when one is inside."""
    if isinstance(exc, ModelOpSparkError):
        return exc
    text = str(exc)
    matches = _OUR_ERROR.findall(text)
    if matches:
        name, message = matches[-1]
        cls = getattr(errors, name, ModelOpSparkError)
        if isinstance(cls, type) and issubclass(cls, ModelOpSparkError):
            return cls(message.strip())
    return ModelOpSparkError(f"job failed: {one_line(exc)}")


def check_job_locations(spec: JobSpec) -> None:
    """Refuse outputs that are, hold or sit inside an input, the snapshot, the working
    directory, each other or the rejected output (one line, before anything runs)."""
    check_output_locations(spec.inputs, spec.outputs, rejected=rejected_target(spec), snapshot=spec.model.snapshot)


@contextmanager
def guard_job(spark: Any, spec: JobSpec) -> Iterator[None]:
    """Hold the job's lock while it runs; first finish or undo an interrupted commit of an
    earlier run of the job and remove its dead attempts' staging folders."""
    files = [a.url for a in (*spec.outputs, rejected_target(spec)) if a.kind == "file" and a.url]
    urls = [absolute_url(url) for url in files if is_local(url) or url.startswith("hdfs://")]
    with job_lock(spec.job_id):
        for done in recover(lambda url: filesystem_for(url, spark), urls, spec.job_id):
            log.warning("job %s: %s", spec.job_id, done)
        yield


def coerce_spec(job: JobSpec | Mapping[str, Any] | str) -> JobSpec:
    if isinstance(job, JobSpec):
        return job
    if isinstance(job, str):
        return load_job_file(job)
    return JobSpec.from_dict(job)


# The function each job type runs, for the checks that depend on its calling convention.
_ROLES = {"scoring": "score", "metrics": "metrics", "training": "train"}


def check_job(spec: JobSpec) -> Snapshot:
    """Everything a job can be refused for without Spark: its output locations, its snapshot
    (loaded, sources compiled), its asset formats and its job type's own checks. The loaded
    snapshot is returned, so a caller can check every job before starting Spark."""
    check_job_locations(spec)  # before anything is read or written
    snapshot = snapshot_for(spec.model)
    if takes_pyspark_convention(snapshot, _ROLES[spec.job_type]) is not True:  # the runtime reads and writes the assets
        check_declared_formats(spec.inputs, spec.outputs)
    RUNNERS[spec.job_type].check(spec, snapshot)
    return snapshot


def refused_result(spec: JobSpec, error: BaseException, *, started: str | None = None) -> JobResult:
    """The JobResult of a job refused before it ran: it names the snapshot as the job does."""
    return JobResult(
        job_id=spec.job_id, job_type=spec.job_type, status="ERROR", started_at=started or utc_now(), ended_at=utc_now(),
        snapshot=spec.model.describe(), error=as_our_error(error).to_dict(),
    )


def run_job(job: JobSpec | Mapping[str, Any] | str, *, spark: Any = None) -> JobResult:
    """Run a job (a JobSpec, a job dict, or a job file path) and return its JobResult.

    Uses ``spark`` or the active session, creating the embedded default only when there is none.
    Never raises for a failed job: the result has status ERROR; check ``result.ok``.
    """
    started = utc_now()
    spec: JobSpec | None = None
    snapshot = None
    try:
        spec = coerce_spec(job)
        remember_secrets(secrets_in(spec.document))  # masked by value in every line from here on
        snapshot = check_job(spec)
        runner = RUNNERS[spec.job_type]
        if spark is None:
            spark = session_for_job(spec)
        log.info("job %s: %s with snapshot %s %s", spec.job_id, spec.job_type, snapshot.name, snapshot.version or "")
        with guard_job(spark, spec), run_deadline(spark, spec.job_id, spec.options.timeout_seconds) as deadline:
            try:
                outcome = runner.run(spark, spec, snapshot)
            except Exception as exc:
                if deadline.expired.is_set():
                    raise deadline.error() from exc
                raise
        result = JobResult(
            job_id=spec.job_id,
            job_type=spec.job_type,
            status="COMPLETE",
            started_at=started,
            ended_at=utc_now(),
            snapshot=snapshot.describe(),
            rows=outcome.rows,
            outputs=outcome.outputs,
            rejected_output=outcome.rejected_output,
            metrics=outcome.metrics,
            details=outcome.details,
        )
    except Exception as exc:
        error = as_our_error(exc)
        log.debug("job failed", exc_info=True)
        result = JobResult(
            job_id=spec.job_id if spec else "unknown",
            job_type=spec.job_type if spec else "unknown",
            status="ERROR",
            started_at=started,
            ended_at=utc_now(),
            snapshot=snapshot.describe() if snapshot else spec.model.describe() if spec else None,
            error=error.to_dict(),
        )
    if spec is not None and spark is not None:
        _write_result_files(spark, spec, result)
    return result


def session_for_job(
    spec: JobSpec, *, master: str | None = None, conf: Mapping[str, str] | None = None, use_job_master: bool = False
) -> Any:
    """The active session, or a new one started with the Spark settings the job asks for
    (ModelOp's spark-submit flags), under the caller's ``master`` and ``conf``, which win. The
    job's own master is used only with ``use_job_master`` and no ``master`` given."""
    running = active_session() is not None or under_spark_submit()
    chosen, job_conf = session_conf_for_job(spec.spark_conf, running=running, use_job_master=use_job_master, runtime_master=master)
    return get_or_create_session(master=chosen, conf={**job_conf, **(conf or {})})


def _write_result_files(spark: Any, spec: JobSpec, result: JobResult) -> None:
    """The result JSON beside each committed file output (an ERROR result has none to sit by)."""
    if not result.ok:
        return
    text = result.to_json()
    written = []
    for asset in spec.outputs:
        try:
            location = write_result_file(spark, asset, text)
        except Exception:  # the outputs are committed; a missing side file is not worth failing for
            log.warning("could not write the job result beside output %s", asset.label, exc_info=True)
            continue
        if location:
            written.append(location)
    if written:
        log.info("job result written to %s", ", ".join(written))


__all__ = ["RUNNERS", "Runner", "as_our_error", "check_job", "coerce_spec", "refused_result", "run_job", "session_for_job"]
