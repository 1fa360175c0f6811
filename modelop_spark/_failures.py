"""Any failure reduced to one line a person can act on: the root cause, not the wrapping.

Spark wraps what went wrong several times over: a Py4J ``An error occurred while calling
o140.collectToPython`` around a ``SparkException`` around a ``PythonException`` whose text is a
whole Python traceback from a worker. :func:`one_line` digs out the innermost cause (the Java
cause chain, or the last ``SomeError: message`` line of a Python trace) and says it in one line;
the full stack belongs in the log file (see ``_logging``).
"""

from __future__ import annotations

import re

__all__ = ["one_line"]

MAX_LENGTH = 400
_PY_ERROR = re.compile(r"^(?:[\w.]+\.)?(\w*(?:Error|Exception|Exit|Interrupt|Timeout)): (.*\S)\s*$")
_WRAPPERS = ("An error occurred while calling", "Traceback (most recent call last)", "py4j.protocol.")
_WORKER_DIED = ("Python worker exited unexpectedly", "crashed", "EOFException")


def _java_root(exc: BaseException) -> str | None:
    """The innermost cause of a Py4JJavaError, as ``Class: message`` (first line)."""
    java = getattr(exc, "java_exception", None)
    if java is None:
        return None
    try:
        while java.getCause() is not None and java.getCause() != java:
            java = java.getCause()
        return str(java.toString()).splitlines()[0]
    except Exception:  # the gateway may be gone by now
        return None


def _last_python_error(text: str) -> str | None:
    """The last ``SomeError: message`` line of a Python traceback inside ``text``."""
    found = None
    for line in text.splitlines():
        match = _PY_ERROR.match(line.strip())
        if match and match.group(1) not in ("PythonException", "Py4JJavaError", "SparkException"):
            found = f"{match.group(1)}: {match.group(2)}"
    return found


def one_line(exc: BaseException) -> str:
    """``exc`` as one line: its root cause, without Spark's and Py4J's wrapping."""
    text = str(exc)
    if any(marker in text for marker in _WORKER_DIED) and "Traceback" not in text:
        return "a Python worker died while running the model (killed or crashed), also on retry"
    cause = _last_python_error(text) if "Traceback" in text else None
    if cause is None:
        java = _java_root(exc)
        if java is not None:
            cause = _last_python_error(java) or java
    if cause is None:  # a JVM error as text: its deepest "Caused by:"
        causes = [line.strip().removeprefix("Caused by: ") for line in text.splitlines() if line.strip().startswith("Caused by:")]
        cause = causes[-1] if causes else None
    if cause is None:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        meaningful = [line for line in lines if not line.startswith(_WRAPPERS)]
        cause = f"{type(exc).__name__}: {meaningful[0]}" if meaningful else type(exc).__name__
    cause = re.sub(r"\s+", " ", cause)
    return cause if len(cause) <= MAX_LENGTH else cause[: MAX_LENGTH - 1] + "…"
