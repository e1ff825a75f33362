"""Analytic gradients by reverse accumulation over the distinct nodes of a SymPy tree.

Each distinct subexpression is visited once, in reverse topological order; its
adjoint (the sum of what its consumers sent it) is pushed to its operands by
the op's rule: ``vjp`` for tensor ops, ``sympy.diff`` of the scalar form for
elementwise nodes.  A gradient is therefore a small constant times the size
of its function, never a sum over paths.
"""
from __future__ import annotations

import warnings
from typing import Callable, Sequence

import sympy as sp

from .graph.nodes import BroadcastTo, Reduce, Reshape, TensorOp
from .graph.symbols import Count
from .graph.symbols import TensorVar, name_of
from .graph.types import dtype_of, fmt_shape, same_shape, shape_of, stand_in, value_dtype
from .graph.walk import children, postorder, replace
from .printing import brief
from .tensor import Tensor, as_tensor

_NO_GRADIENT = (sp.core.relational.Relational, sp.logic.boolalg.BooleanFunction, sp.logic.boolalg.BooleanAtom)


def grad(cost: Tensor, wrt: Tensor | Sequence[Tensor], disconnected: str = "raise") -> Tensor | list[Tensor]:
    """Gradient of the scalar ``cost`` with respect to ``wrt``.

    ``wrt`` is a tensor or a list/tuple of tensors (the result has the same
    structure); each may be an input, a shared variable or an intermediate
    expression of ``cost``.  ``disconnected`` says what to do when ``cost``
    does not depend on one of them: ``"raise"``, ``"warn"`` or ``"ignore"``
    (both of the latter give zeros).
    """
    if disconnected not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected must be 'raise', 'warn' or 'ignore', got {disconnected!r}")
    cost = as_tensor(cost)
    if shape_of(cost.expr) != ():
        raise ValueError(
            f"grad: the cost must be a scalar, got shape {fmt_shape(shape_of(cost.expr))}; reduce it first (sd.sum or sd.mean)"
        )
    if cost.dtype not in ("float32", "float64"):
        raise TypeError(f"grad: the cost must be a float, got dtype {cost.dtype}")
    single = isinstance(wrt, Tensor)
    targets = [wrt] if single else list(wrt)
    for t in targets:
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: wrt must be symbolic tensors, got {type(t).__name__}")
        if t.dtype not in ("float32", "float64"):
            raise TypeError(f"grad: cannot differentiate with respect to {_describe(t.expr)} of dtype {t.dtype}")
    cost_expr, placeholders = _isolate_targets(cost.expr, [t.expr for t in targets])
    adjoints = reverse_accumulate(cost_expr, placeholders)
    results = []
    for t, p in zip(targets, placeholders):
        g = adjoints.get(p)
        if g is None:
            message = f"grad: the cost does not depend on {_describe(t.expr)}"
            if disconnected == "raise":
                raise ValueError(message + " (it is not part of the cost's graph); pass disconnected='ignore' to get zeros")
            if disconnected == "warn":
                warnings.warn(message + "; its gradient is zero", stacklevel=2)
            g = sp.S.Zero
        g = fit(g, shape_of(t.expr), value_dtype(t.expr))
        if p is not t.expr:
            g = replace([g], {q: tt.expr for q, tt in zip(placeholders, targets)})[0]
        results.append(Tensor(g))
    return results[0] if single else (tuple(results) if isinstance(wrt, tuple) else results)


def _describe(expr) -> str:
    name = name_of(expr)
    return f"{name!r}" if name else f"the expression {brief(expr)}"


def _isolate_targets(cost: sp.Expr, targets: list) -> tuple:
    """Make every target a node of the cost's graph.

    Inputs and intermediates that are nodes stay themselves.  An intermediate that
    SymPy flattened away (``a + b`` inside ``a + b + c``) is replaced by a
    placeholder variable standing for it.
    """
    nodes = set(postorder([cost]))
    placeholders, mapping = [], {}
    for t in targets:
        if isinstance(t, TensorVar) or t in nodes:
            placeholders.append(t)
            continue
        if t not in mapping:
            mapping[t] = stand_in(name_of(t) or "wrt", t)
        placeholders.append(mapping[t])
    if not mapping:
        return cost, placeholders

    def transform(node, args):
        if node in mapping:
            return mapping[node]
        new = node.func(*args) if args and args != node.args else node
        if isinstance(new, (sp.Add, sp.Mul)):
            for t, p in mapping.items():
                if type(t) is type(new) and set(t.args) < set(new.args):
                    rest = [a for a in new.args if a not in set(t.args)]
                    new = new.func(p, *rest)
        return new

    from .graph.walk import rebuild

    return rebuild([cost], transform)[0], placeholders


