"""How the agent runs one job: in this process on its SparkSession, or one spark-submit per job.

Both take a ready job file (the snapshot already downloaded and checked), return the JobResult
as a dict, report progress on request, and stop a job when asked. The choice is made once, when
the agent starts (``--master`` given: spark-submit; none: in-process on the embedded default).

In-process jobs run in their own thread under a Spark job group named after the job, so progress
comes from Spark's status tracker (tasks done / total over the group's jobs) and a cancel is
``cancelJobGroup``, repeated until the job returns (a job between two Spark actions has nothing
to cancel yet).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelop_spark.agent.submit import spark_submit_binary, spark_submit_command
from modelop_spark.jobs.runner import run_job


def spark_progress(spark: Any, group: str) -> dict[str, Any]:
    """Tasks done / total over the Spark jobs of ``group`` so far (status tracker)."""
    tracker = spark.sparkContext.statusTracker()
    done = total = jobs = 0
    for job_id in tracker.getJobIdsForGroup(group):
        info = tracker.getJobInfo(job_id)
        if info is None:
            continue
        jobs += 1
        for stage_id in info.stageIds:
            stage = tracker.getStageInfo(stage_id)
            skipped = stage is not None and info.status == "SUCCEEDED" and stage.numCompletedTasks == 0
            if stage is not None and not skipped:  # a stage whose output was reused never runs
                done += stage.numCompletedTasks
                total += stage.numTasks
    return {"spark_jobs": jobs, "tasks_done": done, "tasks_total": total}


class Executor(ABC):
    """Runs jobs; ``run`` is called in the job's own thread, the others from the agent's."""

    mode: str

    @abstractmethod
    def run(self, job_id: str, job_file: Path, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
        """Run the job to its end and return the JobResult dict (status COMPLETE or ERROR)."""

    @abstractmethod
    def progress(self, job_id: str) -> dict[str, Any]: ...

    @abstractmethod
    def cancel(self, job_id: str) -> None: ...

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode}


class InProcessExecutor(Executor):
    mode = "in-process"

    def __init__(self, spark: Any) -> None:
        self.spark = spark

    def run(self, job_id: str, job_file: Path, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
        self.spark.sparkContext.setJobGroup(job_id, f"modelop job {job_id}", interruptOnCancel=True)
        try:
            return run_job(str(job_file), spark=self.spark).to_dict()
        finally:
            self.spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)

    def progress(self, job_id: str) -> dict[str, Any]:
        return spark_progress(self.spark, job_id)

    def cancel(self, job_id: str) -> None:
        self.spark.sparkContext.cancelJobGroup(job_id)

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "master": self.spark.sparkContext.master, "spark_version": self.spark.version}


class SparkSubmitExecutor(Executor):
    mode = "spark-submit"

    def __init__(self, master: str, *, conf: Mapping[str, str] | None = None, spark_home: str | None = None) -> None:
        self.master = master
        self.conf = dict(conf or {})
        self.binary = spark_submit_binary(spark_home)
        self._processes: dict[str, subprocess.Popen[str]] = {}
        self._lines: dict[str, int] = {}
        self._lock = threading.Lock()

    def command(self, job_id: str, job_file: Path, result_file: Path) -> list[str]:
        return spark_submit_command(
            master=self.master, job_file=job_file, result_file=result_file, job_id=job_id,
            python=sys.executable, conf=self.conf, binary=self.binary,
        )

    def run(self, job_id: str, job_file: Path, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
        result_file = work / "result.json"
        command = self.command(job_id, job_file, result_file)
        log("spark-submit: " + " ".join(command))
        env = dict(os.environ)
        if self.master.startswith("local"):
            env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # one machine: loopback, as the embedded session does
        process = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with self._lock:
            self._processes[job_id] = process
            self._lines[job_id] = 0
        try:
            assert process.stdout is not None
            for line in process.stdout:
                self._lines[job_id] += 1
                log(line.rstrip())
            code = process.wait()
        finally:
            with self._lock:
                self._processes.pop(job_id, None)
        if result_file.exists():
            return json.loads(result_file.read_text(encoding="utf-8"))
        return {"job_id": job_id, "status": "ERROR", "error": {"code": "SPARK_UNAVAILABLE", "message": f"spark-submit exited with {code} and wrote no result; see the job's logs"}}

    def progress(self, job_id: str) -> dict[str, Any]:
        return {"driver_output_lines": self._lines.get(job_id, 0)}

    def cancel(self, job_id: str) -> None:
        with self._lock:
            process = self._processes.get(job_id)
        if process is not None and process.poll() is None:
            process.terminate()  # the driver stops its application on SIGTERM

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "master": self.master}


__all__ = ["Executor", "InProcessExecutor", "SparkSubmitExecutor", "spark_progress"]
