"""Import a snapshot's model source as a module, turning failures into one clear line."""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from modelop_spark._model_stdout import model_prints_to_stderr
from modelop_spark.errors import SnapshotError


@contextmanager
def working_directory(root: Path) -> Iterator[None]:
    """Run model code from its snapshot folder, so assets open by relative path as in ModelOp."""
    previous = os.getcwd()
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(previous)


def _line_in(path: Path, tb: Any) -> int | None:
    frames = [f for f in traceback.extract_tb(tb) if Path(f.filename) == path]
    return frames[-1].lineno if frames else None


def _absolute(path: str) -> str:
    return os.path.abspath(path) if path and not os.path.isabs(path) else path


def import_model_source(root: Path, source: str, *, module_name: str) -> ModuleType:
    """Execute the model source once and return it as a module registered in ``sys.modules``
    (so objects it defines pickle by reference)."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = root / source
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # helper modules shipped beside the source import too
    # Spark puts files added with addPyFile (this package, on a cluster) on sys.path by relative
    # path: make them absolute, or importing from them fails once we chdir into the snapshot.
    sys.path[:] = [_absolute(p) for p in sys.path]
    for name, module in list(sys.modules.items()):  # packages already imported from such a path
        if name.split(".")[0] == "modelop_spark" and isinstance(getattr(module, "__path__", None), list):
            module.__path__[:] = [_absolute(p) for p in module.__path__]
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        with working_directory(root), model_prints_to_stderr():  # prints: the log
            spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        raise SnapshotError(f"{source}:{exc.lineno}: syntax error in model source: {exc.msg}") from exc
    except ImportError as exc:
        del sys.modules[module_name]
        line = _line_in(path, exc.__traceback__)
        raise SnapshotError(
            f"{source}:{line}: import failed: {exc}; install that package in the runtime's Python environment"
        ) from exc
    except (Exception, SystemExit) as exc:  # sys.exit() on import is the model's error too
        del sys.modules[module_name]
        line = _line_in(path, exc.__traceback__)
        raise SnapshotError(f"{source}:{line}: model source raised {type(exc).__name__} on import: {exc}") from exc
    return module


def resolve_function(module: ModuleType, name: str | None, *, role: str, source: str) -> Callable[..., Any] | None:
    """The function playing ``role``: the tagged or named one, else one called ``role`` itself."""
    if name is None:
        candidate = getattr(module, role, None)
        return candidate if callable(candidate) else None
    function = getattr(module, name, None)
    if not callable(function):
        raise SnapshotError(f"{source}: function {name!r} named as the {role} function is not defined in the source")
    return function
