"""Elementwise ops: one class per op, with NumPy broadcasting of operands.

Each class says, in one place: its dtype rule, its VJP (built with the
folding constructors of :mod:`symdiff.ops.build`), how it prints (text and
LaTeX), its scalar Numba code (``_numba``, called by the kernel's scalar
printer with operand codes already cast to the node's dtype) and its SymPy
form (``to_sympy``, for local simplification).  The ``sd.NAME`` function of
each op follows its class.
"""
from __future__ import annotations

import builtins
from typing import ClassVar

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..graph import functions as sfn
from ..graph.node import Constant, Node
from ..graph.types import FLOAT_DTYPES, TensorType, broadcast, float_result, promote
from ..tensor import Tensor, as_node, named
from . import build as b

_ATOM = PRECEDENCE["Atom"]


class Elementwise(Node):
    """A pointwise op; operands broadcast NumPy-style."""

    arity: ClassVar[int] = 1

    def infer_type(self):
        if len(self.inputs) != self.arity:
            raise TypeError(f"{type(self).__name__} takes {self.arity} operand(s), got {len(self.inputs)}")
        shape, constraints = broadcast(*(x.shape for x in self.inputs))
        dtype, weak = self.result_dtype()
        return TensorType(dtype, shape, weak), constraints

    def result_dtype(self) -> tuple:
        return promote(*(x.type for x in self.inputs))

    def to_sympy(self, *args):
        """The op on SymPy scalars (``None``: no SymPy form; regions stop here)."""
        return None


# --------------------------------------------------------------------------- unary functions


class Function(Elementwise):
    """``fname(x)``: a float-valued function of one operand."""

    fname: ClassVar[str] = ""
    latex_name: ClassVar[str] = ""
    numba_name: ClassVar[str | None] = None  # fastmath/libm op name ("exp"), or libm "math.sin"
    sympy_fn: ClassVar = None

    def result_dtype(self):
        dtype, weak = promote(self.inputs[0].type)
        return float_result(dtype), weak

    @property
    def x(self) -> Node:
        return self.inputs[0]

    def _sympystr(self, printer):
        return f"{self.fname}({printer._print(self.x)})"

    def _latex(self, printer):
        name = self.latex_name or rf"\operatorname{{{self.fname}}}"
        return rf"{name}\left({printer._print(self.x)}\right)"

    def _numba(self, p):
        return p.math(self.numba_name or self.fname, p.arg(self, 0))

    def to_sympy(self, x):
        return self.sympy_fn(x) if self.sympy_fn is not None else None


class Exp(Function):
    fname, latex_name, sympy_fn = "exp", r"\exp", sp.exp

    def vjp(self, g):
        return [b.mul(g, self)]


class Expm1(Function):
    fname, sympy_fn = "expm1", None

    def vjp(self, g):
        return [b.mul(g, b.add(self, b.one(self)))]

    def to_sympy(self, x):
        return sp.exp(x) - 1


class Log(Function):
    fname, latex_name, sympy_fn = "log", r"\log", sp.log

    def vjp(self, g):
        return [b.div(g, self.x)]


class Log1p(Function):
    fname = "log1p"

    def vjp(self, g):
        return [b.div(g, b.add(b.one(self), self.x))]

    def to_sympy(self, x):
        return sp.log(1 + x)


class Log2(Function):
    fname, latex_name, numba_name = "log2", r"\log_{2}", "math.log2"

    def vjp(self, g):
        return [b.div(g, b.mul(self.x, b.const(sp.log(2), self)))]

    def to_sympy(self, x):
        return sp.log(x, 2)


class Log10(Function):
    fname, latex_name, numba_name = "log10", r"\log_{10}", "math.log10"

    def vjp(self, g):
        return [b.div(g, b.mul(self.x, b.const(sp.log(10), self)))]

    def to_sympy(self, x):
        return sp.log(x, 10)


