"""File assets: CSV, JSON lines and Parquet at any location Spark's Hadoop FileSystem reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelop_spark.assets.base import AssetReader, AssetWriter, StagedOutput, WrittenAsset
from modelop_spark.assets.commit import (
    RESULT_FILE,
    Publication,
    check_foreign,
    check_mode,
    commit_publications,
    plan_publication,
    remove_if_empty,
    split_parent,
    staging_path,
    staging_root,
)
from modelop_spark.assets.filesystem import absolute_url, filesystem_for, is_local, local_path
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import AssetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

# Options that are ours, not the Spark reader's or writer's.
_OWN_OPTIONS = {"single_file", "partitionBy", "presign", "max_rows", "allow_empty", "replace_foreign"}


def spark_options(asset: AssetSpec, *, reading: bool) -> dict[str, str]:
    options = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in asset.options.items() if k not in _OWN_OPTIONS}
    if asset.format == "csv":
        options.setdefault("header", "true")
        if reading:  # RFC 4180: quoted fields may hold newlines, and a quote is escaped by doubling it
            options.setdefault("multiLine", "true")
            options.setdefault("escape", '"')
    return options


# The first bytes of the formats a .csv or .json file most often turns out to be.
_MAGIC = {b"PAR1": "parquet", b"PK\x03\x04": "a zip archive", b"\x1f\x8b": "gzip-compressed", b"Obj\x01": "avro", b"ORC": "orc"}


def sniff_format(url: str) -> str | None:
    """What a local text-format input really is, when its first bytes say it is not text."""
    if not is_local(url):
        return None
    path = local_path(url)
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(("_", "."))) if path.is_dir() else [path]
    if not files or not files[0].is_file() or files[0].name.endswith(".gz"):
        return None
    with files[0].open("rb") as handle:
        head = handle.read(4)
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def looks_like_json_array(url: str) -> bool:
    """ModelOp sample files are often one JSON array rather than JSON lines."""
    if not is_local(url):
        return False
    path = local_path(url)
    first = next(iter(sorted(path.rglob("*.json")) if path.is_dir() else [path]), None)
    if first is None or not first.is_file():
        return False
    with first.open("rb") as handle:
        head = handle.read(256).lstrip()
    return head.startswith(b"[")


def asset_error(asset: AssetSpec, exc: Exception, *, reading: bool) -> AssetError:
    """One line naming the asset and the cause, from a Spark or I/O exception."""
    text = str(exc)
    direction = "input" if reading else "output"
    location = asset.url or asset.table or asset.kind
    if "PATH_NOT_FOUND" in text or "Path does not exist" in text:
        return AssetError(f"{direction} {asset.label}: nothing at {location}; check the path")
    if "UNABLE_TO_INFER_SCHEMA" in text:
        return AssetError(f"{direction} {asset.label}: {location} is empty or not {asset.format}; check the file and the format")
    if "Permission denied" in text or "AccessDenied" in text:
        return AssetError(f"{direction} {asset.label}: permission denied at {location}")
    if "CANNOT_READ_FILE_FOOTER" in text or "is not a Parquet file" in text or "MALFORMED_RECORD" in text:
        return AssetError(
            f"{direction} {asset.label}: {location} is not valid {asset.format}; check the asset's format"
        )
    return AssetError(f"{direction} {asset.label} ({location}, {asset.format}): {_cause(text, exc)}")


def _cause(text: str, exc: Exception) -> str:
    """The first line that says something: py4j's "An error occurred while calling o43.load"
    does not, the Java exception under it does."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("An error occurred while calling"):
            continue
        line = line.lstrip(": ")
        if "Exception: " in line:
            line = line.split("Exception: ", 1)[1]
        return line[:300]
    return type(exc).__name__


def avro_available(spark: Any) -> bool:
    """spark-avro ships apart from Spark (Spark 4 keeps only some of its classes in spark-sql):
    true when Spark itself resolves the ``avro`` source in this session. Connect: assume yes,
    and let the server say otherwise."""
    jvm = getattr(getattr(spark, "sparkContext", None), "_jvm", None) if hasattr(spark, "_jsparkSession") else None
    if jvm is None:
        return True
    try:
        conf = spark._jsparkSession.sessionState().conf()
        jvm.org.apache.spark.sql.execution.datasources.DataSource.lookupDataSource("avro", conf)
        return True
    except Exception:
        return False


