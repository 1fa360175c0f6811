"""Loaded models, kept per Python process: init runs once per worker, not per batch.

Worker-reuse assumption: Spark keeps Python worker processes alive across tasks
(``spark.python.worker.reuse=true``, the default), so this module-level cache lives across every
batch and task a worker runs. With reuse off, init runs once per task instead; results are the
same, only slower.

The snapshot travels inside the payload as packed bytes (PySpark broadcasts large task payloads),
so executors need no shared filesystem; it is unpacked once per machine under the cache folder,
keyed by the snapshot's digest.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelop_spark._model_stdout import model_prints_to_stderr
from modelop_spark._redact import remember_secrets, secrets_in
from modelop_spark.cache import cache_folder
from modelop_spark.errors import ModelFunctionError
from modelop_spark.runtime.archive import pack_folder
from modelop_spark.runtime.conventions import takes_argument
from modelop_spark.runtime.model_module import (
    import_model_source,
    resolve_function,
    working_directory,
)
from modelop_spark.runtime.smart_tags import ROLES


@dataclass(frozen=True)
class ModelPayload:
    """Everything a task needs to load the model. Picklable; no SparkSession."""

    digest: str
    source: str
    functions: Mapping[str, str]
    archive: bytes = field(default=b"", repr=False)  # empty: use ``root`` (driver-side use)
    root: str | None = None
    init_argument: str | None = None  # the job as JSON text, for init(job_json)
    scope: str = ""  # a private copy of the model (a training draft): its own import and init

    @classmethod
    def from_snapshot(
        cls,
        snapshot: Any,
        *,
        job_document: Mapping[str, Any] | None = None,
        for_tasks: bool = True,
        root: Path | None = None,
        scope: str = "",
    ) -> ModelPayload:
        """``for_tasks`` packs the snapshot so executors need no shared filesystem; the driver
        alone can load it from where it is (or from ``root``, a copy of it such as a draft)."""
        return cls(
            digest=snapshot.digest,
            source=snapshot.manifest.source,
            functions=dict(snapshot.functions),
            archive=pack_folder(snapshot.root) if for_tasks else b"",
            root=None if for_tasks else str(root or snapshot.root),
            init_argument=json.dumps(job_document, default=str) if job_document is not None else None,
            scope=scope,
        )

    @property
    def cache_key(self) -> tuple[str, int, str]:
        return (self.digest, hash(self.init_argument), self.scope)

    @property
    def module_name(self) -> str:
        """The model's module in ``sys.modules`` (registered there so its objects pickle)."""
        suffix = f"_{hashlib.sha256(self.scope.encode()).hexdigest()[:12]}" if self.scope else ""
        return f"modelop_model_{self.digest[:16]}{suffix}"


@dataclass
class LoadedModel:
    root: Path
    functions: dict[str, Callable[..., Any]]

    def function(self, role: str) -> Callable[..., Any] | None:
        return self.functions.get(role)

    def working_directory(self):
        return working_directory(self.root)


_LOADED: dict[tuple[str, int, str], LoadedModel] = {}
_LOCK = threading.Lock()


def materialize(payload: ModelPayload) -> Path:
    """The snapshot unpacked on this machine, once per digest (safe across processes)."""
    import io
    import tarfile

    if not payload.archive and payload.root:
        return Path(payload.root)
    target = cache_folder("models") / payload.digest
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{payload.digest[:12]}-", dir=target.parent))
    with tarfile.open(fileobj=io.BytesIO(payload.archive), mode="r:gz") as bundle:
        bundle.extractall(staging, filter="data")
    try:
        staging.rename(target)
    except OSError:  # another worker on this machine won the race: use its copy
        shutil.rmtree(staging, ignore_errors=True)
    return target


def init_argument(payload: ModelPayload) -> dict[str, Any]:
    """What ``init(job_json)`` receives: the job as a dict, plus ModelOp's ``rawJson`` text."""
    if payload.init_argument is None:
        return {}
    document = json.loads(payload.init_argument)
    return {**document, "rawJson": payload.init_argument}


def loaded_model(payload: ModelPayload) -> LoadedModel:
    """Import the model and run its init once for this process and job."""
    key = payload.cache_key
    model = _LOADED.get(key)
    if model is not None:
        return model
    with _LOCK:
        model = _LOADED.get(key)
        if model is not None:
            return model
        root = materialize(payload)
        module = import_model_source(root, payload.source, module_name=payload.module_name)
        functions = {}
        for role in ROLES:
            function = resolve_function(module, payload.functions.get(role), role=role, source=payload.source)
            if function is not None:
                functions[role] = function
        model = LoadedModel(root=root, functions=functions)
        init = functions.get("init")
        if payload.init_argument is not None:  # this process (a worker too) masks the job's secrets
            remember_secrets(secrets_in(json.loads(payload.init_argument)))
        if init is not None:
            try:
                with model.working_directory(), model_prints_to_stderr():
                    if takes_argument(init):
                        init(init_argument(payload))
                    else:
                        init()
            except (Exception, SystemExit) as exc:  # sys.exit() in init is the model's error
                raise ModelFunctionError(
                    f"{payload.source}: init function {init.__name__} raised {type(exc).__name__}: {exc}"
                ) from exc
        _LOADED[key] = model
        return model


def forget(payload: ModelPayload) -> None:
    """Drop a scoped copy of a model from this process: its cache entry, its module and its
    folder on ``sys.path`` (a training draft is gone after the job)."""
    with _LOCK:
        model = _LOADED.pop(payload.cache_key, None)
    sys.modules.pop(payload.module_name, None)
    if model is not None:
        while str(model.root) in sys.path:
            sys.path.remove(str(model.root))