class Sqrt(Function):
    """Square root; its derivative at 0 is taken as 0 (so ``sqrt(sum(x**2))``
    has the subgradient 0 at the origin instead of NaN); below 0 it is NaN,
    as the value is."""

    fname, numba_name, sympy_fn = "sqrt", "math.sqrt", sp.sqrt

    def vjp(self, g):
        x = self.x
        return [b.where(Equal((x, b.zero(x))), b.zero(self), b.div(g, b.mul(b.const(2, self), self)))]

    def _latex(self, printer):
        return rf"\sqrt{{{printer._print(self.x)}}}"


class Abs(Function):
    """|x|; its derivative at 0 is 0 (``sign(0)``)."""

    fname, sympy_fn = "abs", sp.Abs

    def result_dtype(self):
        return promote(self.x.type)

    def vjp(self, g):
        return [b.mul(g, Sign((self.x,)))]

    def _latex(self, printer):
        return rf"\left|{printer._print(self.x)}\right|"

    def _numba(self, p):
        return f"abs({p.arg(self, 0)})"


class _Flat(Function):
    """A piecewise-constant function: zero derivative almost everywhere."""

    def vjp(self, g):
        return [b.zero(self.x)]


class Sign(_Flat):
    fname, sympy_fn = "sign", sp.sign

    def result_dtype(self):
        return promote(self.x.type)

    def _numba(self, p):
        x = p.arg(self, 0)
        one, zero, neg = p.num(1, self), p.num(0, self), p.num(-1, self)
        return f"({one} if {x} > 0 else ({neg} if {x} < 0 else ({zero} if {x} == 0 else {x})))"


class Floor(_Flat):
    fname, sympy_fn = "floor", sp.floor

    def _latex(self, printer):
        return rf"\left\lfloor{printer._print(self.x)}\right\rfloor"

    def _numba(self, p):
        return f"np.floor({p.arg(self, 0)})"


class Ceil(_Flat):
    fname, sympy_fn = "ceil", sp.ceiling

    def _latex(self, printer):
        return rf"\left\lceil{printer._print(self.x)}\right\rceil"

    def _numba(self, p):
        return f"np.ceil({p.arg(self, 0)})"


class Step(_Flat):
    """1 where x > 0, else 0 (the derivative of relu)."""

    fname, sympy_fn = "step", sfn.step

    def _numba(self, p):
        return f"({p.num(1, self)} if {p.arg(self, 0)} > 0 else {p.num(0, self)})"


class Sin(Function):
    fname, latex_name, numba_name, sympy_fn = "sin", r"\sin", "math.sin", sp.sin

    def vjp(self, g):
        return [b.mul(g, Cos((self.x,)))]


class Cos(Function):
    fname, latex_name, numba_name, sympy_fn = "cos", r"\cos", "math.cos", sp.cos

    def vjp(self, g):
        return [b.neg(b.mul(g, Sin((self.x,))))]


class Tan(Function):
    fname, latex_name, numba_name, sympy_fn = "tan", r"\tan", "math.tan", sp.tan

    def vjp(self, g):
        return [b.mul(g, b.add(b.one(self), b.square(self)))]


class Arcsin(Function):
    fname, latex_name, numba_name, sympy_fn = "arcsin", r"\arcsin", "math.asin", sp.asin

    def vjp(self, g):
        return [b.div(g, Sqrt((b.sub(b.one(self), b.square(self.x)),)))]


class Arccos(Function):
    fname, latex_name, numba_name, sympy_fn = "arccos", r"\arccos", "math.acos", sp.acos

    def vjp(self, g):
        return [b.neg(b.div(g, Sqrt((b.sub(b.one(self), b.square(self.x)),))))]


class Arctan(Function):
    fname, latex_name, numba_name, sympy_fn = "arctan", r"\arctan", "math.atan", sp.atan

    def vjp(self, g):
        return [b.div(g, b.add(b.one(self), b.square(self.x)))]


