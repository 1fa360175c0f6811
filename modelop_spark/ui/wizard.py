"""The Create Batch Job wizard's rules, as plain functions: which steps there are, what each
step's fields must hold, and the job request the finished draft becomes.

Each check returns ``{field: message}`` (empty when the step is fine), so the page shows each
message next to its field and nothing is submitted until every step is clean. The request built
at the end is the control plane's ``POST /jobs`` body, the same one ``moc job create`` sends.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from modelop_spark.errors import ModelOpSparkError

MB = 1024 * 1024  # as the control plane's --max-job-mb counts
STEPS: tuple[str, ...] = ("model", "snapshot", "runtime", "type", "schemas", "inputs", "outputs", "review")
STEP_TITLES = {
    "model": "Model", "snapshot": "Snapshot", "runtime": "Runtime", "type": "Job type", "schemas": "Schemas",
    "inputs": "Input", "outputs": "Output", "review": "Review",
}
STAGES: tuple[str, ...] = ("DEV", "SIT", "UAT", "PROD")
JOB_TYPES = {"batchjob": "Scoring", "testjob": "Metrics", "trainingjob": "Training"}
INPUT_SCHEMES = ("s3", "s3a", "hdfs", "file")
UPLOAD_FORMATS = (".csv", ".json", ".jsonl", ".ndjson", ".parquet")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def next_step(step: str) -> str:
    return STEPS[min(STEPS.index(step) + 1, len(STEPS) - 1)]


def previous_step(step: str) -> str:
    return STEPS[max(STEPS.index(step) - 1, 0)]


# -- field checks -------------------------------------------------------------------------------

def check_location(url: str, *, field: str) -> dict[str, str]:
    """An S3, HDFS or file URL with somewhere to point at."""
    url = url.strip()
    if not url:
        return {field: "give a location: s3://bucket/path, hdfs://namenode:8020/path or file:///absolute/path"}
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in INPUT_SCHEMES:
        return {field: f"{url!r} is not an S3, HDFS or file URL; it must start with s3://, hdfs:// or file://"}
    if scheme in ("s3", "s3a"):
        bucket, key = parts.netloc, parts.path.strip("/")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket or ""):
            return {field: f"{url!r}: {bucket or '(empty)'} is not a valid S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)"}
        if not key:
            return {field: f"{url!r} names a bucket but no object; add the key: s3://{bucket}/path/data.csv"}
    if scheme in ("hdfs", "file") and not parts.path.strip("/"):
        return {field: f"{url!r} has no path; for example {scheme}://{'namenode:8020' if scheme == 'hdfs' else ''}/data/input.csv"}
    return {}


def check_sql(query: str, *, field: str) -> dict[str, str]:
    """One read-only Spark SQL query (the runtime refuses anything else too)."""
    from modelop_spark.assets.sql import check_read_only

    try:
        check_read_only(query, dialect="spark", where="SQL statement")
    except ModelOpSparkError as exc:
        return {field: exc.message}
    return {}


def check_table(name: str, *, field: str) -> dict[str, str]:
    if not _TABLE.fullmatch(name.strip()):
        return {field: f"{name!r} is not a table name; use letters, digits and _ (database.table allowed)"}
    return {}


def check_output_name(name: str, *, field: str) -> dict[str, str]:
    if not _OUTPUT_NAME.fullmatch(name.strip()):
        return {field: "name the embedded output with letters, digits, '.', '_' or '-' (e.g. scores.json)"}
    return {}


def read_upload(filename: str, data: bytes, *, limit: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Records from an uploaded data file, or ``{"input_file": message}``."""
    from modelop_spark.moc.assets import read_records

    field = "input_file"
    if not filename:
        return [], {field: "choose a data file to upload (.csv, .json, .jsonl or .parquet)"}
    if len(data) > limit:
        return [], {field: f"{filename} is {len(data) / MB:.1f} MB; uploads are limited to {limit / MB:.1f} MB: put larger data on S3 or HDFS and give its URL"}
    if not filename.lower().endswith(UPLOAD_FORMATS):
        return [], {field: f"{filename}: unknown data format; upload a .csv, .json, .jsonl or .parquet file"}
    if not data.strip():
        return [], {field: f"{filename} is empty"}
    with tempfile.TemporaryDirectory(prefix="upload-") as folder:
        path = Path(folder) / Path(filename).name
        path.write_bytes(data)
        try:
            records = read_records(path)
        except ModelOpSparkError as exc:
            return [], {field: exc.message.replace(str(path), filename)}
        except Exception as exc:  # a broken CSV/Parquet file: pyarrow's own words
            return [], {field: f"{filename} could not be read: {str(exc).splitlines()[0][:200]}"}
    if not records:
        return [], {field: f"{filename} holds no records"}
    return records, {}


def snapshot_has_schemas(snapshot: Mapping[str, Any], archive: bytes | None) -> bool:
    """Whether a snapshot names input/output schemas: in its manifest, or by smart tags
    (``# modelop.schema.0: input.avsc``) in a source file of its archive."""
    if (snapshot.get("manifest") or {}).get("schemas"):
        return True
    if not archive:
        return False
    tag = re.compile(rb"#\s*modelop\.schema\.\d+\s*:")
    name = ((snapshot.get("archive") or {}).get("name") or "").lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
                return any(tag.search(bundle.read(n)) for n in bundle.namelist() if n.endswith(".py"))
        with tarfile.open(fileobj=io.BytesIO(archive)) as bundle:
            for member in bundle.getmembers():
                if member.isfile() and member.name.endswith(".py"):
                    handle = bundle.extractfile(member)
                    if handle is not None and tag.search(handle.read()):
                        return True
    except (zipfile.BadZipFile, tarfile.TarError, EOFError):
        return False
    return False


