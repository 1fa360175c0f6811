"""S3 file assets (``s3://``, ``s3a://``, ModelOp ``S3_REPOSITORY``).

The one decision, made here for every S3 read, write and result file (:func:`s3a_available`):
with Hadoop's S3A connector on Spark's classpath, the file reader and writer (``assets.files``)
do the work on ``s3a://`` exactly as on any Hadoop file system (same options, same CSV type
inference, same ``single_file``), with endpoint and region passed as per-bucket Hadoop settings.
Without it, as with a pip-installed PySpark, the Python data source in ``s3_source`` does:
parallel pyarrow reads, and writes staged under the job id and committed once. Every failure becomes one ``AssetError``
line naming the asset and the cause, with no credential in it.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from modelop_spark.assets import arrow_io, commit, s3_source, staging
from modelop_spark.assets.base import (
    AssetReader,
    AssetSpec,
    AssetWriter,
    StagedOutput,
    WrittenAsset,
)
from modelop_spark.assets.files import FileReader, FileWriter
from modelop_spark.assets.filesystem import ArrowFileSystem
from modelop_spark.assets.s3_settings import (
    S3Location,
    S3Settings,
    explain_s3_error,
    is_s3_repository,
    is_s3_url,
)
from modelop_spark.errors import AssetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

_S3A_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"
DEFAULT_LINK_SECONDS = 3600


def is_s3_asset(asset: AssetSpec) -> bool:
    return asset.kind == "file" and (is_s3_url(asset.url) or is_s3_repository(asset.repository))


def s3a_available(spark: SparkSession) -> bool:
    """True when Hadoop's S3A filesystem class loads in this session's JVM (never on Connect)."""
    try:
        jvm = spark.sparkContext._jvm  # Connect sessions have no sparkContext: they raise here
        assert jvm is not None
        jvm.java.lang.Class.forName(_S3A_CLASS, False, jvm.Thread.currentThread().getContextClassLoader())
        return True
    except Exception:
        return False


def location_of(asset: AssetSpec) -> S3Location:
    bucket = asset.repository.get("bucket") or asset.repository.get("bucketName")
    return S3Location.parse(asset.url or "", bucket=bucket, where=f"asset {asset.label!r}")


def resolve_settings(asset: AssetSpec) -> S3Settings:
    """Endpoint and region from the asset or environment; credentials from boto3's chain."""
    settings = S3Settings.from_asset(asset.repository, asset.options, where=f"asset {asset.label!r}")
    if settings.anonymous:
        return settings
    import boto3

    credentials = boto3.Session(region_name=settings.region).get_credentials()
    if credentials is None:
        # pyarrow falls back to the AWS SDK's own chain (instance metadata and the like).
        return settings
    frozen = credentials.get_frozen_credentials()
    return settings.with_credentials(frozen.access_key, frozen.secret_key, frozen.token)


def s3a_url(location: S3Location) -> str:
    return f"s3a://{location.path}"


def fail(asset: AssetSpec, action: str, exc: BaseException) -> AssetError:
    location = asset.url or asset.label
    return AssetError(f"asset {asset.label!r}: cannot {action} {location}: {explain_s3_error(exc)}")


class S3Reader(AssetReader):
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return is_s3_asset(asset)

    def read(self, spark: SparkSession, asset: AssetSpec, *, schema: StructType | None = None) -> DataFrame:
        location = location_of(asset)
        settings = resolve_settings(asset)
        if s3a_available(spark):
            _set_hadoop_options(spark, location, settings)
            return FileReader().read(spark, replace(asset, url=s3a_url(location)), schema=schema)
        options = _format_options(asset)
        # Check on the driver, before any task: a clear error now beats a wrapped one later.
        try:
            fs = s3_source.make_filesystem(settings)
            files = arrow_io.list_data_files(fs, location.path)
        except FileNotFoundError:
            if _bucket_missing(fs, location):
                raise AssetError(
                    f"asset {asset.label!r}: cannot read {location.url}: the bucket does not exist; fix the URL"
                ) from None
            raise AssetError(
                f"asset {asset.label!r}: nothing at {location.url}; check the path (expected a file or a folder of "
                f"{options.format} files)"
            ) from None
        except OSError as exc:
            raise fail(asset, "read", exc) from exc
        if not files or all(f.size == 0 for f in files):
            raise AssetError(
                f"asset {asset.label!r}: {location.url} holds no {options.format} data (no non-empty data files); "
                "check that the upstream step wrote its output"
            )
        files = [f for f in files if f.size]
        if schema is None:
            try:
                inferred = arrow_io.infer_schema(fs, files[0].path, options)
            except OSError as exc:
                raise fail(asset, "read", exc) from exc
            except Exception as exc:  # pyarrow.ArrowInvalid and friends: not this format
                raise AssetError(
                    f"asset {asset.label!r}: {files[0].path} is not readable as {options.format} "
                    f"({str(exc).splitlines()[0][:200]}); check the asset's format"
                ) from exc
            schema = s3_source.spark_schema(inferred)
        name = s3_source.register(spark, settings)
        reader = spark.read.format(name).schema(schema).option("path", location.path)
        for key, value in _source_options(asset, options).items():
            reader = reader.option(key, value)
        return reader.load()

    def reads_text_lines(self, asset: AssetSpec, spark: SparkSession) -> bool:
        """Through S3A, yes; the pyarrow data source reads data formats, not text."""
        return s3a_available(spark)


