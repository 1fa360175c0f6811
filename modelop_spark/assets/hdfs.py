"""HDFS assets (``hdfs://``, ModelOp ``HDFS_REPOSITORY``).

Reads and writes go through Spark's Hadoop FileSystem (the file reader and writer, with their
staging and single commit); this module adds what happens on the driver without Spark:

* URL handling: a ModelOp asset in an ``HDFS_REPOSITORY`` may carry a bare path; the
  repository's ``hdfsUrl``/``defaultFs``/``nameNode`` (or ``MODELOP_HDFS_URL``) makes it a full
  ``hdfs://`` URL.
* exists / list / download / upload (staging a snapshot for a cluster job) through the
  ``hdfs`` package's WebHDFS client, when a WebHDFS URL is configured (``webhdfsUrl`` in the
  repository, or ``MODELOP_WEBHDFS_URL``; user from ``MODELOP_HDFS_USER``/``HADOOP_USER_NAME``).
  Before a Spark read the input is checked there, so a missing path or a down namenode is one
  clear line in seconds rather than a Hadoop stack trace after its retries.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from modelop_spark.assets.base import (
    AssetReader,
    AssetSpec,
    AssetWriter,
    StagedOutput,
)
from modelop_spark.assets.files import FileReader, FileWriter
from modelop_spark.errors import AssetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

HDFS_URL_ENV = "MODELOP_HDFS_URL"
WEBHDFS_URL_ENV = "MODELOP_WEBHDFS_URL"
USER_ENVS = ("MODELOP_HDFS_USER", "HADOOP_USER_NAME")
DEFAULT_TIMEOUT = 10.0


def is_hdfs_repository(repository: Mapping[str, Any]) -> bool:
    kind = str(repository.get("repositoryType") or repository.get("type") or "")
    return kind.upper() == "HDFS_REPOSITORY"


def is_hdfs_asset(asset: AssetSpec) -> bool:
    scheme = urlparse(asset.url or "").scheme.lower()
    return asset.kind == "file" and (scheme in ("hdfs", "webhdfs") or is_hdfs_repository(asset.repository))


def hdfs_url(url: str, repository: Mapping[str, Any], *, environ: Mapping[str, str] = os.environ, where: str) -> str:
    """A full ``hdfs://namenode:port/path`` for ``url``, using the repository's file system."""
    parsed = urlparse(url)
    if parsed.scheme.lower() == "hdfs":
        return url
    if parsed.scheme:
        raise AssetError(f"{where}: expected an hdfs:// URL or a path in the HDFS repository, found {url!r}")
    host = repository.get("host")
    if host and repository.get("port") and ":" not in str(host).split("://")[-1]:
        host = f"{host}:{repository['port']}"  # ModelOp's repositoryInfo holds them apart
    base = (
        repository.get("hdfsUrl") or repository.get("defaultFs") or repository.get("nameNode")
        or host or environ.get(HDFS_URL_ENV)
    )
    if not base:
        raise AssetError(
            f"{where}: {url!r} is a bare path and no HDFS file system is named; set repositoryInfo.hdfsUrl "
            f"(hdfs://namenode:8020) or {HDFS_URL_ENV}"
        )
    base = str(base) if "://" in str(base) else f"hdfs://{base}"
    root = str(repository.get("repositoryDirectory") or "")
    path = url if url.startswith("/") else posixpath.join("/", root.strip("/"), url)
    return base.rstrip("/") + posixpath.normpath(path)


@dataclass(frozen=True)
class WebHdfsSettings:
    url: str
    user: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_sources(
        cls, repository: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] = os.environ
    ) -> WebHdfsSettings | None:
        """The configured WebHDFS endpoint, or None when there is none (then Spark does it all)."""
        repository = repository or {}
        url = repository.get("webhdfsUrl") or repository.get("namenodeUrl") or environ.get(WEBHDFS_URL_ENV)
        if not url:
            return None
        url = str(url) if "://" in str(url) else f"http://{url}"
        user = repository.get("user") or next((environ[e] for e in USER_ENVS if environ.get(e)), None)
        timeout = float(environ.get("MODELOP_WEBHDFS_TIMEOUT", DEFAULT_TIMEOUT))
        return cls(url=url, user=str(user) if user else None, timeout=timeout)