# -- the steps ----------------------------------------------------------------------------------

def check_step(step: str, draft: Mapping[str, Any], *, snapshot_ids: AbstractSet[str] = frozenset(), runtimes: AbstractSet[str] = frozenset(),
               models: AbstractSet[str] = frozenset(), has_schemas: bool = True) -> dict[str, str]:
    """The errors of one step's fields, against what the control plane knows."""
    get = lambda key: str(draft.get(key) or "").strip()  # noqa: E731
    if step == "model":
        return {} if get("model") in models else {"model": "choose one of the registered models"}
    if step == "snapshot":
        return {} if get("snapshot") in snapshot_ids else {"snapshot": "choose a snapshot (version) of this model"}
    if step == "runtime":
        if get("runtime_choice") == "named":
            return {} if get("runtime") in runtimes else {"runtime": "choose one of the runtimes, or let matching decide"}
        if get("stage") and get("stage") not in STAGES:
            return {"stage": f"choose one of {', '.join(STAGES)} or any stage"}
        return {}
    if step == "type":
        return {} if get("job_type") in JOB_TYPES else {"job_type": "choose Scoring, Metrics or Training"}
    if step == "schemas":
        if draft.get("schema_check") and not has_schemas:
            return {"schema_check": "this snapshot has no input or output schema (none in snapshot.json, no '# modelop.schema.0:' tag); turn schema checking off or add schemas to the snapshot"}
        return {}
    if step == "inputs":
        kind = get("input_kind")
        if kind == "upload":
            return {} if draft.get("input_records") else {"input_file": "choose a data file to upload (.csv, .json, .jsonl or .parquet)"}
        if kind == "url":
            return check_location(get("input_url"), field="input_url")
        if kind == "sql":
            return check_sql(get("input_sql"), field="input_sql")
        return {"input_kind": "choose where the input comes from: an upload, an S3/HDFS location or a SQL statement"}
    if step == "outputs":
        kind = get("output_kind")
        if kind == "embedded":
            return check_output_name(get("output_name") or "output.json", field="output_name")
        if kind == "url":
            return check_location(get("output_url"), field="output_url")
        if kind == "table":
            return check_table(get("output_table"), field="output_table")
        return {"output_kind": "choose where the output goes: embedded in the result, an S3/HDFS location or a SQL table"}
    return {}


def job_request(draft: Mapping[str, Any]) -> dict[str, Any]:
    """The finished draft as the control plane's job request (``POST /api/v1/jobs``)."""
    from modelop_spark.moc.assets import output_asset

    get = lambda key: str(draft.get(key) or "").strip()  # noqa: E731
    kind = get("input_kind")
    if kind == "upload":
        source: dict[str, Any] = {"kind": "embedded", "name": get("input_filename") or "upload", "records": list(draft["input_records"])}
    elif kind == "url":
        source = {"name": Path(urlsplit(get("input_url")).path).name or "input", "url": get("input_url")}
    else:
        source = {"kind": "sql", "name": "query", "query": get("input_sql").rstrip(";")}
    out_kind = get("output_kind")
    if out_kind == "url":
        target = output_asset(get("output_url"))
    elif out_kind == "table":
        target = {"kind": "sql", "name": get("output_table").split(".")[-1], "table": get("output_table")}
    else:
        target = {"kind": "embedded", "name": get("output_name") or "output.json"}
    request: dict[str, Any] = {
        "job_type": get("job_type"), "snapshot": get("snapshot"), "inputs": [source], "outputs": [target],
        "schema_check": bool(draft.get("schema_check")),
    }
    if get("runtime_choice") == "named":
        request["runtime"] = get("runtime")
    elif get("stage"):
        request["stage"] = get("stage")
    columns = {k: get(f"{k}_column") for k in ("label", "score") if get(f"{k}_column")}
    if get("job_type") == "testjob" and columns:
        request["options"] = {"evaluation": {"columns": columns}}
    return request


def review_lines(draft: Mapping[str, Any], *, snapshot_label: str) -> list[tuple[str, str]]:
    """What the review step shows, one (label, value) per line."""
    request = job_request(draft)
    source, target = request["inputs"][0], request["outputs"][0]
    if source["kind"] == "embedded":
        given = f"upload {source['name']} ({len(source['records'])} records, embedded in the job)"
    elif source["kind"] == "sql":
        given = f"SQL: {source['query']}"
    else:
        given = source["url"]
    goes = target.get("url") or (f"table {target['table']}" if target.get("table") else f"embedded in the result as {target['name']}")
    where = f"runtime {request['runtime']}" if request.get("runtime") else f"matching decides ({request.get('stage') or 'any stage'})"
    lines = [
        ("Model", str(draft.get("model"))), ("Snapshot", snapshot_label), ("Runtime", where),
        ("Job type", JOB_TYPES.get(request["job_type"], request["job_type"])),
        ("Schemas", "checked" if request["schema_check"] else "not checked"), ("Input", given), ("Output", goes),
    ]
    if request.get("options"):
        lines.append(("Evaluation columns", json.dumps(request["options"]["evaluation"]["columns"])))
    return lines


__all__ = [
    "JOB_TYPES", "STAGES", "STEPS", "STEP_TITLES", "check_location", "check_sql", "check_step", "check_table",
    "job_request", "next_step", "previous_step", "read_upload", "review_lines", "snapshot_has_schemas",
]
