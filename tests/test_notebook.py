"""Notebooks and pictures: LaTeX display of tensors, a readable ``repr`` of compiled
functions, Graphviz DOT source of graphs (shared nodes drawn once), ``sd.draw``
with and without Graphviz, and the Markdown form of ``sd.explain``."""
from __future__ import annotations

import re

import numpy as np
import pytest

import symdiff as sd


def _dot_nodes(text: str) -> dict:
    """``{node id: label}`` of the node statements of DOT source."""
    return dict(re.findall(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"', text, flags=re.M))


def _dot_edges(text: str) -> list:
    return re.findall(r"^\s*(n\d+) -> (n\d+)", text, flags=re.M)


def test_dot_of_one_argument_is_the_graph_and_of_two_the_product():
    A, v = sd.matrix("A"), sd.vector("v")
    assert sd.pprint(sd.dot(A, v)) == "A @ v"
    source = sd.dot(sd.exp(v))
    assert isinstance(source, str) and source.startswith("digraph symdiff {")
    with pytest.raises(TypeError, match="name="):
        sd.dot(v, name="h")
