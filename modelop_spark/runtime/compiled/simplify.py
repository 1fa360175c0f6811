"""Remove the redundant work from orbital's SQL, exactly (pure: sqlglot trees, no Spark).

orbital translates an ONNX graph node by node, so its SQL computes what the graph computes, not
what the model needs. Measured on a binary logistic regression it computes the decision function
twice (ONNX's two class scores, one the negation of the other) and compares the two, carries every
column through every SELECT, and maps class indices 0/1 to the labels 0/1 with a CASE and two
casts. Every rewrite here gives the same value as the SQL it replaces, bit for bit, for every
input (null, NaN and infinities included), so predictions stay what orbital's SQL gives:

- the nested SELECTs are inlined into one tree per output; what no output reads disappears;
- a linear form that is exactly the negation of another (``x * -w + -b`` beside ``x * w + b``:
  IEEE negation is exact) is written as ``-(that one)``; ``-(-e)`` is ``e``;
- ``e >= -(e)`` is ``e >= 0.0``, and in ``CASE WHEN e >= 0.0 THEN a WHEN -(e) >= e THEN b``
  the second test can only meet ``e < 0.0`` (what is left once ``e >= 0.0`` failed, NaN being
  greater than everything in Spark), so it is written so: one dot product, one comparison;
- ``CASE WHEN c = 0 THEN 0 WHEN c = 1 THEN 1 ELSE NULL END`` over a ``c`` that is only ever 0
  or 1 is ``c``; ``CAST(CAST(c AS DOUBLE) AS BIGINT)`` of such an integer ``c`` is
  ``CAST(c AS BIGINT)``;
- arithmetic on two DOUBLE literals is folded (Python floats are IEEE doubles, as Spark's);
- a subexpression used more than once (a tree ensemble's sum, read by the label and both
  probabilities) is computed once, in an earlier layer, and read by name.

The result is layers of ``(name, expression)`` as ``translate`` produced before, each layer
reading the names of the one below, the last one holding the outputs.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import sqlglot.expressions as exp

ExpressionLayer = Sequence[tuple[str, exp.Expression]]
SHARED = "_ms_shared_{}"  # names of subexpressions computed once


def simplified(layers: Sequence[ExpressionLayer], features: Sequence[str]) -> list[list[tuple[str, exp.Expression]]]:
    """orbital's layers (innermost first, qualifiers removed) as simplified layers."""
    scope: dict[str, exp.Expression] = {name: exp.column(name, quoted=True) for name in features}
    for layer in layers:
        scope = {name: _inlined(expression, scope) for name, expression in layer}
    outputs = {name: _rewrite(expression) for name, expression in scope.items()}
    pairs = _linear_pairs(list(outputs.values()))
    outputs = {name: _rewrite(_with_negations(expression, pairs)) for name, expression in outputs.items()}
    shared, outputs = _shared_subexpressions(outputs)
    return _layered(shared, outputs, features)


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _bottom_up(node: exp.Expression, change: Any) -> exp.Expression:
    """``change`` applied to every node, children first (sqlglot's transform goes top down and
    does not visit inside a node it replaced)."""
    for name, value in list(node.args.items()):
        if isinstance(value, exp.Expression):
            node.set(name, _bottom_up(value, change))
        elif isinstance(value, list):
            node.set(name, [_bottom_up(v, change) if isinstance(v, exp.Expression) else v for v in value])
    return change(node)


def _inlined(expression: exp.Expression, scope: Mapping[str, exp.Expression]) -> exp.Expression:
    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return scope[node.name].copy()
        if isinstance(node, exp.Paren):
            return node.this
        return node

    return _bottom_up(expression.copy(), replace)


def _is_number(node: Any) -> bool:
    return (isinstance(node, exp.Literal) and not node.is_string) or (isinstance(node, exp.Neg) and _is_number(node.this))


def _value(node: exp.Expression) -> float:
    return -_value(node.this) if isinstance(node, exp.Neg) else float(node.this)


