"""Every op run on NumPy values, written from the ops' definitions.

:data:`FORWARD` maps each node class to ``forward(node, *operand_values)``.
It is the oracle side of symdiff: the numeric tape of
:mod:`symdiff.checking.backprop` and the NaN guard evaluate graphs with it,
and :func:`namespace` gives the same functions under the names printed
formulas use, so printed text can be evaluated.  None of it shares code with
the code generator.
"""
from __future__ import annotations

import numpy as np

from ..graph import node as gn
from ..ops import elementwise as ew
from ..ops import identity as ident
from ..ops import indexing as ix
from ..ops import linalg as la
from ..ops import reductions as rd
from ..ops import shape as sh


def sigmoid(x):
    """The logistic function, without overflow."""
    x = np.asarray(x)
    return np.exp(-np.logaddexp(np.zeros((), x.dtype) if x.dtype.kind == "f" else 0.0, -x))


def softplus(x):
    """log(1 + exp(x)), without overflow."""
    x = np.asarray(x)
    return np.logaddexp(np.zeros((), x.dtype) if x.dtype.kind == "f" else 0.0, x)


def relu(x):
    return np.where(np.isnan(x), x, np.maximum(x, 0)) if np.asarray(x).dtype.kind == "f" else np.maximum(x, 0)


def step(x):
    return np.where(np.asarray(x) > 0, 1, 0).astype(np.result_type(np.asarray(x).dtype, np.float16) if np.asarray(x).dtype.kind == "f" else np.float64)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) along ``axis``, max-shifted."""
    x = np.asarray(x)
    shift = np.max(x, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)
    out = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = np.asarray(x)
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax_minus(x, t, axis=-1, total=True):
    """softmax(x)*sum(t) - t along ``axis`` (``total``), else softmax(x) - t, as written."""
    s = softmax(x, axis)
    return s * np.sum(t, axis=axis, keepdims=True) - t if total else s - t


def prod_others(x, axis=None):
    """For each entry, the product of the other entries along ``axis`` (no division)."""
    x = np.asarray(x)
    axes = tuple(range(x.ndim)) if axis is None else (axis,) if np.ndim(axis) == 0 else tuple(axis)
    ends = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, ends)
    flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    ones = np.ones_like(flat[..., :1])
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
    return np.moveaxis((before * after).reshape(moved.shape), ends, axes)


def prod_others_adjoint(x, g, axis=None):
    """For each entry j: the sum over i != j of g[i] times the product of the entries
    other than i and j along ``axis`` (by brute force over pairs)."""
    x, g = np.asarray(x, dtype=np.float64), np.asarray(g, dtype=np.float64)
    axes = tuple(range(x.ndim)) if axis is None else (axis,) if np.ndim(axis) == 0 else tuple(axis)
    ends = tuple(range(x.ndim - len(axes), x.ndim))
    xm, gm = np.moveaxis(x, axes, ends), np.moveaxis(g, axes, ends)
    lead = xm.shape[: x.ndim - len(axes)]
    xf, gf = xm.reshape(lead + (-1,)), gm.reshape(lead + (-1,))
    n = xf.shape[-1]
    out = np.zeros_like(xf)
    for j in range(n):
        for i in range(n):
            if i != j:
                others = [k for k in range(n) if k not in (i, j)]
                out[..., j] += gf[..., i] * np.prod(xf[..., others], axis=-1)
    return np.moveaxis(out.reshape(xm.shape), ends, axes)


def scatter(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at the basic ``index``."""
    out = np.zeros(shape, dtype=np.result_type(g))
    out[index] += g
    return out


def scatter_add(g, indices, axes, shape):
    """Zeros of ``shape`` with ``g`` added at the integer-array ``indices`` on ``axes`` (repeats add up)."""
    out = np.zeros(shape, dtype=np.result_type(g))
    full = [slice(None)] * len(shape)
    for a, i in zip(axes, indices):
        full[a] = np.asarray(i)
    np.add.at(out, tuple(full), g)
    return out


