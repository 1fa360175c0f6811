"""Readers and writers per asset kind, chosen once per asset from an ordered list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelop_spark.assets.base import AssetReader, AssetWriter, StagedOutput, WrittenAsset
from modelop_spark.assets.delta import DeltaReader, DeltaWriter
from modelop_spark.assets.embedded import EmbeddedReader, EmbeddedWriter
from modelop_spark.assets.files import FileReader, FileWriter
from modelop_spark.assets.hdfs import HdfsReader, HdfsWriter
from modelop_spark.assets.jdbc import JdbcReader, JdbcWriter
from modelop_spark.assets.s3 import S3Reader, S3Writer
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.assets.sql import SqlReader
from modelop_spark.errors import AssetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["AssetSpec", "StagedOutput", "WrittenAsset", "read_asset", "readers", "stage_asset", "write_asset", "writers"]


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


def read_asset(spark: SparkSession, asset: AssetSpec, *, schema: StructType | None = None) -> DataFrame:
    _check_format(asset, "input")
    for reader in readers():
        if reader.accepts(asset, spark):
            return reader.read(spark, asset, schema=schema)
    raise AssetError(f"input {asset.label}: no reader for kind {asset.kind!r} here")


def _writer_for(df: DataFrame, asset: AssetSpec) -> AssetWriter:
    _check_format(asset, "output")
    for writer in writers():
        if writer.accepts(asset, df.sparkSession):
            return writer
    raise AssetError(f"output {asset.label}: no writer for kind {asset.kind!r} here")


def write_asset(df: DataFrame, asset: AssetSpec, *, job_id: str) -> WrittenAsset:
    return _writer_for(df, asset).write(df, asset, job_id=job_id)


def stage_asset(df: DataFrame, asset: AssetSpec, *, job_id: str) -> StagedOutput:
    return _writer_for(df, asset).stage(df, asset, job_id=job_id)
