"""Write an evaluation: ``metrics.json``, PNG plots and one self-contained HTML report.

The HTML inlines every image as base64, so the single file can be mailed or attached to a
governance record without its folder.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelop_spark.evaluation.plots import write_plots

__all__ = ["EvaluationFiles", "render_html", "to_json", "write_report"]


@dataclass(frozen=True)
class EvaluationFiles:
    json: Path
    html: Path
    plots: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"json": str(self.json), "html": str(self.html), "plots": {k: str(v) for k, v in self.plots.items()}}

    def paths(self) -> list[Path]:
        return [self.json, self.html, *self.plots.values()]


def _finite(value: Any) -> Any:
    # JSON has no NaN/Infinity: a non-finite number is written as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(_finite(doc), indent=2, sort_keys=True, allow_nan=False)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape("—" if value is None else str(value))


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _grid(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _is_builtin(doc: dict[str, Any]) -> bool:
    return "format_version" in doc and "kind" in doc


def _user_section(metrics: Any, heading: str) -> str:
    # A user's metrics dict has no fixed layout: its scalars as a table, the whole as JSON.
    scalars = [(k, v) for k, v in metrics.items() if isinstance(v, int | float | str | None)] if isinstance(metrics, dict) else []
    text = html.escape(json.dumps(metrics, indent=2, default=str))
    return f"<h2>{html.escape(heading)}</h2>{_table(scalars) if scalars else ''}<pre>{text}</pre>"


def _rows_section(doc: dict[str, Any]) -> list[str]:
    return [f"<h2>Rows</h2>{_table(list(doc.get('rows', {}).items()))}"]


def _binary_section(doc: dict[str, Any]) -> list[str]:
    if "binary" not in doc:
        return []
    b = doc["binary"]
    summary = _table([
        ("ROC AUC", b["roc_auc"]), ("average precision", b["average_precision"]),
        ("log loss", b["log_loss"]), ("positives", b["positives"]), ("negatives", b["negatives"]),
    ])
    thresholds = _grid(
        ["threshold", "accuracy", "precision", "recall", "f1", "tp", "fp", "tn", "fn"],
        [[t["threshold"], t["accuracy"], t["precision"], t["recall"], t["f1"],
          *(t["confusion_matrix"][k] for k in ("tp", "fp", "tn", "fn"))] for t in b["thresholds"]],
    )
    return ["<h2>Binary classification</h2>" + summary, thresholds]


def _multiclass_section(doc: dict[str, Any]) -> list[str]:
    if "multiclass" not in doc:
        return []
    m = doc["multiclass"]
    summary = _table([("accuracy", m["accuracy"]), ("macro F1", m["macro"]["f1"]), ("weighted F1", m["weighted"]["f1"])])
    per_class = _grid(["class", "precision", "recall", "f1", "support"],
                      [[c, v["precision"], v["recall"], v["f1"], v["support"]] for c, v in m["per_class"].items()])
    return ["<h2>Multiclass classification</h2>" + summary, per_class]


def _regression_section(doc: dict[str, Any]) -> list[str]:
    return ["<h2>Regression</h2>" + _table(list(doc["regression"].items()))] if "regression" in doc else []


_FAIRNESS_KEYS = ["size", "selection_rate", "statistical_parity_difference", "disparate_impact_ratio",
                  "equal_opportunity_difference", "equalized_odds_difference"]


def _fairness_section(doc: dict[str, Any]) -> list[str]:
    parts = []
    for section in doc.get("fairness") or []:
        parts.append(f"<h2>Fairness: {html.escape(section['column'])} "
                     f"(reference {html.escape(str(section['reference_group']))})</h2>")
        parts.append(_table(list(section["summary"].items())))
        parts.append(_grid(["group", *_FAIRNESS_KEYS], [[g, *(v[k] for k in _FAIRNESS_KEYS)] for g, v in section["groups"].items()]))
    return parts


def _drift_section(doc: dict[str, Any]) -> list[str]:
    if not doc.get("drift"):
        return []
    rows = []
    for name, f in doc["drift"]["features"].items():
        test = f.get("ks") or f.get("chi_square") or {}
        rows.append([name, f["type"], f["psi"], test.get("statistic"), test.get("p_value")])
    return ["<h2>Drift</h2>" + _grid(["feature", "type", "PSI", "KS / chi-square", "p-value"], rows)]


def _interpretability_section(doc: dict[str, Any]) -> list[str]:
    if not doc.get("interpretability"):
        return []
    section = doc["interpretability"]
    return [
        f"<h2>Interpretability ({html.escape(section['method'])}, {section['rows_explained']} rows)</h2>",
        _grid(["rank", "feature", "mean |SHAP|", "share"],
              [[r["rank"], r["feature"], r["mean_abs_shap"], r["share"]] for r in section["global_importance"]]),
        _table(list(section["decision"].items())),
    ]


def _comparison_section(doc: dict[str, Any]) -> list[str]:
    if "side_by_side" not in doc:
        return []
    models = list(doc["models"])
    rows = [[name, *(row["values"].get(m) for m in models), ", ".join(row["best"])] for name, row in doc["side_by_side"].items()]
    parts = [f"<h2>Champion / challenger (champion: {html.escape(doc['champion'])})</h2>"
             + _grid(["metric", *models, "better"], rows)]
    for name, result in (doc.get("gate") or {}).get("results", {}).items():
        parts.append(f"<p>gate, {html.escape(name)}: {'PASSES' if result['passes'] else 'FAILS'}: {html.escape(result['reason'])}</p>")
    return parts


def _judgement_section(doc: dict[str, Any]) -> list[str]:
    if not doc.get("judgement"):
        return []
    j = doc["judgement"]
    return [f"<h2>Judgement: {html.escape(j['status'])}</h2>" + "".join(f"<p>{html.escape(r)}</p>" for r in j["reasons"])]


def _model_metrics_section(doc: dict[str, Any]) -> list[str]:
    if "model_metrics" not in doc:
        return []
    return [_user_section(doc["model_metrics"], "Model metrics (the snapshot's metrics function)")]


# The report's sections, in order; each renders what the document has of it (nothing when absent).
_SECTIONS = (
    _rows_section, _binary_section, _multiclass_section, _regression_section, _fairness_section, _drift_section,
    _interpretability_section, _comparison_section, _judgement_section, _model_metrics_section,
)


def _sections(doc: dict[str, Any]) -> list[str]:
    if not _is_builtin(doc):
        return [_user_section(doc, "Model metrics")]
    return [part for section in _SECTIONS for part in section(doc)]


def render_html(doc: dict[str, Any], plots: dict[str, Path], *, title: str = "Model evaluation") -> str:
    images = []
    for name, path in plots.items():
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        images.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
                      f"<figcaption>{html.escape(name)}</figcaption></figure>")
    style = ("body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:.5em 0}"
             "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}figure{display:inline-block;margin:8px}"
             "img{max-width:480px}")
    body = "".join(_sections(doc)) + ("<h2>Plots</h2>" + "".join(images) if images else "")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>kind: {html.escape(str(doc.get('kind', 'model metrics')))}</p>{body}</body></html>\n")


def write_report(
    doc: dict[str, Any], directory: str | Path, *, plots: bool = True, title: str = "Model evaluation"
) -> EvaluationFiles:
    """Write ``metrics.json``, ``plots/*.png`` and ``report.html`` into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "metrics.json"
    json_path.write_text(to_json(doc) + "\n", encoding="utf-8")
    written = write_plots(doc, out / "plots") if plots else {}
    html_path = out / "report.html"
    html_path.write_text(render_html(doc, written, title=title), encoding="utf-8")
    return EvaluationFiles(json=json_path, html=html_path, plots=written)
