"""Delta table assets (``format: delta``; a path or, with delta-spark, a catalog table).

Reads take ``options.version`` (``versionAsOf``) or ``options.timestamp`` (``timestampAsOf``);
writes take ``mode`` append/overwrite/error and ``options.partitionBy``. Every write carries a
Delta application transaction (``txn``: app id ``modelop-spark:<job id>``, version 1), so a job
that is retried after its commit landed finds its own transaction in the log and writes nothing
again: rows are never duplicated.

When delta-spark's JVM classes are present Spark's own Delta source does the work (its
``txnAppId``/``txnVersion`` options give the same guarantee). Otherwise the ``deltalake``
package reads the log and commits, and the Python data sources in ``delta_source`` move the
rows in parallel: each task reads or writes Parquet files, and the driver commits once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelop_spark.assets import delta_source, staging
from modelop_spark.assets.arrow_fs import FsSpec, is_local_url, local_path
from modelop_spark.assets.base import (
    AssetReader,
    AssetSpec,
    AssetWriter,
    StagedOutput,
    WrittenAsset,
)
from modelop_spark.assets.s3 import location_of, resolve_settings
from modelop_spark.assets.s3_settings import explain_s3_error, is_s3_url
from modelop_spark.assets.s3_source import arrow_schema, spark_schema
from modelop_spark.errors import AssetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

APP_PREFIX = "modelop-spark:"
_DELTA_SPARK_CLASS = "io.delta.tables.DeltaTable"
# Reader features whose files need more than "read the Parquet file" (deletion vectors, column
# mapping): the deltalake fallback refuses those tables rather than return wrong rows.
_UNSUPPORTED_READER_FEATURES = ("deletionVectors", "columnMapping", "v2Checkpoint")


def delta_spark_available(spark: SparkSession) -> bool:
    try:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        jvm.java.lang.Class.forName(_DELTA_SPARK_CLASS, False, jvm.Thread.currentThread().getContextClassLoader())
        return True
    except Exception:
        return False


def app_id(job_id: str) -> str:
    return APP_PREFIX + job_id


@dataclass(frozen=True)
class TableLocation:
    """A Delta table's URI for ``deltalake`` and its path on a pyarrow filesystem."""

    uri: str
    path: str
    fs_spec: FsSpec

    @classmethod
    def of(cls, asset: AssetSpec) -> TableLocation:
        url = asset.url or ""
        if is_local_url(url):
            path = local_path(url)
            return cls(uri=path, path=path, fs_spec=FsSpec())

        if is_s3_url(url):
            location = location_of(asset)
            return cls(uri=location.url, path=location.path, fs_spec=FsSpec(s3=resolve_settings(asset)))
        raise AssetError(
            f"asset {asset.label!r}: Delta tables at {url!r} need delta-spark on Spark's classpath; without it "
            "a local path or an s3:// URL is supported"
        )


def time_travel(asset: AssetSpec) -> int | str | None:
    """The version (int) or ISO-8601 timestamp (str) to read, or None for the latest."""
    options = asset.options
    version = options.get("version", options.get("versionAsOf"))
    timestamp = options.get("timestamp", options.get("timestampAsOf"))
    if version is not None and timestamp is not None:
        raise AssetError(f"asset {asset.label!r}: options.version and options.timestamp exclude each other; give one")
    if version is not None:
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise AssetError(f"asset {asset.label!r}: options.version must be a whole number, found {version!r}") from None
        if number < 0:
            raise AssetError(f"asset {asset.label!r}: options.version must be 0 or more, found {number}")
        return number
    return str(timestamp) if timestamp is not None else None


def partition_columns(asset: AssetSpec) -> list[str]:
    value = asset.options.get("partitionBy") or asset.options.get("partition_by") or []
    return [value] if isinstance(value, str) else [str(c) for c in value]


