"""A check plan as Spark SQL expression text: pure string building, no SparkSession.

Building the checks as SQL text and handing Spark a handful of strings (one ``selectExpr``)
costs one round trip to the JVM instead of hundreds of ``Column`` calls, which matters on a
busy driver; it also keeps the rules readable and testable as plain strings.

Rules inside records, arrays and maps (:class:`~modelop_spark.schema.rules.ValueRule` with
steps) are checked on the cast value: ``value.`field``` into a record, the higher-order
``exists(array, x -> ...)`` / ``exists(map_values(map), x -> ...)`` into arrays and maps. The
``bad`` flag checks all the rules inside one field in one walk over its arrays; a reason shows
the first offending element. A field with no rule inside adds no expression.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from modelop_spark.schema import rules
from modelop_spark.schema.model import DataType
from modelop_spark.schema.rules import FieldPlan, Plan, Step, ValueRule
from modelop_spark.schema.spark_types import spark_type

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


# A condition to check at the end of some steps: (steps, condition on the value found there).
_Located = tuple[tuple[Step, ...], Callable[[str], str]]


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
        return found + self._extra_checks()

    def bad(self) -> str:
        """True when any rule breaks (never null).

        The conditions of :meth:`checks`, except that the rules nested in one field are checked
        together, in one walk over its arrays and maps (same truth, fewer passes).
        """
        conditions: list[str] = []
        for fp in self.plan.fields:
            conditions += [c for c, _ in self.field_checks(fp, nested=False)]
            checked = fp.present and fp.missing_reason is None
            nested = [self._located(r) for r in fp.rules if r.nested] if checked else []
            if nested:
                conditions.append(self._condition(self.value(fp), nested))
        conditions += [c for c, _ in self._extra_checks()]
        if not conditions:
            return "false"
        return f"coalesce({' OR '.join(f'({c})' for c in conditions)}, false)"

    def reasons(self) -> str:
        found = [f"CASE WHEN {condition} THEN {reason} END" for condition, reason in self.checks()]
        if not found:
            return "CAST(array() AS array<string>)"
        return f"array_compact(array({', '.join(found)}))"

    def _extra_checks(self) -> list[tuple[str, str]]:
        if self.plan.extra_fields != "reject":
            return []
        return [
            (f"{ident(c)} IS NOT NULL", sql_literal(rules.extra_reason(c)))
            for c in self.plan.extras
        ]

    def field_checks(self, fp: FieldPlan, *, nested: bool = True) -> list[tuple[str, str]]:
        """The field's (condition, reason) pairs; ``nested=False`` leaves out the rules inside it."""
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
            found.append((f"{source} IS NULL", sql_literal(rules.null_reason(f.name))))
        found += [self.rule_check(value, rule) for rule in fp.rules if nested or not rule.nested]
        return found

    def rule_check(self, value: str, rule: ValueRule) -> tuple[str, str]:
        """One rule's (condition, reason) on a top-level field's cast ``value``."""
        condition = self._condition(value, [self._located(rule)])
        if rule.kind == "not_null":
            return condition, sql_literal(rules.null_reason(rule.path))
        if rule.kind == "null_element":
            return condition, sql_literal(rules.null_element_reason(rule.path))
        quoted = rule.kind in ("enum", "pattern")
        if any(step.kind != "field" for step in rule.steps):
            # Inside an array or map: show the first offending value.
            leaves, condition_x = _leaves(value, rule.steps), self.leaf_condition(rule, "x")
            offending = f"filter({leaves}, x -> {condition_x})"
            shown = f"coalesce(CAST(try_element_at({offending}, 1) AS string), '?')"
        else:
            shown = f"CAST({_walk(value, rule.steps)} AS string)"
        if rule.kind == "enum":
            suffix = rules.enum_reason_suffix(rule.symbols)
        elif rule.kind == "minimum":
            suffix = rules.minimum_reason(rule.field)
        elif rule.kind == "maximum":
            suffix = rules.maximum_reason(rule.field)
        else:
            suffix = rules.pattern_reason_suffix(rule.field)
        prefix = rules.value_reason_prefix(rule.path, quoted=quoted)
        return condition, _concat(sql_literal(prefix), shown, sql_literal(suffix))

    def leaf_condition(self, rule: ValueRule, v: str) -> str:
        """The condition on ``v``, the value at the rule's steps (not for ``not_null``)."""
        f = rule.field
        if rule.kind == "null_element":
            return f"{v} IS NULL"
        ordinary = f"{v} IS NOT NULL"
        if rule.special:
            ordinary += f" AND NOT {v} IN ({', '.join(sql_literal(s) for s in rule.special)})"
        if rule.kind == "enum":
            return f"{ordinary} AND NOT {v} IN ({', '.join(sql_literal(s) for s in rule.symbols)})"
        if rule.kind == "minimum":
            return f"{ordinary} AND {v} {'<=' if f.exclusive_minimum else '<'} {sql_literal(f.minimum)}"
        if rule.kind == "maximum":
            return f"{ordinary} AND {v} {'>=' if f.exclusive_maximum else '>'} {sql_literal(f.maximum)}"
        if rule.kind == "pattern":
            return f"{ordinary} AND NOT CAST({v} AS string) RLIKE {sql_literal(f.pattern)}"
        raise ValueError(f"no leaf condition for a {rule.kind} rule")

    def _located(self, rule: ValueRule) -> _Located:
        """Where a rule's condition is checked, and the condition there. A non-nullable field is
        checked on its parent record: a null only counts when the parent is not null."""
        if rule.kind == "not_null":
            name = ident(rule.steps[-1].name)
            return rule.steps[:-1], lambda p: f"{p} IS NOT NULL AND {p}.{name} IS NULL"
        return rule.steps, lambda v: self.leaf_condition(rule, v)

    def _condition(self, expr: str, located: Sequence[_Located], depth: int = 0) -> str:
        """True when a condition holds at the end of its steps from ``expr``: the conditions with
        a common first step share one record access or one ``exists`` over an array or map."""
        parts = [condition(expr) for steps, condition in located if not steps]
        groups: dict[Step, list[_Located]] = {}
        for steps, condition in located:
            if steps:
                groups.setdefault(steps[0], []).append((steps[1:], condition))
        for step, rest in groups.items():
            if step.kind == "field":
                parts.append(self._condition(f"{expr}.{ident(step.name)}", rest, depth))
                continue
            x = f"x{depth}"
            source = expr if step.kind == "element" else f"map_values({expr})"
            parts.append(f"exists({source}, {x} -> {self._condition(x, rest, depth + 1)})")
        if len(parts) == 1:
            return parts[0]
        return " OR ".join(f"({p})" for p in parts)


def _walk(expr: str, steps: Sequence[Step]) -> str:
    """The value at record-field ``steps`` from ``expr``."""
    for step in steps:
        expr = f"{expr}.{ident(step.name)}"
    return expr


def _leaves(expr: str, steps: Sequence[Step]) -> str:
    """Every value at ``steps`` from ``expr``, as one array (for reasons: rejected rows only)."""
    in_array = False
    for step in steps:
        if step.kind == "field":
            name = ident(step.name)
            expr = f"transform({expr}, x -> x.{name})" if in_array else f"{expr}.{name}"
        elif step.kind == "element":
            # flatten is null when one inner array is: drop null arrays first
            expr = f"flatten(filter({expr}, x -> x IS NOT NULL))" if in_array else expr
        else:
            values = f"transform(filter({expr}, x -> x IS NOT NULL), x -> map_values(x))"
            expr = f"flatten({values})" if in_array else f"map_values({expr})"
        in_array = in_array or step.kind != "field"
    return expr


def _spark_simple(fp: FieldPlan) -> str:
    """Spark's ``simpleString`` of the field's type, as the plan compares it with the input's."""

    return spark_type(fp.field.type).simpleString()
