"""Readable formulas: ``pprint`` (text), ``latex`` and ``debugprint`` (a typed tree).

A formula uses the user's names and stops at named intermediates, whose
definitions follow once in a ``where`` list; an unnamed subexpression used
more than once is named ``t1``, ``t2``, ... and also defined once there; a
run-time element count (what ``mean`` divides by) prints as ``N``.  So the
printed size grows with the graph, never with the number of paths in it.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from .graph.nodes import BroadcastTo
from .graph.symbols import Count, Dim, TensorVar, name_of
from .graph.types import dtype_of, fmt_shape, shape_of, stand_in
from .graph.walk import children, postorder, rebuild
from .tensor import Tensor, as_tensor

_COUNT_NAMES = ("N", "M", "K", "L", "P", "Q")


def _add_terms(printer, expr, level) -> str:
    """A sum with its positive terms first: ``yp - y`` rather than ``-y + yp``."""
    terms = sorted(expr.args, key=lambda t: t.could_extract_minus_sign())
    out = ""
    for k, term in enumerate(terms):
        negative = term.could_extract_minus_sign()
        text = printer.parenthesize(-term if negative else term, level)
        out += (("-" if negative else "") if k == 0 else (" - " if negative else " + ")) + text
    return out


class _TextPrinter(StrPrinter):
    def _print_Add(self, expr, order=None):
        return _add_terms(self, expr, PRECEDENCE["Add"])


class _LatexPrinter(LatexPrinter):
    def _print_Add(self, expr, order=None):
        return _add_terms(self, expr, PRECEDENCE["Add"])


def text_of(expr: sp.Basic) -> str:
    """One display expression as text (sums with positive terms first)."""
    return _TextPrinter().doprint(expr)


def latex_of(expr: sp.Basic) -> str:
    """One display expression as LaTeX (sums with positive terms first)."""
    return _LatexPrinter().doprint(expr)


@dataclass
class Formula:
    """A displayable formula: the main expression and its ``where`` definitions, in
    display form (plain SymPy expressions over name symbols)."""

    main: sp.Expr
    definitions: list  # [(name, display expression)], dependencies first


def _is_trivial(node) -> bool:
    """Nodes never worth a name of their own (leaves, ``-x``, conditions)."""
    if not children(node) or not isinstance(node, sp.Expr):
        return True
    if isinstance(node, sp.Mul) and len(node.args) == 2 and node.args[0].is_Number and not children(node.args[1]):
        return True  # -x, 2*x
    if isinstance(node, BroadcastTo):
        return _is_trivial(node.x)
    return False


def formula(expr: sp.Basic) -> Formula:
    """Split ``expr`` into a main formula and named definitions (see module doc)."""
    visible = postorder([expr])  # named nodes' definitions are shown too, once each
    stop = {n for n in visible if n is not expr and name_of(n) and not isinstance(n, TensorVar)}
    uses: dict = {}
    for node in visible:
        for c in children(node):
            uses[c] = uses.get(c, 0) + 1
    names: dict = {}
    counter = 0
    for node in visible:
        if node is expr:
            continue
        if node in stop:
            names[node] = name_of(node)
        elif isinstance(node, Count):
            names[node] = _COUNT_NAMES[min(sum(isinstance(n, Count) for n in names), len(_COUNT_NAMES) - 1)]
        elif uses.get(node, 0) > 1 and not _is_trivial(node):
            counter += 1
            names[node] = f"t{counter}"
    symbols = {node: stand_in(name, node) for node, name in names.items() if not isinstance(node, Count)}
    symbols.update({node: sp.Symbol(name, positive=True) for node, name in names.items() if isinstance(node, Count)})

    def display(root):
        def transform(node, args):
            if node is not root and node in symbols:
                return symbols[node]
            if isinstance(node, BroadcastTo) and not shape_of(node.x):
                return args[0]  # a broadcast scalar reads as the scalar
            return node.func(*args) if args and args != node.args else node

        return _tidy(rebuild([root], transform)[0])

    definitions = []
    for node in visible:
        if node in names:
            definitions.append((names[node], _counttext_of(node) if isinstance(node, Count) else display(node)))
    return Formula(display(expr), definitions)


def _counttext_of(node: Count) -> sp.Expr:
    return sp.Mul(*node.args, evaluate=False)


def _tidy(expr: sp.Expr) -> sp.Expr:
    """Light, local simplification for display: collect numeric factors (``(2*a - 2*b)/2``
    reads ``a - b``)."""
    try:
        return sp.factor_terms(expr, radical=False, clear=False, fraction=False, sign=False)
    except (TypeError, AttributeError, ValueError):
        return expr


def brief(expr: sp.Basic, depth: int = 3, width: int = 80) -> str:
    """A one-line sketch of ``expr`` for comments and error messages: names where the
    user gave them, subexpressions deeper than ``depth`` shown as ``...``.  Cost is
    bounded by ``depth``, however deep or shared the graph."""
    def cut(node, d):
        name = name_of(node)
        if name and not isinstance(node, TensorVar) and d < depth:
            return stand_in(name, node)
        kids = children(node)
        if not kids:
            return node
        if d == 0:
            return stand_in("...", node) if isinstance(node, sp.Expr) else sp.Symbol("...")
        args = tuple(cut(a, d - 1) if a in kids else a for a in node.args)
        try:
            return node.func(*args, evaluate=False) if isinstance(node, (sp.Add, sp.Mul, sp.Pow)) else node.func(*args)
        except (TypeError, ValueError):
            return sp.Symbol("...")

    text = " ".join(text_of(cut(expr, depth)).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _expr(x) -> sp.Basic:
    return as_tensor(x).expr if not isinstance(x, sp.Basic) else x


def pprint(x: Tensor | sp.Basic) -> str:
    """The formula of ``x`` as text, in the user's names, with a ``where`` list."""
    f = formula(_expr(x))
    text = text_of(f.main)
    if f.definitions:
        width = max(len(n) for n, _ in f.definitions)
        lines = [f"  {n.ljust(width)} = {text_of(d)}" for n, d in f.definitions]
        text += "\nwhere\n" + "\n".join(lines)
    return text