def reverse_accumulate(cost: sp.Expr, targets: Sequence[sp.Basic], on_step: Callable | None = None) -> dict:
    """Adjoints of ``targets`` (nodes of ``cost``'s graph) by one reverse sweep.

    Returns ``{target: adjoint}`` for the targets that ``cost`` depends on; each is
    a total derivative (a target below another target gets the paths through it).
    ``on_step(node, adjoint, pushed)``, if given, sees each node the sweep visits,
    with its summed adjoint and the ``(operand, contribution)`` pairs it sends on.
    """
    order = postorder([cost])
    wanted = set(targets)
    reaches = set()
    for node in order:
        if node in wanted or any(c in reaches for c in children(node)):
            if not isinstance(node, _NO_GRADIENT):
                reaches.add(node)
    contributions: dict = {cost: [sp.S.One]}
    adjoints = {}
    for node in reversed(order):
        parts = contributions.pop(node, None)
        if parts is None or node not in reaches:
            continue
        g = _drop_redundant_broadcasts(sp.Add(*parts))
        pushed = local_vjps(node, g, reaches) if children(node) else []
        if on_step is not None:
            on_step(node, g, pushed)
        if node in wanted:
            adjoints[node] = g
        for operand, contribution in pushed:
            contributions.setdefault(operand, []).append(contribution)
    return adjoints


def local_vjps(node: sp.Expr, g: sp.Expr, reaches: set) -> list:
    """``(operand, contribution)`` pairs: the adjoint ``g`` of ``node`` pushed to each
    operand that leads to a target.

    Adjoints may be smaller than their node (a scalar ``1/2`` stands for that value
    broadcast over the node's shape): elementwise rules keep them small, and tensor
    ops get them broadcast to full shape first.
    """
    shape = shape_of(node)
    if isinstance(node, BroadcastTo) and not node.new_axes:
        return [(node.x, reduce_to(g, shape, shape_of(node.x)))] if node.x in reaches else []
    if isinstance(node, TensorOp):
        g_full = BroadcastTo.make(g, shape, dtype=value_dtype(node))
        return [(op, c) for op, c in zip(node.operands, node.vjp(g_full)) if c is not None and op in reaches]
    if isinstance(node, sp.Piecewise):
        values = [pair.args[0] for pair in node.args]
        dummies = [sp.Dummy(real=True) for _ in values]
        local = sp.Piecewise(*[(d, pair.args[1]) for d, pair in zip(dummies, node.args)])
        pairs = [(v, local.diff(d)) for v, d in zip(values, dummies) if v in reaches]
    else:
        dummies = {a: sp.Dummy(real=True) for a in node.args if not a.is_Number}
        local = node.func(*[dummies.get(a, a) for a in node.args])
        back = {d: a for a, d in dummies.items()}
        pairs = [
            (a, local.diff(dummies[a]).replace(sp.DiracDelta, lambda *args: sp.S.Zero).xreplace(back))
            for a in node.args
            if a in reaches
        ]
    return [(a, reduce_to(_drop_redundant_broadcasts(g * partial), shape, shape_of(a))) for a, partial in pairs]


def reduce_to(expr: sp.Expr, parent_shape: tuple, target: tuple) -> sp.Expr:
    """Sum ``expr``, an adjoint for a value of ``parent_shape``, down to an operand of
    shape ``target`` that was broadcast to ``parent_shape``.

    Where ``expr`` is constant along a summed axis (it is smaller than the parent),
    the sum is a product with that axis' length, which keeps formulas readable.
    """
    eshape = shape_of(expr)
    lead = len(parent_shape) - len(target)
    offset = len(parent_shape) - len(eshape)
    summed, lengths = [], []
    for k, n in enumerate(parent_shape):
        if not (k < lead or target[k - lead] == 1 and n != 1):
            continue
        if k < offset or eshape[k - offset] == 1:
            lengths.append(n)
        else:
            summed.append(k - offset)
    dropped = len(eshape) - len(target)
    out = Reduce.make(expr, "sum", tuple(k for k in summed if k >= dropped), keepdims=True)
    out = Reduce.make(out, "sum", tuple(k for k in summed if k < dropped), keepdims=False)
    if lengths:
        out = out * Count.make(lengths)
    extra = len(shape_of(out)) - len(target)
    if extra > 0:
        out = Reshape.make(out, shape_of(out)[extra:])
    return out


def fit(expr: sp.Expr, shape: tuple, dtype: str) -> sp.Expr:
    """An adjoint ``expr`` (broadcastable to ``shape``) as a value of exactly ``shape`` and ``dtype``."""
    if not same_shape(shape_of(expr), shape) or dtype_of(expr) != dtype:
        expr = BroadcastTo.make(expr, shape, dtype=dtype)
    return expr


def _drop_redundant_broadcasts(expr: sp.Expr) -> sp.Expr:
    if not isinstance(expr, sp.Mul):
        return expr
    shape = shape_of(expr)
    factors = [a.x if isinstance(a, BroadcastTo) and not a.new_axes else a for a in expr.args]
    simpler = sp.Mul(*factors)
    if same_shape(shape_of(simpler), shape) and dtype_of(simpler) in (dtype_of(expr), None) and dtype_of(simpler) is not None:
        return simpler
    return expr
