"""Spark Python data sources over a Delta table's files, for Sparks without delta-spark.

Reading: the driver resolves the table version (time travel included) with the ``deltalake``
package and binds the list of live files to a source class; tasks read one file each, adding
the partition columns the files do not hold. Writing: tasks write Parquet files straight into
the table folder (files the log does not name are invisible to every Delta reader, so they are
their own staging), and the writer's ``commit`` records them for the driver, which commits
them to the log once (``delta.py``).

Life cycle as in ``s3_source``: classes here are pickled to Python workers and hold values only.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.types import StructType

from modelop_spark.assets import staging
from modelop_spark.assets.arrow_fs import FsSpec
from modelop_spark.assets.arrow_io import WrittenFile
from modelop_spark.assets.s3_source import arrow_schema

SOURCE_PREFIX = "modelop_delta"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class DeltaFile(InputPartition):
    path: str  # on the FsSpec's filesystem
    partition_values: Mapping[str, str | None] = field(default_factory=dict)


class DeltaSource(DataSource):
    fs_spec: ClassVar[FsSpec] = FsSpec()
    files: ClassVar[tuple[DeltaFile, ...]] = ()
    table_path: ClassVar[str] = ""

    @classmethod
    def name(cls) -> str:
        return SOURCE_PREFIX

    def reader(self, schema: StructType) -> DataSourceReader:
        return DeltaFileReader(self.fs_spec, self.files, arrow_schema(schema))

    def writer(self, schema: StructType, overwrite: bool) -> DeltaFileWriter:
        partition_by = [c for c in self.options.get("partition_by", "").split(",") if c]
        return DeltaFileWriter(self.fs_spec, self.table_path, self.options["job_id"], partition_by)


class DeltaFileReader(DataSourceReader):
    def __init__(self, fs_spec: FsSpec, files: tuple[DeltaFile, ...], schema: pa.Schema) -> None:
        self.fs_spec = fs_spec
        self.files = files
        self.schema = schema

    def partitions(self) -> list[InputPartition]:
        return list(self.files)

    def read(self, partition: Any) -> Iterator[pa.RecordBatch]:  # one of ``self.files``
        fs = self.fs_spec.filesystem()
        with fs.open_input_file(partition.path) as handle:
            parquet = pq.ParquetFile(handle)
            present = [n for n in self.schema.names if n in parquet.schema_arrow.names]
            for batch in parquet.iter_batches(columns=present):
                yield _with_partition_columns(batch, self.schema, partition.partition_values)


def _with_partition_columns(
    batch: pa.RecordBatch, schema: pa.Schema, values: Mapping[str, str | None]
) -> pa.RecordBatch:
    columns = []
    for f in schema:
        index = batch.schema.get_field_index(f.name)
        if index >= 0:
            columns.append(batch.column(index).cast(f.type))
        elif f.name in values and values[f.name] is not None:
            constant = pa.array([values[f.name]] * batch.num_rows, pa.string())
            columns.append(constant.cast(f.type))
        else:
            columns.append(pa.nulls(batch.num_rows, type=f.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


@dataclass
class WrittenFiles(WriterCommitMessage):
    files: list[WrittenFile]


class DeltaFileWriter(DataSourceArrowWriter):
    def __init__(self, fs_spec: FsSpec, table_path: str, job_id: str, partition_by: list[str]) -> None:
        self.fs_spec = fs_spec
        self.table_path = table_path
        self.job_id = job_id
        self.partition_by = partition_by

    def write(self, iterator: Iterator[pa.RecordBatch]) -> WrittenFiles:
        first = next(iterator, None)
        if first is None:
            return WrittenFiles([])
        reader = pa.RecordBatchReader.from_batches(first.schema, _prepend(first, iterator))
        visited: list[WrittenFile] = []
        root = self.table_path.rstrip("/") + "/"

        def visit(written) -> None:
            relative = written.path[len(root):] if written.path.startswith(root) else written.path
            visited.append(
                WrittenFile(
                    path=relative,
                    rows=written.metadata.num_rows,
                    size=written.size,
                    partition_values=_partition_values(relative),
                )
            )

        partitioning = None
        if self.partition_by:
            part_schema = pa.schema([first.schema.field(c) for c in self.partition_by])
            partitioning = ds.partitioning(part_schema, flavor="hive")
        ds.write_dataset(
            reader,
            base_dir=self.table_path,
            filesystem=self.fs_spec.filesystem(),
            format="parquet",
            partitioning=partitioning,
            # unique per task attempt: a retried task never overwrites a file another attempt listed
            basename_template=f"part-{staging.safe_job_id(self.job_id)}-{uuid.uuid4().hex}-{{i}}.parquet",
            existing_data_behavior="overwrite_or_ignore",
            file_visitor=visit,
        )
        return WrittenFiles(visited)

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        written = [f for m in messages if isinstance(m, WrittenFiles) for f in m.files]
        staging.record_staged(self.fs_spec.filesystem(), self.table_path, self.job_id, written)

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        fs = self.fs_spec.filesystem()
        for message in messages:
            for f in message.files if isinstance(message, WrittenFiles) else []:
                fs.delete_file(posixpath.join(self.table_path, f.path))


def _prepend(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _partition_values(relative: str) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for segment in relative.split("/")[:-1]:
        key, sep, value = segment.partition("=")
        if sep:
            decoded = unquote(value)
            values[unquote(key)] = None if decoded == HIVE_NULL else decoded
    return values


def bind(spark, *, fs_spec: FsSpec, table_path: str, files: tuple[DeltaFile, ...] = ()) -> str:
    """Register a source bound to one table (and, for reads, one version's files)."""
    import hashlib

    digest = hashlib.sha256(repr((fs_spec.fingerprint(), table_path, files)).encode()).hexdigest()[:12]
    source_name = f"{SOURCE_PREFIX}_{digest}"
    bound = type(
        f"DeltaSource_{digest}",
        (DeltaSource,),
        {
            "fs_spec": fs_spec,
            "table_path": table_path,
            "files": files,
            "name": classmethod(lambda cls: source_name),
            "__module__": __name__,
        },
    )
    spark.dataSource.register(bound)
    return source_name
