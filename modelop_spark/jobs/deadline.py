"""``options.timeout_seconds``: the whole run of a job may take this long (0 or absent: no limit).

The run's Spark jobs carry a job group; when the time is up a timer cancels the group (tasks are
interrupted, their Python workers killed), the failing action ends the run, and the runner
reports ERROR naming the limit. Staged outputs are aborted as for any failure, so nothing is
published. Driver-side Python (the sample run of the model) is bounded by the model-call timeout
where a signal can reach it (the main thread); the control plane bounds the rest.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from modelop_spark.errors import ModelFunctionError
from modelop_spark.spark_compat import is_connect

__all__ = ["Deadline", "JobTimedOut", "run_deadline"]


class JobTimedOut(ModelFunctionError):
    """The job ran past options.timeout_seconds and was stopped."""

    code = "JOB_TIMEOUT"


@dataclass
class Deadline:
    seconds: float | None
    expired: threading.Event = field(default_factory=threading.Event)

    def error(self) -> JobTimedOut:
        return JobTimedOut(
            f"the job ran longer than options.timeout_seconds ({self.seconds:g}s) and was stopped; nothing was "
            "published. Raise the limit, or look at what the model spends its time on"
        )


@contextmanager
def run_deadline(spark: Any, job_id: str, seconds: float | None) -> Iterator[Deadline]:
    """Bound the Spark work started in this thread to ``seconds`` (classic sessions; a Connect
    session is interrupted by tag)."""
    deadline = Deadline(seconds if seconds and seconds > 0 else None)
    if deadline.seconds is None or spark is None:
        yield deadline
        return
    group = f"modelop-{job_id}-{uuid.uuid4().hex[:8]}"
    connect = is_connect(spark)

    def expire() -> None:
        deadline.expired.set()
        if connect:
            spark.interruptTag(group)
        else:
            spark.sparkContext.cancelJobGroup(group)

    if connect:
        spark.addTag(group)
    else:
        spark.sparkContext.setJobGroup(group, f"modelop-spark job {job_id}", interruptOnCancel=True)
    timer = threading.Timer(deadline.seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield deadline
    finally:
        timer.cancel()
        if connect:
            spark.removeTag(group)
        else:
            spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
            spark.sparkContext.setLocalProperty("spark.job.description", None)
            spark.sparkContext.setLocalProperty("spark.job.interruptOnCancel", None)
