"""Pictures of graphs: ``sd.dot`` gives Graphviz DOT source, ``sd.draw`` renders it.

Every distinct node is drawn once, however many paths reach it, so the
picture of a gradient shows the sharing that keeps it small.  Inputs are
ellipses, shared variables double ellipses, constants plain text, ops boxes
labelled with the op, its static parameters and its shape; a node the user
named shows the name.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .graph.node import Constant, Leaf, Node, Size, Variable
from .graph.types import fmt_shape
from .graph.walk import postorder
from .printing import TextPrinter
from .tensor import Tensor, as_node


def _label(node: Node) -> str:
    if isinstance(node, Variable):
        return f"{node.name}\\n{fmt_shape(node.shape)} {node.dtype}"
    if isinstance(node, (Constant, Size)):
        return TextPrinter().doprint(node)
    params = ", ".join(f"{k}={_param_text(v)}" for k, v in zip(node.params, node.param_values()))
    head = type(node).__name__ + (f"({params})" if params else "")
    if node.name:
        head = f"{node.name} = {head}"
    return f"{head}\\n{fmt_shape(node.shape)} {node.dtype}"


def _param_text(value) -> str:
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _escape(text: str) -> str:
    return text.replace('"', '\\"')


def dot(x: "Tensor | list") -> str:
    """The Graphviz DOT source of the graph of ``x`` (a tensor or a list of them).

    >>> print(sd.dot(sd.exp(sd.vector("x")) * 2).splitlines()[0])
    digraph symdiff {
    """
    roots = [as_node(t) for t in (x if isinstance(x, (list, tuple)) else [x])]
    ids: dict = {}
    lines = ["digraph symdiff {", "  rankdir=BT;", '  node [fontname="Helvetica", fontsize=10];']
    for node in postorder(roots):
        key = ids[id(node)] = f"n{len(ids)}"
        if isinstance(node, Variable):
            shape = "doublecircle" if node.role == "shared" else "ellipse" if node.role == "input" else "note"
        elif isinstance(node, Leaf):
            shape = "plaintext"
        else:
            shape = "box"
        style = ', style="bold"' if any(node is r for r in roots) else ""
        lines.append(f'  {key} [label="{_escape(_label(node))}", shape={shape}{style}];')
        for k, c in enumerate(node.inputs):
            label = f' [label="{k}"]' if len(node.inputs) > 1 else ""
            lines.append(f"  {ids[id(c)]} -> {key}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(x: "Tensor | list", path: str) -> Path:
    """Render the graph of ``x`` to ``path`` (format from its suffix: .svg, .png, .pdf)
    with Graphviz's ``dot`` and return the path; without Graphviz, raise
    RuntimeError saying how to get it.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "graph.svg")
    >>> try:
    ...     drawn = sd.draw(sd.exp(sd.vector("x")), path).exists()
    ... except RuntimeError as e:  # Graphviz is not installed: the message says how to get it
    ...     drawn = "apt-get install graphviz" in str(e)
    >>> drawn
    True
    """
    path = Path(path)
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError(
            "sd.draw needs Graphviz's `dot` program (apt-get install graphviz, brew install graphviz, "
            "or conda install graphviz); sd.dot(x) gives the DOT source without it"
        )
    fmt = path.suffix.lstrip(".") or "svg"
    subprocess.run([program, f"-T{fmt}", "-o", str(path)], input=dot(x), text=True, check=True)
    return path
