"""SymPy forms of symdiff's own elementwise functions.

Used where SymPy works on a bounded piece of a graph (local simplification
of gradients) and by SymPy-based oracles: ``diff(sigmoid(z), z)`` is
``sigmoid(z)*(1 - sigmoid(z))``, so derivatives reuse the forward value.
"""
from __future__ import annotations

import sympy as sp


class sigmoid(sp.Function):
    """Logistic function 1/(1 + exp(-x))."""

    is_real = True

    def fdiff(self, argindex=1):
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))


class softplus(sp.Function):
    """log(1 + exp(x))."""

    is_real = True

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))


class step(sp.Function):
    """1 where x > 0, else 0."""

    is_real = True

    def fdiff(self, argindex=1):
        return sp.S.Zero


class relu(sp.Function):
    """max(x, 0)."""

    is_real = True

    def fdiff(self, argindex=1):
        return step(self.args[0])
