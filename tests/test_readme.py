"""Keep the README honest: its commands, job file and documented options exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

from modelop_spark.cli import build_parser
from modelop_spark.jobs.spec import JobSpec

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_first_lines_give_the_two_commands():
    opening = README.split("```")[1]
    assert "make demo" in opening and "make test" in opening
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_the_readme_job_file_is_valid_and_matches_the_example():
    block = next(b for b in README.split("```json")[1:] if '"job_type": "scoring"' in b).split("```")[0]
    spec = JobSpec.from_dict(json.loads(block))
    example = JobSpec.from_dict(json.loads((ROOT / "examples/fraud/jobs/score.json").read_text()))
    assert spec.to_dict() == example.to_dict()


def test_documented_cli_options_exist():
    run = build_parser()._subparsers._group_actions[0].choices["run"]
    options = {o for action in run._actions for o in action.option_strings}
    for option in re.findall(r"(--[a-z][a-z-]+)", README.split("## Three ways to use it")[1].split("## Job files")[0]):
        if option not in ("--master", "--conf", "--result", "--json"):
            continue
        assert option in options
    assert {"--master", "--conf", "--result", "--json"} <= options


def test_documented_job_options_are_in_the_job_schema():
    schema = json.loads((ROOT / "modelop_spark/jobs/job.schema.json").read_text())
    known = set(schema["$defs"]["options"]["properties"])
    documented = set(re.findall(r"`options\.([a-z_]+)`", README))
    assert documented <= known, documented - known
