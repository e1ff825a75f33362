"""The identity matrix and diagonal matrices: the seeds and the folded results
of Jacobians (:mod:`symdiff.derivatives`).

``Eye`` is ``eye(n)``; ``Diag`` is ``diag(v)`` for a vector ``v`` (or ``v`` times
the identity for a 0-d ``v``).  Both are elementwise: a kernel computes an
entry from its position, so neither is stored unless something needs the
whole matrix.  ``Diag`` is exact off its diagonal (zero there, also where
``v`` is infinite), where ``eye(n)*v`` would give NaN.
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..graph.types import ShapeError, TensorType, fmt_shape
from . import build as b
from .elementwise import Elementwise


def _diagonal(p) -> str:
    """Code testing whether the current loop position lies on the diagonal of the last two axes."""
    i, j = p.index[-2], p.index[-1]
    return f"{i} == {j}"


class Eye(Elementwise):
    """The ``n`` by ``n`` identity matrix."""

    arity = 0
    params = ("n", "out_dtype")
    differentiable = False

    def infer_type(self):
        return TensorType(self.out_dtype, (self.n, self.n), False), ()

    def vjp(self, g):
        return []

    def _sympystr(self, printer):
        return f"eye({printer._print(self.n)})"

    def _latex(self, printer):
        return rf"I_{{{printer._print(self.n)}}}"

    def _numba(self, p):
        return f"({p.num(1, self)} if {_diagonal(p)} else {p.num(0, self)})"


class Diag(Elementwise):
    """The ``n`` by ``n`` matrix with ``v`` on its diagonal and zeros elsewhere
    (``v`` a vector of length ``n``, or a 0-d value repeated along the diagonal)."""

    params = ("n",)

    @property
    def v(self):
        return self.inputs[0]

    def infer_type(self):
        v = self.v
        if v.ndim > 1:
            raise ShapeError(f"diag: needs a vector or a 0-d value, got shape {fmt_shape(v.shape)}")
        constraints = ((v.shape[0], self.n),) if v.ndim == 1 else ()
        return TensorType(v.dtype, (self.n, self.n), v.type.weak), constraints

    def vjp(self, g):
        return [b.mul(g, Eye((), n=self.n, out_dtype=self.dtype))]  # summed down to v: the diagonal of g

    @property
    def precedence(self):
        return PRECEDENCE["Atom"] if self.v.ndim else PRECEDENCE["Mul"]

    def _sympystr(self, printer):
        if self.v.ndim:
            return f"diag({printer._print(self.v)})"
        return f"{printer.parenthesize(self.v, PRECEDENCE['Mul'], strict=True)}*eye({printer._print(self.n)})"

    def _latex(self, printer):
        if self.v.ndim:
            return rf"\operatorname{{diag}}\left({printer._print(self.v)}\right)"
        return rf"{printer.parenthesize(self.v, PRECEDENCE['Mul'])} I_{{{printer._print(self.n)}}}"

    def _numba(self, p):
        return f"({p.arg(self, 0)} if {_diagonal(p)} else {p.num(0, self)})"


def eye(n, dtype: str = "float64") -> Eye:
    """The identity matrix node of size ``n`` (an int or a symbolic size)."""
    return Eye((), n=sp.sympify(n), out_dtype=dtype)


IDENTITY_OPS = (Eye, Diag)
