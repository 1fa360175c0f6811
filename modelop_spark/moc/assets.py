"""What ``moc job create``'s INPUT and OUTPUT arguments mean, as job assets.

INPUT:  ``sql:SELECT ...``           a Spark SQL query
        ``s3://``, ``hdfs://``, ``file://`` ...   a file asset at that URL (format from the extension)
        a local ``.json`` asset description   (``{"kind": ..., "url": ...}`` or a ModelOp asset)
        a local data file             ``.csv``, ``.json`` (array or lines), ``.jsonl``, ``.parquet``:
                                       its records are embedded in the job
OUTPUT: a URL                        a file asset there (``.csv``/``.json`` as one file; S3 outputs
                                       get a presigned link in the result)
        a plain file name            an embedded output: the records come back in the result
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from modelop_spark.assets.spec import format_from_url
from modelop_spark.errors import SpecError
from modelop_spark.jobs.modelop_job import translate_asset

_ASSET_KEYS = {"kind", "url", "fileUrl", "assetType", "query", "table"}


def _name(location: str) -> str:
    return os.path.basename(location.rstrip("/")) or "data"


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records from a local data file, with the types its format carries (CSV types inferred)."""
    suffix = path.name.lower()
    if suffix.endswith(".csv"):
        import pyarrow.csv as pacsv

        return pacsv.read_csv(path).to_pylist()
    if suffix.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix.endswith((".json", ".jsonl", ".ndjson")):
        text = path.read_text(encoding="utf-8").strip()
        try:
            data = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise SpecError(f"INPUT {path}: neither a JSON array nor JSON lines ({exc.msg} at line {exc.lineno})") from exc
        if not all(isinstance(r, dict) for r in data):
            raise SpecError(f"INPUT {path}: expected records (JSON objects)")
        return data
    raise SpecError(f"INPUT {path}: unknown data format; embed a .csv, .json, .jsonl or .parquet file, or give a URL")


def input_asset(argument: str) -> dict[str, Any]:
    if argument.startswith("sql:"):
        query = argument[4:].strip()
        if not query:
            raise SpecError("INPUT sql: give the query after 'sql:' (sql:SELECT * FROM table)")
        return {"kind": "sql", "name": "query", "query": query}
    if "://" in argument:
        return {"name": _name(argument), "url": argument}
    path = Path(argument)
    if not path.is_file():
        raise SpecError(f"INPUT {argument}: not a file here, nor a URL (s3://, hdfs://, file://) nor sql:SELECT ...")
    if path.suffix.lower() == ".json":
        document = _json_or_none(path)
        if isinstance(document, dict) and _ASSET_KEYS & set(document):
            return asset_description(document, where=f"INPUT {argument}")
    return {"kind": "embedded", "name": path.name, "records": read_records(path)}


def _json_or_none(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # JSON lines, read as records


def asset_description(document: dict[str, Any], *, where: str) -> dict[str, Any]:
    """A runtime asset dict, from this runtime's form or a ModelOp asset (``fileUrl``...)."""
    if "assetType" in document or "fileUrl" in document:

        return translate_asset(document, where=where, output=False).to_dict()
    return dict(document)


def output_asset(argument: str) -> dict[str, Any]:
    if "://" in argument:
        asset: dict[str, Any] = {"name": _name(argument).split(".")[0], "url": argument}
        options: dict[str, Any] = {}
        if format_from_url(argument) in ("csv", "json"):
            options["single_file"] = True
        if argument.startswith(("s3://", "s3a://")):
            options["presign"] = True
        if options:
            asset["options"] = options
        return asset
    if "/" in argument or os.sep in argument:
        raise SpecError(f"OUTPUT {argument}: a plain file name means an embedded output; for a file give a URL (file:///abs/path, s3://, hdfs://)")
    return {"kind": "embedded", "name": argument}


__all__ = ["input_asset", "output_asset", "read_records"]
