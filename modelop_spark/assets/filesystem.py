"""The few file operations a commit needs, over local paths or Hadoop's FileSystem.

Local paths (and ``file://``) use ``os`` directly, which also works from a Spark Connect client on
the same machine. Other schemes (``hdfs://``, ``s3a://`` with S3A on the classpath, ...) go through
the JVM's Hadoop FileSystem of a classic session, the same code Spark's writers use.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from modelop_spark.assets.atomic_swap import exchange
from modelop_spark.errors import AssetError


def is_local(url: str) -> bool:
    scheme = urlparse(url).scheme
    return scheme in ("", "file") or (len(scheme) == 1)  # a Windows drive letter


def absolute_url(url: str) -> str:
    """Local paths made absolute from Python's working directory: Spark would resolve a relative
    path from the JVM's, which differs once the process has changed directory."""
    return str(local_path(url)) if is_local(url) else url


def local_path(url: str) -> Path:
    parsed = urlparse(url)
    return Path(parsed.path if parsed.scheme == "file" else url).expanduser().absolute()


class FileSystem(ABC):
    store = "local"  # which kind of store: a commit journal names it, so recovery uses the right one

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def rename(self, source: str, target: str) -> None: ...

    def exchange(self, first: str, second: str) -> bool:
        """Swap two existing paths in one atomic step, if this store can (False: it cannot,
        nothing changed, and the commit falls back to two renames with a window between them).
        A store with an atomic replace (HDFS's rename with OVERWRITE) plugs it in here."""
        return False

    def replace_file(self, source: str, destination: str, kept: str) -> bool:
        """Keep the file at ``destination`` also at ``kept``, then put ``source`` over it in one
        atomic step, if this store can (False: it cannot, nothing changed). A reader of
        ``destination`` finds the old file or the new one at every moment."""
        return False

    @abstractmethod
    def delete(self, path: str) -> None: ...

    @abstractmethod
    def list(self, path: str) -> list[str]:
        """Full paths of the entries directly under ``path``."""

    @abstractmethod
    def mkdirs(self, path: str) -> None: ...

    @abstractmethod
    def write_text(self, path: str, text: str) -> None: ...

    @abstractmethod
    def read_text(self, path: str) -> str: ...

    @abstractmethod
    def is_dir(self, path: str) -> bool: ...


class LocalFileSystem(FileSystem):
    def exists(self, path: str) -> bool:
        return local_path(path).exists()

    def rename(self, source: str, target: str) -> None:
        os.replace(local_path(source), local_path(target))

    def exchange(self, first: str, second: str) -> bool:
        return exchange(str(local_path(first)), str(local_path(second)))

    def replace_file(self, source: str, destination: str, kept: str) -> bool:
        try:
            os.link(local_path(destination), local_path(kept))  # a second name, not a copy
        except OSError:
            return False  # hard links refused (some FUSE stores): the two-step fallback
        os.replace(local_path(source), local_path(destination))
        return True

    def delete(self, path: str) -> None:
        target = local_path(path)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    def list(self, path: str) -> list[str]:
        return [str(p) for p in sorted(local_path(path).iterdir())]

    def mkdirs(self, path: str) -> None:
        local_path(path).mkdir(parents=True, exist_ok=True)

    def write_text(self, path: str, text: str) -> None:
        target = local_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(text)
        os.replace(temporary, target)

    def read_text(self, path: str) -> str:
        return local_path(path).read_text()

    def is_dir(self, path: str) -> bool:
        return local_path(path).is_dir()


class HadoopFileSystem(FileSystem):
    """Hadoop's FileSystem through py4j (classic sessions only)."""

    store = "hadoop"

    def __init__(self, spark: Any, url: str) -> None:
        jvm = spark._jvm
        self._jvm = jvm
        self._path = jvm.org.apache.hadoop.fs.Path
        self._fs = self._path(url).getFileSystem(spark._jsc.hadoopConfiguration())

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self._path(path)))

    def rename(self, source: str, target: str) -> None:
        if not self._fs.rename(self._path(source), self._path(target)):
            raise OSError(f"rename {source} -> {target} failed")

    def delete(self, path: str) -> None:
        self._fs.delete(self._path(path), True)

    def list(self, path: str) -> list[str]:
        return sorted(str(status.getPath().toString()) for status in self._fs.listStatus(self._path(path)))

    def mkdirs(self, path: str) -> None:
        self._fs.mkdirs(self._path(path))

    def write_text(self, path: str, text: str) -> None:
        stream = self._fs.create(self._path(path), True)
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()

    def read_text(self, path: str) -> str:
        stream = self._fs.open(self._path(path))
        reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
        try:
            lines = []
            while (line := reader.readLine()) is not None:
                lines.append(line)
            return "\n".join(lines)
        finally:
            reader.close()

    def is_dir(self, path: str) -> bool:
        return bool(self._fs.isDirectory(self._path(path)))


class ArrowFileSystem(FileSystem):
    """A pyarrow filesystem (S3 without Hadoop's connector); paths are ``bucket/key``. Object
    stores have no rename: a move copies then deletes, and a folder moves file by file."""

    store = "arrow"

    def __init__(self, fs: Any) -> None:
        import pyarrow.fs as pa_fs

        self._fs, self._pa = fs, pa_fs

    def _type(self, path: str) -> Any:
        return self._fs.get_file_info(path.rstrip("/")).type

    def exists(self, path: str) -> bool:
        return self._type(path) != self._pa.FileType.NotFound

    def is_dir(self, path: str) -> bool:
        return self._type(path) == self._pa.FileType.Directory

    def rename(self, source: str, target: str) -> None:
        if not self.is_dir(source):
            self._fs.move(source, target)
            return
        selector = self._pa.FileSelector(source.rstrip("/"), recursive=True)
        for info in self._fs.get_file_info(selector):
            if info.type == self._pa.FileType.File:
                self._fs.move(info.path, target.rstrip("/") + info.path[len(source.rstrip("/")) :])
        self.delete(source)

    def delete(self, path: str) -> None:
        kind = self._type(path)
        if kind == self._pa.FileType.Directory:
            self._fs.delete_dir(path.rstrip("/"))
        elif kind == self._pa.FileType.File:
            self._fs.delete_file(path)

    def list(self, path: str) -> list[str]:
        selector = self._pa.FileSelector(path.rstrip("/"), allow_not_found=True)
        return sorted(info.path for info in self._fs.get_file_info(selector))

    def mkdirs(self, path: str) -> None:
        self._fs.create_dir(path.rstrip("/"), recursive=True)

    def write_text(self, path: str, text: str) -> None:
        self._fs.create_dir(path.rsplit("/", 1)[0], recursive=True)  # on S3 at most an empty marker
        with self._fs.open_output_stream(path) as sink:
            sink.write(text.encode())

    def read_text(self, path: str) -> str:
        with self._fs.open_input_stream(path) as stream:
            return stream.read().decode()


def filesystem_for(url: str, spark: Any) -> FileSystem:
    if is_local(url):
        return LocalFileSystem()
    if getattr(spark, "_jvm", None) is None:
        raise AssetError(
            f"{url}: committing outputs on {urlparse(url).scheme}:// needs a classic Spark session "
            "(Spark Connect clients reach only local paths here)"
        )
    return HadoopFileSystem(spark, url)
