"""``sd.function(..., nan_guard=True)``: find the first node that makes a NaN.

Before the kernel runs, the graph the function compiled (after its stable
rewrites) is evaluated node by node with the NumPy forward rules of
:mod:`symdiff.checking.numpy_ops`, in topological order.  The first node whose
value holds a NaN while none of its operands does, ``log(x - 1)`` at
``x < 1`` or ``inf - inf``, raises :class:`NaNError` naming that node in the
user's names.  NaN already present in the data flows through as it would in
NumPy and is not reported: the guard looks for where NaN is *made*.  It costs
one NumPy evaluation of the graph per call; it is meant for debugging.
"""
from __future__ import annotations

import numpy as np

from ..graph.node import Leaf, Node
from ..printing import brief
from .backprop import Tape


class NaNError(FloatingPointError):
    """A NaN produced inside a compiled function from operands without NaN."""

    def __init__(self, message: str, node: Node):
        super().__init__(message)
        self.node = node


def _has_nan(value) -> bool:
    value = np.asarray(value)
    return value.dtype.kind in "fc" and bool(np.isnan(value).any())


def _describe(value) -> str:
    value = np.asarray(value)
    if value.dtype.kind not in "fc" or value.size == 0:
        return f"{value.dtype} {value.shape}"
    finite = value[np.isfinite(value)]
    parts = [f"shape {value.shape}"]
    if finite.size:
        parts.append(f"finite values in [{finite.min():.4g}, {finite.max():.4g}]")
    infinite = int(np.isinf(value).sum())
    if infinite:
        parts.append(f"{infinite} inf")
    return ", ".join(parts)


def first_nan_node(roots: list, values: dict):
    """``(node, tape)`` for the first node of ``roots``' graph (topological order) whose
    value holds a NaN while its operands hold none, or ``(None, tape)``."""
    tape = Tape(roots, values)
    for node in tape.order:
        if isinstance(node, Leaf) or not _has_nan(tape.value(node)):
            continue
        if not any(_has_nan(tape.value(c)) for c in node.inputs):
            return node, tape
    return None, tape


def check_for_nans(function, arrays: list) -> None:
    """Raise :class:`NaNError` if evaluating ``function``'s graph on ``arrays`` (its
    kernel arguments: inputs, then shared variables and constants) makes a NaN."""
    plan = function.plan
    roots = list(plan.outputs) + [value for _, value in plan.updates]
    values = {var: array for var, array in zip(plan.arg_vars, arrays) if var.role != "constant"}
    node, tape = first_nan_node(roots, values)
    if node is None:
        return
    label = f" (named {node.name!r})" if node.name else ""
    operands = "; ".join(f"{brief(c, depth=2, width=50)}: {_describe(tape.value(c))}" for c in node.inputs)
    count = int(np.isnan(np.asarray(tape.value(node))).sum())
    raise NaNError(
        f"nan_guard: {brief(node)}{label} produced NaN ({count} of {np.size(tape.value(node))} entries) "
        f"from operands without NaN: {operands}",
        node,
    )
