"""Rewrites applied before lowering: numerically stable forms of common patterns.

Common subexpressions are already shared (SymPy trees are structurally
hashed) and constants are folded by SymPy as trees are built; what remains is
to replace formulas that overflow or lose precision in floating point by
equivalent stable ones:

=========================  ==========================
pattern                    rewritten to
=========================  ==========================
log(sigmoid(x))            -softplus(-x)
log(1 - sigmoid(x))        -softplus(x)
log(1 + exp(x))            softplus(x)
log(exp(x) + 1)            softplus(x)
log(sum(exp(x), axes))     logsumexp(x, axes)
=========================  ==========================

``log_softmax`` is built as ``x - logsumexp(x)`` and softmax cross-entropy
then differentiates to ``softmax - onehot`` without any rewrite.
"""
from __future__ import annotations

import sympy as sp

from .graph.functions import sigmoid, softplus
from .graph.nodes import LogSumExp, Reduce
from .graph.walk import rebuild


def _stable_log(arg: sp.Expr) -> sp.Expr | None:
    """A stable equivalent of ``log(arg)``, or ``None`` when there is none to offer."""
    if isinstance(arg, sigmoid):
        return -softplus(-arg.args[0])
    if isinstance(arg, sp.Add) and len(arg.args) == 2 and sp.S.One in arg.args:
        other = arg.args[0] if arg.args[1] == 1 else arg.args[1]
        if isinstance(other, sp.exp):
            return softplus(other.args[0])
        if isinstance(other, sp.Mul) and other.args[0] == -1 and len(other.args) == 2 and isinstance(other.args[1], sigmoid):
            return -softplus(other.args[1].args[0])
    if isinstance(arg, Reduce) and arg.kind == "sum" and isinstance(arg.args[0], sp.exp):
        return LogSumExp.make(arg.args[0].args[0], arg.axes, arg.keepdims)
    return None


def stabilize(roots: list) -> list:
    """``roots`` with every stable-form pattern (see module doc) rewritten, memoised over the DAG."""

    def transform(node, args):
        new = node.func(*args) if args and args != node.args else node
        if isinstance(new, sp.log):
            better = _stable_log(new.args[0])
            if better is not None:
                return better
        return new

    return rebuild(roots, transform)
