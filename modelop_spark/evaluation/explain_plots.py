"""The interpretability plots, drawn from the document alone (its bounded aggregates): a bar chart
of global importance, and value vs SHAP per top feature from the summary bins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

__all__ = ["write_explanation_plots"]

BAR_FEATURES = 20
SUMMARY_COLUMNS = 4


def _importance_bars(section: dict[str, Any], path: Path) -> Path:
    rows = section["global_importance"][:BAR_FEATURES][::-1]  # largest at the top
    fig = Figure(figsize=(6, max(2.5, 0.35 * len(rows) + 1.2)))
    ax = fig.add_subplot()
    bars = ax.barh([r["feature"] for r in rows], [r["mean_abs_shap"] for r in rows], color="#1e88e5")
    ax.bar_label(bars, labels=[f"{r['share']:.0%}" for r in rows], padding=3, fontsize="small")
    ax.set(xlabel="mean |SHAP value|", title=f"Global feature importance ({section['method']}, {section['rows_explained']:,} rows)")
    ax.margins(x=0.15)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    return path


def _summary(section: dict[str, Any], path: Path) -> Path:
    summary = section["summary"]
    names = list(summary)
    columns = min(SUMMARY_COLUMNS, len(names))
    lines = -(-len(names) // columns)
    fig = Figure(figsize=(3.2 * columns, 2.8 * lines))
    for i, name in enumerate(names):
        ax = fig.add_subplot(lines, columns, i + 1)
        bins = summary[name]
        ax.fill_between(bins["value"], bins["min_shap"], bins["max_shap"], color="#90caf9", alpha=0.5, linewidth=0)
        ax.scatter(bins["value"], bins["mean_shap"], s=[max(6.0, 60.0 * n / max(bins["rows"])) for n in bins["rows"]], color="#d81b60")
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set(title=name, xlabel="feature value", ylabel="SHAP value")
    fig.suptitle("Feature value vs SHAP value (bin mean, min-max band)")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    return path


def write_explanation_plots(doc: dict[str, Any], out: Path) -> dict[str, Path]:
    section = doc.get("interpretability")
    if not section or not section.get("global_importance"):
        return {}
    written = {"shap_importance": _importance_bars(section, out / "shap_importance.png")}
    if section.get("summary"):
        written["shap_summary"] = _summary(section, out / "shap_summary.png")
    return written
