"""``explain``: the backward pass of ``sd.grad``, step by step, as on a blackboard.

One step per distinct node on a path from the cost to a variable of ``wrt``,
in the order the reverse sweep visits them (reverse topological).  Each step
shows the node in the user's names; the adjoint it receives, ``g_v = d cost/d v``,
both as the sum of what its consumers sent (in their adjoints' names) and as
a formula in the user's names; and the rule that sends it on to its operands.
A subexpression used in several places is one step, where its paths meet and
their contributions add up.

The steps are recorded from the sweep :func:`symdiff.grad.reverse_accumulate`
itself runs, so they are what ``sd.grad`` computes, not a re-derivation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from ..grad import _isolate_targets, local_vjps, reverse_accumulate
from ..graph.nodes import BroadcastTo
from ..graph.symbols import TensorVar, name_of
from ..graph.types import FLOAT_DTYPES, fmt_shape, shape_of, value_dtype
from ..printing import formula, latex_of, text_of
from ..tensor import Tensor, as_tensor


@dataclass
class Step:
    """One node of the backward sweep."""

    number: int
    node: sp.Basic
    name: str | None  # the user's name for the node, if it has one
    symbol: str  # the name of the node's adjoint: g_yp, g7, ...
    received: sp.Expr | None  # the sum of its consumers' contributions, in their adjoints' names (None: the cost)
    adjoint: sp.Expr  # that sum as sd.grad built it, in the user's names
    sends: list  # [(operand's step number, contribution in this step's adjoint)]
    is_target: bool


class Explanation:
    """The steps of a backward sweep; ``str()`` is plain text, ``latex()`` and
    ``markdown()`` are documents (Jupyter shows the markdown)."""

    def __init__(self, cost_name: str, target_names: list, steps: list):
        self.cost_name = cost_name
        self.target_names = target_names
        self.steps = steps
        self._globals: dict = {}  # where-definitions shown once, above the steps
        self._rendered: dict = {}

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __str__(self) -> str:
        return self._document("text")

    def __repr__(self) -> str:
        return f"<Explanation of d {self.cost_name}/d ({', '.join(self.target_names)}): {len(self.steps)} steps>"

    def latex(self) -> str:
        """The steps as a LaTeX ``align*`` block (needs amsmath; MathJax renders it)."""
        return self._document("latex")

    def markdown(self) -> str:
        """The steps as a Markdown document with inline LaTeX."""
        return self._document("markdown")

    def _repr_markdown_(self) -> str:
        return self.markdown()

    # ------------------------------------------------------------------ rendering
    def _document(self, fmt: str) -> str:
        if fmt not in self._rendered:
            self._rendered[fmt] = self._render(fmt)
        return self._rendered[fmt]

    def _formula(self, expr: sp.Expr, fmt: str) -> tuple:
        """``expr`` in the user's names (text or LaTeX), and its local ``where`` definitions.

        Named nodes and element counts are defined once for the whole document
        (a conflicting definition stays local); ``t1``-style names are local."""
        f = formula(expr)
        local = []
        for name, definition in f.definitions:
            # compare as text: each formula() call makes its own stand-in symbols
            if _is_shared_name(name) and text_of(self._globals.setdefault(name, definition)) == text_of(definition):
                continue
            local.append((name, definition))
        show = text_of if fmt == "text" else latex_of
        return show(f.main), [(_name(n, fmt), show(d)) for n, d in local]

    def _render(self, fmt: str) -> str:
        self._globals = {}
        body = [self._render_step(s, fmt) for s in self.steps]
        shared = [(_name(n, fmt), text_of(d) if fmt == "text" else latex_of(d)) for n, d in sorted(self._globals.items())]
        cost, targets = _name(self.cost_name, fmt), ", ".join(_name(t, fmt) for t in self.target_names)
        if fmt == "text":
            head = [
                f"Backward pass of d {cost}/d ({targets}): {len(self.steps)} steps, from the cost back to the variables.",
                f"g_v is d {cost}/d v, the adjoint of v: the sum of what v's consumers send it (-> [k]: sent to step k).",
            ]
            if shared:
                width = max(len(n) for n, _ in shared)
                head += ["where"] + [f"  {n.ljust(width)} = {d}" for n, d in shared]
            return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n"
        if fmt == "latex":
            rows = [(r"&\phantom{\text{where}}" if k else r"&\text{where}") + rf"\quad {n} = {d}" for k, (n, d) in enumerate(shared)]
            return "\\begin{align*}\n" + " \\\\\n".join(rows + body) + "\n\\end{align*}\n"
        head = [
            f"**Backward pass** of $\\partial {cost} / \\partial ({targets})$: {len(self.steps)} steps, from the cost "
            f"back to the variables. $g_v$ is $\\partial {cost}/\\partial v$, the adjoint of $v$: the sum of what "
            "$v$'s consumers send it ($\\to [k]$: sent to step $k$).",
            "",
        ]
        if shared:
            head += ["where " + ", ".join(f"${n} = {d}$" for n, d in shared), ""]
        return "\n".join(head + body) + "\n"

    def _render_step(self, step: Step, fmt: str) -> str:
        cost = _name(self.cost_name, fmt)
        if isinstance(step.node, TensorVar):
            label, where = _name(step.node.name, fmt), []
        else:
            label, where = self._formula(step.node, fmt)
            if step.name:
                label = f"{_name(step.name, fmt)} = {label}"
        adjoint, where_adjoint = self._formula(step.adjoint, fmt)
        chain = [_name(step.symbol, fmt)]
        if step.received is None:
            chain.append(f"d {cost}/d {cost}" if fmt == "text" else rf"\partial {cost}/\partial {cost}")
        else:
            received = self._formula(step.received, fmt)[0]
            if received != adjoint:
                chain.append(received)
        chain.append(adjoint)
        sends = [(n, self._formula(c, fmt)[0]) for n, c in step.sends]
        notes = [f"{n} = {d}" for n, d in where + where_adjoint]
        if fmt == "text":
            pad = "    "
            equation = " = ".join(chain)
            if len(equation) > 100:
                equation = f"\n{pad}{' ' * len(chain[0])} = ".join([chain[0] + " = " + chain[1]] + chain[2:])
            lines = [f"[{step.number}] {label}", pad + equation] + [f"{pad}-> [{n}]  {c}" for n, c in sends]
            if step.is_target:
                lines.append(f"{pad}the gradient d {cost}/d {step.name}")
            return "\n".join(lines + [f"{pad}where {note}" for note in notes])
        rows = [" = ".join(chain)] + [rf"\to [{n}]:\ {c}" for n, c in sends]
        if step.is_target:
            rows.append(rf"\text{{the gradient }} \partial {cost}/\partial {_name(step.name, fmt)}")
        rows += [rf"\text{{where }} {note}" for note in notes]
        if fmt == "latex":
            return " \\\\\n".join([rf"&\textbf{{[{step.number}]}}\quad {label}"] + [rf"&\qquad {r}" for r in rows])
        return f"{step.number}. ${label}$" + "".join(f"  \n    ${r}$" for r in rows)


def _is_shared_name(name: str) -> bool:
    """Named nodes and element counts are defined once per document; ``t1``-style names are per formula."""
    return not (name.startswith("t") and name[1:].isdigit())


def _name(name: str, fmt: str) -> str:
    return name if fmt == "text" else latex_of(sp.Symbol(name))


def _adjoint_placeholder(name: str, node: sp.Basic) -> sp.Expr:
    """A symbol standing for ``node``'s adjoint, with ``node``'s shape and dtype
    (a scalar symbol broadcast to the shape: it prints as its name)."""
    dtype = value_dtype(node)
    return BroadcastTo.make(TensorVar(name, (), dtype), shape_of(node), dtype=dtype)


def explain(cost: Tensor, wrt: Tensor | Sequence[Tensor]) -> Explanation:
    """The reverse accumulation of d ``cost`` / d ``wrt``, one step per distinct node."""
    cost = as_tensor(cost)
    if shape_of(cost.expr) != ():
        raise ValueError(f"explain: the cost must be a scalar, got shape {fmt_shape(shape_of(cost.expr))}")
    if cost.dtype not in FLOAT_DTYPES:
        raise TypeError(f"explain: the cost must be a float, got dtype {cost.dtype}")
    targets = [as_tensor(t) for t in ([wrt] if isinstance(wrt, Tensor) else wrt)]
    cost_expr, placeholders = _isolate_targets(cost.expr, [t.expr for t in targets])
    records = []
    reverse_accumulate(cost_expr, placeholders, on_step=lambda node, g, pushed: records.append((node, g, pushed)))

    cost_name = name_of(cost.expr) or "cost"
    numbers = {node: k + 1 for k, (node, _, _) in enumerate(records)}
    wanted = set(placeholders)
    incoming: dict = {}
    steps = []
    for node, g, pushed in records:
        k = numbers[node]
        name = cost_name if node is cost_expr else name_of(node)
        symbol = f"g_{name}" if name else f"g{k}"
        placeholder = _adjoint_placeholder(symbol, node)
        rules = local_vjps(node, placeholder, {operand for operand, _ in pushed}) if pushed else []
        parts = incoming.pop(node, None)
        steps.append(Step(k, node, name, symbol, None if parts is None else sp.Add(*parts), g,
                          [(numbers[operand], c) for operand, c in rules], node in wanted))
        for operand, contribution in rules:
            incoming.setdefault(operand, []).append(contribution)
    names = [name_of(t.expr) or f"wrt[{k}]" for k, t in enumerate(targets)]
    reached = {s.node for s in steps}
    for name, p in zip(names, placeholders):
        if p not in reached:
            raise ValueError(f"explain: the cost does not depend on {name!r}")
    return Explanation(cost_name, names, steps)
