"""Cron-style schedules that start a process (the re-train) with new labeled data.

``schedules.toml`` in the processes folder::

    [[schedule]]
    name = "nightly-fraud-retrain"
    process = "retrain"
    model = "cc-fraud"
    cron = "0 2 * * *"                           # croniter: 5 fields, or 6 with seconds last
    data = "s3://fraud/labeled/latest.parquet"   # the labeled data the training job reads

``due`` is pure: the latest fire time in ``(after, now]``, or None. The runner fires a schedule
at most once per due time and never for a time before the control plane started (a run missed
while it was down is not made up).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from croniter import croniter

from modelop_spark.errors import SpecError

FILE_NAME = "schedules.toml"


@dataclass(frozen=True)
class Schedule:
    name: str
    process: str
    model: str
    cron: str
    data: str | None = None


def load(path: Path, *, processes: set[str]) -> list[Schedule]:
    """The schedules of ``path`` (none when it does not exist); a bad entry is one SpecError."""
    if not path.is_file():
        return []
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from exc
    found: list[Schedule] = []
    for index, entry in enumerate(document.get("schedule", [])):
        where = f"schedule[{index}] in {path}"
        missing = [k for k in ("name", "process", "model", "cron") if not entry.get(k)]
        if missing:
            raise SpecError(f"{where} needs {', '.join(missing)}")
        if entry["process"] not in processes:
            raise SpecError(f"{where}: no process {entry['process']!r}; deployed: {', '.join(sorted(processes)) or 'none'}")
        if not croniter.is_valid(entry["cron"]):
            raise SpecError(f"{where}: cron {entry['cron']!r} is not a cron expression (minute hour day month weekday [second])")
        data = entry.get("data")
        if data is not None and "://" not in str(data):
            raise SpecError(f"{where}: data {data!r} must be a URL the runtimes read (file://, s3://, hdfs://)")
        found.append(Schedule(entry["name"], entry["process"], entry["model"], entry["cron"], data))
    names = [s.name for s in found]
    if len(set(names)) != len(names):
        raise SpecError(f"{path}: schedule names must be unique")
    return found


def due(cron: str, *, after: float, now: float) -> float | None:
    """The latest time ``cron`` fires in ``(after, now]``, or None."""
    latest = croniter(cron, now + 0.000001).get_prev(float)
    return latest if after < latest <= now else None


__all__ = ["FILE_NAME", "Schedule", "due", "load"]