class Sinh(Function):
    fname, latex_name, sympy_fn = "sinh", r"\sinh", sp.sinh

    def vjp(self, g):
        return [b.mul(g, Cosh((self.x,)))]


class Cosh(Function):
    fname, latex_name, sympy_fn = "cosh", r"\cosh", sp.cosh

    def vjp(self, g):
        return [b.mul(g, Sinh((self.x,)))]


class Tanh(Function):
    fname, latex_name, sympy_fn = "tanh", r"\tanh", sp.tanh

    def vjp(self, g):
        return [b.mul(g, b.sub(b.one(self), b.square(self)))]


class Arcsinh(Function):
    fname, latex_name, numba_name, sympy_fn = "arcsinh", r"\operatorname{arsinh}", "math.asinh", sp.asinh

    def vjp(self, g):
        return [b.div(g, Sqrt((b.add(b.square(self.x), b.one(self)),)))]


class Arctanh(Function):
    fname, latex_name, numba_name, sympy_fn = "arctanh", r"\operatorname{artanh}", "math.atanh", sp.atanh

    def vjp(self, g):
        return [b.div(g, b.sub(b.one(self), b.square(self.x)))]


class Sigmoid(Function):
    """The logistic function 1/(1 + exp(-x)); its derivative reuses its value."""

    fname, latex_name, sympy_fn = "sigmoid", r"\sigma", sfn.sigmoid

    def vjp(self, g):
        return [b.mul(g, b.mul(self, b.sub(b.one(self), self)))]


class Softplus(Function):
    """log(1 + exp(x)), computed without overflow; its derivative is sigmoid(x)."""

    fname, sympy_fn = "softplus", sfn.softplus

    def vjp(self, g):
        return [b.mul(g, Sigmoid((self.x,)))]


class Relu(Function):
    """max(x, 0); its derivative is step(x) (0 at x = 0)."""

    fname, sympy_fn = "relu", sfn.relu

    def result_dtype(self):
        return promote(self.x.type)

    def vjp(self, g):
        return [b.mul(g, Step((self.x,)))]

    def _numba(self, p):
        x = p.arg(self, 0)
        zero = p.num(0, self)
        return f"({x} if {x} > {zero} else ({zero} if {x} == {x} else {x}))"


class Cast(Elementwise):
    """``x.astype(dtype)``."""

    params = ("to",)

    def result_dtype(self):
        return self.to, False

    @property
    def differentiable(self) -> bool:
        """A cast to an integer or bool dtype is piecewise constant: no gradient flows through it."""
        return self.to in FLOAT_DTYPES and self.inputs[0].dtype in FLOAT_DTYPES

    def vjp(self, g):
        x = self.inputs[0]
        if x.dtype not in FLOAT_DTYPES:
            return [None]
        return [b.cast(g, x.dtype)]

    def _sympystr(self, printer):
        return f"{printer.parenthesize(self.inputs[0], _ATOM, strict=True)}.astype({self.to!r})"

    def _latex(self, printer):
        return printer._print(self.inputs[0])

    def _numba(self, p):
        return p.cast(p.arg(self, 0, cast=False), self.inputs[0].dtype, self.to)

    def to_sympy(self, x):
        return x if self.to in FLOAT_DTYPES and self.inputs[0].dtype in FLOAT_DTYPES else None


# --------------------------------------------------------------------------- arithmetic


class Binary(Elementwise):
    """A binary operator.  ``strict_left``/``strict_right``: the operand on that side
    is parenthesised only when it binds strictly weaker (``a*b*c``, but ``a - (b - c)``)."""

    arity = 2
    symbol: ClassVar[str] = ""
    latex_symbol: ClassVar[str] = ""
    strict_left: ClassVar[bool] = True
    strict_right: ClassVar[bool] = False

    def _operands(self, printer) -> tuple:
        a, c = self.inputs
        return (printer.parenthesize(a, self.precedence, strict=self.strict_left),
                printer.parenthesize(c, self.precedence, strict=self.strict_right))

    def _sympystr(self, printer):
        left, right = self._operands(printer)
        return f"{left}{self.symbol}{right}"

    def _latex(self, printer):
        left, right = self._operands(printer)
        return f"{left}{self.latex_symbol or self.symbol}{right}"

    def _numba(self, p):
        return f"({p.arg(self, 0)} {self.symbol.strip()} {p.arg(self, 1)})"


