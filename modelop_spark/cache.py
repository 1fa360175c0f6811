"""Where the runtime keeps what it unpacks or fetches on this machine: one folder, defined here.

``MODELOP_SPARK_CACHE`` moves it (default ``<tmp>/modelop_spark``). Each user of the cache has its
own subfolder: ``models`` (snapshots unpacked on executors), ``snapshots`` (extracted archives),
``fetched`` (remote snapshots), ``inline`` (ModelOp inline source), ``mlflow`` (wrapped MLflow
models), ``drafts`` (training drafts of a remote target).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CACHE_ENV = "MODELOP_SPARK_CACHE"

__all__ = ["CACHE_ENV", "cache_folder", "cache_root"]


def cache_root() -> Path:
    """The cache folder, read from the environment on every call (tests and jobs may move it)."""
    return Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "modelop_spark")


def cache_folder(kind: str) -> Path:
    """One user's subfolder of the cache (not created here)."""
    return cache_root() / kind
