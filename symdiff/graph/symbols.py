"""Leaves of the IR: tensor-valued symbols, runtime dimensions, static parameters."""
from __future__ import annotations

import itertools
from typing import Any

import sympy as sp

_uids = itertools.count()


class TensorVar(sp.Symbol):
    """A tensor-valued input: a real SymPy symbol with a static type.

    Two variables with the same name are still different variables (each has
    its own uid), as in Theano.
    """

    def __new__(cls, name: str, shape: tuple, dtype: str, role: str = "input"):
        obj = sp.Symbol.__xnew__(cls, name, real=True)
        obj.uid = next(_uids)
        obj.static_shape = tuple(shape)
        obj.dtype = dtype
        obj.role = role  # "input", "shared" or "constant"
        return obj

    def __getnewargs_ex__(self):
        return ((self.name, self.static_shape, self.dtype, self.role), {})

    def _hashable_content(self):
        return (self.name, self.uid)

    def __reduce_ex__(self, protocol):
        raise TypeError("symbolic variables are not picklable")


class _Size(sp.Expr):
    """A positive integer known at run time: a constant for differentiation."""

    is_integer = True
    is_positive = True
    is_commutative = True

    @property
    def free_symbols(self):
        return set()

    def _eval_derivative(self, s):
        return sp.S.Zero


class Dim(_Size):
    """The runtime length of axis ``axis`` of the input ``var`` (a positive integer)."""

    def __new__(cls, var: TensorVar, axis):
        return sp.Expr.__new__(cls, var, sp.Integer(axis))

    @property
    def var(self) -> TensorVar:
        return self.args[0]

    @property
    def axis(self) -> int:
        return int(self.args[1])

    def _sympystr(self, printer):
        return f"{self.var.name}.shape[{self.axis}]"

    def _latex(self, printer):
        return rf"\operatorname{{len}}_{{{self.axis}}}({printer._print(self.var)})"


class Count(_Size):
    """The number of elements spanned by run-time sizes ``dims`` (what ``mean`` divides by).

    Kept as one atom so that printing shows ``N`` rather than a product of sizes.
    """

    @classmethod
    def make(cls, dims) -> sp.Expr:
        size = sp.Mul(*dims)
        return size if size.is_Integer else cls(*dims)

    def _sympystr(self, printer):
        return "*".join(printer._print(d) for d in self.args)

    def _latex(self, printer):
        return r" \cdot ".join(printer._print(d) for d in self.args)


class Static(sp.Atom):
    """A static (non-symbolic) parameter of a node: axes, a dtype, an index, ..."""

    def __new__(cls, value: Any):
        obj = sp.Atom.__new__(cls)
        obj.value = value
        return obj

    def _hashable_content(self):
        return (self.value,)

    def __getnewargs__(self):
        return (self.value,)

    def _sympystr(self, printer):
        return repr(self.value)

    def _latex(self, printer):
        return str(self.value)


_NAMES: dict = {}


def set_name(expr: sp.Basic, name: str) -> None:
    """Register ``name`` as the display name of ``expr`` (printing stops there)."""
    if isinstance(expr, TensorVar) or expr.is_Number:
        return
    _NAMES[expr] = name


def name_of(expr: sp.Basic) -> str | None:
    """The display name of ``expr``: a variable's name or a registered name."""
    if isinstance(expr, TensorVar):
        return expr.name
    return _NAMES.get(expr)
