"""Models: a name (unique) and a description; snapshots hang off them."""

from __future__ import annotations

import time
from typing import Any

from modelop_spark.controlplane import resources
from modelop_spark.controlplane.services.context import Context
from modelop_spark.controlplane.services.idempotency import Idempotent, create_once
from modelop_spark.errors import SpecError


class Models:
    def __init__(self, context: Context) -> None:
        self.store = context.store

    def create(self, name: str, description: str = "", *, key: Idempotent | None = None) -> dict[str, Any]:
        """A new model; once per idempotency ``key`` (a retry gets the model its first request made)."""
        if not name or not name.strip():
            raise SpecError("name: a model needs a name")

        def create(once: Idempotent | None) -> dict[str, Any]:
            return resources.model(self.store.create_model(name=name.strip(), description=description, now=time.time(), key=once))

        return create_once(self.store, key, create=create, existing=lambda model_id: resources.model(self.store.find_model(model_id)))

    def all(self) -> list[dict[str, Any]]:
        return [resources.model(m) for m in self.store.list_models()]


__all__ = ["Models"]
