"""A model's ``print`` goes to stderr (the log), never to stdout, which may be carrying ``--json``.

``contextlib.redirect_stdout`` swaps ``sys.stdout`` for the whole process and restores what it
saw on entry, so with jobs in threads (the in-process runtime agent, a notebook) one thread's
model call would send another thread's output to stderr and, leaving late, put back a stream
somebody else has since replaced (or closed). Here ``sys.stdout`` becomes, while any model call
runs, a proxy that sends only the calling threads' writes to stderr, and is put back only if it
is still the proxy when the last call ends.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

_in_model = threading.local()
_lock = threading.Lock()
_calls = 0
_proxy: _ModelAwareStdout | None = None


class _ModelAwareStdout:
    def __init__(self, original: TextIO) -> None:
        self.original = original

    def _target(self) -> TextIO:
        return sys.stderr if getattr(_in_model, "depth", 0) else self.original

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno...: the real stream's
        return getattr(self.original, name)


@contextlib.contextmanager
def model_prints_to_stderr() -> Iterator[None]:
    global _calls, _proxy
    with _lock:
        if _calls == 0 or sys.stdout is not _proxy:
            _proxy = _ModelAwareStdout(sys.stdout)
            sys.stdout = _proxy
        _calls += 1
    _in_model.depth = getattr(_in_model, "depth", 0) + 1
    try:
        yield
    finally:
        _in_model.depth -= 1
        with _lock:
            _calls -= 1
            if _calls == 0 and sys.stdout is _proxy and _proxy is not None:
                sys.stdout = _proxy.original
                _proxy = None
