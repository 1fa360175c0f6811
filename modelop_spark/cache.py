"""Where the runtime keeps what it unpacks or fetches on this machine: one folder, defined here.

``MODELOP_SPARK_CACHE`` moves it (default ``<tmp>/modelop-spark-cache``). Each user of the cache
has its own subfolder: ``models`` (snapshots unpacked on executors), ``snapshots`` (extracted
archives), ``fetched`` (remote snapshots), ``inline`` (ModelOp inline source), ``mlflow``
(wrapped MLflow models), ``drafts`` (training drafts of a remote target).

The default name has a hyphen so that no import can take it: a folder named like the package
(the old ``<tmp>/modelop_spark``) in the directory a script runs from is imported as an empty
namespace package in its place (``module 'modelop_spark' has no attribute 'score'``). A cache
left at the old place is moved to the new one the first time the cache is asked for.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

CACHE_ENV = "MODELOP_SPARK_CACHE"
DEFAULT_NAME = "modelop-spark-cache"
_OLD_NAME = "modelop_spark"  # before 0.2: shadowed the package for scripts run from <tmp>

__all__ = ["CACHE_ENV", "DEFAULT_NAME", "cache_folder", "cache_root"]


def _moved_from_old_place(tmp: Path) -> Path:
    """The default cache, with what an older runtime left at ``<tmp>/modelop_spark`` moved into
    it (one rename; if another process moves it first, or the rename fails, the old folder is
    left for its owner and the new one starts empty)."""
    new, old = tmp / DEFAULT_NAME, tmp / _OLD_NAME
    if old.is_dir() and not (old / "__init__.py").exists() and not new.exists():
        with contextlib.suppress(OSError):
            old.rename(new)
    return new


def cache_root() -> Path:
    """The cache folder, read from the environment on every call (tests and jobs may move it)."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else _moved_from_old_place(Path(tempfile.gettempdir()))


def cache_folder(kind: str) -> Path:
    """One user's subfolder of the cache (not created here)."""
    return cache_root() / kind
