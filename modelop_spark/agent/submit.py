"""The spark-submit command line for one job against a configured master (pure).

The agent writes the job file and runs, per job::

    spark-submit --master MASTER [--deploy-mode client] --name modelop-job-<id>
        --conf spark.pyspark.python=PYTHON --conf spark.pyspark.driver.python=PYTHON
        [--conf key=value ...] <package>/agent/submit_entry.py JOB.json --result RESULT.json

The driver runs on the agent's machine (client mode), so the job file, the downloaded snapshot
and the result file are local paths; the package is shipped to the executors by the job itself.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

ENTRY = Path(__file__).resolve().parent / "submit_entry.py"


def spark_submit_binary(spark_home: str | None = None) -> str:
    """``$SPARK_HOME/bin/spark-submit``, else the one pip's pyspark ships, else PATH's."""
    if spark_home:
        return str(Path(spark_home) / "bin" / "spark-submit")
    try:
        from pyspark.find_spark_home import _find_spark_home

        return str(Path(_find_spark_home()) / "bin" / "spark-submit")
    except Exception:  # pragma: no cover - pyspark is a dependency
        return shutil.which("spark-submit") or "spark-submit"


def spark_submit_command(
    *,
    master: str,
    job_file: Path,
    result_file: Path,
    job_id: str,
    python: str,
    conf: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    binary: str = "spark-submit",
) -> list[str]:
    command = [binary, "--master", master, "--deploy-mode", "client", "--name", f"modelop-job-{job_id}"]
    settings = {"spark.pyspark.python": python, "spark.pyspark.driver.python": python, **dict(conf or {})}
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    command += list(extra_args)
    command += [str(ENTRY), str(job_file), "--result", str(result_file)]
    return command


__all__ = ["ENTRY", "spark_submit_binary", "spark_submit_command"]
