"""Readable formulas: ``pprint`` (text), ``latex`` and ``debugprint`` (a typed tree).

A formula uses the user's names and stops at named intermediates, whose
definitions follow once in a ``where`` list; an unnamed subexpression used
more than once is named ``t1``, ``t2``, ... and also defined once there; the
element count a ``mean`` divides by prints as ``N``.  So the printed size
grows with the graph, never with the number of paths in it.

The text is NumPy-flavoured Python: with the arrays bound to the user's
names and the functions of :func:`namespace`, each line evaluates
(:func:`evaluate` does exactly that).

Printing goes through SymPy's printers: each node class teaches them with
``_sympystr`` and ``_latex``; numbers and sizes are SymPy's own.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.str import StrPrinter

from .graph.cse import merge_equal
from .graph.gc_pause import without_cyclic_gc
from .graph.node import Constant, Leaf, Node, Size, Variable
from .graph.types import fmt_shape
from .graph.walk import postorder
from .tensor import Tensor, as_node

_COUNT_NAMES = ("N", "M", "K", "L", "P", "Q")
_MAX_HEIGHT = 12  # an unnamed subexpression nested deeper than this gets a where-name


class _NodePrinting:
    """What both printers add to SymPy's: names for nodes, and a depth limit."""

    def __init__(self, names: dict | None = None, root: Node | None = None, depth: int | None = None):
        super().__init__()
        self.names = names or {}
        self.root = root
        self.depth_limit = depth
        self._depth = 0

    def _print(self, expr, **kwargs):
        if isinstance(expr, Node):
            if expr is not self.root and id(expr) in self.names:
                return self.names[id(expr)]
            if self.depth_limit is not None and expr.inputs and self._depth >= self.depth_limit:
                return "..."
            self._depth += 1
            try:
                return getattr(expr, self.printmethod)(self)
            finally:
                self._depth -= 1
        return super()._print(expr, **kwargs)

    def parenthesize(self, item, level, strict=False):
        prec = self._precedence(item)
        text = self._print(item)
        if prec < level or (not strict and prec <= level):
            return self._wrap(text)
        return text

    def _precedence(self, item) -> int:
        if isinstance(item, Node):
            if item is not self.root and id(item) in self.names:
                return PRECEDENCE["Atom"]
            if self.depth_limit is not None and item.inputs and self._depth >= self.depth_limit:
                return PRECEDENCE["Atom"]
            return item.precedence
        return precedence(item)


class TextPrinter(_NodePrinting, StrPrinter):
    """SymPy's ``StrPrinter`` taught symdiff's nodes (through their ``_sympystr``)."""

    printmethod = "_sympystr"

    @staticmethod
    def _wrap(text: str) -> str:
        return f"({text})"


class LatexFormulaPrinter(_NodePrinting, LatexPrinter):
    """SymPy's ``LatexPrinter`` taught symdiff's nodes (through their ``_latex``)."""

    printmethod = "_latex"

    def __init__(self, names=None, root=None, depth=None):
        _NodePrinting.__init__(self, names, root, depth)

    @staticmethod
    def _wrap(text: str) -> str:
        return rf"\left({text}\right)"


@dataclass
class Formula:
    """A formula split for display: the main node and its ``where`` definitions
    (name, node), dependencies first; ``names`` maps ids of named nodes to names."""

    main: Node
    definitions: list
    names: dict
    others: tuple = ()  # further roots printed with the main one, as a list

    def text(self) -> str:
        out = self._main(TextPrinter, ", ")
        if self.definitions:
            width = max(len(n) for n, _ in self.definitions)
            lines = [f"  {n.ljust(width)} = {TextPrinter(self.names, d).doprint(d)}" for n, d in self.definitions]
            out += "\nwhere\n" + "\n".join(lines)
        return out

    def _main(self, printer, sep: str) -> str:
        if not self.others:
            return printer(self.names, self.main).doprint(self.main)
        items = [printer(self.names, r).doprint(r) for r in (self.main, *self.others)]
        return "[" + sep.join(items) + "]" if printer is TextPrinter else r"\left[" + sep.join(items) + r"\right]"

    def latex(self) -> str:
        main = self._main(LatexFormulaPrinter, r",\ ")
        if not self.definitions:
            return main
        rows = r" \\ ".join(
            rf"{self.latex_name(n)} &= {LatexFormulaPrinter(self.names, d).doprint(d)}" for n, d in self.definitions
        )
        return main + r" \quad \text{where} \quad \begin{aligned} " + rows + r" \end{aligned}"

    def latex_name(self, name: str) -> str:
        return LatexPrinter().doprint(sp.Symbol(name))


