"""Delta tables through the deltalake fallback (no delta-spark jars on this machine): time
travel, partitioned append/overwrite, one commit per job, and no duplicate on a retried job."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import functions as F

from modelop_spark.assets.delta import DeltaReader, DeltaWriter, delta_spark_available
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import AssetError

pytest_plugins = ("tests.servers",)  # s3_env, for the table on S3


def delta(path, **extra) -> AssetSpec:
    return AssetSpec.from_dict({"name": "scores", "url": str(path), "format": "delta", **extra})


@pytest.fixture(scope="module")
def rows(spark):
    return spark.createDataFrame(
        [(i, ["east", "west", None][i % 3], i * 1.5, f"2024-01-0{1 + i % 3}") for i in range(60)],
        "id long, region string, amount double, day string",
    ).withColumn("day", F.to_date("day")).repartition(3)


def test_no_delta_spark_here_so_the_fallback_is_used(spark):
    assert not delta_spark_available(spark)


def test_partitioned_write_then_read_back(spark, tmp_path, rows):
    table = delta(tmp_path / "t", options={"partitionBy": ["region"]})
    written = DeltaWriter().write(rows, table, job_id="job-1")
    assert written.details["version"] == 0
    dt = DeltaTable(str(tmp_path / "t"))
    assert dt.metadata().partition_columns == ["region"]
    assert dt.transaction_version("modelop-spark:job-1") == 1
    back = DeltaReader().read(spark, delta(tmp_path / "t"))
    assert back.rdd.getNumPartitions() >= 3
    assert_df_equality(back, rows, ignore_row_order=True, ignore_column_order=True)


def test_append_time_travel_and_overwrite(spark, tmp_path, rows):
    path = tmp_path / "t"
    DeltaWriter().write(rows, delta(path), job_id="job-1")
    DeltaWriter().write(rows.limit(10), delta(path, mode="append"), job_id="job-2")
    DeltaWriter().write(rows.limit(5), delta(path, mode="overwrite"), job_id="job-3")
    assert DeltaReader().read(spark, delta(path)).count() == 5
    assert DeltaReader().read(spark, delta(path, options={"version": 1})).count() == 70
    assert DeltaReader().read(spark, delta(path, options={"versionAsOf": 0})).count() == 60
    first_commit = DeltaTable(str(path)).history()[-1]["timestamp"]
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(first_commit / 1000, tz=UTC).isoformat()
    assert DeltaReader().read(spark, delta(path, options={"timestamp": stamp})).count() == 60


def test_a_retried_job_never_duplicates_rows(spark, tmp_path, rows):
    path = tmp_path / "t"
    DeltaWriter().write(rows, delta(path, mode="append"), job_id="job-1")
    again = DeltaWriter().write(rows, delta(path, mode="append"), job_id="job-1")
    assert again.details["already_committed"] is True
    assert DeltaReader().read(spark, delta(path)).count() == 60
    assert DeltaTable(str(path)).version() == 0


def test_staged_rows_are_invisible_until_commit_and_abort_leaves_the_table_alone(spark, tmp_path, rows):
    path = tmp_path / "t"
    DeltaWriter().write(rows, delta(path), job_id="job-1")
    staged = DeltaWriter().stage(rows.limit(7), delta(path, mode="append"), job_id="job-2")
    assert DeltaReader().read(spark, delta(path)).count() == 60
    staged.abort()
    assert DeltaReader().read(spark, delta(path)).count() == 60
    assert DeltaTable(str(path)).version() == 0
    staged = DeltaWriter().stage(rows.limit(7), delta(path, mode="append"), job_id="job-3")
    staged.commit()
    assert DeltaReader().read(spark, delta(path)).count() == 67


def test_failed_job_leaves_no_commit(spark, tmp_path, rows):
    path = tmp_path / "t"
    DeltaWriter().write(rows, delta(path), job_id="job-1")
    boom = F.udf(lambda i: 1 // 0 if i == 40 else i, "long")
    with pytest.raises(AssetError, match="cannot write Delta table"):
        DeltaWriter().write(rows.withColumn("id", boom("id")), delta(path, mode="overwrite"), job_id="job-2")
    assert DeltaTable(str(path)).version() == 0
    assert DeltaReader().read(spark, delta(path)).count() == 60


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: delta(p / "absent"), "no Delta table at"),
        (lambda p: delta(p / "t", options={"version": 9}), "has no version 9"),
        (lambda p: delta(p / "t", options={"version": "x"}), "options.version must be a whole number"),
        (lambda p: delta(p / "t", options={"version": 0, "timestamp": "2024-01-01"}), "exclude each other"),
        (lambda p: AssetSpec.from_dict({"name": "scores", "table": "db.t", "format": "delta"}), "needs delta-spark"),
    ],
)
def test_bad_reads_are_one_clear_line(spark, tmp_path, rows, make, message):
    DeltaWriter().write(rows, delta(tmp_path / "t"), job_id="job-1")
    with pytest.raises(AssetError, match=message) as error:
        DeltaReader().read(spark, make(tmp_path))
    assert "scores" in str(error.value) and "\n" not in str(error.value)


def test_bad_writes_are_refused_before_anything_is_written(tmp_path, rows):
    DeltaWriter().write(rows, delta(tmp_path / "t"), job_id="job-1")
    with pytest.raises(AssetError, match="exists and mode is 'error'"):
        DeltaWriter().write(rows, delta(tmp_path / "t", mode="error"), job_id="job-2")
    with pytest.raises(AssetError, match="not columns of the output"):
        DeltaWriter().write(rows, delta(tmp_path / "u", options={"partitionBy": "nope"}), job_id="job-2")
    assert DeltaTable(str(tmp_path / "t")).version() == 0


def test_delta_table_on_s3(spark, s3_env, rows):
    s3_env.client().create_bucket(Bucket="lake")
    table = delta("s3://lake/scores", mode="append", options={"partitionBy": "region"})
    DeltaWriter().write(rows, table, job_id="job-1")
    assert DeltaWriter().write(rows, table, job_id="job-1").details["already_committed"] is True
    DeltaWriter().write(rows.limit(6), table, job_id="job-2")
    assert DeltaReader().read(spark, delta("s3://lake/scores")).count() == 66
    assert DeltaReader().read(spark, delta("s3://lake/scores", options={"version": 0})).count() == 60
