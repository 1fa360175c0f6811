"""Schema formats: ModelOp extended Avro, JSON Schema and Spark StructType, one model. No Spark
session needed: these are conversions of plain values."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import fastavro
import jsonschema
import pytest
from pyspark.sql import types as T

from modelop_spark.errors import SchemaError
from modelop_spark.schema import (
    DataType,
    Field,
    Schema,
    from_avro,
    from_json_schema,
    from_struct_type,
    load_schema,
    to_avro,
    to_json_schema,
    to_struct_type,
)

DATA = Path(__file__).parent / "data" / "schema"
AVSC = DATA / "fraud_input.avsc"
JSON_SCHEMA = DATA / "scores.schema.json"


def _anonymous(schema: Schema) -> Schema:
    return replace(schema, source=None)


def test_avro_file_reads_types_and_modelop_attributes():
    schema = load_schema(AVSC)
    assert schema.name == "FraudInput" and schema.namespace == "com.modelop.example"
    amount = schema.field("amount")
    assert (amount.type.kind, amount.nullable, amount.role, amount.data_class) == ("double", False, "predictor", "numerical")
    assert amount.drift_candidate and amount.minimum == 0
    assert amount.special_values == ({"values": [-1], "purpose": "unknown amount"},)
    assert schema.field("merchant_category").type == DataType(
        kind="enum", name="MerchantCategory", symbols=("grocery", "travel", "online")
    )
    gender = schema.field("gender")
    assert gender.nullable and gender.protected_class and gender.has_default and gender.default is None
    assert schema.field("card_country").pattern == "^[A-Z]{2}$"
    assert schema.field("tx_date").type.kind == "date"
    assert schema.field("tx_time").type.kind == "timestamp-millis"
    assert schema.field("fee").type == DataType(kind="decimal", precision=10, scale=2)
    tags = schema.field("tags")
    assert tags.type.kind == "array" and tags.type.items == DataType(kind="string") and not tags.type.element_nullable
    assert schema.field("attributes").type.values == DataType(kind="long")
    address = schema.field("address").type
    assert address.kind == "record" and [f.name for f in address.fields] == ["city", "zip"]
    assert schema.field("is_fraud").role == "label"


def test_avro_round_trip_through_model_is_valid_avro_and_lossless():
    schema = load_schema(AVSC)
    written = to_avro(schema)
    fastavro.parse_schema(written)  # what we write, Avro tools read
    assert _anonymous(from_avro(written)) == _anonymous(schema)


def test_struct_type_round_trip_keeps_roles_and_enums():
    schema = load_schema(AVSC)
    struct = to_struct_type(schema)
    assert struct["amount"].dataType == T.DoubleType() and not struct["amount"].nullable
    assert struct["fee"].dataType == T.DecimalType(10, 2)
    assert struct["tx_time"].dataType == T.TimestampType()
    assert struct["attributes"].dataType == T.MapType(T.StringType(), T.LongType(), True)
    assert struct["address"].dataType == T.StructType(
        [T.StructField("city", T.StringType(), False), T.StructField("zip", T.StringType(), True)]
    )
    back = from_struct_type(struct, name=schema.name)
    assert back.fields == schema.fields


def test_plain_struct_type_becomes_a_schema_without_roles():
    struct = T.StructType(
        [
            T.StructField("id", T.LongType(), False),
            T.StructField("tags", T.ArrayType(T.StringType(), True)),
            T.StructField("ts", T.TimestampNTZType()),
            T.StructField("n", T.ShortType()),
        ]
    )
    schema = from_struct_type(struct)
    assert [(f.name, f.type.describe(), f.nullable, f.role) for f in schema.fields] == [
        ("id", "long", False, None),
        ("tags", "array<string>", True, None),
        ("ts", "local-timestamp-micros", True, None),
        ("n", "int", True, None),
    ]
    assert to_struct_type(schema, with_metadata=False)["id"].dataType == T.LongType()


def test_struct_type_with_non_string_map_keys_is_refused():
    struct = T.StructType([T.StructField("m", T.MapType(T.IntegerType(), T.StringType()))])
    with pytest.raises(SchemaError, match="'m': map keys must be strings"):
        from_struct_type(struct)


def test_json_schema_document_reads_checks_and_roles():
    schema = load_schema(JSON_SCHEMA)
    assert schema.name == "FraudOutput"
    probability = schema.field("probability")
    assert (probability.type.kind, probability.nullable, probability.minimum, probability.maximum) == ("double", False, 0, 1)
    assert probability.role == "score"
    assert schema.field("decision").type.symbols == ("approve", "review", "decline")
    assert schema.field("model_version").nullable and schema.field("model_version").pattern
    assert schema.field("scored_at").type.kind == "timestamp-micros" and schema.field("scored_at").nullable
    count = schema.field("count")
    assert count.type.kind == "int" and count.minimum == 0 and count.exclusive_minimum


def test_json_schema_round_trip_and_is_a_valid_document():
    schema = load_schema(JSON_SCHEMA)
    document = to_json_schema(schema)
    jsonschema.Draft202012Validator.check_schema(document)
    assert _anonymous(from_json_schema(document)) == _anonymous(schema)


def test_avro_to_json_schema_to_struct_type_keeps_spark_types():
    schema = load_schema(AVSC)
    via_json = from_json_schema(to_json_schema(schema))
    # JSON Schema has no timestamp width: Spark's type is the same either way.
    assert to_struct_type(via_json, with_metadata=False) == to_struct_type(schema, with_metadata=False)
    assert via_json.field("gender").protected_class and via_json.field("is_fraud").role == "label"


def test_json_schema_validates_real_records():
    document = to_json_schema(load_schema(JSON_SCHEMA))
    validator = jsonschema.Draft202012Validator(document)
    assert validator.is_valid({"transaction_id": "t1", "probability": 0.2, "decision": "approve"})
    assert not validator.is_valid({"transaction_id": "t1", "probability": 1.2, "decision": "approve"})
    assert not validator.is_valid({"transaction_id": "t1", "probability": 0.2, "decision": "maybe"})


def test_modelop_job_metadata_wrapper_is_accepted():
    definition = json.loads(AVSC.read_text())
    assert load_schema([{"schemaDefinition": definition}]).name == "FraudInput"
    assert load_schema({"schemaDefinition": json.dumps(definition)}).name == "FraudInput"
    assert load_schema(json.dumps(definition)).field("amount").type.kind == "double"


def test_model_dicts_round_trip():
    schema = load_schema(AVSC)
    assert Schema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema


# Hostile schemas: each gives one SchemaError naming the file and the problem.


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_invalid_json_names_file_and_position(tmp_path):
    path = _write(tmp_path, "broken.avsc", '{"type": "record", "name": "X", "fields": [}')
    with pytest.raises(SchemaError, match=r"broken\.avsc is not valid JSON \(line 1, column 44"):
        load_schema(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SchemaError, match="nowhere.avsc does not exist"):
        load_schema(tmp_path / "nowhere.avsc")


def test_unknown_type_is_named(tmp_path):
    path = _write(tmp_path, "unknown.avsc", json.dumps({"type": "record", "name": "X", "fields": [{"name": "a", "type": "money"}]}))
    with pytest.raises(SchemaError, match=r"unknown\.avsc: unknown Avro type 'money'"):
        load_schema(path)


def test_recursive_record_is_refused_with_the_field(tmp_path):
    document = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "value", "type": "long"}, {"name": "next", "type": ["null", "Node"]}],
    }
    path = _write(tmp_path, "linked.avsc", json.dumps(document))
    with pytest.raises(SchemaError, match=r"linked\.avsc: field 'next': record 'Node' contains itself"):
        load_schema(path)


def test_nested_recursion_is_refused():
    document = {
        "type": "record",
        "name": "Tree",
        "fields": [
            {"name": "child", "type": {"type": "record", "name": "Leaf", "fields": [{"name": "up", "type": ["null", "Tree"]}]}}
        ],
    }
    with pytest.raises(SchemaError, match="field 'child.up': record 'Tree' contains itself"):
        load_schema(document)


def test_named_type_used_twice_is_fine():
    document = {
        "type": "record",
        "name": "Trip",
        "fields": [
            {"name": "start", "type": {"type": "record", "name": "Point", "fields": [{"name": "x", "type": "double"}]}},
            {"name": "end", "type": "Point"},
        ],
    }
    schema = load_schema(document)
    assert schema.field("end").type == schema.field("start").type
    assert to_avro(schema)["fields"][1]["type"] == "Point"


def test_multi_type_union_is_refused():
    document = {"type": "record", "name": "X", "fields": [{"name": "a", "type": ["null", "int", "string"]}]}
    with pytest.raises(SchemaError, match=r"field 'a': union \[null, int, string\] is not supported"):
        load_schema(document)


def test_top_level_must_be_a_record_or_object():
    with pytest.raises(SchemaError, match="neither an Avro record schema"):
        load_schema({"type": "string"})
    with pytest.raises(SchemaError, match="expected an Avro record schema at the top level, found type 'array'"):
        from_avro({"type": "array", "items": "string"})


def test_bad_role_and_data_class_list_valid_values():
    document = {"type": "record", "name": "X", "fields": [{"name": "a", "type": "int", "role": "feature"}]}
    with pytest.raises(SchemaError, match="role 'feature' is not valid; expected one of predictor, identifier"):
        load_schema(document)
    document["fields"][0] = {"name": "a", "type": "int", "dataClass": "ordinal"}
    with pytest.raises(SchemaError, match="dataClass 'ordinal' is not valid"):
        load_schema(document)


def test_invalid_json_schema_document_is_reported():
    with pytest.raises(SchemaError, match="not a valid JSON Schema at properties/a/type"):
        load_schema({"type": "object", "properties": {"a": {"type": "decimal"}}})
    with pytest.raises(SchemaError, match=r"field 'a': \$ref is not supported"):
        load_schema({"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}})


def test_range_on_a_text_field_is_refused():
    with pytest.raises(SchemaError, match="field 'a': minimum/maximum need a numeric type, found string"):
        Field(name="a", type=DataType(kind="string"), minimum=1)


def test_duplicate_field_names_are_refused():
    document = {"type": "record", "name": "X", "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "long"}]}
    with pytest.raises(SchemaError, match="schema X: field .a. appears twice"):
        load_schema(document)


def test_decimal_wider_than_spark_is_refused():
    schema = Schema(name="X", fields=(Field(name="d", type=DataType(kind="decimal", precision=40, scale=2)),))
    with pytest.raises(SchemaError, match="decimal\\(40,2\\) is wider than Spark's 38 digits"):
        to_struct_type(schema)
