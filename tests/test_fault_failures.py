"""Failures reported in one line, the stack in a log file; a killed Python worker retried."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from modelop_spark._failures import one_line
from modelop_spark._model_stdout import model_prints_to_stderr
from modelop_spark.jobs.runner import run_job
from modelop_spark.runtime.session import with_task_retries
from tests.snapshots import make_snapshot

WORKER_TRACE = """An error occurred while calling o140.collectToPython.
: org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 3.0 failed 2 times
org.apache.spark.api.python.PythonException: Traceback (most recent call last):
  File "/x/worker.py", line 1, in main
    process()
  File "/model/model.py", line 4, in score
    return 1 / 0
ZeroDivisionError: division by zero

\tat org.apache.spark.api.python.BasePythonRunner.handlePythonException(PythonRunner.scala:1)
"""


def test_a_wrapped_python_worker_error_is_reduced_to_its_root_cause():
    assert one_line(RuntimeError(WORKER_TRACE)) == "ZeroDivisionError: division by zero"
    died = RuntimeError("An error occurred while calling o9.save.\n: org.apache.spark.SparkException: Python worker exited unexpectedly (crashed)")
    assert one_line(died).startswith("a Python worker died")
    assert one_line(ValueError("plain\nsecond line")) == "ValueError: plain"


def test_local_masters_get_task_retries_by_default():
    assert [with_task_retries(m) for m in ("local", "local[4]", "local[*]", "local[4,3]", "spark://h:7077")] == [
        "local[1,2]", "local[4,2]", "local[*,2]", "local[4,3]", "spark://h:7077",
    ]  # fmt: skip


def test_a_python_worker_killed_once_is_retried_and_no_row_is_lost_or_doubled(spark, tmp_path):
    assert spark.conf.get("spark.master").endswith(",2]")  # the test session is local[2,2]
    rows = str(tmp_path / "rows")
    spark.range(40).selectExpr("cast(id as string) as id", "cast(id as double) as x").coalesce(2).write.parquet(rows)
    marker = tmp_path / "killed-once"
    source = f"""
import os
from pyspark import TaskContext

# modelop.score
def score(record):
    in_a_task = TaskContext.get() is not None  # not the driver's sample run
    if record["x"] == 33 and in_a_task and not os.path.exists({str(marker)!r}):
        open({str(marker)!r}, "w").close()
        os._exit(1)  # the worker process dies, as under the OOM killer
    yield {{"y": record["x"]}}
"""
    job = {
        "job_id": "killed-worker",
        "job_type": "scoring",
        "snapshot": str(make_snapshot(tmp_path / "model", source)),
        "inputs": [{"url": rows, "format": "parquet"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "options": {"key_columns": ["id"]},
    }
    result = run_job(job, spark=spark)
    assert result.ok, result.error
    assert marker.exists()
    assert result.rows.to_dict()["out"] == 40
    assert sorted(r.y for r in spark.read.parquet(str(tmp_path / "out")).collect()) == [float(i) for i in range(40)]


def test_the_cli_prints_one_line_and_keeps_json_clean_when_a_model_prints_and_fails(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.py").write_text(
        "# modelop.init\ndef begin():\n    print('loading the model...')\n\n"
        "# modelop.score\ndef score(record):\n    print('scoring', record)\n"
        "    if record['x'] == 30:\n        raise ValueError('boom at thirty')\n    yield {'y': record['x']}\n"
    )
    (tmp_path / "in.csv").write_text("id,x\n" + "".join(f"{i},{i}\n" for i in range(50)))
    job = {"job_id": "loud", "job_type": "scoring", "snapshot": "model", "inputs": [{"url": "in.csv"}],
           "outputs": [{"url": "out", "format": "parquet"}], "options": {"key_columns": ["id"], "on_model_error": "fail"}}  # fmt: skip
    (tmp_path / "job.json").write_text(json.dumps(job))
    logs = tmp_path / "logs"
    env = {**os.environ, "MODELOP_SPARK_LOG_DIR": str(logs)}
    command = [sys.executable, "-m", "modelop_spark.cli", "run", "job.json", "--master", "local[1]"]
    done = subprocess.run([*command, "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    result = json.loads(done.stdout)  # the model's prints did not land on stdout
    assert result["error"]["message"] == "score function failed on the record with id=30: score raised ValueError: boom at thirty"
    assert "loading the model..." in done.stderr
    spark_lines = [line for line in done.stderr.splitlines() if not line.startswith(("scoring", "loading", "WARNING: Using incubator"))]
    assert spark_lines == []  # no Java or Python trace on the console
    assert "Traceback" in (logs / "modelop-spark.log").read_text()  # the stack is in the log file


def test_a_model_printing_in_one_thread_leaves_other_threads_stdout_alone(capsys):
    # The in-process runtime agent runs jobs in threads beside the process's own output (moc
    # --json in the same process, a notebook's cells): only the model's prints go to stderr, and
    # stdout is what it was once the model is done, even if it was replaced meanwhile.
    inside, release = threading.Event(), threading.Event()

    def model_call():
        with model_prints_to_stderr():
            print("from the model")
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=model_call)
    worker.start()
    inside.wait(5)
    print("from the caller")
    release.set()
    worker.join(5)
    captured = capsys.readouterr()
    assert captured.out == "from the caller\n" and captured.err == "from the model\n"
    assert sys.stdout is not None and not type(sys.stdout).__name__.startswith("_ModelAware")
