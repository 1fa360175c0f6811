"""The deployed life-cycle processes (``*.bpmn`` in the processes folder) and which one handles a
snapshot.

A process says what it handles with Camunda properties on its ``bpmn:process`` element (the
Modeler's *Extensions* tab)::

    trigger            snapshot-created (start for every new snapshot it handles) or start
                       (started by 'moc mlc start' / POST /mlc/start)
    serviceTags        comma-separated service tags, or * for any (default *)
    modelNamePattern   a glob on the model name (default *)

Its stages are the ``stage`` properties of its tasks, in document order. ``select`` is pure: the
most specific matching process wins (named service tags before *, a pattern before *), then the
file name, so the choice never depends on the order files were read.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from modelop_spark.errors import SpecError
from modelop_spark.mlc import schedules as _schedules
from modelop_spark.mlc.engine import load_definition

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
TRIGGERS = ("snapshot-created", "start")
DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "conf" / "mlc"


@dataclass(frozen=True)
class ProcessInfo:
    name: str  # the file's stem: what 'moc mlc start NAME' and the routes use
    file: str
    process_id: str
    title: str
    trigger: str
    service_tags: tuple[str, ...]  # empty: any
    model_name_pattern: str
    stages: tuple[str, ...]

    def handles(self, *, service_tags: Iterable[str], model_name: str) -> bool:
        wanted = {t.lower() for t in self.service_tags}
        tags_ok = not wanted or bool(wanted & {t.lower() for t in service_tags})
        return tags_ok and fnmatch.fnmatchcase(model_name or "", self.model_name_pattern)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "file": self.file, "process_id": self.process_id, "title": self.title, "trigger": self.trigger,
            "handles": {"service_tags": list(self.service_tags) or ["*"], "model_name_pattern": self.model_name_pattern},
            "stages": list(self.stages),
        }


def describe(bpmn: bytes, *, name: str, file: str) -> ProcessInfo:
    """What a BPMN document declares; a missing or unknown property is one SpecError."""
    try:
        root = etree.fromstring(bpmn)
    except etree.XMLSyntaxError as exc:
        raise SpecError(f"{file}: not well-formed XML: {exc}") from exc
    processes = root.findall("bpmn:process", NS)
    process = next((p for p in processes if p.get("isExecutable") == "true"), processes[0] if processes else None)
    if process is None:
        raise SpecError(f"{file}: no bpmn:process element")
    props = _properties(process)
    trigger = props.get("trigger", "snapshot-created")
    if trigger not in TRIGGERS:
        raise SpecError(f"{file}: process property trigger={trigger!r}; expected one of {', '.join(TRIGGERS)}")
    tags = tuple(t.strip() for t in props.get("serviceTags", "*").split(",") if t.strip() and t.strip() != "*")
    stages: list[str] = []
    for element in process.iter():
        stage = _properties(element).get("stage") if element is not process else None
        if stage and stage not in stages:
            stages.append(stage)
    return ProcessInfo(
        name=name, file=file, process_id=process.get("id") or name, title=process.get("name") or name, trigger=trigger,
        service_tags=tags, model_name_pattern=props.get("modelNamePattern", "*") or "*", stages=tuple(stages),
    )


def _properties(element) -> dict[str, str]:
    found = element.find("bpmn:extensionElements/camunda:properties", NS)
    if found is None:
        return {}
    return {p.get("name"): p.get("value") or "" for p in found.findall("camunda:property", NS)}


@dataclass(frozen=True)
class Catalog:
    """The processes of one folder: their descriptions, BPMN bytes and the folder's DMN files."""

    folder: Path
    processes: Mapping[str, ProcessInfo]
    schedules: tuple[_schedules.Schedule, ...] = ()

    @classmethod
    def load(cls, folder: Path) -> Catalog:
        if not folder.is_dir():
            raise SpecError(f"life-cycle processes folder {folder} does not exist; give --mlc-dir with the .bpmn files")
        found = {}
        tables = [path.read_bytes() for path in sorted(folder.glob("*.dmn"))]
        for path in sorted(folder.glob("*.bpmn")):
            found[path.stem] = describe(path.read_bytes(), name=path.stem, file=path.name)
            load_definition(path.read_bytes(), dmn=tables, filename=path.name)  # a file the engine refuses stops the start
        schedules = _schedules.load(folder / _schedules.FILE_NAME, processes=set(found))
        return cls(folder, found, tuple(schedules))

    def get(self, name: str) -> ProcessInfo:
        if name not in self.processes:
            raise SpecError(f"no life-cycle process {name!r}; deployed: {', '.join(self.processes) or 'none'} ('moc mlc processes')")
        return self.processes[name]

    def bpmn(self, name: str) -> bytes:
        return (self.folder / self.get(name).file).read_bytes()

    def dmn_files(self) -> list[bytes]:
        return [path.read_bytes() for path in sorted(self.folder.glob("*.dmn"))]


def select(processes: Iterable[ProcessInfo], *, service_tags: Iterable[str], model_name: str) -> ProcessInfo | None:
    """The process that starts for a new snapshot, or None when none handles it."""
    tags = list(service_tags)
    candidates = [p for p in processes if p.trigger == "snapshot-created" and p.handles(service_tags=tags, model_name=model_name)]
    if not candidates:
        return None
    return min(candidates, key=lambda p: (not p.service_tags, p.model_name_pattern == "*", p.name))


__all__ = ["DEFAULT_FOLDER", "Catalog", "ProcessInfo", "describe", "select"]
