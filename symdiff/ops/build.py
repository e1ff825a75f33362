"""Folding constructors: how derivative rules and rewrites build nodes.

``sd.exp(x)`` and the operators make exactly the node the user asked for.
The rules that *generate* graphs (VJPs, rewrites) build through these
functions instead, which fold what is trivially foldable without changing a
type: constants combine (exactly: they are SymPy numbers), ``x*1`` is ``x``,
``0 + x`` is ``x``, ``-(-x)`` is ``x``, ``x + (-y)`` is ``x - y``, and
constant factors gather at the front.  ``x*0`` is *not* folded (``inf*0`` is
NaN); a gradient that is structurally zero is simply absent instead.
"""
from __future__ import annotations

import sympy as sp

from ..graph.node import Constant, Node, exact
from ..graph.types import promote
from . import elementwise as ew


def const(value, like: Node | None = None) -> Constant:
    """A weak constant (it takes the dtype of what it meets): an integer unless
    ``value`` is not one or ``like`` is a float node."""
    value = exact(value)
    floating = not value.is_Integer or (like is not None and like.dtype in ("float32", "float64"))
    return Constant((), value=value, const_dtype="float64" if floating else "int64", weak=True)


def one(like: Node | None = None) -> Constant:
    return const(1, like)


def zero(like: Node | None = None) -> Constant:
    return const(0, like)


def value_of(node: Node):
    """The SymPy number of a constant node, else ``None``."""
    return node.value if isinstance(node, Constant) else None


def _is(node: Node, number) -> bool:
    v = value_of(node)
    return v is not None and v == number


def _small(value) -> bool:
    """Whether a folded coefficient stays a small rational (so folding cannot pile
    up 4**k over a deep chain: past this, factors stay where the rules put them)."""
    return value.is_Rational and abs(value.p) <= 1024 and value.q <= 1024


def fold_constants(cls, *nodes):
    """A constant for the arithmetic op ``cls`` applied to constant nodes, or ``None``."""
    values = [value_of(n) for n in nodes]
    if any(v is None for v in values):
        return None
    result = sp.sympify(_ARITHMETIC[cls.__name__](*values))
    if not result.is_number or result.has(sp.nan, sp.zoo):
        return None
    dtype, weak = promote(*(n.type for n in nodes))
    if cls is ew.Div and dtype not in ("float32", "float64"):
        dtype = "float64"
    if not weak:
        return Constant((), value=result, const_dtype=dtype, weak=False)
    if dtype in ("int64", "int32") and not result.is_Integer:
        return None
    return Constant((), value=result, const_dtype=dtype, weak=True)


_ARITHMETIC = {
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Div": lambda a, b: a / b,
    "Pow": lambda a, b: a**b,
}


def _keeps_type(kept: Node, *others: Node) -> bool:
    """Whether dropping ``others`` (0-d constants) from an op on ``kept`` keeps its type."""
    dtype, weak = promote(kept.type, *(o.type for o in others))
    return dtype == kept.dtype and weak == kept.type.weak and all(not o.shape for o in others)


def add(x: Node, y: Node) -> Node:
    folded = fold_constants(ew.Add, x, y)
    if folded is not None:
        return folded
    if _is(y, 0) and _keeps_type(x, y):
        return x
    if _is(x, 0) and _keeps_type(y, x):
        return y
    if isinstance(y, ew.Neg):
        return sub(x, y.inputs[0])
    if isinstance(x, ew.Neg):
        return sub(y, x.inputs[0])
    if x is y:
        return mul(const(2, x), x)
    for first, second in ((x, y), (y, x)):  # a + (-2)*b is a - 2*b
        c, rest = _coefficient(second)
        if c is not None and rest is not None and c.value.is_negative:
            return sub(first, mul(neg(c), rest))
    if isinstance(x, ew.Div) and isinstance(y, ew.Div) and x.inputs[1] is y.inputs[1]:
        return div(add(x.inputs[0], y.inputs[0]), x.inputs[1])
    if isinstance(y, Constant) and not isinstance(x, Constant) and y.value.is_negative:
        return sub(x, const(-y.value) if y.type.weak else Constant((), value=-y.value, const_dtype=y.dtype, weak=False))
    return ew.Add((x, y))


def sub(x: Node, y: Node) -> Node:
    folded = fold_constants(ew.Sub, x, y)
    if folded is not None:
        return folded
    if _is(y, 0) and _keeps_type(x, y):
        return x
    if _is(x, 0) and _keeps_type(y, x):
        return neg(y)
    if isinstance(y, ew.Neg):
        return add(x, y.inputs[0])
    if isinstance(x, ew.Div) and isinstance(y, ew.Div) and x.inputs[1] is y.inputs[1]:
        return div(sub(x.inputs[0], y.inputs[0]), x.inputs[1])
    if isinstance(x, ew.Sub) and x.inputs[1] is y and y.shape == x.shape:  # a - y - y is a - 2*y
        return sub(x.inputs[0], mul(const(2, like=y), y))
    return ew.Sub((x, y))


