"""Progress of a running job, read from Spark's status store while the job runs.

    with watch_progress(spark, mode="terminal"):   # or "log", "bar", "off"
        result = run_job(spec, spark=spark)

A daemon thread polls the driver's status store (the data behind Spark's UI, kept even with the
UI off) for the stages started since the watch began: rows read, scored and written, tasks done
of tasks known, and elapsed time. Rows scored come from one counter per Spark application
(:func:`rows_scored_counter`) that the model pass adds each scored batch to; Spark reports a
task's additions when the task ends, so the model pass runs in several tasks per core. ``terminal`` redraws one line on stderr, ``log`` writes a line
every ``every`` seconds (for a scheduler's log; and the final totals, when it wrote any, so a job
shorter than ``every`` adds nothing), ``bar`` shows a tqdm bar (a widget in a
notebook). Spark Connect sessions have no status store on the client: there, nothing is shown.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from modelop_spark._redact import redacted_logger

__all__ = ["Progress", "ProgressMode", "choose_mode", "read_progress", "rows_scored_counter", "watch_progress"]

ProgressMode = Literal["terminal", "log", "bar", "off"]

log = redacted_logger("modelop_spark.progress")


@dataclass(frozen=True)
class Progress:
    """What the job has done so far (pure values, formatted without Spark)."""

    rows_read: int = 0
    rows_written: int = 0
    rows_scored: int = 0
    tasks_done: int = 0
    tasks_total: int = 0
    elapsed: float = 0.0

    def line(self) -> str:
        minutes, seconds = divmod(int(self.elapsed), 60)
        written = f", {self.rows_written:,} rows written" if self.rows_written else ""
        scored = f", {self.rows_scored:,} rows scored" if self.rows_scored else ""
        return (
            f"{self.rows_read:,} rows read{scored}{written}, tasks {self.tasks_done}/{self.tasks_total}, "
            f"{minutes}:{seconds:02d} elapsed"
        )


def choose_mode(*, quiet: bool, stream: TextIO = sys.stderr) -> ProgressMode:
    """A live line on a terminal, periodic log lines otherwise, nothing with --quiet."""
    if quiet:
        return "off"
    return "terminal" if stream.isatty() else "log"


_COUNTERS: dict[int, Any] = {}  # id(SparkContext) -> its rows-scored accumulator
_COUNTERS_LOCK = threading.Lock()


def rows_scored_counter(spark: Any) -> Any | None:
    """The application's rows-scored accumulator (made once per SparkContext); None for a
    Spark Connect session, which has none."""
    context = getattr(spark, "_sc", None)
    if context is None:
        return None
    with _COUNTERS_LOCK:
        if id(context) not in _COUNTERS:
            _COUNTERS[id(context)] = context.accumulator(0)
        return _COUNTERS[id(context)]


def _scored_so_far(spark: Any) -> int:
    counter = _COUNTERS.get(id(getattr(spark, "_sc", None)))
    return int(counter.value) if counter is not None else 0


def _status_store(spark: Any) -> Any | None:
    context = getattr(spark, "_sc", None)  # classic sessions only; Connect has no status store
    if context is None:
        return None
    try:
        return context._jsc.sc().statusStore()
    except Exception:  # a stopped context, or a JVM without it
        return None


def _stages(store: Any) -> Iterator[Any]:
    # Scala default arguments do not cross py4j: pass them as the JVM gives them.
    defaults = [getattr(store, f"stageList$default${i}")() for i in range(2, 6)]
    stages = store.stageList(None, *defaults).iterator()
    while stages.hasNext():
        yield stages.next()


def last_stage_id(spark: Any) -> int:
    store = _status_store(spark)
    if store is None:
        return -1
    return max((stage.stageId() for stage in _stages(store)), default=-1)


def read_progress(spark: Any, *, after_stage: int, started: float, scored_before: int = 0) -> Progress:
    """Over the stages after ``after_stage`` (skipped stages never run, so they are left out):
    rows read by the largest scan, rows written by all, tasks done of tasks known; rows scored
    since the counter stood at ``scored_before``."""
    store = _status_store(spark)
    totals = {"rows_read": 0, "rows_written": 0, "tasks_done": 0, "tasks_total": 0}
    if store is not None:
        for stage in _stages(store):
            if stage.stageId() <= after_stage or stage.status().toString() == "SKIPPED":
                continue
            # A job reads its input more than once (a sample, the scoring pass, the writes from the
            # cache): the largest single scan is the one that tells how far the input is read.
            totals["rows_read"] = max(totals["rows_read"], stage.inputRecords())
            totals["rows_written"] += stage.outputRecords()
            totals["tasks_done"] += stage.numCompleteTasks()
            totals["tasks_total"] += stage.numTasks()
    return Progress(**totals, rows_scored=_scored_so_far(spark) - scored_before, elapsed=time.monotonic() - started)


class _Watcher(threading.Thread):
    def __init__(self, spark: Any, mode: ProgressMode, every: float, stream: TextIO) -> None:
        super().__init__(name="modelop-spark-progress", daemon=True)
        self.spark, self.mode, self.every, self.stream = spark, mode, every, stream
        self.started = time.monotonic()
        self.after_stage = last_stage_id(spark)
        self.scored_before = _scored_so_far(spark)
        self.done = threading.Event()
        self.bar: Any = None
        self.shown = 0

    def poll(self) -> Progress:
        return read_progress(self.spark, after_stage=self.after_stage, started=self.started, scored_before=self.scored_before)

    def show(self, progress: Progress) -> None:
        self.shown += 1
        if self.mode == "terminal":
            self.stream.write("\r\033[K" + progress.line())
            self.stream.flush()
        elif self.mode == "log":
            self.stream.write(f"progress: {progress.line()}\n")
            self.stream.flush()
        elif self.mode == "bar":
            if self.bar is None:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=0, unit="task", desc="modelop-spark", leave=False)
            self.bar.total = progress.tasks_total
            self.bar.n = progress.tasks_done
            self.bar.set_postfix_str(f"{progress.rows_read:,} rows read, {progress.rows_scored:,} scored", refresh=False)
            self.bar.refresh()

    def run(self) -> None:
        interval = 0.5 if self.mode in ("terminal", "bar") else self.every
        while not self.done.wait(interval):
            try:
                self.show(self.poll())
            except Exception:  # progress is a courtesy: never let it disturb the job
                log.debug("progress poll failed", exc_info=True)
                return

    def finish(self) -> None:
        self.done.set()
        self.join(timeout=5)
        if self.mode == "terminal":
            self.stream.write("\r\033[K")
            self.stream.flush()
        elif self.mode == "log" and self.shown:  # a log that showed progress shows where it ended
            try:
                self.show(self.poll())
            except Exception:
                log.debug("progress poll failed", exc_info=True)
        elif self.bar is not None:
            self.bar.close()


@contextmanager
def watch_progress(spark: Any, *, mode: ProgressMode, every: float = 30.0, stream: TextIO | None = None) -> Iterator[None]:
    """Show the progress of the Spark work done inside the block; ``every`` is the log interval."""
    if mode == "off" or _status_store(spark) is None:
        yield
        return
    watcher = _Watcher(spark, mode, every, stream or sys.stderr)
    watcher.start()
    try:
        yield
    finally:
        watcher.finish()
