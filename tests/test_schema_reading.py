"""Reading CSV and JSON with a schema: no inference, malformed lines quarantined with raw text."""

from __future__ import annotations

import pytest

from modelop_spark.errors import SchemaError
from modelop_spark.schema import load_schema, read_plan, split_malformed, validate

SCHEMA = load_schema(
    {
        "type": "record",
        "name": "Tx",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "amount", "type": ["null", "double"]},
            {"name": "name", "type": "string"},
        ],
    }
)


def _read(spark, path, fmt, **options):
    plan = read_plan(SCHEMA, format=fmt, options=options)
    return spark.read.schema(plan.struct).options(**plan.options).format(fmt).load(str(path))


def test_malformed_csv_lines_are_quarantined_with_their_text(spark, tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("id,amount,name\n1,2.5,a\n2,abc,b\n3,4.0\n4,5.0,c,extra\n5,,e\n")
    df = _read(spark, path, "csv")
    split = split_malformed(df, format="csv", key_columns=["id"])
    good, bad = split.good, split.malformed
    # Only the id is used downstream: the split must still see every column of the line.
    assert sorted(r["id"] for r in good.select("id").collect()) == [1, 5]
    assert split.observed_counts() == (5, 3)  # counted while the ids were read
    rows = {r["_record"]: r for r in bad.collect()}
    assert set(rows) == {"2,abc,b", "3,4.0", "4,5.0,c,extra"}
    assert rows["2,abc,b"]["_reasons"] == ["malformed CSV record: does not fit the schema (empty or unparsed: amount)"]
    assert rows["3,4.0"]["_reasons"] == ["malformed CSV record: does not fit the schema (empty or unparsed: name)"]
    assert rows["2,abc,b"]["_stage"] == "read" and rows["2,abc,b"]["id"] == 2
    assert bad.columns == ["id", "_stage", "_reasons", "_record"]
    assert good.count() + bad.count() == 5  # rows in = good + quarantined


def test_malformed_json_lines_are_quarantined(spark, tmp_path):
    path = tmp_path / "tx.jsonl"
    path.write_text('{"id": 1, "amount": 2.5, "name": "a"}\n{"id": 2, "amount": "lots", "name": "b"}\n{"id": 3,\n')
    df = _read(spark, path, "json")
    split = split_malformed(df, format="json", observe=False)
    good, bad = split.good, split.malformed
    assert split.malformed_count() == 2
    assert [r["id"] for r in good.collect()] == [1]
    assert sorted(r["_record"] for r in bad.collect()) == ['{"id": 2, "amount": "lots", "name": "b"}', '{"id": 3,']
    assert bad.columns == ["_stage", "_reasons", "_record"]


def test_read_then_validate_keeps_every_row_somewhere(spark, tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("id,amount,name\n1,2.5,a\n2,x,b\n3,1.0,\n")
    split = split_malformed(_read(spark, path, "csv"))
    good, bad = split.good, split.malformed
    checked = validate(good, SCHEMA, mode="quarantine")
    assert (checked.valid.count(), bad.count(), checked.rejected.count()) == (1, 1, 1)
    assert checked.rejected.collect()[0]["_reasons"] == ["name: null in non-nullable field"]


def test_read_plan_options(spark):
    plan = read_plan(SCHEMA, format="CSV", options={"sep": ";"})
    assert plan.options == {"header": "true", "sep": ";", "mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record"}
    assert plan.struct.fieldNames() == ["id", "amount", "name", "_corrupt_record"]
    with pytest.raises(SchemaError, match="mode=FAILFAST would fail or drop malformed lines"):
        read_plan(SCHEMA, format="csv", options={"mode": "failfast"})
    with pytest.raises(SchemaError, match="reading with a schema supports csv, json, not 'parquet'"):
        read_plan(SCHEMA, format="parquet")


def test_csv_header_order_and_extra_columns_follow_the_header(spark, tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("name,branch,id,amount\na,b1,1,2.5\nb,b2,2,oops\n")
    plan = read_plan(SCHEMA, format="csv", columns=["name", "branch", "id", "amount"])
    assert [f.simpleString() for f in plan.struct.fields] == [
        "name:string", "branch:string", "id:bigint", "amount:double", "_corrupt_record:string"
    ]  # fmt: skip
    df = spark.read.schema(plan.struct).options(**plan.options).csv(str(path))
    split = split_malformed(df, key_columns=["branch"])
    assert [tuple(r) for r in split.good.collect()] == [("a", "b1", 1, 2.5)]
    assert [(r["branch"], r["_record"]) for r in split.malformed.collect()] == [("b2", "b,b2,2,oops")]


def test_json_lines_read_as_text_expose_unknown_keys(spark, tmp_path):
    from modelop_spark.schema.reading import LINE, UNKNOWN_KEYS, parse_json_lines
    from modelop_spark.schema.validate import RawLines

    path = tmp_path / "tx.jsonl"
    path.write_text('{"id": 1, "amount": 2.5, "name": "a"}\n\n{"id": 2, "amount": 1.0, "name": "b", "vip": true}\n{"id": 3,\n')
    plan = read_plan(SCHEMA, format="json")
    split = split_malformed(parse_json_lines(spark.read.text(str(path)), plan, schema=SCHEMA), format="json", observe=False)
    assert split.malformed_count() == 1  # the blank line is skipped, as the JSON reader does
    raw = RawLines(unknown_keys=UNKNOWN_KEYS, line=LINE)
    kept = validate(split.good, SCHEMA, mode="quarantine", raw_lines=raw)
    assert sorted(r["id"] for r in kept.valid.collect()) == [1, 2]  # keep: the unknown key is not read
    assert kept.valid.columns == ["id", "amount", "name"]
    checked = validate(split.good, SCHEMA, mode="quarantine", extra_fields="reject", raw_lines=raw)
    assert [r["id"] for r in checked.valid.collect()] == [1]
    row = checked.rejected.collect()[0]
    assert row["_reasons"] == ["vip: unknown field, not in the schema"]
    assert row["_record"] == '{"id": 2, "amount": 1.0, "name": "b", "vip": true}'
