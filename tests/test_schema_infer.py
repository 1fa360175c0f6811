"""Schema inference: guessed types, data classes and roles, marked as guesses; the CLI command."""

from __future__ import annotations

import argparse
import json

import fastavro
import pytest

from modelop_spark.runtime.session import get_or_create_session
from modelop_spark.schema import (
    from_avro,
    infer_schema,
    label_column,
    load_schema,
    score_column,
    to_avro,
)
from modelop_spark.schema.cli import add_schema_commands
from modelop_spark.schema.infer import infer_from_rows


def _rows(n=30):
    return [
        {
            "transaction_id": f"tx-{i}",
            "amount": f"{i * 1.5}",
            "n_items": str(i % 3),
            "country": ["FR", "DE"][i % 2],
            "gender": ["F", "M"][i % 2],
            "opened": f"2024-01-{i % 28 + 1:02d}",
            "flag": ["true", "false"][i % 2],
            "is_fraud": str(i % 2),
            "probability": str(i / 100),
            "note": None if i % 5 else "x",
        }
        for i in range(n)
    ]


def test_text_columns_are_narrowed_and_every_field_is_marked_a_guess():
    rows = _rows()
    schema = infer_from_rows(rows, dict.fromkeys(rows[0], "string"))
    kinds = {f.name: (f.type.kind, f.data_class, f.role) for f in schema.fields}
    assert kinds == {
        "transaction_id": ("string", "categorical", "identifier"),
        "amount": ("double", "numerical", "predictor"),
        "n_items": ("long", "categorical", "predictor"),
        "country": ("string", "categorical", "predictor"),
        "gender": ("string", "categorical", "predictor"),
        "opened": ("date", "numerical", "predictor"),
        "flag": ("boolean", "categorical", "predictor"),
        "is_fraud": ("long", "categorical", "label"),
        "probability": ("double", "numerical", "score"),
        "note": ("string", "categorical", "predictor"),
    }
    assert all(f.guessed and f.doc.startswith("guessed: ") for f in schema.fields)
    assert schema.field("gender").protected_class and not schema.field("country").protected_class
    assert schema.field("note").nullable and not schema.field("amount").nullable
    assert "role label (name 'is_fraud' and 2 distinct value(s))" in schema.field("is_fraud").doc


def test_unique_text_values_suggest_an_identifier_and_only_one_label_is_kept():
    rows = [{"ref": f"r{i}", "target": i % 2, "is_weekend": i % 2} for i in range(40)]
    schema = infer_from_rows(rows, {"ref": "string", "target": "bigint", "is_weekend": "bigint"})
    assert schema.field("ref").role == "identifier"
    assert label_column(schema) == "target"
    assert "looks more like the label" in schema.field("is_weekend").doc


def test_inferred_avro_is_valid_and_reads_back_with_guesses(spark):
    df = spark.createDataFrame(
        [(i, float(i) / 10, "a" if i % 2 else "b", i % 2) for i in range(50)],
        "customer_id bigint, score double, segment string, label int",
    )
    schema = infer_schema(df, sample=20)
    avro = to_avro(schema)
    fastavro.parse_schema(avro)
    back = from_avro(avro)
    assert back.field("customer_id").role == "identifier" and back.field("customer_id").guessed
    assert (label_column(back), score_column(back)) == ("label", "score")
    assert back.field("label").type.kind == "int" and back.field("label").data_class == "categorical"
    assert avro["fields"][0]["guessed"] is True


def _cli(argv):
    parser = argparse.ArgumentParser(prog="modelop-spark")
    add_schema_commands(parser.add_subparsers(dest="command", required=True), session=get_or_create_session)
    args = parser.parse_args(argv)
    return args.handler(args)


def test_cli_infer_writes_an_avsc(spark, tmp_path, capsys):
    data = tmp_path / "transactions.csv"
    data.write_text("id,amount,is_fraud\n1,2.5,0\n2,3.0,1\n3,,0\n")
    out = tmp_path / "input_schema.avsc"
    assert _cli(["schema", "infer", str(data), "--sample", "10", "--out", str(out)]) == 0
    schema = load_schema(out)
    assert schema.name == "transactions"
    assert [(f.name, f.type.kind, f.nullable, f.role) for f in schema.fields] == [
        ("id", "long", False, "identifier"),
        ("amount", "double", True, "predictor"),
        ("is_fraud", "long", False, "label"),
    ]
    assert _cli(["schema", "infer", str(data)]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "transactions"


def test_cli_reports_bad_input_in_one_line(spark, tmp_path, capsys):
    assert _cli(["schema", "infer", str(tmp_path / "missing.csv")]) == 2
    assert capsys.readouterr().err.strip().endswith("missing.csv does not exist")
    odd = tmp_path / "data.bin"
    odd.write_text("x")
    assert _cli(["schema", "infer", str(odd)]) == 2
    assert "pass --format csv|json|parquet" in capsys.readouterr().err


@pytest.mark.parametrize(("target", "expected"), [("spark-ddl", "probability double NOT NULL, decision string NOT NULL"), ("json-schema", '"$schema"')])
def test_cli_convert(tmp_path, capsys, target, expected):
    from pathlib import Path

    source = Path(__file__).parent / "data" / "schema" / "scores.schema.json"
    assert _cli(["schema", "convert", str(source), "--to", target]) == 0
    assert expected in capsys.readouterr().out


def test_the_modelop_spark_command_has_the_schema_commands(spark, tmp_path, capsys):
    from modelop_spark.cli import main

    data = tmp_path / "rows.jsonl"
    data.write_text('{"id": "a", "score": 0.2}\n{"id": "b", "score": 0.9}\n')
    assert main(["schema", "infer", str(data), "--format", "json"]) == 0
    fields = {f["name"]: f for f in json.loads(capsys.readouterr().out)["fields"]}
    assert fields["score"]["role"] == "score" and fields["id"]["role"] == "identifier"
