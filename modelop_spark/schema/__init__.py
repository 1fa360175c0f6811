"""Schemas: ModelOp extended Avro and JSON Schema, one model, Spark types, validation."""
