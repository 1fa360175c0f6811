"""Where a job's rejected rows go, decided once for every job type (and for the checks and the
recovery that run before the job): the job's ``rejected_output``; else beside its first file
output, as JSON lines; else embedded in the JobResult."""

from __future__ import annotations

from modelop_spark.assets.commit import split_parent
from modelop_spark.assets.spec import AssetSpec, format_from_url
from modelop_spark.jobs.spec import JobSpec

__all__ = ["rejected_target"]


def rejected_target(spec: JobSpec) -> AssetSpec:
    if spec.rejected_output is not None:
        return spec.rejected_output
    first = spec.outputs[0] if spec.outputs else AssetSpec(kind="embedded")
    if first.kind == "file" and first.url:
        parent, name = split_parent(first.url)
        stem = name.rsplit(".", 1)[0] if format_from_url(name) else name
        return AssetSpec(kind="file", name="rejected", url=f"{parent}/{stem}_rejected", format="json")
    return AssetSpec(kind="embedded", name="rejected")
