"""The sweeper: on a timer, runtimes silent too long go DOWN (their unclaimed jobs back to the
queue), jobs whose lease expired are queued again (or cancelled, when asked), then dispatch;
now and then, idempotency keys past their retry window are forgotten."""

from __future__ import annotations

import threading
import time
from typing import Any

from modelop_spark._redact import redacted_logger
from modelop_spark.controlplane import leases
from modelop_spark.controlplane.job_timeouts import end_overdue_jobs
from modelop_spark.controlplane.notifications import Kind
from modelop_spark.controlplane.services import idempotency
from modelop_spark.controlplane.services.context import Context
from modelop_spark.controlplane.services.dispatch import Dispatch
from modelop_spark.controlplane.states import RuntimeStatus

log = redacted_logger("modelop_spark.controlplane")

FORGET_KEYS_EVERY = 600.0  # seconds between two clean-ups of old idempotency keys


class Sweeper:
    def __init__(self, context: Context, dispatch: Dispatch) -> None:
        self.context = context
        self.store = context.store
        self.dispatch = dispatch
        self._thread: threading.Thread | None = None
        self._forget_keys_at = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._sweep_forever, name="sweeper", daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _sweep_forever(self) -> None:
        interval = max(min(self.context.timing.heartbeat_interval / 2, 5.0), 0.2)
        while not self.context.stopping.wait(interval):
            try:
                self.sweep(time.time())
            except Exception:  # the database may be briefly unreachable; try again next tick
                log.warning("sweep failed", exc_info=True)

    def sweep(self, now: float) -> None:
        for runtime in self.store.list_runtimes():
            self._down_if_silent(runtime, now)
        for job in self.store.expired_leases(now):
            if job["cancel_requested"]:
                self.store.cancel_expired(job, now=now)
            elif self.store.requeue_expired(job, now=now):
                self.store.append_logs(job["id"], attempt=job["attempt"], now=now,
                                       lines=[f"control plane: the lease of attempt {job['attempt']} expired (its runtime stopped reporting); the job is queued again"])
        end_overdue_jobs(self.store, self.context.blobs.read, now)
        self.dispatch.assign(now)
        if now >= self._forget_keys_at:
            self.store.forget_keys(older_than=now - idempotency.KEEP_SECONDS)
            self._forget_keys_at = now + FORGET_KEYS_EVERY

    def _down_if_silent(self, runtime: dict[str, Any], now: float) -> None:
        timing = self.context.timing
        silent = runtime["status"] == RuntimeStatus.UP and leases.is_down(runtime["last_heartbeat"], now, timing)
        if silent and self.store.mark_down(runtime["id"], silent_since=now - timing.down_after):
            released = self.store.release_unclaimed(runtime["id"], now=now)
            self.context.notifier.notify(
                Kind.RUNTIME_DOWN,
                f"runtime {runtime['name']} is DOWN: no heartbeat for {timing.down_after:g}s"
                + (f"; {released} queued job(s) go to other runtimes" if released else ""),
                runtime_id=runtime["id"],
            )


__all__ = ["Sweeper"]
