"""Keep the README honest: its commands, job file and documented options exist."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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


# --- Every code block runs as written, on a copy of the repository after `make demo` ---------

def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.M | re.S)


def _commands(block: str) -> list[str]:
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def after_make_demo(tmp_path_factory, fraud_example):
    """A copy of the repository's examples, built as `make demo` builds them (smaller), with the
    project's .venv beside them: the folder a newcomer runs the README from."""
    clone = tmp_path_factory.mktemp("clone")
    ignore = shutil.ignore_patterns("data", "model.pkl", "snapshot.json", "__pycache__")
    shutil.copytree(ROOT / "examples", clone / "examples", ignore=ignore)
    shutil.copytree(ROOT / "examples" / "training" / "churn" / "data", clone / "examples" / "training" / "churn" / "data")
    for name in ("examples/training/churn/snapshot/snapshot.json",):
        shutil.copy(ROOT / name, clone / name)
    shutil.copytree(ROOT / "submit", clone / "submit")
    (clone / ".venv").symlink_to(Path(sys.executable).parent.parent)
    built, _ = fraud_example  # examples/fraud/build.py's output, as make demo writes it (smaller)
    shutil.copytree(built, clone / "examples" / "fraud", dirs_exist_ok=True)
    return clone


def test_every_json_block_parses():
    for block in _blocks("json"):
        json.loads(block)


def _bare_environment() -> dict[str, str]:
    """What a new shell has: no activated venv, no SPARK_HOME, no PYSPARK_PYTHON."""
    keep = ("HOME", "JAVA_HOME", "TMPDIR", "MODELOP_SPARK_CACHE")
    return {"PATH": "/usr/bin:/bin", "SPARK_LOCAL_IP": "127.0.0.1", **{k: os.environ[k] for k in keep if k in os.environ}}


def test_the_shell_blocks_run_as_written(spark, after_make_demo, monkeypatch, capsys):
    from modelop_spark.cli import main

    monkeypatch.chdir(after_make_demo)
    commands = [command for block in _blocks("sh") for command in _commands(block)]
    assert commands, "the README has runnable sh blocks"
    for command in commands:
        program, *argv = shlex.split(command)
        if program == ".venv/bin/modelop-spark":  # in this process, on the suite's session
            try:
                code = main(argv)
            except SystemExit as exit_:  # --version
                code = exit_.code
            assert code == 0, f"{command}: {capsys.readouterr()}"
        elif program == ".venv/bin/modelop-spark-submit":  # a real spark-submit, from a bare shell
            run = subprocess.run([program, *argv], env=_bare_environment(), capture_output=True, text=True, timeout=600)
            assert run.returncode == 0, f"{command}: {run.stderr[-3000:]}"
            assert json.loads(run.stdout[run.stdout.index("{"):])["status"] == "COMPLETE"
            # quiet: no Spark INFO lines; the JVM's incubator warning and our progress lines only
            noise = [line for line in run.stderr.splitlines() if not line.startswith("progress: ")]
            assert " INFO " not in run.stderr and len(noise) <= 2, run.stderr[-3000:]
        else:
            raise AssertionError(f"README sh block runs {program}: teach this test how to run it")
    assert json.loads((after_make_demo / "out" / "result.json").read_text())["status"] == "COMPLETE"
    assert (after_make_demo / "out" / "quick_scores" / "_modelop_job_result.json").is_file()


def test_the_notebook_blocks_run_as_written_in_a_fresh_interpreter(after_make_demo):
    """The user creates the session, as in a notebook; its Python workers must run the
    notebook's interpreter (the fraud model needs scikit-learn, which the system Python lacks)."""
    check = textwrap.dedent("""
        import sys
        import pandas as pd
        worker = spark.range(1).mapInPandas(lambda frames: (pd.DataFrame({"exe": [sys.executable]}) for _ in frames), "exe string")
        assert worker.first().exe == sys.executable, (worker.first().exe, sys.executable)
        print("README-OK")
    """)
    script = after_make_demo / "readme_notebook.py"
    before = textwrap.dedent("""
        import os, sys
        import modelop_spark
        from pyspark import SparkContext
        assert SparkContext._active_spark_context is None, "importing modelop_spark started Spark"
        assert os.environ["PYSPARK_PYTHON"] == sys.executable
    """)
    script.write_text(before + "\n".join(_blocks("python")) + check)
    run = subprocess.run([".venv/bin/python", script.name], cwd=after_make_demo, env=_bare_environment(),
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0 and "README-OK" in run.stdout, run.stderr[-4000:]
