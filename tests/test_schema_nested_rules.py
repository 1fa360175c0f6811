"""Rules inside records, arrays and maps: enum, range, pattern and non-null checks on nested values,
with reasons naming the path (``address.country``, ``items[].qty``, ``tags[]``, ``scores{}``)."""

from __future__ import annotations

import json

import pytest
from chispa import assert_df_equality

from modelop_spark.errors import SchemaError
from modelop_spark.schema import DataType, Field, load_schema, validate
from modelop_spark.schema.rules import plan_checks
from modelop_spark.schema.sql_rules import SqlChecks

COUNTRY = {"type": "enum", "name": "Country", "symbols": ["FR", "DE"]}
ITEM = {"type": "record", "name": "Item", "fields": [
    {"name": "sku", "type": "string", "pattern": "^[a-z]+$"},
    {"name": "qty", "type": "int", "minimum": 0, "specialValues": [-1]},
]}  # fmt: skip
ORDER_DOC = {"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "string"},
    {"name": "address", "type": ["null", {"type": "record", "name": "Address", "fields": [
        {"name": "city", "type": "string"},
        {"name": "country", "type": ["null", COUNTRY]},
        {"name": "geo", "type": ["null", {"type": "record", "name": "Geo", "fields": [
            {"name": "lat", "type": "double", "minimum": -90, "maximum": 90},
        ]}]},
    ]}]},
    {"name": "items", "type": ["null", {"type": "array", "items": ITEM}]},
    {"name": "tags", "type": ["null", {"type": "array", "items": "string"}], "pattern": "^#\\w+$"},
    {"name": "scores", "type": ["null", {"type": "map", "values": "double"}], "minimum": 0, "maximum": 1},
]}  # fmt: skip
ORDER = load_schema(ORDER_DOC)
TYPED = (
    "id string, address struct<city:string,country:string,geo:struct<lat:double>>, "
    "items array<struct<sku:string,qty:int>>, tags array<string>, scores map<string,double>"
)
TEXT = "id string, address string, items string, tags string, scores string"


def _reasons_by_id(validation):
    return {
        json.loads(row["_record"])["id"]: sorted(row["_reasons"])
        for row in validation.rejected.collect()
    }


def _check_invariant(df, validation):
    assert df.count() == validation.valid.count() + validation.rejected.count()


def _valid_ids(validation):
    return sorted(row["id"] for row in validation.valid.collect())


def test_enum_and_range_inside_a_nested_record_name_the_path(spark):
    rows = [
        ("ok", '{"city": "Paris", "country": "FR", "geo": {"lat": 48.8}}'),
        ("enum", '{"city": "Rome", "country": "IT"}'),
        ("deep", '{"city": "Oslo", "country": null, "geo": {"lat": 91.5}}'),
        ("no-address", None),
    ]
    df = spark.createDataFrame([(i, a, None, None, None) for i, a in rows], TEXT)
    checked = validate(df, ORDER, mode="quarantine")
    assert _reasons_by_id(checked) == {
        "enum": ["address.country: 'IT' is not one of [FR, DE]"],
        "deep": ["address.geo.lat: 91.5 is above the maximum 90"],
    }
    assert _valid_ids(checked) == ["no-address", "ok"]
    _check_invariant(df, checked)


def test_range_and_pattern_on_fields_of_records_inside_an_array(spark):
    rows = [
        ("ok", [("ab", 1), ("cd", 0)]),
        ("special", [("ab", -1)]),  # specialValues are exempt from the range
        ("qty", [("ab", 3), ("cd", -2), ("ef", -7)]),
        ("both", [("AB", -3)]),
        ("empty", []),
        ("null-item", [None, ("ab", 2)]),
    ]
    df = spark.createDataFrame([(i, None, items, None, None) for i, items in rows], TYPED)
    checked = validate(df, ORDER, mode="quarantine")
    assert _reasons_by_id(checked) == {
        "qty": ["items[].qty: -2 is below the minimum 0"],  # the first offending element
        "both": [
            "items[].qty: -3 is below the minimum 0",
            "items[].sku: 'AB' does not match the pattern ^[a-z]+$",
        ],
        "null-item": ["items[]: null in non-nullable element"],  # Avro items are not nullable
    }
    assert _valid_ids(checked) == ["empty", "ok", "special"]
    _check_invariant(df, checked)


