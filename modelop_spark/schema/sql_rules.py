"""A check plan as Spark SQL expression text: pure string building, no SparkSession.

Building the checks as SQL text and handing Spark a handful of strings (one ``selectExpr``)
costs one round trip to the JVM instead of hundreds of ``Column`` calls, which matters on a
busy driver; it also keeps the rules readable and testable as plain strings.
"""

from __future__ import annotations

import json
import math
from typing import Any

from modelop_spark.schema import rules
from modelop_spark.schema.model import DataType
from modelop_spark.schema.rules import FieldPlan, Plan

__all__ = ["SqlChecks", "ident", "sql_literal", "sql_type"]

_SIMPLE_SQL = {
    "boolean": "boolean", "int": "int", "long": "bigint", "float": "float", "double": "double",
    "string": "string", "uuid": "string", "enum": "string", "bytes": "binary", "fixed": "binary",
    "date": "date", "timestamp-millis": "timestamp", "timestamp-micros": "timestamp",
    "local-timestamp-millis": "timestamp_ntz", "local-timestamp-micros": "timestamp_ntz",
}  # fmt: skip


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def sql_literal(value: Any) -> str:
    """A SQL literal for a JSON-like scalar (strings escaped for Spark's default parser)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"CAST('{value}' AS DOUBLE)"
        return f"CAST('{value!r}' AS DOUBLE)"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def sql_type(t: DataType) -> str:
    """The type as SQL DDL text, every nested field nullable (a cast may not tighten nullability)."""
    if t.kind in _SIMPLE_SQL:
        return _SIMPLE_SQL[t.kind]
    if t.kind == "decimal":
        return f"decimal({t.precision},{t.scale or 0})"
    if t.kind == "array":
        assert t.items is not None
        return f"array<{sql_type(t.items)}>"
    if t.kind == "map":
        assert t.values is not None
        return f"map<string,{sql_type(t.values)}>"
    return "struct<" + ",".join(f"{ident(f.name)}:{sql_type(f.type)}" for f in t.fields) + ">"


def _concat(*parts: str) -> str:
    return f"concat({', '.join(parts)})"


class SqlChecks:
    """SQL text for a plan: each field's cast value, the ``bad`` flag and the reasons array."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def value(self, fp: FieldPlan) -> str:
        """The field's value cast to the schema type (null when it does not convert)."""
        target = sql_type(fp.field.type)
        if not fp.present:
            default = fp.field.default if fp.field.has_default else None
            if default is not None and fp.field.type.kind in ("array", "map", "record"):
                return f"from_json({sql_literal(json.dumps(default))}, {sql_literal(target)})"
            return f"CAST({sql_literal(default)} AS {target})"
        source = ident(fp.field.name)
        if fp.parse_json:
            return f"from_json({source}, {sql_literal(target)})"
        if fp.source_type == _spark_simple(fp):
            return source
        return f"try_cast({source} AS {target})"

    def checks(self) -> list[tuple[str, str]]:
        """Every (condition, reason) pair: the row breaks a rule when its condition holds."""
        found: list[tuple[str, str]] = []
        for fp in self.plan.fields:
            found.extend(self.field_checks(fp))
        if self.plan.extra_fields == "reject":
            found.extend((f"{ident(c)} IS NOT NULL", sql_literal(rules.extra_reason(c))) for c in self.plan.extras)
        return found

    def bad(self) -> str:
        """True when any rule breaks (never null)."""
        conditions = [f"({condition})" for condition, _ in self.checks()]
        if not conditions:
            return "false"
        return f"coalesce({' OR '.join(conditions)}, false)"

    def reasons(self) -> str:
        found = [f"CASE WHEN {condition} THEN {reason} END" for condition, reason in self.checks()]
        if not found:
            return "CAST(array() AS array<string>)"
        return f"array_compact(array({', '.join(found)}))"

    def field_checks(self, fp: FieldPlan) -> list[tuple[str, str]]:
        f = fp.field
        if fp.missing_reason is not None:
            return [("true", sql_literal(fp.missing_reason))]
        if not fp.present:
            return []
        source = ident(f.name)
        value = self.value(fp)
        found: list[tuple[str, str]] = []
        if fp.check_type or fp.parse_json:
            broken = f"{value} IS NULL"
            if fp.check_lossy:
                broken = f"({broken} OR {value} != {source})"
            shown = f"coalesce(CAST({source} AS string), '?')"
            found.append(
                (f"{source} IS NOT NULL AND {broken}", _concat(sql_literal(rules.type_reason_prefix(f)), shown, "'\\''"))
            )
        if not f.nullable:
            found.append((f"{source} IS NULL", sql_literal(rules.null_reason(f))))
        ordinary = f"{value} IS NOT NULL"
        if fp.special:
            ordinary += f" AND NOT {value} IN ({', '.join(sql_literal(v) for v in fp.special)})"
        text = f"CAST({value} AS string)"
        if f.type.kind == "enum":
            symbols = ", ".join(sql_literal(s) for s in f.type.symbols)
            found.append(
                (
                    f"{ordinary} AND NOT {value} IN ({symbols})",
                    _concat(sql_literal(f"{f.name}: '"), text, sql_literal(rules.enum_reason_suffix(f))),
                )
            )
        if f.minimum is not None:
            op = "<=" if f.exclusive_minimum else "<"
            found.append(
                (
                    f"{ordinary} AND {value} {op} {sql_literal(f.minimum)}",
                    _concat(sql_literal(f"{f.name}: "), text, sql_literal(rules.minimum_reason(f))),
                )
            )
        if f.maximum is not None:
            op = ">=" if f.exclusive_maximum else ">"
            found.append(
                (
                    f"{ordinary} AND {value} {op} {sql_literal(f.maximum)}",
                    _concat(sql_literal(f"{f.name}: "), text, sql_literal(rules.maximum_reason(f))),
                )
            )
        if f.pattern is not None:
            found.append(
                (
                    f"{ordinary} AND NOT {text} RLIKE {sql_literal(f.pattern)}",
                    _concat(sql_literal(f"{f.name}: '"), text, sql_literal(rules.pattern_reason_suffix(f))),
                )
            )
        return found


def _spark_simple(fp: FieldPlan) -> str:
    """Spark's ``simpleString`` of the field's type, as the plan compares it with the input's."""
    from modelop_spark.schema.spark_types import spark_type

    return spark_type(fp.field.type).simpleString()
