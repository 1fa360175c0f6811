"""The code stays small: no function over 80 lines and no cyclomatic complexity over 20 (radon
grade C or better) anywhere in the package; ``make lint`` runs the same radon check."""

from __future__ import annotations

import ast
from pathlib import Path

from radon.complexity import cc_visit

PACKAGE = Path(__file__).resolve().parent.parent / "modelop_spark"
MIGRATIONS = "migrations"  # an Alembic revision is a frozen list of tables, never edited once released
MAX_LINES, MAX_COMPLEXITY = 80, 20


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        if MIGRATIONS not in path.parts:
            yield path.relative_to(PACKAGE), path.read_text()


def test_no_function_is_over_80_lines():
    long = [
        f"{where}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for where, source in _sources()
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > MAX_LINES
    ]
    assert long == []


def test_no_function_is_more_complex_than_grade_c():
    tangled = [f"{where}:{block.lineno} {block.fullname} (complexity {block.complexity})"
               for where, source in _sources() for block in cc_visit(source) if block.complexity > MAX_COMPLEXITY]
    assert tangled == []
