"""Badly behaved models: sys.exit() in init or score, a score call that never returns. Each ends
as an ordinary rejection or error with a JobResult, never a hung or vanished runtime."""

from __future__ import annotations

import pytest

from modelop_spark.jobs.runner import run_job
from tests.snapshots import make_snapshot

EXITING = """
import sys

# modelop.score
def score(record):
    if record["x"] == 3:
        sys.exit(7)
    yield {"y": record["x"] * 2}
"""

HANGING = """
import time

# modelop.score
def score(record):
    if record["x"] == 5:
        time.sleep(3600)
    yield {"y": record["x"] * 2}
"""


@pytest.fixture
def rows(spark, tmp_path):
    path = str(tmp_path / "rows")
    spark.range(12).selectExpr("cast(id as string) as id", "cast(id as double) as x").coalesce(2).write.parquet(path)
    return path


def _job(tmp_path, rows, source, **options):
    return {
        "job_id": "bad-model",
        "job_type": "scoring",
        "snapshot": str(make_snapshot(tmp_path / "model", source)),
        "inputs": [{"url": rows, "format": "parquet"}],
        "outputs": [{"url": str(tmp_path / "out"), "format": "parquet"}],
        "options": {"key_columns": ["id"], **options},
    }


def test_sys_exit_in_score_rejects_the_row_and_the_job_goes_on(spark, rows, tmp_path):
    result = run_job(_job(tmp_path, rows, EXITING), spark=spark)
    assert result.ok, result.error
    assert result.rows.to_dict()["rejected_by_stage"] == {"model": 1}
    rejected = spark.read.json(result.rejected_output.location).collect()
    assert [(r.id, r._reasons) for r in rejected] == [("3", ["score raised SystemExit: 7"])]


def test_sys_exit_in_init_is_an_error_result_not_an_exit(spark, rows, tmp_path):
    source = "import sys\n\n# modelop.init\ndef begin():\n    sys.exit(3)\n\n" + EXITING
    result = run_job(_job(tmp_path, rows, source), spark=spark)
    assert result.status == "ERROR"
    assert "init function begin raised SystemExit: 3" in result.error["message"]


def test_a_score_call_past_the_timeout_is_rejected_naming_the_row(spark, rows, tmp_path):
    result = run_job(_job(tmp_path, rows, HANGING, model_timeout_seconds=1), spark=spark)
    assert result.ok, result.error
    assert result.rows.to_dict() | {"rejected_by_stage": None} == {"in": 12, "scored": 11, "rejected": 1, "out": 11, "rejected_by_stage": None}
    (rejected,) = spark.read.json(result.rejected_output.location).collect()
    assert rejected.id == "5" and "did not return within 1s" in rejected._reasons[0]


def test_with_on_model_error_fail_the_timeout_fails_the_job_naming_the_key(spark, rows, tmp_path):
    result = run_job(_job(tmp_path, rows, HANGING, model_timeout_seconds=1, on_model_error="fail"), spark=spark)
    assert result.status == "ERROR"
    message = result.error["message"]
    assert "id='5'" in message and "ModelTimeout" in message and "\n" not in message
