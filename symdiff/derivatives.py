"""Jacobians, Hessians and Hessian-vector products, as matrix formulas.

The Jacobian of ``y`` (shape ``S``) with respect to ``x`` is one reverse sweep
(:func:`symdiff.grad.reverse_accumulate`) seeded with the identity of shape
``S + S`` instead of ``1``: every adjoint carries the leading batch axes
``S`` (row ``i`` of the batch is the sweep for ``y[i]``), so the ``n``
reverse passes of a tape are one pass over matrices.  The seed is then folded
out (:mod:`symdiff.rewrites.identity`): ``eye @ M`` is ``M``, ``eye * v`` is
``diag(v)``, ``diag(v) @ M`` is ``v[:, None]*M`` ...  For the mean log-loss of
logistic regression the Hessian comes out as ``(X.T*(s*(1 - s))) @ X/N``: two
matrix products' worth of work, no loop over rows.

Where no rule applies (a reshaped identity for a matrix-shaped ``y``, ops
like ``max`` or indexing between ``y`` and ``x``), the identity stays in the
graph and the compiled kernel runs the batched sweep itself, vectorised.
"""
from __future__ import annotations

from typing import Sequence

from .graph.gc_pause import without_cyclic_gc
from .graph.node import Node
from .graph.sizes import assuming, size_product
from .graph.types import FLOAT_DTYPES
from .ops import build as b
from .ops.identity import eye
from .ops.shape import expand, reshape_node
from .tensor import Tensor, as_tensor


def identity_seed(node: Node) -> Node:
    """The identity of shape ``node.shape + node.shape`` (``eye(n)`` for a vector)."""
    shape = tuple(node.shape)
    if len(shape) == 1:
        return eye(shape[0], node.dtype)
    return reshape_node(eye(size_product(shape), node.dtype), shape + shape)


@without_cyclic_gc
def jacobian_nodes(expr: Node, targets: list, disconnected: str = "raise", who: str = "jacobian") -> list:
    """Node-level :func:`jacobian`: for each target, ``d expr / d target`` of shape
    ``expr.shape + target.shape``, from one batched reverse sweep."""
    from .grad import _disconnected, carry_facts, graph_facts, reverse_accumulate
    from .rewrites.identity import fold_identity
    from .rewrites.simplify import simplify_gradients
    from .rewrites.stabilize import stabilize

    stable = stabilize([expr], keep=targets)[0]
    facts, spanning = graph_facts(stable)
    nb = stable.ndim
    seed = identity_seed(stable) if nb else None
    with assuming(facts):
        adjoints = reverse_accumulate(stable, targets, facts=facts, seed=seed, nb=nb)
        results = []
        for t in targets:
            g = adjoints.get(id(t))
            if g is None:
                g = _disconnected(stable, t, disconnected, who, "expression", "derivative")
            results.append(expand(g, tuple(expr.shape) + tuple(t.shape), t.dtype))
        results = simplify_gradients(fold_identity(results, facts), context=(expr,))
    return carry_facts(results, [tuple(expr.shape) + tuple(t.shape) for t in targets], facts, spanning)


def _check_disconnected(disconnected: str) -> None:
    if disconnected not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected must be 'raise', 'warn' or 'ignore', got {disconnected!r}")


def _targets(wrt, who: str) -> tuple:
    """``(single, tensors)`` for a tensor or a list/tuple of tensors, each checked to be a float tensor."""
    single = isinstance(wrt, Tensor)
    if not single and not isinstance(wrt, (list, tuple)):
        raise TypeError(f"{who}: wrt must be a symbolic tensor or a list of them, got {type(wrt).__name__} {wrt!r}")
    targets = [wrt] if single else list(wrt)
    for k, t in enumerate(targets):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: wrt[{k}] must be a symbolic tensor, got {type(t).__name__} {t!r}")
        if t.dtype not in FLOAT_DTYPES:
            from .grad import _describe

            raise TypeError(f"{who}: cannot differentiate with respect to {_describe(t.node)} of dtype {t.dtype}")
    return single, targets


def _shaped(results: list, single: bool, wrt):
    if single:
        return results[0]
    return tuple(results) if isinstance(wrt, tuple) else results


