"""The plan of a kernel: every decision about a compiled function, as data.

:func:`make_plan` runs pure passes over the graph and returns a :class:`Plan`
that tests can inspect without emitting code:

1. *materialise*: which nodes get a name (an array or a scalar); the rest
   are inlined as scalar code into the loop of the value that reads them;
2. *fuse*: materialised elementwise values and the reductions that close
   them, over one iteration space, share one loop nest (a member read only
   inside its nest stays a scalar and is never stored);
3. *in place*: which update values are written straight into their shared
   variable, proven safe by an alias analysis over views (transposes,
   slices, reshapes): nothing computed later reads the variable, and the
   value's own loop reads it only at the element it writes;
4. *copies*: outputs that alias a variable, and update values that alias an
   updated variable, are copied before any write, so updates are
   simultaneous and outputs show the values from before the call;
5. *parallel*: which loop nests may run their outer loop with ``prange``.

The emitter (:mod:`symdiff.codegen.emit`) then walks the plan.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..graph.node import Constant, Leaf, Node, Size, Variable
from ..graph.sizes import SizeFacts, is_static, size_product
from ..graph.walk import consumers, postorder
from ..ops.base import TensorOp
from ..ops.elementwise import Elementwise, Function, Pow
from ..ops.reductions import Reduce

MAX_INLINE_DEPTH = 24  # deeper inlined expressions are materialised (bounds the loop body's nesting)
MAX_PARALLEL_NESTS = 4  # Numba's parallel passes cost ~0.4 s of compile time per nest
MAX_NEST_MEMBERS = 16  # a loop nest computes at most this many values (bounds a function's size)
MAX_NEST_READS = 24  # and reads at most this many other values (bounds a piece's arguments)


@dataclass
class LoopNest:
    """One loop nest over ``space`` computing ``members`` in order."""

    space: tuple
    members: list
    stored: set = field(default_factory=set)  # ids of members written to arrays (read outside the nest)
    parallel: bool = False


@dataclass
class TensorStep:
    """A tensor op computed by its own lowering (matmul, transpose, softmax, ...)."""

    node: Node


@dataclass
class ScalarStep:
    """A 0-d elementwise value computed once, without a loop."""

    node: Node


@dataclass
class Plan:
    """Everything the emitter needs, decided."""

    inputs: list  # input Variables, in argument order
    shared: list  # shared Variables read or updated
    constants: list  # constant Variables
    outputs: list  # output nodes
    updates: list  # [(shared Variable, value node)]
    steps: list  # LoopNest | TensorStep | ScalarStep, in evaluation order
    in_place: dict  # {id(value node): shared Variable} written inside their loop
    copied: set  # ids of outputs / update values copied before the writes
    facts: SizeFacts
    scalars: set  # ids of materialised nodes held as scalars (0-d)

    @property
    def arg_vars(self) -> list:
        return self.inputs + self.shared + self.constants

    @property
    def materialised(self) -> list:
        out = []
        for step in self.steps:
            out.extend(step.members if isinstance(step, LoopNest) else [step.node])
        return out


def is_inline(node: Node) -> bool:
    """Nodes computed as scalar code at a loop position (elementwise ops)."""
    return isinstance(node, Elementwise)


def iteration_space(node: Node) -> tuple | None:
    """The loop a materialised node is computed by, if it can share one: its own
    shape for an elementwise array, its operand's shape for a reduction."""
    if isinstance(node, Reduce) and node.axes:
        return node.x.shape
    if is_inline(node) and node.shape:
        return node.shape
    return None


def _broadcast_into(shape: tuple, space: tuple) -> bool:
    """Whether a value of ``shape`` is read at more positions than it has in a loop over ``space``."""
    if len(shape) < len(space):
        return True
    return any(d == 1 and n != 1 for d, n in zip(shape[len(shape) - len(space):], space))


