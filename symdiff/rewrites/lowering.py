"""Rewrites applied only to the graph that is compiled: algebraically identical
forms that the kernel evaluates more accurately than the formula as printed.

=====================================  ===================================================
printed (and differentiated)           computed, with ``s = sigmoid(-abs(u))``
=====================================  ===================================================
``sigmoid(u) - B``                     ``where(u > 0, (1 - B) - s, s - B)``
``B - sigmoid(u)``                     ``where(u > 0, s - (1 - B), B - s)``
=====================================  ===================================================

``s`` is the smaller of ``sigmoid(u)`` and ``sigmoid(-u) = 1 - sigmoid(u)``,
accurate to a few ulp however large ``|u|`` is, so the difference keeps its
relative accuracy where ``sigmoid(u)`` rounds to 1: the gradient of binary
cross-entropy at ``z = 40, y = 1`` is ``-sigmoid(-40)/N``, not ``0``.  ``B`` a
constant (``1 - sigmoid(u)``, as in the derivative ``s*(1 - s)`` of a sigmoid)
is left as written; write ``sigmoid(-u)`` for the accurate form.
"""
from __future__ import annotations

from ..graph.node import Constant, Node
from ..graph.walk import rebuild
from ..ops import build as b
from ..ops import elementwise as ew


def _stable_difference(node: Node) -> Node | None:
    if not isinstance(node, ew.Sub):
        return None
    x, y = node.inputs
    if isinstance(x, ew.Sigmoid) and not isinstance(y, Constant):
        u, other, first = x.x, y, True
    elif isinstance(y, ew.Sigmoid) and not isinstance(x, Constant):
        u, other, first = y.x, x, False
    else:
        return None
    small = ew.Sigmoid((ew.Neg((ew.Abs((u,)),)),))
    rest = b.sub(b.one(), other)
    if first:
        positive, negative = b.sub(rest, small), b.sub(small, other)
    else:
        positive, negative = b.sub(small, rest), b.sub(other, small)
    out = ew.Where((b.greater(u, b.zero(u)), positive, negative))
    return out if out.type == node.type else None


def lower_stable(roots: list) -> list:
    """``roots`` with the forms of the table computed accurately (memoised over the DAG)."""

    def transform(node, inputs):
        new = node.rebuild(inputs)
        better = _stable_difference(new)
        if better is None:
            return new
        better.name = new.name
        return better

    return rebuild(roots, transform)
