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

An expression that is not a scalar gets the sweep of its Jacobian
(``sd.jacobian``): seeded with the identity, every adjoint carries the
expression's axes in front; each adjoint is shown with the identity folded
out as ``sd.jacobian`` folds it.  ``explain(sd.grad(loss, w), w)`` so shows
how the Hessian of ``loss`` is derived.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from ..grad import _cost_node, local_vjps, reverse_accumulate
from ..graph.node import Leaf, Node, Variable
from ..graph.sizes import SizeFacts, assuming
from ..graph.types import FLOAT_DTYPES, TensorType
from ..graph.walk import postorder
from ..ops import build as b
from ..printing import LatexFormulaPrinter, TextPrinter, formula
from ..derivatives import identity_seed
from ..rewrites.identity import fold_identity
from ..rewrites.stabilize import stabilize
from ..tensor import Tensor


@dataclass
class Step:
    """One node of the backward sweep."""

    number: int
    node: Node
    name: str | None  # the user's name for the node, if it has one
    symbol: str  # the name of the node's adjoint: g_yp, g7, ...
    received: Node | None  # the sum of its consumers' contributions, in their adjoints' names (None: the cost)
    adjoint: Node  # that sum as sd.grad built it, in the user's names
    sends: list  # [(operand's step number, contribution in this step's adjoint)]
    is_target: bool


class Explanation:
    """The steps of a backward sweep; ``str()`` is plain text, ``latex()`` and
    ``markdown()`` are documents (Jupyter shows the markdown)."""

    def __init__(self, cost_name: str, target_names: list, steps: list, jacobian: bool = False):
        self.jacobian = jacobian  # the sweep of a Jacobian (identity seed, batched adjoints)
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

    def _formula(self, node: Node, fmt: str, taken: set) -> tuple:
        """``node`` in the user's names (text or LaTeX), and its local ``where`` definitions.

        Named nodes and element counts are defined once for the whole document
        (a conflicting definition stays local); ``t1``-style names are local to
        a step: ``taken`` holds those its other formulas use, and gets this one's."""
        f = formula(node, reserved=frozenset(taken))
        local = []
        for name, definition in f.definitions:
            text = TextPrinter(f.names, definition).doprint(definition)
            if _is_shared_name(name):
                known = self._globals.setdefault(name, (text, _show(f, definition, "latex")))
                if known[0] == text:
                    continue
            local.append((name, definition))
        taken.update(n for n, _ in local)
        return _show(f, f.main, fmt), [(_name(n, fmt), _show(f, d, fmt)) for n, d in local]

    def _render(self, fmt: str) -> str:
        self._globals = {}
        body = [self._render_step(s, fmt) for s in self.steps]
        shared = [(_name(n, fmt), d[0] if fmt == "text" else d[1]) for n, d in sorted(self._globals.items())]
        cost, targets = _name(self.cost_name, fmt), ", ".join(_name(t, fmt) for t in self.target_names)
        if len(self.target_names) > 1:
            targets = f"({targets})"
        if fmt == "text":
            head = [
                f"Backward pass of d {cost}/d {targets}: {len(self.steps)} steps, from the cost back to the variables.",
                f"g_v is d {cost}/d v, the adjoint of v: the sum of what v's consumers send it (-> [k]: sent to step k).",
            ]
            if self.jacobian:
                head.insert(1, f"{cost} is not a scalar: this is the sweep of its Jacobian, seeded with the identity; "
                               f"each g_v has the axes of {cost} in front of those of v.")
            if shared:
                width = max(len(n) for n, _ in shared)
                head += ["where"] + [f"  {n.ljust(width)} = {d}" for n, d in shared]
            return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n"
        if fmt == "latex":
            rows = [(r"&\phantom{\text{where}}" if k else r"&\text{where}") + rf"\quad {n} = {d}" for k, (n, d) in enumerate(shared)]
            return "\\begin{align*}\n" + " \\\\\n".join(rows + body) + "\n\\end{align*}\n"
        head = [
            f"**Backward pass** of $\\partial {cost} / \\partial {targets}$: {len(self.steps)} steps, from the cost "
            f"back to the variables. $g_v$ is $\\partial {cost}/\\partial v$, the adjoint of $v$: the sum of what "
            "$v$'s consumers send it ($\\to [k]$: sent to step $k$).",
            "",
        ]
        if shared:
            head += ["where " + ", ".join(f"${n} = {d}$" for n, d in shared), ""]
        return "\n".join(head + body) + "\n"

    def _render_step(self, step: Step, fmt: str) -> str:
        cost = _name(self.cost_name, fmt)
        taken: set = set()  # the step's local names: each of its formulas gets fresh ones
        if isinstance(step.node, Variable):
            label, where = _name(step.node.name, fmt), []
        else:
            label, where = self._formula(step.node, fmt, taken)
            if step.name:
                label = f"{_name(step.name, fmt)} = {label}"
        before = set(taken)
        adjoint, where_adjoint = self._formula(step.adjoint, fmt, taken)
        chain = [_name(step.symbol, fmt)]
        if step.received is None:
            chain.append(f"d {cost}/d {cost}" if fmt == "text" else rf"\partial {cost}/\partial {cost}")
        elif self._formula(step.received, fmt, before)[0] != adjoint:  # (names as the adjoint's would be)
            received, where_received = self._formula(step.received, fmt, taken)
            chain.append(received)
            where_adjoint = where_received + where_adjoint
        chain.append(adjoint)
        sends = []
        for n, c in step.sends:
            text, where_sent = self._formula(c, fmt, taken)
            sends.append((n, text))
            where_adjoint += where_sent
        notes = [f"{n} = {d}" for n, d in where + where_adjoint]
        if fmt == "text":
            pad = "    "
            equation = " = ".join(chain)
            if len(equation) > 100:
                equation = f"\n{pad}{' ' * len(chain[0])} = ".join([chain[0] + " = " + chain[1]] + chain[2:])
            lines = [f"[{step.number}] {label}", pad + equation] + [f"{pad}-> [{n}]  {c}" for n, c in sends]
            if step.is_target:
                lines.append(f"{pad}the {'Jacobian' if self.jacobian else 'gradient'} d {cost}/d {step.name}")
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
    return name if fmt == "text" else LatexFormulaPrinter().doprint(sp.Symbol(name))