def latex(x: Tensor | sp.Basic) -> str:
    """The formula of ``x`` as LaTeX (definitions follow as an aligned ``where`` block)."""
    f = formula(_expr(x))
    main = latex_of(f.main)
    if not f.definitions:
        return main
    rows = r" \\ ".join(rf"{latex_of(sp.Symbol(n))} &= {latex_of(d)}" for n, d in f.definitions)
    return main + r" \quad \text{where} \quad \begin{aligned} " + rows + r" \end{aligned}"


def debugprint(x: Tensor | sp.Basic, file=None) -> str:
    """An indented tree of ``x``: one line per node with its op, shape and dtype.

    A node met again is printed as a reference ``(see #k)`` instead of again.
    """
    expr = _expr(x)
    ids: dict = {}
    lines: list = []

    def label(node):
        name = name_of(node)
        if isinstance(node, TensorVar):
            return f"{node.role} {node.name}"
        if not children(node):
            return str(node)
        op = type(node).__name__
        params = [str(a.value) for a in node.args if type(a).__name__ == "Static"]
        text = op + (f"{{{', '.join(params)}}}" if params else "")
        return text + (f" '{name}'" if name else "")

    stack = [(expr, 0)]
    while stack:
        node, depth = stack.pop()
        typ = f"{fmt_shape(shape_of(node))} {dtype_of(node) or 'scalar'}"
        if node in ids and children(node):
            lines.append("  " * depth + f"(see #{ids[node]}) {label(node)}")
            continue
        ids.setdefault(node, len(ids) + 1)
        lines.append("  " * depth + f"#{ids[node]} {label(node)}  {typ}")
        for c in reversed(children(node)):
            stack.append((c, depth + 1))
    text = "\n".join(lines)
    if file is not None:
        print(text, file=file)
    return text


__all__ = ["pprint", "latex", "debugprint", "formula", "Formula", "Dim"]
