"""Analytic gradients by reverse accumulation over the distinct nodes of a graph.

Each distinct node is visited once, in reverse topological order; its
adjoint (the sum of what its consumers sent it) is pushed to its operands by
the op's ``vjp``.  A gradient is therefore a small constant times the size
of its function, never a sum over paths.  Before the sweep the cost is
rewritten into numerically stable forms (:mod:`symdiff.rewrites.stabilize`),
so the derivative that is computed is the derivative of the stable form;
after it, small elementwise regions are simplified to the textbook forms
(:mod:`symdiff.rewrites.simplify`).
"""
from __future__ import annotations

import os
import sys
import warnings
from typing import Callable, Sequence

import sympy as sp

from .graph.gc_pause import without_cyclic_gc
from .graph.node import Constant, Node, Variable
from .graph.sizes import SizeFacts, assuming, dims_in, sizes_equal
from .graph.types import FLOAT_DTYPES, fmt_shape
from .graph.walk import postorder
from .ops import build as b
from .ops.base import TensorOp
from .ops.reductions import Reduce
from .ops.shape import SizeCheck, expand, reshape_node
from .tensor import Tensor


def grad(cost: Tensor, wrt: "Tensor | Sequence[Tensor]", disconnected: str = "raise") -> "Tensor | list[Tensor]":
    """Gradient of the scalar ``cost`` with respect to ``wrt``.

    ``wrt`` is a tensor or a list/tuple of tensors (the result has the same
    structure); each may be an input, a shared variable or an intermediate
    expression of ``cost`` (its gradient is then the total derivative).
    ``disconnected`` says what to do when ``cost`` does not depend on one of
    them: ``"raise"``, ``"warn"`` or ``"ignore"`` (both give zeros).  Ops
    without a derivative (``argmax``, ``argmin``, comparisons, casts to
    integers, ``onehot`` of labels) pass no gradient: a target reached only
    through them counts as disconnected, and the error names them.

    >>> x = sd.vector("x")
    >>> sd.pprint(sd.grad(sd.sum(x**2), x))
    '2*x'
    >>> sd.pprint(sd.grad(sd.sum(x**2) + sd.argmax(x) * 1.0, x))
    '2*x'
    >>> sd.pprint(sd.grad(sd.argmax(x) * 1.0, x, disconnected="ignore"))
    'broadcast_to(0, x.shape)'
    """
    if disconnected not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected must be 'raise', 'warn' or 'ignore', got {disconnected!r}")
    cost_node = _cost_node(cost, "grad")
    single = isinstance(wrt, Tensor)
    if not single and not isinstance(wrt, (list, tuple)):
        raise TypeError(f"grad: wrt must be a symbolic tensor or a list of them, got {type(wrt).__name__} {wrt!r}")
    targets = [wrt] if single else list(wrt)
    nodes = []
    for k, t in enumerate(targets):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: wrt[{k}] must be a symbolic tensor, got {type(t).__name__} {t!r}")
        if t.dtype not in FLOAT_DTYPES:
            raise TypeError(f"grad: cannot differentiate with respect to {_describe(t.node)} of dtype {t.dtype}")
        nodes.append(t.node)
    results = [Tensor(g) for g in gradients(cost_node, nodes, disconnected)]
    if single:
        return results[0]
    return tuple(results) if isinstance(wrt, tuple) else results


def _cost_node(cost, who: str) -> Node:
    if not isinstance(cost, Tensor):
        raise TypeError(f"{who}: the cost must be a symbolic tensor, got {type(cost).__name__}")
    node = cost.node
    if node.shape != ():
        raise ValueError(
            f"{who}: the cost must be a scalar, got shape {fmt_shape(node.shape)}; reduce it first (sd.sum or sd.mean)"
        )
    if node.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{who}: the cost must be a float, got dtype {node.dtype}")
    return node


@without_cyclic_gc
def gradients(cost: Node, targets: list, disconnected: str = "raise", simplify: bool = True) -> list:
    """Node-level :func:`grad`: the adjoint of each target, fitted to its shape and dtype."""
    from .rewrites.simplify import simplify_gradients
    from .rewrites.stabilize import stabilize

    stable = stabilize([cost], keep=targets)[0]
    facts, spanning = graph_facts(stable)
    with assuming(facts):
        adjoints = reverse_accumulate(stable, targets, facts=facts)
        results = []
        for t in targets:
            g = adjoints.get(id(t))
            if g is None:
                g = _disconnected(stable, t, disconnected)
            results.append(expand(g, t.shape, t.dtype))
        if simplify:
            results = simplify_gradients(results, context=(cost,))
    return carry_facts(results, [t.shape for t in targets], facts, spanning)


