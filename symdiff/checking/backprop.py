"""Numeric reverse mode, the way TensorFlow runs it: a tape of NumPy values and NumPy VJP rules.

The forward pass (:class:`Tape`) evaluates each distinct node of the cost's
graph once, in topological order, with the NumPy functions of
:mod:`symdiff.checking.numpy_ops`, and keeps every value.  The backward pass
visits the nodes in reverse: a node's adjoint is the sum of what its
consumers sent it, and its rule in :data:`VJPS` turns that adjoint into one
contribution per operand.

The rules are written here from the definitions of the ops, on numbers, and
share no code with the symbolic ones (each op class's ``vjp``): when
:func:`backprop` and :func:`symdiff.grad` agree, that means something.
"""
from __future__ import annotations

import functools
import operator
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from ..graph.node import Constant, Node, Size, Variable
from ..graph.sizes import Dim
from ..graph.types import FLOAT_DTYPES, fmt_shape, fmt_static
from ..graph.walk import postorder
from ..ops import elementwise as ew
from ..ops import identity as ident
from ..ops import indexing as ix
from ..ops import linalg as la
from ..ops import reductions as rd
from ..ops import shape as sh
from ..tensor import Tensor, as_tensor
from . import numpy_ops as npo


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` over the axes along which a value of ``shape`` was broadcast to ``g``'s shape."""
    g = np.asarray(g)
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + k for k, n in enumerate(shape) if n == 1 and g.shape[lead + k] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def elementwise(*partials: "Callable | None") -> Callable:
    """The VJP of an elementwise op from its partial derivatives ``partial(out, *xs)``
    (``None``: that operand takes no gradient)."""

    def vjp(node, g, out, xs):
        return [g * p(out, *xs) if p is not None else None for p in partials]

    return vjp


def _mul_vjp(node, g, out, xs):
    a, b = xs
    return [g * b, g * a]


def _pow_vjp(node, g, out, xs):
    b, e = xs
    b = np.asarray(b, dtype=np.result_type(out))
    return [g * e * np.power(b, e - 1), g * np.log(b) * out if not isinstance(node.inputs[1], Constant) else None]


def _prod_third(x, g, h, axes):
    """d/dx_k of sum_j h_j sum_{i != j} g_i prod_{l not in (i, j)} x_l, by brute force over triples."""
    x, g, h = (np.asarray(v, dtype=np.float64) for v in (x, g, h))
    ends = tuple(range(x.ndim - len(axes), x.ndim))
    xm, gm, hm = (np.moveaxis(v, axes, ends) for v in (x, g, h))
    lead = xm.shape[: x.ndim - len(axes)]
    xf, gf, hf = (v.reshape(lead + (-1,)) for v in (xm, gm, hm))
    n = xf.shape[-1]
    out = np.zeros_like(xf)
    for k in range(n):
        for j in range(n):
            for i in range(n):
                if len({i, j, k}) == 3:
                    rest = [m for m in range(n) if m not in (i, j, k)]
                    out[..., k] += hf[..., j] * gf[..., i] * np.prod(xf[..., rest], axis=-1)
    return np.moveaxis(out.reshape(xm.shape), ends, axes)


def _clip_vjp(g, x, lo, hi):
    """clip is minimum(maximum(x, lo), hi): the gradient goes where the result came from."""
    raised = np.maximum(x, lo)
    return [np.where((x >= lo) & (x <= hi), g, 0), np.where((x < lo) & ~(raised > hi), g, 0),
            np.where(raised > hi, g, 0)]


def _zero(out, x):
    return np.zeros(np.shape(x))


_ELEMENTWISE_VJPS = {
    ew.Exp: elementwise(lambda out, x: out),
    ew.Expm1: elementwise(lambda out, x: out + 1),
    ew.Log: elementwise(lambda out, x: 1 / x),
    ew.Log1p: elementwise(lambda out, x: 1 / (1 + x)),
    ew.Log2: elementwise(lambda out, x: 1 / (x * np.log(2))),
    ew.Log10: elementwise(lambda out, x: 1 / (x * np.log(10))),
    ew.Sqrt: elementwise(lambda out, x: np.where(x == 0, 0, 0.5 / np.where(x == 0, 1, out))),
    ew.Abs: elementwise(lambda out, x: np.sign(x)),
    ew.Sign: elementwise(_zero), ew.Floor: elementwise(_zero), ew.Ceil: elementwise(_zero), ew.Step: elementwise(_zero),
    ew.Sin: elementwise(lambda out, x: np.cos(x)),
    ew.Cos: elementwise(lambda out, x: -np.sin(x)),
    ew.Tan: elementwise(lambda out, x: 1 / np.cos(x) ** 2),
    ew.Arcsin: elementwise(lambda out, x: 1 / np.sqrt(1 - x * x)),
    ew.Arccos: elementwise(lambda out, x: -1 / np.sqrt(1 - x * x)),
    ew.Arctan: elementwise(lambda out, x: 1 / (1 + x * x)),
    ew.Sinh: elementwise(lambda out, x: np.cosh(x)),
    ew.Cosh: elementwise(lambda out, x: np.sinh(x)),
    ew.Tanh: elementwise(lambda out, x: 1 / np.cosh(x) ** 2),
    ew.Arcsinh: elementwise(lambda out, x: 1 / np.sqrt(x * x + 1)),
    ew.Arctanh: elementwise(lambda out, x: 1 / (1 - x * x)),
    ew.Sigmoid: elementwise(lambda out, x: npo.sigmoid(x) * npo.sigmoid(-np.asarray(x))),
    ew.Softplus: elementwise(lambda out, x: npo.sigmoid(x)),
    ew.Relu: elementwise(lambda out, x: (np.asarray(x) > 0).astype(np.result_type(out))),
    ew.Cast: lambda node, g, out, xs: [g if node.inputs[0].dtype in FLOAT_DTYPES else None],
    ew.Add: lambda node, g, out, xs: [g, g],
    ew.Sub: lambda node, g, out, xs: [g, -g],
    ew.Mul: _mul_vjp,
    ew.Div: lambda node, g, out, xs: [g / xs[1], -g * xs[0] / (np.asarray(xs[1]) * xs[1])],
    ew.Pow: _pow_vjp,
    ew.Neg: lambda node, g, out, xs: [-g],
    ew.Where: lambda node, g, out, xs: [None, np.where(xs[0], g, 0), np.where(xs[0], 0, g)],
    ew.Maximum: lambda node, g, out, xs: [np.where(np.asarray(xs[0]) >= xs[1], g, 0), np.where(np.asarray(xs[0]) >= xs[1], 0, g)],
    ew.Minimum: lambda node, g, out, xs: [np.where(np.asarray(xs[0]) <= xs[1], g, 0), np.where(np.asarray(xs[0]) <= xs[1], 0, g)],
    ew.Clip: lambda node, g, out, xs: _clip_vjp(g, *(np.asarray(v) for v in xs)),
    sh.Expand: lambda node, g, out, xs: [g],
}


def _matmul_vjp(node, g, out, xs):
    a, b = (np.asarray(v) for v in xs)
    if a.ndim == 1 and b.ndim == 1:
        return [g * b, g * a]
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = np.asarray(g)
    if a.ndim == 1:
        g2 = np.expand_dims(g2, -2)
    if b.ndim == 1:
        g2 = np.expand_dims(g2, -1)
    ga = g2 @ np.swapaxes(b2, -1, -2)
    gb = np.swapaxes(a2, -1, -2) @ g2
    ga = unbroadcast(ga, a2.shape).reshape(a.shape)
    gb = unbroadcast(gb, b2.shape).reshape(b.shape)
    return [ga, gb]


def _kept(node, value) -> np.ndarray:
    """A reduction's result with the reduced axes present as size 1."""
    return value if node.keepdims else np.expand_dims(value, node.axes)


def _reduce_vjp(node, g, out, xs):
    x = np.asarray(xs[0])
    gk = _kept(node, g)
    if node.kind == "sum":
        return [np.broadcast_to(gk, x.shape)]
    if node.kind == "prod":
        return [gk * npo.prod_others(x, node.axes)]
    hit = x == _kept(node, out)  # max/min: the adjoint is shared equally among ties
    return [gk * hit / hit.sum(axis=node.axes, keepdims=True)]


def _softmax_vjp(node, g, out, xs):
    s = out
    return [s * (g - np.sum(g * s, axis=node.axis, keepdims=True))]


def _log_softmax_vjp(node, g, out, xs):
    return [g - np.exp(out) * np.sum(g, axis=node.axis, keepdims=True)]


def _softmax_minus_vjp(node, g, out, xs):
    x, t = (np.asarray(v) for v in xs)
    s = npo.softmax(x, node.axis)
    gs = np.sum(g * s, axis=node.axis, keepdims=True)
    if not node.total:
        return [s * (g - gs), -g]
    return [s * (g - gs) * np.sum(t, axis=node.axis, keepdims=True), gs - g]


def _index_vjp(node, g, out, xs):
    return [npo.scatter(g, npo._python_index(node.index), np.shape(xs[0]))]


def _axis_slice_vjp(node, g, out, xs):
    full = np.zeros(np.shape(xs[0]), dtype=np.result_type(g))
    sl = [slice(None)] * full.ndim
    start = int(xs[1])
    sl[node.axis] = slice(start, start + int(xs[2]))
    full[tuple(sl)] = g
    return [full]


def _concatenate_vjp(node, g, out, xs):
    ends = np.cumsum([np.shape(x)[node.axis] for x in xs])
    return list(np.split(g, ends[:-1], axis=node.axis))


def _advanced_vjp(node, g, out, xs):
    return [npo.scatter_add(g, xs[1:], node.axes, np.shape(xs[0]))] + [None] * (len(xs) - 1)


def _index_add_vjp(node, g, out, xs):
    n = len(node.axes)
    return [npo._advanced_index(node, g, *xs[1: 1 + n])] + [None] * n


_TENSOR_VJPS = {
    sh.Reshape: lambda node, g, out, xs: [np.reshape(g, np.shape(xs[0]))],
    sh._Identity: lambda node, g, out, xs: [g],
    sh.Transpose: lambda node, g, out, xs: [np.transpose(g, np.argsort(node.perm))],
    sh.Subtensor: _index_vjp,
    sh.IndexAdjoint: lambda node, g, out, xs: [np.asarray(g)[npo._python_index(node.index)]],
    sh.Concatenate: _concatenate_vjp,
    sh.AxisSlice: _axis_slice_vjp,
    la.MatMul: _matmul_vjp,
    rd.Reduce: _reduce_vjp,
    rd.ProdOthers: lambda node, g, out, xs: [npo.prod_others_adjoint(xs[0], g, node.axes)],
    rd.ProdOthersAdjoint: lambda node, g, out, xs: [_prod_third(xs[0], xs[1], g, node.axes),
                                                    npo.prod_others_adjoint(xs[0], g, node.axes)],
    rd.LogSumExp: lambda node, g, out, xs: [_kept(node, g) * np.exp(xs[0] - _kept(node, out))],
    rd.Softmax: _softmax_vjp,
    rd.LogSoftmax: _log_softmax_vjp,
    rd.SoftmaxMinus: _softmax_minus_vjp,
    ix.AdvancedIndex: _advanced_vjp,
    ix.IndexAdd: _index_add_vjp,
    ident.Diag: lambda node, g, out, xs: [np.where(np.eye(np.shape(out)[-1], dtype=bool), g, 0)],
}

VJPS: dict = {**_ELEMENTWISE_VJPS, **_TENSOR_VJPS}
"""Node class -> ``vjp(node, g, out, operand_values)``: one contribution per operand (``None``: none)."""


def register(op: type, forward: Callable, vjp: "Callable | None" = None) -> None:
    """Teach :func:`backprop` a node type: its NumPy forward rule and VJP rule."""
    npo.FORWARD[op] = forward
    if vjp is not None:
        VJPS[op] = vjp


def _rule(table: dict, node: Node, what: str):
    for cls in type(node).__mro__:
        if cls in table:
            return table[cls]
    raise TypeError(f"backprop has no NumPy {what} rule for {type(node).__name__} (in {_short(node)}); add one with register()")


def _short(node) -> str:
    from ..printing import brief

    return brief(node, width=70)


# --------------------------------------------------------------------------- the tape


def _var_of(key) -> Variable:
    if isinstance(key, Tensor) and isinstance(key.node, Variable):
        return key.node
    if isinstance(key, Variable):
        return key
    raise TypeError(f"values: keys must be symbolic variables, got {key!r}")


class Tape:
    """The forward pass: each distinct node of ``roots`` evaluated once with NumPy, every value kept.

    ``values`` maps input variables to arrays; shared variables default to their
    current value, and constants have theirs.  With ``precision="float64"`` every
    float is computed in float64 (what finite differences want); otherwise
    each node has its own dtype, as compiled code would.
    """

    def __init__(self, roots: Sequence[Node], values: Mapping, precision: str | None = None):
        self.order = postorder(roots)
        self.precision = precision
        self._given = {id(_var_of(k)): v for k, v in values.items()}
        self._leaves: dict = {}
        self._below: dict = {}
        self.values: dict = {}
        for node in self.order:
            self.values[id(node)] = self._evaluate(node, self.values)

    def value(self, node: Node):
        return self.values[id(node)]

    # -- leaves -----------------------------------------------------------
    def leaf(self, var: Variable) -> np.ndarray:
        """The array bound to ``var`` (checked against its static shape, in its dtype)."""
        if id(var) in self._leaves:
            return self._leaves[id(var)]
        if var.role == "constant":
            if id(var) in self._given:
                raise ValueError(f"{var.name!r} is a constant: its value is fixed, not given in values")
            raw = var.value
        elif id(var) in self._given:
            raw = self._given[id(var)]
        elif var.role == "shared":
            raw = var.storage.value
        else:
            raise ValueError(f"no value for {var.role} variable {var.name!r}: pass it in values")
        array = np.asarray(raw)
        static = var.static_shape
        if array.ndim != len(static) or any(s is not None and s != n for s, n in zip(static, array.shape)):
            raise ValueError(f"{var.name!r}: expected shape {fmt_static(static)}, got {array.shape}")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{var.name!r}: expected a {var.dtype} array, got dtype {array.dtype}")
        self._leaves[id(var)] = np.asarray(array, dtype=self.dtype(var.dtype))
        return self._leaves[id(var)]

    def size(self, expr) -> int:
        """The value of a symbolic size."""
        expr = sp.sympify(expr)
        if expr.is_Integer:
            return int(expr)
        subs = {d: sp.Integer(self.leaf(d.var).shape[d.axis]) for d in expr.atoms(Dim)}
        return int(expr.xreplace(subs))

    def dtype(self, dtype: str) -> str:
        """The dtype values of static type ``dtype`` are computed in."""
        return self.precision if self.precision and dtype in FLOAT_DTYPES else dtype

    # -- nodes ------------------------------------------------------------
    def _evaluate(self, node: Node, values: dict):
        if isinstance(node, Variable):
            return self.leaf(node)
        if isinstance(node, Size):
            return np.int64(self.size(node.size))
        if isinstance(node, Constant):
            return np.asarray(float(node.value) if not node.value.is_Integer else int(node.value), dtype=self.dtype(node.dtype))
        for a, b in node.constraints:
            if self.size(a) != self.size(b):
                raise ValueError(f"shape mismatch: {a} = {self.size(a)} but {b} = {self.size(b)}; they must be equal (in {_short(node)})")
        for bound in getattr(node, "bounds", ()):
            if not self.size(bound.low) <= self.size(bound.high):
                raise IndexError(bound.message.format(size=self.size(bound.size)))
        operands = [values[id(c)] for c in node.inputs]
        sizes = [self.size(s) for s in npo.size_arguments(node)]
        with np.errstate(all="ignore"):
            out = _rule(npo.FORWARD, node, "forward")(node, *operands, *sizes)
        return np.asarray(out, dtype=self.dtype(node.dtype))

    def rerun(self, node: Node, value) -> dict:
        """All values with ``node``'s replaced by ``value``: the nodes that depend on it
        are evaluated again, the others reused."""
        values = dict(self.values)
        values[id(node)] = value
        if id(node) not in self._below:
            below = {id(node)}
            for n in self.order:
                if any(id(c) in below for c in n.inputs):
                    below.add(id(n))
            self._below[id(node)] = [n for n in self.order if id(n) in below and n is not node]
        for n in self._below[id(node)]:
            values[id(n)] = self._evaluate(n, values)
        return values

    # -- the backward pass ---------------------------------------------------
    def backward(self, cost: Node, targets: Sequence[Node], seed=None) -> dict:
        """``{id(target): d cost / d target}`` for the targets ``cost`` depends on
        (total derivatives: the sweep does not stop at a target).  ``seed`` is the
        adjoint of ``cost`` (default ones): a one-hot seed gives one row of a Jacobian."""
        wanted = {id(t) for t in targets}
        reaches = set()
        for node in self.order:
            if id(node) in wanted or (node.differentiable and any(id(c) in reaches for c in node.inputs)):
                reaches.add(id(node))
        adjoints = {id(cost): np.ones(np.shape(self.values[id(cost)]), dtype=self.dtype(cost.dtype)) if seed is None
                    else np.asarray(seed, dtype=self.dtype(cost.dtype))}
        found = {}
        for node in reversed(self.order):
            g = adjoints.pop(id(node), None)
            if g is None or id(node) not in reaches:
                continue
            if id(node) in wanted:
                found[id(node)] = g
            want = [id(c) in reaches for c in node.inputs]
            if not any(want):
                continue
            operands = [self.values[id(c)] for c in node.inputs]
            if isinstance(node, sh.AxisSlice):
                operands = operands + [self.size(node.start), self.size(node.length)]
            with np.errstate(all="ignore"):
                contributions = _rule(VJPS, node, "VJP")(node, g, self.values[id(node)], operands)
            for c, w, value, contribution in zip(node.inputs, want, operands, contributions):
                if not w or contribution is None:
                    continue
                contribution = self._as_adjoint(contribution, c, value, node)
                adjoints[id(c)] = adjoints[id(c)] + contribution if id(c) in adjoints else contribution
        return found

    def _as_adjoint(self, contribution, operand: Node, value, node: Node) -> np.ndarray:
        contribution = unbroadcast(np.asarray(contribution), np.shape(value)) if np.ndim(contribution) >= np.ndim(value) else np.broadcast_to(contribution, np.shape(value))
        contribution = np.asarray(contribution, dtype=self.dtype(operand.dtype) if operand.dtype in FLOAT_DTYPES else "float64")
        if contribution.shape != np.shape(value):
            raise RuntimeError(
                f"backprop: the rule of {type(node).__name__} gave an adjoint of shape {contribution.shape} "
                f"for an operand of shape {np.shape(value)} (in {_short(node)})"
            )
        return contribution


# --------------------------------------------------------------------------- entry point


def backprop(cost: Tensor, wrt: "Tensor | Sequence[Tensor]", values: Mapping) -> "np.ndarray | list":
    """d ``cost`` / d ``wrt`` by numeric reverse mode over a NumPy tape.

    ``values`` maps each input variable of ``cost`` to an array; shared
    variables default to their current value.  ``wrt`` is one variable (or
    intermediate expression of ``cost``) or a list of them; the result has the
    same structure.  A variable ``cost`` does not depend on gets zeros.  Each
    derivative is a total derivative.

    >>> x = sd.vector("x")
    >>> sd.backprop(sd.sum(x ** 2), x, {x: np.array([1.0, 2.0])})
    array([2., 4.])
    """
    cost = as_tensor(cost)
    if cost.node.shape != ():
        raise ValueError(f"backprop: the cost must be a scalar, got shape {fmt_shape(cost.node.shape)}")
    if cost.dtype not in FLOAT_DTYPES:
        raise TypeError(f"backprop: the cost must be a float, got dtype {cost.dtype}")
    single = isinstance(wrt, Tensor)
    targets = []
    for t in ([wrt] if single else wrt):
        if not isinstance(t, Tensor):
            raise TypeError(f"backprop: wrt must be symbolic tensors, got {type(t).__name__}")
        targets.append(t.node)
    tape = Tape([cost.node], values)
    for t in targets:
        if id(t) not in tape.values and not isinstance(t, Variable):
            raise ValueError(f"backprop: {t.name or _short(t)!r} is not a node of the cost's graph")
    adjoints = tape.backward(cost.node, targets)
    results = []
    for t in targets:
        if id(t) in adjoints:
            results.append(adjoints[id(t)])
        else:
            like = tape.values[id(t)] if id(t) in tape.values else tape.leaf(t)
            results.append(np.zeros(np.shape(like), dtype=tape.dtype(t.dtype)))
    if single:
        return results[0]
    return tuple(results) if isinstance(wrt, tuple) else results
