"""Per-row validation on Spark: each rule, each mode, and rows in = valid + rejected."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from modelop_spark.errors import SchemaError
from modelop_spark.quarantine import QUARANTINE_DDL
from modelop_spark.schema import load_schema, validate
from modelop_spark.schema.rules import plan_checks

SCHEMA = load_schema(
    {
        "type": "record",
        "name": "Tx",
        "fields": [
            {"name": "id", "type": "string", "role": "identifier"},
            {"name": "amount", "type": "double", "minimum": 0, "maximum": 1000, "specialValues": [-1]},
            {"name": "channel", "type": ["null", {"type": "enum", "name": "Channel", "symbols": ["web", "store"]}]},
            {"name": "country", "type": ["null", "string"], "pattern": "^[A-Z]{2}$"},
            {"name": "n_items", "type": ["null", "int"]},
            {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}]},
        ],
    }
)
TEXT = "id string, amount string, channel string, country string, n_items string, day string"


def _reasons(validation):
    return {row["_record"]: sorted(row["_reasons"]) for row in validation.rejected.collect()}


def _check_invariant(df, validation):
    rows_in = df.count()
    valid = validation.valid.count()
    rejected = validation.rejected.count() if validation.rejected is not None else 0
    assert rows_in == valid + rejected


def test_valid_text_rows_come_out_cast_to_the_schema(spark):
    df = spark.createDataFrame([("t1", "12.5", "web", "FR", "3", "2024-02-29")], TEXT)
    checked = validate(df, SCHEMA, mode="quarantine")
    expected = spark.createDataFrame(
        [("t1", 12.5, "web", "FR", 3, dt.date(2024, 2, 29))],
        "id string, amount double, channel string, country string, n_items int, day date",
    )
    assert_df_equality(checked.valid, expected, ignore_nullable=True)
    assert checked.rejected.count() == 0


def test_each_rule_names_field_and_rule(spark):
    rows = [
        ("ok", "1", "web", "FR", "1", "2024-01-01"),
        ("type", "abc", "web", "FR", "1", "2024-01-01"),
        ("date", "1", "web", "FR", "1", "2024-13-01"),
        ("int", "1", "web", "FR", "1.5", None),
        ("null", None, "web", "FR", "1", None),
        ("enum", "1", "phone", "FR", "1", None),
        ("min", "-5", "web", "FR", "1", None),
        ("max", "1000.5", "web", None, "1", None),
        ("special", "-1", "web", None, None, None),
        ("pattern", "1", None, "France", None, None),
        (None, "1", None, None, None, None),
    ]
    df = spark.createDataFrame(rows, TEXT)
    checked = validate(df, SCHEMA, mode="quarantine")
    reasons = {json.loads(r).get("id"): v for r, v in _reasons(checked).items()}
    assert reasons == {
        "type": ["amount: expected double, found 'abc'"],
        "date": ["day: expected date, found '2024-13-01'"],
        "int": ["n_items: expected int, found '1.5'"],
        "null": ["amount: null in non-nullable field"],
        "enum": ["channel: 'phone' is not one of [web, store]"],
        "min": ["amount: -5.0 is below the minimum 0"],
        "max": ["amount: 1000.5 is above the maximum 1000"],
        "pattern": ["country: 'France' does not match the pattern ^[A-Z]{2}$"],
        None: ["id: null in non-nullable field"],
    }
    assert sorted(r["id"] for r in checked.valid.collect()) == ["ok", "special"]
    _check_invariant(df, checked)


def test_several_broken_fields_give_several_reasons(spark):
    df = spark.createDataFrame([("t", "x", "fax", "fr", "y", None)], TEXT)
    (reasons,) = _reasons(validate(df, SCHEMA, mode="quarantine")).values()
    assert reasons == [
        "amount: expected double, found 'x'",
        "channel: 'fax' is not one of [web, store]",
        "country: 'fr' does not match the pattern ^[A-Z]{2}$",
        "n_items: expected int, found 'y'",
    ]


def test_typed_input_is_checked_without_reparsing(spark):
    df = spark.createDataFrame(
        [("a", 5.0, "web", None, 2, None), ("b", 2.0e12, "web", None, 3_000_000_000, None)],
        "id string, amount double, channel string, country string, n_items bigint, day date",
    )
    checked = validate(df, SCHEMA, mode="quarantine")
    by_id = {json.loads(record)["id"]: reasons for record, reasons in _reasons(checked).items()}
    assert by_id["b"] == [
        "amount: 2.0E12 is above the maximum 1000",
        "n_items: expected int, found '3000000000'",
    ]
    assert checked.valid.schema["n_items"].dataType == T.IntegerType()


def test_quarantine_rows_have_the_one_quarantine_shape(spark):
    df = spark.createDataFrame([("t1", "abc", "web", "FR", "1", None)], TEXT)
    rejected = validate(df, SCHEMA, mode="quarantine", key_columns=["id"]).rejected
    assert rejected.columns == ["id", "_stage", "_reasons", "_record"]
    assert rejected.select("_stage", "_reasons", "_record").schema.simpleString() == (
        "struct<" + QUARANTINE_DDL.replace(" string", ":string").replace(" array", ":array").replace(", ", ",") + ">"
    )
    row = rejected.collect()[0]
    assert row["id"] == "t1" and row["_stage"] == "input_schema"
    assert json.loads(row["_record"])["amount"] == "abc"  # the original value, not a null


def test_output_stage_is_recorded(spark):
    df = spark.createDataFrame([("t1", "abc", "web", "FR", "1", None)], TEXT)
    rejected = validate(df, SCHEMA, mode="quarantine", stage="output_schema").rejected
    assert rejected.collect()[0]["_stage"] == "output_schema"


def test_strict_mode_raises_with_count_and_first_examples(spark):
    rows = [(f"t{i}", "abc", "web", None, None, None) for i in range(25)] + [("ok", "1", "web", None, None, None)]
    df = spark.createDataFrame(rows, TEXT)
    with pytest.raises(SchemaError) as raised:
        validate(df, SCHEMA, mode="strict")
    message = raised.value.message
    assert "input schema check (input_schema) failed: 25 row(s) do not match schema Tx" in message
    assert "first 20:" in message and message.count("amount: expected double, found 'abc'") == 20
    assert "\n" not in message


def test_strict_mode_passes_clean_data_cast(spark):
    df = spark.createDataFrame([("t1", "3", "store", None, None, None)], TEXT)
    checked = validate(df, SCHEMA, mode="strict")
    assert checked.rejected is None
    assert checked.valid.collect()[0]["amount"] == 3.0


def test_off_mode_returns_the_input_untouched(spark):
    df = spark.createDataFrame([("t1", "abc", "web", None, None, None)], TEXT)
    checked = validate(df, SCHEMA, mode="off")
    assert checked.valid is df and checked.rejected is None


def test_missing_required_column_rejects_every_row_missing_optional_is_null(spark):
    df = spark.createDataFrame([("t1", "web"), ("t2", "store")], "id string, channel string")
    checked = validate(df, SCHEMA, mode="quarantine")
    assert {tuple(r) for r in _reasons(checked).values()} == {("amount: required field is missing",)}
    _check_invariant(df, checked)
    schema = load_schema(
        {"type": "record", "name": "D", "fields": [
            {"name": "id", "type": "string"},
            {"name": "score", "type": "double", "default": 0.5},
            {"name": "note", "type": ["null", "string"]},
        ]}  # fmt: skip
    )
    valid = validate(df.select("id"), schema, mode="quarantine").valid
    assert [tuple(r) for r in valid.orderBy("id").collect()] == [("t1", 0.5, None), ("t2", 0.5, None)]


@pytest.mark.parametrize(
    ("policy", "columns", "rejected"),
    [("keep", ["id", "amount", "extra", "key"], 0), ("drop", ["id", "amount", "key"], 0), ("reject", ["id", "amount", "key"], 1)],
)
def test_extra_field_policies(spark, policy, columns, rejected):
    schema = load_schema({"type": "record", "name": "S", "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}]})
    df = spark.createDataFrame([("a", "1", None, "k1"), ("b", "2", "surprise", "k2")], "id string, amount string, extra string, key string")
    checked = validate(df, schema, mode="quarantine", extra_fields=policy, key_columns=["key"])
    assert checked.valid.columns == columns
    assert checked.rejected.count() == rejected
    if rejected:
        row = checked.rejected.collect()[0]
        assert (row["key"], row["_reasons"]) == ("k2", ["extra: unknown field, not in the schema"])
    _check_invariant(df, checked)


def test_nested_values_parse_from_json_text(spark):
    schema = load_schema(
        {"type": "record", "name": "N", "fields": [
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "address", "type": ["null", {"type": "record", "name": "A", "fields": [{"name": "city", "type": "string"}]}]},
        ]}  # fmt: skip
    )
    df = spark.createDataFrame([('["a","b"]', '{"city": "Paris"}'), ("not json", None)], "tags string, address string")
    checked = validate(df, schema, mode="quarantine")
    assert [r["tags"] for r in checked.valid.collect()] == [["a", "b"]]
    assert checked.valid.collect()[0]["address"]["city"] == "Paris"
    assert list(_reasons(checked).values()) == [["tags: expected array<string>, found 'not json'"]]


def test_bad_options_fail_on_the_driver(spark):
    df = spark.createDataFrame([("a",)], "id string")
    with pytest.raises(SchemaError, match="schema check mode 'lenient' is not valid; expected one of off, strict, quarantine"):
        validate(df, SCHEMA, mode="lenient")
    with pytest.raises(SchemaError, match="extra_fields 'ignore' is not valid"):
        validate(df, SCHEMA, mode="quarantine", extra_fields="ignore")
    with pytest.raises(SchemaError, match=r"key column\(s\) txn are not in the data"):
        validate(df, SCHEMA, mode="quarantine", key_columns=["txn"])


def test_bad_pattern_is_a_schema_error_before_spark_runs():
    schema = load_schema({"type": "record", "name": "P", "fields": [{"name": "a", "type": "string", "pattern": "(["}]})
    with pytest.raises(SchemaError, match="field 'a': pattern '\\(\\[' is not a valid regular expression"):
        plan_checks(schema, {"a": "string"})


def test_plan_skips_type_checks_for_safe_widening():
    schema = load_schema({"type": "record", "name": "W", "fields": [
        {"name": "a", "type": "long"}, {"name": "b", "type": "long"}, {"name": "c", "type": "int"}
    ]})  # fmt: skip
    plan = plan_checks(schema, {"a": "int", "b": "string", "c": "double"})
    assert [(p.check_type, p.check_lossy) for p in plan.fields] == [(False, False), (True, False), (True, True)]


def test_counts_are_observed_during_the_write_and_clean_data_needs_no_quarantine(spark, tmp_path):
    clean = spark.createDataFrame([("a", "1", "web", None, None, None), ("b", "2", "store", None, None, None)], TEXT)
    checked = validate(clean, SCHEMA, mode="quarantine")
    assert checked.observed_counts() is None  # nothing ran yet, and asking does not wait
    checked.valid.write.parquet(str(tmp_path / "clean"))
    assert checked.observed_counts().to_dict() == {"rows": 2, "valid": 2, "rejected": 0}
    assert checked.rejected_if_any() is None

    dirty = spark.createDataFrame([("a", "1", "web", None, None, None), ("b", "x", "store", None, None, None)], TEXT)
    checked = validate(dirty, SCHEMA, mode="quarantine")
    assert checked.counts().to_dict() == {"rows": 2, "valid": 1, "rejected": 1}  # counted: no action yet
    checked.valid.write.parquet(str(tmp_path / "dirty"))
    assert checked.observed_counts().rejected == 1
    assert checked.rejected_if_any().count() == 1


def test_quotes_and_backslashes_in_names_and_rules_survive(spark):
    schema = load_schema(
        {"type": "object", "required": ["it's"], "properties": {
            "it's": {"enum": ["o'k", "a\\b"]},
            "v": {"type": "string", "pattern": "^\\d+\\.\\d+$"},
        }}  # fmt: skip
    )
    df = spark.createDataFrame([("o'k", "1.5"), ("a\\b", None), ("no", "1x5")], "`it's` string, v string")
    checked = validate(df, schema, mode="quarantine")
    assert [r["it's"] for r in checked.valid.collect()] == ["o'k", "a\\b"]
    assert list(_reasons(checked).values()) == [
        ["it's: 'no' is not one of [o'k, a\\b]", "v: '1x5' does not match the pattern ^\\d+\\.\\d+$"]
    ]


def test_sql_literals_escape_quotes_and_backslashes():
    from modelop_spark.schema.sql_rules import ident, sql_literal

    assert sql_literal("it's a \\ test") == "'it\\'s a \\\\ test'"
    assert sql_literal(1.5) == "CAST('1.5' AS DOUBLE)" and sql_literal(3) == "3" and sql_literal(None) == "NULL"
    assert ident("we`ird") == "`we``ird`"


def test_in_band_marks_rejected_rows_instead_of_filtering_them(spark):
    """The frame a model pass in Python workers reads: every row, valid ones cast and unmarked,
    rejected ones carrying their stage, reasons (JSON) and original record."""
    df = spark.createDataFrame([("ok", "1", "web", "FR", "2", None), ("bad", "-5", "fax", "FR", "2", None)], TEXT)
    rows = {r["id"]: r for r in validate(df, SCHEMA, mode="quarantine").in_band().collect()}
    assert set(rows) == {"ok", "bad"}  # nothing filtered
    assert (rows["ok"]["amount"], rows["ok"]["_ms_rejected"]) == (1.0, None)
    mark = json.loads(rows["bad"]["_ms_rejected"])
    assert mark["stage"] == "input_schema"
    assert sorted(mark["reasons"]) == ["amount: -5.0 is below the minimum 0", "channel: 'fax' is not one of [web, store]"]
    assert json.loads(mark["record"])["amount"] == "-5"  # the record as it came in
    with pytest.raises(SchemaError, match="in_band\\(\\) needs quarantine mode"):
        validate(df, SCHEMA, mode="off").in_band()


def test_notebook_scoring_of_checked_rows_sets_the_marked_ones_aside(spark, tmp_path):
    import modelop_spark as ms
    from tests.snapshots import make_snapshot

    model = """
    # modelop.score
    def action(record):
        yield {"id": record["id"], "double": record["amount"] * 2}
    """
    snapshot = make_snapshot(tmp_path / "snap", model)
    df = spark.createDataFrame([("ok", "1", "web", "FR", "2", None), ("bad", "-5", "fax", "FR", "2", None)], TEXT)
    marked = validate(df, SCHEMA, mode="quarantine", key_columns=["id"]).in_band()
    scored = ms.score_with_rejects(marked, snapshot, key_columns=["id"])
    assert scored.counts()["rejected_input_schema"] == 1 and scored.counts()["rows_in"] == 2
    assert [(r.id, r.double) for r in scored.outputs().collect()] == [("ok", 2.0)]
    assert [(r.id, r._stage) for r in scored.rejected().collect()] == [("bad", "input_schema")]
    with pytest.raises(SchemaError, match="rows the input checks marked would vanish"):
        ms.score(marked, snapshot, key_columns=["id"])  # outputs only: it would lose the marked rows


def test_a_pass_that_counted_no_rejects_gets_the_rows_cast_without_a_filter(spark):
    typed = spark.createDataFrame([(1, 0.5)], "id bigint, p double")
    schema = load_schema({"type": "record", "name": "S", "fields": [
        {"name": "id", "type": "long"}, {"name": "p", "type": "double", "maximum": 1},
    ]})  # fmt: skip
    checked = validate(typed, schema, mode="quarantine", observe=False)
    assert typed.selectExpr(f"count_if({checked.rejected_condition})").first()[0] == 0
    assert checked.valid_given(0) is typed  # nothing to cast: the rows as they are
    text = spark.createDataFrame([("1", "0.5"), ("2", "7")], "id string, p string")
    checked = validate(text, schema, mode="quarantine", observe=False)
    assert text.selectExpr(f"count_if({checked.rejected_condition})").first()[0] == 1
    assert [tuple(r) for r in checked.valid_given(1).collect()] == [(1, 0.5)]
    assert checked.valid_given(0).dtypes == [("id", "bigint"), ("p", "double")]
