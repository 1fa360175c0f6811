"""A metrics job's documents: the metrics as one JSON line (with ``report.html`` and plots beside
it) staged out of sight for the job's one commit, and the small document a PySpark-convention
model wrote itself, read back."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from typing import Any

from modelop_spark._redact import redacted_logger
from modelop_spark.assets import StagedOutput, read_asset
from modelop_spark.assets.base import WrittenAsset
from modelop_spark.assets.commit import (
    Publication,
    check_mode,
    commit_publications,
    plan_publication,
    remove_if_empty,
    split_parent,
    staging_path,
)
from modelop_spark.assets.filesystem import absolute_url, filesystem_for, is_local, local_path
from modelop_spark.assets.spec import AssetSpec, format_from_url
from modelop_spark.errors import SpecError
from modelop_spark.evaluation.report import EvaluationFiles
from modelop_spark.evaluation.user_metrics import jsonable
from modelop_spark.runtime.pyspark_outputs import ModelOutput

__all__ = ["check_document_output", "json_line", "read_model_document", "stage_document"]

log = redacted_logger(__name__)


def check_document_output(asset: AssetSpec) -> None:
    if asset.kind == "embedded":
        return
    if asset.kind != "file" or not asset.url:
        raise SpecError(f"output {asset.label}: a metrics job writes its JSON document to a file or embedded output")
    if asset.format not in (None, "json"):
        raise SpecError(f"output {asset.label}: a metrics job writes one JSON document; use format json, found {asset.format}")
    if asset.mode == "append":
        raise SpecError(f"output {asset.label}: a metrics document cannot be appended to; use mode overwrite")


def json_line(doc: dict[str, Any]) -> str:
    """The metrics document as one JSON object on one line, as ModelOp writes it and as
    ``pandas.read_json(lines=True)`` and Spark's JSON reader read it."""
    return json.dumps(doc, sort_keys=True, allow_nan=False) + "\n"


def _is_one_file(asset: AssetSpec, url: str) -> bool:
    """A ``.json`` URL, or an output whose job said its format (a ModelOp ``fileFormat``: its
    URL names a file even without an extension); any other URL is a folder."""
    return url.endswith(".json") or asset.single_file


def _report_location(url: str) -> str:
    """``.../metrics.json`` (or ``.../metrics``) -> ``.../metrics_report``: plots and report.html
    beside the document, named after it."""
    parent, name = split_parent(url)
    return f"{parent}/{name.removesuffix('.json')}_report"


def _put_report(fs: Any, folder: str, files: EvaluationFiles) -> dict[str, Any]:
    """report.html (self-contained) and, on a local filesystem, the PNGs under ``plots/``."""
    fs.write_text(f"{folder}/report.html", files.html.read_text(encoding="utf-8"))
    details: dict[str, Any] = {"report": f"{folder}/report.html"}
    if is_local(folder) and files.plots:
        target = local_path(f"{folder}/plots")
        target.mkdir(parents=True, exist_ok=True)
        for path in files.plots.values():
            shutil.copyfile(path, target / path.name)
        details["plots"] = {k: f"{folder}/plots/{p.name}" for k, p in files.plots.items()}
    return details


def stage_document(spark: Any, asset: AssetSpec, doc: dict[str, Any], files: EvaluationFiles | None, *, job_id: str) -> StagedOutput:
    """The document for one output: embedded in the job result, or a file staged for the job's
    one commit (with its report beside it when ``files`` are given)."""
    check_document_output(asset)
    if asset.kind == "embedded":
        return StagedOutput(written=WrittenAsset(name=asset.name, kind="embedded", location=None, format="json", records=[doc]))
    return _stage_file(spark, asset, json_line(doc), files, job_id=job_id)


