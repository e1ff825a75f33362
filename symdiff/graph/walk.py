"""Walking a DAG once per distinct node (never once per path)."""
from __future__ import annotations

from typing import Callable, Iterable

from .node import Node


def postorder(roots: Iterable[Node]) -> list:
    """Distinct nodes reachable from ``roots``, each after all of its operands."""
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.inputs) if id(c) not in seen)
    return order


def consumers(order: list) -> dict:
    """``{id(node): [nodes that read it]}`` (a node reading twice is listed twice)."""
    out: dict = {id(n): [] for n in order}
    for node in order:
        for c in node.inputs:
            out[id(c)].append(node)
    return out


def rebuild(roots: list, transform: Callable[[Node, tuple], Node]) -> list:
    """Rebuild ``roots`` bottom-up, memoised: ``transform(node, new_inputs)`` gives
    the node that replaces ``node`` once its operands were rebuilt to ``new_inputs``."""
    new: dict = {}
    for node in postorder(roots):
        new[id(node)] = transform(node, tuple(new[id(c)] for c in node.inputs))
    return [new[id(r)] for r in roots]


def replace(roots: list, mapping: dict) -> list:
    """``roots`` with nodes substituted by ``mapping`` (``{id(old): new}``), memoised."""

    def transform(node, inputs):
        if id(node) in mapping:
            return mapping[id(node)]
        return node.rebuild(inputs)

    return rebuild(roots, transform)


def depends_on(roots: list, targets: Iterable[Node]) -> set:
    """ids of the nodes below ``roots`` that depend on any of ``targets`` (targets included)."""
    wanted = {id(t) for t in targets}
    found = set()
    for node in postorder(roots):
        if id(node) in wanted or any(id(c) in found for c in node.inputs):
            found.add(id(node))
    return found


def count_nodes(roots: Iterable[Node]) -> int:
    """The number of distinct nodes of a graph."""
    return len(postorder(roots))
