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
