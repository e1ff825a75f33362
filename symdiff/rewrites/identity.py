"""Folding the identity seed out of a batched reverse sweep.

A Jacobian is the reverse sweep seeded with the identity (``eye(n)``), so
its raw graph is full of products with ``eye(n)``.  This pass rebuilds the
part of the graph that depends on the seed, bottom-up, with these rules:

=============================================  =====================================
pattern                                        folded to
=============================================  =====================================
``eye(n) @ M``, ``M @ eye(n)``                 ``M``
``eye(n) * v``  (``v`` a vector or 0-d)        ``diag(v)``
``diag(v) * u``, ``diag(v) / u``               ``diag(v*u)``, ``diag(v/u)``
``diag(v) + diag(u)``, ``-diag(v)``            ``diag(v + u)``, ``diag(-v)``
``diag(v) @ M``, ``M @ diag(v)``               ``v[:, None]*M``, ``M*v``
``diag(v).T``, ``eye(n).T``                    ``diag(v)``, ``eye(n)``
``where(c, diag(v), 0)``, ``diag(v).astype(t)``  ``diag(where(c, v, 0))``, ``diag(v.astype(t))``
``sum(diag(v), axis=0 or 1)``                  ``v``
``sum(A*u, axis=-1)``  (``u`` a vector)         ``A @ u``
``sum(eye(n)[:, None]*P, axis=1)``             ``diag(sum(P, axis=0))``
``v * (eye(n) - M)``                           ``diag(v) - v*M``
``(diag(v) - M) @ C``                          ``v[:, None]*C - M @ C``
``(u[:, None]*v) @ C``                         ``u[:, None]*(v @ C)``
``(c*A) @ B``, ``(A/c) @ B``, ``(-A) @ B``     ``c*(A @ B)``, ``(A @ B)/c``, ``-(A @ B)``
=============================================  =====================================

and the folding constructors of :mod:`symdiff.ops.build` for arithmetic.
What remains is the Jacobian as a matrix formula where one exists; where
it does not, the seed stays in the graph and the kernel computes the
batched sweep (one reverse pass per row, vectorised).  Nodes that do not
depend on the seed (the function and its first derivatives) are kept as
they are.  A fold never changes a node's dtype or (up to the graph's size
equalities) its shape.
"""
from __future__ import annotations

import sympy as sp

from ..graph.node import Node
from ..graph.sizes import SizeFacts
from ..graph.walk import postorder
from ..ops import build as b
from ..ops import elementwise as ew
from ..ops.identity import Diag, Eye
from ..ops.linalg import MatMul
from ..ops.reductions import Reduce
from ..ops.shape import Reshape, Transpose, expand, reshape_node


def fold_identity(roots: list, facts: SizeFacts) -> list:
    """``roots`` with the identity folded out where the rules of the module doc apply."""
    new: dict = {}
    seeded: set = set()  # ids of the nodes (of the given graph) that depend on an identity
    for node in postorder(roots):
        inputs = tuple(new[id(c)] for c in node.inputs)
        if isinstance(node, (Eye, Diag)) or any(id(c) in seeded for c in node.inputs):
            seeded.add(id(node))
            new[id(node)] = _fold(node, inputs, facts)
        else:
            new[id(node)] = node.rebuild(inputs)
    return [new[id(r)] for r in roots]


def _fold(node: Node, inputs: tuple, facts: SizeFacts) -> Node:
    rule = _RULES.get(type(node))
    out = rule(node, inputs, facts) if rule is not None else None
    if out is None:
        return node.rebuild(inputs)
    if out.dtype != node.dtype or out.type.weak != node.type.weak or out.ndim != node.ndim \
            or not facts.same_shape(out.shape, node.shape):
        return node.rebuild(inputs)  # a fold must never change a type
    return out


# --------------------------------------------------------------------------- rules


def _square(node: Node) -> sp.Expr | None:
    """``n`` for ``eye(n)`` and ``diag(v)``."""
    return node.n if isinstance(node, (Eye, Diag)) else None


def _as_diagonal(u: Node, n: sp.Expr, facts: SizeFacts) -> Node | None:
    """``u`` as a vector (or 0-d value) ``d`` with ``diag(1)*u == diag(d)``, for ``u``
    of shape ``()``, ``(n,)``, ``(1, n)`` or ``(n, 1)``; else ``None``."""
    if u.ndim == 0:
        return u
    if u.ndim == 1 and facts.same(u.shape[0], n):
        return u
    if u.ndim == 2 and any(facts.same(d, 1) for d in u.shape):
        long = [d for d in u.shape if not facts.same(d, 1)]
        if len(long) == 1 and facts.same(long[0], n) or not long:
            return reshape_node(u, (long[0],) if long else ())
    return None


def _diag(v: Node, n: sp.Expr, dtype: str | None = None) -> Node:
    """``diag(v)``; with ``dtype``, ``v`` (a weak number, say) first takes that dtype."""
    if dtype is not None and (v.dtype != dtype or v.type.weak):
        v = expand(v, v.shape, dtype)
    return Diag((v,), n=n)