def neg(x: Node) -> Node:
    if isinstance(x, Constant):
        return Constant((), value=-x.value, const_dtype=x.dtype, weak=x.type.weak)
    if isinstance(x, ew.Neg):
        return x.inputs[0]
    if isinstance(x, ew.Sub):
        return ew.Sub((x.inputs[1], x.inputs[0]))
    if isinstance(x, ew.Mul) and isinstance(x.inputs[0], Constant):
        return mul(neg(x.inputs[0]), x.inputs[1])
    return ew.Neg((x,))


def _coefficient(node: Node):
    """``(c, rest)`` with ``node == c*rest`` for a constant ``c`` (``rest`` may be None: node is c)."""
    if isinstance(node, Constant):
        return node, None
    if isinstance(node, ew.Mul) and isinstance(node.inputs[0], Constant):
        return node.inputs[0], node.inputs[1]
    return None, node


def mul(x: Node, y: Node) -> Node:
    """``x*y``, with constant factors gathered in front and divisions moved outward
    (``(a/N)*b`` is ``(a*b)/N``), one level deep, so the cost stays bounded."""
    folded = fold_constants(ew.Mul, x, y)
    if folded is not None:
        return folded
    if _is(y, 1) and _keeps_type(x, y):
        return x
    if _is(x, 1) and _keeps_type(y, x):
        return y
    if isinstance(y, Constant) and not isinstance(x, Constant):
        x, y = y, x  # constant factors first: 2*x
    if _is(x, -1) and _keeps_type(y, x):
        return neg(y)
    if isinstance(x, ew.Neg):
        return neg(mul(x.inputs[0], y))
    if isinstance(y, ew.Neg):
        return neg(mul(x, y.inputs[0]))
    if isinstance(y, ew.Div) and not isinstance(x, ew.Div):
        return div(mul(x, y.inputs[0]), y.inputs[1])
    if isinstance(x, ew.Div):
        return div(mul(x.inputs[0], y), x.inputs[1])
    cx, rx = _coefficient(x)
    cy, ry = _coefficient(y)
    if (cx is not None and rx is not None) or (cy is not None and ry is not None):
        c = cx if cy is None else cy if cx is None else fold_constants(ew.Mul, cx, cy)
        parts = [r for r in (rx, ry) if r is not None]
        if c is not None and parts and _small(c.value):
            rest = parts[0] if len(parts) == 1 else ew.Mul((parts[0], parts[1]))
            candidate = mul(c, rest)
            plain = ew.Mul((x, y))
            return candidate if candidate.type == plain.type else plain
    return ew.Mul((x, y))


def div(x: Node, y: Node) -> Node:
    """``x/y``, with constant coefficients folded (``(2*a)/2`` is ``a``) and
    nested divisions merged (``(a/b)/c`` is ``a/(b*c)``)."""
    folded = fold_constants(ew.Div, x, y)
    if folded is not None:
        return folded
    floating = x.dtype in ("float32", "float64")
    if _is(y, 1) and _keeps_type(x, y) and floating:
        return x
    if isinstance(y, Constant) and floating:
        c, rest = _coefficient(x)
        if c is not None and rest is not None:
            factor = fold_constants(ew.Div, c, y)  # (c1*x)/c2 is (c1/c2)*x
            if factor is not None and _small(factor.value):
                return mul(factor, rest)
    if isinstance(x, ew.Neg):
        return neg(div(x.inputs[0], y))
    if isinstance(y, ew.Neg):
        return neg(div(x, y.inputs[0]))
    if isinstance(x, Constant) and x.value.is_negative:  # -1/N rather than (-1)/N
        return neg(div(neg(x), y))
    if isinstance(x, ew.Div):
        return div(x.inputs[0], mul(x.inputs[1], y))
    return ew.Div((x, y))


def pow(x: Node, y: Node) -> Node:
    folded = fold_constants(ew.Pow, x, y)
    if folded is not None:
        return folded
    if _is(y, 1) and _keeps_type(x, y):
        return x
    return ew.Pow((x, y))


def square(x: Node) -> Node:
    return pow(x, const(2))


def cast(x: Node, dtype: str) -> Node:
    if x.dtype == dtype:
        return x
    return ew.Cast((x,), to=dtype)


def where(c: Node, x: Node, y: Node) -> Node:
    return ew.Where((c, x, y))


def greater(x: Node, y: Node) -> Node:
    return ew.Greater((x, y))


def greater_equal(x: Node, y: Node) -> Node:
    return ew.GreaterEqual((x, y))


def less(x: Node, y: Node) -> Node:
    return ew.Less((x, y))


def less_equal(x: Node, y: Node) -> Node:
    return ew.LessEqual((x, y))


def logical_and(x: Node, y: Node) -> Node:
    return ew.And((x, y))


def logical_not(x: Node) -> Node:
    return ew.Not((x,))


def add_all(terms: list) -> Node:
    """The sum of ``terms`` (a left fold, so a long sum stays a chain of small nodes)."""
    total = terms[0]
    for t in terms[1:]:
        total = add(total, t)
    return total