def check_format(spark: Any, asset: AssetSpec, *, reading: bool) -> None:
    if asset.format == "avro" and not avro_available(spark):
        direction = "input" if reading else "output"
        raise AssetError(
            f"{direction} {asset.label}: Avro needs the spark-avro package on Spark's classpath "
            "(spark.jars or --packages org.apache.spark:spark-avro_2.13); use parquet, csv or json otherwise"
        )


class FileReader(AssetReader):
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return asset.kind == "file"

    def read(self, spark: SparkSession, asset: AssetSpec, *, schema: StructType | None = None) -> DataFrame:
        assert asset.url is not None
        check_format(spark, asset, reading=True)
        if asset.format in ("csv", "json") and (actual := sniff_format(asset.url)):
            raise AssetError(
                f"input {asset.label}: {asset.url} is {actual}, not {asset.format}; set the asset's format to match the file"
            )
        options = spark_options(asset, reading=True)
        if asset.format == "csv" and schema is None:
            options.setdefault("inferSchema", "true")
        if asset.format == "json" and "multiLine" not in options and looks_like_json_array(asset.url):
            options["multiLine"] = "true"
        reader = spark.read.format(asset.format or "parquet").options(**options)
        if schema is not None:
            reader = reader.schema(schema)
        try:
            df = reader.load(absolute_url(asset.url))
        except Exception as exc:
            raise asset_error(asset, exc, reading=True) from exc
        if not df.columns:
            raise AssetError(f"input {asset.label}: {asset.url} is empty (no columns, no rows); check the upstream output")
        return df

    def reads_text_lines(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return True


class FileWriter(AssetWriter):
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return asset.kind == "file"

    def stage(self, df: DataFrame, asset: AssetSpec, *, job_id: str) -> StagedOutput:
        assert asset.url is not None
        check_format(df.sparkSession, asset, reading=False)
        url = absolute_url(asset.url)
        fs = filesystem_for(url, df.sparkSession)
        replace_foreign = asset.replace_foreign
        check_mode(fs, url, asset.mode, label=asset.label)
        check_foreign(fs, url, asset.mode, label=asset.label, replace_foreign=replace_foreign)
        single = asset.single_file
        staging = staging_path(url, job_id)  # this attempt's own folder
        writer = (df.coalesce(1) if single else df).write.mode("overwrite").format(asset.format or "parquet")
        writer = writer.options(**spark_options(asset, reading=False))
        partition_by = asset.options.get("partitionBy")
        if partition_by and not single:
            writer = writer.partitionBy(*([partition_by] if isinstance(partition_by, str) else partition_by))

        def abort() -> None:
            fs.delete(staging)
            remove_if_empty(fs, staging_root(url))

        try:
            writer.save(staging)
        except Exception as exc:
            abort()
            raise asset_error(asset, exc, reading=False) from exc

        def prepare() -> tuple[Publication, ...]:
            try:
                return (plan_publication(
                    fs, staging, url, mode=asset.mode, job_id=job_id, single=single, label=asset.label,
                    replace_foreign=replace_foreign,
                ),)
            except AssetError:
                raise
            except Exception as exc:
                raise asset_error(asset, exc, reading=False) from exc

        def commit() -> None:
            try:
                commit_publications(prepare(), job_id=job_id)
            except AssetError:
                raise
            except Exception as exc:
                raise asset_error(asset, exc, reading=False) from exc
            finally:
                abort()

        written = WrittenAsset(name=asset.name, kind="file", location=asset.url, format=asset.format)
        return StagedOutput(written=written, commit=commit, abort=abort, prepare=prepare)

    def write_text(self, spark: SparkSession, asset: AssetSpec, url: str, text: str) -> str:
        filesystem_for(url, spark).write_text(url, text)
        return url


def result_location(asset: AssetSpec, *, is_file: bool = False) -> str | None:
    """Where a job's result JSON goes beside a file output (Spark's readers skip ``_`` files):
    inside an output folder, or next to an output that is one file."""
    if asset.kind != "file" or not asset.url:
        return None
    if is_file or asset.single_file:
        parent, name = split_parent(asset.url)
        return f"{parent}/_{name}.job_result.json"
    return f"{asset.url.rstrip('/')}/{RESULT_FILE}"
