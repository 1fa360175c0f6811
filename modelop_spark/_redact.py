"""Remove credentials from any text before it is logged, raised or returned.

Three nets, applied in this order:

1. **By value**: every secret this process knows is replaced wherever it appears, whatever it
   looks like: the values of the environment variables that hold credentials, and the secrets a
   job carries (``jobParameters`` and options named like secrets, passwords inside URLs), which
   :func:`remember_secrets` registers when a job starts (:func:`secrets_in` finds them).
2. **By pattern**: ``password=…`` and its kin, ``scheme://user:password@host`` for any scheme
   (``s3://KEY:SECRET@bucket`` too: an S3 secret key may hold ``/`` and ``+``), Oracle-style
   ``user/password@host``, AWS access key ids and bearer tokens.
3. Nothing else: a secret that neither names itself nor is known cannot be found.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
MIN_SECRET = 4  # shorter values would mask ordinary words

_SECRET_ENV_HINTS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "CREDENTIAL", "SESSION_KEY", "ACCESS_KEY", "API_KEY")
_SECRET_NAME = re.compile(r"(?i)(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|credential|session[_-]?key|private[_-]?key)")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # key=value or key: value or "key": "value" where key names a secret
    (
        re.compile(
            r"""(?ix)
            (["']?\b[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|
            credential|session[_-]?key|private[_-]?key)[\w.-]*["']?\s*[=:]\s*["']?)
            ([^\s"',;&}]+)"""
        ),
        r"\1" + MASK,
    ),
    # scheme://user:password@host (the password may hold '/', '+', '=')
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^\s@]+)(@)"), r"\1" + MASK + r"\3"),
    # Oracle style: jdbc:oracle:thin:scott/tiger@host, or user/password@host:port
    (re.compile(r"(?i)(jdbc:oracle:\w+:[^/\s@:]+/)([^\s@]+)(@)"), r"\1" + MASK + r"\3"),
    (re.compile(r"(?<![\w/.:-])([\w$#]+/)([^\s/@\"']+)(@(?://)?[\w.-]+:\d+)"), r"\1" + MASK + r"\3"),
    # AWS access key ids
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    # bearer tokens
    (re.compile(r"(?i)(bearer\s+)[a-z0-9._~+/=-]+"), r"\1" + MASK),
)
_URL_PASSWORD = re.compile(r"(?i)[a-z][a-z0-9+.-]*://([^/\s:@]+):([^\s@]+)@")
_ORACLE_PASSWORD = re.compile(r"(?i)(?:jdbc:oracle:\w+:|^)[\w$#]+/([^\s/@\"']+)@")

_NOT_SECRETS = {"true", "false", "none", "null", "****", "***"}
_known: set[str] = set()


def secrets_in(value: Any, *, name: str = "") -> list[str]:
    """The secrets inside a job document (or any JSON value): strings under keys named like
    secrets, a ``{"secret": true, "value": ...}`` marked value, and passwords inside URLs."""
    found: list[str] = []
    if isinstance(value, Mapping):
        if value.get("secret") is True and isinstance(value.get("value"), str):
            found.append(value["value"])
        for key, item in value.items():
            found.extend(secrets_in(item, name=str(key)))
    elif isinstance(value, list | tuple):
        for item in value:
            found.extend(secrets_in(item, name=name))
    elif isinstance(value, str):
        if _SECRET_NAME.search(name) and name.lower().endswith("_env"):
            found.append(os.environ.get(value, ""))  # names the variable that holds the secret
        elif _SECRET_NAME.search(name) and value.lower() not in _NOT_SECRETS:
            found.append(value)
        found.extend(match.group(2) for match in _URL_PASSWORD.finditer(value))
        found.extend(match.group(1) for match in _ORACLE_PASSWORD.finditer(value))
    return [s for s in found if len(s) >= MIN_SECRET]


def remember_secrets(values: Iterable[str]) -> None:
    """Mask these values in everything redacted from now on, in this process."""
    _known.update(v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET)


def known_secrets() -> tuple[str, ...]:
    """Every secret value this process knows: remembered ones and credential variables."""
    from_env = [
        value
        for name, value in os.environ.items()
        if any(hint in name.upper() for hint in _SECRET_ENV_HINTS) and len(value) >= MIN_SECRET
    ]
    return tuple(sorted({*_known, *from_env}, key=len, reverse=True))


def redact(text: str, *, also: Iterable[str] = ()) -> str:
    """Return ``text`` with every known secret and everything that looks like one masked;
    ``also`` adds values known to the caller (a Spark worker gets the job's from its plan)."""
    extra = [v for v in also if len(v) >= MIN_SECRET]
    for value in sorted({*known_secrets(), *extra}, key=len, reverse=True):
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
