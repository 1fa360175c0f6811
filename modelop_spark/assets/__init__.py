"""Readers and writers per asset kind, chosen once per asset from an ordered list.

Each decision about an asset kind (which connector, which options, how its result file is
written, whether Spark's text source reads it) is made by that kind's reader or writer, in its
own module; the functions here only find the reader or writer that accepts the asset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelop_spark.assets.base import AssetReader, AssetWriter, StagedOutput, WrittenAsset
from modelop_spark.assets.delta import DeltaReader, DeltaWriter
from modelop_spark.assets.embedded import EmbeddedReader, EmbeddedWriter
from modelop_spark.assets.files import FileReader, FileWriter, result_location
from modelop_spark.assets.filesystem import is_local, local_path
from modelop_spark.assets.hdfs import HdfsReader, HdfsWriter
from modelop_spark.assets.jdbc import JdbcReader, JdbcWriter
from modelop_spark.assets.s3 import S3Reader, S3Writer
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.assets.sql import SqlReader
from modelop_spark.errors import AssetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "AssetSpec",
    "StagedOutput",
    "WrittenAsset",
    "read_asset",
    "readers",
    "reads_text_lines",
    "stage_asset",
    "write_asset",
    "write_result_file",
    "writers",
]


def readers() -> list[AssetReader]:
    """Most specific first: the first that accepts an asset reads it (S3 before plain files)."""
    return [EmbeddedReader(), S3Reader(), DeltaReader(), SqlReader(), JdbcReader(), HdfsReader(), FileReader()]


def writers() -> list[AssetWriter]:
    return [EmbeddedWriter(), S3Writer(), DeltaWriter(), JdbcWriter(), HdfsWriter(), FileWriter()]


def _check_format(asset: AssetSpec, direction: str) -> None:
    """A file asset without a data format (a ModelOp asset only its PySpark model reads)."""
    if asset.kind == "file" and not asset.format:
        raise AssetError(
            f"{direction} {asset.label}: no data format for {asset.url}; set the asset's format "
            "(ModelOp fileFormat: csv, json, parquet or avro) or give the URL an extension"
        )


def _reader_for(spark: SparkSession, asset: AssetSpec) -> AssetReader:
    _check_format(asset, "input")
    for reader in readers():
        if reader.accepts(asset, spark):
            return reader
    raise AssetError(f"input {asset.label}: no reader for kind {asset.kind!r} here")


def read_asset(spark: SparkSession, asset: AssetSpec, *, schema: StructType | None = None) -> DataFrame:
    return _reader_for(spark, asset).read(spark, asset, schema=schema)


def reads_text_lines(spark: SparkSession, asset: AssetSpec) -> bool:
    """Whether Spark's own ``text`` source reads this input line by line in this session."""
    return _reader_for(spark, asset).reads_text_lines(asset, spark)


def _writer_for(spark: SparkSession, asset: AssetSpec) -> AssetWriter:
    _check_format(asset, "output")
    for writer in writers():
        if writer.accepts(asset, spark):
            return writer
    raise AssetError(f"output {asset.label}: no writer for kind {asset.kind!r} here")


def write_asset(df: DataFrame, asset: AssetSpec, *, job_id: str) -> WrittenAsset:
    return _writer_for(df.sparkSession, asset).write(df, asset, job_id=job_id)


def stage_asset(df: DataFrame, asset: AssetSpec, *, job_id: str) -> StagedOutput:
    return _writer_for(df.sparkSession, asset).stage(df, asset, job_id=job_id)


def write_result_file(spark: SparkSession, asset: AssetSpec, text: str) -> str | None:
    """The job's result JSON beside a committed file output (None for other outputs): written
    by the output's own writer, so it takes the same route (S3A or pyarrow, HDFS URL) as the data."""
    is_file = bool(asset.url) and is_local(asset.url or "") and local_path(asset.url or "").is_file()
    location = result_location(asset, is_file=is_file)
    if location is None:
        return None
    return _writer_for(spark, asset).write_text(spark, asset, location, text)