def test_pattern_on_an_array_of_strings_applies_to_each_element(spark):
    rows = [
        ("ok", ["#a", "#b_1"]),
        ("bad", ["#a", "b", "c"]),
        ("null-tag", ["#a", None]),
        ("none", None),
    ]
    df = spark.createDataFrame([(i, None, None, tags, None) for i, tags in rows], TYPED)
    checked = validate(df, ORDER, mode="quarantine")
    assert _reasons_by_id(checked) == {
        "bad": ["tags[]: 'b' does not match the pattern ^#\\w+$"],
        "null-tag": ["tags[]: null in non-nullable element"],
    }
    _check_invariant(df, checked)


def test_map_values_with_a_range(spark):
    rows = [("ok", '{"a": 0.5, "b": 1}'), ("low", '{"a": 0.5, "b": -0.25}'), ("high", '{"c": 2.5}')]
    df = spark.createDataFrame([(i, None, None, None, m) for i, m in rows], TEXT)
    checked = validate(df, ORDER, mode="quarantine")
    assert _reasons_by_id(checked) == {
        "low": ["scores{}: -0.25 is below the minimum 0"],
        "high": ["scores{}: 2.5 is above the maximum 1"],
    }
    assert [r["scores"] for r in checked.valid.collect()] == [{"a": 0.5, "b": 1.0}]
    _check_invariant(df, checked)


def test_null_in_a_nested_non_nullable_field_counts_only_under_a_non_null_parent(spark):
    rows = [
        ("city-null", {"city": None, "country": "FR", "geo": None}),
        ("parent-null", None),  # the optional address is absent: fine
        ("ok", {"city": "Paris", "country": None, "geo": None}),
        ("item-qty-null", None),
    ]
    items = {"item-qty-null": [("ab", None)], "ok": [("ab", 2)]}
    df = spark.createDataFrame([(i, a, items.get(i), None, None) for i, a in rows], TYPED)
    checked = validate(df, ORDER, mode="quarantine")
    assert _reasons_by_id(checked) == {
        "city-null": ["address.city: null in non-nullable field"],
        "item-qty-null": ["items[].qty: null in non-nullable field"],
    }
    _check_invariant(df, checked)


def test_non_nullable_fields_at_any_depth_from_json_text(spark):
    document = {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"},
        "a": {"type": "object", "required": ["b"], "properties": {
            "b": {"type": "object", "required": ["c"], "properties": {"c": {"type": "integer", "minimum": 1}}},
        }},
    }}  # fmt: skip
    schema = load_schema(document)
    rows = [
        ("ok", '{"b": {"c": 2}}'),
        ("a-null", None),
        ("b-null", '{"b": null}'),
        ("c-null", '{"b": {}}'),
        ("c-low", '{"b": {"c": 0}}'),
    ]
    df = spark.createDataFrame(rows, "id string, a string")
    checked = validate(df, schema, mode="quarantine")
    assert _reasons_by_id(checked) == {
        "b-null": ["a.b: null in non-nullable field"],  # and not a.b.c: its parent is null
        "c-null": ["a.b.c: null in non-nullable field"],
        "c-low": ["a.b.c: 0 is below the minimum 1"],
    }
    _check_invariant(df, checked)