def _is_trivial(node: Node) -> bool:
    """Nodes never worth a name of their own (leaves, ``-x``, ``2*x``, ``x.T``, ...)."""
    from .ops import elementwise as ew
    from .ops.shape import Expand, Reshape, Transpose, _Identity

    if isinstance(node, Leaf):
        return True
    if isinstance(node, (ew.Neg, ew.Cast, Expand, Transpose, Reshape, _Identity)):
        return _is_trivial(node.inputs[0])
    if isinstance(node, ew.Mul) and isinstance(node.inputs[0], Constant) and isinstance(node.inputs[1], Leaf):
        return True
    if isinstance(node, ew.Compare):  # x > 0: shorter than a name of its own
        return all(_is_trivial(c) for c in node.inputs)
    return False


def formula(root: Node, extra_roots: tuple = (), reserved: frozenset = frozenset()) -> Formula:
    """Split the graph of ``root`` (and ``extra_roots``, printed alongside) into a main
    formula and named definitions (see module doc); fresh names (``t1``, ...) avoid
    the names in ``reserved``."""
    roots = merge_equal([root, *extra_roots])
    root = roots[0]
    visible = postorder(roots)
    uses: dict = {}
    for node in visible:
        for c in node.inputs:
            uses[id(c)] = uses.get(id(c), 0) + 1
        for k in getattr(node, "repeated_inputs", ()):  # an operand its formula shows twice
            uses[id(node.inputs[k])] += 1
    names: dict = {}
    taken = {n.name for n in visible if isinstance(n, Variable)} | set(reserved)
    counts: dict = {}
    counter = 0
    height: dict = {}
    definitions = []

    def fresh(base: str) -> str:
        nonlocal counter
        while True:
            counter += 1
            name = f"{base}{counter}"
            if name not in taken:
                taken.add(name)
                return name

    root_ids = {id(r) for r in roots}
    for node in visible:
        name = None
        if id(node) in root_ids:
            pass
        elif isinstance(node, Size) and node.count:
            if node.size not in counts:
                letter = next((c for c in _COUNT_NAMES if c not in taken), None) or fresh("N")
                taken.add(letter)
                counts[node.size] = letter
                definitions.append((letter, node))
            names[id(node)] = counts[node.size]
            continue
        elif node.name and not isinstance(node, Variable):
            name = node.name
        elif not _is_trivial(node) and (uses.get(id(node), 0) > 1 or height_of(node, height, names) > _MAX_HEIGHT):
            name = fresh("t")
        if name is not None:
            names[id(node)] = name
            definitions.append((name, node))
            height[id(node)] = 0
        else:
            height_of(node, height, names)
    return Formula(root, definitions, names, tuple(roots[1:]))


def height_of(node: Node, height: dict, names: dict) -> int:
    """How deep ``node``'s unnamed expression nests (named operands count as leaves)."""
    if id(node) in height:
        return height[id(node)]
    h = 1 + max((0 if id(c) in names else height.get(id(c), 0) for c in node.inputs), default=0)
    height[id(node)] = h
    return h


def _node(x) -> Node:
    return x if isinstance(x, Node) else as_node(x)


def _formula_of(x) -> Formula:
    if isinstance(x, (list, tuple)):
        if not x:
            raise ValueError("nothing to print: an empty list")
        nodes = [_node(t) for t in x]
        f = formula(nodes[0], tuple(nodes[1:]))
        return f
    return formula(_node(x))