def onehot(labels, k, dtype="float64"):
    """``np.eye(k, dtype=dtype)[labels]``: a label in ``[-k, 0)`` counts from the end."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < -k or labels.max() >= k):
        raise IndexError("onehot: a label is outside [-k, k)")
    return (np.where(labels < 0, labels + k, labels)[..., None] == np.arange(k)).astype(dtype)


def _python_index(entries: tuple) -> tuple:
    out = []
    for e in entries:
        if e[0] == "i":
            out.append(e[1])
        elif e[0] == "n":
            out.append(None)
        else:
            out.append(slice(e[1], e[2], e[3]))
    return tuple(out)


def _ints(dims) -> tuple:
    return tuple(int(d) for d in dims)


def _advanced_index(node, x, *indices):
    full = [slice(None)] * np.ndim(x)
    for a, i in zip(node.axes, indices):
        full[a] = np.asarray(i)
    return np.asarray(x)[tuple(full)]


FORWARD = {
    ew.Exp: lambda n, x: np.exp(x), ew.Expm1: lambda n, x: np.expm1(x), ew.Log: lambda n, x: np.log(x),
    ew.Log1p: lambda n, x: np.log1p(x), ew.Log2: lambda n, x: np.log2(x), ew.Log10: lambda n, x: np.log10(x),
    ew.Sqrt: lambda n, x: np.sqrt(x), ew.Abs: lambda n, x: np.abs(x), ew.Sign: lambda n, x: np.sign(x),
    ew.Floor: lambda n, x: np.floor(x), ew.Ceil: lambda n, x: np.ceil(x), ew.Step: lambda n, x: step(x),
    ew.Sin: lambda n, x: np.sin(x), ew.Cos: lambda n, x: np.cos(x), ew.Tan: lambda n, x: np.tan(x),
    ew.Arcsin: lambda n, x: np.arcsin(x), ew.Arccos: lambda n, x: np.arccos(x), ew.Arctan: lambda n, x: np.arctan(x),
    ew.Sinh: lambda n, x: np.sinh(x), ew.Cosh: lambda n, x: np.cosh(x), ew.Tanh: lambda n, x: np.tanh(x),
    ew.Arcsinh: lambda n, x: np.arcsinh(x), ew.Arctanh: lambda n, x: np.arctanh(x),
    ew.Sigmoid: lambda n, x: sigmoid(x), ew.Softplus: lambda n, x: softplus(x), ew.Relu: lambda n, x: relu(x),
    ew.Cast: lambda n, x: np.asarray(x).astype(n.to),
    ew.Add: lambda n, a, b: np.add(a, b), ew.Sub: lambda n, a, b: np.subtract(a, b),
    ew.Mul: lambda n, a, b: np.multiply(a, b), ew.Div: lambda n, a, b: np.true_divide(a, b),
    ew.Pow: lambda n, a, b: np.power(np.asarray(a, dtype=np.promote_types(np.asarray(a).dtype, n.dtype)), b), ew.Neg: lambda n, x: np.negative(x),
    ew.Less: lambda n, a, b: np.less(a, b), ew.LessEqual: lambda n, a, b: np.less_equal(a, b),
    ew.Greater: lambda n, a, b: np.greater(a, b), ew.GreaterEqual: lambda n, a, b: np.greater_equal(a, b),
    ew.Equal: lambda n, a, b: np.equal(a, b), ew.NotEqual: lambda n, a, b: np.not_equal(a, b),
    ew.And: lambda n, a, b: np.logical_and(a, b), ew.Or: lambda n, a, b: np.logical_or(a, b),
    ew.Not: lambda n, x: np.logical_not(x), ew.Where: lambda n, c, a, b: np.where(c, a, b),
    ew.Maximum: lambda n, a, b: np.maximum(a, b), ew.Minimum: lambda n, a, b: np.minimum(a, b),
    ew.Clip: lambda n, x, lo, hi: np.minimum(np.maximum(x, lo), hi),
    sh.Expand: lambda n, x, *sizes: np.broadcast_to(x, _ints(sizes)),
    sh.Reshape: lambda n, x, *sizes: np.reshape(x, _ints(sizes)),
    sh._Identity: lambda n, x: x,
    sh.Transpose: lambda n, x: np.transpose(x, n.perm),
    sh.Subtensor: lambda n, x: np.asarray(x)[_python_index(n.index)],
    sh.IndexAdjoint: lambda n, g, *sizes: scatter(g, _python_index(n.index), _ints(sizes)),
    sh.Concatenate: lambda n, *parts: np.concatenate(parts, axis=n.axis),
    sh.AxisSlice: lambda n, g, start, length: np.take(g, np.arange(start, start + length), axis=n.axis),
    la.MatMul: lambda n, a, b: np.matmul(a, b),
    la.MatVecPair: lambda n, a, u, v: np.stack([np.matmul(a, u), np.matmul(a, v)]),
    rd.Reduce: lambda n, x: {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}[n.kind](
        x, axis=n.axes, keepdims=n.keepdims),
    rd.ProdOthers: lambda n, x: prod_others(x, n.axes),
    rd.ProdOthersAdjoint: lambda n, x, g: prod_others_adjoint(x, g, n.axes),
    rd.ArgReduce: lambda n, x: (np.argmax if n.kind == "argmax" else np.argmin)(x, axis=n.axes[0], keepdims=n.keepdims),
    rd.LogSumExp: lambda n, x: logsumexp(x, axis=n.axes, keepdims=n.keepdims),
    rd.Softmax: lambda n, x: softmax(x, n.axis),
    rd.LogSoftmax: lambda n, x: log_softmax(x, n.axis),
    rd.SoftmaxMinus: lambda n, x, t: softmax_minus(x, t, n.axis, n.total),
    ix.AdvancedIndex: _advanced_index,
    ix.IndexAdd: lambda n, g, *rest: scatter_add(g, rest[: len(n.axes)], n.axes, _ints(rest[len(n.axes):])),
    ix.Arange: lambda n, size: np.arange(size),
    ix.Onehot: lambda n, labels, k: onehot(labels, k, n.dtype),
    ident.Eye: lambda n, size: np.eye(size, dtype=n.dtype),
    ident.Diag: lambda n, v, size: np.where(np.eye(size, dtype=bool), v, np.zeros((), dtype=n.dtype)),
}
"""Node class -> ``forward(node, *operand_values, *size_values)``; sizes a node
carries as parameters (``dims``, ``start``, ...) come after its operands."""

SIZE_PARAMS = {
    sh.Expand: ("dims",), sh.Reshape: ("dims",), sh.IndexAdjoint: ("dims",), sh.AxisSlice: ("start", "length"),
    ix.IndexAdd: ("dims",), ix.Arange: ("n",), ix.Onehot: ("k",), ident.Eye: ("n",), ident.Diag: ("n",),
}


def size_arguments(node) -> list:
    """The symbolic sizes a node carries as parameters, in the order its forward rule takes them."""
    out = []
    for name in SIZE_PARAMS.get(type(node), ()):
        value = getattr(node, name)
        out.extend(value if isinstance(value, tuple) else [value])
    return out


def namespace() -> dict:
    """The functions printed formulas call, by the names they print."""
    ns = {name: getattr(np, name) for name in (
        "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "abs", "sign", "floor", "ceil", "sin", "cos", "tan",
        "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arctanh", "where", "maximum", "minimum",
        "clip", "sum", "prod", "max", "min", "argmax", "argmin", "broadcast_to", "reshape", "transpose",
        "concatenate", "arange")}
    ns.update(sigmoid=sigmoid, softplus=softplus, relu=relu, step=step, logsumexp=logsumexp, softmax=softmax,
              log_softmax=log_softmax, prod_others=prod_others, prod_others_adjoint=prod_others_adjoint,
              scatter=scatter, scatter_add=scatter_add, onehot=onehot, eye=np.eye, diag=np.diag, s_=np.s_, np=np,
              inf=np.inf, nan=np.nan)
    return ns


def every_op_class() -> set:
    """The node classes this module runs."""
    return set(FORWARD) | {gn.Variable, gn.Constant, gn.Size}
