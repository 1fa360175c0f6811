"""spark-submit of a job to a real Spark standalone master and worker: executors in other
processes (and another JVM) than the driver, as on a cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.cluster import spark_env, standalone_cluster
from tests.snapshots import RECORD_MODEL, make_snapshot

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.cluster
def test_spark_submit_to_a_standalone_cluster(tmp_path):
    snapshot = make_snapshot(tmp_path / "snapshot", RECORD_MODEL, files={"factor.txt": "10"})
    source = tmp_path / "input.parquet"
    pq.write_table(pa.table({"id": [str(i) for i in range(50)], "x": [float(i - 1) for i in range(50)]}), source)
    job = tmp_path / "job.json"
    job.write_text(json.dumps({
        "job_id": "cluster-job",
        "job_type": "scoring",
        "snapshot": str(snapshot),
        "inputs": [{"url": str(source), "format": "parquet"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "options": {"key_columns": ["id"]},
    }))
    env = spark_env(tmp_path)
    spark_submit = str(Path(env["SPARK_HOME"]) / "bin" / "spark-submit")
    with standalone_cluster(tmp_path / "cluster") as master:
        run = subprocess.run(
            [spark_submit, "--master", master, "--conf", "spark.executor.memory=1g", "--conf", "spark.ui.enabled=false",
             str(ROOT / "submit" / "run_job.py"), str(job), "--json"],
            env=env, capture_output=True, text=True, timeout=300,
        )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout[run.stdout.index("{"):])
    assert result["status"] == "COMPLETE"
    assert result["rows"] == {"in": 50, "scored": 49, "rejected": 1, "out": 49, "rejected_by_stage": {"model": 1}}
    scored = pq.read_table(tmp_path / "out").to_pydict()
    assert sorted(scored["doubled"]) == [float(i * 10) for i in range(49)]
    # the executors ran in the worker's JVM, not the driver's: the worker left its app folder
    assert any((tmp_path / "cluster" / "worker").iterdir())
