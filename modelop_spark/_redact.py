"""Remove credentials from any text before it is logged, raised or returned.

Two nets: patterns that look like secrets wherever they appear (``password=…``, ``user:pw@host``,
AWS access keys, bearer tokens), and the literal values of the environment variables that hold
secrets in this process (an S3 secret key can look like any other string).
"""

from __future__ import annotations

import logging
import os
import re

MASK = "***"

_SECRET_ENV_HINTS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "CREDENTIAL", "SESSION_KEY", "ACCESS_KEY")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # key=value or key: value or "key": "value" where key names a secret
    (
        re.compile(
            r"""(?ix)
            (["']?\b[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|
            credential|session[_-]?key)[\w.-]*["']?\s*[=:]\s*["']?)
            ([^\s"',;&}]+)"""
        ),
        r"\1" + MASK,
    ),
    # scheme://user:password@host
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)"), r"\1" + MASK + r"\3"),
    # AWS access key ids
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    # bearer tokens
    (re.compile(r"(?i)(bearer\s+)[a-z0-9._~+/=-]+"), r"\1" + MASK),
)


def _secret_values() -> list[str]:
    values = [
        value
        for name, value in os.environ.items()
        if any(hint in name.upper() for hint in _SECRET_ENV_HINTS) and len(value) >= 4
    ]
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """Return ``text`` with everything that looks like a credential masked."""
    for value in _secret_values():
        text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def redacted_logger(name: str) -> logging.Logger:
    """A module's logger whose records are redacted before any handler sees them: the CLI's,
    or whatever handlers a notebook or platform has attached."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