class Add(Binary):
    symbol, precedence, strict_right = " + ", PRECEDENCE["Add"], True

    def result_dtype(self):
        return promote(*(x.type for x in self.inputs))

    def vjp(self, g):
        return [g, g]

    def _numba(self, p):
        if self.dtype == "bool":
            return f"({p.arg(self, 0)} or {p.arg(self, 1)})"
        return f"({p.arg(self, 0)} + {p.arg(self, 1)})"

    def to_sympy(self, x, y):
        return x + y


class Sub(Binary):
    symbol, precedence = " - ", PRECEDENCE["Add"]

    def result_dtype(self):
        if all(x.dtype == "bool" for x in self.inputs):
            raise TypeError("subtracting booleans is not supported (as in NumPy); use ^ or logical ops")
        return promote(*(x.type for x in self.inputs))

    def vjp(self, g):
        return [g, b.neg(g)]

    def to_sympy(self, x, y):
        return x - y


class Mul(Binary):
    symbol, latex_symbol, precedence, strict_right = "*", " ", PRECEDENCE["Mul"], True

    def _sympystr(self, printer):
        x, y = self.inputs
        if isinstance(x, Constant) and x.value.is_negative:  # -2*x, not (-2)*x
            return f"-{printer._print(-x.value)}*{printer.parenthesize(y, self.precedence, strict=True)}"
        return super()._sympystr(printer)

    def vjp(self, g):
        x, y = self.inputs
        return [b.mul(g, y), b.mul(g, x)]

    def _latex(self, printer):
        x, y = self.inputs
        left, right = self._operands(printer)
        if x.ndim and y.ndim:
            return rf"{left} \odot {right}"
        numeric = isinstance(y, Constant) or right[:1].isdigit()
        return f"{left} \\cdot {right}" if numeric else f"{left} {right}"

    def _numba(self, p):
        if self.dtype == "bool":
            return f"({p.arg(self, 0)} and {p.arg(self, 1)})"
        return f"({p.arg(self, 0)} * {p.arg(self, 1)})"

    def to_sympy(self, x, y):
        return x * y


class Div(Binary):
    """True division (integer operands give float64, as in NumPy)."""

    symbol, precedence = "/", PRECEDENCE["Mul"]

    def result_dtype(self):
        dtype, weak = promote(*(x.type for x in self.inputs))
        return float_result(dtype), weak

    def vjp(self, g):
        x, y = self.inputs
        return [b.div(g, y), b.neg(b.div(b.mul(g, self), y))]

    def _sympystr(self, printer):
        x, y = self.inputs
        if isinstance(x, Constant) and x.value.is_Rational and x.value.q != 1:  # 1/(2*N), not 1/2/N
            return f"{x.value.p}/({x.value.q}*{printer.parenthesize(y, self.precedence, strict=True)})"
        return super()._sympystr(printer)

    def _latex(self, printer):
        return rf"\frac{{{printer._print(self.inputs[0])}}}{{{printer._print(self.inputs[1])}}}"

    def _numba(self, p):
        return f"({p.arg(self, 0)} / {p.arg(self, 1)})"

    def to_sympy(self, x, y):
        return x / y


