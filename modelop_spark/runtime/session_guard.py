"""Keep the runtime's SparkSession alive while a model function runs.

ModelOp PySpark models end ``score``, ``metrics`` and ``train`` with ``SPARK.stop()`` (or
``spark.stop()``, ``SparkContext.stop()``): they were written for a runtime that starts one
``spark-submit`` per job. Here the session belongs to whoever runs the job (the CLI, a notebook,
the runtime agent), and the runtime still reads, counts and commits after the model returns.

Inside :func:`runtime_session_kept`, ``stop()`` on the guarded session, on any session sharing
its SparkContext, or on that SparkContext is a no-op with a log line; every other ``stop()``
behaves as usual. The guard patches ``stop`` on the session's class (and on ``SparkContext``
for classic sessions) while at least one guard is open, and puts the originals back when the
last one closes; guards nest and may be open in several threads at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from modelop_spark._redact import redacted_logger

__all__ = ["runtime_session_kept"]

log = redacted_logger(__name__)

_LOCK = threading.RLock()
_GUARDED: Counter[int] = Counter()  # id() of a guarded session or SparkContext -> open guards
# class -> (the stop it had, whether the class defined it itself), while patched
_ORIGINALS: dict[type, tuple[Callable[..., Any], bool]] = {}


def _context_of(obj: Any) -> Any:
    """The classic SparkContext behind a session (None for Spark Connect) or the context itself."""
    return getattr(obj, "_sc", None)


def _is_guarded(obj: Any) -> bool:
    return id(obj) in _GUARDED or (_context_of(obj) is not None and id(_context_of(obj)) in _GUARDED)


def _guarded_stop(cls: type) -> Callable[..., Any]:
    original = _ORIGINALS[cls][0]

    def stop(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _is_guarded(self):
            log.info(
                "the model called %s.stop() on the runtime's Spark session: ignored (the runtime owns "
                "the session and keeps it for the rest of the job)", type(self).__name__,
            )
            return None
        return original(self, *args, **kwargs)

    stop.__doc__ = original.__doc__
    stop.__wrapped__ = original  # type: ignore[attr-defined]
    return stop


def _patch(cls: type) -> None:
    if cls in _ORIGINALS:
        return
    _ORIGINALS[cls] = (cls.stop, "stop" in cls.__dict__)  # type: ignore[attr-defined]
    cls.stop = _guarded_stop(cls)  # type: ignore[attr-defined]


def _unpatch_all() -> None:
    for cls, (original, own) in _ORIGINALS.items():
        if own:
            cls.stop = original  # type: ignore[attr-defined]
        else:
            del cls.stop  # type: ignore[attr-defined]
    _ORIGINALS.clear()


@contextmanager
def runtime_session_kept(spark: Any) -> Iterator[None]:
    """While the block runs, ``stop()`` on ``spark`` (or its SparkContext) is a logged no-op."""
    if spark is None:
        yield
        return
    guarded = [spark]
    context = _context_of(spark)
    if context is not None:
        guarded.append(context)
    with _LOCK:
        for obj in guarded:
            _patch(type(obj))
            _GUARDED[id(obj)] += 1
    try:
        yield
    finally:
        with _LOCK:
            for obj in guarded:
                _GUARDED[id(obj)] -= 1
                if _GUARDED[id(obj)] <= 0:
                    del _GUARDED[id(obj)]
            if not _GUARDED:
                _unpatch_all()
