"""PNG plots of an evaluation document (matplotlib's Agg canvas; no display, no global state).

Each plot reads only the document, so plots can be redrawn from a saved ``metrics.json``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from modelop_spark.evaluation.explain_plots import write_explanation_plots

__all__ = ["write_plots"]


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    return path


def _roc(doc: dict[str, Any], path: Path) -> Path:
    b = doc["binary"]
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    auc = b["roc_auc"]
    ax.plot(b["roc_curve"]["fpr"], b["roc_curve"]["tpr"], label=f"AUC = {auc:.4f}" if auc is not None else "ROC")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    return _save(fig, path)


def _pr(doc: dict[str, Any], path: Path) -> Path:
    b = doc["binary"]
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ap = b["average_precision"]
    ax.step(b["pr_curve"]["recall"], b["pr_curve"]["precision"], where="post",
            label=f"AP = {ap:.4f}" if ap is not None else "PR")
    ax.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left")
    return _save(fig, path)


def _matrix(labels: list[str], matrix: list[list[int]], title: str, path: Path) -> Path:
    size = max(4.0, 0.5 * len(labels) + 2)
    fig = Figure(figsize=(size, size))
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xticks(range(len(labels)), labels=labels, rotation=45 if len(labels) > 4 else 0)
    ax.set_yticks(range(len(labels)), labels=labels)
    ax.set(xlabel="Predicted", ylabel="Actual", title=title)
    if len(labels) <= 20:
        peak = max((v for row in matrix for v in row), default=0)
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                ax.text(j, i, str(v), ha="center", va="center", color="white" if v > peak / 2 else "black")
    return _save(fig, path)


def _calibration(doc: dict[str, Any], path: Path) -> Path:
    bins = doc["binary"]["calibration"]["bins"]
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    ax.plot([b["mean_predicted"] for b in bins], [b["fraction_positive"] for b in bins], marker="o", label="model")
    ax.set(xlabel="Mean predicted probability", ylabel="Fraction of positives", title="Calibration",
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="upper left")
    return _save(fig, path)


def _group_bars(section: dict[str, Any], path: Path) -> Path:
    groups = list(section["groups"])
    measures = ("selection_rate", "true_positive_rate", "false_positive_rate")
    fig = Figure(figsize=(max(5.0, 1.2 * len(groups) + 2), 4))
    ax = fig.add_subplot()
    width = 0.8 / len(measures)
    for k, measure in enumerate(measures):
        values = [section["groups"][g][measure] or 0.0 for g in groups]
        ax.bar([i + k * width for i in range(len(groups))], values, width=width, label=measure.replace("_", " "))
    ax.set_xticks([i + width for i in range(len(groups))], labels=groups)
    ax.set(ylim=(0, 1.05), ylabel="rate",
           title=f"{section['column']} (reference: {section['reference_group']})")
    ax.legend(loc="upper right", fontsize="small")
    return _save(fig, path)


def _drift_bars(doc: dict[str, Any], path: Path) -> Path:
    features = doc["drift"]["features"]
    names = list(features)
    fig = Figure(figsize=(max(5.0, 0.6 * len(names) + 2), 4))
    ax = fig.add_subplot()
    ax.bar(names, [features[f]["psi"] or 0.0 for f in names])
    ax.axhline(0.1, color="orange", linestyle="--", linewidth=1)
    ax.axhline(0.25, color="red", linestyle="--", linewidth=1)
    ax.set(ylabel="PSI", title="Population stability index per feature")
    ax.tick_params(axis="x", rotation=45)
    return _save(fig, path)


def _residuals(doc: dict[str, Any], path: Path) -> Path:
    section = doc["regression_distribution"]["residuals"]
    edges, counts = section["edges"], section["counts"]
    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot()
    widths = [edges[i + 1] - edges[i] for i in range(len(counts))]
    ax.bar(edges[: len(counts)], counts, width=[w or 1.0 for w in widths], align="edge", edgecolor="white")
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="Residual (predicted - actual)", ylabel="Rows", title="Residuals")
    return _save(fig, path)


def _predicted_vs_actual(doc: dict[str, Any], path: Path) -> Path:
    section = doc["regression_distribution"]["predicted_vs_actual"]
    edges, counts = section["edges"], section["counts"]
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    masked = [[value if value else float("nan") for value in row] for row in counts]  # empty cells stay blank
    mesh = ax.pcolormesh(edges, edges, masked, cmap="Blues", shading="flat")  # rows: actual (y), columns: predicted (x)
    fig.colorbar(mesh, ax=ax, fraction=0.046, label="rows")
    ax.plot([edges[0], edges[-1]], [edges[0], edges[-1]], linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel="Predicted", ylabel="Actual", title="Predicted vs actual")
    return _save(fig, path)


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def write_plots(doc: dict[str, Any], directory: str | Path) -> dict[str, Path]:
    """Write every plot the document supports; returns plot name -> PNG path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if "binary" in doc:
        b = doc["binary"]
        written["roc"] = _roc(doc, out / "roc.png")
        written["pr"] = _pr(doc, out / "pr.png")
        if b["thresholds"]:
            first = b["thresholds"][0]
            cm = first["confusion_matrix"]
            written["confusion_matrix"] = _matrix(
                ["0", "1"], [[cm["tn"], cm["fp"]], [cm["fn"], cm["tp"]]],
                f"Confusion matrix at {first['threshold']:g}", out / "confusion_matrix.png",
            )
        written["calibration"] = _calibration(doc, out / "calibration.png")
    if "multiclass" in doc:
        cm = doc["multiclass"]["confusion_matrix"]
        written["confusion_matrix"] = _matrix(cm["labels"], cm["matrix"], "Confusion matrix", out / "confusion_matrix.png")
    if doc.get("regression_distribution"):
        written["residuals"] = _residuals(doc, out / "residuals.png")
        written["predicted_vs_actual"] = _predicted_vs_actual(doc, out / "predicted_vs_actual.png")
    for section in doc.get("fairness") or []:
        if section["groups"]:
            name = f"fairness_{_file_name(section['column'])}"
            written[name] = _group_bars(section, out / f"{name}.png")
    if doc.get("drift") and doc["drift"]["features"]:
        written["drift_psi"] = _drift_bars(doc, out / "drift_psi.png")
    written.update(write_explanation_plots(doc, out))
    return written
