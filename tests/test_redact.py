import logging

import pytest

from modelop_spark._redact import RedactingFilter, redact
from modelop_spark.errors import AssetError


@pytest.mark.parametrize(
    "text, secret",
    [
        ("jdbc:postgresql://db/x?user=a&password=hunter2", "hunter2"),
        ("postgresql://bob:s3cr3t@db:5432/x", "s3cr3t"),
        ('{"aws_secret_access_key": "abc/def+ghi"}', "abc/def+ghi"),
        ("key AKIAABCDEFGHIJKLMNOP used", "AKIAABCDEFGHIJKLMNOP"),
        ("Authorization: Bearer eyJhbGciOi.x.y", "eyJhbGciOi.x.y"),
    ],
)
def test_secrets_are_masked(text, secret):
    assert secret not in redact(text)


def test_secret_environment_values_are_masked_wherever_they_appear(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "plain-looking-value-42")
    assert "plain-looking-value-42" not in redact("failed with plain-looking-value-42 in the url")


def test_errors_are_redacted_when_made():
    error = AssetError("cannot reach jdbc:postgresql://db/x?password=hunter2")
    assert "hunter2" not in str(error) and "hunter2" not in error.message


def test_log_records_are_redacted():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "connecting with %s", ("password=hunter2",), None)
    RedactingFilter().filter(record)
    assert "hunter2" not in record.getMessage()


def test_library_log_records_are_redacted_for_any_handler():
    import io

    from modelop_spark.jobs import runner

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # a notebook's own handler, not ours
    runner.log.addHandler(handler)
    try:
        try:
            raise RuntimeError("cannot connect to postgresql://bob:hunter2@db/x")
        except RuntimeError:
            runner.log.warning("writing to %s failed", "jdbc:postgresql://db/x?password=hunter2", exc_info=True)
    finally:
        runner.log.removeHandler(handler)
    text = stream.getvalue()
    assert "failed" in text and "RuntimeError" in text and "hunter2" not in text