def _costs(order: list) -> dict:
    """Rough cost of computing each node inline (transcendental functions are dear),
    capped so that shared subexpressions of deep graphs cannot make it explode."""
    cost: dict = {}
    for node in order:
        own = 20 if isinstance(node, Function) or isinstance(node, Pow) and not isinstance(node.inputs[1], Constant) else 1
        cost[id(node)] = min(1000, own + sum(cost[id(c)] for c in node.inputs if is_inline(c)))
    return cost


def aliases(node: Node, memo: dict) -> frozenset:
    """The variables whose memory ``node``'s materialised value may share (views)."""
    if id(node) in memo:
        return memo[id(node)]
    if isinstance(node, Variable):
        found = frozenset([node])
    elif isinstance(node, TensorOp) and node.is_view:
        found = aliases(node.inputs[0], memo)
    else:
        found = frozenset()
    memo[id(node)] = found
    return found


class _Planner:
    def __init__(self, outputs, updates, inputs, parallel_threshold):
        self.outputs = list(outputs)
        self.updates = list(updates)
        self.roots = self.outputs + [v for _, v in self.updates]
        self.order = postorder(self.roots)
        self.consumers = consumers(self.order)
        self.facts = SizeFacts(c for n in self.order for c in n.constraints)
        for var, value in self.updates:  # the value must fill the variable
            lead = var.ndim - value.ndim
            for k, d in enumerate(value.shape):
                if d != 1:
                    self.facts.add(var.shape[lead + k], d)
        self.inputs = list(inputs)
        self.parallel_threshold = parallel_threshold
        self.alias_memo: dict = {}
        self.by_id = {id(n): n for n in self.order}

    # -- 1. materialise --------------------------------------------------------
    def materialise(self) -> list:
        roots = {id(r) for r in self.roots}
        cost = _costs(self.order)
        chosen: set = set()
        owners: dict = {}  # id(node) -> ids of the materialised nodes whose loops inline it
        for node in reversed(self.order):
            if isinstance(node, Leaf):
                continue
            if not is_inline(node) or id(node) in roots:
                chosen.add(id(node))
                owners[id(node)] = {id(node)}
                continue
            loops: set = set()
            for parent in self.consumers[id(node)]:
                if not is_inline(parent) and not (isinstance(parent, Reduce) and parent.axes):
                    loops.add(None)  # feeds a tensor op, which needs an array
                else:
                    loops |= owners.get(id(parent), {id(parent)})
            hoist = not node.shape and any(p.shape for p in self.consumers[id(node)])  # computed once, not per element
            spread = cost[id(node)] >= 4 and any(  # a dear value read along axes it does not have: store it once
                _broadcast_into(node.shape, iteration_space(self.by_id[o]) or self.by_id[o].shape)
                for o in loops if o is not None)
            if None in loops or (len(loops) > 1 and cost[id(node)] >= 4) or hoist or spread:
                chosen.add(id(node))
                owners[id(node)] = {id(node)}
            else:
                owners[id(node)] = loops
        depth: dict = {}
        for node in self.order:  # bound the nesting of inlined code
            if is_inline(node) and id(node) not in chosen:
                depth[id(node)] = 1 + max((depth.get(id(c), 0) for c in node.inputs if id(c) not in chosen), default=0)
                if depth[id(node)] > MAX_INLINE_DEPTH:
                    chosen.add(id(node))
                    depth[id(node)] = 0
        self.chosen = chosen
        return [n for n in self.order if id(n) in chosen]

    def reads(self, node: Node) -> set:
        """What ``node``'s own code reads: ids of materialised nodes and leaves, seen
        through the operands it inlines."""
        return {id(n) for n in self.reads_nodes(node)}

    def reads_nodes(self, node: Node) -> list:
        """Like :meth:`reads`, as nodes."""
        found, stack, seen = [], list(node.inputs), set()
        while stack:
            c = stack.pop()
            if id(c) in seen:
                continue
            seen.add(id(c))
            if id(c) in self.chosen or isinstance(c, Leaf):
                found.append(c)
            elif is_inline(c):
                stack.extend(c.inputs)
        return found

    # -- 2. fuse ---------------------------------------------------------------
    def fuse(self, nodes: list) -> list:
        inputs = {id(n): self.reads(n) for n in nodes}  # materialised values and leaves
        reads = {id(n): inputs[id(n)] & self.chosen for n in nodes}
        nest_inputs: dict = {}  # id(nest) -> what its members read (each other included)
        remaining, done, steps = list(nodes), set(), []

        def joins(n: Node, nest: LoopNest | None) -> bool:
            return nest is not None and self._joins(n, nest, reads[id(n)], nest_inputs[id(nest)] | inputs[id(n)])

        while remaining:
            ready = [n for n in remaining if reads[id(n)] <= done]
            last = steps[-1] if steps and isinstance(steps[-1], LoopNest) else None
            node = next((n for n in ready if joins(n, last)), ready[0])
            if joins(node, last):
                last.members.append(node)
                nest_inputs[id(last)] |= inputs[id(node)]
            elif iteration_space(node) is not None:
                steps.append(LoopNest(iteration_space(node), [node]))
                nest_inputs[id(steps[-1])] = set(inputs[id(node)])
            elif is_inline(node) or isinstance(node, Reduce):
                steps.append(ScalarStep(node))
            else:
                steps.append(TensorStep(node))
            remaining.remove(node)
            done.add(id(node))
        for step in steps:
            if isinstance(step, LoopNest):
                members = {id(m) for m in step.members}
                step.stored = {id(m) for m in step.members if not isinstance(m, Reduce) and self._read_outside(m, members)}
        return steps

    def _joins(self, node: Node, nest: LoopNest, node_reads: set, joint_inputs: set) -> bool:
        """Whether ``node`` can join ``nest`` (``joint_inputs``: what both would read)."""
        space = iteration_space(node)
        members = {id(m) for m in nest.members}
        return (
            space is not None
            and len(nest.members) < MAX_NEST_MEMBERS
            and len(joint_inputs - members) <= MAX_NEST_READS
            and self.facts.same_shape(space, nest.space)
            and not any(isinstance(m, Reduce) and id(m) in node_reads for m in nest.members)
        )

    def _read_outside(self, node: Node, members: set) -> bool:
        """Whether a nest member's value is needed outside its own loop nest."""
        if any(node is r for r in self.roots):
            return True
        pending, seen = list(self.consumers[id(node)]), set()
        while pending:
            parent = pending.pop()
            if id(parent) in seen or id(parent) in members:
                continue
            seen.add(id(parent))
            if id(parent) in self.chosen or not is_inline(parent):
                return True
            pending.extend(self.consumers[id(parent)])
        return False

    # -- 3./4. updates and copies ----------------------------------------------
    def alias_of(self, node: Node) -> frozenset:
        return aliases(node, self.alias_memo)

    def writes(self, steps: list) -> tuple:
        updated = {id(var) for var, _ in self.updates}
        order = [m for s in steps for m in (s.members if isinstance(s, LoopNest) else [s.node])]
        position = {id(m): k for k, m in enumerate(order)}
        nest_of = {id(m): s for s in steps if isinstance(s, LoopNest) for m in s.members}
        copied = set()
        for out in self.outputs:
            if self.alias_of(out):
                copied.add(id(out))
        for var, value in self.updates:
            if self.alias_of(value) & {v for v, _ in self.updates}:
                copied.add(id(value))
        in_place = {}
        for var, value in self.updates:
            if self._in_place_ok(var, value, order, position, nest_of, copied):
                in_place[id(value)] = var
        return in_place, copied

    def _reads_alias(self, node: Node, var: Variable) -> bool:
        return any(var in self.alias_of(r) for r in self.reads_nodes(node)) or (
            not is_inline(node) and any(var in self.alias_of(c) for c in node.inputs)
        )

    def _in_place_ok(self, var, value, order, position, nest_of, copied) -> bool:
        roots = [r for r in self.roots if r is value]
        nest = nest_of.get(id(value))
        if (
            nest is None
            or isinstance(value, Reduce)
            or len(roots) != 1
            or self.consumers[id(value)]
            or id(value) in copied
            or not var.static_shape
            or not self.facts.same_shape(value.shape, var.shape)
            or value.dtype != var.dtype
            or any(id(value) == id(v) for w, v in self.updates if w is not var)
        ):
            return False
        # its own code reads the variable only directly (same element), never through a view
        for r in self.reads_nodes(value):
            if var in self.alias_of(r) and r is not var:
                return False
        # members of its nest computed before it may read the variable at the element being
        # written (they read it before the write, in the same iteration); members after it,
        # and everything after the nest, must not read the variable
        members = nest.members
        mine = members.index(value)
        for m in members[:mine]:
            if any(var in self.alias_of(r) and r is not var for r in self.reads_nodes(m)):
                return False
        for m in members[mine + 1:]:
            if self._reads_alias(m, var):
                return False
        later = [n for n in order[position[id(value)] + 1:] if nest_of.get(id(n)) is not nest]
        if any(self._reads_alias(n, var) for n in later):
            return False
        if any(var in self.alias_of(o) for o in self.outputs):
            return False
        if any(var in self.alias_of(v) for w, v in self.updates if w is not var):
            return False  # another update's value is this variable or a view of it (b <- p): it reads p later
        if any(getattr(n, "may_raise", False) for n in later):
            return False  # a failed call must leave the variable untouched
        return True

    # -- 5. parallel -------------------------------------------------------------
    def parallelise(self, steps: list) -> None:
        if not self.parallel_threshold:
            return
        candidates = []
        for step in steps:
            if not isinstance(step, LoopNest):
                continue
            size = size_product(step.space)
            if is_static(size) and size < self.parallel_threshold:
                continue
            if all(not isinstance(m, Reduce) or (not m.shape and m.kind in ("sum", "prod")) for m in step.members):
                candidates.append(step)
        if len(candidates) <= MAX_PARALLEL_NESTS:
            for step in candidates:
                step.parallel = True