class Pow(Binary):
    symbol, precedence, strict_left, strict_right = "**", PRECEDENCE["Pow"], False, True

    def _latex(self, printer):
        a, c = self.inputs
        return f"{printer.parenthesize(a, self.precedence, strict=False)}^{{{printer._print(c)}}}"

    def vjp(self, g):
        x, y = self.inputs
        if isinstance(y, Constant):
            return [b.mul(g, b.mul(y, b.pow(x, b.const(y.value - 1, y)))), None]
        return [b.mul(g, b.mul(y, b.pow(x, b.sub(y, b.one(y))))), b.mul(g, b.mul(self, Log((x,))))]

    def _numba(self, p):
        x, y = self.inputs
        base = p.arg(self, 0)
        if isinstance(y, Constant) and y.value.is_Integer and 0 <= builtins.abs(int(y.value)) <= 4 and self.dtype in FLOAT_DTYPES:
            k = int(y.value)
            if k == 0:
                return p.num(1, self)
            prod = " * ".join([base] * builtins.abs(k))
            return f"({prod})" if k > 0 else f"({p.num(1, self)} / ({prod}))"
        if isinstance(y, Constant) and y.value == sp.S.Half:
            return f"math.sqrt({base})"
        return f"({base} ** {p.arg(self, 1)})"

    def to_sympy(self, x, y):
        return x**y


class Neg(Elementwise):
    precedence = PRECEDENCE["Mul"]

    def result_dtype(self):
        if self.inputs[0].dtype == "bool":
            raise TypeError("negating booleans is not supported (as in NumPy); use ~")
        return promote(self.inputs[0].type)

    def vjp(self, g):
        return [b.neg(g)]

    def _sympystr(self, printer):
        return "-" + printer.parenthesize(self.inputs[0], self.precedence, strict=True)

    def _latex(self, printer):
        return "-" + printer.parenthesize(self.inputs[0], self.precedence, strict=True)

    def _numba(self, p):
        return f"(-{p.arg(self, 0)})"

    def to_sympy(self, x):
        return -x


# --------------------------------------------------------------------------- comparisons and logic


class Compare(Binary):
    """A comparison: bool result, no gradient."""

    differentiable = False
    precedence = PRECEDENCE["Relational"]
    strict_left = strict_right = False

    def result_dtype(self):
        promote(*(x.type for x in self.inputs))
        return "bool", False

    def vjp(self, g):
        return [None, None]

    def _numba(self, p):
        return f"({p.arg(self, 0, cast=False)} {self.symbol.strip()} {p.arg(self, 1, cast=False)})"

    def to_sympy(self, x, y):
        return None


class Less(Compare):
    symbol, latex_symbol = " < ", " < "


class LessEqual(Compare):
    symbol, latex_symbol = " <= ", r" \leq "


class Greater(Compare):
    symbol, latex_symbol = " > ", " > "


class GreaterEqual(Compare):
    symbol, latex_symbol = " >= ", r" \geq "


class Equal(Compare):
    symbol, latex_symbol = " == ", " = "


class NotEqual(Compare):
    symbol, latex_symbol = " != ", r" \neq "


class Logical(Binary):
    """``a & b``, ``a | b`` on booleans."""

    differentiable = False
    strict_right = True

    def result_dtype(self):
        for x in self.inputs:
            if x.dtype != "bool":
                raise TypeError(f"logical {self.symbol.strip()} needs booleans, got dtype {x.dtype}")
        return "bool", False

    def vjp(self, g):
        return [None, None]


class And(Logical):
    symbol, latex_symbol, precedence = " & ", r" \land ", PRECEDENCE["BitwiseAnd"]

    def _numba(self, p):
        return f"({p.arg(self, 0)} and {p.arg(self, 1)})"


class Or(Logical):
    symbol, latex_symbol, precedence = " | ", r" \lor ", PRECEDENCE["BitwiseOr"]

    def _numba(self, p):
        return f"({p.arg(self, 0)} or {p.arg(self, 1)})"


