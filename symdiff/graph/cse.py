"""Common subexpressions: structurally equal nodes merged into one (hash-consing).

Two nodes are equal when they are the same op with the same parameters on
the same (already merged) operands; variables are equal only to themselves.
One pass over the distinct nodes, so it is linear in the graph's size.
"""
from __future__ import annotations

from .node import Node, Variable
from .walk import postorder


def structural_key(node: Node, input_ids: tuple, with_names: bool) -> tuple:
    """The identity of ``node`` up to structure (``input_ids``: ids of its merged operands)."""
    if isinstance(node, Variable):
        return ("var", id(node))
    key = (type(node), node.param_values(), input_ids)
    return key + (node.name,) if with_names else key


def merge_equal(roots: list, with_names: bool = True) -> list:
    """``roots`` with structurally equal subexpressions shared.

    ``with_names``: a named node is only merged with nodes of the same name
    (printing keeps the user's names where they were given); without it,
    names are ignored (for compiling).  No node is modified.
    """
    canon: dict = {}
    new: dict = {}
    for node in postorder(roots):
        inputs = tuple(new[id(c)] for c in node.inputs)
        key = structural_key(node, tuple(id(c) for c in inputs), with_names)
        found = canon.get(key)
        if found is None:
            found = canon[key] = node.rebuild(inputs)
        new[id(node)] = found
    return [new[id(r)] for r in roots]
