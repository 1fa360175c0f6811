"""What every room shares: the one store, the blob store, the clocks, the notifier and limits."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from modelop_spark.controlplane.blobs import BlobStore
from modelop_spark.controlplane.leases import Timing
from modelop_spark.controlplane.notifications import Notifier
from modelop_spark.controlplane.store import Store
from modelop_spark.controlplane.wakeups import Wakeups

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_snapshot_bytes: int = 512 * MB
    max_job_bytes: int = 64 * MB  # a job document with its embedded input
    max_result_bytes: int = 64 * MB


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Context:
    store: Store
    blobs: BlobStore
    timing: Timing
    notifier: Notifier
    limits: Limits = DEFAULT_LIMITS
    stopping: threading.Event = field(default_factory=threading.Event)  # set while the control plane stops
    wakeups: Wakeups = field(default_factory=Wakeups)  # the claims waiting in this process, woken by assignments


__all__ = ["DEFAULT_LIMITS", "MB", "Context", "Limits"]
