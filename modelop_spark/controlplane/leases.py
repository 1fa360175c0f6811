"""Lease and liveness rules: pure functions of times in seconds (``time.time()``), no database.

A runtime that claims a job holds a lease on it until ``expires_at``; its heartbeats renew the
lease. Only when the lease has expired may the job be queued again for another runtime, so a job
is never run by two runtimes at once while its first runtime is alive and reporting. Results carry
the attempt number of the claim: a result from an attempt that is not the job's current one is
refused, and the same result delivered twice is accepted once.

Time only counts while a control plane is up: after a restart, leases and heartbeat clocks start
again from the restart, since no runtime could renew anything while nobody answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Timing:
    """The control plane's clocks; runtimes are told these when they register."""

    heartbeat_interval: float = 10.0
    missed_heartbeats: int = 3  # a runtime silent this many intervals is DOWN
    lease_seconds: float = 60.0
    long_poll_seconds: float = 20.0

    def __post_init__(self) -> None:
        if self.heartbeat_interval <= 0 or self.lease_seconds <= 0 or self.missed_heartbeats < 1:
            raise ValueError("heartbeat interval and lease must be positive, missed heartbeats at least 1")
        if self.lease_seconds < 2 * self.heartbeat_interval:
            raise ValueError(
                f"lease ({self.lease_seconds}s) must cover at least two heartbeats "
                f"({self.heartbeat_interval}s each), or a live runtime would lose its jobs"
            )

    @property
    def down_after(self) -> float:
        return self.heartbeat_interval * self.missed_heartbeats

    def to_dict(self) -> dict[str, float]:
        return {
            "heartbeat_interval": self.heartbeat_interval,
            "missed_heartbeats": self.missed_heartbeats,
            "lease_seconds": self.lease_seconds,
            "long_poll_seconds": self.long_poll_seconds,
        }


def lease_expired(expires_at: float | None, now: float) -> bool:
    return expires_at is not None and now >= expires_at


def renewed_until(now: float, timing: Timing) -> float:
    return now + timing.lease_seconds


def is_down(last_heartbeat: float, now: float, timing: Timing) -> bool:
    return now - last_heartbeat > timing.down_after


def lease_after_restart(expires_at: float, started_at: float, timing: Timing) -> float:
    """A running job's lease seen by a control plane that just started: a full lease from the
    start, since its runtime could not renew while nobody answered."""
    return max(expires_at, started_at + timing.lease_seconds)


class ResultDecision(StrEnum):
    """What to do with a result a runtime delivers.

    ``accept``: the job is this runtime's current attempt and still running;
    ``duplicate``: the job already finished from this very attempt (a retried delivery);
    ``stale``: another attempt owns the job now (this runtime's lease expired and it moved).
    """

    ACCEPT = "accept"
    DUPLICATE = "duplicate"
    STALE = "stale"


def result_decision(*, current_attempt: int, owner: str | None, finished: bool, attempt: int, runtime_id: str) -> ResultDecision:
    same_claim = attempt == current_attempt and owner == runtime_id
    if not same_claim:
        return ResultDecision.STALE
    return ResultDecision.DUPLICATE if finished else ResultDecision.ACCEPT


__all__ = ["ResultDecision", "Timing", "is_down", "lease_after_restart", "lease_expired", "renewed_until", "result_decision"]