def _is_double(node: exp.Expression) -> bool:
    literal = node.this if isinstance(node, exp.Neg) else node
    return isinstance(literal, exp.Literal) and any(c in literal.this for c in ".eE")


def _double(value: float) -> exp.Expression:
    text = repr(abs(value))
    if "." not in text and "e" not in text and "inf" not in text and "nan" not in text:
        text += ".0"
    literal = exp.Literal(this=text, is_string=False)
    return exp.Neg(this=literal) if value < 0 or (value == 0 and repr(value).startswith("-")) else literal


def _negated(node: exp.Expression) -> exp.Expression | None:
    """The exact negation of a linear form (sums of ``x * literal`` and literals), else None."""
    if _is_number(node):
        return node.this.copy() if isinstance(node, exp.Neg) else exp.Neg(this=node.copy())
    if isinstance(node, exp.Add | exp.Sub):
        left, right = _negated(node.this), _negated(node.expression)
        return None if left is None or right is None else type(node)(this=left, expression=right)
    if isinstance(node, exp.Mul):
        if _is_number(node.expression):
            return exp.Mul(this=node.this.copy(), expression=_negated(node.expression))
        if _is_number(node.this):
            return exp.Mul(this=_negated(node.this), expression=node.expression.copy())
    return None


def _linear_pairs(outputs: Sequence[exp.Expression]) -> dict[exp.Expression, exp.Expression]:
    """Linear sums that are exactly the negation of another one -> that other one."""
    sums: list[exp.Expression] = []
    for output in outputs:
        sums += [n for n in output.walk() if isinstance(n, exp.Add) and not isinstance(n.parent, exp.Add | exp.Sub)]
    seen: set[exp.Expression] = set()
    pairs: dict[exp.Expression, exp.Expression] = {}
    for candidate in sums:
        negation = _negated(candidate)
        if negation is None:
            continue
        if negation in seen and candidate not in pairs and negation not in pairs:
            pairs[candidate] = negation
        seen.add(candidate)
    return pairs


def _with_negations(expression: exp.Expression, pairs: Mapping[exp.Expression, exp.Expression]) -> exp.Expression:
    def replace(node: exp.Expression) -> exp.Expression:
        if node in pairs:
            return exp.Neg(this=pairs[node].copy())
        return node

    return expression.transform(replace)


def _rewrite(expression: exp.Expression) -> exp.Expression:
    return _bottom_up(expression, _rewrite_node)


def _rewrite_node(node: exp.Expression) -> exp.Expression:
    """One local rewrite, by the node's type; the node itself when none applies."""
    for node_type, rewrite in _REWRITES:
        if isinstance(node, node_type):
            return rewrite(node)
    return node


def _double_negation(node: exp.Neg) -> exp.Expression:
    """-(-(e)) -> e (a negative literal stays as it is)."""
    if isinstance(node.this, exp.Neg) and not _is_number(node.this.this):
        return node.this.this
    return node


_ARITHMETIC: dict[type[exp.Expression], Any] = {exp.Add: operator.add, exp.Sub: operator.sub, exp.Mul: operator.mul, exp.Div: operator.truediv}


def _folded(node: exp.Expression) -> exp.Expression:
    """Arithmetic on two double literals, computed now (never a division by zero)."""
    if not (_is_double(node.this) and _is_double(node.expression)):
        return node
    left, right = _value(node.this), _value(node.expression)
    if isinstance(node, exp.Div) and right == 0:
        return node
    return _double(_ARITHMETIC[type(node)](left, right))


def _non_negative_test(node: exp.GTE) -> exp.Expression:
    """e >= -(e) -> e >= 0.0."""
    if isinstance(node.expression, exp.Neg) and node.expression.this == node.this:
        return exp.GTE(this=node.this, expression=_double(0.0))
    return node


def _integer_cast(node: exp.Cast) -> exp.Expression:
    """CAST(CAST(c AS DOUBLE) AS BIGINT) over a CASE of integer literals -> CAST(c AS BIGINT)."""
    inner = node.this
    if node.to.this == exp.DataType.Type.BIGINT and isinstance(inner, exp.Cast) and inner.to.this == exp.DataType.Type.DOUBLE \
            and _integer_values(inner.this) is not None:
        return exp.Cast(this=inner.this, to=node.to)
    return node


