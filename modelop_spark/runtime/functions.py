"""The model's functions, resolved once per job: ``ModelFunctions``.

``ModelFunctions.resolve`` imports the snapshot's source on the driver, runs ``init`` (once per
process and job; ``runtime.model_cache`` keeps the loaded model) and works out the calling
convention of each function (``runtime.conventions``). Every job type (scoring, metrics,
training) and the notebook API start from this one object:

- ``convention(role)`` says which side runs the function and what it takes;
- ``call(role, ...)`` runs a driver-side function (Spark, the ModelOp PySpark convention, a whole
  input metrics or train function) in the model's folder, turning its failure into our error;
- ``payload_for_tasks()`` is what Spark ships to the executors for an executor-side function
  (the snapshot packed once, init run once per Python worker there).

Import and init failures surface here, on the driver, before any task starts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelop_spark._model_stdout import model_prints_to_stderr
from modelop_spark.errors import ModelFunctionError, SnapshotError
from modelop_spark.runtime.conventions import (
    Convention,
    convention_named,
    detect_convention,
    pyspark_convention_in_source,
    takes_slot,
)
from modelop_spark.runtime.executor import MODEL_FAILURES
from modelop_spark.runtime.model_cache import LoadedModel, ModelPayload, forget, loaded_model
from modelop_spark.runtime.snapshot import Snapshot

__all__ = ["ModelFunctions", "takes_pyspark_convention"]


def takes_pyspark_convention(snapshot: Snapshot, role: str) -> bool | None:
    """Whether ``role`` follows ModelOp's PySpark convention, known before the source is
    imported: declared in the manifest, or read from the ``def`` in the source; None when only
    importing it would tell."""
    declared = snapshot.shape(role)
    if declared:
        return not convention_named(declared).applies_to_a_dataframe
    source = snapshot.source_path
    if source is None or not source.is_file():
        return None
    return pyspark_convention_in_source(source.read_text(errors="replace"), snapshot.function(role) or role)


class ModelFunctions:
    """A snapshot's init/score/metrics/train functions, loaded on the driver, with their conventions."""

    def __init__(self, snapshot: Snapshot, payload: ModelPayload, model: LoadedModel) -> None:
        self.snapshot = snapshot
        self.payload = payload  # driver-side: loads from ``root``
        self.model = model
        self._for_tasks: ModelPayload | None = None

    @classmethod
    def resolve(
        cls,
        snapshot: Snapshot,
        *,
        job_document: Mapping[str, Any] | None = None,
        root: Path | None = None,
    ) -> ModelFunctions:
        """Import the source and run init once. ``root`` loads a private copy of the snapshot
        instead (a training draft: what init and train write there becomes the new version);
        call :meth:`release` when the job is done with it."""
        scope = f"copy-{uuid.uuid4().hex}" if root is not None else ""
        payload = ModelPayload.from_snapshot(snapshot, job_document=job_document, for_tasks=False, root=root, scope=scope)
        return cls(snapshot, payload, loaded_model(payload))

    # -- what the snapshot has ------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The folder the model runs in (its working directory)."""
        return self.model.root

    @property
    def source(self) -> str:
        return self.snapshot.manifest.source or "model"

    def has(self, role: str) -> bool:
        return self.model.function(role) is not None

    def function(self, role: str) -> Callable[..., Any]:
        function = self.model.function(role)
        if function is None:
            raise SnapshotError(
                f"snapshot {self.snapshot.name}: no {role} function; tag one with '# modelop.{role}' or name it in "
                "snapshot.json 'functions'"
            )
        return function

    def convention(self, role: str, *, declared: str | None = None) -> Convention:
        """The calling convention of ``role``: ``declared`` (a job option), else the manifest's
        ``shapes.<role>``, else the signature's."""
        if declared:
            return convention_named(declared)
        return detect_convention(self.function(role), self.snapshot.shape(role))

    def takes_slot(self, role: str) -> bool:
        """``score(datum, slot_no)``: ModelOp's older record form."""
        return self.convention(role).per_record and takes_slot(self.function(role))

    # -- running --------------------------------------------------------------------------------
    def call(self, role: str, *args: Any) -> Any:
        """Run ``role`` once on the driver, in the model's folder; a failure is our error."""
        function = self.function(role)
        try:
            with self.model.working_directory(), model_prints_to_stderr():  # model prints go to stderr
                return function(*args)
        except ModelFunctionError:
            raise
        except MODEL_FAILURES as exc:
            raise ModelFunctionError(f"{self.source}: {role} function {function.__name__} raised {type(exc).__name__}: {exc}") from exc

    def payload_for_tasks(self) -> ModelPayload:
        """The picklable payload Spark ships to executors (the snapshot packed once per job)."""
        if self._for_tasks is None:
            document = self.payload.init_argument
            self._for_tasks = ModelPayload(
                digest=self.payload.digest,
                source=self.payload.source,
                functions=self.payload.functions,
                archive=ModelPayload.from_snapshot(self.snapshot).archive,
                init_argument=document,
            )
        return self._for_tasks

    def release(self) -> None:
        """Forget a private copy (see :meth:`resolve`); a no-op for the snapshot itself."""
        if self.payload.scope:
            forget(self.payload)
