"""The op set as functions ``sd.NAME``, with NumPy semantics and broadcasting.

Every function takes an optional ``name=`` that names the result for printing.
"""
from __future__ import annotations

import builtins
from typing import Sequence

import sympy as sp
from sympy.codegen.cfunctions import expm1 as _expm1
from sympy.codegen.cfunctions import log1p as _log1p

from .graph import functions as fn
from .graph.nodes import BroadcastTo, Concatenate, LogSumExp, MatMul, Reduce, Reshape, Transpose, normalize_axes, outer as _outer
from .graph.symbols import Count
from .graph.types import fmt_shape, shape_of, size_of
from .tensor import Tensor, as_tensor, elementwise


def _named(t: Tensor, name: str | None) -> Tensor:
    return t.named(name) if name else t


def _unary(sympy_fn, doc: str):
    def op(x, name: str | None = None) -> Tensor:
        return _named(elementwise(sympy_fn, x), name)

    op.__doc__ = doc
    return op


exp = _unary(sp.exp, "Elementwise e**x.")
log = _unary(sp.log, "Elementwise natural logarithm.")
log1p = _unary(_log1p, "Elementwise log(1 + x), accurate for small x.")
expm1 = _unary(_expm1, "Elementwise exp(x) - 1, accurate for small x.")
sqrt = _unary(sp.sqrt, "Elementwise square root.")
square = _unary(lambda x: x**2, "Elementwise x**2.")
abs = _unary(sp.Abs, "Elementwise |x| (derivative sign(x)).")
sin = _unary(sp.sin, "Elementwise sine.")
cos = _unary(sp.cos, "Elementwise cosine.")
tan = _unary(sp.tan, "Elementwise tangent.")
tanh = _unary(fn.tanh, "Elementwise hyperbolic tangent.")
sinh = _unary(sp.sinh, "Elementwise hyperbolic sine.")
cosh = _unary(sp.cosh, "Elementwise hyperbolic cosine.")
arcsin = _unary(sp.asin, "Elementwise inverse sine.")
arctan = _unary(sp.atan, "Elementwise inverse tangent.")
sigmoid = _unary(fn.sigmoid, "Elementwise logistic function 1/(1 + exp(-x)).")
softplus = _unary(fn.softplus, "Elementwise log(1 + exp(x)), computed stably.")
relu = _unary(fn.relu, "Elementwise max(x, 0); derivative step(x).")


def where(cond, a, b, name: str | None = None) -> Tensor:
    """``a`` where ``cond`` holds, else ``b`` (broadcast); no gradient flows into ``cond``."""
    c = as_tensor(cond)
    if c.dtype != "bool":
        raise TypeError(f"where: the condition must be a comparison (dtype bool), got dtype {c.dtype}")
    return _named(elementwise(_select, c, a, b, dtype=_float_dtype(a, b)), name)


def _select(c, a, b):
    if isinstance(c, BroadcastTo):  # a condition that SymPy decided: x > x is false
        c = c.x
    return sp.Piecewise((a, c), (b, True))


def _float_dtype(*xs) -> str | None:
    dtypes = [as_tensor(x).expr for x in xs]
    from .graph.types import dtype_of, result_dtype

    found = [dtype_of(e) for e in dtypes]
    return result_dtype(*found) if any(d is not None for d in found) else None


def maximum(a, b, name: str | None = None) -> Tensor:
    """Elementwise larger of ``a`` and ``b`` (the gradient goes to ``a`` on ties)."""
    return _named(elementwise(lambda a, b: sp.Piecewise((a, a >= b), (b, True)), a, b, dtype=_float_dtype(a, b)), name)


def minimum(a, b, name: str | None = None) -> Tensor:
    """Elementwise smaller of ``a`` and ``b`` (the gradient goes to ``a`` on ties)."""
    return _named(elementwise(lambda a, b: sp.Piecewise((a, a <= b), (b, True)), a, b, dtype=_float_dtype(a, b)), name)


def clip(x, lo, hi, name: str | None = None) -> Tensor:
    """``x`` limited to ``[lo, hi]``; zero gradient outside."""
    return _named(
        elementwise(lambda x, lo, hi: sp.Piecewise((lo, x < lo), (hi, x > hi), (x, True)), x, lo, hi, dtype=_float_dtype(x)),
        name,
    )


# --------------------------------------------------------------------------- reductions


