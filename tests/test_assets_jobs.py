"""Whole scoring jobs over the remote asset kinds: a snapshot fetched from S3, input read from
S3, scores written to S3 and to a Delta table, and a rerun that leaves one copy."""

from __future__ import annotations

import io
import tarfile

import pytest
from deltalake import DeltaTable

from modelop_spark.assets import read_asset
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.jobs.runner import run_job
from tests.snapshots import RECORD_MODEL, make_snapshot

pytestmark = pytest.mark.s3
pytest_plugins = ("tests.servers",)  # moto_s3, s3_env


def _tar(folder) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.iterdir()):
            archive.add(path, arcname=path.name)
    return buffer.getvalue()


def test_scoring_job_from_s3_to_s3_and_delta(spark, tmp_path, s3_env):
    client = s3_env.client()
    client.create_bucket(Bucket="jobs")
    snapshot = make_snapshot(tmp_path / "snap", RECORD_MODEL, files={"factor.txt": "3"})
    client.put_object(Bucket="jobs", Key="snapshots/record.tar.gz", Body=_tar(snapshot))
    source = AssetSpec.from_dict({"url": "s3://jobs/in/numbers", "format": "parquet"})
    from modelop_spark.assets.s3 import S3Writer

    numbers = spark.range(30).selectExpr("cast(id as string) as id", "cast(id - 1 as double) as x").repartition(3)
    S3Writer().write(numbers, source, job_id="seed")
    document = {
        "job_id": "job-s3",
        "job_type": "scoring",
        "snapshot": "s3://jobs/snapshots/record.tar.gz",
        "inputs": [{"url": "s3://jobs/in/numbers", "format": "parquet"}],
        "outputs": [
            {"name": "scores", "url": "s3://jobs/out/scores", "format": "csv"},
            {"name": "table", "url": str(tmp_path / "delta"), "format": "delta", "mode": "append"},
        ],
        "options": {"key_columns": ["id"]},
    }
    for _ in range(2):  # the second run is a retry of the same job id
        result = run_job(document, spark=spark)
        assert result.ok, result.error
        assert (result.rows.rows_in, result.rows.rows_scored, result.rows.rows_rejected) == (30, 29, 1)
    scores = read_asset(spark, AssetSpec.from_dict({"url": "s3://jobs/out/scores", "format": "csv"}))
    assert scores.count() == 29
    assert sorted(r.doubled for r in scores.collect())[:2] == [0.0, 3.0]
    assert DeltaTable(str(tmp_path / "delta")).version() == 0  # the retry committed nothing twice
    assert read_asset(spark, AssetSpec.from_dict({"url": str(tmp_path / "delta"), "format": "delta"})).count() == 29


def test_a_job_whose_s3_input_is_missing_fails_with_one_line(spark, tmp_path, s3_env):
    s3_env.client().create_bucket(Bucket="jobs-missing")
    snapshot = make_snapshot(tmp_path / "snap", RECORD_MODEL, files={"factor.txt": "3"})
    document = {
        "job_id": "job-missing",
        "job_type": "scoring",
        "snapshot": str(snapshot),
        "inputs": [{"name": "numbers", "url": "s3://jobs-missing/in/absent", "format": "parquet"}],
        "outputs": [{"name": "scores", "url": "s3://jobs-missing/out/scores", "format": "parquet"}],
    }
    result = run_job(document, spark=spark)
    assert not result.ok
    assert "nothing at s3://jobs-missing/in/absent" in result.error["message"]
    listed = s3_env.client().list_objects_v2(Bucket="jobs-missing")
    assert listed.get("KeyCount", 0) == 0  # nothing written
