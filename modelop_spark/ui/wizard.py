"""The Create Batch Job wizard's rules: the steps as one table (``STEP_TABLE``: each step's
fields, what the control plane offers for it, and its check), and the job request the finished
draft becomes.

A step's ``offer`` asks the API (through the small ``Api`` port the page passes in) for what the
step shows and checks against: the models, the model's snapshots, the runtimes... Each check
returns ``{field: message}`` (empty when the step is fine), so the page shows each message next
to its field and nothing is submitted until every step is clean. The request built at the end is
the control plane's ``POST /jobs`` body, the same one ``moc job create`` sends.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
import zipfile
from collections.abc import Awaitable, Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from modelop_spark.assets.sql import check_read_only
from modelop_spark.errors import ModelOpSparkError
from modelop_spark.moc.assets import output_asset, read_records
from modelop_spark.vocabulary import BATCH_JOB, SCHEMA_TAG, TEST_JOB, TRAINING_JOB, is_zip

MB = 1024 * 1024  # as the control plane's --max-job-mb counts
STAGES: tuple[str, ...] = ("DEV", "SIT", "UAT", "PROD")
JOB_TYPES = {BATCH_JOB: "Scoring", TEST_JOB: "Metrics", TRAINING_JOB: "Training"}
INPUT_SCHEMES = ("s3", "s3a", "hdfs", "file")
UPLOAD_FORMATS = (".csv", ".json", ".jsonl", ".ndjson", ".parquet")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


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
    tag = re.compile(SCHEMA_TAG.pattern.encode(), re.MULTILINE)
    name = (snapshot.get("archive") or {}).get("name") or ""
    try:
        if is_zip(name):
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


# -- the steps: one table ----------------------------------------------------------------------

Draft = Mapping[str, Any]
Offer = dict[str, Any]  # what the control plane offers for a step: shown on it, checked against


class Api(Protocol):
    """What a step's offer may ask of the control plane (the page's in-process API client)."""

    async def get(self, path: str, **params: Any) -> Any: ...

    async def archive(self, snapshot_id: str) -> bytes: ...


def _text(draft: Draft, key: str) -> str:
    return str(draft.get(key) or "").strip()


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    fields: tuple[str, ...]  # the form fields this step copies into the draft
    check: Callable[[Draft, Offer], dict[str, str]]
    offer: Callable[[Api, Draft], Awaitable[Offer]] | None = None
    upload: str | None = None  # the file field read into the draft, when the draft chose an upload
    after_copy: Callable[[dict[str, Any]], None] | None = None  # what the new field values undo


async def _models(api: Api, draft: Draft) -> Offer:
    return {"models": await api.get("/models")}


async def _snapshots(api: Api, draft: Draft) -> Offer:
    return {"snapshots": await api.get("/snapshots", model=draft.get("model"))}


async def _runtimes(api: Api, draft: Draft) -> Offer:
    """Every runtime, with those that would match the snapshot proposed."""
    if not draft.get("snapshot"):
        return {"runtimes": []}
    snapshot = await api.get(f"/snapshots/{draft['snapshot']}")
    tags = {t.lower() for t in snapshot["service_tags"]}
    runtimes = [dict(r, proposed=r["name"] in snapshot["runtimes"] or bool(tags & {t.lower() for t in r["service_tags"]}))
                for r in await api.get("/runtimes")]
    return {"runtimes": runtimes, "snapshot_label": f"{snapshot['model']} version {snapshot['version']} ({snapshot['id'][:8]})"}


async def _schemas(api: Api, draft: Draft) -> Offer:
    if not draft.get("schema_check"):
        return {}
    snapshot = await api.get(f"/snapshots/{draft['snapshot']}")
    archive = await api.archive(snapshot["id"]) if snapshot.get("archive") else None
    return {"has_schemas": snapshot_has_schemas(snapshot, archive)}


async def _review(api: Api, draft: Draft) -> Offer:
    offer = await _runtimes(api, draft)
    return {**offer, "review": review_lines(draft, snapshot_label=str(offer.get("snapshot_label") or draft.get("snapshot") or ""))}


def _forget_snapshot_of_another_model(draft: dict[str, Any]) -> None:
    if draft.get("model") != draft.get("_model_for_snapshot"):
        draft.pop("snapshot", None)
        draft["_model_for_snapshot"] = draft.get("model")


def _check_model(draft: Draft, offer: Offer) -> dict[str, str]:
    return {} if _text(draft, "model") in {m["name"] for m in offer.get("models", ())} else {"model": "choose one of the registered models"}


def _check_snapshot(draft: Draft, offer: Offer) -> dict[str, str]:
    known = {s["id"] for s in offer.get("snapshots", ())}
    return {} if _text(draft, "snapshot") in known else {"snapshot": "choose a snapshot (version) of this model"}


def _check_runtime(draft: Draft, offer: Offer) -> dict[str, str]:
    if _text(draft, "runtime_choice") == "named":
        named = {r["name"] for r in offer.get("runtimes", ())}
        return {} if _text(draft, "runtime") in named else {"runtime": "choose one of the runtimes, or let matching decide"}
    if _text(draft, "stage") and _text(draft, "stage") not in STAGES:
        return {"stage": f"choose one of {', '.join(STAGES)} or any stage"}
    return {}


def _check_type(draft: Draft, offer: Offer) -> dict[str, str]:
    return {} if _text(draft, "job_type") in JOB_TYPES else {"job_type": "choose Scoring, Metrics or Training"}


def _check_schemas(draft: Draft, offer: Offer) -> dict[str, str]:
    if draft.get("schema_check") and not offer.get("has_schemas", True):
        return {"schema_check": "this snapshot has no input or output schema (none in snapshot.json, no '# modelop.schema.0:' tag); turn schema checking off or add schemas to the snapshot"}
    return {}


INPUT_CHECKS: dict[str, Callable[[Draft], dict[str, str]]] = {
    "upload": lambda d: {} if d.get("input_records") else {"input_file": "choose a data file to upload (.csv, .json, .jsonl or .parquet)"},
    "url": lambda d: check_location(_text(d, "input_url"), field="input_url"),
    "sql": lambda d: check_sql(_text(d, "input_sql"), field="input_sql"),
}
OUTPUT_CHECKS: dict[str, Callable[[Draft], dict[str, str]]] = {
    "embedded": lambda d: check_output_name(_text(d, "output_name") or "output.json", field="output_name"),
    "url": lambda d: check_location(_text(d, "output_url"), field="output_url"),
    "table": lambda d: check_table(_text(d, "output_table"), field="output_table"),
}


def _check_inputs(draft: Draft, offer: Offer) -> dict[str, str]:
    check = INPUT_CHECKS.get(_text(draft, "input_kind"))
    return check(draft) if check else {"input_kind": "choose where the input comes from: an upload, an S3/HDFS location or a SQL statement"}


def _check_outputs(draft: Draft, offer: Offer) -> dict[str, str]:
    check = OUTPUT_CHECKS.get(_text(draft, "output_kind"))
    return check(draft) if check else {"output_kind": "choose where the output goes: embedded in the result, an S3/HDFS location or a SQL table"}


STEP_TABLE: tuple[Step, ...] = (
    Step("model", "Model", ("model",), _check_model, _models, after_copy=_forget_snapshot_of_another_model),
    Step("snapshot", "Snapshot", ("snapshot",), _check_snapshot, _snapshots),
    Step("runtime", "Runtime", ("runtime_choice", "stage", "runtime"), _check_runtime, _runtimes),
    Step("type", "Job type", ("job_type", "label_column", "score_column"), _check_type),
    Step("schemas", "Schemas", ("schema_check",), _check_schemas, _schemas),
    Step("inputs", "Input", ("input_kind", "input_url", "input_sql"), _check_inputs, upload="input_file"),
    Step("outputs", "Output", ("output_kind", "output_name", "output_url", "output_table"), _check_outputs),
    Step("review", "Review", (), lambda draft, offer: {}, _review),
)
STEP = {step.name: step for step in STEP_TABLE}
STEPS: tuple[str, ...] = tuple(STEP)
STEP_TITLES = {step.name: step.title for step in STEP_TABLE}


def next_step(step: str) -> str:
    return STEPS[min(STEPS.index(step) + 1, len(STEPS) - 1)]


def previous_step(step: str) -> str:
    return STEPS[max(STEPS.index(step) - 1, 0)]


def copy_fields(draft: dict[str, Any], step: str, form: Mapping[str, Any]) -> None:
    """The step's fields from the form into the draft, then the step's own consequence."""
    for key in STEP[step].fields:
        draft[key] = str(form.get(key) or "").strip()
    if STEP[step].after_copy is not None:
        STEP[step].after_copy(draft)  # type: ignore[misc]


def wants_upload(step: str, draft: Draft) -> str | None:
    """The file field to read for this step, when its draft chose an upload."""
    field = STEP[step].upload
    return field if field and _text(draft, "input_kind") == "upload" else None


def check_step(step: str, draft: Draft, *, snapshot_ids: AbstractSet[str] = frozenset(), runtimes: AbstractSet[str] = frozenset(),
               models: AbstractSet[str] = frozenset(), has_schemas: bool = True) -> dict[str, str]:
    """The errors of one step's fields, against what the control plane knows (by name)."""
    offer = {
        "models": [{"name": m} for m in models], "snapshots": [{"id": s} for s in snapshot_ids],
        "runtimes": [{"name": r} for r in runtimes], "has_schemas": has_schemas,
    }
    return STEP[step].check(draft, offer)


def job_request(draft: Mapping[str, Any]) -> dict[str, Any]:
    """The finished draft as the control plane's job request (``POST /api/v1/jobs``)."""
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
    if get("job_type") == TEST_JOB and columns:
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
    "JOB_TYPES", "STAGES", "STEP", "STEPS", "STEP_TABLE", "STEP_TITLES", "Api", "Step", "check_location", "check_sql", "check_step",
    "check_table", "copy_fields", "job_request", "next_step", "previous_step", "read_upload", "review_lines", "snapshot_has_schemas",
    "wants_upload",
]
