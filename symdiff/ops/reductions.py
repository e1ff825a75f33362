"""Reductions and normalisations along axes: sum, prod, max, min, mean, var,
std, argmax, argmin, logsumexp, softmax, log_softmax.

``sum``/``prod``/``max``/``min`` are :class:`Reduce` nodes, which the code
generator fuses into the loop nest of their operand.  The others that work
row by row lower to the helpers of :mod:`symdiff.codegen.support` after
moving the reduced axes last.
"""
from __future__ import annotations

import sympy as sp

from ..graph.node import Constant, Node, Size
from ..graph.sizes import is_static, size_product
from ..graph.types import TensorType, float_result, promote
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
    """``g``, the result of reducing ``axes`` of a ``shape`` tensor, with those axes as size 1."""
    if keepdims or not axes or not g.ndim:
        return g
    return reshape_node(g, reduced_shape(shape, axes, keepdims=True))


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
        raise NotImplementedError("the second derivative of prod is not supported")

    def _sympystr(self, printer):
        return f"prod_others({printer._print(self.x)}{axes_text(self.axes, self.x.ndim)})"

    def _latex(self, printer):
        return rf"\prod_{{j \ne i}}{self.latex_sub()}\left({printer._print(self.x)}\right)"

    def lower(self, e):
        return lower_rows(e, self, "prod_others_rows", full=True)


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
        inner = Reduce((b.mul(g, self),), kind="sum", axes=(self.axis,), keepdims=True)
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
        total = Reduce((g,), kind="sum", axes=(self.axis,), keepdims=True)
        return [b.sub(g, b.mul(Softmax((self.x,), axis=self.axis), total))]


def lower_rows(e, node, helper: str, full: bool) -> list:
    """Statements applying a row helper to ``node``'s operand with its axes moved
    last; ``full``: the helper returns rows of the operand's length (else one value per row)."""
    x = node.inputs[0]
    shape = x.shape
    axes = node.axes
    kept = [k for k in range(len(shape)) if k not in axes]
    perm = tuple(kept) + tuple(axes)
    rows = e.size(size_product(shape[k] for k in kept)) if kept else "1"
    cols = e.size(size_product(shape[k] for k in axes))
    moved = e.arg(0) if perm == tuple(range(len(shape))) else f"{e.arg(0)}.transpose({perm})"
    flat = f"np.ascontiguousarray({moved}).reshape(({rows}, {cols}))"
    call = f"{helper}({flat})"
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


REDUCTION_OPS = (Reduce, ProdOthers, ArgReduce, LogSumExp, Softmax, LogSoftmax)


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
    """Sum over ``axis`` (all axes by default)."""
    return _reduce("sum", x, axis, keepdims, name)


def prod(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Product over ``axis``; its gradient is exact where entries are zero."""
    return _reduce("prod", x, axis, keepdims, name)


def max(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Maximum over ``axis``; the gradient is shared equally among ties."""
    return _reduce("max", x, axis, keepdims, name)


def min(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Minimum over ``axis``; the gradient is shared equally among ties."""
    return _reduce("min", x, axis, keepdims, name)


def count(node: Node, axes: tuple) -> Node:
    """The number of elements over ``axes`` of ``node``: a constant, or a run-time size."""
    n = size_product(node.shape[k] for k in axes)
    if is_static(n):
        return b.const(int(n))
    return Size((), size=n, count=True)


def mean(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Mean over ``axis``: the sum divided by the element count (printed ``N``)."""
    node = as_node(x)
    axes = normalize_axes(axis, node.ndim)
    total = _reduce("sum", node, axes, keepdims, None).node
    return named(Tensor(ew.Div((total, count(node, axes)))), name)


def var(x, axis=None, ddof: int = 0, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's ``var``)."""
    node = as_node(x)
    axes = normalize_axes(axis, node.ndim)
    centre = ew.Div((_reduce("sum", node, axes, True, None).node, count(node, axes)))
    deviation = ew.Sub((node, centre))
    squares = _reduce("sum", ew.Pow((deviation, b.const(2))), axes, keepdims, None).node
    n = count(node, axes)
    denominator = n if not ddof else ew.Sub((n, b.const(int(ddof))))
    return named(Tensor(ew.Div((squares, denominator))), name)


def std(x, axis=None, ddof: int = 0, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Standard deviation over ``axis`` (NumPy's ``std``)."""
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
    """Index of the largest entry along ``axis`` (of the flattened tensor by default); int64, no gradient."""
    return _arg("argmax", x, axis, keepdims, name)


def argmin(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Index of the smallest entry along ``axis`` (of the flattened tensor by default); int64, no gradient."""
    return _arg("argmin", x, axis, keepdims, name)


def logsumexp(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """log(sum(exp(x), axis)), computed without overflow."""
    node = as_node(x)
    return named(Tensor(LogSumExp((node,), axes=normalize_axes(axis, node.ndim), keepdims=bool(keepdims))), name)


def softmax(x, axis: int = -1, name: str | None = None) -> Tensor:
    """exp(x) / sum(exp(x), axis), computed without overflow."""
    node = as_node(x)
    return named(Tensor(Softmax((node,), axis=normalize_axes(axis, node.ndim)[0])), name)


def log_softmax(x, axis: int = -1, name: str | None = None) -> Tensor:
    """x - logsumexp(x, axis, keepdims=True), computed without overflow."""
    node = as_node(x)
    return named(Tensor(LogSoftmax((node,), axis=normalize_axes(axis, node.ndim)[0])), name)
