"""Enough partitions for the model pass to use every core of the session.

A small file is one Spark partition: a 20,000-row JSON file scored by a model that takes 4 ms a
record runs on one core for 80 s while the others idle. Before the pass in the Python workers,
an input with fewer partitions than the session runs tasks at once is spread over
``TASKS_PER_CORE`` x that many (a round-robin repartition: a shuffle of a small input, whose
rows then come out in another order, as from any multi-partition input). An input that already
has enough partitions is left as it is (no shuffle of a large input), and so are a tiny one (a
handful of embedded rows: spreading would cost more than it gives) and one that went through a
shuffle already (it has the session's shuffle partitions).
"""

from __future__ import annotations

from typing import Any

from modelop_spark._redact import redacted_logger

__all__ = ["MIN_SPREAD_BYTES", "TASKS_PER_CORE", "spread_for_cores", "spread_partitions"]

log = redacted_logger(__name__)

MIN_SPREAD_BYTES = 256 * 1024  # Spark's size estimate of the input, below which it stays as it is
TASKS_PER_CORE = 2  # more tasks than cores: a slow batch does not hold the stage's end, progress moves


def spread_partitions(current: int, parallelism: int, size_bytes: int | None) -> int | None:
    """How many partitions the model pass should get, or None to keep the input's (pure)."""
    if parallelism <= 1 or current >= parallelism or size_bytes is None or size_bytes < MIN_SPREAD_BYTES:
        return None
    return parallelism * TASKS_PER_CORE


def _estimated_bytes(df: Any) -> int | None:
    try:
        return int(str(df._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))
    except Exception:  # a plan without statistics: leave the input as it is
        return None


def _shuffled(df: Any) -> bool:
    """Whether the input's plan has a shuffle: it has the session's shuffle partitions then, and
    asking an adaptive plan for its partitions would run its shuffle stages."""
    try:
        plan = df._jdf.queryExecution().executedPlan()
        return bool(plan.getClass().getSimpleName() == "AdaptiveSparkPlanExec" or "Exchange" in plan.toString())
    except Exception:  # a plan that cannot tell: leave the input as it is
        return True


def spread_for_cores(df: Any) -> Any:
    """``df`` spread for the session's parallelism when it has too few partitions (classic
    Spark; a Connect session's partitions are the server's business)."""
    context = getattr(df.sparkSession, "_sc", None)
    if context is None or _shuffled(df):
        return df
    current = df.rdd.getNumPartitions()  # planning only: the plan has no shuffle stage to run
    wanted = spread_partitions(current, context.defaultParallelism, _estimated_bytes(df))
    if wanted is None:
        return df
    log.info("the input has %d partition(s) for %d cores: spread over %d for the model pass", current, context.defaultParallelism, wanted)
    return df.repartition(wanted)
