import pytest

from modelop_spark.config import parse_spark_defaults, spark_settings
from modelop_spark.errors import SessionError
from modelop_spark.runtime.session import check_java, parse_java_major


def test_java_versions_are_read_in_both_numbering_styles():
    assert parse_java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert parse_java_major('java version "1.8.0_412"') == 8
    assert parse_java_major("garbage") is None


def test_missing_java_gives_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(SessionError) as info:
        check_java()
    assert "Java 17 or newer" in str(info.value) and "JAVA_HOME" in str(info.value)
    assert "\n" not in str(info.value)


def test_old_java_is_refused(monkeypatch, tmp_path):
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text('#!/bin/sh\necho \'java version "1.8.0_412"\' >&2\n')
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(SessionError, match="Java 8 .* too old"):
        check_java()


def test_conf_file_format():
    text = "# comment\nspark.a  1\nspark.b\tx y\n\nspark.c=3\n"
    assert parse_spark_defaults(text) == {"spark.a": "1", "spark.b": "x y", "spark.c": "3"}


def test_settings_layering(tmp_path):
    (tmp_path / "spark-defaults.conf").write_text("spark.sql.shuffle.partitions 8\nspark.master local[1]\n")
    settings = spark_settings(master=None, overrides={"spark.sql.shuffle.partitions": "3"}, directory=tmp_path, environ={})
    assert settings["spark.sql.shuffle.partitions"] == "3"  # arguments beat the file
    assert settings["spark.master"] == "local[1]"  # the conf file's master when none is named
    assert spark_settings(master=None, directory=None, environ={})["spark.master"] == "local[*]"
    named = spark_settings(master="local[2]", directory=tmp_path, environ={"MODELOP_SPARK_MASTER": "local[3]"})
    assert named["spark.master"] == "local[2]"
    from_env = spark_settings(master=None, directory=None, environ={"MODELOP_SPARK_MASTER": "local[3]"})
    assert from_env["spark.master"] == "local[3]"


def test_under_spark_submit_its_master_wins(tmp_path):
    settings = spark_settings(master=None, directory=None, environ={}, under_spark_submit=True)
    assert "spark.master" not in settings


def test_an_unreachable_standalone_master_is_one_line_in_seconds():
    from modelop_spark.runtime.session import check_master_reachable, standalone_masters
    from tests.conftest import free_port

    assert standalone_masters("spark://a:7077,b:7078") == [("a", 7077), ("b", 7078)]
    assert standalone_masters("local[2]") == [] and standalone_masters("yarn") == []
    with pytest.raises(SessionError, match=r"nohost\.invalid does not resolve; check --master"):
        check_master_reachable("spark://nohost.invalid:7077")
    with pytest.raises(SessionError, match=r"unreachable: 127\.0\.0\.1:\d+ refuses"):
        check_master_reachable(f"spark://127.0.0.1:{free_port()}")
    check_master_reachable("local[*]")  # nothing to check


def test_a_java_error_is_reduced_to_its_deepest_cause():
    from modelop_spark._failures import one_line

    text = ("An error occurred while calling None.SparkSession.\n: org.apache.spark.SparkException: boom\n"
            "\tat x.y(Z.java:1)\nCaused by: java.io.IOException: Failed to connect\n"
            "Caused by: java.net.UnknownHostException: nohost.invalid\n\tat a.b(C.java:2)")
    assert one_line(RuntimeError(text)) == "java.net.UnknownHostException: nohost.invalid"
    assert one_line(RuntimeError("just this")) == "RuntimeError: just this"
