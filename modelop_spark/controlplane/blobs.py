"""Content-addressed files under the data folder: snapshot archives, job documents (with their
embedded data) and job results.

A blob's name is its sha256, so a read can be checked against its name and the same bytes are
kept once. Writes go to a temporary file first and are renamed into place, so a killed process
leaves no half-written blob. Uploads stream through ``put_stream`` with a size cap, so a too-large
upload is refused without filling the disk. Several control-plane processes may share the folder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

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

    def _commit(self, temporary: Path, digest: str) -> Path:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)
        return target

    def put_bytes(self, data: bytes, *, limit: int | None = None, what: str = "upload") -> BlobRef:
        if limit is not None and len(data) > limit:
            raise TooLarge(f"{what} is {len(data)} bytes, over the limit of {limit}")
        digest = hashlib.sha256(data).hexdigest()
        if not self.path(digest).exists():
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
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise ControlPlaneError(f"stored file {sha256} is missing from the data folder {self.root}") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ChecksumMismatch(f"stored file {sha256} is corrupt (its content no longer matches its checksum)")
        return data


__all__ = ["BlobRef", "BlobStore", "ChecksumMismatch", "TooLarge"]
