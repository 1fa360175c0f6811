"""The commit plan and the format I/O, without Spark: plain pyarrow over a local folder."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.fs as pa_fs
import pytest

from modelop_spark.assets import arrow_io, staging
from modelop_spark.assets.s3_settings import S3Location, S3Settings, explain_s3_error
from modelop_spark.errors import AssetError


def test_overwrite_plan_replaces_everything_and_append_only_this_jobs_parts():
    existing = ["t/part-job-1-00000.parquet", "t/part-job-2-00000.parquet", "t/_modelop_commit.json"]
    staged = ["s/b.parquet", "s/a.parquet"]
    over = staging.plan_commit(existing=existing, staged=staged, target="t", job_id="job-1", mode="overwrite", extension=".parquet")
    assert over.moves == (("s/a.parquet", "t/part-job-1-00000.parquet"), ("s/b.parquet", "t/part-job-1-00001.parquet"))
    assert over.delete == ("t/_modelop_commit.json", "t/part-job-2-00000.parquet")
    append = staging.plan_commit(existing=existing + ["t/part-job-1-00007.parquet"], staged=staged, target="t", job_id="job-1", mode="append", extension=".parquet")
    assert append.delete == ("t/part-job-1-00007.parquet",)


def test_job_ids_become_safe_file_names_and_staging_sits_beside_the_target():
    assert staging.safe_job_id("run 7/retry:2") == "run_7_retry_2"
    assert staging.staging_dir("bucket/out/scores", "j 1") == "bucket/out/.modelop-staging/scores.j_1"


@pytest.mark.parametrize(("fmt", "options"), [("parquet", {}), ("csv", {"compression": "gzip"}), ("json", {"compression": "bz2"})])
def test_write_then_read_each_format(tmp_path, fmt, options):
    fs = pa_fs.LocalFileSystem()
    fmt_options = arrow_io.FormatOptions.from_options(fmt, options, where="asset")
    batch = pa.record_batch({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", None]})
    path = str(tmp_path / f"part{fmt_options.extension()}")
    written = arrow_io.write_batches(fs, path, iter([batch, batch]), fmt_options)
    assert written.rows == 6
    files = arrow_io.list_data_files(fs, str(tmp_path))
    schema = arrow_io.infer_schema(fs, files[0].path, fmt_options)
    pieces = arrow_io.plan_pieces(fs, files, fmt, split_row_groups=True)
    table = pa.Table.from_batches([b for p in pieces for b in arrow_io.read_piece(fs, p, fmt_options, schema)])
    assert table.column("id").to_pylist() == [1, 2, 3, 1, 2, 3]


def test_no_rows_writes_no_file_and_bookkeeping_files_are_not_data(tmp_path):
    fs = pa_fs.LocalFileSystem()
    options = arrow_io.FormatOptions.from_options("parquet", {}, where="asset")
    assert arrow_io.write_batches(fs, str(tmp_path / "x.parquet"), iter([]), options) is None
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".part.crc").write_text("")
    assert arrow_io.list_data_files(fs, str(tmp_path)) == []


def test_bad_compression_names_the_valid_values():
    with pytest.raises(ValueError, match=r"asset.options.compression: expected one of snappy, gzip"):
        arrow_io.FormatOptions.from_options("parquet", {"compression": "rar"}, where="asset")


def test_s3_locations_and_settings():
    assert S3Location.parse("s3a://b/k/x.csv") == S3Location("b", "k/x.csv")
    assert S3Location.parse("k/x.csv", bucket="b").url == "s3://b/k/x.csv"
    with pytest.raises(AssetError, match="has no bucket"):
        S3Location.parse("s3:///x")
    settings = S3Settings.from_asset({"endpoint": "minio:9000", "region": "eu-west-1"}, {}, environ={})
    assert (settings.endpoint, settings.region) == ("https://minio:9000", "eu-west-1")
    env = S3Settings.from_asset({}, {}, environ={"AWS_ENDPOINT_URL": "http://x:1", "AWS_REGION": "r"})
    assert (env.endpoint, env.region) == ("http://x:1", "r")
    assert "secret" not in repr(env.with_credentials("AKIA", "very-secret", None))


def test_s3_errors_become_causes():
    assert explain_s3_error(OSError("AWS Error NO_SUCH_BUCKET during ListObjectsV2")) == "the bucket does not exist"
    assert "credentials were refused" in explain_s3_error(OSError("SIGNATURE_DOES_NOT_MATCH"))
    assert "did not answer in time" in explain_s3_error(OSError("curlCode: 28, Timeout was reached"))
    assert "cannot be reached" in explain_s3_error(OSError("curlCode: 7, Couldn't connect to server"))
