"""Logging for the command-line entry points: one stderr handler, every line redacted."""

from __future__ import annotations

import logging
import sys

from modelop_spark._redact import RedactingFilter


def configure_logging(*, verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("modelop_spark")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
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
        if getattr(record, "notification", None) is not None:
            entry["notification"] = record.notification
        if record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, default=str)


def use_json_lines() -> None:
    """Switch this package's stderr handler to JSON lines (``--log-format json``)."""
    for handler in logging.getLogger("modelop_spark").handlers:
        handler.setFormatter(JsonLinesFormatter())
