"""Wake-ups instead of polling: a runtime's long poll sleeps until a job is assigned to it.

``Wakeups`` is in process: the assignment pass that queues jobs to a runtime wakes every claim
waiting for it here, from whatever thread it runs in. With several control-plane processes on
one PostgreSQL database, the pass also sends ``NOTIFY`` (``Store.apply_assignments``) and each
process's ``AssignmentListener`` turns it into the same wake-up, so a claim waiting on one
process wakes when another assigned the job. A long poll still looks again after
``SAFETY_POLL_SECONDS``, in case a notification was lost (a listener reconnecting).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg

from modelop_spark._redact import redacted_logger
from modelop_spark.controlplane.store import ASSIGNED_CHANNEL

log = redacted_logger("modelop_spark.controlplane")

# A waiting claim looks again this often even without a wake-up: longer than the default long poll
# (20 s), so an idle runtime costs the database one read per long poll; every new long poll looks.
SAFETY_POLL_SECONDS = 30.0


class Wakeups:
    """Who waits for which runtime's jobs: an asyncio event per waiting claim."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    @contextlib.contextmanager
    def waiting_for(self, runtime_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever a job is assigned to ``runtime_id``, for the length of a claim.
        Registered before the claim first looks, so a job assigned in between is not missed."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.setdefault(runtime_id, set()).add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                waiting = self._waiting.get(runtime_id, set())
                waiting.discard(entry)
                if not waiting:
                    self._waiting.pop(runtime_id, None)

    def wake(self, runtime_id: str) -> None:
        """Wake every claim waiting for ``runtime_id`` (safe from any thread)."""
        with self._lock:
            waiting = list(self._waiting.get(runtime_id, ()))
        for loop, event in waiting:
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(event.set)

    def waiting_runtimes(self) -> int:
        with self._lock:
            return len(self._waiting)


async def sleep_until_woken(event: asyncio.Event, seconds: float) -> None:
    """Until ``event`` is set or ``seconds`` pass; the event is cleared for the next wait."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=max(seconds, 0.0))
    event.clear()


class AssignmentListener:
    """PostgreSQL only: ``LISTEN`` for the assignments other processes make and wake the claims
    waiting here. Reconnects after a lost connection; the safety poll covers the gap."""

    def __init__(self, engine: Any, wakeups: Wakeups, stopping: threading.Event) -> None:
        self._url = engine.url.set(drivername="postgresql")
        self._wakeups = wakeups
        self._stopping = stopping
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._listen_forever, name="assignment-listener", daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _listen_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url.render_as_string(hide_password=False), autocommit=True) as connection:
                    connection.execute(f"LISTEN {ASSIGNED_CHANNEL}")
                    while not self._stopping.is_set():
                        for notice in connection.notifies(timeout=1.0):
                            self._wakeups.wake(notice.payload)
            except Exception as exc:  # the database restarting: listen again; the connection string is never logged
                log.warning("assignment listener: %s; listening again", type(exc).__name__)
                self._stopping.wait(1.0)


__all__ = ["SAFETY_POLL_SECONDS", "AssignmentListener", "Wakeups", "sleep_until_woken"]
