"""Content-addressed files: snapshot archives, job documents (with their embedded data) and job
results, under the data folder or in an S3 bucket (``S3BlobStore``).

A blob's name is its sha256, so a read can be checked against its name and the same bytes are
kept once. Writes go to a temporary file first and are renamed into place, so a killed process
leaves no half-written blob. Uploads stream through ``put_stream`` with a size cap, so a too-large
upload is refused without filling the disk. Several control-plane processes may share the folder
(or the bucket).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from modelop_spark.assets.s3_settings import S3Location
from modelop_spark.errors import ControlPlaneError


class TooLarge(ControlPlaneError):
    code = "TOO_LARGE"
    http_status = 413


class ChecksumMismatch(ControlPlaneError):
    code = "CHECKSUM_MISMATCH"
    http_status = 422


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ControlPlaneError(f"not a sha256 digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256

    def _commit(self, temporary: Path, digest: str) -> None:
        """Make a fully written temporary file the blob ``digest``."""
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)

    def _exists(self, digest: str) -> bool:
        return self.path(digest).exists()

    def _read_raw(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise ControlPlaneError(f"stored file {digest} is missing from the data folder {self.root}") from exc

    @contextlib.contextmanager
    def local_copy(self, digest: str) -> Iterator[Path]:
        """A local file holding the blob (the blob itself here; a download for S3)."""
        yield self.path(digest)

    def put_bytes(self, data: bytes, *, limit: int | None = None, what: str = "upload") -> BlobRef:
        if limit is not None and len(data) > limit:
            raise TooLarge(f"{what} is {len(data)} bytes, over the limit of {limit}")
        digest = hashlib.sha256(data).hexdigest()
        if not self._exists(digest):
            fd, name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            self._commit(Path(name), digest)
        return BlobRef(digest, len(data))

    async def put_stream(self, chunks: AsyncIterator[bytes], *, limit: int, what: str, expected_sha256: str | None = None) -> BlobRef:
        """Stream an upload to disk, refusing it past ``limit`` bytes or on a checksum mismatch."""
        hasher = hashlib.sha256()
        size = 0
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"{what} is over the limit of {limit} bytes (raise --max-upload-mb on the control plane)")
                    hasher.update(chunk)
                    handle.write(chunk)
            digest = hasher.hexdigest()
            if expected_sha256 and expected_sha256.lower() != digest:
                raise ChecksumMismatch(f"{what}: sha256 {digest} does not match the {expected_sha256} sent with it; upload it again")
            self._commit(Path(name), digest)
            return BlobRef(digest, size)
        finally:
            if os.path.exists(name):
                os.unlink(name)

    def read(self, sha256: str) -> bytes:
        self.path(sha256)  # refuses anything but a digest
        data = self._read_raw(sha256)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ChecksumMismatch(f"stored file {sha256} is corrupt (its content no longer matches its checksum)")
        return data


class S3BlobStore(BlobStore):
    """Blobs as objects ``<prefix>/<aa>/<sha256>`` in a bucket; uploads are staged in the local
    folder first (size cap, checksum), then put once. Credentials and endpoint come from boto3's
    chain (``AWS_*`` variables, profiles, instance roles), never from the command line."""

    def __init__(self, staging: Path, url: str, *, client=None) -> None:
        super().__init__(staging)

        location = S3Location.parse(url, where="--blob-store")
        self.bucket, self.prefix = location.bucket, location.key.strip("/")
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    def _key(self, digest: str) -> str:
        return "/".join(p for p in (self.prefix, digest[:2], digest) if p)

    def _commit(self, temporary: Path, digest: str) -> None:
        try:
            self.client.upload_file(str(temporary), self.bucket, self._key(digest))
        finally:
            temporary.unlink(missing_ok=True)

    def _exists(self, digest: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
            return True
        except ClientError:
            return False

    def _read_raw(self, digest: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(digest))["Body"].read()
        except ClientError as exc:
            raise ControlPlaneError(f"stored file {digest} cannot be read from s3://{self.bucket}/{self._key(digest)}: {exc.response['Error'].get('Code')}") from exc

    @contextlib.contextmanager
    def local_copy(self, digest: str) -> Iterator[Path]:
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".copy-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self.read(digest))
            yield Path(name)
        finally:
            os.unlink(name)


__all__ = ["BlobRef", "BlobStore", "ChecksumMismatch", "S3BlobStore", "TooLarge"]
