"""The process engine: SpiffWorkflow reading Camunda Modeler's BPMN and DMN, plus our one kind of
task, the external service task.

A ``serviceTask`` with ``camunda:type="external" camunda:topic="..."`` (Camunda's external task
pattern) is a *waiting* task here: the engine stops at it and our life-cycle runner does the work
(create a job, wait for it, evaluate a DMN...) and completes it. Everything else (gateways, script
tasks, business rule tasks with DMN, user tasks) is SpiffWorkflow's own. Expressions are Python
(SpiffWorkflow's script engine) with FEEL's ``true``, ``false`` and ``null`` defined, so Camunda
DMN output entries such as ``true`` or ``"a reason"`` evaluate as they do in Camunda, and a
Camunda condition ``${approved && passes}`` is read as ``approved and passes``.

A workflow is serialized to JSON (spec included) after every step; a running instance keeps the
process definition it started with even when the file changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin, ServiceTaskMixin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from modelop_spark.errors import SpecError

FEEL_LITERALS = {"true": True, "false": False, "null": None}


class ExternalServiceTask(ServiceTaskMixin, BpmnSpecMixin):
    """A service task the engine waits at; ``extensions['topic']`` says which handler runs it."""

    def __init__(self, wf_spec, bpmn_id, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = True

    def _run_hook(self, task):
        return True  # the handler did the work before completing the task


class ExternalServiceTaskParser(CamundaTaskParser):
    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        topic = self.node.get(f"{{{CAMUNDA_MODEL_NS}}}topic") or extensions.get("topic")
        if not topic:
            self.raise_validation_exception("a service task needs camunda:type=\"external\" and camunda:topic (the handler to run)")
        return {**extensions, "topic": topic}


class LifeCycleParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ExternalServiceTaskParser, ExternalServiceTask),
    }


_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)
_JUEL_WORDS = ((re.compile(r"&&"), " and "), (re.compile(r"\|\|"), " or "), (re.compile(r"!(?!=)"), " not "))


def python_expression(expression: str) -> str:
    """A Camunda condition as Python: ``${approved && passes}`` -> ``approved and passes``. Plain
    Python passes through unchanged (no ``${...}`` wrapper)."""
    wrapped = _JUEL.match(expression or "")
    if not wrapped:
        return expression
    inner = wrapped.group(1)
    for pattern, word in _JUEL_WORDS:
        inner = pattern.sub(word, inner)
    return inner.strip()


class LifeCycleScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's Python engine, reading Camunda's ``${...}`` conditions too."""

    def evaluate(self, task, expression, external_context=None):
        return super().evaluate(task, python_expression(expression), external_context)


def script_engine() -> PythonScriptEngine:
    return LifeCycleScriptEngine(environment=TaskDataEnvironment(dict(FEEL_LITERALS)))


_CONFIG = dict(DEFAULT_CONFIG)
_CONFIG[ExternalServiceTask] = BpmnTaskSpecConverter
_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_CONFIG))


@dataclass(frozen=True)
class Definition:
    """One BPMN file (and the DMN files it uses), parsed."""

    process_id: str
    parser: LifeCycleParser

    def new_workflow(self, data: dict[str, Any]) -> BpmnWorkflow:
        spec = self.parser.get_spec(self.process_id)
        subprocesses = self.parser.get_subprocess_specs(self.process_id)
        workflow = BpmnWorkflow(spec, subprocesses, script_engine=script_engine())
        workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
        return workflow


def load_definition(bpmn: bytes, *, dmn: Iterable[bytes] = (), filename: str = "process.bpmn") -> Definition:
    """Parse a BPMN document (its first executable process) and its DMN documents; a file the
    engine cannot read, or that breaks the BPMN 2.0 / DMN schema, is one SpecError naming the file
    and the element."""
    parser = LifeCycleParser(validator=BpmnValidator())
    try:
        for index, document in enumerate(dmn):
            parser.add_dmn_str(document, filename=f"{filename}#dmn{index}")
        parser.add_bpmn_str(bpmn, filename=filename)
        process_ids = parser.get_process_ids()
        executable = [pid for pid in process_ids if parser.process_parsers[pid].node.get("isExecutable") == "true"] or process_ids
        if not executable:
            raise SpecError(f"{filename}: no bpmn:process in the file")
        definition = Definition(executable[0], parser)
        definition.parser.get_spec(definition.process_id)  # parse now: errors surface at load time
        return definition
    except ValidationException as exc:
        raise SpecError(f"{filename}: {str(exc).strip().rstrip('.')}") from exc
    except etree.XMLSyntaxError as exc:
        raise SpecError(f"{filename}: not well-formed XML: {exc}") from exc


def serialize(workflow: BpmnWorkflow) -> str:
    return _SERIALIZER.serialize_json(workflow)


def deserialize(document: str) -> BpmnWorkflow:
    workflow = _SERIALIZER.deserialize_json(document)
    workflow.script_engine = script_engine()
    return workflow


def advance(workflow: BpmnWorkflow) -> None:
    """Run what the engine runs by itself (gateways, scripts, DMN tasks, events) up to the next
    waiting task; an error in an expression is one SpecError."""
    try:
        workflow.do_engine_steps()
    except SpiffWorkflowException as exc:
        raise SpecError(f"process step failed: {exc}") from exc


def start_event(workflow: BpmnWorkflow):
    """The spec of the process's start event (for the history's first line), or None."""
    return next((t for t in workflow.spec.task_specs.values() if isinstance(t, StartEvent)), None)


def waiting_service_task(workflow: BpmnWorkflow):
    return next((t for t in workflow.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, ExternalServiceTask)), None)


def waiting_user_task(workflow: BpmnWorkflow):
    return next((t for t in workflow.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, UserTask)), None)


def properties(task) -> dict[str, str]:
    """The camunda:properties of a task's element (stage, role, outcome...)."""
    return dict(getattr(task.task_spec, "extensions", None) or {})


def label(task) -> str:
    return task.task_spec.bpmn_name or task.task_spec.bpmn_id or task.task_spec.name


__all__ = [
    "Definition",
    "ExternalServiceTask",
    "advance",
    "deserialize",
    "load_definition",
    "properties",
    "serialize",
    "waiting_service_task",
    "waiting_user_task",
]
