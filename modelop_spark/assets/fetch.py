"""Bring a remote snapshot (a ``.zip``/``.tar.gz`` or a folder) to the local disk.

``fetch_to_local(url, dest_dir)`` handles ``s3://``/``s3a://`` (pyarrow's S3 filesystem, endpoint
and credentials from the environment as for S3 assets), ``hdfs://``/``webhdfs://`` (WebHDFS,
when ``MODELOP_WEBHDFS_URL`` names the namenode's HTTP endpoint) and ``http(s)://`` (a plain
or presigned link). A download lands in a temporary folder and is renamed into place, so a
reader never sees half a snapshot; each URL has its own folder under ``dest_dir``.
"""

from __future__ import annotations

import hashlib
import posixpath
import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from modelop_spark.assets.hdfs import WEBHDFS_URL_ENV, WebHdfs, WebHdfsSettings
from modelop_spark.assets.s3 import location_of, resolve_settings
from modelop_spark.assets.s3_settings import explain_s3_error
from modelop_spark.assets.s3_source import make_filesystem
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import AssetError, SnapshotError

HTTP_TIMEOUT = 60.0


def fetch_to_local(url: str, dest_dir: Path | str) -> Path:
    """Download ``url`` under ``dest_dir``; return the local file or folder."""
    scheme = urlparse(url).scheme.lower()
    fetchers = {"s3": _fetch_s3, "s3a": _fetch_s3, "s3n": _fetch_s3, "hdfs": _fetch_hdfs, "webhdfs": _fetch_hdfs,
                "http": _fetch_http, "https": _fetch_http}
    fetcher = fetchers.get(scheme)
    shown = url.split("?", 1)[0]  # a presigned link's query string is a credential
    if fetcher is None:
        raise SnapshotError(
            f"snapshot location {shown}: scheme {scheme}:// is not supported; use a local path, s3://, hdfs:// or https://"
        )
    root = Path(dest_dir) / hashlib.sha256(url.encode()).hexdigest()[:16]
    root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root.parent))
    name = posixpath.basename(urlparse(url).path.rstrip("/")) or "snapshot"
    try:
        fetcher(url, work / name)
        shutil.rmtree(root, ignore_errors=True)
        work.rename(root)
    except AssetError as exc:
        raise SnapshotError(f"snapshot location {shown}: {exc.message}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return root / name


def _fetch_s3(url: str, local: Path) -> None:
    import pyarrow.fs as pa_fs

    asset = AssetSpec(kind="file", name="snapshot", url=url, format=None)
    location = location_of(asset)
    try:
        fs = make_filesystem(resolve_settings(asset))
        info = fs.get_file_info(location.path)
        if info.type == pa_fs.FileType.File:
            pa_fs.copy_files(location.path, str(local), source_filesystem=fs, destination_filesystem=pa_fs.LocalFileSystem())
            return
        found = fs.get_file_info(pa_fs.FileSelector(location.path, recursive=True, allow_not_found=True))
        if not [f for f in found if f.type == pa_fs.FileType.File]:
            raise AssetError("nothing there; check the bucket and key")
        local.mkdir(parents=True)
        pa_fs.copy_files(location.path, str(local), source_filesystem=fs, destination_filesystem=pa_fs.LocalFileSystem())
    except OSError as exc:
        raise AssetError(f"cannot download: {explain_s3_error(exc)}") from None


def _fetch_hdfs(url: str, local: Path) -> None:
    settings = WebHdfsSettings.from_sources()
    if settings is None:
        raise AssetError(f"fetching from HDFS needs the namenode's WebHDFS endpoint: set {WEBHDFS_URL_ENV} (http://namenode:9870)")
    client = WebHdfs(settings)
    if not client.exists(url):
        raise AssetError("nothing there; check the path")
    client.download(url, local)


def _fetch_http(url: str, local: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response, local.open("wb") as sink:
            shutil.copyfileobj(response, sink)
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise AssetError(f"cannot download: {str(reason).splitlines()[0][:200]}") from None