def _disconnected(cost: Node, target: Node, disconnected: str, who: str = "grad", what: str = "cost",
                  result: str = "gradient") -> Node:
    """The zero ``result`` for a target ``cost`` (``what``) does not depend on, after the
    error or warning ``disconnected`` asks for (``who``: the function the user called)."""
    blockers = _blocking_ops(cost, target)
    if blockers:
        message = (f"{who}: the {what} depends on {_describe(target)} only through operations without a "
                   f"derivative ({'; '.join(blockers)})")
    else:
        message = f"{who}: the {what} does not depend on {_describe(target)}"
    if disconnected == "raise":
        where = "" if blockers else f" (it is not part of the {what}'s graph)"
        raise ValueError(message + where + "; pass disconnected='ignore' to get zeros")
    if disconnected == "warn":
        warnings.warn(message + f"; its {result} is zero", stacklevel=_user_stacklevel())
    return b.zero()


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside symdiff."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def graph_facts(root: Node) -> tuple:
    """``(facts, spanning)``: the size facts of ``root``'s graph, and a spanning list of
    ``(a, b, node)`` constraints implying them all (``node`` the op requiring ``a == b``)."""
    facts, spanning = SizeFacts(), []
    for node in postorder([root]):
        for a, c in node.constraints:
            if not facts.same(a, c):
                facts.add(a, c)
                spanning.append((a, c, node))
    return facts, spanning


def carry_facts(results: list, shapes: list, facts: SizeFacts, spanning: list) -> list:
    """Each of ``results`` (built assuming the facts ``spanning`` of a differentiated
    graph) typed with its shape in ``shapes``, carrying the facts whose op is not part
    of its own graph, so that a compiled function checks them (see
    :class:`symdiff.ops.shape.SizeCheck`).  One walk over the results together: which
    ops and variables each node's graph holds are bit sets, not walks per result."""
    from .printing import brief

    origin_bits: dict = {}  # id(op) -> the facts it requires (bits of spanning)
    fact_bits: dict = {}  # {a, b} -> bit
    for k, (a, c, node) in enumerate(spanning):
        origin_bits[id(node)] = origin_bits.get(id(node), 0) | 1 << k
        fact_bits[frozenset((a, c))] = 1 << k
    variable_bits: dict = {}

    def variables_of(sizes) -> int:
        bits = 0
        for size in sizes:
            for d in dims_in(size):
                bits |= variable_bits.setdefault(id(d.var), 1 << len(variable_bits))
        return bits

    needs = [variables_of((a, c)) for a, c, _ in spanning]
    held: dict = {}
    for node in postorder(results):
        origins = origin_bits.get(id(node), 0)
        for a, c in node.constraints:  # a new op requiring the same equality holds it too
            origins |= fact_bits.get(frozenset((a, c)), 0)
        variables = variables_of(node.shape) if isinstance(node, Variable) else 0
        for operand in node.inputs:
            o, v = held[id(operand)]
            origins, variables = origins | o, variables | v
        held[id(node)] = (origins, variables)
    everything = (1 << len(spanning)) - 1
    out = []
    for g, dims in zip(results, shapes):
        origins, variables = held[id(g)]
        variables |= variables_of(dims)
        missing = [spanning[k] for k in _set_bits(everything & ~origins) if not needs[k] & ~variables]
        # with every op of the differentiated graph inside g's own, g's graph enforces all its facts
        held_all = not everything & ~origins
        if not missing and len(dims) == g.ndim and all(
                sizes_equal(a, d) or held_all and facts.same(a, d) for a, d in zip(g.shape, dims)):
            out.append(g)
        else:
            out.append(SizeCheck((g,), dims=tuple(dims), pairs=tuple((a, c) for a, c, _ in missing),
                                 origins=tuple(brief(node, width=70) for *_, node in missing)))
    return out


