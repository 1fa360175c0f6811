"""Finished results waiting to be delivered, kept on disk until the control plane has them.

A job's final report is written here before the first delivery attempt, so a control plane that
is down (or an agent that restarts) loses nothing: the next delivery sends it, and the control
plane accepts a repeated delivery once. An entry leaves the outbox only when the control plane
has answered for it (accepted, a duplicate, or stale because the job moved on).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class Outbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.json"

    def put(self, job_id: str, report: dict[str, Any]) -> None:
        fd, name = tempfile.mkstemp(dir=self.folder, prefix=".writing-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(report, handle, default=str)
        os.replace(name, self._path(job_id))

    def pending(self) -> list[tuple[str, dict[str, Any]]]:
        """The results not yet delivered, oldest first. The job's own thread delivers and removes
        its result while a heartbeat may be listing them: a file gone meanwhile is skipped."""
        entries = []
        for path in self.folder.glob("*.json"):
            try:
                entries.append((path.stat().st_mtime, path.stem, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, json.JSONDecodeError):
                continue  # removed meanwhile, or being replaced
        return [(job_id, report) for _, job_id, report in sorted(entries, key=lambda entry: entry[0])]

    def remove(self, job_id: str) -> None:
        self._path(job_id).unlink(missing_ok=True)


__all__ = ["Outbox"]
