"""Where an S3 asset lives and how to reach it: pure values, no Spark, no network.

Endpoint and region come from the asset's ModelOp repository info (``S3_REPOSITORY``: bucket,
region, endpoint) or the environment (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``,
``AWS_REGION``, ``AWS_DEFAULT_REGION``). Credentials come only from boto3's usual chain
(environment, shared files, instance role); a job file that carries them is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

from modelop_spark.errors import AssetError

SCHEMES: tuple[str, ...] = ("s3", "s3a", "s3n")
_SECRET_KEYS = re.compile(r"(?i)secret|password|token|access.?key|credential")
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 3


def is_s3_url(url: str | None) -> bool:
    return bool(url) and urlparse(url).scheme.lower() in SCHEMES


def is_s3_repository(repository: Mapping[str, Any]) -> bool:
    kind = str(repository.get("repositoryType") or repository.get("type") or "")
    return kind.upper() == "S3_REPOSITORY"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, url: str, *, bucket: str | None = None, where: str = "asset") -> S3Location:
        """``s3://bucket/key`` (or ``s3a://``), or a bare key with the repository's bucket."""
        parsed = urlparse(url)
        if parsed.scheme.lower() in SCHEMES:
            if not parsed.netloc:
                raise AssetError(f"{where}: S3 URL {url!r} has no bucket; expected s3://bucket/key")
            return cls(parsed.netloc, parsed.path.lstrip("/"))
        if parsed.scheme:
            raise AssetError(f"{where}: expected an s3:// URL, found scheme {parsed.scheme!r} in {url!r}")
        if not bucket:
            raise AssetError(f"{where}: {url!r} is not an s3:// URL and the S3 repository names no bucket")
        return cls(bucket, url.lstrip("/"))

    @property
    def path(self) -> str:
        """The ``bucket/key`` form pyarrow's S3 filesystem takes."""
        return f"{self.bucket}/{self.key}".rstrip("/")

    @property
    def url(self) -> str:
        return f"s3://{self.path}"


@dataclass(frozen=True)
class S3Settings:
    """How to reach the store. ``repr`` and ``to_dict`` never show credentials."""

    endpoint: str | None = None
    region: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    anonymous: bool = False

    @classmethod
    def from_asset(
        cls,
        repository: Mapping[str, Any],
        options: Mapping[str, Any],
        *,
        environ: Mapping[str, str] = os.environ,
        where: str = "asset",
    ) -> S3Settings:
        for source_name, source in (("repository", repository), ("options", options)):
            leaked = sorted(k for k, v in source.items() if _SECRET_KEYS.search(str(k)) and v)
            if leaked:
                raise AssetError(
                    f"{where}.{source_name}: carries credentials ({', '.join(leaked)}); job files must not "
                    "hold secrets: remove them and set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, an AWS "
                    "profile or an instance role for the runtime"
                )
        endpoint = (
            options.get("endpoint")
            or repository.get("endpoint")
            or repository.get("endpointUrl")
            or _repository_host(repository)
            or environ.get("AWS_ENDPOINT_URL_S3")
            or environ.get("AWS_ENDPOINT_URL")
        )
        region = (
            options.get("region")
            or repository.get("region")
            or repository.get("awsRegion")
            or environ.get("AWS_REGION")
            or environ.get("AWS_DEFAULT_REGION")
        )
        try:
            return cls(
                endpoint=_normalise_endpoint(str(endpoint)) if endpoint else None,
                region=str(region) if region else None,
                connect_timeout=float(options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)),
                request_timeout=float(options.get("request_timeout", DEFAULT_REQUEST_TIMEOUT)),
                max_attempts=int(options.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
                anonymous=str(options.get("anonymous", "false")).lower() == "true",
            )
        except (TypeError, ValueError) as exc:
            raise AssetError(
                f"{where}.options: connect_timeout/request_timeout must be seconds and max_attempts a count ({exc})"
            ) from exc

    def with_credentials(self, access_key: str | None, secret_key: str | None, session_token: str | None) -> S3Settings:
        return replace(self, access_key=access_key, secret_key=secret_key, session_token=session_token)

    def fingerprint(self) -> str:
        """A short stable id for these settings (credentials included, hashed), to name a source."""
        import hashlib

        text = "|".join(
            str(v)
            for v in (self.endpoint, self.region, self.connect_timeout, self.request_timeout,
                      self.max_attempts, self.access_key, self.secret_key, self.session_token, self.anonymous)
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "region": self.region}


def _repository_host(repository: Mapping[str, Any]) -> str | None:
    """ModelOp's repositoryInfo keeps the host and the port apart."""
    host, port = repository.get("host"), repository.get("port")
    if host and port and ":" not in str(host).split("://")[-1]:
        return f"{host}:{port}"
    return host


def _normalise_endpoint(endpoint: str) -> str:
    return endpoint if "://" in endpoint else f"https://{endpoint}"


def explain_s3_error(exc: BaseException) -> str:
    """Turn an S3 client error (pyarrow or botocore) into the cause a person can act on."""
    text = str(exc)
    upper = text.upper()
    checks = (
        (("NO_SUCH_BUCKET", "NOSUCHBUCKET"), "the bucket does not exist"),
        (("SIGNATURE_DOES_NOT_MATCH", "SIGNATUREDOESNOTMATCH", "INVALID_ACCESS_KEY_ID", "INVALIDACCESSKEYID",
          "INVALIDCLIENTTOKENID", "UNRECOGNIZEDCLIENT"),
         "the credentials were refused; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS profile"),
        (("ACCESS_DENIED", "ACCESSDENIED", "FORBIDDEN", "403"),
         "access denied; check the credentials and the bucket policy"),
        (("CURLCODE: 28", "TIMEOUT", "TIMED OUT", "READ TIMEOUT"),
         "the endpoint did not answer in time; check the endpoint URL and the network"),
        (("CURLCODE: 7", "COULDN'T CONNECT", "CONNECTION REFUSED", "COULD NOT CONNECT", "CURLCODE: 6",
          "NAME RESOLUTION", "ENDPOINTCONNECTIONERROR"),
         "the endpoint cannot be reached; check the endpoint URL (AWS_ENDPOINT_URL) and the network"),
        (("NOCREDENTIALS", "UNABLE TO LOCATE CREDENTIALS", "MISSING CREDENTIALS"),
         "no credentials were found; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an AWS profile"),
    )
    for needles, cause in checks:
        if any(n in upper for n in needles):
            return cause
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:300]
