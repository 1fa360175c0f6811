"""The shared names are spelled once (modelop_spark/vocabulary.py): what cannot import them (the
job file's JSON Schema) and what derives from them (the control plane's states, moc's choices,
the wizard's job types, the life-cycle steps) agree with them."""

from __future__ import annotations

import json
from pathlib import Path

from modelop_spark import vocabulary
from modelop_spark.controlplane.jobrequest import job_type_of
from modelop_spark.controlplane.states import FINISHED, JobStatus
from modelop_spark.mlc.handlers import HANDLERS
from modelop_spark.moc.cli import build_parser
from modelop_spark.ui.wizard import JOB_TYPES as WIZARD_JOB_TYPES

SCHEMA = Path(__file__).resolve().parent.parent / "modelop_spark" / "jobs" / "job.schema.json"


def test_the_job_file_schema_names_the_job_types_of_the_vocabulary():
    assert json.loads(SCHEMA.read_text())["properties"]["job_type"]["enum"] == list(vocabulary.JOB_TYPES)


def test_every_job_word_means_one_job_type_wherever_it_is_offered():
    assert {job_type_of(word) for word in vocabulary.JOB_WORDS} == set(vocabulary.JOB_TYPES)
    assert set(vocabulary.MODELOP_JOB_TYPES.values()) == set(vocabulary.JOB_TYPES)
    assert set(WIZARD_JOB_TYPES) == set(vocabulary.JOB_WORDS)
    assert {vocabulary.TEST_JOB, vocabulary.TRAINING_JOB} <= set(HANDLERS)  # the life cycles' job steps
    args = build_parser().parse_args(["job", "list", "--type", vocabulary.TRAINING_JOB, "--status", "CANCELLED"])
    assert (args.type, args.status) == ("trainingjob", "CANCELLED")


def test_the_control_plane_states_are_the_vocabulary_states():
    assert tuple(JobStatus) == vocabulary.JOB_STATES
    assert {str(s) for s in FINISHED} == vocabulary.FINISHED_STATES


def test_zip_or_tar_is_one_question():
    assert vocabulary.is_zip("Model.ZIP") and not vocabulary.is_zip("model.tar.gz")
    assert vocabulary.is_snapshot_archive("m.tgz") and not vocabulary.is_snapshot_archive("m.tar")
    assert vocabulary.SCHEMA_TAG.match("  # modelop.schema.0: input.avsc").groups() == ("0", "input.avsc")
