"""Logging for the command-line entry points: one line per failure on stderr, the stack in a log
file; every line redacted.

stderr gets warnings and errors (everything with ``-v``); the log file gets everything with
tracebacks: ``$MODELOP_SPARK_LOG_DIR/modelop-spark.log`` (default ``<tmp>/modelop-spark-logs``,
beside Spark's own ``spark-jvm.log`` from ``conf/log4j2.properties``).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

from modelop_spark._redact import RedactingFilter


def log_dir() -> Path:
    return Path(os.environ.get("MODELOP_SPARK_LOG_DIR") or Path(tempfile.gettempdir()) / "modelop-spark-logs")


def log_file() -> Path:
    return log_dir() / "modelop-spark.log"


def configure_logging(*, verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handlers: list[logging.Handler] = [handler]
    try:
        log_dir().mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file(), encoding="utf-8")
    except OSError:  # a read-only temp folder must not stop a job
        pass
    else:
        to_file.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        to_file.addFilter(RedactingFilter())
        handlers.append(to_file)
    logger = logging.getLogger("modelop_spark")
    logger.handlers[:] = handlers
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logging.getLogger("py4j").setLevel(logging.ERROR)


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line (time, level, logger, message, and a notification when the
    record carries one), for log aggregators. Messages are redacted by the handler's filter."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        notification = getattr(record, "notification", None)
        if notification is not None:
            entry["notification"] = notification
        if record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, default=str)


def use_json_lines() -> None:
    """Switch this package's stderr handler to JSON lines (``--log-format json``)."""
    for handler in logging.getLogger("modelop_spark").handlers:
        handler.setFormatter(JsonLinesFormatter())
