"""The canonical form the code generator works on.

Identities folded through the folding constructors (``x*1``, ``x + 0``,
``-(-x)``, constant arithmetic), reshapes and transposes that change nothing
removed, and structurally equal subexpressions merged, so each distinct
value is computed once.  Types never change.
"""
from __future__ import annotations

from ..graph.cse import merge_equal
from ..graph.node import Node
from ..graph.walk import rebuild
from ..ops import build as b
from ..ops import elementwise as ew
from ..ops.shape import Expand, _Identity

_FOLD = {ew.Add: b.add, ew.Sub: b.sub, ew.Mul: b.mul, ew.Div: b.div, ew.Pow: b.pow}


def _fold(node: Node, inputs: tuple) -> Node:
    if isinstance(node, _Identity):
        return inputs[0]
    fold = _FOLD.get(type(node))
    if fold is not None:
        new = fold(*inputs)
    elif isinstance(node, ew.Neg):
        new = b.neg(inputs[0])
    else:
        new = node.rebuild(inputs)
    if isinstance(new, Expand) and new.inputs[0].type == new.type:
        new = new.inputs[0]
    if new.type != node.type:  # folding must never change a type
        new = node.rebuild(inputs)
    return new


def canonical(roots: list) -> list:
    """``roots`` in canonical form (see module doc)."""
    return merge_equal(rebuild(roots, _fold), with_names=False)
