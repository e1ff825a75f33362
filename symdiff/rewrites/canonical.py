"""The canonical form the code generator works on.

Exact identities only, so the kernel computes what the user wrote, in the
order they wrote it: ``x*1``, ``1*x``, ``x + 0``, ``x - 0``, ``x/1``,
``x**1``, ``-(-x)`` and arithmetic on constants are folded; reshapes,
transposes and casts that change nothing are removed; structurally equal
subexpressions are merged, so each distinct value is computed once.  Nothing
is reassociated (``(4*l)*(1 - l)`` is not ``4*(l*(1 - l))``), and types never
change.
"""
from __future__ import annotations

from ..graph.cse import merge_equal
from ..graph.node import Constant, Node
from ..graph.walk import rebuild
from ..ops import build as b
from ..ops import elementwise as ew
from ..ops.shape import Expand, _Identity

_IDENTITY = {ew.Add: (0, 0), ew.Sub: (None, 0), ew.Mul: (1, 1), ew.Div: (None, 1), ew.Pow: (None, 1)}
"""op -> (left operand that is an identity, right operand that is an identity)."""


def _is(node: Node, value) -> bool:
    return value is not None and isinstance(node, Constant) and node.value == value


def _fold(node: Node, inputs: tuple) -> Node:
    new = node.rebuild(inputs)
    if type(new) is _Identity or isinstance(new, Expand) and new.inputs[0].type == new.type:
        return inputs[0] if inputs[0].type == node.type else new
    if isinstance(new, ew.Cast) and inputs[0].type == new.type:
        return inputs[0]
    if isinstance(new, ew.Neg) and isinstance(inputs[0], ew.Neg):
        kept = inputs[0].inputs[0]
        return kept if kept.type == node.type else new
    identity = _IDENTITY.get(type(new))
    if identity is not None:
        folded = b.fold_constants(type(new), *inputs)
        if folded is not None and folded.type == node.type:
            return folded
        left, right = identity
        if _is(inputs[1], right) and inputs[0].type == node.type:
            return inputs[0]
        if _is(inputs[0], left) and inputs[1].type == node.type:
            return inputs[1]
    return new


def canonical(roots: list) -> list:
    """``roots`` in canonical form (see module doc)."""
    return merge_equal(rebuild(roots, _fold), with_names=False)
