"""ModelOp smart tags: comments in the model source that name its functions and schemas.

    # modelop.init            (also "#modelop.init")
    def begin(): ...
    # modelop.schema.0: input_schema.avsc

Pure parsing over the source text; the tag applies to the next ``def`` below it (decorators and
blank lines may sit between them).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from modelop_spark import vocabulary

ROLES: tuple[str, ...] = ("init", "score", "metrics", "train")

_FUNCTION_TAG = vocabulary.FUNCTION_TAG
_SCHEMA_TAG = vocabulary.SCHEMA_TAG


@dataclass(frozen=True)
class SmartTags:
    functions: dict[str, str] = field(default_factory=dict)  # role -> function name
    schemas: dict[int, str] = field(default_factory=dict)  # 0 input, 1 output -> file name


def parse_smart_tags(source: str) -> SmartTags:
    """Find tagged functions and schema files. The source must already compile."""
    tree = ast.parse(source)
    # The first line of each top-level def, counting its decorators.
    starts = sorted(
        (min([node.lineno, *(d.lineno for d in node.decorator_list)]), node.name)
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )
    functions: dict[str, str] = {}
    schemas: dict[int, str] = {}
    for number, line in enumerate(source.splitlines(), start=1):
        if match := _FUNCTION_TAG.match(line):
            name = next((n for start, n in starts if start > number), None)
            if name is not None:
                functions.setdefault(match.group(1), name)
        elif match := _SCHEMA_TAG.match(line):
            schemas[int(match.group(1))] = match.group(2)
    return SmartTags(functions=functions, schemas=schemas)
