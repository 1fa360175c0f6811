"""A Spark Python data source over S3 through pyarrow, for Sparks without Hadoop's S3A connector.

Life cycle (see ``pyspark.sql.datasource``): ``S3Source.schema``/``reader``/``writer`` and the
writer's ``commit``/``abort`` run in a Python process on the driver; ``S3FileReader.read`` and
``S3StagingWriter.write`` run in Spark tasks, one per file or Parquet row group when reading, one
per DataFrame partition when writing. Everything here is pickled to those processes, so it holds
plain values only: the resolved ``S3Settings`` (credentials included, so executors need no AWS
setup of their own) ride in a per-settings subclass, never in the reader options that Spark may
show in a plan.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.fs as pa_fs
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.types import StructType

from modelop_spark.assets import arrow_io, staging
from modelop_spark.assets.s3_settings import S3Settings

SOURCE_PREFIX = "modelop_s3"
# Splitting Parquet files by row group costs one footer read per file on the driver: worth it
# for a few large files, not for thousands of small ones.
_SPLIT_ROW_GROUPS_UP_TO = 64


def make_filesystem(settings: S3Settings) -> pa_fs.S3FileSystem:
    kwargs: dict[str, object] = {
        "region": settings.region or "us-east-1",
        "connect_timeout": settings.connect_timeout,
        "request_timeout": settings.request_timeout,
        "retry_strategy": pa_fs.AwsStandardS3RetryStrategy(max_attempts=settings.max_attempts),
    }
    if settings.endpoint:
        kwargs["endpoint_override"] = settings.endpoint
    if settings.anonymous:
        kwargs["anonymous"] = True
    elif settings.access_key and settings.secret_key:
        kwargs.update(
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            session_token=settings.session_token,
        )
    return pa_fs.S3FileSystem(**kwargs)


def arrow_schema(schema: StructType) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema, timezone="UTC")


def spark_schema(schema: pa.Schema) -> StructType:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema, prefer_timestamp_ntz=False)


def _format_options(options) -> arrow_io.FormatOptions:
    return arrow_io.FormatOptions.from_options(options.get("format", "parquet"), dict(options), where="asset")


class S3Source(DataSource):
    """``spark.read.format(<name>).option("path", "bucket/key").option("format", ...)``."""

    settings: ClassVar[S3Settings] = S3Settings()

    @classmethod
    def name(cls) -> str:
        return SOURCE_PREFIX

    def _fs(self) -> pa_fs.S3FileSystem:
        return make_filesystem(self.settings)

    def schema(self) -> StructType:
        fs = self._fs()
        files = arrow_io.list_data_files(fs, self.options["path"])
        return spark_schema(arrow_io.infer_schema(fs, files[0].path, _format_options(self.options)))

    def reader(self, schema: StructType) -> DataSourceReader:
        return S3FileReader(self.settings, self.options["path"], _format_options(self.options), arrow_schema(schema))

    def writer(self, schema: StructType, overwrite: bool) -> S3StagingWriter:
        return S3StagingWriter(
            self.settings,
            target=self.options["path"],
            job_id=self.options["job_id"],
            format_options=_format_options(self.options),
        )


@dataclass(frozen=True)
class _Piece(InputPartition):
    piece: arrow_io.FilePiece


class S3FileReader(DataSourceReader):
    def __init__(
        self, settings: S3Settings, path: str, format_options: arrow_io.FormatOptions, schema: pa.Schema
    ) -> None:
        self.settings = settings
        self.path = path
        self.format_options = format_options
        self.schema = schema

    def partitions(self) -> list[InputPartition]:
        fs = make_filesystem(self.settings)
        files = arrow_io.list_data_files(fs, self.path)
        pieces = arrow_io.plan_pieces(
            fs, files, self.format_options.format, split_row_groups=len(files) <= _SPLIT_ROW_GROUPS_UP_TO
        )
        return [_Piece(p) for p in pieces]

    def read(self, partition: Any) -> Iterator[pa.RecordBatch]:  # a ``_Piece``
        fs = make_filesystem(self.settings)
        yield from arrow_io.read_piece(fs, partition.piece, self.format_options, self.schema)


@dataclass
class StagedFiles(WriterCommitMessage):
    files: list[arrow_io.WrittenFile]


class S3StagingWriter(DataSourceArrowWriter):
    """Each task writes one part file under the job's staging folder; ``commit`` lists them for
    the driver, which publishes them (``staging.commit_staged``) when the whole job succeeded."""

    def __init__(
        self,
        settings: S3Settings,
        *,
        target: str,
        job_id: str,
        format_options: arrow_io.FormatOptions,
    ) -> None:
        self.settings = settings
        self.target = target
        self.job_id = job_id
        self.format_options = format_options

    def write(self, iterator: Iterator[pa.RecordBatch]) -> StagedFiles:
        fs = make_filesystem(self.settings)
        # A unique name per task attempt: a speculative or retried attempt never clobbers another.
        name = f"part-{uuid.uuid4().hex}{self.format_options.extension()}"
        path = posixpath.join(staging.staging_dir(self.target, self.job_id), name)
        written = arrow_io.write_batches(fs, path, iterator, self.format_options)
        return StagedFiles([written] if written else [])

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        # Only record: publishing is the job's commit step, after every output is staged.
        written = [f for m in messages if isinstance(m, StagedFiles) for f in m.files]
        staging.record_staged(make_filesystem(self.settings), self.target, self.job_id, written)

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        staging.discard_staging(make_filesystem(self.settings), self.target, self.job_id)


def register(spark, settings: S3Settings) -> str:
    """Register a source bound to ``settings`` in ``spark``; returns the format name to use."""
    source_name = f"{SOURCE_PREFIX}_{settings.fingerprint()}"
    bound = type(
        f"S3Source_{settings.fingerprint()}",
        (S3Source,),
        {"settings": settings, "name": classmethod(lambda cls: source_name), "__module__": __name__},
    )
    spark.dataSource.register(bound)
    return source_name
