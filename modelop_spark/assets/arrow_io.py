"""Read and write Parquet, CSV and JSON-lines files on any pyarrow filesystem.

Pure pyarrow: no Spark here, so it runs the same in a Spark task, on the driver and in a unit
test over a local folder. The Spark Python data sources (``s3_source``, ``delta_source``) call it.
"""

from __future__ import annotations

import io
import json
import posixpath
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.fs as pa_fs
import pyarrow.json as pa_json
import pyarrow.parquet as pq

FORMATS: tuple[str, ...] = ("parquet", "csv", "json")
PARQUET_CODECS: tuple[str, ...] = ("snappy", "gzip", "zstd", "lz4", "brotli", "none")
STREAM_CODECS: tuple[str, ...] = ("gzip", "bz2", "zstd", "none")
_STREAM_SUFFIX = {"gzip": ".gz", "bz2": ".bz2", "zstd": ".zst"}
_CSV_BLOCK = 1 << 20


@dataclass(frozen=True)
class FormatOptions:
    """How files of one format are read or written. Plain values, so tasks can pickle them."""

    format: str
    header: bool = True
    delimiter: str = ","
    compression: str | None = None

    @classmethod
    def from_options(cls, file_format: str, options: Mapping[str, Any], *, where: str) -> FormatOptions:
        if file_format not in FORMATS:
            raise ValueError(f"{where}.format: expected one of {', '.join(FORMATS)}, found {file_format!r}")
        compression = options.get("compression")
        compression = str(compression).lower() if compression else None
        allowed = PARQUET_CODECS if file_format == "parquet" else STREAM_CODECS
        if compression is not None and compression not in allowed:
            raise ValueError(
                f"{where}.options.compression: expected one of {', '.join(allowed)} for {file_format}, "
                f"found {compression!r}"
            )
        header = options.get("header", True)
        if isinstance(header, str):
            header = header.strip().lower() not in ("false", "0", "no")
        return cls(
            format=file_format,
            header=bool(header),
            delimiter=str(options.get("sep") or options.get("delimiter") or ","),
            compression=compression,
        )

    def extension(self) -> str:
        base = {"parquet": ".parquet", "csv": ".csv", "json": ".json"}[self.format]
        if self.format != "parquet" and self.compression in _STREAM_SUFFIX:
            return base + _STREAM_SUFFIX[self.compression]
        return base


@dataclass(frozen=True)
class FilePiece:
    """One unit of parallel work: a whole file, or one Parquet row group of it."""

    path: str
    size: int
    row_group: int | None = None


@dataclass(frozen=True)
class WrittenFile:
    path: str
    rows: int
    size: int
    partition_values: Mapping[str, str | None] = field(default_factory=dict)


def is_data_file(name: str) -> bool:
    """Hidden and bookkeeping files (``_SUCCESS``, ``.crc``, ``_delta_log``) are not data."""
    base = posixpath.basename(name.rstrip("/"))
    return not base.startswith(("_", ".")) and not base.endswith(".crc")


def list_data_files(fs: pa_fs.FileSystem, path: str) -> list[pa_fs.FileInfo]:
    """The data files at ``path``: the file itself, or every data file below the folder.

    Raises FileNotFoundError when nothing exists there.
    """
    info = fs.get_file_info(path)
    if info.type == pa_fs.FileType.File:
        return [info]
    if info.type == pa_fs.FileType.NotFound:
        # S3 has no folders: a prefix with objects under it reports NotFound on some stores.
        selector = pa_fs.FileSelector(path, recursive=True, allow_not_found=True)
        found = fs.get_file_info(selector)
        if not found:
            raise FileNotFoundError(path)
    else:
        found = fs.get_file_info(pa_fs.FileSelector(path, recursive=True))
    root = path.rstrip("/") + "/"
    files = [
        f
        for f in found
        if f.type == pa_fs.FileType.File
        and all(is_data_file(part) for part in f.path[len(root):].split("/"))
    ]
    return sorted(files, key=lambda f: f.path)


def plan_pieces(
    fs: pa_fs.FileSystem, files: list[pa_fs.FileInfo], file_format: str, *, split_row_groups: bool
) -> list[FilePiece]:
    """One piece per file, or per Parquet row group when splitting is worth a metadata read."""
    pieces: list[FilePiece] = []
    for info in files:
        if not info.size:
            continue  # an empty file holds no rows in any format (and is not valid Parquet)
        if file_format == "parquet" and split_row_groups:
            with fs.open_input_file(info.path) as handle:
                groups = pq.ParquetFile(handle).metadata.num_row_groups
            if groups > 1:
                pieces.extend(FilePiece(info.path, info.size, g) for g in range(groups))
                continue
        pieces.append(FilePiece(info.path, info.size))
    return pieces


def _stream_compression(path: str) -> str | None:
    for codec, suffix in _STREAM_SUFFIX.items():
        if path.endswith(suffix):
            return codec
    return None


