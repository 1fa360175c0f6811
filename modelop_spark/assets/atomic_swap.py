"""Swap two paths in one atomic step on Linux: ``renameat2(..., RENAME_EXCHANGE)``.

Python's ``os`` has no binding for it, so it is called through ``ctypes`` (glibc 2.28+ exports
``renameat2``; older ones reach it by syscall number). A reader of either path sees the old or
the new entry at every moment, never none. ``exchange`` returns False when the kernel, the C
library or the file system refuses (``ENOSYS``, ``EINVAL``: e.g. overlayfs before 5.x, NFS,
another OS); the caller then falls back to two renames, with a window between them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import sys
from collections.abc import Callable
from functools import cache

__all__ = ["exchange"]

AT_FDCWD = -100
RENAME_EXCHANGE = 2
_SYSCALL_NUMBERS = {"x86_64": 316, "aarch64": 276}  # SYS_renameat2
_REFUSED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EPERM}


@cache
def _renameat2() -> Callable[[bytes, bytes], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    function = getattr(libc, "renameat2", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        return lambda a, b: function(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
    number = _SYSCALL_NUMBERS.get(platform.machine())
    if number is None:
        return None
    syscall = libc.syscall
    return lambda a, b: syscall(number, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)


def exchange(first: str, second: str) -> bool:
    """Atomically swap the entries at two existing paths (files or folders). False when this
    system cannot (nothing changed); OSError for any other failure."""
    call = _renameat2()
    if call is None:
        return False
    if call(os.fsencode(first), os.fsencode(second)) == 0:
        return True
    code = ctypes.get_errno()
    if code in _REFUSED:
        return False
    raise OSError(code, os.strerror(code), first, None, second)
