"""Test thresholds as DMN decision tables: a ``.dmn`` asset, or the default table.

The table is evaluated with SpiffWorkflow's DMN engine on a result's metrics (each metric a
variable, so an input expression ``tpr`` reads the metric ``tpr``). Camunda's usual shape is
expected: hit policy COLLECT (or FIRST/UNIQUE), outputs ``passes`` (boolean) and ``reason``
(string). The verdict passes when at least one rule matched and every matched rule says
``passes: true``; its reasons are the matched rules' reasons, failing ones first. Pure: bytes and
a dict in, a ``Verdict`` out.

It lives here, below the life cycles (``mlc``), so that a metrics job on the runtime judges a
monitor's result with the same code a life cycle uses (``mlc.dmn`` re-exports it). ``judge``
turns a verdict into a test result's status: PASSED, FAILED, or ERROR when the table cannot be
read or does not fit the metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.exceptions import SpiffWorkflowException

from modelop_spark.errors import ModelOpSparkError, SpecError

__all__ = ["DEFAULT_DMN", "FEEL_LITERALS", "Judgement", "Verdict", "default_dmn", "evaluate", "judge"]

DEFAULT_DMN = Path(__file__).resolve().parents[2] / "conf" / "mlc" / "default-thresholds.dmn"

# FEEL's literals, so Camunda output entries such as ``true`` or ``null`` evaluate as in Camunda.
FEEL_LITERALS = {"true": True, "false": False, "null": None}

Status = Literal["PASSED", "FAILED", "ERROR"]


@dataclass(frozen=True)
class Verdict:
    passes: bool
    reasons: tuple[str, ...]
    decision: str

    def to_dict(self) -> dict[str, Any]:
        return {"passes": self.passes, "reasons": list(self.reasons), "decision": self.decision}

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons) or ("passed" if self.passes else "failed")


@dataclass(frozen=True)
class Judgement:
    """A test result's outcome: PASSED / FAILED with the matching rules' reasons, or ERROR with
    why the table could not judge the metrics."""

    status: Status
    reasons: tuple[str, ...]
    decision: str | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reasons": list(self.reasons), "decision": self.decision, "dmn": self.source}


def evaluate(dmn_xml: bytes, metrics: Mapping[str, Any], *, filename: str = "thresholds.dmn") -> Verdict:
    """The first decision table of ``dmn_xml`` applied to ``metrics``."""
    parser = CamundaParser()
    try:
        parser.add_dmn_str(dmn_xml, filename=filename)
    except etree.XMLSyntaxError as exc:
        raise SpecError(f"{filename}: not well-formed XML: {exc}") from exc
    if not parser.dmn_parsers:
        raise SpecError(f"{filename}: no DMN decision in the file")
    decision_parser = next(iter(parser.dmn_parsers.values()))
    decision_parser.parse()
    decision = decision_parser.decision
    if not decision.decisionTables:
        raise SpecError(f"{filename}: decision {decision.name or decision_parser.bpmn_id} has no decision table")
    table = decision.decisionTables[0]
    variables = {str(k): v for k, v in metrics.items()}
    engine = PythonScriptEngine(environment=TaskDataEnvironment(dict(FEEL_LITERALS)))
    task = SimpleNamespace(
        data=variables, workflow=SimpleNamespace(script_engine=engine),
        task_spec=SimpleNamespace(name=decision_parser.bpmn_id, bpmn_id=decision_parser.bpmn_id, bpmn_name=decision.name),
    )
    name = decision.name or decision_parser.bpmn_id
    missing = [i.expression for i in table.inputs if (i.expression or "").isidentifier() and i.expression not in variables and i.expression not in FEEL_LITERALS]
    if missing:
        raise SpecError(
            f"{filename}: decision {name!r} reads {', '.join(missing)}, which the test job's metrics do not have "
            f"(they have {', '.join(sorted(variables)) or 'none'}); make the model's metrics function return it or change the DMN inputs"
        )
    try:
        outcome = DMNEngine(table).result(task)
    except (SpiffWorkflowException, AttributeError, NameError, TypeError) as exc:
        inputs = ", ".join(i.expression or i.label or "?" for i in table.inputs)
        raise SpecError(
            f"{filename}: decision {name!r} could not be evaluated on the metrics ({', '.join(sorted(variables)) or 'none'}); "
            f"its inputs are {inputs}: {_root(exc)}"
        ) from exc
    return _verdict(outcome, name)


def judge(dmn_xml: bytes, metrics: Mapping[str, Any], *, filename: str = "thresholds.dmn") -> Judgement:
    """PASSED or FAILED with the matched rules' reasons; ERROR (never an exception) when the
    table is unreadable or reads a metric the result lacks, so a run still leaves its result."""
    try:
        verdict = evaluate(dmn_xml, metrics, filename=filename)
    except ModelOpSparkError as exc:
        return Judgement("ERROR", (exc.message,), None, filename)
    return Judgement("PASSED" if verdict.passes else "FAILED", verdict.reasons, verdict.decision, filename)


def _root(exc: BaseException) -> str:
    while exc.__cause__ is not None or getattr(exc, "exception", None) is not None:
        exc = getattr(exc, "exception", None) or exc.__cause__  # type: ignore[assignment]
    return f"{type(exc).__name__}: {exc}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _verdict(outcome: Mapping[str, Any], name: str) -> Verdict:
    if not outcome:
        return Verdict(False, (f"no rule of decision {name!r} matched the metrics",), name)
    passes = [bool(p) for p in _as_list(outcome.get("passes", []))]
    reasons = [str(r) for r in _as_list(outcome.get("reason", [None] * len(passes)))]
    failing = [r for p, r in zip(passes, reasons, strict=False) if not p and r != "None"]
    passing = [r for p, r in zip(passes, reasons, strict=False) if p and r != "None"]
    ok = bool(passes) and all(passes)
    if not passes:
        failing = [f"decision {name!r} has no 'passes' output"]
    return Verdict(ok, tuple(failing + passing), name)


def default_dmn() -> bytes:
    return DEFAULT_DMN.read_bytes()
