"""What to check for each field, decided on the driver from the schema and the input's columns.

Pure logic: no SparkSession, no DataFrame. :mod:`modelop_spark.schema.validate` turns a
:class:`Plan` into Spark column expressions. Everything that can be wrong with the *schema* or the
*options* (a bad regular expression, a key column that does not exist) fails here, in seconds,
before any Spark task starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from modelop_spark.errors import SchemaError
from modelop_spark.schema.model import Field, Schema
from modelop_spark.schema.spark_types import spark_type

__all__ = [
    "EXTRA_FIELD_POLICIES",
    "MODES",
    "ExtraFields",
    "FieldPlan",
    "Mode",
    "Plan",
    "Step",
    "ValueRule",
    "plan_checks",
    "special_scalars",
]

Mode = Literal["off", "strict", "quarantine"]
ExtraFields = Literal["keep", "drop", "reject"]
MODES: tuple[str, ...] = ("off", "strict", "quarantine")
EXTRA_FIELD_POLICIES: tuple[str, ...] = ("keep", "drop", "reject")
MAX_SYMBOLS_SHOWN = 10

# Spark type names (``DataType.simpleString()``) whose values always fit the target: no check.
_WIDENS_SAFELY: Mapping[str, frozenset[str]] = {
    "tinyint": frozenset({"smallint", "int", "bigint", "float", "double"}),
    "smallint": frozenset({"int", "bigint", "float", "double"}),
    "int": frozenset({"bigint", "float", "double"}),
    "bigint": frozenset({"double"}),
    "float": frozenset({"double"}),
    "date": frozenset({"timestamp", "timestamp_ntz"}),
}
_INTEGRAL = frozenset({"tinyint", "smallint", "int", "bigint"})


def _fractional(type_name: str | None) -> bool:
    return type_name is not None and (type_name in ("float", "double") or type_name.startswith("decimal"))


@dataclass(frozen=True)
class Step:
    """One step from a value into a part of it: ``field`` (a record's field ``name``),
    ``element`` (every element of an array) or ``value`` (every value of a map)."""

    kind: Literal["field", "element", "value"]
    name: str = ""


@dataclass(frozen=True)
class ValueRule:
    """One rule on the values found at ``steps`` inside a top-level field's cast value.

    ``steps`` is empty for the top-level value itself. ``path`` names the place in reasons:
    ``amount``, ``address.country`` (a record's field), ``items[].qty`` (a field of every array
    element), ``tags[]`` (every element), ``scores{}`` (every map value). ``field`` is the schema
    field the rule belongs to (bounds, pattern); a range, pattern or ``specialValues`` on an array
    or map field applies to its elements, as the enum symbols of an array of enums do.
    A ``not_null`` rule holds only where the field's parent record is not null; a
    ``null_element`` rule rejects a null element of an array (or map value) whose type allows none.
    """

    kind: Literal["not_null", "null_element", "enum", "minimum", "maximum", "pattern"]
    path: str
    steps: tuple[Step, ...]
    field: Field
    symbols: tuple[str, ...] = ()  # enum
    special: tuple[Any, ...] = ()  # values exempt from enum, range and pattern checks

    @property
    def nested(self) -> bool:
        return bool(self.steps)


@dataclass(frozen=True)
class FieldPlan:
    """How one schema field is produced and checked.

    ``source_type`` is the input column's Spark type name (None: the column is missing).
    ``rules`` are the value rules on the field and, for records, arrays and maps, inside it:
    empty when nothing in the field has a rule to check.
    """

    field: Field
    source_type: str | None
    check_type: bool  # the value may not convert: reject when it does not
    check_lossy: bool  # fractional -> integral: reject when the cast drops a fraction
    parse_json: bool  # string input for an array/map/record: parse it as JSON text
    missing_reason: str | None  # the column is absent and required: every row is rejected
    special: tuple[Any, ...]  # values exempt from enum, range and pattern checks
    rules: tuple[ValueRule, ...] = ()

    @property
    def present(self) -> bool:
        return self.source_type is not None


@dataclass(frozen=True)
class Plan:
    fields: tuple[FieldPlan, ...]
    extras: tuple[str, ...]  # input columns not in the schema (key columns excluded)
    extra_fields: ExtraFields
    key_columns: tuple[str, ...]  # kept on every output row, schema or not


def check_options(*, mode: str, extra_fields: str, stage: str) -> None:
    if mode not in MODES:
        raise SchemaError(f"schema check mode {mode!r} is not valid; expected one of {', '.join(MODES)}")
    if extra_fields not in EXTRA_FIELD_POLICIES:
        raise SchemaError(
            f"extra_fields {extra_fields!r} is not valid; expected one of {', '.join(EXTRA_FIELD_POLICIES)}"
        )
    if stage not in ("input_schema", "output_schema"):
        raise SchemaError(f"stage {stage!r} is not valid; expected input_schema or output_schema")


def plan_checks(
    schema: Schema,
    columns: Mapping[str, str],
    *,
    extra_fields: ExtraFields = "keep",
    key_columns: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> Plan:
    """The plan for input ``columns`` (name -> Spark ``simpleString()`` type, in order)."""
    missing_keys = [k for k in key_columns if k not in columns]
    if missing_keys:
        raise SchemaError(
            f"key column(s) {', '.join(missing_keys)} are not in the data; columns are {', '.join(columns)}"
        )
    fields = tuple(_field_plan(f, columns.get(f.name), schema=schema) for f in schema.fields)
    extras = tuple(c for c in columns if c not in schema and c not in key_columns and c not in ignore)
    return Plan(fields=fields, extras=extras, extra_fields=extra_fields, key_columns=tuple(key_columns))


def _field_plan(f: Field, source: str | None, *, schema: Schema) -> FieldPlan:
    value_rules = tuple(_value_rules(f, path=f.name, steps=(), schema=schema))
    target = spark_type(f.type).simpleString()
    complex_target = f.type.kind in ("array", "map", "record")
    same = source is not None and (source == target or target in _WIDENS_SAFELY.get(source, ()))
    missing_reason = None
    if source is None and not f.nullable and not f.has_default:
        missing_reason = f"{f.name}: required field is missing"
    return FieldPlan(
        field=f,
        source_type=source,
        # A string target takes any value; an enum is checked by its symbols instead.
        check_type=source is not None and not same and target != "string",
        check_lossy=_fractional(source) and target in _INTEGRAL,
        parse_json=source == "string" and complex_target,
        missing_reason=missing_reason,
        special=special_scalars(f.special_values),
        rules=value_rules,
    )


def _value_rules(
    f: Field, *, path: str, steps: tuple[Step, ...], schema: Schema
) -> list[ValueRule]:
    """The rules of field ``f`` (at ``path``) and of the fields nested in its type, at any depth.

    Arrays and maps are stepped through: the field's range, pattern and special values apply to
    the elements they hold. Records contribute their fields' own rules and non-null checks.
    """
    if f.pattern is not None:
        try:
            re.compile(f.pattern)
        except re.error as exc:
            raise SchemaError(
                f"schema {schema.label}: field {path!r}: pattern {f.pattern!r} "
                f"is not a valid regular expression ({exc})"
            ) from exc
    t = f.type
    found: list[ValueRule] = []
    while t.kind in ("array", "map"):
        no_nulls = not t.element_nullable
        if t.kind == "array":
            assert t.items is not None
            t, path, steps = t.items, f"{path}[]", (*steps, Step("element"))
        else:
            assert t.values is not None
            t, path, steps = t.values, f"{path}{{}}", (*steps, Step("value"))
        if no_nulls:
            found.append(ValueRule("null_element", path, steps, f))
    if t.kind == "record":
        for sub in t.fields:
            sub_path, sub_steps = f"{path}.{sub.name}", (*steps, Step("field", sub.name))
            if not sub.nullable:
                found.append(ValueRule("not_null", sub_path, sub_steps, sub))
            found.extend(_value_rules(sub, path=sub_path, steps=sub_steps, schema=schema))
        return found
    special = special_scalars(f.special_values)
    if t.kind == "enum":
        found.append(ValueRule("enum", path, steps, f, symbols=t.symbols, special=special))
    if f.minimum is not None:
        found.append(ValueRule("minimum", path, steps, f, special=special))
    if f.maximum is not None:
        found.append(ValueRule("maximum", path, steps, f, special=special))
    if f.pattern is not None:
        found.append(ValueRule("pattern", path, steps, f, special=special))
    return found


def special_scalars(special_values: Sequence[Any]) -> tuple[Any, ...]:
    """The plain values in ModelOp ``specialValues``: either scalars or
    ``{"values": [...], "purpose": ...}`` entries."""
    found: list[Any] = []
    for entry in special_values:
        if isinstance(entry, Mapping):
            values = entry.get("values", entry.get("value", ()))
            found.extend(values if isinstance(values, list | tuple) else [values])
        elif isinstance(entry, list | tuple):
            found.extend(entry)
        else:
            found.append(entry)
    return tuple(v for v in found if isinstance(v, str | int | float | bool))


# Reason texts: "<path>: <what was expected>, <what was found>". Spark fills in the value.
# The path is a top-level field's name, or a place inside one (see ValueRule): address.country,
# items[].qty, tags[], scores{}.


def type_reason_prefix(f: Field) -> str:
    return f"{f.name}: expected {f.type.describe()}, found '"


def null_element_reason(path: str) -> str:
    return f"{path}: null in non-nullable element"


def null_reason(path: str) -> str:
    return f"{path}: null in non-nullable field"


def value_reason_prefix(path: str, *, quoted: bool) -> str:
    """What comes before the offending value: quoted for text (enum, pattern), not for numbers."""
    return f"{path}: '" if quoted else f"{path}: "


def enum_reason_suffix(symbols: Sequence[str]) -> str:
    more = ["..."] if len(symbols) > MAX_SYMBOLS_SHOWN else []
    shown = list(symbols[:MAX_SYMBOLS_SHOWN]) + more
    return f"' is not one of [{', '.join(shown)}]"


def minimum_reason(f: Field) -> str:
    return f" is {'at or ' if f.exclusive_minimum else ''}below the minimum {_number(f.minimum)}"


def maximum_reason(f: Field) -> str:
    return f" is {'at or ' if f.exclusive_maximum else ''}above the maximum {_number(f.maximum)}"


def pattern_reason_suffix(f: Field) -> str:
    return f"' does not match the pattern {f.pattern}"


def extra_reason(name: str) -> str:
    return f"{name}: unknown field, not in the schema"


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
