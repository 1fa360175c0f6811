"""One SparkSession for the whole run (Spark start-up costs seconds), and the CI rule that a
skipped test is a failure."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def spark():
    from modelop_spark.runtime.session import get_or_create_session

    session = get_or_create_session(
        master="local[2]",
        conf={"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"},
    )
    yield session
    session.stop()


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        reporter.write_line(f"CI=true: {skipped} skipped test(s) count as failures", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def fraud_example(tmp_path_factory):
    """The fraud example built small in a temp folder: (root, snapshot path)."""
    import importlib.util
    from pathlib import Path

    build_py = Path(__file__).resolve().parent.parent / "examples" / "fraud" / "build.py"
    spec = importlib.util.spec_from_file_location("fraud_build", build_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = tmp_path_factory.mktemp("fraud")
    snapshot = module.build(root, rows=2000)
    return root, snapshot
