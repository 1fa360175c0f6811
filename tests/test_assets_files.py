"""File and embedded assets: staged output committed once, reruns that replace rather than
duplicate, compression, and one clear line for each kind of bad input."""

from __future__ import annotations

import gzip

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from modelop_spark.assets import read_asset, stage_asset, write_asset
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import AssetError


@pytest.fixture(scope="module")
def rows(spark):
    return spark.createDataFrame(
        [(i, f"c{i % 4}", i * 0.5) for i in range(40)], "id long, customer string, score double"
    ).repartition(2)


def spec(url, **extra) -> AssetSpec:
    return AssetSpec.from_dict({"name": "scores", "url": str(url), **extra})


def visible(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith((".", "_")))


@pytest.mark.parametrize(("fmt", "options"), [("parquet", {"compression": "zstd"}), ("csv", {"compression": "gzip"}), ("json", {})])
def test_round_trip_with_compression(spark, tmp_path, rows, fmt, options):
    target = spec(tmp_path / "out", format=fmt, options=options)
    write_asset(rows, target, job_id="job-1")
    if fmt == "csv":
        part = next((tmp_path / "out").glob("part-*.csv.gz"))
        assert gzip.decompress(part.read_bytes()).startswith(b"id,customer,score")
    back = read_asset(spark, target, schema=rows.schema)
    assert_df_equality(back, rows, ignore_row_order=True)


def test_append_rerun_replaces_its_own_files(spark, tmp_path, rows):
    target = spec(tmp_path / "out", format="parquet", mode="append")
    write_asset(rows, target, job_id="job-1")
    write_asset(rows, target, job_id="job-1")
    assert read_asset(spark, target).count() == 40
    write_asset(rows.limit(4), target, job_id="job-2")
    assert read_asset(spark, target).count() == 44


def test_overwrite_rerun_and_single_file(spark, tmp_path, rows):
    target = spec(tmp_path / "scores.csv", options={"single_file": True})
    write_asset(rows, target, job_id="job-1")
    write_asset(rows, target, job_id="job-1")
    assert (tmp_path / "scores.csv").is_file()
    assert visible(tmp_path) == ["scores.csv"]
    assert read_asset(spark, target).count() == 40


@pytest.mark.parametrize(("flag", "one_file"), [("false", False), ("true", True), (False, False), ("yes", True)])
def test_single_file_means_the_same_given_as_text_or_boolean(spark, tmp_path, rows, flag, one_file):
    # One reading of the option for every writer: the text "false" is false here as on S3.
    assert spec("x.csv", options={"single_file": flag}).single_file is one_file
    write_asset(rows, spec(tmp_path / "scores.csv", options={"single_file": flag}), job_id="job-1")
    assert (tmp_path / "scores.csv").is_file() is one_file


def test_staged_output_is_invisible_until_commit(spark, tmp_path, rows):
    target = spec(tmp_path / "out", format="json")
    staged = stage_asset(rows, target, job_id="job-1")
    assert not (tmp_path / "out").exists()
    staged.commit()
    assert read_asset(spark, target).count() == 40
    stage_asset(rows.limit(1), target, job_id="job-2").abort()
    assert read_asset(spark, target).count() == 40
    assert visible(tmp_path) == ["out"]


def test_failed_job_leaves_nothing_at_the_target(spark, tmp_path, rows):
    boom = F.udf(lambda i: 1 // 0 if i == 33 else i, "long")
    with pytest.raises(AssetError, match="output scores"):
        write_asset(rows.withColumn("id", boom("id")), spec(tmp_path / "out", format="parquet"), job_id="job-1")
    assert visible(tmp_path) == []


def test_mode_error_refuses_an_existing_output(tmp_path, rows):
    write_asset(rows, spec(tmp_path / "out", format="parquet"), job_id="job-1")
    with pytest.raises(AssetError, match="already exists and mode is 'error'"):
        write_asset(rows, spec(tmp_path / "out", format="parquet", mode="error"), job_id="job-2")


def test_avro_without_spark_avro_is_refused_before_writing(tmp_path, rows):
    with pytest.raises(AssetError, match="Avro needs the spark-avro package"):
        write_asset(rows, spec(tmp_path / "out.avro"), job_id="job-1")
    assert visible(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "content", "fmt", "message"),
    [
        ("absent.csv", None, "csv", "nothing at"),
        ("empty.csv", b"", "csv", "is empty"),
        ("empty.json", b"", "json", "is empty"),
        ("text.parquet", b"id,name\n1,a\n", "parquet", "is not valid parquet; check the asset's format"),
    ],
)
def test_bad_inputs_are_one_clear_line(spark, tmp_path, name, content, fmt, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(AssetError, match=message) as error:
        read_asset(spark, spec(tmp_path / name, format=fmt))
    assert str(error.value).startswith("input scores") and "\n" not in str(error.value)


def test_embedded_in_and_out_with_a_row_cap(spark, rows):
    records = [{"id": 1, "customer": "a"}, {"id": 2, "customer": "b"}]
    df = read_asset(spark, AssetSpec.from_dict({"name": "inline", "records": records}))
    assert sorted(r.id for r in df.collect()) == [1, 2]
    out = write_asset(rows.limit(3), AssetSpec.from_dict({"name": "back", "kind": "embedded"}), job_id="j")
    assert len(out.records) == 3 and set(out.records[0]) == {"id", "customer", "score"}
    with pytest.raises(AssetError, match=r"more than 10 rows for an embedded output.*raise options.max_rows"):
        write_asset(rows, AssetSpec.from_dict({"name": "back", "kind": "embedded", "options": {"max_rows": 10}}), job_id="j")


def test_embedded_input_that_is_empty_or_mixed_is_one_clear_line(spark):
    with pytest.raises(AssetError, match="embedded records are empty"):
        read_asset(spark, AssetSpec.from_dict({"name": "inline", "records": []}))
    with pytest.raises(AssetError, match="do not share one type per field"):
        read_asset(spark, AssetSpec.from_dict({"name": "inline", "records": [{"a": 1}, {"a": "x"}]}))
