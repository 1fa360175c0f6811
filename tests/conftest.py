"""One SparkSession for the whole run (Spark start-up costs seconds), and the CI rule that a
skipped test is a failure."""

from __future__ import annotations

import os
import socket

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def spark():
    from modelop_spark.runtime.session import get_or_create_session

    session = get_or_create_session(
        master="local[2]",
        conf={
            "spark.sql.shuffle.partitions": "4",
            "spark.ui.enabled": "false",
            # for the Spark Connect tests, which serve this same JVM on loopback
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(free_port()),
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def connect_spark(spark):
    """A Spark Connect client session, served by the test JVM on a loopback port."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    service = spark._jvm.org.apache.spark.sql.connect.service.SparkConnectService
    service.start(spark.sparkContext._jsc.sc())
    port = spark.sparkContext.getConf().get("spark.connect.grpc.binding.port")
    session = ConnectSession.builder.remote(f"sc://127.0.0.1:{port}").getOrCreate()
    yield session
    session.stop()
    none = spark._jvm.scala.Option.empty()
    service.stop(none, none)  # Scala defaults do not cross py4j: pass both Options


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
