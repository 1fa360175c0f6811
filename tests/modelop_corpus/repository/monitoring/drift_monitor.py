"""A ModelOp Center-style PySpark drift monitor, as ModelOp's monitor models are written: init(job)
reads the base model's extended input schema from the job's modelMetaData, metrics picks its
inputs by assetRole, reads them itself, computes with the helper module shipped beside it (a
second SOURCE_CODE asset), writes one JSON document to its one output with Spark's default
error-if-exists mode, and stops the session."""

import json

import monitor_helpers
from pyspark.sql import SparkSession

SPARK = SparkSession.builder.appName("modelop-corpus-drift-monitor").getOrCreate()
DRIFT_FIELDS = {}


# modelop.init
def init(job_json):
    global DRIFT_FIELDS
    metadata = job_json["model"]["storedModel"]["modelMetaData"]
    schema = metadata["inputSchema"][0]["schemaDefinition"]
    if isinstance(schema, str):
        schema = json.loads(schema)
    DRIFT_FIELDS = {f["name"]: f.get("dataClass", "numerical") for f in schema["fields"] if f.get("driftCandidate")}


def by_role(assets, role):
    found = [a for a in assets if a.get("assetRole") == role]
    if len(found) != 1:
        raise ValueError(f"expected one input with assetRole {role}, got {len(found)}")
    return found[0]["fileUrl"]


# modelop.metrics
def metrics(external_inputs, external_outputs, external_model_assets):
    baseline = monitor_helpers.read_csv(SPARK, by_role(external_inputs, "TRAINING_DATA"))
    comparator = monitor_helpers.read_csv(SPARK, by_role(external_inputs, "COMPARATOR_DATA"))
    if len(external_outputs) != 1:
        raise ValueError(f"Only one output asset should be provided, got {len(external_outputs)}")
    result = {}
    for name, data_class in sorted(DRIFT_FIELDS.items()):
        if data_class == "categorical":
            result[f"{name}_new_categories"] = monitor_helpers.new_categories(baseline, comparator, name)
        else:
            result[f"{name}_mean_shift"] = monitor_helpers.standardized_mean_shift(baseline, comparator, name)
    result["max_mean_shift"] = max(abs(v) for k, v in result.items() if k.endswith("_mean_shift"))
    SPARK.createDataFrame([result]).coalesce(1).write.json(external_outputs[0]["fileUrl"])
    SPARK.stop()  # and returns None: the result is in the output