class Not(Elementwise):
    differentiable = False
    precedence = PRECEDENCE["Not"]

    def result_dtype(self):
        if self.inputs[0].dtype != "bool":
            raise TypeError(f"~ needs booleans, got dtype {self.inputs[0].dtype}")
        return "bool", False

    def vjp(self, g):
        return [None]

    def _sympystr(self, printer):
        return "~" + printer.parenthesize(self.inputs[0], self.precedence)

    def _latex(self, printer):
        return r"\lnot " + printer.parenthesize(self.inputs[0], self.precedence)

    def _numba(self, p):
        return f"(not {p.arg(self, 0)})"


# --------------------------------------------------------------------------- selection


class Where(Elementwise):
    """``a`` where ``cond`` holds, else ``b``; no gradient flows into ``cond``."""

    arity = 3

    def result_dtype(self):
        if self.inputs[0].dtype != "bool":
            raise TypeError(f"where: the condition must be boolean (a comparison), got dtype {self.inputs[0].dtype}")
        return promote(self.inputs[1].type, self.inputs[2].type)

    def vjp(self, g):
        c, x, y = self.inputs
        return [None, b.where(c, g, b.zero(g)), b.where(c, b.zero(g), g)]

    def _sympystr(self, printer):
        return "where(" + ", ".join(printer._print(a) for a in self.inputs) + ")"

    def _latex(self, printer):
        c, x, y = (printer._print(a) for a in self.inputs)
        return rf"\begin{{cases}} {x} & \text{{if }} {c} \\ {y} & \text{{otherwise}} \end{{cases}}"

    def _numba(self, p):
        return f"({p.arg(self, 1)} if {p.arg(self, 0, cast=False)} else {p.arg(self, 2)})"


class _Extremum(Binary):
    """The elementwise larger (``Maximum``) or smaller (``Minimum``) operand: NaN
    propagates, and on ties the gradient goes to the first operand."""

    precedence = _ATOM
    fname: ClassVar[str] = ""
    keeps: ClassVar[str] = ""  # the comparison under which the first operand is the result
    sympy_fn: ClassVar = None

    def vjp(self, g):
        x, y = self.inputs
        first = b.greater_equal(x, y) if self.keeps == ">=" else b.less_equal(x, y)
        return [b.where(first, g, b.zero(g)), b.where(first, b.zero(g), g)]

    def _sympystr(self, printer):
        return f"{self.fname}({printer._print(self.inputs[0])}, {printer._print(self.inputs[1])})"

    def _latex(self, printer):
        return rf"\{self.fname[:3]}\left({printer._print(self.inputs[0])}, {printer._print(self.inputs[1])}\right)"

    def _numba(self, p):
        x, y = p.arg(self, 0), p.arg(self, 1)
        return f"({x} if ({x} {self.keeps} {y} or {x} != {x}) else {y})"

    def to_sympy(self, x, y):
        return self.sympy_fn(x, y)


class Maximum(_Extremum):
    """Elementwise larger of ``a`` and ``b`` (NaN propagates; ties send the gradient to ``a``)."""

    fname, keeps, sympy_fn = "maximum", ">=", sp.Max


class Minimum(_Extremum):
    """Elementwise smaller of ``a`` and ``b`` (NaN propagates; ties send the gradient to ``a``)."""

    fname, keeps, sympy_fn = "minimum", "<=", sp.Min


