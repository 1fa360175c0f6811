"""Names every package shares, each spelled once: job types (ours, the ``moc``/ModelOp short
words and ModelOp Center's ``jobType``), the finished job states, which archives a snapshot may
be and how to tell a zip from a tar, the manifest's file name and the smart-tag patterns.

Pure constants and one-line predicates; the root of the package, so every layer may import it.
"""

from __future__ import annotations

import re

# -- job types ---------------------------------------------------------------------------------

SCORING, METRICS, TRAINING = "scoring", "metrics", "training"
JOB_TYPES: tuple[str, ...] = (SCORING, METRICS, TRAINING)

# the short words of ``moc job create``, the pages and the life-cycle steps (ModelOp's CLI names)
BATCH_JOB, TEST_JOB, TRAINING_JOB = "batchjob", "testjob", "trainingjob"
JOB_WORDS: dict[str, str] = {BATCH_JOB: SCORING, TEST_JOB: METRICS, TRAINING_JOB: TRAINING}

# ModelOp Center's ``jobType`` of a job JSON
MODELOP_JOB_TYPES: dict[str, str] = {"MODEL_BATCH_JOB": SCORING, "MODEL_BATCH_TEST_JOB": METRICS, "MODEL_BATCH_TRAINING_JOB": TRAINING}

# -- job states --------------------------------------------------------------------------------

JOB_STATES: tuple[str, ...] = ("CREATED", "WAITING", "RUNNING", "COMPLETE", "ERROR", "CANCELLED")
FINISHED_STATES: frozenset[str] = frozenset({"COMPLETE", "ERROR", "CANCELLED"})

# -- snapshot archives and files ---------------------------------------------------------------

MANIFEST_FILE = "snapshot.json"
SNAPSHOT_ARCHIVES: tuple[str, ...] = (".tar.gz", ".tgz", ".zip")  # what a snapshot may be packed as
ARCHIVE_SUFFIXES: tuple[str, ...] = (".zip", ".tar.gz", ".tgz", ".tar")  # what the loader extracts
DEFAULT_ARCHIVE_SUFFIX = ".tar.gz"
DEFAULT_ARCHIVE_NAME = "snapshot" + DEFAULT_ARCHIVE_SUFFIX


def is_zip(name: str) -> bool:
    """Zip or tar: the one test every archive reader and writer asks (by the file's name)."""
    return name.lower().endswith(".zip")


def is_snapshot_archive(name: str) -> bool:
    return name.lower().endswith(SNAPSHOT_ARCHIVES)


# -- smart tags (comments in a model's source) -------------------------------------------------

FUNCTION_TAG = re.compile(r"^\s*#\s*modelop\.(init|score|metrics|train)\b\s*$")
SCHEMA_TAG = re.compile(r"^\s*#\s*modelop\.schema\.(\d+)\s*:\s*(\S+)\s*$")

__all__ = [
    "ARCHIVE_SUFFIXES", "BATCH_JOB", "DEFAULT_ARCHIVE_NAME", "DEFAULT_ARCHIVE_SUFFIX", "FINISHED_STATES", "FUNCTION_TAG",
    "JOB_STATES", "JOB_TYPES", "JOB_WORDS", "MANIFEST_FILE", "METRICS", "MODELOP_JOB_TYPES", "SCHEMA_TAG", "SCORING",
    "SNAPSHOT_ARCHIVES", "TEST_JOB", "TRAINING", "TRAINING_JOB", "is_snapshot_archive", "is_zip",
]