class WebHdfs:
    """Driver-side file operations over WebHDFS (the ``hdfs`` package), errors made plain."""

    def __init__(self, settings: WebHdfsSettings) -> None:
        from hdfs import InsecureClient

        self.settings = settings
        self._client = InsecureClient(settings.url, user=settings.user, timeout=settings.timeout)

    def _call(self, action: str, path: str, function, *args, **kwargs):
        from hdfs.util import HdfsError
        from requests.exceptions import ConnectionError, Timeout

        try:
            return function(*args, **kwargs)
        except Timeout:
            raise AssetError(
                f"cannot {action} {path}: the WebHDFS endpoint {self.settings.url} did not answer within "
                f"{self.settings.timeout:.0f}s; check the namenode"
            ) from None
        except ConnectionError:
            raise AssetError(
                f"cannot {action} {path}: the WebHDFS endpoint {self.settings.url} cannot be reached; check "
                f"{WEBHDFS_URL_ENV} and that the namenode is up"
            ) from None
        except HdfsError as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "Permission denied" in message:
                raise AssetError(f"cannot {action} {path}: permission denied ({message})") from None
            raise AssetError(f"cannot {action} {path}: {message}") from None

    def exists(self, path: str) -> bool:
        return self._call("check", path, self._client.status, _path_of(path), strict=False) is not None

    def list(self, path: str) -> list[str]:
        names = self._call("list", path, self._client.list, _path_of(path))
        return [posixpath.join(_path_of(path), n) for n in names]

    def download(self, path: str, local: Path) -> Path:
        return Path(self._call("download", path, self._client.download, _path_of(path), str(local), overwrite=True))

    def upload(self, local: Path, path: str) -> str:
        """Stage a local file or folder at ``path`` (uploaded beside it, then renamed in one step)."""
        target = _path_of(path)
        temporary = posixpath.join(posixpath.dirname(target), f".{posixpath.basename(target)}.uploading")
        self._call("upload", path, self._client.upload, temporary, str(local), overwrite=True)
        self._call("upload", path, self._client.delete, target, recursive=True)
        self._call("upload", path, self._client.rename, temporary, target)
        return path


def _path_of(url: str) -> str:
    parsed = urlparse(url)
    return parsed.path if parsed.scheme else url


class HdfsReader(AssetReader):
    """Full URL from the repository, a WebHDFS existence check when configured, then Spark."""

    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return is_hdfs_asset(asset)

    def read(self, spark: SparkSession, asset: AssetSpec, *, schema: StructType | None = None) -> DataFrame:
        where = f"asset {asset.label!r}"
        full = replace(asset, url=hdfs_url(asset.url or "", asset.repository, where=where))
        settings = WebHdfsSettings.from_sources(asset.repository)
        if settings is not None:
            try:
                found = WebHdfs(settings).exists(full.url or "")
            except AssetError as exc:
                raise AssetError(f"{where}: {exc.message}") from None
            if not found:
                raise AssetError(f"{where}: nothing at {full.url}; check the path")
        return FileReader().read(spark, full, schema=schema)

    def reads_text_lines(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return True


class HdfsWriter(AssetWriter):
    def accepts(self, asset: AssetSpec, spark: SparkSession) -> bool:
        return is_hdfs_asset(asset)

    def stage(self, df: DataFrame, asset: AssetSpec, *, job_id: str) -> StagedOutput:
        where = f"asset {asset.label!r}"
        full = replace(asset, url=hdfs_url(asset.url or "", asset.repository, where=where))
        return FileWriter().stage(df, full, job_id=job_id)

    def write_text(self, spark: SparkSession, asset: AssetSpec, url: str, text: str) -> str:
        # a bare path in an HDFS repository becomes a full hdfs:// URL
        return FileWriter().write_text(spark, asset, hdfs_url(url, asset.repository, where=f"output {asset.label}"), text)
