"""The schema model <-> Spark ``StructType``.

A Spark type says less than the model (no roles, no enum symbols, no Avro width of a timestamp),
so each top-level ``StructField`` carries the whole field in its metadata under ``modelop``;
reading a ``StructType`` back restores it when the Spark type still matches. Only building Spark
type objects needs pyspark; nothing here needs a SparkSession.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from modelop_spark.errors import SchemaError
from modelop_spark.schema.model import DataType, Field, Schema

if TYPE_CHECKING:
    from pyspark.sql import types as T

__all__ = ["METADATA_KEY", "from_struct_type", "spark_type", "to_ddl", "to_struct_type"]

METADATA_KEY = "modelop"

_SIMPLE = {
    "boolean": "BooleanType",
    "int": "IntegerType",
    "long": "LongType",
    "float": "FloatType",
    "double": "DoubleType",
    "string": "StringType",
    "uuid": "StringType",
    "enum": "StringType",
    "bytes": "BinaryType",
    "fixed": "BinaryType",
    "date": "DateType",
    "timestamp-millis": "TimestampType",
    "timestamp-micros": "TimestampType",
    "local-timestamp-millis": "TimestampNTZType",
    "local-timestamp-micros": "TimestampNTZType",
}
_FROM_SPARK = {
    "BooleanType": "boolean",
    "ByteType": "int",
    "ShortType": "int",
    "IntegerType": "int",
    "LongType": "long",
    "FloatType": "float",
    "DoubleType": "double",
    "StringType": "string",
    "CharType": "string",
    "VarcharType": "string",
    "BinaryType": "bytes",
    "DateType": "date",
    "TimestampType": "timestamp-micros",
    "TimestampNTZType": "local-timestamp-micros",
}
MAX_DECIMAL_PRECISION = 38


def spark_type(t: DataType) -> T.DataType:
    """The Spark type of one model type."""
    from pyspark.sql import types as T

    if t.kind in _SIMPLE:
        return getattr(T, _SIMPLE[t.kind])()
    if t.kind == "decimal":
        assert t.precision is not None
        if t.precision > MAX_DECIMAL_PRECISION:
            raise SchemaError(f"decimal({t.precision},{t.scale}) is wider than Spark's {MAX_DECIMAL_PRECISION} digits")
        return T.DecimalType(t.precision, t.scale or 0)
    if t.kind == "array":
        assert t.items is not None
        return T.ArrayType(spark_type(t.items), containsNull=t.element_nullable)
    if t.kind == "map":
        assert t.values is not None
        return T.MapType(T.StringType(), spark_type(t.values), valueContainsNull=t.element_nullable)
    assert t.kind == "record", t.kind
    return T.StructType([T.StructField(f.name, spark_type(f.type), nullable=f.nullable) for f in t.fields])


def to_struct_type(schema: Schema, *, with_metadata: bool = True) -> T.StructType:
    """The ``StructType`` of a schema; ``with_metadata`` keeps the model in each field's metadata."""
    from pyspark.sql import types as T

    try:
        return T.StructType(
            [
                T.StructField(
                    f.name,
                    spark_type(f.type),
                    nullable=f.nullable,
                    metadata={METADATA_KEY: json.dumps(f.to_dict(), default=str)} if with_metadata else None,
                )
                for f in schema.fields
            ]
        )
    except SchemaError as exc:
        raise SchemaError(f"schema {schema.label}: {exc.message}") from exc


def to_ddl(schema: Schema) -> str:
    """Spark DDL (``id string NOT NULL, amount double``), without needing a SparkSession."""
    struct = to_struct_type(schema, with_metadata=False)
    return ", ".join(
        f"{_quote(f.name)} {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}" for f in struct.fields
    )


def _quote(name: str) -> str:
    return name if name.isidentifier() else "`" + name.replace("`", "``") + "`"


def from_struct_type(struct: T.StructType, *, name: str = "Record", source: str | None = None) -> Schema:
    """A schema from a ``StructType`` (restoring fields kept in metadata by :func:`to_struct_type`)."""
    fields = []
    for sf in struct.fields:
        kept = _kept_field(sf)
        fields.append(kept or Field(name=sf.name, type=_model_type(sf.dataType, path=sf.name), nullable=sf.nullable))
    return Schema(name=name, fields=tuple(fields), source=source)


def _kept_field(sf: T.StructField) -> Field | None:
    raw = (sf.metadata or {}).get(METADATA_KEY)
    if not raw:
        return None
    try:
        kept = Field.from_dict(json.loads(raw) if isinstance(raw, str) else raw)
    except (ValueError, KeyError, TypeError, SchemaError):
        return None
    # Metadata survives renames and casts; trust it only while it still describes the column.
    if kept.name != sf.name or spark_type(kept.type) != sf.dataType:
        return None
    return kept.with_(nullable=sf.nullable)


def _model_type(dt: Any, *, path: str) -> DataType:
    from pyspark.sql import types as T

    kind = _FROM_SPARK.get(type(dt).__name__)
    if kind is not None:
        return DataType(kind=kind)
    if isinstance(dt, T.DecimalType):
        return DataType(kind="decimal", precision=dt.precision, scale=dt.scale)
    if isinstance(dt, T.ArrayType):
        return DataType(kind="array", items=_model_type(dt.elementType, path=f"{path}[]"), element_nullable=dt.containsNull)
    if isinstance(dt, T.MapType):
        if not isinstance(dt.keyType, T.StringType):
            raise SchemaError(f"column {path!r}: map keys must be strings for Avro and JSON, found {dt.keyType.simpleString()}")
        return DataType(kind="map", values=_model_type(dt.valueType, path=f"{path}{{}}"), element_nullable=dt.valueContainsNull)
    if isinstance(dt, T.StructType):
        fields = tuple(
            Field(name=f.name, type=_model_type(f.dataType, path=f"{path}.{f.name}"), nullable=f.nullable)
            for f in dt.fields
        )
        return DataType(kind="record", fields=fields)
    if isinstance(dt, T.NullType):
        return DataType(kind="string")  # an all-null column: string is the editable guess
    raise SchemaError(f"column {path!r}: Spark type {dt.simpleString()} has no schema equivalent")
