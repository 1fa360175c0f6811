"""S3 assets against a real S3-compatible server (moto's) on loopback, through the pyarrow
Python data source (this PySpark has no S3A connector)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from modelop_spark.assets.s3 import S3Reader, S3Writer, s3a_available
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import AssetError
from modelop_spark.jobs.runner import run_job
from tests import servers
from tests.snapshots import RECORD_MODEL, make_snapshot

pytestmark = pytest.mark.s3
pytest_plugins = ("tests.servers",)  # the moto_s3, moto_s3_open and s3_env fixtures

BUCKET = "modelop-assets"


@pytest.fixture(scope="module")
def bucket(moto_s3):
    moto_s3.client().create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture(scope="module")
def scores(spark):
    return spark.createDataFrame(
        [(i, f"c{i % 7}", i * 0.25, i % 2 == 0) for i in range(200)],
        "id long, customer string, amount double, flagged boolean",
    ).repartition(3)


def asset(url: str, fmt: str | None = None, **extra) -> AssetSpec:
    data = {"name": "scores", "url": url, **extra}
    if fmt:
        data["format"] = fmt
    return AssetSpec.from_dict(data)


def keys(server, prefix: str) -> list[str]:
    listed = server.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []) if not o["Key"].endswith("/"))


def test_this_pyspark_has_no_s3a_so_the_python_source_is_used(spark):
    assert not s3a_available(spark)


@pytest.mark.parametrize(("fmt", "options"), [("parquet", {}), ("csv", {"compression": "gzip"}), ("json", {})])
def test_round_trip_each_format(spark, s3_env, bucket, scores, fmt, options):
    target = asset(f"s3://{bucket}/round/{fmt}", fmt, options=options)
    written = S3Writer().write(scores, target, job_id="job-round")
    assert written.location == f"s3://{bucket}/round/{fmt}"
    back = S3Reader().read(spark, target)
    assert back.rdd.getNumPartitions() == len(written.details["files"]) == 3
    assert_df_equality(back, scores, ignore_row_order=True)


def test_s3a_scheme_and_modelop_repository_form(spark, s3_env, bucket, scores):
    S3Writer().write(scores, asset(f"s3a://{bucket}/repo/out.parquet"), job_id="j")
    modelop_style = AssetSpec.from_dict(
        {"name": "in", "url": "repo/out.parquet", "format": "parquet",
         "repository": {"repositoryType": "S3_REPOSITORY", "bucket": bucket, "region": "us-east-1"}}
    )
    assert S3Reader().read(spark, modelop_style).count() == 200


def test_parquet_is_split_by_row_group(spark, s3_env, bucket):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modelop_spark.assets.s3 import resolve_settings
    from modelop_spark.assets.s3_source import make_filesystem

    target = asset(f"s3://{bucket}/groups/one.parquet")
    fs = make_filesystem(resolve_settings(target))
    with fs.open_output_stream(f"{bucket}/groups/one.parquet") as sink:
        pq.write_table(pa.table({"x": list(range(1000))}), sink, row_group_size=250)
    df = S3Reader().read(spark, target)
    assert df.rdd.getNumPartitions() == 4
    assert df.agg(F.sum("x")).first()[0] == sum(range(1000))


def test_rerun_of_the_same_job_replaces_its_output_in_append_mode(spark, s3_env, bucket, scores):
    target = asset(f"s3://{bucket}/append/out", "parquet", mode="append")
    S3Writer().write(scores, target, job_id="job-a")
    S3Writer().write(scores, target, job_id="job-a")  # a retry
    assert S3Reader().read(spark, target).count() == 200
    S3Writer().write(scores.limit(10), target, job_id="job-b")  # another job appends
    assert S3Reader().read(spark, target).count() == 210


def test_failed_job_leaves_the_target_as_it_was(spark, s3_env, moto_s3, bucket, scores):
    target = asset(f"s3://{bucket}/atomic/out", "parquet")
    S3Writer().write(scores, target, job_id="job-1")
    before = keys(moto_s3, "atomic/out")
    boom = F.udf(lambda i: 1 // 0 if i == 150 else i, "long")
    with pytest.raises(AssetError, match="scores"):
        S3Writer().write(scores.withColumn("id", boom("id")), target, job_id="job-2")
    assert keys(moto_s3, "atomic/out") == before
    assert keys(moto_s3, "atomic/.modelop-staging") == []
    assert S3Reader().read(spark, target).count() == 200


def test_staged_output_is_invisible_until_commit_and_abort_removes_it(spark, s3_env, moto_s3, bucket, scores):
    target = asset(f"s3://{bucket}/staged/out", "json")
    staged = S3Writer().stage(scores, target, job_id="job-s")
    assert keys(moto_s3, "staged/out") == []
    staged.commit()
    assert S3Reader().read(spark, target).count() == 200
    S3Writer().stage(scores.limit(5), target, job_id="job-t").abort()
    assert S3Reader().read(spark, target).count() == 200
    assert keys(moto_s3, "staged/.modelop-staging") == []


def test_single_file_output(spark, s3_env, moto_s3, bucket, scores):
    target = asset(f"s3://{bucket}/single/scores.csv", options={"single_file": True})
    S3Writer().write(scores, target, job_id="job-1")
    S3Writer().write(scores, target, job_id="job-1")
    assert keys(moto_s3, "single/") == ["single/scores.csv"]
    assert S3Reader().read(spark, target).count() == 200


def test_mode_error_refuses_an_existing_output(s3_env, bucket, scores):
    target = asset(f"s3://{bucket}/exists/out", "parquet")
    S3Writer().write(scores, target, job_id="job-1")
    with pytest.raises(AssetError, match="already holds data and mode is 'error'"):
        S3Writer().write(scores, asset(f"s3://{bucket}/exists/out", "parquet", mode="error"), job_id="job-2")


def test_presigned_link_downloads_the_commit_record(monkeypatch, moto_s3_open, scores):
    for name, value in moto_s3_open.env().items():
        monkeypatch.setenv(name, value)
    moto_s3_open.client().create_bucket(Bucket=BUCKET)
    target = asset(f"s3://{BUCKET}/linked/out", "csv", options={"presign": True, "presign_seconds": 600})
    written = S3Writer().write(scores, target, job_id="job-link")
    assert written.link and "X-Amz-Expires=600" in written.link
    with urllib.request.urlopen(written.link, timeout=10) as response:
        record = json.loads(response.read())
    assert record["job_id"] == "job-link" and record["rows"] == 200


def test_missing_bucket_is_one_clear_line(spark, s3_env, scores):
    with pytest.raises(AssetError) as read_error:
        S3Reader().read(spark, asset("s3://no-such-bucket/in.parquet"))
    assert "the bucket does not exist" in str(read_error.value)
    with pytest.raises(AssetError, match="the bucket does not exist"):
        S3Writer().write(scores, asset("s3://no-such-bucket/out", "parquet"), job_id="j")


def test_missing_path_and_empty_input(spark, s3_env, moto_s3, bucket):
    with pytest.raises(AssetError, match=r"'scores'.*nothing at s3://modelop-assets/absent"):
        S3Reader().read(spark, asset(f"s3://{bucket}/absent/in.csv"))
    moto_s3.client().put_object(Bucket=bucket, Key="empty/in.csv", Body=b"")
    with pytest.raises(AssetError, match="holds no csv data"):
        S3Reader().read(spark, asset(f"s3://{bucket}/empty/in.csv"))


def test_wrong_format_names_the_file_and_the_format(spark, s3_env, moto_s3, bucket):
    moto_s3.client().put_object(Bucket=bucket, Key="text/in.parquet", Body=b"id,name\n1,a\n")
    with pytest.raises(AssetError, match=r"not readable as parquet.*check the asset's format"):
        S3Reader().read(spark, asset(f"s3://{bucket}/text/in.parquet"))


def test_wrong_credentials_are_refused_without_leaking_them(spark, s3_env, monkeypatch, bucket, scores):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "definitely-wrong-secret")
    with pytest.raises(AssetError) as error:
        S3Reader().read(spark, asset(f"s3://{bucket}/round/parquet", "parquet"))
    message = str(error.value)
    assert "credentials" in message and "\n" not in message
    assert "definitely-wrong-secret" not in message and s3_env.access_key not in message
    with pytest.raises(AssetError, match="credentials"):
        S3Writer().write(scores, asset(f"s3://{bucket}/denied/out", "parquet"), job_id="j")


def test_credentials_in_the_job_file_are_refused(spark, s3_env, bucket):
    leaky = AssetSpec.from_dict(
        {"name": "in", "url": f"s3://{bucket}/x.csv",
         "repository": {"repositoryType": "S3_REPOSITORY", "secretKey": "abc123"}}
    )
    with pytest.raises(AssetError, match=r"carries credentials \(secretKey\)") as error:
        S3Reader().read(spark, leaky)
    assert "abc123" not in str(error.value)


def test_unreachable_endpoint_fails_fast_and_clearly(spark, s3_env, monkeypatch):
    from tests.servers import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    target = asset("s3://any-bucket/in.parquet", options={"connect_timeout": 1, "max_attempts": 1})
    with pytest.raises(AssetError, match="the endpoint cannot be reached"):
        S3Reader().read(spark, target)


@pytest.fixture
def silent_endpoint():
    """A server that accepts connections and never answers: a hung S3 endpoint."""
    with servers.silent_server() as url:
        yield url


def test_slow_endpoint_is_bounded_by_the_request_timeout(spark, s3_env, monkeypatch, silent_endpoint):
    monkeypatch.setenv("AWS_ENDPOINT_URL", silent_endpoint)
    target = asset(
        "s3://any-bucket/in.parquet", options={"connect_timeout": 1, "request_timeout": 1, "max_attempts": 1}
    )
    with pytest.raises(AssetError, match="did not answer in time"):
        S3Reader().read(spark, target)


@pytest.mark.parametrize(
    ("url", "result_key"),
    [("results/folder", "results/folder/_modelop_job_result.json"), ("results/scores.csv", "results/_scores.csv.job_result.json")],
)
def test_a_job_writing_to_s3_leaves_its_result_beside_the_output(spark, s3_env, moto_s3, bucket, tmp_path, url, result_key):
    snapshot = make_snapshot(tmp_path / "record", RECORD_MODEL, files={"factor.txt": "2"})
    source = str(tmp_path / "numbers")
    spark.range(10).selectExpr("cast(id as string) as id", "cast(id as double) as x").write.parquet(source)
    output = {"url": f"s3://{bucket}/{url}", "format": "csv" if url.endswith(".csv") else "parquet"}
    if url.endswith(".csv"):
        output["options"] = {"single_file": True}
    document = {"job_id": "s3-result", "job_type": "scoring", "snapshot": str(snapshot),
                "inputs": [{"url": source, "format": "parquet"}], "outputs": [output]}  # fmt: skip
    result = run_job(document, spark=spark)
    assert result.ok, result.error
    body = moto_s3.client().get_object(Bucket=bucket, Key=result_key)["Body"].read()
    written = json.loads(body)
    assert written["status"] == "COMPLETE" and written["rows"]["in"] == 10 and written["job_id"] == "s3-result"
