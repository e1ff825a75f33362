"""Reductions and normalisations along axes: sum, prod, max, min, mean, var,
std, argmax, argmin, logsumexp, softmax, log_softmax.

``sum``/``prod``/``max``/``min`` are :class:`Reduce` nodes, which the code
generator fuses into the loop nest of their operand.  The others that work
row by row lower to the helpers of :mod:`symdiff.codegen.support` after
moving the reduced axes last.
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..graph.node import Constant, Node, Size
from ..graph.sizes import is_static, size_product
from ..graph.types import TensorType, broadcast, float_result, promote
from ..tensor import Tensor, as_node, named
from . import build as b
from . import elementwise as ew
from .base import TensorOp, axes_text, normalize_axes
from .shape import expand, reshape_node, transpose_node


def reduced_shape(shape: tuple, axes: tuple, keepdims: bool) -> tuple:
    """Shape after reducing ``axes``."""
    if keepdims:
        return tuple(sp.S.One if k in axes else n for k, n in enumerate(shape))
    return tuple(n for k, n in enumerate(shape) if k not in axes)


def keep_dims(g: Node, axes: tuple, keepdims: bool, shape: tuple) -> Node:
    """``g``, the result of reducing ``axes`` of a ``shape`` tensor, with those axes as size 1
    (leading batch axes of ``g``, beyond the reduced shape, are kept in front)."""
    if keepdims or not axes or not g.ndim:
        return g
    nb = g.ndim - len(reduced_shape(shape, axes, keepdims=False))
    return reshape_node(g, tuple(g.shape[:nb]) + reduced_shape(shape, axes, keepdims=True))


class _AxisOp(TensorOp):
    """An op over ``axes`` of its operand with ``keepdims``."""

    params = ("axes", "keepdims")
    fname = ""

    @property
    def x(self) -> Node:
        return self.inputs[0]

    def infer_type(self):
        dtype, weak = self.result_dtype()
        return TensorType(dtype, reduced_shape(self.x.shape, self.axes, self.keepdims), weak), ()

    def result_dtype(self) -> tuple:
        return self.x.dtype, self.x.type.weak

    def call_text(self, printer, fname: str | None = None) -> str:
        keep = ", keepdims=True" if self.keepdims else ""
        return f"{fname or self.fname}({printer._print(self.x)}{axes_text(self.axes, self.x.ndim)}{keep})"

    def _sympystr(self, printer):
        return self.call_text(printer)

    def latex_sub(self) -> str:
        if len(self.axes) == self.x.ndim:
            return ""
        return "_{\\text{axis}=" + ",".join(map(str, self.axes)) + "}"


class Reduce(_AxisOp):
    """sum / prod / max / min over ``axes`` (fused into its operand's loop nest)."""

    params = ("kind", "axes", "keepdims")
    INIT = {"sum": 0, "prod": 1, "max": -sp.oo, "min": sp.oo}

    @property
    def fname(self):
        return self.kind

    def result_dtype(self):
        dtype, weak = promote(self.x.type)
        if self.kind in ("sum", "prod") and dtype in ("bool", "int32"):
            dtype = "int64"
        return dtype, weak

    def vjp(self, g):
        x = self.x
        g_kept = keep_dims(g, self.axes, self.keepdims, x.shape)
        if self.kind == "sum":
            return [g_kept]
        if self.kind == "prod":
            return [b.mul(g_kept, ProdOthers((x,), axes=self.axes, keepdims=True))]
        out_kept = keep_dims(self, self.axes, self.keepdims, x.shape)
        hit = b.where(ew.Equal((x, out_kept)), b.one(), b.zero())
        ties = Reduce((hit,), kind="sum", axes=self.axes, keepdims=True)
        return [b.div(b.mul(g_kept, hit), ties)]

    def _latex(self, printer):
        sym = {"sum": r"\sum", "prod": r"\prod", "max": r"\max", "min": r"\min"}[self.kind]
        return rf"{sym}{self.latex_sub()}\left({printer._print(self.x)}\right)"

    def accumulate(self, target: str, value: str) -> str:
        """Statement adding ``value`` into the accumulator ``target`` (NaN propagates for max/min)."""
        if self.kind == "sum":
            return f"{target} += {value}"
        if self.kind == "prod":
            return f"{target} *= {value}"
        cmp = ">" if self.kind == "max" else "<"
        return f"{target} = {value} if ({value} {cmp} {target} or {value} != {value}) else {target}"


class ProdOthers(_AxisOp):
    """For each entry, the product of the *other* entries along ``axes``: the
    derivative of ``prod``, exact when entries are zero (no division)."""

    fname = "prod_others"

    def infer_type(self):
        return TensorType(self.x.dtype, self.x.shape, self.x.type.weak), ()

    def vjp(self, g):
        nb = g.ndim - self.ndim  # leading batch axes of a batched adjoint
        x = expand(self.x, g.shape) if nb else self.x
        return [ProdOthersAdjoint((x, g), axes=tuple(a + nb for a in self.axes), keepdims=True)]

    def _sympystr(self, printer):
        return f"prod_others({printer._print(self.x)}{axes_text(self.axes, self.x.ndim)})"

    def _latex(self, printer):
        return rf"\prod_{{j \ne i}}{self.latex_sub()}\left({printer._print(self.x)}\right)"

    def lower(self, e):
        return lower_rows(e, self, "prod_others_rows", full=True)


class ProdOthersAdjoint(_AxisOp):
    """The VJP of :class:`ProdOthers` for the adjoint ``g``: for each entry ``j``,
    ``sum over i != j of g[i] * (product of the entries other than i and j)`` along
    ``axes``, by prefix and suffix recurrences (exact with zeros, linear time)."""

    fname = "prod_others_adjoint"

    def infer_type(self):
        return TensorType(promote(self.x.type, self.inputs[1].type)[0], self.x.shape, False), ()

    def vjp(self, g):
        raise NotImplementedError("derivatives of prod beyond the second are not supported")

    def _sympystr(self, printer):
        x, g = (printer._print(a) for a in self.inputs)
        return f"prod_others_adjoint({x}, {g}{axes_text(self.axes, self.x.ndim)})"

    def _latex(self, printer):
        x, g = (printer._print(a) for a in self.inputs)
        return rf"\sum_{{i \ne j}} {g}_i \prod_{{k \ne i, j}}{self.latex_sub()} {x}_k"

    def lower(self, e):
        return lower_rows(e, self, "prod_others_adjoint_rows", full=True)


class ArgReduce(_AxisOp):
    """argmax / argmin along one axis (or of the flattened tensor): int64, no gradient."""

    params = ("kind", "axes", "keepdims")
    differentiable = False

    @property
    def fname(self):
        return self.kind

    def result_dtype(self):
        return "int64", False

    def vjp(self, g):
        return [None]

    def _sympystr(self, printer):
        keep = ", keepdims=True" if self.keepdims else ""
        axis = "" if len(self.axes) == self.x.ndim and self.x.ndim != 1 else f", axis={self.axes[0]}"
        return f"{self.kind}({printer._print(self.x)}{axis}{keep})"

    def _latex(self, printer):
        return rf"\operatorname{{{self.kind}}}{self.latex_sub()}\left({printer._print(self.x)}\right)"

    def lower(self, e):
        return lower_rows(e, self, f"{self.kind}_rows", full=False)


class LogSumExp(_AxisOp):
    """log(sum(exp(x))) over ``axes``, computed max-shifted (no overflow)."""

    fname = "logsumexp"

    def result_dtype(self):
        dtype, weak = promote(self.x.type)
        return float_result(dtype), weak

    def vjp(self, g):
        x = self.x
        g_kept = keep_dims(g, self.axes, self.keepdims, x.shape)
        if len(self.axes) == 1:
            return [b.mul(g_kept, Softmax((x,), axis=self.axes[0]))]
        return [b.mul(g_kept, ew.Exp((b.sub(x, keep_dims(self, self.axes, self.keepdims, x.shape)),)))]

    def _latex(self, printer):
        return rf"\operatorname{{logsumexp}}{self.latex_sub()}\left({printer._print(self.x)}\right)"

    def lower(self, e):
        return lower_rows(e, self, "logsumexp_rows", full=False)


class Softmax(TensorOp):
    """exp(x - logsumexp(x)) along ``axis``, computed max-shifted."""

    params = ("axis",)
    fname = "softmax"

    @property
    def x(self) -> Node:
        return self.inputs[0]

    @property
    def axes(self) -> tuple:
        return (self.axis,)

    keepdims = True

    def infer_type(self):
        dtype, weak = promote(self.x.type)
        return TensorType(float_result(dtype), self.x.shape, weak), ()

    def vjp(self, g):
        nb = g.ndim - self.ndim  # leading batch axes of a batched adjoint
        inner = Reduce((b.mul(g, self),), kind="sum", axes=(nb + self.axis,), keepdims=True)
        return [b.mul(self, b.sub(g, inner))]

    def _sympystr(self, printer):
        return f"{self.fname}({printer._print(self.x)}, axis={self.axis})"

    def _latex(self, printer):
        return rf"\operatorname{{{self.fname}}}_{{\text{{axis}}={self.axis}}}\left({printer._print(self.x)}\right)"

    def lower(self, e):
        return lower_rows(e, self, f"{self.fname}_rows", full=True)


class LogSoftmax(Softmax):
    """x - logsumexp(x) along ``axis``."""

    fname = "log_softmax"

    def vjp(self, g):
        # g - softmax(x)*sum(g), computed without cancellation where softmax saturates
        x, axis = self.x, self.axis
        if g.ndim > x.ndim:  # an adjoint with extra leading axes
            axis += g.ndim - x.ndim
            x = expand(x, g.shape)
        return [b.neg(SoftmaxMinus((x, g), axis=axis, total=True))]


class SoftmaxMinus(TensorOp):
    """``softmax(x)*sum(t) - t`` along ``axis`` (``total``), or ``softmax(x) - t``:
    the gradient of softmax cross-entropy, computed without cancellation.

    Printed as that formula; computed row by row as
    ``(e*others(t) - t*others(e))/sum(e)`` with ``e = exp(x - max(x))`` and
    ``others(v)[i]`` the sum of the row's other entries (for ``total=False``,
    ``1 - t`` replaces ``others(t)``), so an entry near zero (a confident,
    correct prediction) keeps its relative accuracy.
    """

    params = ("axis", "total")

    def infer_type(self):
        x, t = self.inputs
        if len(x.shape) != len(t.shape):
            raise ValueError("SoftmaxMinus: the logits and the targets must have the same shape")
        shape, constraints = broadcast(x.shape, t.shape)
        dtype, weak = promote(x.type, t.type)
        return TensorType(float_result(dtype), shape, weak), constraints

    def vjp(self, g):
        x, t = self.inputs
        axis = (self.axis,)
        s = Softmax((x,), axis=self.axis)
        nb = g.ndim - self.ndim  # leading batch axes of a batched adjoint
        gs = Reduce((b.mul(g, s),), kind="sum", axes=(nb + self.axis,), keepdims=True)
        dx = b.mul(s, b.sub(g, gs))
        if not self.total:
            return [dx, b.neg(g)]
        return [b.mul(dx, Reduce((t,), kind="sum", axes=axis, keepdims=True)), b.sub(gs, g)]

    precedence = PRECEDENCE["Add"]

    @property
    def repeated_inputs(self) -> tuple:
        """Operands the printed formula shows twice (printing names them once)."""
        return (1,) if self.total else ()

    def _sympystr(self, printer):
        x, t = self.inputs
        first = f"softmax({printer._print(x)}, axis={self.axis})"
        if self.total:
            first += f"*sum({printer._print(t)}, axis={self.axis}, keepdims=True)"
        return f"{first} - {printer.parenthesize(t, PRECEDENCE['Add'])}"

    def _latex(self, printer):
        x, t = self.inputs
        sub = "_{\\text{axis}=" + str(self.axis) + "}"
        first = rf"\operatorname{{softmax}}{sub}\left({printer._print(x)}\right)"
        if self.total:
            first += rf" \odot \sum{sub}\left({printer._print(t)}\right)"
        return f"{first} - {printer.parenthesize(t, PRECEDENCE['Add'])}"

    def lower(self, e):
        shape, axis = self.shape, self.axis
        perm = tuple(k for k in range(len(shape)) if k != axis) + (axis,)
        moved = perm != tuple(range(len(shape)))
        rows = e.size(size_product(shape[k] for k in perm[:-1])) if len(shape) > 1 else "1"
        cols = e.size(shape[axis])
        flats = []
        for k in range(2):
            code = e.arg(k, self.dtype)
            if moved:
                code = f"{code}.transpose({perm})"
            flats.append(f"np.ascontiguousarray({code}).reshape(({rows}, {cols}))")
        dims = ", ".join(e.size(shape[k]) for k in perm)
        value = f"softmax_minus_rows({flats[0]}, {flats[1]}, {self.total}).reshape(({dims},))"
        if moved:
            inverse = tuple(sorted(range(len(perm)), key=lambda k: perm[k]))
            value = f"np.ascontiguousarray({value}.transpose({inverse}))"
        return [f"{e.out} = {value}"]


def lower_rows(e, node, helper: str, full: bool) -> list:
    """Statements applying a row helper to ``node``'s operands (all of one shape)
    with its axes moved last; ``full``: the helper returns rows of the operands'
    length (else one value per row)."""
    x = node.inputs[0]
    shape = x.shape
    axes = node.axes
    kept = [k for k in range(len(shape)) if k not in axes]
    perm = tuple(kept) + tuple(axes)
    rows = e.size(size_product(shape[k] for k in kept)) if kept else "1"
    cols = e.size(size_product(shape[k] for k in axes))
    flats = []
    for k in range(len(node.inputs)):
        operand = e.arg(k, dtype=node.dtype) if k else e.arg(k)
        moved = operand if perm == tuple(range(len(shape))) else f"{operand}.transpose({perm})"
        flats.append(f"np.ascontiguousarray({moved}).reshape(({rows}, {cols}))")
    call = f"{helper}({', '.join(flats)})"
    if full:
        dims = ", ".join(e.size(shape[k]) for k in perm)
        inverse = tuple(sorted(range(len(perm)), key=lambda k: perm[k]))
        value = f"{call}.reshape(({dims},))"
        if perm != tuple(range(len(shape))):
            value = f"np.ascontiguousarray({value}.transpose({inverse}))"
        return [f"{e.out} = {value}"]
    if not node.shape:
        return [f"{e.out} = {call}[0]"]
    dims = ", ".join(e.size(d) for d in node.shape)
    return [f"{e.out} = {call}.reshape(({dims},))"]


REDUCTION_OPS = (Reduce, ProdOthers, ProdOthersAdjoint, ArgReduce, LogSumExp, Softmax, LogSoftmax, SoftmaxMinus)


# --------------------------------------------------------------------------- sd.NAME functions


def _reduce(kind: str, x, axis, keepdims: bool, name: str | None) -> Tensor:
    node = as_node(x)
    axes = normalize_axes(axis, node.ndim)
    if not axes:  # nothing to reduce: the value itself, in the reduction's dtype
        from .shape import _Identity

        dtype = Reduce.result_dtype(_Probe(node, kind))[0]
        return named(Tensor(ew.Cast((node,), to=dtype) if dtype != node.dtype else _Identity((node,))), name)
    return named(Tensor(Reduce((node,), kind=kind, axes=axes, keepdims=bool(keepdims))), name)


class _Probe:
    """Enough of a Reduce for its dtype rule."""

    def __init__(self, x, kind):
        self.x, self.kind = x, kind


def sum(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Sum over ``axis`` (an int, a tuple, or all axes by default).

    >>> X = sd.matrix("X")
    >>> sd.pprint(sd.sum(X, axis=0, keepdims=True))
    'sum(X, axis=0, keepdims=True)'
    >>> sd.pprint(sd.grad(sd.sum(X), X))
    'broadcast_to(1, X.shape)'
    """
    return _reduce("sum", x, axis, keepdims, name)


def prod(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Product over ``axis``; its gradient is exact where entries are zero.

    >>> x = sd.vector("x")
    >>> sd.pprint(sd.grad(sd.prod(x), x))  # the product of the other entries
    'prod_others(x)'
    """
    return _reduce("prod", x, axis, keepdims, name)


def max(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Maximum over ``axis``; the gradient is shared equally among ties.

    >>> x = sd.vector("x")
    >>> print(sd.pprint(sd.grad(sd.max(x), x)))
    where(t1, 1, 0)/sum(where(t1, 1, 0), keepdims=True)
    where
      t1 = x == max(x)
    """
    return _reduce("max", x, axis, keepdims, name)


def min(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Minimum over ``axis``; the gradient is shared equally among ties.

    >>> sd.pprint(sd.min(sd.matrix("X"), axis=1))
    'min(X, axis=1)'
    """
    return _reduce("min", x, axis, keepdims, name)


def count(node: Node, axes: tuple) -> Node:
    """The number of elements over ``axes`` of ``node``: a constant, or a run-time size."""
    n = size_product(node.shape[k] for k in axes)
    if is_static(n):
        return b.const(int(n))
    return Size((), size=n, count=True)


def mean(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Mean over ``axis``: the sum divided by the element count (printed ``N``).

    >>> x = sd.vector("x")
    >>> print(sd.pprint(sd.grad(sd.mean(x ** 2), x)))
    2*x/N
    where
      N = x.shape[0]
    """
    node = as_node(x)
    axes = normalize_axes(axis, node.ndim)
    total = Reduce((node,), kind="sum", axes=axes, keepdims=bool(keepdims))
    return named(Tensor(ew.Div((total, count(node, axes)))), name)


def var(x, axis=None, ddof: int = 0, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's ``var``).

    >>> x = sd.vector("x")
    >>> print(sd.pprint(sd.var(x, ddof=1)))
    sum((x - sum(x, keepdims=True)/N)**2)/(N - 1)
    where
      N = x.shape[0]
    >>> float(sd.function([x], sd.var(x, ddof=1))([1.0, 2.0, 3.0, 4.0]))
    1.6666666666666667
    """
    node = as_node(x)
    axes = normalize_axes(axis, node.ndim)
    centre = ew.Div((Reduce((node,), kind="sum", axes=axes, keepdims=True), count(node, axes)))
    deviation = ew.Sub((node, centre))
    squares = Reduce((ew.Pow((deviation, b.const(2))),), kind="sum", axes=axes, keepdims=bool(keepdims))
    n = count(node, axes)
    denominator = n if not ddof else ew.Sub((n, b.const(int(ddof))))
    return named(Tensor(ew.Div((squares, denominator))), name)


def std(x, axis=None, ddof: int = 0, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Standard deviation over ``axis`` with ``ddof`` (NumPy's ``std``): ``sqrt(var)``.

    >>> print(sd.pprint(sd.std(sd.matrix("X"), axis=1)))
    sqrt(sum((X - sum(X, axis=1, keepdims=True)/N)**2, axis=1)/N)
    where
      N = X.shape[1]
    """
    return named(Tensor(ew.Sqrt((var(x, axis=axis, ddof=ddof, keepdims=keepdims).node,))), name)


def _arg(kind: str, x, axis, keepdims: bool, name: str | None) -> Tensor:
    node = as_node(x)
    if axis is None:
        flat = reshape_node(node, (size_product(node.shape),)) if node.ndim != 1 else node
        out = ArgReduce((flat,), kind=kind, axes=(0,), keepdims=False)
        if keepdims:
            out = reshape_node(out, (sp.S.One,) * node.ndim)
        return named(Tensor(out), name)
    axes = normalize_axes(axis, node.ndim)
    if len(axes) != 1:
        raise ValueError(f"{kind}: axis must be an int or None, got {axis!r}")
    return named(Tensor(ArgReduce((node,), kind=kind, axes=axes, keepdims=bool(keepdims))), name)


def argmax(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Index of the largest entry along ``axis`` (of the flattened tensor by default;
    the first one on ties); int64, no gradient.

    Accuracy of a classifier's scores ``Z`` on integer ``labels``:

    >>> Z, labels = sd.matrix("Z"), sd.vector("labels", dtype="int64")
    >>> accuracy = sd.function([Z, labels], sd.mean(sd.argmax(Z, axis=1) == labels))
    >>> float(accuracy([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], [1, 0, 0]))
    0.6666666666666666
    """
    return _arg("argmax", x, axis, keepdims, name)


def argmin(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Index of the smallest entry along ``axis`` (of the flattened tensor by default;
    the first one on ties); int64, no gradient.

    >>> i = sd.argmin(sd.matrix("X"), axis=0)
    >>> i.dtype, i.static_shape
    ('int64', (None,))
    """
    return _arg("argmin", x, axis, keepdims, name)


def logsumexp(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """log(sum(exp(x), axis)), computed without overflow.

    >>> x = sd.vector("x")
    >>> sd.pprint(sd.grad(sd.logsumexp(x), x))
    'softmax(x, axis=0)'
    """
    node = as_node(x)
    return named(Tensor(LogSumExp((node,), axes=normalize_axes(axis, node.ndim), keepdims=bool(keepdims))), name)


def softmax(x, axis: int = -1, name: str | None = None) -> Tensor:
    """exp(x) / sum(exp(x), axis), computed without overflow.

    >>> Z = sd.matrix("Z")
    >>> sd.pprint(sd.softmax(Z, axis=1))
    'softmax(Z, axis=1)'
    """
    node = as_node(x)
    return named(Tensor(Softmax((node,), axis=normalize_axes(axis, node.ndim)[0])), name)


def log_softmax(x, axis: int = -1, name: str | None = None) -> Tensor:
    """x - logsumexp(x, axis, keepdims=True), computed without overflow.

    The cross-entropy of scores ``Z`` with one-hot targets ``Y``, and its gradient:

    >>> Z, Y = sd.matrix("Z"), sd.matrix("Y")
    >>> loss = -sd.sum(Y * sd.log_softmax(Z, axis=1))
    >>> sd.pprint(sd.grad(loss, Z))
    'softmax(Z, axis=1)*sum(Y, axis=1, keepdims=True) - Y'
    """
    node = as_node(x)
    return named(Tensor(LogSoftmax((node,), axis=normalize_axes(axis, node.ndim)[0])), name)