def _stage_file(spark: Any, asset: AssetSpec, text: str, files: EvaluationFiles | None, *, job_id: str) -> StagedOutput:
    """The document (and its report) written out of sight; committed with the job's other outputs.

    A URL ending ``.json`` (or a ModelOp output with a ``fileFormat``) is that one file, with
    ``<stem>_report/`` beside it; any other URL is a folder holding ``metrics.json``,
    ``report.html`` and ``plots/``."""
    url = absolute_url(asset.url or "")
    fs = filesystem_for(url, spark)
    check_mode(fs, url, asset.mode, label=asset.label)
    staging = staging_path(url, job_id)
    single = _is_one_file(asset, url)
    report = _report_location(url) if single and files is not None else None
    report_staging = staging_path(report, job_id) if report else None
    for folder in (staging, report_staging):
        if folder:
            fs.delete(folder)
    details: dict[str, Any] = {}
    try:
        if single:
            fs.write_text(f"{staging}/{split_parent(url)[1]}", text)
            if report and report_staging and files is not None:
                details = _moved(_put_report(fs, report_staging, files), report_staging, report)
        else:
            fs.write_text(f"{staging}/metrics.json", text)
            if files is not None:
                details = _moved(_put_report(fs, staging, files), staging, url)
            details["document"] = f"{url.rstrip('/')}/metrics.json"
    except BaseException:
        _clean(fs, staging, report_staging)
        raise

    def prepare() -> tuple[Publication, ...]:
        """The report folder, then the document: one share of the job's one commit."""
        report_share = (plan_publication(fs, report_staging, report, mode="overwrite", job_id=job_id),) if report and report_staging else ()
        document = plan_publication(fs, staging, url, mode=asset.mode, job_id=job_id, single=single, label=asset.label,
                                    replace_foreign=asset.replace_foreign)
        return (*report_share, document)

    def abort() -> None:
        _clean(fs, staging, report_staging)

    def commit_alone() -> None:
        try:
            commit_publications(prepare(), job_id=job_id)
        finally:
            abort()

    written = WrittenAsset(name=asset.name, kind="file", location=asset.url, format="json", rows=1, details=details)
    return StagedOutput(written=written, commit=commit_alone, abort=abort, prepare=prepare)


def _moved(details: dict[str, Any], staging: str, target: str) -> dict[str, Any]:
    """Report paths as they will be once the staging folder is committed to ``target``."""
    return {k: (v.replace(staging, target) if isinstance(v, str) else {n: p.replace(staging, target) for n, p in v.items()})
            for k, v in details.items()}


def _clean(fs: Any, *stagings: str | None) -> None:
    for staging in stagings:
        if not staging:
            continue
        fs.delete(staging)
        remove_if_empty(fs, split_parent(staging)[0])  # the staging root, unless another job stages there


_READ_BACK_ROWS = 100  # a metrics document is a handful of rows; a bigger output is data, not metrics


def read_model_document(spark: Any, output: ModelOutput) -> dict[str, Any] | None:
    """A small JSON or CSV document a PySpark model wrote to ``output`` (one row: that row;
    several: ``{"results": [...]}``), or None when the output is not one (another format, more rows)."""
    assert output.target is not None
    fmt = str(output.asset.get("fileFormat") or format_from_url(output.target) or "").lower()
    if fmt not in ("json", "csv"):
        return None
    asset = AssetSpec(kind="file", name=output.asset.get("filename"), url=output.target, format=fmt)
    try:
        frame = read_asset(spark, asset)
        if frame.columns == ["_corrupt_record"]:  # one indented JSON document, not JSON lines
            frame = read_asset(spark, replace(asset, options={"multiLine": "true"}))
        rows = frame.limit(_READ_BACK_ROWS + 1).collect()
    except Exception:  # the model's own file: not being able to read it back does not fail its job
        log.warning("could not read the metrics the model wrote to %s", output.target, exc_info=True)
        return None
    if not rows or len(rows) > _READ_BACK_ROWS:
        return None
    documents = [jsonable(r.asDict(recursive=True)) for r in rows]
    return documents[0] if len(documents) == 1 else {"results": documents}
