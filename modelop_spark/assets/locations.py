"""Output locations that would destroy something the job did not write, refused up front.

An overwrite replaces its target as a whole, so an output may not be, contain or sit inside an
input, the model snapshot, the working directory (or a folder above it), another output or the
rejected rows' output. :func:`check_output_locations` compares the locations as plain values
(resolved local paths, normalized URLs, table names) before any data is read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from modelop_spark.assets.filesystem import is_local, local_path
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import SpecError

_GLOB = set("*?[{")
_SAME_STORE = {"s3a": "s3", "s3n": "s3"}


@dataclass(frozen=True)
class Location:
    """A place as a comparable value: ``store`` (``file``, ``s3://bucket``, ``table:<db url>``)
    and the path parts below it."""

    store: str
    parts: tuple[str, ...]
    shown: str

    def relation(self, other: Location) -> str | None:
        """``same``, ``contains`` (other is below self), ``inside`` (self is below other) or None."""
        if self.store != other.store:
            return None
        if self.parts == other.parts:
            return "same"
        if self.store.startswith("table:"):
            return None  # tables do not nest
        if other.parts[: len(self.parts)] == self.parts:
            return "contains"
        if self.parts[: len(other.parts)] == other.parts:
            return "inside"
        return None


def _without_glob(path: str) -> str:
    """``data/2024-*/x.csv`` reads below ``data``: compare the part before the first pattern."""
    kept = []
    for part in path.split("/"):
        if _GLOB & set(part):
            break
        kept.append(part)
    return "/".join(kept) or "/"


def location_of_path(url: str) -> Location:
    if is_local(url):
        path = Path(os.path.realpath(local_path(_without_glob(url))))
        return Location("file", path.parts, str(path))
    parsed = urlparse(url)
    scheme = _SAME_STORE.get(parsed.scheme, parsed.scheme)
    parts = tuple(p for p in _without_glob(parsed.path).split("/") if p)
    return Location(f"{scheme}://{parsed.netloc.rpartition('@')[2]}", parts, url)


def location_of(asset: AssetSpec) -> Location | None:
    """Where ``asset`` lives, or None for data that lives in the job (embedded, a SQL query)."""
    if asset.table:
        server = str(asset.options.get("url") or "spark-catalog")
        return Location(f"table:{server}", tuple(asset.table.lower().split(".")), asset.table)
    if asset.url and asset.kind in ("file", "delta"):
        return location_of_path(asset.url)
    return None


_INPUT_WORDS = {
    "same": "is also",
    "contains": "contains",
    "inside": "is inside",
}


def check_output_locations(
    inputs: Sequence[AssetSpec],
    outputs: Sequence[AssetSpec],
    *,
    rejected: AssetSpec | None = None,
    snapshot: str | None = None,
    cwd: str | None = None,
) -> None:
    """Raise SpecError (one line) when an output could overwrite what the job did not write."""
    candidates = [(o, location_of(o)) for o in [*outputs, *([rejected] if rejected is not None else [])]]
    placed = [(o, loc) for o, loc in candidates if loc is not None]
    protected = [(f"input {i.label}", location_of(i)) for i in inputs]
    if snapshot and "://" not in snapshot.replace("file://", ""):
        protected.append(("the model snapshot", location_of_path(snapshot)))
    for asset, where in placed:
        working = location_of_path(cwd or os.getcwd())
        if where.store == "file" and where.relation(working) in ("same", "contains"):
            raise SpecError(
                f"output {asset.label}: {where.shown} is the working directory or a folder above it; "
                "overwriting it would delete everything there. Write to a sub-folder such as ./output"
            )
        if where.store == "file" and len(where.parts) <= 1:
            raise SpecError(f"output {asset.label}: {where.shown} is a file-system root; write to a folder below it")
        for name, other in protected:
            if other is None:
                continue
            relation = where.relation(other)
            if relation is not None:
                raise SpecError(
                    f"output {asset.label}: {where.shown} {_INPUT_WORDS[relation]} {name} ({other.shown}); "
                    "writing there would destroy it. Choose an output location apart from every input"
                )
    for index, (asset, where) in enumerate(placed):
        for other_asset, other in placed[index + 1 :]:
            if where.relation(other) is not None:
                raise SpecError(
                    f"outputs {asset.label} and {other_asset.label} overlap ({where.shown}, {other.shown}); "
                    "one would overwrite the other. Give each output (and rejected_output) its own location"
                )
