"""Parsing ``KEY=VALUE`` command-line arguments (pure; no Spark)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from modelop_spark.errors import SpecError
from modelop_spark.jobs.modelop_job import is_modelop_job

__all__ = ["conf_pairs", "job_with_parameters", "parameter_pairs"]


_EXAMPLES = {"--conf": "spark.executor.memory=4g", "--param": "threshold=0.7"}


def _split(value: str, option: str) -> tuple[str, str]:
    key, sep, setting = value.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"{option} expects KEY=VALUE, found {value!r}: write e.g. {option} {_EXAMPLES[option]}")
    return key.strip(), setting.strip()


def conf_pairs(values: Sequence[str]) -> dict[str, str]:
    """``--conf`` values as Spark settings."""
    return dict(_split(value, "--conf") for value in values)


def parameter_pairs(values: Sequence[str]) -> dict[str, Any]:
    """``--param`` values as job parameters: JSON when the value parses as JSON (``0.7``,
    ``true``, ``[1,2]``), a string otherwise (``region=emea``)."""
    parameters: dict[str, Any] = {}
    for value in values:
        key, text = _split(value, "--param")
        try:
            parameters[key] = json.loads(text)
        except json.JSONDecodeError:
            parameters[key] = text
    return parameters


def job_with_parameters(document: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The job document with parameters overridden: ``parameters`` in the runtime's own job file,
    ``jobParameters`` in a ModelOp job JSON (where it may be a JSON string)."""

    job = dict(document)
    if not overrides:
        return job
    key = "jobParameters" if is_modelop_job(job) else "parameters"
    current = job.get(key) or {}
    if isinstance(current, str):
        try:
            current = json.loads(current) if current.strip() else {}
        except json.JSONDecodeError as exc:
            raise SpecError(f"{key}: not a JSON object ({exc.msg})") from exc
    job[key] = {**current, **overrides}
    return job