class Clip(Elementwise):
    """``x`` limited to ``[lo, hi]``, as NumPy's ``clip``: ``minimum(maximum(x, lo), hi)``
    (so ``hi`` when ``lo > hi``).  The gradient flows to ``x`` where ``lo <= x <= hi``,
    else to the bound that was taken (to none at NaN)."""

    arity = 3
    precedence = _ATOM

    def result_dtype(self):
        return promote(*(x.type for x in self.inputs))

    def vjp(self, g):
        x, lo, hi = self.inputs
        below = b.less(x, lo)
        capped = b.greater(b.where(below, lo, x), hi)  # the result is hi (false at NaN)
        inside = b.logical_and(b.greater_equal(x, lo), b.less_equal(x, hi))  # none of the three at NaN
        to_lo = b.logical_and(below, b.logical_not(capped))
        return [b.where(inside, g, b.zero(g)), b.where(to_lo, g, b.zero(g)), b.where(capped, g, b.zero(g))]

    def _sympystr(self, printer):
        return "clip(" + ", ".join(printer._print(a) for a in self.inputs) + ")"

    def _latex(self, printer):
        return r"\operatorname{clip}\left(" + ", ".join(printer._print(a) for a in self.inputs) + r"\right)"

    def _numba(self, p):
        x, lo, hi = p.arg(self, 0), p.arg(self, 1), p.arg(self, 2)
        raised = f"({lo} if {x} < {lo} else {x})"
        return f"({hi} if {raised} > {hi} else {raised})"


ELEMENTWISE_OPS = (
    Exp, Expm1, Log, Log1p, Log2, Log10, Sqrt, Abs, Sign, Floor, Ceil, Step, Sin, Cos, Tan, Arcsin, Arccos, Arctan,
    Sinh, Cosh, Tanh, Arcsinh, Arctanh, Sigmoid, Softplus, Relu, Cast, Add, Sub, Mul, Div, Pow, Neg, Less, LessEqual,
    Greater, GreaterEqual, Equal, NotEqual, And, Or, Not, Where, Maximum, Minimum, Clip,
)


# --------------------------------------------------------------------------- sd.NAME functions


def apply(cls, *operands, name: str | None = None) -> Tensor:
    """``cls`` applied to tensor-likes (numbers, arrays, tensors): one new node."""
    return named(Tensor(cls(tuple(as_node(o) for o in operands))), name)


def _unary(cls, doc: str, derivative: str):
    """The ``sd.NAME`` function of the one-operand op ``cls``; its docstring is ``doc``
    and an example printing ``derivative``, the gradient of ``sum(NAME(x))``."""
    def op(x, name: str | None = None) -> Tensor:
        return apply(cls, x, name=name)

    op.__name__ = op.__qualname__ = cls.fname
    op.__doc__ = (f"{doc}\n\n"
                  f">>> x = sd.vector('x')\n"
                  f">>> print(sd.pprint(sd.grad(sd.sum(sd.{cls.fname}(x)), x)))\n"
                  f"{derivative}\n")
    return op


exp = _unary(Exp, "Elementwise e**x.", "exp(x)")
expm1 = _unary(Expm1, "Elementwise exp(x) - 1, accurate for small x.", "expm1(x) + 1")
log = _unary(Log, "Elementwise natural logarithm.", "1/x")
log1p = _unary(Log1p, "Elementwise log(1 + x), accurate for small x.", "1/(1 + x)")
log2 = _unary(Log2, "Elementwise base-2 logarithm.", "1/(log(2)*x)")
log10 = _unary(Log10, "Elementwise base-10 logarithm.", "1/(log(10)*x)")
sqrt = _unary(Sqrt, "Elementwise square root (derivative 0 at x = 0).", "where(x == 0, 0, 1/(2*sqrt(x)))")
abs = _unary(Abs, "Elementwise |x| (derivative sign(x), 0 at x = 0); Python's ``abs(x)`` too.", "sign(x)")
sign = _unary(Sign, "Elementwise sign: -1, 0 or 1 (zero derivative).", "broadcast_to(0, x.shape)")
floor = _unary(Floor, "Elementwise floor (zero derivative).", "broadcast_to(0, x.shape)")
ceil = _unary(Ceil, "Elementwise ceiling (zero derivative).", "broadcast_to(0, x.shape)")
sin = _unary(Sin, "Elementwise sine.", "cos(x)")
cos = _unary(Cos, "Elementwise cosine.", "-sin(x)")
tan = _unary(Tan, "Elementwise tangent.", "1 + tan(x)**2")
arcsin = _unary(Arcsin, "Elementwise inverse sine.", "1/sqrt(1 - x**2)")
arccos = _unary(Arccos, "Elementwise inverse cosine.", "-1/sqrt(1 - x**2)")
arctan = _unary(Arctan, "Elementwise inverse tangent.", "1/(1 + x**2)")
sinh = _unary(Sinh, "Elementwise hyperbolic sine.", "cosh(x)")
cosh = _unary(Cosh, "Elementwise hyperbolic cosine.", "sinh(x)")
tanh = _unary(Tanh, "Elementwise hyperbolic tangent.", "1 - tanh(x)**2")
arcsinh = _unary(Arcsinh, "Elementwise inverse hyperbolic sine.", "1/sqrt(x**2 + 1)")
arctanh = _unary(Arctanh, "Elementwise inverse hyperbolic tangent.", "1/(1 - x**2)")
sigmoid = _unary(Sigmoid, "Elementwise logistic function 1/(1 + exp(-x)).", "t1*(1 - t1)\nwhere\n  t1 = sigmoid(x)")
softplus = _unary(Softplus, "Elementwise log(1 + exp(x)), computed without overflow.", "sigmoid(x)")
relu = _unary(Relu, "Elementwise max(x, 0); derivative step(x) (0 at x = 0).", "step(x)")


