import json
from pathlib import Path

import pytest

from modelop_spark.errors import SpecError
from modelop_spark.jobs.spec import JobSpec, load_job_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "fraud" / "jobs"


def minimal(**overrides):
    job = {
        "job_type": "scoring",
        "snapshot": "snap",
        "inputs": [{"url": "in.csv"}],
        "outputs": [{"url": "out", "format": "parquet"}],
    }
    job.update(overrides)
    return job


def test_own_spec_round_trips():
    spec = JobSpec.from_dict(minimal(options={"key_columns": ["id"], "threshold": 0.3}))
    assert spec.inputs[0].kind == "file" and spec.inputs[0].format == "csv"
    assert spec.options.key_columns == ("id",) and spec.options.extra == {"threshold": 0.3}
    again = JobSpec.from_dict(spec.to_dict())
    assert again.inputs == spec.inputs and again.options == spec.options


def test_a_job_without_an_id_gets_one_from_its_content():
    assert JobSpec.from_dict(minimal()).job_id == JobSpec.from_dict(minimal()).job_id
    assert JobSpec.from_dict(minimal()).job_id != JobSpec.from_dict(minimal(snapshot="other")).job_id


@pytest.mark.parametrize(
    "change, message",
    [
        ({"job_type": "predict"}, "job_type: 'predict' is not one of"),
        ({"options": {"arrow_batch_size": 0}}, "options.arrow_batch_size: 0 is less than the minimum of 1"),
        ({"inputs": [{"url": "x", "format": "xlsx"}]}, "inputs[0].format: expected one of csv, json, parquet, avro"),
        ({"outputs": [{"url": "x.csv", "mode": "upsert"}]}, "outputs.0.mode: 'upsert' is not one of"),
        ({"surprise": 1}, "Additional properties are not allowed ('surprise'"),
    ],
)
def test_errors_name_the_field(change, message):
    with pytest.raises(SpecError) as info:
        JobSpec.from_dict(minimal(**change))
    assert message in str(info.value)


def test_modelop_job_json_translates():
    spec = load_job_file(str(EXAMPLES / "modelop_score.json"))
    assert spec.job_type == "scoring" and spec.job_id.startswith("7f3c2a8e")
    assert spec.model.snapshot == "examples/fraud/snapshot" and spec.model.functions["score"] == "action"
    assert spec.inputs[0].url.endswith("transactions.csv") and spec.inputs[0].format == "csv"
    assert spec.outputs[0].options == {"single_file": True}
    assert spec.parameters == {"threshold": 0.5}
    assert spec.document["jobType"] == "MODEL_BATCH_JOB"  # what init(job_json) will see


def test_modelop_inline_source_embedded_data_and_schema_checking():
    document = {
        "jobType": "MODEL_BATCH_TEST_JOB",
        "inputData": [{"assetType": "EMBEDDED", "fileFormat": "JSON", "data": '{"a": 1}\n{"a": 2}\n'}],
        "outputData": [{"assetType": "EMBEDDED"}],
        "model": {
            "storedModel": {
                "modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True, "sourceCode": "def score(r):\n    return r\n"}],
                "modelMetaData": {"name": "m", "enableInputSchemaChecking": True, "inputSchema": [{"schemaDefinition": {"type": "record", "name": "r", "fields": []}}]},
            }
        },
        "jobParameters": json.dumps({"group": "A"}),
    }
    spec = JobSpec.from_dict(document)
    assert spec.job_type == "metrics"
    assert [dict(r) for r in spec.inputs[0].records] == [{"a": 1}, {"a": 2}]
    assert spec.options.input_schema_check == "quarantine"
    assert spec.model.input_schema == {"type": "record", "name": "r", "fields": []}
    assert spec.parameters == {"group": "A"}


def test_modelop_job_without_source_is_refused():
    with pytest.raises(SpecError, match="no SOURCE_CODE asset"):
        JobSpec.from_dict({"jobType": "MODEL_BATCH_JOB", "model": {"storedModel": {"modelAssets": []}}})


def test_bad_job_files(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        load_job_file(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"job_type": }')
    with pytest.raises(SpecError, match="invalid JSON at line 1 column 14"):
        load_job_file(str(broken))


def test_a_modelop_training_job_names_its_new_snapshot_in_output_data():
    document = {
        "jobType": "MODEL_BATCH_TRAINING_JOB",
        "inputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": "train.csv", "fileFormat": "CSV"}],
        "outputData": [{"assetType": "EXTERNAL_FILE", "fileUrl": "s3://models/churn-2.tar.gz"}],
        "model": {"storedModel": {"modelAssets": [{"assetType": "SOURCE_CODE", "primaryModelSource": True, "sourceCode": "def train(df):\n    pass\n"}]}},
    }
    spec = JobSpec.from_dict(document)
    assert spec.outputs == () and spec.options.extra["snapshot_output"] == "s3://models/churn-2.tar.gz"


def _modelop_job(**extra):
    document = json.loads((EXAMPLES / "modelop_score.json").read_text())
    document.update(extra)
    return document


@pytest.mark.parametrize(
    "options, message",
    [
        ({"input_schema_check": "bogus"}, "job: options.input_schema_check: 'bogus' is not one of"),
        ({"arrow_batch_size": 0}, "job: options.arrow_batch_size: 0 is less than the minimum of 1"),
    ],
)
def test_a_modelop_job_file_gets_the_same_schema_check(options, message):
    # A ModelOp job is translated into the runtime's own document first, then checked like one.
    with pytest.raises(SpecError, match=message):
        JobSpec.from_dict(_modelop_job(options=options))


@pytest.mark.parametrize(
    "job_type, options, message",
    [
        ("metrics", {"builtin_evaluation": "sometimes"}, "options.builtin_evaluation: 'sometimes' is not valid"),
        ("metrics", {"evaluation": {"thresholds": [2]}}, "evaluation option 'thresholds': 2 is not a number in"),
        ("training", {"max_train_rows": 0}, "options.max_train_rows: expected a whole number >= 1"),
        ("training", {"if_exists": "sometimes"}, "options.if_exists: expected replace_own, replace or error"),
    ],
)
def test_options_are_typed_for_the_job_type_when_the_file_is_parsed(job_type, options, message):
    with pytest.raises(SpecError, match=message):
        JobSpec.from_dict(minimal(job_type=job_type, options=options, outputs=[]))


def test_typed_options_of_each_job_type():
    metrics = JobSpec.from_dict(minimal(job_type="metrics", options={"score_first": True}, parameters={"max_metrics_rows": 10}))
    assert metrics.metrics.score_first and metrics.metrics.max_metrics_rows == 10 and metrics.training is None
    training = JobSpec.from_dict(minimal(job_type="training", options={"max_train_rows": 5}, outputs=[]))
    assert training.training.max_train_rows == 5 and training.metrics is None
    assert JobSpec.from_dict(minimal()).metrics is None
