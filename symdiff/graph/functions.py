"""Elementwise functions whose derivative is best said with their own value.

Each is a SymPy ``Function`` with ``fdiff``, so ``diff(sigmoid(z), z)`` is
``sigmoid(z)*(1 - sigmoid(z))`` and the forward value is reused.
"""
from __future__ import annotations

import sympy as sp


class sigmoid(sp.Function):
    """Logistic function 1/(1 + exp(-x))."""

    is_real = True

    def fdiff(self, argindex=1):
        return self * (1 - self)

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.S.Half

    def _latex(self, printer):
        return rf"\sigma\left({printer._print(self.args[0])}\right)"


class softplus(sp.Function):
    """log(1 + exp(x)), computed stably."""

    is_real = True

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _latex(self, printer):
        return rf"\operatorname{{softplus}}\left({printer._print(self.args[0])}\right)"


class step(sp.Function):
    """1 where x > 0, else 0 (the derivative of relu; its own derivative is 0)."""

    is_real = True

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _latex(self, printer):
        return rf"\operatorname{{step}}\left({printer._print(self.args[0])}\right)"


class relu(sp.Function):
    """max(x, 0)."""

    is_real = True

    def fdiff(self, argindex=1):
        return step(self.args[0])

    def _latex(self, printer):
        return rf"\operatorname{{relu}}\left({printer._print(self.args[0])}\right)"


class same(sp.Function):
    """1 where ``a == b`` exactly, else 0 (marks the maxima of a ``max`` for its gradient).

    Not a SymPy ``Eq``, which would rewrite ``Eq(1.5*x, m)`` as ``Eq(x, m/1.5)``:
    a different test in floating point.
    """

    is_real = True
    is_nonnegative = True

    def fdiff(self, argindex=1):
        return sp.S.Zero


class tanh(sp.tanh):
    """Hyperbolic tangent of a real argument.

    SymPy's own ``tanh`` decides whether it is finite by splitting its argument
    into real and imaginary parts, a walk of the argument as a tree that takes
    time exponential in the depth of a shared graph; for a real argument the
    answer is simply yes.  Its derivative reuses the forward value.
    """

    def _eval_is_finite(self):
        if self.args[0].is_extended_real:
            return True
        return super()._eval_is_finite()

    def fdiff(self, argindex=1):
        return 1 - self**2


ELEMENTWISE_FUNCTIONS = (sigmoid, softplus, step, relu, tanh, same)
