"""What every tensor op (an op that is not elementwise) shares."""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..graph.node import Node


@dataclass(frozen=True)
class Bound:
    """A run-time check ``low <= high`` on sizes; when it fails the call raises
    ``IndexError(message.format(size=<value of size>))``."""

    low: sp.Expr
    high: sp.Expr
    message: str
    size: sp.Expr


class TensorOp(Node):
    """A node that produces a whole array (not a scalar per loop position).

    Besides the op protocol of :class:`~symdiff.graph.node.Node`, a tensor op
    lowers itself: ``lower(e)`` returns the statements that compute it, given
    the emitter ``e`` (operand names ``e.arg(k)``, its own ``e.out``, sizes as
    code ``e.size(expr)``).  ``bounds`` lists run-time index checks.
    """

    precedence = PRECEDENCE["Atom"]
    bounds: tuple = ()
    is_view = False  # the result may share memory with operand 0 (a NumPy view)

    def lower(self, e) -> list:
        raise NotImplementedError(f"{type(self).__name__} has no lowering")


def postfix(printer, node) -> str:
    """``node`` as the operand of a postfix (``.T``, ``[...]``): bare names and calls stay bare."""
    return printer.parenthesize(node, PRECEDENCE["Atom"], strict=True) if node.precedence < PRECEDENCE["Atom"] else printer._print(node)


def axes_text(axes: tuple, ndim: int) -> str:
    """``, axis=...`` for a reduction over ``axes`` of an ``ndim`` operand (nothing for all axes)."""
    if len(axes) == ndim:
        return ""
    return f", axis={axes[0] if len(axes) == 1 else tuple(axes)}"


def normalize_axes(axis, ndim: int, what: str = "axis") -> tuple:
    """``axis`` (None, int or tuple, negative allowed) as sorted non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int,)) or hasattr(axis, "__index__") and not isinstance(axis, (tuple, list)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{what} {a} is out of bounds for a tensor with {ndim} dimensions")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))