class S3Writer(AssetWriter):
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return is_s3_asset(asset)

    def stage(self, df: DataFrame, asset: AssetSpec, *, job_id: str) -> StagedOutput:
        location = location_of(asset)
        settings = resolve_settings(asset)
        spark = df.sparkSession
        if s3a_available(spark):
            # S3A is a Hadoop FileSystem: the file writer's staging and commit apply as they are.
            _set_hadoop_options(spark, location, settings)
            return FileWriter().stage(df, replace(asset, url=s3a_url(location)), job_id=job_id)
        options = _format_options(asset)
        single = asset.single_file
        try:
            fs = s3_source.make_filesystem(settings)
            if _bucket_missing(fs, location):
                raise AssetError(
                    f"asset {asset.label!r}: cannot write {location.url}: the bucket does not exist; create it "
                    "or fix the URL"
                )
            if asset.mode == "error" and staging.target_has_data(fs, location.path):
                raise AssetError(
                    f"asset {asset.label!r}: {location.url} already holds data and mode is 'error'; "
                    "choose mode overwrite or append, or another location"
                )
            # Under the job's lock: finish or undo an interrupted commit, then clear leftovers.
            commit.recover(lambda _: ArrowFileSystem(fs), [location.path], job_id)
            staging.discard_staging(fs, location.path, job_id)  # leftovers of a killed attempt
        except OSError as exc:
            raise fail(asset, "write", exc) from exc
        name = s3_source.register(spark, settings)
        writer = (
            (df.coalesce(1) if single else df).write.format(name)
            .mode("append")  # the data source only stages; our commit applies the asset's mode
            .option("path", location.path)
            .option("job_id", job_id)
        )
        for key, value in _source_options(asset, options).items():
            writer = writer.option(key, value)
        try:
            writer.save()
        except Exception as exc:
            staging.discard_staging(fs, location.path, job_id)
            raise fail(asset, "write", exc) from exc

        details: dict[str, Any] = {"job_id": job_id}
        written = WrittenAsset(
            name=asset.name,
            kind="file",
            location=location.url,
            format=options.format,
            link=presigned_link(asset, location, settings, single=single) if _wants_link(asset.options) else None,
            details=details,
        )

        def prepare() -> tuple[commit.Publication, ...]:
            try:
                publication, files = _publication(fs, location.path, job_id=job_id, mode=asset.mode, single=single,
                                                  extension=options.extension(), label=asset.label)  # fmt: skip
            except (OSError, ValueError) as exc:
                raise fail(asset, "commit", exc) from exc
            details["files"] = files
            return (publication,)

        def commit_alone() -> None:
            try:
                commit.commit_publications(prepare(), job_id=job_id)
            except (OSError, ValueError) as exc:
                raise fail(asset, "commit", exc) from exc

        return StagedOutput(
            written=written, commit=commit_alone, prepare=prepare,
            abort=lambda: staging.discard_staging(fs, location.path, job_id),
        )  # fmt: skip

    def write_text(self, spark: SparkSession, asset: AssetSpec, url: str, text: str) -> str:
        """A job's result record at ``url``, by the same route as the output itself."""
        settings = resolve_settings(asset)
        target = S3Location.parse(url, bucket=location_of(asset).bucket, where=f"asset {asset.label!r}")
        if s3a_available(spark):
            _set_hadoop_options(spark, target, settings)
            FileWriter().write_text(spark, asset, s3a_url(target), text)
            return url
        try:
            with s3_source.make_filesystem(settings).open_output_stream(target.path) as sink:
                sink.write(text.encode())
        except OSError as exc:
            raise fail(asset, "write", exc) from exc
        return url