def _integer_values(node: exp.Expression) -> set[int] | None:
    """The integers a CASE of integer literals can give (no NULL), else None."""
    if not isinstance(node, exp.Case) or node.args.get("this") is not None:
        return None
    results = [branch.args["true"] for branch in node.args.get("ifs") or ()] + [node.args.get("default")]
    if any(r is None or not isinstance(r, exp.Literal) or r.is_string or not r.this.isdigit() for r in results):
        return None
    return {int(r.this) for r in results}


def _case(node: exp.Case) -> exp.Expression:
    identity = _identity_case(node)
    return identity if identity is not None else _sign_branches(node)


def _identity_case(node: exp.Case) -> exp.Expression | None:
    """CASE WHEN c = 0 THEN 0 WHEN c = 1 THEN 1 ... ELSE NULL END over a c that gives only
    those values -> c; None when the CASE is not that."""
    ifs = node.args.get("ifs") or []
    default = node.args.get("default")
    if not ifs or not (default is None or isinstance(default, exp.Null)) or node.args.get("this") is not None:
        return None
    subject = ifs[0].this.this if isinstance(ifs[0].this, exp.EQ) else None
    values = _integer_values(subject) if subject is not None else None
    if values is None or not all(_maps_to_itself(branch, subject) for branch in ifs):
        return None
    return subject if values <= {int(b.args["true"].this) for b in ifs} else None


def _maps_to_itself(branch: exp.Expression, subject: Any) -> bool:
    """WHEN subject = n THEN n, for an integer literal n."""
    result = branch.args["true"]
    return isinstance(branch.this, exp.EQ) and branch.this.this == subject and branch.this.expression == result \
        and isinstance(result, exp.Literal) and result.this.isdigit()


def _sign_branches(node: exp.Case) -> exp.Case:
    """CASE WHEN e >= 0.0 THEN a WHEN -(e) >= e THEN b: the second test meets only e < 0.0."""
    ifs = node.args.get("ifs") or []
    if len(ifs) >= 2 and isinstance(ifs[0].this, exp.GTE) and ifs[0].this.expression == _double(0.0):
        first, second = ifs[0].this.this, ifs[1].this
        if isinstance(second, exp.GTE) and second.expression == first and second.this == exp.Neg(this=first.copy()):
            ifs[1].set("this", exp.LT(this=first.copy(), expression=_double(0.0)))
    return node


# Each rewrite, by the type of node it applies to (first match).
_REWRITES: tuple[tuple[type[exp.Expression] | tuple[type[exp.Expression], ...], Any], ...] = (
    (exp.Neg, _double_negation),
    ((exp.Add, exp.Sub, exp.Mul, exp.Div), _folded),
    (exp.GTE, _non_negative_test),
    (exp.Case, _case),
    (exp.Cast, _integer_cast),
)


def _key(node: exp.Expression, keys: dict[int, int], interned: dict[tuple[Any, ...], int]) -> int:
    """A structural key per node, computed once bottom-up (sqlglot's own hash recurses each time)."""
    found = keys.get(id(node))
    if found is not None:
        return found
    parts: list[Any] = [type(node).__name__]
    for name, value in sorted(node.args.items()):
        if isinstance(value, exp.Expression):
            parts.append((name, _key(value, keys, interned)))
        elif isinstance(value, list):
            parts.append((name, tuple(_key(v, keys, interned) if isinstance(v, exp.Expression) else v for v in value)))
        else:
            parts.append((name, value))
    key = interned.setdefault(tuple(parts), len(interned))
    keys[id(node)] = key
    return key