def _open(location: TableLocation, asset: AssetSpec, *, version: int | str | None = None, missing_ok: bool = False):
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(location.uri, storage_options=location.fs_spec.storage_options() or None)
    except TableNotFoundError:
        if missing_ok:
            return None
        raise AssetError(f"asset {asset.label!r}: no Delta table at {asset.url} (no _delta_log); check the path") from None
    except Exception as exc:
        raise AssetError(f"asset {asset.label!r}: cannot open Delta table at {asset.url}: {_first_line(exc)}") from exc
    if version is not None:
        try:
            table.load_as_version(version)
        except Exception as exc:
            raise AssetError(
                f"asset {asset.label!r}: Delta table {asset.url} has no version {version!r} "
                f"(latest is {table.version()}): {_first_line(exc)}"
            ) from exc
    return table


def _first_line(exc: BaseException) -> str:
    return explain_s3_error(exc)


class DeltaReader(AssetReader):
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return asset.kind == "delta"

    def read(self, spark: SparkSession, asset: AssetSpec, *, schema: StructType | None = None) -> DataFrame:
        travel = time_travel(asset)
        if delta_spark_available(spark):
            return _read_with_delta_spark(spark, asset, travel, schema)
        if not asset.url:
            raise AssetError(
                f"asset {asset.label!r}: reading Delta table {asset.table!r} by name needs delta-spark on Spark's "
                "classpath; give the table's path as url instead"
            )
        import pyarrow as pa

        location = TableLocation.of(asset)
        table = _open(location, asset, version=travel)
        features = set(table.protocol().reader_features or ())
        blocked = sorted(features.intersection(_UNSUPPORTED_READER_FEATURES))
        if blocked:
            raise AssetError(
                f"asset {asset.label!r}: Delta table {asset.url} uses {', '.join(blocked)}, which the deltalake "
                "fallback cannot read; run with delta-spark on Spark's classpath"
            )
        actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
        columns = table.metadata().partition_columns
        files = tuple(
            delta_source.DeltaFile(
                path=f"{location.path.rstrip('/')}/{a['path']}",
                partition_values={c: a.get(f"partition.{c}") for c in columns},
            )
            for a in actions
        )
        if not files and not _allow_empty(asset):
            raise AssetError(
                f"asset {asset.label!r}: Delta table {asset.url} holds no rows at version {table.version()}; "
                "set options.allow_empty to read it anyway"
            )
        if schema is None:
            schema = spark_schema(pa.schema(table.schema().to_arrow()))
        name = delta_source.bind(spark, fs_spec=location.fs_spec, table_path=location.path, files=files)
        return spark.read.format(name).schema(schema).load()


def _allow_empty(asset: AssetSpec) -> bool:
    return str(asset.options.get("allow_empty", "false")).lower() in ("true", "1", "yes")


class DeltaWriter(AssetWriter):
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return asset.kind == "delta"

    def stage(self, df: DataFrame, asset: AssetSpec, *, job_id: str) -> StagedOutput:
        if delta_spark_available(df.sparkSession):
            written = WrittenAsset(name=asset.name, kind="delta", location=asset.url or asset.table, format="delta")
            return StagedOutput(written=written, commit=lambda: _write_with_delta_spark(df, asset, job_id))
        if not asset.url:
            raise AssetError(
                f"asset {asset.label!r}: writing Delta table {asset.table!r} by name needs delta-spark on Spark's "
                "classpath; give the table's path as url instead"
            )

        location = TableLocation.of(asset)
        partition_by = partition_columns(asset)
        missing = [c for c in partition_by if c not in df.columns]
        if missing:
            raise AssetError(
                f"asset {asset.label!r}: options.partitionBy names {', '.join(missing)}, not columns of the output "
                f"({', '.join(df.columns)})"
            )
        existing = _open(location, asset, missing_ok=True)
        details: dict[str, Any] = {"job_id": job_id, "app_id": app_id(job_id)}
        written = WrittenAsset(name=asset.name, kind="delta", location=asset.url, format="delta", details=details)
        if existing is not None:
            if asset.mode == "error":
                raise AssetError(
                    f"asset {asset.label!r}: Delta table {asset.url} exists and mode is 'error'; "
                    "choose mode append or overwrite"
                )
            table_columns = list(existing.metadata().partition_columns)
            if partition_by and partition_by != table_columns:
                raise AssetError(
                    f"asset {asset.label!r}: options.partitionBy {partition_by} differs from the table's partition "
                    f"columns {table_columns}; use the table's, or write to a new table"
                )
            partition_by = table_columns
            if existing.transaction_version(app_id(job_id)) is not None:
                # This job committed before (a retry after success): writing again would duplicate.
                details.update(already_committed=True, version=existing.version())
                return StagedOutput(written=written)
        fs = location.fs_spec.filesystem()
        staging.discard_staging(fs, location.path, job_id)
        name = delta_source.bind(spark=df.sparkSession, fs_spec=location.fs_spec, table_path=location.path)
        try:
            (
                df.write.format(name).mode("append")
                .option("job_id", job_id)
                .option("partition_by", ",".join(partition_by))
                .save()
            )
            files = staging.staged_files(fs, location.path, job_id)
        except Exception as exc:
            staging.discard_staging(fs, location.path, job_id)
            raise AssetError(f"asset {asset.label!r}: cannot write Delta table {asset.url}: {_first_line(exc)}") from exc
        arrow = _arrow_schema(df)

        def commit() -> None:
            version = _commit(location, asset, files, arrow, partition_by, job_id)
            details["version"] = version
            details["files"] = len(files)
            staging.discard_staging(fs, location.path, job_id)

        def abort() -> None:
            for f in files:
                fs.delete_file(f"{location.path.rstrip('/')}/{f.path}")
            staging.discard_staging(fs, location.path, job_id)

        return StagedOutput(written=written, commit=commit, abort=abort)