def test_arrays_of_enums_nested_arrays_and_maps_of_records(spark):
    document = {"type": "record", "name": "Deep", "fields": [
        {"name": "id", "type": "string"},
        {"name": "countries", "type": {"type": "array", "items": COUNTRY}},
        {"name": "orders", "type": {"type": "array", "items": {"type": "record", "name": "O", "fields": [
            {"name": "lines", "type": ["null", {"type": "array", "items": ITEM}]},
        ]}}},
        {"name": "by_store", "type": {"type": "map", "values": "Item"}},  # Item is defined above
    ]}  # fmt: skip
    schema = load_schema(document)
    ddl = (
        "id string, countries array<string>, orders array<struct<lines:array<struct<sku:string,qty:int>>>>, "
        "by_store map<string,struct<sku:string,qty:int>>"
    )
    ok_orders = [([("ab", 1)],), (None,)]  # a null `lines` is fine: the field is nullable
    rows = [
        ("ok", ["FR", "DE"], ok_orders, {"s1": ("ab", 1)}),
        ("enum", ["FR", "XX"], [], {}),
        ("deep", ["DE"], [([("ab", 1)],), ([("cd", 5), ("ef", -4)],)], {}),
        ("map", ["DE"], [], {"s1": ("ab", 1), "s2": ("ab", -9), "s3": None}),
    ]
    df = spark.createDataFrame(rows, ddl)
    checked = validate(df, schema, mode="quarantine")
    assert _reasons_by_id(checked) == {
        "enum": ["countries[]: 'XX' is not one of [FR, DE]"],
        "deep": ["orders[].lines[].qty: -4 is below the minimum 0"],
        "map": ["by_store{}.qty: -9 is below the minimum 0", "by_store{}: null in non-nullable element"],
    }
    _check_invariant(df, checked)


def test_a_valid_nested_row_passes_untouched(spark):
    row = ("t1", ("Paris", "FR", (48.8,)), [("ab", 1), ("cd", -1)], ["#x"], {"a": 0.5})
    df = spark.createDataFrame([row], TYPED)
    checked = validate(df, ORDER, mode="quarantine")
    assert_df_equality(checked.valid, df, ignore_nullable=True)
    assert checked.rejected.count() == 0
    text = spark.createDataFrame(
        [
            (
                "t1",
                '{"city": "Paris", "country": "FR", "geo": {"lat": 48.8}}',
                '[{"sku": "ab", "qty": 1}, {"sku": "cd", "qty": -1}]',
                '["#x"]',
                '{"a": 0.5}',
            )
        ],
        TEXT,
    )
    parsed = validate(text, ORDER, mode="quarantine")
    assert_df_equality(parsed.valid, df, ignore_nullable=True)
    _check_invariant(text, parsed)


def test_strict_mode_reports_nested_paths(spark):
    df = spark.createDataFrame([("t1", None, [("ab", -5)], None, None)], TYPED)
    with pytest.raises(SchemaError, match=r"items\[\]\.qty: -5 is below the minimum 0"):
        validate(df, ORDER, mode="strict")


# Pure: the SQL text, no Spark.


def _checks(schema, columns):
    return SqlChecks(plan_checks(schema, columns))


def test_no_nested_rule_adds_no_expression():
    document = {"type": "record", "name": "Plain", "fields": [
        {"name": "tags", "type": ["null", {"type": "array", "items": ["null", "string"]}]},
        {"name": "address", "type": ["null", {"type": "record", "name": "A", "fields": [
            {"name": "city", "type": ["null", "string"]}]}]},
        {"name": "m", "type": ["null", {"type": "map", "values": ["null", "long"]}]},
    ]}  # fmt: skip
    schema = load_schema(document)
    checks = _checks(
        schema,
        {"tags": "array<string>", "address": "struct<city:string>", "m": "map<string,bigint>"},
    )
    assert all(fp.rules == () for fp in checks.plan.fields)
    assert checks.bad() == "false"
    assert "exists(" not in checks.reasons()


