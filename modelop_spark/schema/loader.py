"""``load_schema``: one entry point for any schema a job or snapshot may carry.

Accepts a path (``.avsc``, ``.json``), JSON text, a parsed document (Avro record, JSON Schema, or
ModelOp's ``{"schemaDefinition": {...}}`` wrapper as found in a job's model metadata), a Spark
``StructType`` or a :class:`Schema`. The format is detected from the document, not the file name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from modelop_spark.errors import SchemaError
from modelop_spark.schema.avro import from_avro
from modelop_spark.schema.json_schema import from_json_schema, looks_like_json_schema
from modelop_spark.schema.model import Schema
from modelop_spark.schema.spark_types import from_struct_type

__all__ = ["detect_format", "load_schema", "read_document"]

SchemaFormat = Literal["avro", "json-schema"]


def load_schema(source: Any, *, format: SchemaFormat | None = None) -> Schema:
    """The schema model of ``source``; a bad schema raises :class:`SchemaError` naming it."""
    if isinstance(source, Schema):
        return source
    if type(source).__name__ == "StructType":
        return from_struct_type(source)
    document, where = read_document(source)
    document = _unwrap(document, where)
    chosen = format or detect_format(document, where=where)
    if chosen == "avro":
        return from_avro(document, source=where)
    if chosen == "json-schema":
        return from_json_schema(document, source=where)
    raise SchemaError(f"{where}: schema format {chosen!r} is not supported; use 'avro' or 'json-schema'")


def read_document(source: Any) -> tuple[Any, str | None]:
    """The parsed JSON document of a path, JSON text or mapping, and a name for messages."""
    if isinstance(source, Mapping | list):
        return source, None
    if isinstance(source, str) and source.lstrip().startswith(("{", "[")):
        return _parse(source, "the schema text"), None
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise SchemaError(f"schema file {path} does not exist; check the path in the snapshot or job") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaError(f"schema file {path} cannot be read as UTF-8 text ({exc})") from exc
        return _parse(text, str(path)), str(path)
    raise SchemaError(f"a schema must be a path, JSON text, a dict, a StructType or a Schema; found {type(source).__name__}")


def _parse(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc


def _unwrap(document: Any, where: str | None) -> Any:
    """ModelOp job metadata holds schemas as ``[{"schemaDefinition": {...}}]``."""
    if isinstance(document, list):
        if len(document) != 1:
            raise SchemaError(f"{where or 'the schema'}: expected one schema, found a list of {len(document)}")
        document = document[0]
    if isinstance(document, Mapping) and isinstance(document.get("schemaDefinition"), Mapping | str):
        inner = document["schemaDefinition"]
        return _parse(inner, where or "schemaDefinition") if isinstance(inner, str) else inner
    return document


def detect_format(document: Any, *, where: str | None = None) -> SchemaFormat:
    if isinstance(document, Mapping):
        if document.get("type") == "record" or "fields" in document:
            return "avro"
        if looks_like_json_schema(document):
            return "json-schema"
    raise SchemaError(
        f"{where or 'the schema'}: neither an Avro record schema (\"type\": \"record\") "
        "nor a JSON Schema object (\"type\": \"object\" with \"properties\")"
    )