def _arrow_schema(df: DataFrame):
    return arrow_schema(df.schema)


def _commit(location: TableLocation, asset: AssetSpec, files, arrow, partition_by: list[str], job_id: str) -> int:
    from deltalake import CommitProperties, Schema, Transaction
    from deltalake.transaction import AddAction, create_table_with_add_actions

    now = int(time.time() * 1000)
    actions = [
        AddAction(f.path, f.size, dict(f.partition_values), now, True, json.dumps({"numRecords": f.rows}))
        for f in files
    ]
    properties = CommitProperties(
        app_transactions=[Transaction(app_id(job_id), 1, now)],
        custom_metadata={"modelop.job_id": job_id},
    )
    mode = "overwrite" if asset.mode in ("overwrite", "error") else "append"
    try:
        table = _open(location, asset, missing_ok=True)
        if table is None:
            create_table_with_add_actions(
                location.uri, Schema.from_arrow(arrow), actions, mode="error", partition_by=partition_by,
                storage_options=location.fs_spec.storage_options() or None, commit_properties=properties,
            )
        else:
            if table.transaction_version(app_id(job_id)) is not None:
                return table.version()  # committed by an earlier attempt meanwhile
            table.create_write_transaction(
                actions, mode, Schema.from_arrow(arrow), partition_by, commit_properties=properties
            )
        return _open(location, asset).version()
    except AssetError:
        raise
    except Exception as exc:
        raise AssetError(f"asset {asset.label!r}: cannot commit to Delta table {asset.url}: {_first_line(exc)}") from exc


def _read_with_delta_spark(spark, asset: AssetSpec, travel, schema) -> DataFrame:
    reader = spark.read.format("delta")
    if isinstance(travel, int):
        reader = reader.option("versionAsOf", travel)
    elif travel is not None:
        reader = reader.option("timestampAsOf", travel)
    if schema is not None:
        reader = reader.schema(schema)
    try:
        return reader.table(asset.table) if asset.table and not asset.url else reader.load(asset.url)
    except Exception as exc:
        raise AssetError(f"asset {asset.label!r}: cannot read Delta table {asset.url or asset.table}: {_first_line(exc)}") from exc


def _write_with_delta_spark(df, asset: AssetSpec, job_id: str) -> None:
    writer = (
        df.write.format("delta")
        .mode("overwrite" if asset.mode == "overwrite" else "append" if asset.mode == "append" else "errorifexists")
        .option("txnAppId", app_id(job_id))
        .option("txnVersion", 1)
    )
    partition_by = partition_columns(asset)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    try:
        writer.saveAsTable(asset.table) if asset.table and not asset.url else writer.save(asset.url)
    except Exception as exc:
        raise AssetError(f"asset {asset.label!r}: cannot write Delta table {asset.url or asset.table}: {_first_line(exc)}") from exc
