"""The control plane: its rooms (``services/``), built over the one store and wired together.

``ControlPlane`` holds no operation of its own; the HTTP routes, the Command Center pages and the
model life cycles call its rooms (``plane.jobs.create``, ``plane.dispatch.claim``...). It starts
and stops what runs beside the API: the sweeper, the notifier's webhook thread, on PostgreSQL the
listener for other processes' assignments (``wakeups.py``), and the ``companions`` (the
life-cycle runner).
"""

from __future__ import annotations

import time
from typing import Protocol

from modelop_spark.controlplane import leases
from modelop_spark.controlplane.blobs import BlobStore
from modelop_spark.controlplane.notifications import Notifier
from modelop_spark.controlplane.services.context import DEFAULT_LIMITS, Context, Limits
from modelop_spark.controlplane.services.dispatch import Dispatch
from modelop_spark.controlplane.services.jobs import Jobs
from modelop_spark.controlplane.services.models import Models
from modelop_spark.controlplane.services.notifications import Notifications
from modelop_spark.controlplane.services.runtimes import Runtimes
from modelop_spark.controlplane.services.snapshots import Snapshots
from modelop_spark.controlplane.services.sweeper import Sweeper
from modelop_spark.controlplane.store import Store
from modelop_spark.controlplane.wakeups import AssignmentListener


class Companion(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class ControlPlane:
    def __init__(self, store: Store, blobs: BlobStore, *, timing: leases.Timing, notifier: Notifier, limits: Limits = DEFAULT_LIMITS) -> None:
        self.context = Context(store=store, blobs=blobs, timing=timing, notifier=notifier, limits=limits)
        self.store, self.blobs, self.timing, self.notifier, self.limits = store, blobs, timing, notifier, limits
        self.started_at = time.time()
        self.models = Models(self.context)
        self.snapshots = Snapshots(self.context)
        self.dispatch = Dispatch(self.context)
        self.runtimes = Runtimes(self.context, self.dispatch)
        self.jobs = Jobs(self.context, self.snapshots, self.dispatch)
        self.notifications = Notifications(self.context)
        self.sweeper = Sweeper(self.context, self.dispatch)
        self.companions: list[Companion] = []  # started and stopped with the control plane
        # several processes on one PostgreSQL database: hear the assignments the others make
        self.listener = AssignmentListener(store.engine, self.context.wakeups, self.context.stopping) \
            if store.engine.dialect.name == "postgresql" else None

    def start(self) -> None:
        self.started_at = time.time()
        self.store.restart_grace(now=self.started_at, lease_until=self.started_at + self.timing.lease_seconds)
        self.notifier.start()
        self.context.stopping.clear()
        self.sweeper.start()
        if self.listener is not None:
            self.listener.start()
        for companion in self.companions:
            companion.start()

    def stop(self) -> None:
        for companion in self.companions:
            companion.stop()
        self.context.stopping.set()
        self.sweeper.join()
        if self.listener is not None:
            self.listener.join()
        self.notifier.stop()


__all__ = ["ControlPlane", "Limits"]
