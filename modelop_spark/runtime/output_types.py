"""A score function's output types: decided once, on the driver, and kept on every scoring path.

**Decision** (``decide_schema``, before any task starts): each output column gets the type every
value of the driver's whole sample fits. Numbers widen (an integer beside a float is a double;
a float is never made an integer); nested types merge as Arrow's permissive promotion merges them.
A declared output schema's type wins where it names the column. Types no one type fits (an
integer beside a string) without a declared type are a ``SchemaError`` naming the column and the
types seen: the job fails before anything is written, instead of rejecting most rows as misfits.

**Conversion** (``conform_*``, in the workers, for every batch of every path: record, batch,
batch iterator, the Arrow UDF of aligned batches): a value is kept as produced or converted
losslessly (checked numeric casts: no truncation, no overflow, no lost precision), else its row is
rejected with the reason. Arrow's own conversion to a given type would truncate 0.7 to 0 in an
object column and write a boolean as 1.0; here other kinds convert only to themselves, except
numbers into a string column that a declared schema made one (written as their text).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from modelop_spark.errors import SchemaError

__all__ = [
    "CONVERSION_ERRORS",
    "conform",
    "conform_frame",
    "conform_rows",
    "decide_schema",
    "decide_type",
    "declared_text",
    "types_in_series",
    "types_in_values",
]

CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError, ValueError)
# Field metadata: a declared string column, where numbers are written as their text.
NUMBERS_AS_TEXT = b"modelop.numbers_as_text"


def types_in_values(values: Sequence[Any]) -> list[pa.DataType]:
    """The Arrow types of sampled values: one when Arrow infers the lot, else each value's own."""
    try:
        return [pa.array(list(values)).type]
    except CONVERSION_ERRORS:
        pass
    seen: list[pa.DataType] = []
    for value in values:
        if value is not None:
            with contextlib.suppress(*CONVERSION_ERRORS):
                kind = pa.array([value]).type
                if kind not in seen:
                    seen.append(kind)
    return seen


def types_in_series(series: Any) -> list[pa.DataType]:
    """The Arrow types of a pandas column (its dtype's, or each value's for a mixed object column)."""
    try:
        return [pa.Array.from_pandas(series).type]
    except CONVERSION_ERRORS:
        return types_in_values(series.tolist())


def _numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def _text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _name(kind: pa.DataType) -> str:
    return "integer" if pa.types.is_integer(kind) else "float" if pa.types.is_floating(kind) else str(kind)


def decide_type(column: str, seen: Sequence[pa.DataType], declared: pa.DataType | None = None) -> pa.DataType:
    """The type of one output column, from the types its sampled values had."""
    if declared is not None:
        return declared
    present = [t for t in seen if not pa.types.is_null(t)]
    if not present:
        return pa.null()
    if all(_numeric(t) for t in present) and any(pa.types.is_floating(t) for t in present):
        return pa.float64()  # the widening: an integer beside a float is a double, never the reverse
    try:
        schemas = [pa.schema([pa.field(column, t)]) for t in present]
        return pa.unify_schemas(schemas, promote_options="permissive").field(column).type
    except CONVERSION_ERRORS:
        kinds = ", ".join(dict.fromkeys(_name(t) for t in present))
        raise SchemaError(
            f"output column {column!r}: the first rows' outputs hold {kinds} values, which no one type fits; "
            "declare the column's type in the snapshot's output schema"
        ) from None


def decide_schema(columns: Mapping[str, Sequence[pa.DataType]], declared: pa.Schema | None = None) -> pa.Schema:
    """The output schema from each column's sampled types (in first-seen order)."""
    types = {f.name: f.type for f in declared} if declared is not None else {}
    fields = [pa.field(name, decide_type(name, seen, types.get(name))) for name, seen in columns.items()]
    return declared_text(pa.schema(fields), declared)


def declared_text(schema: pa.Schema, declared: pa.Schema | None) -> pa.Schema:
    """Mark the string columns a declared schema names: numbers may be written there as text."""
    named = {f.name for f in declared if _text(f.type)} if declared is not None else set()
    return pa.schema([f.with_metadata({NUMBERS_AS_TEXT: b"1"}) if f.name in named else f for f in schema])


def _plain_kind(kind: pa.DataType) -> bool:
    """Kinds converted here; nested, temporal and decimal ones Arrow converts itself (safe mode)."""
    return not (pa.types.is_nested(kind) or pa.types.is_temporal(kind) or pa.types.is_decimal(kind))


def conform(found: pa.Array, field: pa.Field) -> pa.Array:
    """``found`` as ``field``'s type, losslessly, or ArrowInvalid saying what did not fit."""
    if pa.types.is_dictionary(found.type):  # a pandas category column: its values
        found = found.dictionary_decode()
    kind, have = field.type, found.type
    if have == kind:
        return found
    if pa.types.is_null(have):
        return found.cast(kind)
    if _numeric(have) and _numeric(kind):
        try:
            return found.cast(kind)  # safe cast: raises on truncation, overflow and lost precision
        except pa.ArrowInvalid:
            raise pa.ArrowInvalid(f"a {_name(have)} value the output column's {kind} cannot hold exactly") from None
    if _text(have) and _text(kind):
        return found.cast(kind)
    if _numeric(have) and _text(kind) and (field.metadata or {}).get(NUMBERS_AS_TEXT):
        return pa.array([None if v is None else str(v) for v in found.to_pylist()], kind)
    raise pa.ArrowInvalid(f"a {_name(have)} value where the output column is {_name(kind)}")


def conform_values(values: list[Any], field: pa.Field) -> pa.Array:
    if not _plain_kind(field.type):
        return pa.array(values, type=field.type)
    return conform(pa.array(values), field)


def conform_rows(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Record outputs as a table of ``schema`` (ArrowInvalid and kin when one does not fit)."""
    arrays = [conform_values([row.get(f.name) for row in rows], f) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def conform_frame(frame: Any, schema: pa.Schema) -> pa.Table:
    """A pandas frame with ``schema``'s columns as a table of ``schema``, column by column."""
    arrays = []
    for field in schema:
        series = frame[field.name]
        if _plain_kind(field.type):
            arrays.append(conform(pa.Array.from_pandas(series), field))
        else:
            arrays.append(pa.Array.from_pandas(series, type=field.type, safe=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def misfit_column(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> str:
    """Name the first output field whose value does not convert to its type."""
    for row in rows:
        for field in schema:
            if field.name in row:
                try:
                    conform_values([row[field.name]], field)
                except CONVERSION_ERRORS:
                    return f"field {field.name}"
    return "row"