def _set_bits(bits: int):
    """The positions of the set bits of ``bits``."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def _blocking_ops(cost: Node, target: Node) -> list:
    """Sketches of the ops without a derivative (argmax, comparisons, integer casts, ...)
    through which ``cost`` depends on ``target``: empty if it does not depend on it."""
    from .printing import brief

    order = postorder([cost])
    depends = {id(target)}
    blockers = []
    for node in order:
        if any(id(c) in depends for c in node.inputs):
            depends.add(id(node))
            if not node.differentiable:
                blockers.append(brief(node, depth=2, width=40))
    return blockers[:3]


def _describe(node: Node) -> str:
    from .printing import brief

    return f"{node.name!r}" if node.name else f"the expression {brief(node)}"


def reverse_accumulate(cost: Node, targets: Sequence[Node], on_step: Callable | None = None,
                       facts: SizeFacts | None = None, seed: Node | None = None, nb: int = 0) -> dict:
    """``{id(target): adjoint}`` for the targets ``cost`` depends on, by one reverse sweep.

    Each adjoint is a total derivative (the sweep does not stop at a target).
    ``on_step(node, adjoint, pushed)``, if given, sees each node the sweep
    visits, with its summed adjoint and the ``(operand, contribution)`` pairs it
    sends on.

    ``seed`` is the adjoint of ``cost`` (default 1).  With ``nb`` batch axes the
    sweep is batched: ``seed`` has shape ``B + cost.shape`` with ``len(B) == nb``,
    and every adjoint carries the leading axes ``B`` (an identity seed gives
    the Jacobian, see :mod:`symdiff.derivatives`).
    """
    order = postorder([cost])
    if facts is None:
        facts = SizeFacts(c for n in order for c in n.constraints)
    wanted = {id(t) for t in targets}
    reaches = set()
    for node in order:
        if id(node) in wanted or (node.differentiable and any(id(c) in reaches for c in node.inputs)):
            reaches.add(id(node))
    contributions: dict = {id(cost): [b.one(cost) if seed is None else seed]}
    adjoints = {}
    for node in reversed(order):
        parts = contributions.pop(id(node), None)
        if parts is None or id(node) not in reaches:
            continue
        g = _sum(parts)
        pushed = local_vjps(node, g, reaches, facts, nb)
        if on_step is not None:
            on_step(node, g, pushed)
        if id(node) in wanted:
            adjoints[id(node)] = g
        for operand, contribution in pushed:
            contributions.setdefault(id(operand), []).append(contribution)
    return adjoints


def _is_zero(node: Node) -> bool:
    return isinstance(node, Constant) and node.value == 0


def _sum(parts: list) -> Node:
    nonzero = [p for p in parts if not _is_zero(p)]
    return b.add_all(nonzero) if nonzero else parts[0]


def local_vjps(node: Node, g: Node, reaches: set, facts: SizeFacts, nb: int = 0) -> list:
    """``(operand, contribution)`` pairs: ``node``'s adjoint ``g`` pushed to each
    operand that leads to a target, summed down to the operand's shape.

    Adjoints may be smaller than their node (``1/N`` stands for that value
    broadcast over a mean's operand): elementwise rules keep them small, and
    tensor ops get them broadcast to full shape first.  In a batched sweep
    (``nb`` leading batch axes) every non-zero adjoint has ``nb + node.ndim``
    axes (size 1 where it is constant); tensor ops see them as ``B + node.shape``.
    """
    wanted = [id(c) in reaches for c in node.inputs]
    if not any(wanted):
        return []
    if _is_zero(g):  # a structurally zero adjoint: the operands get zero, not NaN from 0*inf
        return [(c, g) for c, w in zip(node.inputs, wanted) if w]
    if isinstance(node, TensorOp):
        full = tuple(g.shape[:nb]) + tuple(node.shape)
        if not (g.ndim == len(full) and facts.same_shape(g.shape, full)):
            g = expand(g, full, node.dtype)
        parent = None
    else:
        parent = node.shape
    out = []
    for operand, w, contribution in zip(node.inputs, wanted, node.vjp(g)):
        if not w or contribution is None:
            continue
        # a tensor op's contribution has its operand's shape, a smaller one that broadcasts
        # to it, or a bigger one the operand was broadcast to (a batched matmul's operand);
        # in a batched sweep, after the nb batch axes
        shape = parent or (contribution.shape[nb:] if contribution.ndim - nb > operand.ndim else operand.shape)
        out.append((operand, sum_to(contribution, shape, operand.shape, nb)))
    return out


def sum_to(expr: Node, parent_shape: tuple, target: tuple, nb: int = 0) -> Node:
    """Sum ``expr`` (an adjoint for a value of ``parent_shape``, or smaller and
    broadcastable to it) down to an operand of shape ``target`` that was
    broadcast to ``parent_shape``.

    Where ``expr`` is constant along a summed axis (it is smaller than the
    parent there), the sum is a product with that axis' length, which keeps
    formulas readable.  The first ``nb`` axes of ``expr`` are batch axes: they
    are kept as they are (``expr`` then has ``nb + len(parent_shape)`` axes).
    """
    if nb and not _is_zero(expr) and expr.ndim != nb + len(parent_shape):
        raise RuntimeError(f"batched adjoint of shape {fmt_shape(expr.shape)} does not carry {nb} batch axes "
                           f"before the shape {fmt_shape(parent_shape)}")
    if nb and _is_zero(expr):
        return expr
    eshape = expr.shape[nb:]
    lead = len(parent_shape) - len(target)
    offset = len(parent_shape) - len(eshape)
    summed, lengths = [], []
    for k, n in enumerate(parent_shape):
        broadcast_here = k < lead or (target[k - lead] == 1 and n != 1)
        if not broadcast_here:
            continue
        if k < offset or eshape[k - offset] == 1:
            lengths.append(n)
        else:
            summed.append(k - offset)
    dropped = len(eshape) - len(target)
    out = expr
    keep = tuple(nb + k for k in summed if k >= dropped)
    drop = tuple(nb + k for k in summed if k < dropped)
    if keep:
        out = Reduce((out,), kind="sum", axes=keep, keepdims=True)
    if drop:
        out = Reduce((out,), kind="sum", axes=drop, keepdims=False)
    if lengths:
        from .ops.reductions import count

        n = sp.Mul(*lengths)
        out = b.mul(out, count(_Shaped(n), (0,)))
    extra = len(out.shape) - nb - len(target)
    if extra > 0:
        out = reshape_node(out, out.shape[:nb] + out.shape[nb + extra:])
    return out


class _Shaped:
    """A stand-in with a one-axis shape, for :func:`~symdiff.ops.reductions.count`."""

    def __init__(self, n):
        self.shape = (n,)
