"""Embedded assets: records carried in the job itself, in and out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelop_spark.assets.base import AssetReader, AssetWriter, StagedOutput, WrittenAsset
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import AssetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

DEFAULT_MAX_ROWS = 10_000


class EmbeddedReader(AssetReader):
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return asset.kind == "embedded"

    def read(self, spark: SparkSession, asset: AssetSpec, *, schema: StructType | None = None) -> DataFrame:
        import pyarrow as pa

        records = [dict(r) for r in asset.records or ()]
        if schema is not None:
            return spark.createDataFrame(records, schema=schema)
        if not records:
            raise AssetError(f"input {asset.label}: embedded records are empty; add records or give a schema")
        try:
            table = pa.Table.from_pylist(records)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise AssetError(f"input {asset.label}: embedded records do not share one type per field: {exc}") from exc
        return spark.createDataFrame(table)


class EmbeddedWriter(AssetWriter):
    """Collects the output into the job result, up to ``options.max_rows`` rows."""

    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return asset.kind == "embedded"

    def stage(self, df: DataFrame, asset: AssetSpec, *, job_id: str) -> StagedOutput:
        """Collecting is the whole write; there is nothing to make visible later."""
        cap = int(asset.options.get("max_rows", DEFAULT_MAX_ROWS))
        table = df.limit(cap + 1).toArrow()
        if table.num_rows > cap:
            raise AssetError(
                f"output {asset.label}: more than {cap} rows for an embedded output; "
                "write to a file asset instead, or raise options.max_rows"
            )
        written = WrittenAsset(name=asset.name, kind="embedded", location=None, format="json", records=table.to_pylist())
        return StagedOutput(written=written)