def make_plan(outputs: list, updates: list, inputs: list, parallel_threshold: int = 0) -> Plan:
    """Plan a kernel computing ``outputs`` and the ``updates`` (``[(shared var, value)]``)."""
    planner = _Planner(outputs, updates, inputs, parallel_threshold)
    nodes = planner.materialise()
    steps = planner.fuse(nodes)
    in_place, copied = planner.writes(steps)
    planner.parallelise(steps)
    graph_vars = [n for n in planner.order if isinstance(n, Variable)]
    for var, _ in updates:
        if all(var is not v for v in graph_vars):
            graph_vars.append(var)
    for n in planner.order:  # run-time sizes of variables that are not themselves read
        for d in n.shape:
            for dim in d.atoms(sp.Symbol) if not d.is_Integer else ():
                if hasattr(dim, "var") and all(dim.var is not v for v in graph_vars):
                    graph_vars.append(dim.var)
        if isinstance(n, Size):
            for dim in n.size.atoms(sp.Symbol):
                if hasattr(dim, "var") and all(dim.var is not v for v in graph_vars):
                    graph_vars.append(dim.var)
    missing = [v for v in graph_vars if v.role == "input" and all(v is not i for i in inputs)]
    if missing:
        names = ", ".join(repr(v.name) for v in missing)
        raise ValueError(f"function: the outputs depend on input(s) {names} that are not in the inputs list")
    shared = [v for v in graph_vars if v.role == "shared"]
    constants = [v for v in graph_vars if v.role == "constant"]
    scalars = {id(n) for n in nodes if not n.shape}
    return Plan(list(inputs), shared, constants, list(outputs), list(updates), steps, in_place, copied,
                planner.facts, scalars)
