"""Whole jobs under faults: a dangerous output location, a foreign folder, a driver killed in the
middle of its commit, and two processes running the same job at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelop_spark.assets.commit import FAULT_ENV, FAULT_EXIT_CODE, recover
from modelop_spark.assets.filesystem import LocalFileSystem
from modelop_spark.jobs.runner import run_job
from tests.snapshots import RECORD_MODEL, make_snapshot


@pytest.fixture
def setup(spark, tmp_path):
    data = tmp_path / "data"
    spark.range(40).selectExpr("cast(id as string) as id", "cast(id - 2 as double) as x").coalesce(2).write.parquet(str(data))
    snapshot = make_snapshot(tmp_path / "model", RECORD_MODEL, files={"factor.txt": "2"})
    return data, snapshot


def _job(tmp_path: Path, data: Path, snapshot: Path, out: str, **extra) -> dict:
    return {
        "job_id": "fault-job",
        "job_type": "scoring",
        "snapshot": str(snapshot),
        "inputs": [{"url": str(data), "format": "parquet"}],
        "outputs": [{"url": out, "format": "parquet"}],
        "rejected_output": {"url": str(tmp_path / "rejected"), "format": "json"},
        "options": {"key_columns": ["id"]},
        **extra,
    }


def _cli(job: dict, tmp_path: Path, name: str, **env: str) -> subprocess.Popen:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(job))
    return subprocess.Popen(
        [sys.executable, "-m", "modelop_spark.cli", "run", str(path), "--master", "local[1]", "--json"],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip


def test_an_output_over_its_input_is_refused_and_the_input_survives(spark, setup, tmp_path):
    data, snapshot = setup
    before = sorted(p.name for p in data.iterdir())
    result = run_job(_job(tmp_path, data, snapshot, str(data)), spark=spark)
    assert not result.ok
    assert result.error["code"] == "INVALID_JOB"
    assert "is also input" in result.error["message"] and "\n" not in result.error["message"]
    assert sorted(p.name for p in data.iterdir()) == before


def test_a_foreign_folder_is_refused_unless_the_job_says_replace_foreign(spark, setup, tmp_path):
    data, snapshot = setup
    foreign = tmp_path / "reports"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    result = run_job(_job(tmp_path, data, snapshot, str(foreign)), spark=spark)
    assert not result.ok and "did not write" in result.error["message"]
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / ".modelop-staging").exists()
    job = _job(tmp_path, data, snapshot, str(foreign))
    job["outputs"][0]["options"] = {"replace_foreign": True}
    assert run_job(job, spark=spark).ok
    assert spark.read.parquet(str(foreign)).count() == 38
    assert run_job(_job(tmp_path, data, snapshot, str(foreign)), spark=spark).ok  # ours now: no flag needed


def test_append_with_partitions_keeps_the_partition_column(spark, setup, tmp_path):
    data, snapshot = setup
    out = str(tmp_path / "scores")
    job = _job(tmp_path, data, snapshot, out)
    job["outputs"][0] |= {"mode": "append", "options": {"partitionBy": "parity"}}
    job["snapshot"] = str(make_snapshot(tmp_path / "parity", RECORD_MODEL.replace(
        'yield {"doubled": record["x"] * FACTOR}', 'yield {"doubled": record["x"] * FACTOR, "parity": int(record["x"]) % 2}'),
        files={"factor.txt": "2"}))  # fmt: skip
    for job_id in ("a", "b", "a"):  # a rerun of job a replaces its own parts
        assert run_job({**job, "job_id": job_id}, spark=spark).ok
    scored = spark.read.parquet(out)
    assert "parity" in scored.columns
    assert scored.count() == 76
    assert {r.parity for r in scored.select("parity").distinct().collect()} == {0, 1}


def test_a_driver_killed_between_two_outputs_is_rolled_back_then_rerun(spark, setup, tmp_path):
    data, snapshot = setup
    out = tmp_path / "scores"
    job = _job(tmp_path, data, snapshot, str(out))
    assert run_job(job, spark=spark).ok
    (snapshot / "factor.txt").write_text("3")
    killed = _cli(job, tmp_path, "killed", **{FAULT_ENV: "published-0"})
    _, err = killed.communicate(timeout=600)
    assert killed.returncode == FAULT_EXIT_CODE, err[-2000:]
    assert spark.read.parquet(str(out)).first().doubled % 3 == 0  # the scores are new, the rejects old
    done = recover(lambda _: LocalFileSystem(), [str(out), str(tmp_path / "rejected")], "fault-job")
    assert done == ["rolled back the interrupted commit of job fault-job"]
    assert {r.doubled % 2 for r in spark.read.parquet(str(out)).collect()} == {0}  # all old again
    assert run_job(job, spark=spark).ok
    assert sorted(r.doubled for r in spark.read.parquet(str(out)).collect()) == [3.0 * x for x in range(38)]
    assert not (tmp_path / ".modelop-staging").exists()


def test_two_processes_running_one_job_at_once_are_serialized(spark, setup, tmp_path):
    data, snapshot = setup
    out = tmp_path / "scores"
    job = _job(tmp_path, data, snapshot, str(out))
    runs = [_cli(job, tmp_path, f"run{i}") for i in range(2)]
    results = [run.communicate(timeout=900) for run in runs]
    for run, (stdout, stderr) in zip(runs, results, strict=True):
        assert run.returncode == 0, stderr[-2000:]
        assert json.loads(stdout)["status"] == "COMPLETE"  # --json: stdout is the JobResult only
    assert spark.read.parquet(str(out)).count() == 38
    assert spark.read.json(str(tmp_path / "rejected")).count() == 2
    assert not (tmp_path / ".modelop-staging").exists()


METRICS_MODEL = RECORD_MODEL + """
    # modelop.metrics
    def metrics(df):
        yield {"mean_doubled": float(df["doubled"].mean())}
"""


def test_a_metrics_job_killed_between_its_quarantine_and_its_document_is_rolled_back_whole(spark, setup, tmp_path):
    # The quarantine of a score-first metrics job and its document are one commit: killed after
    # the quarantine is published, recovery puts back the old quarantine beside the old document.
    data, _ = setup
    snapshot = make_snapshot(tmp_path / "metrics-model", METRICS_MODEL, files={"factor.txt": "2"})
    document = tmp_path / "metrics.json"
    job = {**_job(tmp_path, data, snapshot, str(document)), "job_type": "metrics"}
    job["outputs"] = [{"url": str(document), "format": "json"}]
    job["options"] = {"key_columns": ["id"], "score_first": True, "builtin_evaluation": "never"}
    assert run_job(job, spark=spark).ok
    old_document, old_rejected = document.read_text(), spark.read.json(str(tmp_path / "rejected")).count()
    (snapshot / "factor.txt").write_text("3")
    # published in order: the quarantine (0), the document's report folder (1), the document (2)
    killed = _cli(job, tmp_path, "killed", **{FAULT_ENV: "published-1"})
    _, err = killed.communicate(timeout=600)
    assert killed.returncode == FAULT_EXIT_CODE, err[-2000:]
    done = recover(lambda _: LocalFileSystem(), [str(document), str(tmp_path / "rejected")], "fault-job")
    assert done == ["rolled back the interrupted commit of job fault-job"]
    assert document.read_text() == old_document and json.loads(old_document)["mean_doubled"] == 37.0  # factor 2
    assert spark.read.json(str(tmp_path / "rejected")).count() == old_rejected == 2
    assert not (tmp_path / ".modelop-staging").exists()