def _diag_values(node: Node) -> Node | None:
    """``v`` for ``diag(v)``, ``1`` for ``eye(n)``."""
    if isinstance(node, Diag):
        return node.v
    if isinstance(node, Eye):
        return b.one()
    return None


def _mul(node: Node, inputs: tuple, facts: SizeFacts) -> Node | None:
    x, y = inputs
    for d, u in ((x, y), (y, x)):
        n = _square(d)
        if n is None:
            continue
        other = _diag_values(u) if _square(u) is not None else _as_diagonal(u, n, facts)
        if other is not None:
            values = _diag_values(d)
            product = b.mul(values, other)
            if product.ndim == 0 and isinstance(d, Eye) and isinstance(u, Eye):
                return d
            return _diag(product, n, node.dtype)
    for v, rest in ((x, y), (y, x)):  # v * (eye - M) is diag(v) - v*M
        if isinstance(rest, ew.Sub) and isinstance(rest.inputs[0], Eye) and _as_diagonal(v, rest.inputs[0].n, facts) is not None:
            n = rest.inputs[0].n
            return b.sub(_diag(_as_diagonal(v, n, facts), n), b.mul(v, rest.inputs[1]))
    return b.mul(x, y)


def _div(node: Node, inputs: tuple, facts: SizeFacts) -> Node | None:
    x, y = inputs
    n = _square(x)
    if n is not None:
        u = _as_diagonal(y, n, facts)
        if u is not None:
            return _diag(b.div(_diag_values(x), u), n)
    return b.div(x, y)


def _add(node: Node, inputs: tuple, facts: SizeFacts, combine=None) -> Node | None:
    x, y = inputs
    combine = combine or b.add
    if _square(x) is not None and _square(y) is not None and facts.same(x.n, y.n):
        return _diag(combine(_diag_values(x), _diag_values(y)), x.n)
    common = _common_factor(x, y, node)
    if common is not None:
        f, rest_x, rest_y = common
        return b.mul(f, combine(rest_x, rest_y))
    return combine(x, y)


def _factors(x: Node) -> list:
    """The factors of a chain of products ``a*b*c``."""
    if isinstance(x, ew.Mul):
        return _factors(x.inputs[0]) + _factors(x.inputs[1])
    return [x]


def _product(factors: list) -> Node:
    out = factors[0]
    for f in factors[1:]:
        out = b.mul(out, f)
    return out


def _common_factor(x: Node, y: Node, node: Node):
    """``(f, x/f, y/f)`` for a full-shape factor ``f`` that both products ``x`` and
    ``y`` share (the batched adjoint both paths carry), else ``None``."""
    fx, fy = _factors(x), _factors(y)
    if len(fx) < 2 or len(fy) < 2:
        return None
    for k, f in enumerate(fx):
        if f.ndim != node.ndim or f.ndim == 0:
            continue
        for j, g in enumerate(fy):
            if g is f:
                return f, _product(fx[:k] + fx[k + 1:]), _product(fy[:j] + fy[j + 1:])
    return None


def _sub(node: Node, inputs: tuple, facts: SizeFacts) -> Node | None:
    return _add(node, inputs, facts, b.sub)


def _neg(node: Node, inputs: tuple, facts: SizeFacts) -> Node | None:
    (x,) = inputs
    if _square(x) is not None:
        return _diag(b.neg(_diag_values(x)), x.n)
    return b.neg(x)


def _where(node: Node, inputs: tuple, facts: SizeFacts) -> Node | None:
    c, x, y = inputs
    for d, other, first in ((x, y, True), (y, x, False)):
        n = _square(d)
        if n is None or b.value_of(other) != 0:
            continue
        mask = _as_diagonal(c, n, facts)
        if mask is not None:
            values = _diag_values(d)
            zero = b.zero(values)
            return _diag(b.where(mask, values, zero) if first else b.where(mask, zero, values), n)
    return None


def _cast(node: Node, inputs: tuple, facts: SizeFacts) -> Node | None:
    (x,) = inputs
    if isinstance(x, Diag):
        return _diag(b.cast(x.v, node.to), x.n)
    return None


def _transpose(node: Node, inputs: tuple, facts: SizeFacts) -> Node | None:
    (x,) = inputs
    return x if _square(x) is not None else None


def _reduce(node: Node, inputs: tuple, facts: SizeFacts) -> Node | None:
    (x,) = inputs
    if node.kind != "sum" or len(node.axes) != 1:
        return None
    if _square(x) is not None:
        values = _diag_values(x)
        if values.ndim == 0:
            return None
        return reshape_node(values, node.shape) if node.keepdims else values
    if x.ndim >= 2 and node.axes == (x.ndim - 1,) and not node.keepdims:
        return _row_products(x, facts)
    if x.ndim == 3 and node.axes == (1,) and not node.keepdims:
        return _summed_diagonal(x, facts)
    return None


