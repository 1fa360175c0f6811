"""Which pyarrow filesystem a location lives on, as a picklable value tasks can rebuild.

Local paths and ``file://`` use the local filesystem; ``s3://``/``s3a://`` use pyarrow's S3
filesystem with settings resolved once on the driver (``s3.resolve_settings``). A Spark task
gets the ``FsSpec`` and calls ``filesystem()``: filesystems themselves are not shipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse

import pyarrow.fs as pa_fs

from modelop_spark.assets.s3_settings import S3Settings
from modelop_spark.assets.s3_source import make_filesystem


@dataclass(frozen=True)
class FsSpec:
    s3: S3Settings | None = None

    def filesystem(self) -> pa_fs.FileSystem:
        if self.s3 is None:
            return pa_fs.LocalFileSystem()

        return make_filesystem(self.s3)

    def storage_options(self) -> dict[str, str]:
        """The same settings in the form the ``deltalake`` package takes."""
        if self.s3 is None:
            return {}
        options = {"AWS_REGION": self.s3.region or "us-east-1"}
        if self.s3.endpoint:
            options["AWS_ENDPOINT_URL"] = self.s3.endpoint
            options["AWS_ALLOW_HTTP"] = str(self.s3.endpoint.startswith("http://")).lower()
            options["AWS_S3_ALLOW_UNSAFE_RENAME"] = "true"
        if self.s3.access_key and self.s3.secret_key:
            options["AWS_ACCESS_KEY_ID"] = self.s3.access_key
            options["AWS_SECRET_ACCESS_KEY"] = self.s3.secret_key
        if self.s3.session_token:
            options["AWS_SESSION_TOKEN"] = self.s3.session_token
        return options

    def fingerprint(self) -> str:
        return self.s3.fingerprint() if self.s3 else "local"


def local_path(url: str) -> str:
    parsed = urlparse(url)
    path = parsed.path if parsed.scheme == "file" else url
    return os.path.abspath(os.path.expanduser(path))


def is_local_url(url: str) -> bool:
    scheme = urlparse(url).scheme
    return scheme in ("", "file") or len(scheme) == 1
