"""Walking a SymPy DAG once per distinct node (never once per path)."""
from __future__ import annotations

from typing import Callable, Iterable

import sympy as sp

from .symbols import Count, Dim, Static, TensorVar


def children(expr: sp.Basic) -> tuple:
    """The operands of ``expr`` that are graph nodes (leaves have none)."""
    if isinstance(expr, (TensorVar, Dim, Count, Static)) or not expr.args:
        return ()
    return tuple(a for a in expr.args if not isinstance(a, Static))


def postorder(roots: Iterable[sp.Basic]) -> list:
    """Distinct nodes reachable from ``roots``, each after all of its operands."""
    order, seen = [], set()
    for root in roots:
        if root in seen:
            continue
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(children(node)) if c not in seen)
    return order


def rebuild(roots: list, transform: Callable[[sp.Basic, tuple], sp.Basic]) -> list:
    """Rebuild ``roots`` bottom-up, memoised: ``transform(node, new_args)`` gives the
    new node for ``node`` whose graph operands were rebuilt to ``new_args``."""
    new = {}
    for node in postorder(roots):
        kids = children(node)
        if kids:
            args = tuple(new[a] if not isinstance(a, Static) else a for a in node.args)
        else:
            args = ()
        new[node] = transform(node, args)
    return [new[r] for r in roots]


def replace(roots: list, mapping: dict) -> list:
    """Substitute whole subexpressions by ``mapping`` (memoised over the DAG)."""

    def transform(node, args):
        if node in mapping:
            return mapping[node]
        if not args or args == node.args:
            return node
        return node.func(*args)

    return rebuild(roots, transform)
