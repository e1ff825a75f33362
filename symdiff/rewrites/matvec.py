"""Pairing matrix-vector products that share their matrix, for compiled kernels.

``X @ w`` and ``X @ v`` (the forward value and the direction of a
Hessian-vector product) each stream the whole of ``X`` from memory; as one
:class:`~symdiff.ops.linalg.MatVecPair` they read each row once for both.
Applied to the graph a kernel computes, after all differentiation: each
product becomes a row of the pair (a view), so nothing else changes.
"""
from __future__ import annotations

from ..graph.walk import depends_on, postorder, replace
from ..graph.types import FLOAT_DTYPES
from ..ops.linalg import MatMul, MatVecPair
from ..ops.shape import Subtensor


def _matvec(node) -> bool:
    a, c = node.inputs if isinstance(node, MatMul) else (None, None)
    return (a is not None and a.ndim == 2 and c.ndim == 1 and a.dtype in FLOAT_DTYPES
            and a.dtype == c.dtype == node.dtype)


def pair_matvecs(roots: list) -> list:
    """``roots`` with pairs of matrix-vector products of one matrix computed together."""
    groups: dict = {}
    for node in postorder(roots):
        if _matvec(node):
            groups.setdefault(id(node.inputs[0]), []).append(node)
    mapping = {}
    for products in groups.values():
        while len(products) >= 2:
            first = products.pop(0)
            # the partner's vector must not need the first product, nor the first's vector the partner
            partner = next((p for p in products if not depends_on([p.inputs[1]], [first])
                            and not depends_on([first.inputs[1]], [p])), None)
            if partner is None:
                continue
            products.remove(partner)
            pair = MatVecPair((first.inputs[0], first.inputs[1], partner.inputs[1]))
            mapping[id(first)] = Subtensor((pair,), index=(("i", 0),))
            mapping[id(partner)] = Subtensor((pair,), index=(("i", 1),))
    return replace(roots, mapping) if mapping else roots