def square(x, name: str | None = None) -> Tensor:
    """Elementwise x**2.

    >>> x = sd.vector("x")
    >>> sd.pprint(sd.grad(sd.sum(sd.square(x)), x))
    '2*x'
    """
    return apply(Pow, x, 2, name=name)


def where(condition, x, y, name: str | None = None) -> Tensor:
    """``x`` where ``condition`` holds, else ``y`` (broadcast); no gradient flows into ``condition``.

    >>> x = sd.vector("x")
    >>> sd.pprint(sd.grad(sd.sum(sd.where(x > 0, x, 0.1 * x)), x))
    'where(x > 0, 1, 1/10)'
    """
    return apply(Where, condition, x, y, name=name)


def maximum(x1, x2, name: str | None = None) -> Tensor:
    """Elementwise larger of ``x1`` and ``x2`` (NaN propagates; the gradient goes to ``x1`` on ties).

    >>> x = sd.vector("x")
    >>> sd.pprint(sd.grad(sd.sum(sd.maximum(x, 0)), x))
    'where(x >= 0, 1, 0)'
    """
    return apply(Maximum, x1, x2, name=name)


def minimum(x1, x2, name: str | None = None) -> Tensor:
    """Elementwise smaller of ``x1`` and ``x2`` (NaN propagates; the gradient goes to ``x1`` on ties).

    >>> x = sd.vector("x")
    >>> sd.pprint(sd.minimum(x, 1))
    'minimum(x, 1)'
    """
    return apply(Minimum, x1, x2, name=name)


def clip(a, a_min, a_max, name: str | None = None) -> Tensor:
    """``a`` limited to ``[a_min, a_max]``; the gradient is zero outside.

    >>> x = sd.vector("x")
    >>> sd.pprint(sd.grad(sd.sum(sd.clip(x, -1, 1)), x))
    'where((x >= -1) & (x <= 1), 1, 0)'
    """
    return apply(Clip, a, a_min, a_max, name=name)


def cast(x, dtype, name: str | None = None) -> Tensor:
    """``x`` converted to ``dtype`` (as ``ndarray.astype``); a cast to an integer or
    bool dtype passes no gradient.

    >>> x = sd.vector("x")
    >>> sd.cast(x, "float32").dtype
    'float32'
    >>> sd.pprint(sd.cast(x > 0, "int32"))
    "(x > 0).astype('int32')"
    """
    from ..graph.types import check_dtype

    node = as_node(x)
    dtype = check_dtype(dtype)
    if node.dtype == dtype and not node.type.weak:
        return named(Tensor(node), name) if name else Tensor(node)
    return named(Tensor(Cast((node,), to=dtype)), name)