def _worth_sharing(node: exp.Expression) -> bool:
    """Not a name, a number, a CASE branch or a type; and not a single step over names and
    numbers (``x <= 0.5``: cheaper to repeat, inside the branch that needs it, than to compute
    for every row)."""
    if isinstance(node, exp.Column | exp.Literal | exp.DataType | exp.Identifier | exp.If) or _is_number(node):
        return False
    children = list(node.iter_expressions())
    return not all(isinstance(c, exp.Column | exp.Literal | exp.DataType | exp.Identifier) or _is_number(c) for c in children)


def _shared_subexpressions(outputs: dict[str, exp.Expression]) -> tuple[dict[str, exp.Expression], dict[str, exp.Expression]]:
    """Every subexpression used twice or more, the largest first, computed once under a name."""
    shared: dict[str, exp.Expression] = {}
    while True:
        keys: dict[int, int] = {}
        interned: dict[tuple[Any, ...], int] = {}
        trees = [*shared.values(), *outputs.values()]
        alive = [node for tree in trees for node in tree.walk()]  # keys are by id(): no id reused meanwhile
        counts: Counter[int] = Counter()
        sizes: dict[int, tuple[int, Any]] = {}
        for tree in trees:
            node: Any
            for node in tree.walk():
                if _worth_sharing(node):
                    key = _key(node, keys, interned)
                    counts[key] += 1
                    if key not in sizes:
                        sizes[key] = (sum(1 for _ in node.walk()), node)
        repeated = [key for key, count in counts.items() if count > 1]
        if not repeated:
            return shared, outputs
        chosen = max(repeated, key=lambda k: sizes[k][0])
        name = SHARED.format(len(shared))
        definition = sizes[chosen][1].copy()

        def replace(node: exp.Expression, chosen: int = chosen, name: str = name, keys: dict[int, int] = keys, interned: dict[tuple[Any, ...], int] = interned) -> exp.Expression:
            if _worth_sharing(node) and _key(node, keys, interned) == chosen:
                return exp.column(name, quoted=True)
            return node

        shared = {n: e.transform(replace, copy=False) for n, e in shared.items()}
        outputs = {n: e.transform(replace, copy=False) for n, e in outputs.items()}
        shared[name] = definition
        del alive


def _layered(shared: Mapping[str, exp.Expression], outputs: Mapping[str, exp.Expression], features: Sequence[str]) -> list[list[tuple[str, exp.Expression]]]:
    """Place each shared name one layer above what it reads, outputs last; carry names through
    the layers in between (each layer reads only the one below)."""
    level: dict[str, int] = dict.fromkeys(features, 0)

    def level_of(name: str) -> int:  # a larger shared expression may read a smaller, later one
        if name not in level:
            level[name] = 1 + max((level_of(c.name) for c in shared[name].find_all(exp.Column)), default=0)
        return level[name]

    for name in shared:
        level_of(name)
    top = 1 + max((level[c.name] for e in outputs.values() for c in e.find_all(exp.Column)), default=0)
    layers: list[list[tuple[str, exp.Expression]]] = [[] for _ in range(top)]
    for name, expression in shared.items():
        layers[level[name] - 1].append((name, expression))
    layers[top - 1] = list(outputs.items())
    for index in range(top - 1, 0, -1):  # carry down what a layer reads from further below
        defined = {name for name, _ in layers[index - 1]}
        needed = {c.name for _, e in layers[index] for c in e.find_all(exp.Column)} - defined
        layers[index - 1] += [(name, exp.column(name, quoted=True)) for name in sorted(needed)]
    return [[(name, _with_parens(expression)) for name, expression in layer] for layer in layers]


def _with_parens(expression: exp.Expression) -> exp.Expression:
    """Parentheses where the tree needs them in text (inlining removed orbital's)."""

    def wrap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Binary | exp.Neg | exp.Not):
            for arg in ("this", "expression"):
                child: Any = node.args.get(arg)
                if isinstance(child, exp.Binary | exp.Neg) and not _is_number(child) and not (
                    arg == "this" and type(child) is type(node) and isinstance(node, exp.Add | exp.Mul | exp.And | exp.Or)
                ):
                    node.set(arg, exp.Paren(this=child))
        return node

    return _bottom_up(expression, wrap)
