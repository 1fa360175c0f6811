"""JobResult: what a job did, as JSON, returned to the caller and written beside file outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from modelop_spark.assets.base import WrittenAsset

Status = Literal["COMPLETE", "ERROR"]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RowCounts:
    """rows_in = rows_scored + rows_rejected, always. ``rows_out`` counts outputs (a record
    function may yield 0..n per input); ``rejected_by_stage`` splits rows_rejected."""

    rows_in: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    rows_out: int = 0
    rejected_by_stage: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rows_in != self.rows_scored + self.rows_rejected:
            raise AssertionError(f"row accounting broken: {self.rows_in} in != {self.rows_scored} scored + {self.rows_rejected} rejected")

    def to_dict(self) -> dict[str, Any]:
        return {
            "in": self.rows_in,
            "scored": self.rows_scored,
            "rejected": self.rows_rejected,
            "out": self.rows_out,
            "rejected_by_stage": dict(self.rejected_by_stage),
        }


@dataclass(frozen=True)
class Outcome:
    """What a runner (scoring, metrics, training) hands back to ``run_job``."""

    rows: RowCounts
    outputs: tuple[WrittenAsset, ...] = ()
    rejected_output: WrittenAsset | None = None
    metrics: Mapping[str, Any] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobResult:
    job_id: str
    job_type: str
    status: Status
    started_at: str
    ended_at: str
    snapshot: Mapping[str, Any] | None = None
    rows: RowCounts | None = None
    outputs: tuple[WrittenAsset, ...] = ()
    rejected_output: WrittenAsset | None = None
    metrics: Mapping[str, Any] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    error: Mapping[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETE"

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job_id": self.job_id,
            "job_type": self.job_type,
            "status": self.status,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "snapshot": dict(self.snapshot) if self.snapshot else None,
            "rows": self.rows.to_dict() if self.rows else None,
            "outputs": [o.to_dict() for o in self.outputs],
            "rejected_output": self.rejected_output.to_dict() if self.rejected_output else None,
        }
        if self.metrics is not None:
            out["metrics"] = dict(self.metrics)
        if self.details:
            out["details"] = dict(self.details)
        out["error"] = dict(self.error) if self.error else None
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def summary(self) -> str:
        """A few lines for a terminal."""
        name = f"{self.snapshot.get('name')} {self.snapshot.get('version') or ''}".strip() if self.snapshot else "?"
        lines = [f"job {self.job_id} ({self.job_type}, snapshot {name}): {self.status}"]
        if self.rows:
            r = self.rows
            lines.append(f"  rows in {r.rows_in}, scored {r.rows_scored}, rejected {r.rows_rejected}, outputs {r.rows_out}")
        for output in self.outputs:
            where = output.location or f"embedded, {len(output.records or [])} records"
            lines.append(f"  output {output.name or ''} -> {where}".replace("  output  ->", "  output ->"))
        if self.rejected_output:
            lines.append(f"  rejected rows -> {self.rejected_output.location or 'embedded in the result'}")
        if self.error:
            lines.append(f"  error {self.error.get('code')}: {self.error.get('message')}")
        return "\n".join(lines)
