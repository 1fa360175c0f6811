"""What the pages show, computed from API resources: plain functions, no I/O but a temp folder
for plots."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

from modelop_spark.evaluation.plots import write_plots
from modelop_spark.evaluation.report import render_html

PAGE_SIZE = 20
REJECTED_SAMPLE = 20
TEXT_FILTERS = ("status", "type", "model", "stage", "runtime")


def progress_percent(job: dict[str, Any]) -> int | None:
    progress = job.get("progress") or {}
    if job.get("status") == "COMPLETE":
        return 100
    total = progress.get("tasks_total")
    if not total:
        return None
    return max(0, min(100, int(100 * (progress.get("tasks_done") or 0) / total)))


def filters_of(params: dict[str, str]) -> dict[str, str]:
    return {k: params[k].strip() for k in TEXT_FILTERS if params.get(k, "").strip()}


def page_of(params: dict[str, str]) -> int:
    try:
        return max(int(params.get("page") or 1), 1)
    except ValueError:
        return 1


def plots(doc: dict[str, Any] | None) -> dict[str, str]:
    """The evaluation plots of a metrics document as ``name -> data:image/png;base64,...``
    (drawn by the same code that writes them beside a file output)."""
    if not isinstance(doc, dict) or "format_version" not in doc:
        return {}
    with tempfile.TemporaryDirectory(prefix="ui-plots-") as folder:
        written = write_plots(doc, folder)
        return {name: "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii") for name, path in written.items()}


def report_html(doc: dict[str, Any], *, title: str) -> str:
    with tempfile.TemporaryDirectory(prefix="ui-report-") as folder:
        written = write_plots(doc, Path(folder)) if "format_version" in doc else {}
        return render_html(doc, written, title=title)


def rejected_sample(result: dict[str, Any]) -> list[dict[str, Any]]:
    rejected = result.get("rejected_output") or {}
    return list(rejected.get("records") or [])[:REJECTED_SAMPLE]


def lineage(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
    """Parent, training job and data of a snapshot, from its manifest's ``lineage``."""
    found = (snapshot.get("manifest") or {}).get("lineage") or {}
    rows = [(str(k).replace("_", " "), v if isinstance(v, str) else _short(v)) for k, v in found.items()] if isinstance(found, dict) else []
    if snapshot.get("parent_id") and not any(k == "parent" for k, _ in rows):
        rows.insert(0, ("parent", str(snapshot["parent_id"])))
    description = snapshot.get("description") or ""
    trained_by = snapshot.get("trained_by_job") or (description.removeprefix("trained by job ") if description.startswith("trained by job ") else None)
    if trained_by and not any(k == "training job" for k, _ in rows):
        rows.append(("training job", str(trained_by)))
    test_data = snapshot.get("test_data") or {}
    if isinstance(test_data, dict) and (test_data.get("url") or test_data.get("path")):
        rows.append(("test data", str(test_data.get("url") or test_data.get("path"))))
    return rows


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


__all__ = ["PAGE_SIZE", "filters_of", "lineage", "page_of", "plots", "progress_percent", "rejected_sample", "report_html"]
