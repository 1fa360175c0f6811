"""Which runtime runs a job: pure rules over plain values, no database.

A runtime matches a job when it is of type "Apache Spark", UP, and either is the runtime the job
names, or carries the job's stage tag and at least one of the snapshot's service tags. Among the
matches with a free slot, the least loaded (running + assigned jobs, relative to capacity) wins;
ties go to the runtime that has waited longest (then by name, so the choice is stable).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from modelop_spark.controlplane.states import RuntimeStatus

SPARK_RUNTIME_TYPE = "Apache Spark"


@dataclass(frozen=True)
class RuntimeView:
    """What matching needs to know about a runtime."""

    id: str
    name: str
    status: RuntimeStatus | str
    stage_tags: frozenset[str] = frozenset()
    service_tags: frozenset[str] = frozenset()
    capacity: int = 1
    load: int = 0
    type: str = SPARK_RUNTIME_TYPE
    last_assigned_at: float = 0.0

    @property
    def tags(self) -> frozenset[str]:
        return self.stage_tags | self.service_tags

    @cached_property
    def normal_stage_tags(self) -> frozenset[str]:
        return normalise_tags(self.stage_tags)

    @cached_property
    def normal_service_tags(self) -> frozenset[str]:
        return normalise_tags(self.service_tags)

    @property
    def free_slots(self) -> int:
        return max(self.capacity - self.load, 0)


@dataclass(frozen=True)
class JobNeeds:
    """What a job asks of a runtime."""

    stage: str | None = None
    service_tags: frozenset[str] = frozenset()
    runtime_name: str | None = None

    def describe(self) -> str:
        if self.runtime_name:
            return f"the runtime named {self.runtime_name!r}"
        wanted = []
        if self.stage:
            wanted.append(f"stage tag {self.stage}")
        if self.service_tags:
            wanted.append("one of the service tags " + ", ".join(sorted(self.service_tags)))
        return "an UP \"Apache Spark\" runtime with " + (" and ".join(wanted) or "any tags")


@dataclass(frozen=True)
class Assigned:
    runtime: RuntimeView


@dataclass(frozen=True)
class Busy:
    """Matching runtimes exist but have no free slot: the job waits quietly for one."""

    runtimes: tuple[str, ...]


@dataclass(frozen=True)
class NoMatch:
    """No UP runtime carries what the job needs; ``missing`` says what to register or tag."""

    needs: JobNeeds
    missing: tuple[str, ...] = field(default_factory=tuple)

    def message(self, *job_ids: str, shown: int = 5) -> str:
        """What the waiting jobs (one or many: one notification per missing match) need."""
        missing = f" (missing: {', '.join(self.missing)})" if self.missing else ""
        if len(job_ids) == 1:
            return f"job {job_ids[0]} is WAITING: no runtime matches; it needs {self.needs.describe()}{missing}"
        more = f" and {len(job_ids) - shown} more" if len(job_ids) > shown else ""
        listed = ", ".join(job_ids[:shown]) + more
        return f"{len(job_ids)} jobs are WAITING ({listed}): no runtime matches; they need {self.needs.describe()}{missing}"


Decision = Assigned | Busy | NoMatch


def normalise_tags(tags: Iterable[str]) -> frozenset[str]:
    """Tags compare without regard to case or surrounding space (``dev`` is ``DEV``)."""
    return frozenset(t.strip().upper() for t in tags if t and t.strip())


def matches(runtime: RuntimeView, needs: JobNeeds) -> bool:
    if runtime.type != SPARK_RUNTIME_TYPE or RuntimeStatus(runtime.status) is not RuntimeStatus.UP:
        return False
    if needs.runtime_name:
        return runtime.name == needs.runtime_name
    if needs.stage and needs.stage.upper() not in runtime.normal_stage_tags:
        return False
    return not needs.service_tags or bool(normalise_tags(needs.service_tags) & runtime.normal_service_tags)


def _missing(needs: JobNeeds, runtimes: Iterable[RuntimeView]) -> tuple[str, ...]:
    """What no UP runtime offers: the named runtime, the stage, or the service tags."""
    up = [r for r in runtimes if r.type == SPARK_RUNTIME_TYPE and RuntimeStatus(r.status) is RuntimeStatus.UP]
    if needs.runtime_name:
        return (f"runtime {needs.runtime_name} (not registered or DOWN)",)
    missing = []
    stage_ok = [r for r in up if not needs.stage or needs.stage.upper() in r.normal_stage_tags]
    if needs.stage and not stage_ok:
        missing.append(f"stage tag {needs.stage.upper()}")
    if needs.service_tags:
        offered = set().union(*(r.normal_service_tags for r in stage_ok)) if stage_ok else set()
        if not normalise_tags(needs.service_tags) & offered:
            where = f" on a {needs.stage.upper()} runtime" if needs.stage and stage_ok else ""
            missing.append("service tag " + " or ".join(sorted(needs.service_tags)) + where)
    return tuple(missing)


def choose_runtime(needs: JobNeeds, runtimes: Sequence[RuntimeView]) -> Decision:
    return choose_among(needs, [r for r in runtimes if matches(r, needs)], runtimes)


def choose_among(needs: JobNeeds, candidates: Sequence[RuntimeView], runtimes: Iterable[RuntimeView]) -> Decision:
    """The decision over the runtimes that match (``candidates``, as ``matches`` found them)."""
    if not candidates:
        return NoMatch(needs, _missing(needs, runtimes))
    free = [r for r in candidates if r.free_slots > 0]
    if not free:
        return Busy(tuple(sorted(r.name for r in candidates)))
    return Assigned(min(free, key=lambda r: (r.load / max(r.capacity, 1), r.load, r.last_assigned_at, r.name)))


__all__ = [
    "SPARK_RUNTIME_TYPE",
    "Assigned",
    "Busy",
    "Decision",
    "JobNeeds",
    "NoMatch",
    "RuntimeView",
    "choose_among",
    "choose_runtime",
    "matches",
    "normalise_tags",
]