def test_nested_rules_sql_text():
    columns = {
        "id": "string",
        "address": "struct<city:string,country:string,geo:struct<lat:double>>",
        "items": "array<struct<sku:string,qty:int>>",
        "tags": "array<string>",
        "scores": "map<string,double>",
    }
    checks = _checks(ORDER, columns)
    paths = [(r.kind, r.path) for fp in checks.plan.fields for r in fp.rules]
    assert paths == [
        ("not_null", "address.city"), ("enum", "address.country"),
        ("not_null", "address.geo.lat"), ("minimum", "address.geo.lat"), ("maximum", "address.geo.lat"),
        ("null_element", "items[]"), ("not_null", "items[].sku"), ("pattern", "items[].sku"),
        ("not_null", "items[].qty"), ("minimum", "items[].qty"),
        ("null_element", "tags[]"), ("pattern", "tags[]"),
        ("null_element", "scores{}"), ("minimum", "scores{}"), ("maximum", "scores{}"),
    ]  # fmt: skip
    pairs = dict((reason, condition) for condition, reason in checks.checks())
    assert (
        pairs["'address.city: null in non-nullable field'"]
        == "`address` IS NOT NULL AND `address`.`city` IS NULL"
    )
    assert pairs["'items[].qty: null in non-nullable field'"] == (
        "exists(`items`, x0 -> x0 IS NOT NULL AND x0.`qty` IS NULL)"
    )
    (qty_reason,) = [r for r in pairs if r.startswith("concat('items[].qty: '")]
    assert (
        pairs[qty_reason]
        == "exists(`items`, x0 -> x0.`qty` IS NOT NULL AND NOT x0.`qty` IN (-1) AND x0.`qty` < 0)"
    )
    assert "try_element_at(filter(transform(`items`, x -> x.`qty`)" in qty_reason
    # The flag walks each array once for all the rules inside it.
    bad = checks.bad()
    assert bad.count("exists(`items`") == 1 and bad.count("exists(map_values(`scores`)") == 1


def test_bad_nested_pattern_is_a_schema_error_naming_the_path():
    document = {"type": "record", "name": "P", "fields": [
        {"name": "a", "type": {"type": "array", "items": {"type": "record", "name": "R", "fields": [
            {"name": "b", "type": "string", "pattern": "(["}]}}},
    ]}  # fmt: skip
    schema = load_schema(document)
    with pytest.raises(
        SchemaError, match=r"field 'a\[\]\.b': pattern '\(\[' is not a valid regular expression"
    ):
        plan_checks(schema, {"a": "string"})


def test_a_range_on_an_array_or_map_field_needs_numbers_inside():
    numbers = DataType(kind="map", values=DataType(kind="array", items=DataType(kind="double")))
    assert Field(name="a", type=numbers, minimum=0).minimum == 0
    with pytest.raises(
        SchemaError, match="field 'a': minimum/maximum need a numeric type, found array<string>"
    ):
        Field(name="a", type=DataType(kind="array", items=DataType(kind="string")), maximum=1)


def test_json_schema_rules_on_items_and_map_values_are_checked_and_round_trip(spark):
    from modelop_spark.schema import from_json_schema, to_json_schema

    document = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "qty": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "tags": {"type": "array", "items": {"type": "string", "pattern": "^#"}},
            "scores": {"type": "object", "additionalProperties": {"type": "number", "exclusiveMaximum": 1}},
        },
        "required": ["id"],
    }
    schema = load_schema(document)
    again = to_json_schema(schema)["properties"]
    assert again["qty"]["items"]["minimum"] == 0 and "minimum" not in again["qty"]  # where JSON Schema means it
    assert again["tags"]["items"]["pattern"] == "^#" and again["scores"]["additionalProperties"]["exclusiveMaximum"] == 1
    assert from_json_schema(to_json_schema(schema)) == schema
    df = spark.createDataFrame(
        [("ok", [1, 2], ["#a"], {"x": 0.5}), ("bad", [3, -1], ["b"], {"x": 1.0})],
        "id string, qty array<bigint>, tags array<string>, scores map<string,double>",
    )
    checked = validate(df, schema, mode="quarantine")
    assert [r.id for r in checked.valid.collect()] == ["ok"]
    assert sorted(checked.rejected.collect()[0]["_reasons"]) == [
        "qty[]: -1 is below the minimum 0",
        "scores{}: 1.0 is at or above the maximum 1",
        "tags[]: 'b' does not match the pattern ^#",
    ]