@without_cyclic_gc
def pprint(x: "Tensor | Node | list") -> str:
    """The formula of ``x`` as text, in the user's names, with a ``where`` list.

    A list of tensors prints as one list with one shared ``where`` list, so
    the gradients of many parameters print in size linear in the graph.

    >>> yp, y = sd.vector("yp"), sd.vector("y")
    >>> print(sd.pprint(sd.grad(0.5 * sd.sum((yp - y) ** 2), yp)))
    yp - y
    """
    return _formula_of(x).text()


@without_cyclic_gc
def latex(x: "Tensor | Node | list") -> str:
    """The formula of ``x`` as LaTeX (definitions follow as an aligned ``where`` block).

    >>> print(sd.latex(sd.sigmoid(sd.vector("z")) ** 2))
    \\sigma\\left(z\\right)^{2}
    """
    return _formula_of(x).latex()


def brief(node: Node, depth: int = 3, width: int = 80) -> str:
    """A one-line sketch of ``node`` for comments and error messages: the user's
    names, subexpressions deeper than ``depth`` shown as ``...``.  Its cost is
    bounded by ``depth``, however deep or shared the graph."""
    names = {}
    stack = [(node, 0)]
    while stack:  # named nodes within reach print as their names
        n, d = stack.pop()
        if d > depth:
            continue
        if n is not node and n.name and not isinstance(n, Variable):
            names[id(n)] = n.name
            continue
        stack.extend((c, d + 1) for c in n.inputs)
    text = " ".join(TextPrinter(names, node, depth).doprint(node).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def debugprint(x: "Tensor | Node", file=None) -> str:
    """An indented tree of ``x``: one line per node with its op, shape and dtype.

    A node met again is printed as a reference ``(see #k)`` instead of again.

    >>> h = sd.exp(sd.vector("x"))
    >>> print(sd.debugprint(h * h + 1))
    #1 Add  (None,) float64
      #2 Mul  (None,) float64
        #3 Exp  (None,) float64
          #4 input x  (None,) float64
        (see #3) Exp
      #5 1  () int64 (weak)
    """
    root = _node(x)
    ids: dict = {}
    lines: list = []

    def label(node):
        if isinstance(node, Variable):
            return f"{node.role} {node.name}"
        if isinstance(node, Leaf):
            return TextPrinter().doprint(node)
        params = [str(v) for k, v in zip(node.params, node.param_values())]
        text = type(node).__name__ + (f"{{{', '.join(params)}}}" if params else "")
        return text + (f" '{node.name}'" if node.name else "")

    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        typ = f"{fmt_shape(node.shape)} {node.dtype}{' (weak)' if node.type.weak else ''}"
        if id(node) in ids and node.inputs:
            lines.append("  " * depth + f"(see #{ids[id(node)]}) {label(node)}")
            continue
        ids.setdefault(id(node), len(ids) + 1)
        lines.append("  " * depth + f"#{ids[id(node)]} {label(node)}  {typ}")
        for c in reversed(node.inputs):
            stack.append((c, depth + 1))
    text = "\n".join(lines)
    if file is not None:
        print(text, file=file)
    return text


# --------------------------------------------------------------------------- evaluating printed text


def namespace() -> dict:
    """NumPy implementations of every name printed formulas use (``exp``, ``sum``,
    ``sigmoid``, ``logsumexp``, ``where``, ...), for evaluating printed text."""
    from .checking import numpy_ops

    return numpy_ops.namespace()


def evaluate(text: str, values: dict) -> np.ndarray:
    """Evaluate a printed formula (with its ``where`` list) on arrays: ``values``
    maps the user's names to arrays."""
    env = {**namespace(), **values}
    lines = text.split("\n")
    main = lines[0]
    if len(lines) > 1:
        if lines[1].strip() != "where":
            raise ValueError("a printed formula is one line, then optionally 'where' and one definition per line")
        for line in lines[2:]:
            name, _, expr = line.strip().partition(" = ")
            env[name.strip()] = eval(expr, env)  # noqa: S307 - the caller's own formula
    return eval(main, env)  # noqa: S307


__all__ = ["pprint", "latex", "debugprint", "formula", "Formula", "brief", "namespace", "evaluate"]
