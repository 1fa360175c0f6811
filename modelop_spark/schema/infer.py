"""Guess an extended Avro schema from data, for a person to review and edit.

Spark only samples: up to ``sample`` rows come to the driver, and every decision is a pure
function of those values (:func:`infer_from_rows`), testable without Spark. Each field is marked
``"guessed": true`` with a ``doc`` saying what was guessed from what.

- Types: the column's Spark type; text columns (CSV) are narrowed to boolean, long, double,
  date or timestamp when every sampled value parses as one.
- Data class: categorical for text, booleans and integers with few distinct values; numerical
  otherwise.
- Roles, from names first, then values: ``label`` (label, target, y, is_fraud, class, ...) with
  two or few values; ``score`` (score, prediction, probability, ...) numeric; ``identifier``
  (id, *_id, uuid, key) or a text/integer column unique in the sample; ``weight``; otherwise
  ``predictor``. Protected class is guessed from names (gender, race, age, ...).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelop_spark.schema.model import DataType, Field, Schema
from modelop_spark.schema.spark_types import from_struct_type

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["DEFAULT_SAMPLE", "infer_from_rows", "infer_schema"]

DEFAULT_SAMPLE = 1000
MAX_CATEGORIES = 20  # integers with at most this many distinct values are categories
MAX_LABEL_CLASSES = 10

_LABEL = re.compile(r"^(label|target|y|class|outcome|actual|ground_?truth|is_[a-z0-9_]+|[a-z0-9_]*_label|[a-z0-9_]*_target)$", re.I)
_SCORE = re.compile(r"^([a-z0-9_]*_)?(score|scores|prediction|predictions|predicted|pred|probability|proba|prob)(_[a-z0-9_]*)?$", re.I)
_IDENTIFIER = re.compile(r"^(?i:id|uuid|guid|key|[a-z0-9_]*_id)$|^[a-z][a-zA-Z0-9]*Id$")
_WEIGHT = re.compile(r"^([a-z0-9_]*_)?weights?$", re.I)
_PROTECTED = re.compile(
    r"^(gender|sex|race|ethnicity|ethnic_group|religion|age|age_group|marital_status|nationality|disability)$", re.I
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_TRUE_FALSE = frozenset({"true", "false"})

# Spark simpleString -> model kind, for columns that are not text.
_SPARK_KINDS = {
    "boolean": "boolean",
    "tinyint": "int",
    "smallint": "int",
    "int": "int",
    "bigint": "long",
    "float": "float",
    "double": "double",
    "date": "date",
    "timestamp": "timestamp-micros",
    "timestamp_ntz": "local-timestamp-micros",
    "binary": "bytes",
    "string": "string",
}


def infer_schema(df: DataFrame, *, sample: int = DEFAULT_SAMPLE, name: str = "Record") -> Schema:
    """Guess a schema from the first ``sample`` rows of ``df`` (one small Spark job)."""

    rows = [row.asDict() for row in df.limit(sample).collect()]
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    # Types Spark already knows exactly (decimal, nested) come from the StructType itself.
    exact = {
        f.name: f.type
        for f in from_struct_type(df.schema).fields
        if types[f.name] not in _SPARK_KINDS
    }
    return infer_from_rows(rows, types, name=name, exact_types=exact)


def infer_from_rows(
    rows: Sequence[Mapping[str, Any]],
    types: Mapping[str, str],
    *,
    name: str = "Record",
    exact_types: Mapping[str, DataType] | None = None,
) -> Schema:
    """The guessed schema of ``rows`` whose columns have the Spark ``types`` (name -> simpleString)."""
    fields = []
    for column, spark_type in types.items():
        values = [r.get(column) for r in rows]
        fields.append(_guess_field(column, spark_type, values, exact=(exact_types or {}).get(column)))
    for role in ("label", "score", "weight"):
        fields = _keep_one(fields, role)
    return Schema(
        name=name,
        fields=tuple(fields),
        doc=f"Inferred from {len(rows)} sampled row(s); every field is a guess (\"guessed\": true): review types, roles and data classes.",
    )


def _guess_field(column: str, spark_type: str, values: list[Any], *, exact: DataType | None) -> Field:
    present = [v for v in values if v is not None and v != ""]
    notes: list[str] = []
    if exact is not None:
        dtype = exact
    elif spark_type == "string":
        dtype, parsed = _narrow_text(present)
        if dtype.kind != "string":
            notes.append(f"type {dtype.kind} because every sampled value parses as one")
        present = parsed
    else:
        dtype = DataType(kind=_SPARK_KINDS.get(spark_type, "string"))
    distinct = len(set(map(_hashable, present)))
    data_class = _data_class(dtype, distinct, len(present))
    role, why = _role(column, dtype, present, distinct)
    notes.append(f"dataClass {data_class} ({distinct} distinct of {len(present)} sampled)")
    notes.append(f"role {role} ({why})")
    protected = bool(_PROTECTED.match(column))
    if protected:
        notes.append("protectedClass from the name")
    return Field(
        name=column,
        type=dtype,
        nullable=len(present) < len(values) or not values,
        doc="guessed: " + "; ".join(notes),
        role=role,
        data_class=data_class,
        protected_class=protected,
        drift_candidate=role == "predictor",
        guessed=True,
    )


def _keep_one(fields: list[Field], role: str) -> list[Field]:
    """A schema has one label, one score, one weight: keep the best-named guess, demote the rest."""
    candidates = [f for f in fields if f.role == role]
    if len(candidates) < 2:
        return fields
    best = min(candidates, key=lambda f: (f.name.lower() not in _PREFERRED[role], fields.index(f)))
    demoted = f"; role predictor: {best.name!r} looks more like the {role}"
    return [
        f.with_(role="predictor", drift_candidate=True, doc=(f.doc or "") + demoted) if f.role == role and f is not best else f
        for f in fields
    ]


_PREFERRED = {
    "label": frozenset({"label", "target", "y", "class", "outcome", "is_fraud", "ground_truth", "actual"}),
    "score": frozenset({"score", "prediction", "predicted", "probability"}),
    "weight": frozenset({"weight", "sample_weight"}),
}


def _narrow_text(values: list[Any]) -> tuple[DataType, list[Any]]:
    """The narrowest type every text value parses as, and the parsed values."""
    texts = [str(v).strip() for v in values]
    if not texts:
        return DataType(kind="string"), values
    for kind, parse in (("boolean", _bool), ("long", int), ("double", float), ("date", _date), ("timestamp-micros", _timestamp)):
        try:
            return DataType(kind=kind), [parse(t) for t in texts]
        except ValueError:
            continue
    return DataType(kind="string"), texts


def _bool(text: str) -> bool:
    if text.lower() not in _TRUE_FALSE:
        raise ValueError(text)
    return text.lower() == "true"


def _date(text: str) -> dt.date:
    if not _DATE.match(text):
        raise ValueError(text)
    return dt.date.fromisoformat(text)


def _timestamp(text: str) -> dt.datetime:
    if not _TIMESTAMP.match(text):
        raise ValueError(text)
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _data_class(dtype: DataType, distinct: int, count: int) -> str:
    if dtype.kind in ("string", "boolean", "enum", "uuid"):
        return "categorical"
    if dtype.kind in ("int", "long") and distinct <= MAX_CATEGORIES and distinct < max(count, 1):
        return "categorical"
    return "numerical"


def _role(column: str, dtype: DataType, values: list[Any], distinct: int) -> tuple[str, str]:
    numeric = dtype.kind in ("int", "long", "float", "double", "decimal", "boolean")
    unique = bool(values) and distinct == len(values) and len(values) > 1
    if _LABEL.match(column) and distinct <= MAX_LABEL_CLASSES:
        return "label", f"name {column!r} and {distinct} distinct value(s)"
    if _SCORE.match(column) and numeric:
        return "score", f"name {column!r}"
    if _IDENTIFIER.match(column):
        return "identifier", f"name {column!r}"
    if _WEIGHT.match(column) and numeric:
        return "weight", f"name {column!r}"
    if unique and dtype.kind in ("string", "uuid") and len(values) >= MAX_CATEGORIES:
        return "identifier", "every sampled value is unique"
    return "predictor", "default"


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