def _publication(fs: Any, target: str, *, job_id: str, mode: str, single: bool, extension: str, label: str) -> tuple[Any, list[str]]:
    """This output's share of the job's commit (``assets.commit``): the files Spark's successful
    tasks staged (the listing, so a failed task attempt's leftovers are never published) move to
    their part names; whatever they replace, and the previous commit record, move aside first."""
    import json


    store = ArrowFileSystem(fs)
    folder = staging.staging_dir(target, job_id)
    files = staging.staged_files(fs, target, job_id)
    if single:
        if len(files) > 1:
            raise ValueError(f"expected one staged file for single-file output {target}, found {len(files)}")
        aside: tuple[str, ...] = (target,) if files and store.exists(target) else ()
        moves: tuple[tuple[str, str], ...] = ((files[0].path, target),) if files else ()
        publication = commit.Publication(label=label, target=target, staging=folder, aside=aside, moves=moves, fs=store)
        return publication, [posixpath.basename(target)]
    existing = staging.existing_files(fs, target)
    plan = staging.plan_commit(existing=existing, staged=[w.path for w in files], target=target, job_id=job_id,
                               mode="overwrite" if mode == "error" else mode, extension=extension)  # fmt: skip
    names = [posixpath.basename(dst) for _, dst in plan.moves]
    record = {"job_id": job_id, "mode": mode, "files": names, "rows": sum(w.rows for w in files)}
    staged_marker = posixpath.join(folder, staging.MARKER)
    store.write_text(staged_marker, json.dumps(record))
    replaced = {dst for _, dst in plan.moves} | {plan.marker}
    aside = tuple(sorted(set(plan.delete) | (replaced & set(existing))))
    moves = (*plan.moves, (staged_marker, plan.marker))
    return commit.Publication(label=label, target=target, staging=folder, aside=aside, moves=moves, fs=store), names


def _bucket_missing(fs, location: S3Location) -> bool:
    return fs.get_file_info(location.bucket).type.name == "NotFound"


def _format_options(asset: AssetSpec):
    try:
        return arrow_io.FormatOptions.from_options(asset.format or "parquet", asset.options, where=f"asset {asset.label!r}")
    except ValueError as exc:
        raise AssetError(str(exc)) from None


def _source_options(asset: AssetSpec, options) -> dict[str, str]:
    out = {"format": options.format, "header": str(options.header).lower(), "sep": options.delimiter}
    if options.compression:
        out["compression"] = options.compression
    return out


def _wants_link(options: Mapping[str, Any]) -> bool:
    value = options.get("presign") or options.get("link")
    return str(value).lower() in ("true", "1", "yes") or (isinstance(value, int | float) and value > 0)


def presigned_link(asset: AssetSpec, location: S3Location, settings: S3Settings, *, single: bool) -> str:
    """A time-limited GET link (boto3) to the single output object, or a folder's commit record."""
    import boto3
    from botocore.config import Config

    expires = asset.options.get("presign_seconds") or asset.options.get("link_seconds") or DEFAULT_LINK_SECONDS
    client = boto3.client(
        "s3",
        endpoint_url=settings.endpoint,
        region_name=settings.region or "us-east-1",
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        aws_session_token=settings.session_token,
        config=Config(signature_version="s3v4"),
    )
    key = location.key if single else location.key.rstrip("/") + "/" + staging.MARKER
    return client.generate_presigned_url(
        "get_object", Params={"Bucket": location.bucket, "Key": key}, ExpiresIn=int(expires)
    )


def _hadoop_options(location: S3Location, settings: S3Settings) -> dict[str, str]:
    # Per-bucket S3A settings: they apply to this bucket only and leave other jobs' alone.
    prefix = f"fs.s3a.bucket.{location.bucket}."
    out: dict[str, str] = {}
    if settings.endpoint:
        out[prefix + "endpoint"] = settings.endpoint
        out[prefix + "path.style.access"] = "true"
    if settings.region:
        out[prefix + "endpoint.region"] = settings.region
    return out


def _set_hadoop_options(spark: SparkSession, location: S3Location, settings: S3Settings) -> None:
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in _hadoop_options(location, settings).items():
        hadoop.set(key, value)
