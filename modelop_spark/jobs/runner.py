"""run_job: parse, load the snapshot, dispatch to the runner for the job type, report.

Every failure becomes a JobResult with status ERROR and one clear message (the traceback goes to
the log at debug level); file outputs get the result JSON beside them.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from modelop_spark import errors
from modelop_spark._failures import one_line
from modelop_spark._redact import redacted_logger, remember_secrets, secrets_in
from modelop_spark.errors import ModelOpSparkError, SpecError
from modelop_spark.jobs.model_source import snapshot_for
from modelop_spark.jobs.result import JobResult, Outcome, utc_now
from modelop_spark.jobs.spec import JobSpec, load_job_file

log = redacted_logger("modelop_spark")

# job type -> "module:function"; each takes (spark, spec, snapshot) and returns an Outcome.
RUNNERS: dict[str, str] = {
    "scoring": "modelop_spark.jobs.scoring:run_scoring",
    "metrics": "modelop_spark.jobs.metrics:run_metrics",
    "training": "modelop_spark.jobs.training:run_training",
}

_OUR_ERROR = re.compile(r"modelop_spark\.errors\.(\w+): (.+)")


def runner_for(job_type: str) -> Callable[[Any, JobSpec, Any], Outcome]:
    module_name, _, function = RUNNERS[job_type].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise SpecError(f"job_type: {job_type} jobs are not available in this build") from exc
    return getattr(module, function)


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


def _rejected_output(spec: JobSpec) -> Any:
    if spec.rejected_output is not None or not spec.outputs:
        return spec.rejected_output
    from modelop_spark.jobs.scoring import default_rejected_output

    return default_rejected_output(spec)


def check_job_locations(spec: JobSpec) -> None:
    """Refuse outputs that are, hold or sit inside an input, the snapshot, the working
    directory, each other or the rejected output (one line, before anything runs)."""
    from modelop_spark.assets.locations import check_output_locations

    check_output_locations(spec.inputs, spec.outputs, rejected=_rejected_output(spec), snapshot=spec.model.snapshot)


@contextmanager
def guard_job(spark: Any, spec: JobSpec) -> Iterator[None]:
    """Hold the job's lock while it runs; first finish or undo an interrupted commit of an
    earlier run of the job and remove its dead attempts' staging folders."""
    from modelop_spark.assets.commit import job_lock, recover
    from modelop_spark.assets.filesystem import absolute_url, filesystem_for, is_local

    assets = [a for a in (*spec.outputs, _rejected_output(spec)) if a is not None and a.kind == "file" and a.url]
    urls = [absolute_url(a.url) for a in assets if is_local(a.url) or a.url.startswith("hdfs://")]
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
        check_job_locations(spec)  # before anything is read or written
        if spark is None:
            from modelop_spark.runtime.session import get_or_create_session

            spark = get_or_create_session()
        snapshot = snapshot_for(spec.model)
        log.info("job %s: %s with snapshot %s %s", spec.job_id, spec.job_type, snapshot.name, snapshot.version or "")
        with guard_job(spark, spec):
            outcome = runner_for(spec.job_type)(spark, spec, snapshot)
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
            snapshot=snapshot.describe() if snapshot else None,
            error=error.to_dict(),
        )
    if spec is not None and spark is not None:
        _write_result_files(spark, spec, result)
    return result


def _write_result_files(spark: Any, spec: JobSpec, result: JobResult) -> None:
    """The result JSON beside each committed file output (an ERROR result has none to sit by)."""
    from modelop_spark.assets.files import write_result_file

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


__all__ = ["as_our_error", "coerce_spec", "run_job", "runner_for"]
