"""Numerically stable forms, applied to the graph that is differentiated and compiled.

=====================================  ==========================
pattern                                rewritten to
=====================================  ==========================
log(sigmoid(x))                        -softplus(-x)
log(1 - sigmoid(x))                    -softplus(x)
log(1 + exp(x)), log(exp(x) + 1)       softplus(x)
log1p(exp(x))                          softplus(x)
log(sum(exp(x), axes))                 logsumexp(x, axes)
log(softmax(x, axis))                  log_softmax(x, axis)
exp(log_softmax(x, axis))              softmax(x, axis)
=====================================  ==========================

Each stable form has a stable derivative rule (``softplus' = sigmoid``,
``logsumexp' = softmax``; the VJP of ``log_softmax``, ``g - softmax(x)*sum(g)``,
is one fused op, :class:`~symdiff.ops.reductions.SoftmaxMinus`, that keeps its
relative accuracy where softmax saturates), so gradients are finite and
accurate where the textbook formula overflows or cancels.  After
differentiation, :mod:`symdiff.rewrites.simplify` brings them to textbook
form, and :mod:`symdiff.rewrites.lowering` makes the compiled kernel evaluate
``sigmoid(u) - y`` without cancellation.
"""
from __future__ import annotations

from ..graph.node import Constant, Node
from ..graph.walk import rebuild
from ..ops import build as b
from ..ops import elementwise as ew
from ..ops.reductions import LogSoftmax, LogSumExp, Reduce, Softmax


def _is_one(node: Node) -> bool:
    return isinstance(node, Constant) and node.value == 1


def _stable_log(arg: Node, log: Node) -> Node | None:
    """A stable equivalent of ``log(arg)``, or ``None``."""
    if isinstance(arg, ew.Sigmoid):
        return b.neg(ew.Softplus((b.neg(arg.x),)))
    if isinstance(arg, ew.Sub) and _is_one(arg.inputs[0]) and isinstance(arg.inputs[1], ew.Sigmoid):
        return b.neg(ew.Softplus((arg.inputs[1].x,)))
    if isinstance(arg, ew.Add):
        x, y = arg.inputs
        other = y if _is_one(x) else x if _is_one(y) else None
        if isinstance(other, ew.Exp):
            return ew.Softplus((other.x,))
    if isinstance(arg, Reduce) and arg.kind == "sum" and isinstance(arg.x, ew.Exp):
        return LogSumExp((arg.x.x,), axes=arg.axes, keepdims=arg.keepdims)
    if isinstance(arg, Softmax) and not isinstance(arg, LogSoftmax):
        return LogSoftmax((arg.x,), axis=arg.axis)
    return None


def _stable(node: Node) -> Node | None:
    if isinstance(node, ew.Log):
        return _stable_log(node.x, node)
    if isinstance(node, ew.Log1p) and isinstance(node.x, ew.Exp):
        return ew.Softplus((node.x.x,))
    if isinstance(node, ew.Exp) and isinstance(node.x, LogSoftmax):
        return Softmax((node.x.x,), axis=node.x.axis)
    return None


def stabilize(roots: list, keep=()) -> list:
    """``roots`` with every pattern of the table rewritten (memoised over the DAG).

    A pattern whose inner node is in ``keep`` (a gradient target) is left alone,
    so that the target stays in the graph.
    """
    kept = {id(k) for k in keep}

    def transform(node, inputs):
        new = node.rebuild(inputs)
        if id(node) in kept or any(id(c) in kept for c in node.inputs):
            return new
        better = _stable(new)
        if better is None:
            return new
        better = b.cast(better, new.dtype) if better.dtype != new.dtype else better
        if better.shape != new.shape:
            from ..ops.shape import expand

            better = expand(better, new.shape)
        better.name = new.name
        return better

    return rebuild(roots, transform)
