"""Monitors and judgements inside a metrics job.

- ``monitor_inputs``: a built-in monitor's inputs by ModelOp role: the reference
  (``TRAINING_DATA``/``BASELINE_DATA``), the new data (``COMPARATOR_DATA``, else ``TEST_DATA``,
  else the one input without a role). Checked before Spark starts.
- ``judge_document``: when the job carries a ``TEST_RESULT_COMPARATOR`` asset (a DMN), the
  result's metrics are judged with it: PASSED / FAILED with the matched rules' reasons, or ERROR
  (an unreadable table, a metric it needs missing) without failing the job, so the run still
  leaves its result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelop_spark._redact import redacted_logger
from modelop_spark.assets.filesystem import absolute_url, filesystem_for
from modelop_spark.assets.roles import (
    BASELINE_ROLES,
    COMPARATOR_ROLES,
    DMN_ROLE,
    TEST_ROLES,
    is_role,
)
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import SpecError
from modelop_spark.evaluation.decision_table import Judgement, judge
from modelop_spark.evaluation.monitor_formulas import scalar_items
from modelop_spark.evaluation.tracking import headline_metrics
from modelop_spark.jobs.spec import JobSpec

__all__ = ["data_inputs", "dmn_asset", "judge_document", "judged_metrics", "monitor_inputs"]

log = redacted_logger(__name__)


def dmn_asset(spec: JobSpec) -> AssetSpec | None:
    found = [a for a in spec.inputs if is_role(a.role, DMN_ROLE)]
    if len(found) > 1:
        raise SpecError(f"inputs: {len(found)} assets have role {DMN_ROLE}; give one DMN to judge the result")
    return found[0] if found else None


def data_inputs(spec: JobSpec) -> list[AssetSpec]:
    """The inputs that are data (a DMN asset is read as a decision table, never as data)."""
    return [a for a in spec.inputs if not is_role(a.role, DMN_ROLE)]


def _is_baseline(asset: AssetSpec, baseline_name: str | None) -> bool:
    """The input named by ``options.baseline_input``; without a name, one whose role says baseline."""
    if baseline_name:
        return asset.name == baseline_name
    return is_role(asset.role, BASELINE_ROLES) or asset.role == "baseline"


def _comparators(rest: list[AssetSpec]) -> list[AssetSpec]:
    """The candidates for the monitored data, by role: COMPARATOR_DATA, else TEST_DATA, else no role."""
    by_role = ([a for a in rest if is_role(a.role, roles)] for roles in (COMPARATOR_ROLES, TEST_ROLES))
    return next((found for found in by_role if found), [a for a in rest if a.role is None])


def monitor_inputs(spec: JobSpec, *, needs_baseline: bool, baseline_name: str | None = None) -> tuple[AssetSpec | None, AssetSpec]:
    """The monitor's baseline (None when it needs none and there is none) and its one comparator."""
    data = data_inputs(spec)
    baseline = [a for a in data if _is_baseline(a, baseline_name)]
    comparator = _comparators([a for a in data if a not in baseline[:1]])
    roles = ", ".join(f"{a.label} ({a.role or 'no role'})" for a in data) or "none"
    if needs_baseline and not baseline:
        raise SpecError(f"inputs: the monitor needs a baseline, an input with assetRole TRAINING_DATA or BASELINE_DATA; inputs are {roles}")
    if len(comparator) != 1:
        raise SpecError(f"inputs: the monitor needs one comparator, an input with assetRole COMPARATOR_DATA (or TEST_DATA); "
                        f"found {len(comparator)} among {roles}")
    return (baseline[0] if baseline else None), comparator[0]


def judged_metrics(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a DMN reads: a monitor's ``metrics``; a built-in evaluation's headline figures plus
    the plain names (``auc``, ``f1``...) of its first threshold; a model's own top-level scalars."""
    if isinstance(doc.get("metrics"), Mapping):
        return scalar_items(doc["metrics"])
    if "format_version" in doc and "kind" in doc:
        flat: dict[str, Any] = {k.replace(".", "_").replace("/", "_"): v for k, v in headline_metrics(doc).items()}
        binary = doc.get("binary")
        if binary:
            flat.update({"auc": binary["roc_auc"], **scalar_items(binary["thresholds"][0])})
        flat.update(scalar_items(doc.get("regression") or {}))
        return flat
    return scalar_items(doc)


def judge_document(spark: Any, spec: JobSpec, doc: Mapping[str, Any]) -> Judgement | None:
    asset = dmn_asset(spec)
    if asset is None:
        return None
    where = asset.url or asset.label
    try:
        if not asset.url:
            raise OSError("the asset has no url")
        url = absolute_url(asset.url)
        text = filesystem_for(url, spark).read_text(url)
    except Exception as exc:  # any store's error: the judgement is ERROR, the result is kept
        log.warning("metrics: cannot read the DMN %s", where, exc_info=True)
        return Judgement("ERROR", (f"the DMN {where} (role {DMN_ROLE}) cannot be read: {type(exc).__name__}: {exc}",), None, where)
    return judge(text.encode("utf-8"), judged_metrics(doc), filename=where)
