"""Numeric reverse mode, the way TensorFlow runs it: a tape of NumPy values and NumPy VJP rules.

The forward pass (:class:`Tape`) evaluates each distinct node of the cost's
graph once, in topological order, with NumPy, and keeps every value.  The
backward pass visits the nodes in reverse: a node's adjoint is the sum of
what its consumers sent it, and its rule in :data:`RULES` turns that adjoint
into one contribution per operand.

The rules are written here from the definitions of the ops, on numbers, and
share no code with the symbolic ones (``TensorOp.vjp``, :mod:`symdiff.grad`):
when :func:`backprop` and :func:`symdiff.grad` agree, that means something.
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from ..graph import functions as fn
from ..graph import nodes as nd
from ..graph.symbols import Count, Dim, TensorVar, name_of
from ..graph.types import FLOAT_DTYPES, constraints_of, dtype_of, fmt_shape, shape_of
from ..graph.walk import children, postorder
from ..tensor import Tensor, as_tensor, shared_registry


@dataclass(frozen=True)
class Rule:
    """How one node type runs on NumPy values.

    ``forward(node, *operand_values)`` gives the node's value.
    ``vjp(node, g, out, operand_values, wanted)`` gives one contribution per
    operand (its share of the adjoint, with the operand's shape), or ``None``
    where ``wanted`` is false or the operand takes no gradient.
    """

    forward: Callable
    vjp: Callable


RULES: dict = {}
"""Node type (SymPy function class or :class:`~symdiff.graph.nodes.TensorOp`) -> :class:`Rule`."""


def register(op: type, rule: Rule) -> None:
    """Teach :func:`backprop` a node type."""
    RULES[op] = rule


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` over the axes along which a value of ``shape`` was broadcast to ``g``'s shape."""
    g = np.asarray(g)
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + k for k, n in enumerate(shape) if n == 1 and g.shape[lead + k] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def elementwise(forward: Callable, *partials: Callable | None) -> Rule:
    """The rule of an elementwise function: ``forward(*xs)``, and per operand
    ``partial(out, *xs)``, its derivative (``None``: the operand takes no gradient)."""

    def vjp(node, g, out, xs, wanted):
        return [
            unbroadcast(g * p(out, *xs), np.shape(x)) if w and p is not None else None
            for p, x, w in zip(partials, xs, wanted)
        ]

    return Rule(lambda node, *xs: forward(*xs), vjp)


# --------------------------------------------------------------------------- elementwise rules


def _sigmoid(x):
    return np.exp(-np.logaddexp(0, -x))


def _power(b, e):
    return (b if isinstance(b, np.ndarray) else np.float64(b)) ** e


def _add_vjp(node, g, out, xs, wanted):
    return [unbroadcast(g, np.shape(x)) if w else None for x, w in zip(xs, wanted)]


def _mul_vjp(node, g, out, xs, wanted):
    contributions = []
    for k, (x, w) in enumerate(zip(xs, wanted)):
        others = functools.reduce(operator.mul, xs[:k] + xs[k + 1:], 1)
        contributions.append(unbroadcast(g * others, np.shape(x)) if w else None)
    return contributions


def _pow_vjp(node, g, out, xs, wanted):
    b, e = xs
    return [
        unbroadcast(g * e * _power(b, e - 1), np.shape(b)) if wanted[0] else None,
        unbroadcast(g * np.log(b) * out, np.shape(e)) if wanted[1] else None,
    ]


def _piecewise_forward(node, *pairs):
    out = np.nan
    for value, cond in reversed(pairs):
        out = np.where(cond, value, out)
    return out


def _piecewise_vjp(node, g, out, pairs, wanted):
    taken = np.zeros(np.shape(g), dtype=bool)
    contributions = []
    for (value, cond), w in zip(pairs, wanted):
        chosen = np.logical_and(cond, ~taken)
        pair_shape = np.broadcast_shapes(np.shape(value), np.shape(cond))
        contributions.append(unbroadcast(np.where(chosen, g, 0), pair_shape) if w else None)
        taken = taken | chosen
    return contributions


def _no_gradient(node, g, out, xs, wanted):
    return [None] * len(xs)


def _logical(function):
    return Rule(lambda node, *xs: functools.reduce(function, xs), _no_gradient)


def _zero(out, x):
    return np.zeros(np.shape(x))


_ELEMENTWISE = {
    sp.exp: elementwise(np.exp, lambda out, x: out),
    sp.log: elementwise(np.log, lambda out, x: 1 / x),
    log1p: elementwise(np.log1p, lambda out, x: 1 / (1 + x)),
    expm1: elementwise(np.expm1, lambda out, x: out + 1),
    sp.Abs: elementwise(np.abs, lambda out, x: np.sign(x)),
    sp.sign: elementwise(np.sign, _zero),
    sp.sin: elementwise(np.sin, lambda out, x: np.cos(x)),
    sp.cos: elementwise(np.cos, lambda out, x: -np.sin(x)),
    sp.tan: elementwise(np.tan, lambda out, x: 1 + out * out),
    sp.tanh: elementwise(np.tanh, lambda out, x: 1 - out * out),
    sp.sinh: elementwise(np.sinh, lambda out, x: np.cosh(x)),
    sp.cosh: elementwise(np.cosh, lambda out, x: np.sinh(x)),
    sp.asin: elementwise(np.arcsin, lambda out, x: 1 / np.sqrt(1 - x * x)),
    sp.atan: elementwise(np.arctan, lambda out, x: 1 / (1 + x * x)),
    fn.sigmoid: elementwise(_sigmoid, lambda out, x: out * (1 - out)),
    fn.softplus: elementwise(lambda x: np.logaddexp(0, x), lambda out, x: _sigmoid(x)),
    fn.relu: elementwise(lambda x: np.maximum(x, 0), lambda out, x: x > 0),
    fn.step: elementwise(lambda x: np.where(x > 0, 1.0, 0.0), _zero),
    fn.same: Rule(lambda node, a, b: np.where(np.equal(a, b), 1.0, 0.0), _no_gradient),
    sp.Add: Rule(lambda node, *xs: functools.reduce(operator.add, xs), _add_vjp),
    sp.Mul: Rule(lambda node, *xs: functools.reduce(operator.mul, xs), _mul_vjp),
    sp.Pow: Rule(lambda node, b, e: _power(b, e), _pow_vjp),
    sp.Piecewise: Rule(_piecewise_forward, _piecewise_vjp),
    sp.functions.elementary.piecewise.ExprCondPair: Rule(
        lambda node, value, cond: (value, cond),
        lambda node, g, out, xs, wanted: [unbroadcast(g, np.shape(xs[0])) if wanted[0] else None, None],
    ),
    sp.StrictLessThan: Rule(lambda node, a, b: np.less(a, b), _no_gradient),
    sp.LessThan: Rule(lambda node, a, b: np.less_equal(a, b), _no_gradient),
    sp.StrictGreaterThan: Rule(lambda node, a, b: np.greater(a, b), _no_gradient),
    sp.GreaterThan: Rule(lambda node, a, b: np.greater_equal(a, b), _no_gradient),
    sp.Eq: Rule(lambda node, a, b: np.equal(a, b), _no_gradient),
    sp.Ne: Rule(lambda node, a, b: np.not_equal(a, b), _no_gradient),
    sp.And: _logical(np.logical_and),
    sp.Or: _logical(np.logical_or),
    sp.Not: Rule(lambda node, x: np.logical_not(x), _no_gradient),
    sp.ITE: Rule(lambda node, c, a, b: np.where(c, a, b), _no_gradient),
}


# --------------------------------------------------------------------------- tensor op rules


def _only_first(contribution, xs) -> list:
    """The contribution to a node's data operand; its size operands get none."""
    return [contribution] + [None] * (len(xs) - 1)


def _ints(dims) -> tuple:
    return tuple(int(d) for d in dims)


def _aligned(node: nd.BroadcastTo, x) -> np.ndarray:
    a = np.asarray(x)
    for k in node.new_axes:
        a = np.expand_dims(a, k)
    return a


def _broadcast_vjp(node, g, out, xs, wanted):
    x = xs[0]
    return _only_first(unbroadcast(g, _aligned(node, x).shape).reshape(np.shape(x)), xs)


def _matmul_vjp(node, g, out, xs, wanted):
    a, b = (np.asarray(v) for v in xs)
    if a.ndim == 2 and b.ndim == 2:
        ga, gb = g @ b.T, a.T @ g
    elif a.ndim == 1 and b.ndim == 2:
        ga, gb = b @ g, np.outer(a, g)
    elif a.ndim == 2 and b.ndim == 1:
        ga, gb = np.outer(g, b), a.T @ g
    else:
        ga, gb = g * b, g * a
    return [ga if wanted[0] else None, gb if wanted[1] else None]


def _kept(node, value) -> np.ndarray:
    """A reduction's result with the reduced axes present as size 1."""
    return value if node.keepdims else np.expand_dims(value, node.axes)


_REDUCERS = {"sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod}


def _reduce_vjp(node, g, out, xs, wanted):
    x = np.asarray(xs[0])
    gk = _kept(node, g)
    if node.kind == "sum":
        return [np.broadcast_to(gk, x.shape)]
    if node.kind == "prod":
        return [gk * _product_of_others(x, node.axes)]
    hit = x == _kept(node, out)  # max/min: the adjoint is shared equally among ties
    return [gk * hit / hit.sum(axis=node.axes, keepdims=True)]


def _product_of_others(x: np.ndarray, axes: tuple) -> np.ndarray:
    """For each entry, the product of the other entries along ``axes`` (no division, so zeros are fine)."""
    ends = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, ends)
    flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    ones = np.ones_like(flat[..., :1])
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
    return np.moveaxis((before * after).reshape(moved.shape), ends, axes)


def _logsumexp_forward(node, x):
    shift = np.max(x, axis=node.axes, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)
    out = np.log(np.sum(np.exp(x - shift), axis=node.axes, keepdims=True)) + shift
    return out if node.keepdims else np.squeeze(out, axis=node.axes)


def _logsumexp_vjp(node, g, out, xs, wanted):
    return [_kept(node, g) * np.exp(xs[0] - _kept(node, out))]


def _scatter(g, shape: tuple, index: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype=np.result_type(g))
    out[index] = g
    return out


def _part_index(node: nd.ConcatPart, lengths: tuple) -> tuple:
    start = sum(lengths[: node.part])
    return (slice(None),) * node.axis + (slice(start, start + lengths[node.part]),)


def _concatenate_vjp(node, g, out, xs, wanted):
    ends = np.cumsum([np.shape(x)[node.axis] for x in xs])
    return [part if w else None for part, w in zip(np.split(g, ends[:-1], axis=node.axis), wanted)]


_TENSOR_OPS = {
    nd.BroadcastTo: Rule(lambda node, x, *dims: np.broadcast_to(_aligned(node, x), _ints(dims)), _broadcast_vjp),
    nd.MatMul: Rule(lambda node, a, b: np.matmul(a, b), _matmul_vjp),
    nd.Transpose: Rule(
        lambda node, x: np.transpose(x, node.perm),
        lambda node, g, out, xs, wanted: [np.transpose(g, np.argsort(node.perm))],
    ),
    nd.Reduce: Rule(lambda node, x: _REDUCERS[node.kind](x, axis=node.axes, keepdims=node.keepdims), _reduce_vjp),
    nd.LogSumExp: Rule(_logsumexp_forward, _logsumexp_vjp),
    nd.Reshape: Rule(
        lambda node, x, *dims: np.reshape(x, _ints(dims)),
        lambda node, g, out, xs, wanted: _only_first(np.reshape(g, np.shape(xs[0])), xs),
    ),
    nd.Index: Rule(
        lambda node, x: np.asarray(x)[node.index],
        lambda node, g, out, xs, wanted: [_scatter(g, np.shape(xs[0]), node.index)],
    ),
    nd.IndexAdjoint: Rule(
        lambda node, g, *dims: _scatter(g, _ints(dims), node.index),
        lambda node, g, out, xs, wanted: _only_first(g[node.index], xs),
    ),
    nd.Concatenate: Rule(lambda node, *parts: np.concatenate(parts, axis=node.axis), _concatenate_vjp),
    nd.ConcatPart: Rule(
        lambda node, g, *lengths: g[_part_index(node, _ints(lengths))],
        lambda node, g, out, xs, wanted: _only_first(_scatter(g, np.shape(xs[0]), _part_index(node, _ints(xs[1:]))), xs),
    ),
}

RULES.update(_ELEMENTWISE)
RULES.update(_TENSOR_OPS)


def rule_for(node: sp.Basic) -> Rule:
    """The rule of ``node``'s type (or of the nearest base class that has one)."""
    for cls in type(node).__mro__:
        if cls in RULES:
            return RULES[cls]
    raise TypeError(f"backprop has no NumPy rule for {type(node).__name__} (in {_short(node)}); add one with register()")


# --------------------------------------------------------------------------- the tape


def _short(node, width: int = 70) -> str:
    text = " ".join(str(node).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _var_of(key) -> TensorVar:
    if isinstance(key, Tensor) and isinstance(key.expr, TensorVar):
        return key.expr
    if isinstance(key, TensorVar):
        return key
    raise TypeError(f"values: keys must be symbolic variables, got {key!r}")


def leaf_values(values: Mapping) -> dict:
    """``values`` keyed by ``TensorVar`` (keys may be variables or their symbols)."""
    return {_var_of(k): v for k, v in values.items()}


def _fmt_static(static: tuple) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in static) + ("," if len(static) == 1 else "") + ")"


class Tape:
    """The forward pass: each distinct node of ``roots`` evaluated once with NumPy, every value kept.

    ``values`` maps input variables to arrays; shared variables default to their
    current value, and constants have theirs.  With ``precision="float64"`` every
    float is computed in float64 (what finite differences want); otherwise
    each node has its own dtype, as compiled code would.
    """

    def __init__(self, roots: Sequence[sp.Basic], values: Mapping, precision: str | None = None):
        self.order = postorder(roots)
        self.precision = precision
        self._given = leaf_values(values)
        self._leaves: dict = {}
        self._below: dict = {}
        self.values: dict = {}
        for node in self.order:
            self.values[node] = self._evaluate(node, self.values)

    # -- leaves -----------------------------------------------------------
    def leaf(self, var: TensorVar) -> np.ndarray:
        """The array bound to ``var`` (checked against its static shape, in its dtype)."""
        if var in self._leaves:
            return self._leaves[var]
        if var.role == "constant":
            if var in self._given:
                raise ValueError(f"{var.name!r} is a constant: its value is fixed, not given in values")
            raw = var.value
        elif var in self._given:
            raw = self._given[var]
        elif var.role == "shared" and var in shared_registry:
            raw = shared_registry[var].storage
        else:
            raise ValueError(f"no value for {var.role} variable {var.name!r}: pass it in values")
        array = np.asarray(raw)
        static = var.static_shape
        if array.ndim != len(static) or any(s is not None and s != n for s, n in zip(static, array.shape)):
            raise ValueError(f"{var.name!r}: expected shape {_fmt_static(static)}, got {array.shape}")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{var.name!r}: expected a {var.dtype} array, got dtype {array.dtype}")
        self._leaves[var] = np.asarray(array, dtype=self.dtype(var.dtype))
        return self._leaves[var]

    def size(self, expr: sp.Expr) -> int:
        """The value of a symbolic size (literal, ``Dim``, ``Count`` or arithmetic on them)."""
        subs = {d: sp.Integer(self.leaf(d.var).shape[d.axis]) for d in expr.atoms(Dim)}
        value = expr.xreplace(subs).replace(lambda e: isinstance(e, Count), lambda e: sp.Mul(*e.args))
        return int(value)

    def dtype(self, dtype: str | None) -> str | None:
        """The dtype values of static type ``dtype`` are computed in."""
        return self.precision if self.precision and dtype in FLOAT_DTYPES else dtype

    # -- nodes ------------------------------------------------------------
    def _evaluate(self, node, values: dict):
        if isinstance(node, TensorVar):
            return self.leaf(node)
        if isinstance(node, (Dim, Count)):
            return self.size(node)
        if isinstance(node, sp.logic.boolalg.BooleanAtom):
            return bool(node)
        if node.is_Integer:
            return int(node)
        if node.is_Number or node.is_NumberSymbol:
            return float(node)
        for a, b in constraints_of(node):
            if self.size(a) != self.size(b):
                raise ValueError(f"shape mismatch: {a} = {self.size(a)} but {b} = {self.size(b)}; they must be equal (in {_short(node)})")
        out = rule_for(node).forward(node, *(values[c] for c in children(node)))
        dtype = self.dtype(dtype_of(node))
        return out if dtype is None or isinstance(out, tuple) else np.asarray(out, dtype=dtype)

    def rerun(self, node: sp.Basic, value) -> dict:
        """All values with ``node``'s replaced by ``value``: the nodes that depend on it
        are evaluated again, the others reused."""
        values = dict(self.values)
        values[node] = value
        if node not in self._below:
            below = {node}
            for n in self.order:
                if any(c in below for c in children(n)):
                    below.add(n)
            self._below[node] = [n for n in self.order if n in below and n is not node]
        for n in self._below[node]:
            values[n] = self._evaluate(n, values)
        return values

    # -- the backward pass ---------------------------------------------------
    def backward(self, cost: sp.Basic, targets: Sequence[sp.Basic]) -> dict:
        """``{target: d cost / d target}`` for the targets ``cost`` depends on (total
        derivatives: the sweep does not stop at a target)."""
        wanted = set(targets)
        reaches = set()
        for node in self.order:
            if node in wanted or dtype_of(node) != "bool" and any(c in reaches for c in children(node)):
                reaches.add(node)
        adjoints = {cost: np.ones(np.shape(self.values[cost]), dtype=self.dtype(dtype_of(cost)))}
        found = {}
        for node in reversed(self.order):
            g = adjoints.pop(node, None)
            if g is None or node not in reaches:
                continue
            if node in wanted:
                found[node] = g
            kids = children(node)
            want = [c in reaches for c in kids]
            if not any(want):
                continue
            operands = [self.values[c] for c in kids]
            contributions = rule_for(node).vjp(node, g, self.values[node], operands, want)
            for c, w, value, contribution in zip(kids, want, operands, contributions):
                if not w or contribution is None:
                    continue
                contribution = self._as_adjoint(contribution, c, value, node)
                adjoints[c] = adjoints[c] + contribution if c in adjoints else contribution
        return found

    def _as_adjoint(self, contribution, operand, value, node) -> np.ndarray:
        contribution = np.asarray(contribution, dtype=self.dtype(dtype_of(operand)) or "float64")
        shape = np.broadcast_shapes(*map(np.shape, value)) if isinstance(value, tuple) else np.shape(value)
        if contribution.shape != shape:
            raise RuntimeError(
                f"backprop: the rule of {type(node).__name__} gave an adjoint of shape {contribution.shape} "
                f"for an operand of shape {shape} (in {_short(node)})"
            )
        return contribution


# --------------------------------------------------------------------------- entry point


def _target_expr(t) -> sp.Basic:
    if isinstance(t, Tensor):
        return t.expr
    if isinstance(t, TensorVar):
        return t
    raise TypeError(f"wrt must be symbolic tensors, got {type(t).__name__}")


def backprop(cost: Tensor, wrt: Tensor | Sequence[Tensor], values: Mapping) -> np.ndarray | list:
    """d ``cost`` / d ``wrt`` by numeric reverse mode over a NumPy tape.

    ``values`` maps each input variable of ``cost`` (a variable or its symbol) to
    an array; shared variables default to their current value.  ``wrt`` is one
    variable (or intermediate expression of ``cost``) or a list of them; the
    result has the same structure.  A variable ``cost`` does not depend on gets
    zeros.  Each derivative is a total derivative: for ``wrt=[x, h]`` with ``h``
    computed from ``x``, the one for ``x`` includes the paths through ``h``.
    """
    cost = as_tensor(cost)
    if shape_of(cost.expr) != ():
        raise ValueError(f"backprop: the cost must be a scalar, got shape {fmt_shape(shape_of(cost.expr))}")
    if dtype_of(cost.expr) not in FLOAT_DTYPES:
        raise TypeError(f"backprop: the cost must be a float, got dtype {dtype_of(cost.expr)}")
    single = isinstance(wrt, (Tensor, TensorVar))
    targets = [_target_expr(t) for t in ([wrt] if single else wrt)]
    tape = Tape([cost.expr], values)
    for t in targets:
        if t not in tape.values and not isinstance(t, TensorVar):
            raise ValueError(
                f"backprop: {name_of(t) or _short(t)!r} is not a node of the cost's graph "
                "(SymPy may have merged it into a larger sum or product)"
            )
    adjoints = tape.backward(cost.expr, targets)
    results = []
    for t in targets:
        if t in adjoints:
            results.append(adjoints[t])
        else:
            like = tape.values[t] if t in tape.values else tape.leaf(t)
            results.append(np.zeros(np.shape(like), dtype=tape.dtype(dtype_of(t)) or "float64"))
    if single:
        return results[0]
    return tuple(results) if isinstance(wrt, tuple) else results
