"""Life-cycle instances in the control plane's database (table ``mlc_instances``).

Every save is guarded by the row's ``version``: a save from a stale copy changes nothing and
returns False, so only one advancer wins a step, even with several control-plane processes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from modelop_spark.controlplane.store import NotFound, Store, columns, new_id, rows_changed
from modelop_spark.controlplane.tables import LifeCycleRow


class LifeCycleStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self, *, process: str, snapshot_id: str | None, model_name: str | None, state: str, trigger: dict[str, Any], workflow: str, now: float,
    ) -> dict[str, Any]:
        row = LifeCycleRow(
            id=new_id(), process=process, snapshot_id=snapshot_id, model_name=model_name, state=state, trigger=trigger, current_step=None,
            waiting_for=None, history=[], workflow=workflow, error=None, version=1, created_at=now, updated_at=now,
        )
        with self.store.session() as s, s.begin():
            s.add(row)
        return columns(row)

    def get(self, instance_id: str) -> dict[str, Any]:
        with self.store.session() as s:
            row = s.get(LifeCycleRow, instance_id)
            if row is None:
                raise NotFound(f"no life cycle {instance_id}; 'moc mlc list' shows them")
            return columns(row)

    def list(self, *, snapshot_id: str | None = None, states: tuple[str, ...] = (), process: str | None = None) -> list[dict[str, Any]]:
        query = select(LifeCycleRow).order_by(LifeCycleRow.created_at.desc())
        if snapshot_id:
            query = query.where(LifeCycleRow.snapshot_id == snapshot_id)
        if process:
            query = query.where(LifeCycleRow.process == process)
        if states:
            query = query.where(LifeCycleRow.state.in_(states))
        with self.store.session() as s:
            return [columns(r) for r in s.scalars(query)]

    def save(self, instance: dict[str, Any], *, now: float, **values: Any) -> dict[str, Any] | None:
        """Write ``values`` if nobody saved since ``instance`` was read; the new row, or None."""
        with self.store.session() as s, s.begin():
            done = s.execute(
                update(LifeCycleRow)
                .where(LifeCycleRow.id == instance["id"], LifeCycleRow.version == instance["version"])
                .values(version=instance["version"] + 1, updated_at=now, **values)
            )
        if rows_changed(done) != 1:
            return None
        return {**instance, **values, "version": instance["version"] + 1, "updated_at": now}


__all__ = ["LifeCycleStore"]
