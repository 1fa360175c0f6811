"""The one path every job takes (jobs/runner.py): checks that need only the job file and the
snapshot fail before a SparkSession is asked for; runners are registered objects; the package
imports only downward and never hides an import failure of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from modelop_spark.jobs import runner
from modelop_spark.jobs.runner import RUNNERS, Runner, run_job
from tests.snapshots import RECORD_MODEL, make_snapshot

PACKAGE = Path(__file__).resolve().parent.parent / "modelop_spark"


@pytest.fixture
def no_session(monkeypatch):
    """run_job must not ask for a session: fail loudly if it does."""

    def refuse(*args, **kwargs):
        raise AssertionError("a SparkSession was requested")

    monkeypatch.setattr(runner, "get_or_create_session", refuse)


@pytest.fixture
def snapshot(tmp_path):
    return make_snapshot(tmp_path / "snap", RECORD_MODEL, files={"factor.txt": "2"})


@pytest.mark.parametrize(
    "job, message",
    [
        (
            {"job_type": "metrics", "options": {"baseline_input": "ref"}},
            "options.baseline_input: no input is named 'ref'",
        ),
        (
            {"job_type": "metrics", "outputs": [{"url": "m.csv"}]},
            "output m.csv: a metrics job writes one JSON document; use format json, found csv",
        ),
        (
            {"job_type": "scoring", "options": {"input_schema_check": "strict"}},
            "input schema checking is on (input_schema_check=strict) but neither the job nor snapshot",
        ),
        (
            {"job_type": "scoring", "inputs": [{"url": "a.csv"}, {"url": "b.csv"}]},
            "inputs: a scoring job reads one input asset, found 2",
        ),
        (
            {"job_type": "training", "snapshot": "file:///nowhere/../x", "options": {"max_train_rows": 0}},
            "options.max_train_rows: expected a whole number >= 1",
        ),
    ],
)
def test_what_the_job_and_snapshot_tell_fails_before_spark(no_session, snapshot, tmp_path, job, message):
    document = {"snapshot": str(snapshot), "inputs": [{"url": str(tmp_path / "in.csv")}], "outputs": [{"kind": "embedded"}], **job}
    document["snapshot"] = str(snapshot)
    result = run_job(document)
    assert result.status == "ERROR"
    assert message in result.error["message"]


def test_a_training_job_without_a_place_for_its_snapshot_fails_before_spark(no_session, snapshot, tmp_path):
    result = run_job({"job_type": "training", "model": {"source_code": "def train(df):\n    pass\n"}, "inputs": [{"url": "t.csv"}]})
    assert result.status == "ERROR"
    assert result.error["message"].startswith("options.snapshot_output: say where the new snapshot goes")


def test_runners_are_registered_objects_for_every_job_type():
    assert set(RUNNERS) == {"scoring", "metrics", "training"}
    assert all(isinstance(r, Runner) and callable(r.check) and callable(r.run) for r in RUNNERS.values())


# Each package may import the root vocabulary and the packages listed before it, never one after.
LAYERS = ["(root)", "assets", "schema", "evaluation", "runtime", "explain", "jobs", "commands", "controlplane", "agent", "moc", "mlc", "ui", "(api)"]
API = {"__init__.py", "cli.py"}
ENTRY_SCRIPTS = {"agent/submit_entry.py"}  # spark-submit's script for agent jobs: the command line's peer


def _package_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    if relative.as_posix() in ENTRY_SCRIPTS:
        return "(api)"
    if len(relative.parts) > 1:
        return relative.parts[0]
    return "(api)" if relative.name in API else "(root)"


def _target_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return "(api)" if len(parts) == 1 or f"{parts[1]}.py" in API else "(root)"


def _our_imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "modelop_spark":
            for alias in node.names:  # from modelop_spark import errors
                yield node, f"modelop_spark.{alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("modelop_spark"):
            yield node, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("modelop_spark"):
                    yield node, alias.name


def test_no_package_imports_upward():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _package_of(path)
        if source not in LAYERS:
            continue
        for node, module in _our_imports(ast.parse(path.read_text())):
            target = _target_of(module)
            if target in LAYERS and LAYERS.index(target) > LAYERS.index(source):
                upward.append(f"{path.relative_to(PACKAGE)}:{node.lineno} imports {module}")
    assert upward == []


def test_no_import_failure_of_our_own_code_is_hidden():
    hidden = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Try):
                continue
            guarded = [m for stmt in node.body for _, m in _our_imports(stmt)]
            catches_import_error = any(
                h.type is not None and "ImportError" in ast.unparse(h.type) for h in node.handlers
            )
            if guarded and catches_import_error:
                hidden.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert hidden == []