def _reduce(kind: str, x, axis, keepdims: bool, name: str | None) -> Tensor:
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim)
    return _named(Tensor(Reduce.make(x.expr, kind, axes, keepdims)), name)


def sum(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Sum over ``axis`` (all axes by default)."""
    return _reduce("sum", x, axis, keepdims, name)


def max(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Maximum over ``axis``; the gradient is shared equally among ties."""
    return _reduce("max", x, axis, keepdims, name)


def min(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Minimum over ``axis``; the gradient is shared equally among ties."""
    return _reduce("min", x, axis, keepdims, name)


def prod(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Product over ``axis``."""
    return _reduce("prod", x, axis, keepdims, name)


def mean(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Mean over ``axis``: the sum divided by the element count (shown as ``N``)."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim)
    count = Count.make(tuple(shape_of(x.expr)[k] for k in axes))
    return _named(sum(x, axis=axes, keepdims=keepdims) / Tensor(count), name)


def logsumexp(x, axis=None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """log(sum(exp(x), axis)), evaluated stably."""
    x = as_tensor(x)
    return _named(Tensor(LogSumExp.make(x.expr, normalize_axes(axis, x.ndim), keepdims)), name)


def log_softmax(x, axis=-1, name: str | None = None) -> Tensor:
    """x - logsumexp(x, axis, keepdims=True)."""
    x = as_tensor(x)
    return _named(x - logsumexp(x, axis=axis, keepdims=True), name)


def softmax(x, axis=-1, name: str | None = None) -> Tensor:
    """exp(log_softmax(x, axis))."""
    return _named(exp(log_softmax(x, axis=axis)), name)


# --------------------------------------------------------------------------- linear algebra and shape


def dot(a, b, name: str | None = None) -> Tensor:
    """Matrix product (``a @ b``) of 1-D or 2-D tensors."""
    return _named(Tensor(MatMul.make(as_tensor(a).expr, as_tensor(b).expr)), name)


matmul = dot


def outer(a, b, name: str | None = None) -> Tensor:
    """Outer product of two vectors."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer needs two vectors, got shapes {fmt_shape(shape_of(a.expr))} and {fmt_shape(shape_of(b.expr))}")
    return _named(Tensor(_outer(a.expr, b.expr)), name)


def transpose(x, axes: Sequence[int] | None = None, name: str | None = None) -> Tensor:
    """Permute axes (reverse them by default)."""
    return _named(Tensor(Transpose.make(as_tensor(x).expr, axes)), name)


def reshape(x, shape: Sequence[int | None], name: str | None = None) -> Tensor:
    """A tensor with the same elements in ``shape``; one entry may be -1."""
    x = as_tensor(x)
    src = shape_of(x.expr)
    shape = tuple(shape) if not isinstance(shape, int) else (shape,)
    if builtins.sum(1 for s in shape if s == -1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
    known = sp.Mul(*(sp.Integer(s) for s in shape if s != -1))
    dims = []
    for s in shape:
        if s == -1:
            rest = sp.simplify(size_of(src) / known)
            if rest.is_Rational and not rest.is_Integer:
                raise ValueError(f"cannot reshape {fmt_shape(src)} into {shape}")
            dims.append(rest)
        elif not isinstance(s, int) or s < 0:
            raise ValueError(f"reshape: shape entries must be non-negative ints or -1, got {shape}")
        else:
            dims.append(sp.Integer(s))
    return _named(Tensor(Reshape.make(x.expr, dims)), name)


def concatenate(tensors: Sequence, axis: int = 0, name: str | None = None) -> Tensor:
    """Join tensors along an existing axis."""
    return _named(Tensor(Concatenate.make([as_tensor(t).expr for t in tensors], axis)), name)


def stack(tensors: Sequence, axis: int = 0, name: str | None = None) -> Tensor:
    """Join tensors along a new axis."""
    parts = [as_tensor(t) for t in tensors]
    if not parts:
        raise ValueError("stack needs at least one tensor")
    ndim = parts[0].ndim + 1
    axis = normalize_axes(axis, ndim)[0]
    expanded = []
    for p in parts:
        shape = list(shape_of(p.expr))
        shape.insert(axis, sp.S.One)
        expanded.append(Reshape.make(p.expr, shape))
    return _named(Tensor(Concatenate.make(expanded, axis)), name)