def jacobian(expr: Tensor, wrt: "Tensor | Sequence[Tensor]", disconnected: str = "raise") -> "Tensor | list[Tensor]":
    """The Jacobian ``d expr / d wrt``, of shape ``expr.shape + wrt.shape``.

    ``wrt`` is a tensor or a list/tuple of tensors (the result has the same
    structure); ``disconnected`` is as for :func:`~symdiff.grad`.  The result is
    a symbolic tensor: it prints as a matrix formula where one exists,
    compiles, and can be differentiated again.

    >>> x, A = sd.vector("x"), sd.matrix("A")
    >>> sd.pprint(sd.jacobian(A @ sd.sin(x), x))
    'A*cos(x)'
    """
    _check_disconnected(disconnected)
    if not isinstance(expr, Tensor):
        raise TypeError(f"jacobian: the expression must be a symbolic tensor, got {type(expr).__name__}")
    if expr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"jacobian: the expression must be a float tensor, got dtype {expr.dtype}")
    single, targets = _targets(wrt, "jacobian")
    nodes = jacobian_nodes(expr.node, [t.node for t in targets], disconnected)
    return _shaped([Tensor(n) for n in nodes], single, wrt)


def hessian(cost: Tensor, wrt: "Tensor | Sequence[Tensor]", disconnected: str = "raise"):
    """The Hessian of the scalar ``cost``: ``d2 cost / d wrt d wrt``, of shape
    ``wrt.shape + wrt.shape``.

    For a list of tensors ``[w, b]`` the result is the list of blocks
    ``[[H_ww, H_wb], [H_bw, H_bb]]``, block ``[i][j]`` of shape
    ``wrt[i].shape + wrt[j].shape``.  ``disconnected`` applies to ``cost``'s
    dependence on ``wrt`` (a gradient that does not depend on ``wrt``, as for
    a linear cost, simply gives a zero Hessian).

    >>> x, A = sd.vector("x"), sd.matrix("A")
    >>> sd.pprint(sd.hessian(x @ A @ x, x))
    'A + A.T'
    """
    from .grad import _cost_node, gradients

    _check_disconnected(disconnected)
    cost_node = _cost_node(cost, "hessian")
    single, targets = _targets(wrt, "hessian")
    nodes = [t.node for t in targets]
    grads = gradients(cost_node, nodes, disconnected)
    blocks = [[Tensor(h) for h in jacobian_nodes(g, nodes, "ignore")] for g in grads]
    if single:
        return blocks[0][0]
    return blocks


def hvp(cost: Tensor, wrt: "Tensor | Sequence[Tensor]", v, disconnected: str = "raise"):
    """The Hessian of the scalar ``cost`` times ``v``, without forming the Hessian:
    the gradient of ``sum(grad(cost, wrt) * v)`` (reverse over reverse), about
    twice the cost of a gradient.

    ``v`` has the shape of ``wrt`` (a list of them for a list ``wrt``); it may
    be a symbolic tensor or an array.

    >>> x, A, v = sd.vector("x"), sd.matrix("A"), sd.vector("v")
    >>> sd.pprint(sd.hvp(x @ A @ x, x, v))
    'A.T @ v + A @ v'
    """
    from .grad import _cost_node, gradients

    _check_disconnected(disconnected)
    cost_node = _cost_node(cost, "hvp")
    single, targets = _targets(wrt, "hvp")
    vectors = [v] if single else list(v) if isinstance(v, (list, tuple)) else None
    if vectors is None or len(vectors) != len(targets):
        raise ValueError(f"hvp: v must match wrt: one vector per tensor of wrt, got {type(v).__name__}")
    vectors = [as_tensor(u).node for u in vectors]
    for k, (t, u) in enumerate(zip(targets, vectors)):
        if u.ndim != t.ndim:
            raise ValueError(f"hvp: v[{k}] has {u.ndim} dimension(s), wrt[{k}] has {t.ndim}")
    nodes = [t.node for t in targets]
    grads = gradients(cost_node, nodes, disconnected)
    from .ops.reductions import Reduce

    terms = [Reduce((b.mul(g, u),), kind="sum", axes=tuple(range(g.ndim)), keepdims=False) if g.ndim else b.mul(g, u)
             for g, u in zip(grads, vectors)]
    total = b.add_all(terms)
    if total.dtype not in FLOAT_DTYPES:
        total = b.cast(total, "float64")
    results = gradients(total, nodes, "ignore")
    return _shaped([Tensor(r) for r in results], single, wrt)