def _open_text(fs: pa_fs.FileSystem, path: str):
    return fs.open_input_stream(path, compression=_stream_compression(path))


def infer_schema(fs: pa_fs.FileSystem, path: str, options: FormatOptions) -> pa.Schema:
    """The schema of one file: Parquet's footer, or types inferred from the first block of text."""
    if options.format == "parquet":
        with fs.open_input_file(path) as handle:
            return pq.ParquetFile(handle).schema_arrow
    with _open_text(fs, path) as stream:
        head = stream.read(_CSV_BLOCK)
    if options.format == "json":
        lines = head.split(b"\n")
        if len(head) == _CSV_BLOCK and len(lines) > 1:
            lines = lines[:-1]  # a cut-off last line is not JSON
        return pa_json.read_json(io.BytesIO(b"\n".join(lines))).schema
    reader = pa_csv.open_csv(
        io.BytesIO(_complete_lines(head)),
        read_options=_csv_read_options(options, None),
        parse_options=pa_csv.ParseOptions(delimiter=options.delimiter),
    )
    return reader.schema


def _complete_lines(head: bytes) -> bytes:
    if len(head) < _CSV_BLOCK:
        return head
    return head[: head.rfind(b"\n") + 1] or head


def _csv_read_options(options: FormatOptions, schema: pa.Schema | None) -> pa_csv.ReadOptions:
    if options.header:
        return pa_csv.ReadOptions(block_size=_CSV_BLOCK)
    if schema is not None:
        return pa_csv.ReadOptions(block_size=_CSV_BLOCK, column_names=schema.names)
    return pa_csv.ReadOptions(block_size=_CSV_BLOCK, autogenerate_column_names=True)


def read_piece(
    fs: pa_fs.FileSystem, piece: FilePiece, options: FormatOptions, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Record batches of one piece, cast to ``schema`` (columns missing from the file are null)."""
    if options.format == "parquet":
        with fs.open_input_file(piece.path) as handle:
            parquet = pq.ParquetFile(handle)
            groups = [piece.row_group] if piece.row_group is not None else None
            present = [n for n in schema.names if n in parquet.schema_arrow.names]
            for batch in parquet.iter_batches(row_groups=groups, columns=present):
                yield _conform(batch, schema)
        return
    if options.format == "csv":
        with _open_text(fs, piece.path) as stream:
            reader = pa_csv.open_csv(
                stream,
                read_options=_csv_read_options(options, schema),
                parse_options=pa_csv.ParseOptions(delimiter=options.delimiter),
                convert_options=pa_csv.ConvertOptions(
                    column_types=schema, include_columns=schema.names, include_missing_columns=True
                ),
            )
            for batch in reader:
                yield _conform(batch, schema)
        return
    with _open_text(fs, piece.path) as stream:
        data = stream.read()
    if not data.strip():
        return
    table = pa_json.read_json(
        io.BytesIO(data),
        parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )
    for batch in table.to_batches():
        yield _conform(batch, schema)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    columns = []
    for f in schema:
        index = batch.schema.get_field_index(f.name)
        if index < 0:
            columns.append(pa.nulls(batch.num_rows, type=f.type))
        else:
            columns.append(batch.column(index).cast(f.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def write_batches(
    fs: pa_fs.FileSystem, path: str, batches: Iterable[pa.RecordBatch], options: FormatOptions
) -> WrittenFile | None:
    """Write ``batches`` to one file at ``path``; None (and no file) when there were no rows."""
    iterator = iter(batches)
    first = next((b for b in iterator if b.num_rows), None)
    if first is None:
        return None
    rows = 0
    if options.format == "parquet":
        codec = options.compression or "snappy"
        with fs.open_output_stream(path) as sink, pq.ParquetWriter(
            sink, first.schema, compression=None if codec == "none" else codec
        ) as writer:
            for batch in _chain(first, iterator):
                writer.write_batch(batch)
                rows += batch.num_rows
    else:
        stream_codec = None if options.compression in (None, "none") else options.compression
        with fs.open_output_stream(path, compression=stream_codec) as sink:
            if options.format == "csv":
                write_options = pa_csv.WriteOptions(include_header=options.header, delimiter=options.delimiter)
                with pa_csv.CSVWriter(sink, first.schema, write_options=write_options) as writer:
                    for batch in _chain(first, iterator):
                        writer.write_batch(batch)
                        rows += batch.num_rows
            else:
                for batch in _chain(first, iterator):
                    sink.write(_json_lines(batch))
                    rows += batch.num_rows
    return WrittenFile(path=path, rows=rows, size=fs.get_file_info(path).size)


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    for batch in rest:
        if batch.num_rows:
            yield batch


def _json_lines(batch: pa.RecordBatch) -> bytes:
    # Spark's JSON reader takes ISO-8601 timestamps and strings for decimals; default=str gives both.
    lines = (json.dumps(row, default=_json_default, ensure_ascii=False) for row in batch.to_pylist())
    return ("\n".join(lines) + "\n").encode()


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
