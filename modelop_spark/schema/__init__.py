"""Schemas: ModelOp extended Avro and JSON Schema, one model, Spark types, validation.

    from modelop_spark.schema import load_schema, validate, to_struct_type
    schema = load_schema("input_schema.avsc")
    checked = validate(df, schema, mode="quarantine", stage="input_schema")
    checked.valid, checked.rejected
"""

from modelop_spark.schema.avro import from_avro, to_avro
from modelop_spark.schema.infer import infer_schema
from modelop_spark.schema.json_schema import from_json_schema, to_json_schema
from modelop_spark.schema.loader import load_schema
from modelop_spark.schema.model import DataType, Field, Schema
from modelop_spark.schema.reading import ReadPlan, ReadSplit, read_plan, split_malformed
from modelop_spark.schema.roles import (
    Roles,
    drift_candidate_columns,
    identifier_columns,
    label_column,
    predictor_columns,
    protected_columns,
    roles_of,
    score_column,
    weight_column,
)
from modelop_spark.schema.rules import EXTRA_FIELD_POLICIES, MODES
from modelop_spark.schema.spark_types import from_struct_type, to_ddl, to_struct_type
from modelop_spark.schema.validate import Validation, validate

__all__ = [
    "EXTRA_FIELD_POLICIES",
    "MODES",
    "DataType",
    "Field",
    "ReadPlan",
    "ReadSplit",
    "Roles",
    "Schema",
    "Validation",
    "drift_candidate_columns",
    "from_avro",
    "from_json_schema",
    "from_struct_type",
    "identifier_columns",
    "infer_schema",
    "label_column",
    "load_schema",
    "predictor_columns",
    "protected_columns",
    "read_plan",
    "roles_of",
    "score_column",
    "split_malformed",
    "to_avro",
    "to_ddl",
    "to_json_schema",
    "to_struct_type",
    "validate",
    "weight_column",
]