def _show(f, node: Node, fmt: str) -> str:
    printer = TextPrinter if fmt == "text" else LatexFormulaPrinter
    return printer(f.names, node).doprint(node)


class _Adjoint(Leaf):
    """A stand-in for a node's adjoint in the rules a step shows: it prints as its name."""

    params = ("label", "adjoint_type")

    def infer_type(self):
        return self.adjoint_type, ()

    def _sympystr(self, printer):
        return self.label

    def _latex(self, printer):
        return _name(self.label, "latex")


def explain(cost: Tensor, wrt: "Tensor | Sequence[Tensor]") -> Explanation:
    """The reverse accumulation of d ``cost`` / d ``wrt``, one step per distinct node
    (for a non-scalar ``cost``: of its Jacobian, see the module doc).

    >>> x = sd.vector("x")
    >>> len(sd.explain(sd.sum(sd.exp(x)), x))
    3
    """
    if not isinstance(cost, Tensor):
        raise TypeError(f"explain: the cost must be a symbolic tensor, got {type(cost).__name__}")
    cost_node = _cost_node(cost, "explain") if not cost.ndim else cost.node
    if cost_node.dtype not in FLOAT_DTYPES:
        raise TypeError(f"explain: the expression must be a float, got dtype {cost_node.dtype}")
    targets = [t for t in ([wrt] if isinstance(wrt, Tensor) else wrt)]
    for k, t in enumerate(targets):
        if not isinstance(t, Tensor):
            raise TypeError(f"explain: wrt[{k}] must be a symbolic tensor, got {type(t).__name__}")
    nodes = [t.node for t in targets]
    stable = stabilize([cost_node], keep=nodes)[0]
    facts = SizeFacts(c for n in postorder([stable]) for c in n.constraints)
    nb = stable.ndim  # a Jacobian: adjoints carry the expression's axes in front
    seed = identity_seed(stable) if nb else None
    records = []
    with assuming(facts):
        reverse_accumulate(stable, nodes, on_step=lambda node, g, pushed: records.append((node, g, pushed)),
                           facts=facts, seed=seed, nb=nb)
        batch = tuple(stable.shape)

        cost_name = cost_node.name or ("y" if nb else "cost")
        numbers = {id(node): k + 1 for k, (node, _, _) in enumerate(records)}
        wanted = {id(n) for n in nodes}
        incoming: dict = {}
        steps = []
        for node, g, pushed in records:
            k = numbers[id(node)]
            name = cost_name if node is stable else node.name
            symbol = f"g_{name}" if name else f"g{k}"
            adjoint_type = TensorType(node.dtype, batch + tuple(node.shape)) if nb else node.type
            placeholder = _Adjoint((), label=symbol, adjoint_type=adjoint_type)
            rules = local_vjps(node, placeholder, {id(operand) for operand, _ in pushed}, facts, nb) if pushed else []
            if nb:
                rules = list(zip([operand for operand, _ in rules], fold_identity([c for _, c in rules], facts)))
                g = fold_identity([g], facts)[0]
            parts = incoming.pop(id(node), None)
            steps.append(Step(k, node, name, symbol, None if parts is None else b.add_all(parts), g,
                              [(numbers[id(operand)], c) for operand, c in rules], id(node) in wanted))
            for operand, contribution in rules:
                incoming.setdefault(id(operand), []).append(contribution)
    names = [t.node.name or f"wrt[{k}]" for k, t in enumerate(targets)]
    reached = {id(s.node) for s in steps}
    for name, n in zip(names, nodes):
        if id(n) not in reached:
            raise ValueError(f"explain: the cost does not depend on {name!r}")
    return Explanation(cost_name, names, steps, jacobian=bool(nb))