def _summed_diagonal(x: Node, facts: SizeFacts) -> Node | None:
    """``diag(sum(P, axis=0))`` for ``sum(eye(n)[:, None]*P, axis=1)`` with ``P`` of
    shape ``(m, n)`` (the Hessian block of a bias broadcast over ``m`` rows)."""
    factors = _factors(x)
    seeds = [f for f in factors if isinstance(f, Reshape) and isinstance(f.inputs[0], Eye) and f.ndim == 3
             and facts.same(f.shape[1], 1)]
    if len(seeds) != 1:
        return None
    n = seeds[0].inputs[0].n
    rest = [f for f in factors if f is not seeds[0]]
    if not rest or any(f.ndim == 3 and not facts.same(f.shape[0], 1) for f in rest):
        return None
    p = _product([reshape_node(f, f.shape[1:]) if f.ndim == 3 else f for f in rest])
    if p.ndim != 2 or not facts.same(p.shape[1], n):
        return None
    return _diag(Reduce((p,), kind="sum", axes=(0,), keepdims=False), n)


def _row_products(x: Node, facts: SizeFacts) -> Node | None:
    """``A @ u`` for ``sum(A*u, axis=-1)``, with ``A`` the one full-shape factor of the
    product ``x`` and ``u`` the product of its vector (or 0-d) factors; ``None`` if
    ``x`` is not such a product."""
    if isinstance(x, ew.Div) and x.inputs[1].ndim == 0:
        inner = _row_products(x.inputs[0], facts)
        return None if inner is None else b.div(inner, x.inputs[1])
    factors = _factors(x)
    full = [f for f in factors if f.ndim == x.ndim and facts.same_shape(f.shape, x.shape)]
    rest = [f for f in factors if f.ndim <= 1]
    if len(full) != 1 or len(full) + len(rest) != len(factors) or not any(f.ndim == 1 for f in rest):
        return None
    if any(f.ndim == 1 and not facts.same(f.shape[0], x.shape[-1]) for f in rest):
        return None
    return MatMul((full[0], _product(rest)))


def _scalar_factor(x: Node):
    """``(rebuild, inner)`` when ``x`` is ``c*A``, ``A/c`` or ``-A`` for a 0-d ``c``."""
    if isinstance(x, ew.Mul) and x.inputs[0].ndim == 0 and x.inputs[1].ndim >= 1:
        c = x.inputs[0]
        return (lambda m: b.mul(c, m)), x.inputs[1]
    if isinstance(x, ew.Div) and x.inputs[1].ndim == 0 and x.inputs[0].ndim >= 1:
        c = x.inputs[1]
        return (lambda m: b.div(m, c)), x.inputs[0]
    if isinstance(x, ew.Neg) and x.ndim >= 1:
        return b.neg, x.inputs[0]
    return None


def _matmul(node: Node, inputs: tuple, facts: SizeFacts) -> Node | None:
    a, c = inputs
    if isinstance(a, Eye) and c.ndim >= 1:
        return c
    if isinstance(c, Eye) and a.ndim >= 1:
        return a
    if isinstance(a, Diag):
        v = a.v
        if c.ndim == 1 or v.ndim == 0:
            return b.mul(v, c)
        return b.mul(reshape_node(v, v.shape + (sp.S.One,)), c)
    if isinstance(c, Diag) and a.ndim >= 1:
        return b.mul(a, c.v)
    if isinstance(a, (ew.Add, ew.Sub)) and any(_square(t) is not None for t in a.inputs):
        combine = b.add if isinstance(a, ew.Add) else b.sub  # (diag(v) - M) @ C = v[:, None]*C - M @ C
        return combine(_matmul(None, (a.inputs[0], c), facts), _matmul(None, (a.inputs[1], c), facts))
    outer = _outer_factors(a)
    if outer is not None and c.ndim == 2:  # (u[:, None]*v) @ C = u[:, None]*(v @ C): no n-by-n matrix
        column, row = outer
        return b.mul(column, MatMul((row, c)))
    for k, x in enumerate((a, c)):
        factor = _scalar_factor(x)
        if factor is not None:
            rebuild, inner = factor
            pair = (inner, c) if k == 0 else (a, inner)
            inner_product = _matmul(None, pair, facts)
            return rebuild(inner_product)
    return MatMul((a, c))


def _outer_factors(a: Node):
    """``(column, row)`` with ``a == column*row`` for a column ``(n, 1)`` and a row
    vector ``(n,)`` (an outer product), else ``None``."""
    if not isinstance(a, ew.Mul) or a.ndim != 2:
        return None
    x, y = a.inputs
    for col, row in ((x, y), (y, x)):
        if col.ndim == 2 and col.shape[1] == 1 and row.ndim == 1:
            return col, row
    return None


_RULES = {
    MatMul: _matmul,
    ew.Mul: _mul,
    ew.Div: _div,
    ew.Add: _add,
    ew.Sub: _sub,
    ew.Neg: _neg,
    ew.Where: _where,
    ew.Cast: _cast,
    Transpose: _transpose,
    Reduce: _reduce,
}
