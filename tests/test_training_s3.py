"""A training job writing its snapshot to S3 (moto's server on loopback) as one archive."""

from __future__ import annotations

import shutil
from pathlib import Path

from modelop_spark import run_job
from modelop_spark.runtime.snapshot_writer import read_target_manifest

pytest_plugins = ("tests.servers",)  # moto_s3, s3_env

CHURN = Path(__file__).resolve().parents[1] / "examples" / "training" / "churn"


def _job(root: Path, output: str, job_id: str = "s3-train-1") -> dict:
    return {
        "job_id": job_id,
        "job_type": "training",
        "snapshot": str(root / "snapshot"),
        "inputs": [{"url": str(root / "data" / "train.csv"), "format": "csv"}],
        "options": {"snapshot_output": output},
    }


def test_snapshot_archive_on_s3_is_written_once_and_scores(spark, s3_env, tmp_path):
    s3_env.client().create_bucket(Bucket="models")
    shutil.copytree(CHURN, tmp_path / "churn")
    url = "s3://models/churn/churn-1.0.1.tar.gz"

    result = run_job(_job(tmp_path / "churn", url), spark=spark)
    assert result.ok, result.error
    assert result.outputs[0].location == url
    assert read_target_manifest(url)["lineage"]["training_job_id"] == "s3-train-1"
    keys = [o["Key"] for o in s3_env.client().list_objects_v2(Bucket="models")["Contents"]]
    assert keys == ["churn/churn-1.0.1.tar.gz"]

    again = run_job(_job(tmp_path / "churn", url), spark=spark)
    assert again.ok, again.error
    other = run_job(_job(tmp_path / "churn", url, job_id="s3-train-2"), spark=spark)
    assert not other.ok and "written by training job 's3-train-1'" in other.error["message"]

    scored = run_job(
        {"job_type": "scoring", "snapshot": url, "inputs": [{"url": str(CHURN / "data" / "score.csv"), "format": "csv"}],
         "outputs": [{"kind": "embedded"}]},  # fmt: skip
        spark=spark,
    )
    assert scored.ok, scored.error
    assert len(scored.outputs[0].records) == 20


def test_a_folder_on_s3_is_refused_before_training(spark, s3_env, tmp_path):
    shutil.copytree(CHURN, tmp_path / "churn")
    result = run_job(_job(tmp_path / "churn", "s3://models/churn/v2"), spark=spark)
    assert not result.ok
    assert result.error["message"] == (
        "snapshot output s3://models/churn/v2: on S3 a snapshot is written as one archive; end the URL with .tar.gz or .zip"
    )
