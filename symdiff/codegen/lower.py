"""Lowering: SymPy graphs to the Python source of one Numba kernel.

The pass works on the distinct nodes of the graph (common subexpressions are
already shared by SymPy's structural equality):

1. *Schedule.*  Tensor ops (``@``, transpose, reshape, indexing, ...) produce
   arrays.  Elementwise nodes are inlined into the loop of the value that
   consumes them, so a whole elementwise region (with the reduction that may
   close it) runs as one loop nest over memory with no temporaries.  An
   elementwise node becomes its own array only when it is a result, feeds a
   tensor op, or is costly and consumed by several loops.
2. *Emit.*  Consecutive elementwise values and reductions over the same
   iteration shape share one loop nest (a value read only inside it stays a
   scalar and is never stored); operands
   are indexed by NumPy broadcasting (a size that is literally 1 reads index
   0).  Scalar temporaries hold values used twice inside one loop.

Transcendental functions lower to the vectorisable implementations of
:mod:`symdiff.codegen.fastmath` (or libm, see ``config.fast_math``); matrix
products to BLAS via :mod:`symdiff.codegen.blas`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from ..graph import functions as fn
from ..graph.nodes import (BroadcastTo, Concatenate, ConcatPart, Index, IndexAdjoint, LogSumExp, MatMul, Reduce, Reshape,
                           TensorOp, Transpose)
from ..graph.symbols import Count, Dim, TensorVar
from ..graph.types import same_shape, shape_of, value_dtype
from ..graph.walk import children, postorder
from ..printing import brief
from . import fastmath


class LoweringError(TypeError):
    """An expression that has no Numba lowering."""


@dataclass
class Config:
    """Code generation switches."""

    fast_math: bool = True  # vectorisable exp/log/...; False: plain libm calls
    parallel_threshold: int = 200_000  # loops over at least this many elements use prange; 0: never


config = Config()

# elementwise functions: SymPy class -> op name in fastmath's tables
_TRANSCENDENTAL = {
    sp.exp: "exp", sp.log: "log", log1p: "log1p", expm1: "expm1", sp.tanh: "tanh", fn.tanh: "tanh",
    fn.sigmoid: "sigmoid", fn.softplus: "softplus", sp.sinh: "sinh", sp.cosh: "cosh",
}
_LIBM = {sp.sin: "math.sin", sp.cos: "math.cos", sp.tan: "math.tan", sp.asin: "math.asin", sp.atan: "math.atan"}
_RELATIONAL = {sp.StrictLessThan: "<", sp.LessThan: "<=", sp.StrictGreaterThan: ">", sp.GreaterThan: ">=",
               sp.Eq: "==", sp.Ne: "!="}
_MAX_INLINE_DEPTH = 24
_MAX_PARALLEL_NESTS = 4
_REDUCE_INIT = {"sum": sp.S.Zero, "prod": sp.S.One, "max": -sp.oo, "min": sp.oo}


@dataclass
class Kernel:
    """Generated source and what the caller needs to know to call it."""

    source: str
    arg_vars: list  # TensorVars in argument order: inputs, then shared, then constants
    n_outputs: int
    scalar_outputs: list  # per output: True when it is returned as a Python scalar
    update_vars: list = field(default_factory=list)


def _cost(node, memo) -> int:
    """Rough cost of computing ``node`` inline (for deciding what to materialise)."""
    if node in memo:
        return memo[node]
    own = 20 if isinstance(node, sp.Function) or isinstance(node, sp.Pow) and not node.exp.is_Integer else 1
    total = own + sum(_cost(c, memo) for c in children(node) if _is_elementwise(c))
    memo[node] = total
    return total


def _is_elementwise(node) -> bool:
    """Nodes that lower to scalar code inside a loop (including broadcasts)."""
    if isinstance(node, BroadcastTo):
        return True
    return bool(children(node)) and not isinstance(node, TensorOp)


class _Namer:
    def __init__(self):
        self.used = set()

    def __call__(self, base: str) -> str:
        base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in base) or "v"
        # no "_<digit>": Numba names SSA versions "x.1" and legalises them to "x_1"
        base = re.sub(r"_+(?=\d)", "", base).rstrip("_") or "v"
        if base[0].isdigit():
            base = "v" + base
        name, k = base, 1
        while name in self.used or name in _RESERVED:
            k += 1
            name = f"{base}{k}"
        self.used.add(name)
        return name


_RESERVED = {"np", "math", "numba", "matmul", "kernel", "range", "min", "max", "abs", "float", "int", "lambda",
             "for", "in", "if", "else", "and", "or", "not", "return", "def", "is", "None", "True", "False", "del",
             "pass", "sum", "len"}


class KernelWriter:
    """Builds the source of one kernel for the given roots."""

    def __init__(self, outputs: list, updates: list, inputs: list, allow_parallel: bool = True):
        self.outputs = outputs
        self.inputs = inputs
        self.updates = updates  # [(shared TensorVar, expr)]
        self.roots = list(outputs) + [e for _, e in updates]
        self.order = postorder(self.roots)
        graph_vars = [n for n in self.order if isinstance(n, TensorVar)]
        for dim in (d for n in self.order for d in self._dims_in(n)):
            if dim.var not in graph_vars:
                graph_vars.append(dim.var)
        missing = [v for v in graph_vars if v.role == "input" and v not in inputs]
        if missing:
            names = ", ".join(repr(v.name) for v in missing)
            raise ValueError(f"function: the outputs depend on input(s) {names} that are not in the inputs list")
        shared = [v for v in graph_vars if v.role == "shared"] + [v for v, _ in updates if v not in graph_vars]
        constants = [v for v in graph_vars if v.role == "constant"]
        self.arg_vars = list(inputs) + shared + constants
        self.namer = _Namer()
        self.names = {v: self.namer(v.name) for v in self.arg_vars}
        self.lines: list = []
        self.constants: dict = {}
        self.scalars: set = set()  # materialised nodes held as scalars (shape ())
        self.allow_parallel = allow_parallel
        self.parallel_nests = 0  # loop nests that may run with prange

    @staticmethod
    def _dims_in(node):
        shape = shape_of(node)
        found = [d for dim in shape for d in dim.atoms(Dim)]
        if isinstance(node, (Dim, Count)):
            found += list(node.atoms(Dim)) if isinstance(node, Count) else [node]
        return found

    # ------------------------------------------------------------------ schedule
    def materialised(self) -> list:
        """Nodes that get a name (array or scalar), in evaluation order."""
        roots = set(self.roots)
        consumers: dict = {}
        for node in self.order:
            for c in children(node):
                consumers.setdefault(c, []).append(node)
        memo: dict = {}
        chosen = set()
        owners: dict = {}
        for node in reversed(self.order):
            if not _is_elementwise(node) and not isinstance(node, TensorOp):
                continue
            if isinstance(node, TensorOp) and not isinstance(node, BroadcastTo) or node in roots:
                chosen.add(node)
                owners[node] = {node}
                continue
            loops = set()
            for parent in consumers.get(node, []):
                if isinstance(parent, TensorOp) and not isinstance(parent, (BroadcastTo, Reduce)):
                    loops.add(None)  # feeds an op that needs an array
                else:
                    loops |= owners.get(parent, {parent})
            if None in loops or len(loops) > 1 and _cost(node, memo) >= 4:
                chosen.add(node)
                owners[node] = {node}
            else:
                owners[node] = loops
        self.consumers = consumers
        self.owners = owners
        # bound the nesting of inlined code (deep chains would exhaust Python's stack)
        depth: dict = {}
        for node in self.order:
            if _is_elementwise(node) and node not in chosen:
                depth[node] = 1 + max((depth.get(c, 0) for c in children(node) if c not in chosen), default=0)
                if depth[node] > _MAX_INLINE_DEPTH:
                    chosen.add(node)
                    depth[node] = 0
        return [n for n in self.order if n in chosen]

    # ------------------------------------------------------------------ scalar expressions
    def dim_code(self, dim: sp.Expr) -> str:
        """Python code for a (symbolic) size."""
        if dim.is_Symbol:  # already code
            return dim.name
        if dim.is_Integer:
            return str(int(dim))
        if isinstance(dim, Dim):
            return f"{self.names[dim.var]}.shape[{dim.axis}]"
        if isinstance(dim, Count):
            return "(" + " * ".join(self.dim_code(d) for d in dim.args) + ")"
        if isinstance(dim, sp.Add):
            return "(" + " + ".join(self.dim_code(a) for a in dim.args) + ")"
        if isinstance(dim, sp.Mul):
            num, den = sp.fraction(dim)
            parts = [self.dim_code(a) for a in sp.Mul.make_args(num)]
            code = "(" + " * ".join(parts) + ")"
            return code if den == 1 else f"({code} // {self.dim_code(den)})"
        raise LoweringError(f"cannot lower the size expression {dim}")

    def number(self, value: sp.Expr, dtype: str) -> str:
        if value.is_Integer and dtype == "float64":
            return f"{int(value)}.0"
        if value in (sp.oo, -sp.oo):
            text = "np.inf" if value == sp.oo else "-np.inf"
        elif value.is_Integer:
            text = f"{int(value)}.0"
        else:
            text = repr(float(value))
        if dtype == "float32":
            key = (text, dtype)
            if key not in self.constants:
                self.constants[key] = self.namer("c")
            return self.constants[key]
        return text

    def scalar(self, node, index: tuple, ctx: dict) -> str:
        """Code for the value of ``node`` at loop position ``index`` (one entry per axis
        of ``node``: an index variable or ``"0"``), inside the current loop body."""
        key = (node, index)
        if key in ctx["temps"]:
            return ctx["temps"][key]
        dtype = ctx["dtype"]
        if node in ctx["arrays"]:
            name = ctx["arrays"][node]
            if node in self.scalars:
                return name
            return f"{name}[{', '.join(index)}]" if index else f"{name}[()]"
        if isinstance(node, (Dim, Count)):
            return f"{dtype_cast(dtype)}({self.dim_code(node)})"
        if node.is_Number or node.is_NumberSymbol:
            return self.number(sp.Float(node, 17) if node.is_NumberSymbol else node, dtype)
        if isinstance(node, sp.logic.boolalg.BooleanAtom):
            return "True" if node else "False"
        code = self.scalar_op(node, index, ctx)
        if ctx["uses"].get(node, 0) > 1 and children(node):
            temp = self.namer("s")
            ctx["body"].append(f"{temp} = {code}")
            code = temp
        ctx["temps"][key] = code
        return code

    def operand(self, child, parent_index: tuple, ctx: dict, aligned=None) -> str:
        """Code for ``child`` read at the broadcast position of its parent's ``parent_index``."""
        shape = aligned if aligned is not None else shape_of(child)
        lead = len(parent_index) - len(shape)
        index = tuple("0" if n == 1 else parent_index[lead + j] for j, n in enumerate(shape))
        return self.scalar(child, index, ctx)

    def scalar_op(self, node, index, ctx) -> str:
        arg = lambda c: self.operand(c, index, ctx)  # noqa: E731
        dtype = ctx["dtype"]
        if isinstance(node, BroadcastTo):
            aligned = node.aligned_shape
            inner = tuple(i for k, i in enumerate(index[len(index) - len(aligned):]) if k not in node.new_axes)
            inner_shape = shape_of(node.x)
            sub = tuple("0" if n == 1 else i for n, i in zip(inner_shape, inner))
            return self.scalar(node.x, sub, ctx)
        if isinstance(node, sp.Add):
            return "(" + " + ".join(arg(a) for a in node.args) + ")"
        if isinstance(node, sp.Mul):
            num = [a for a in node.args if not (isinstance(a, sp.Pow) and a.exp == -1)]
            den = [a.base for a in node.args if isinstance(a, sp.Pow) and a.exp == -1]
            code = " * ".join(arg(a) for a in num) or self.number(sp.S.One, dtype)
            if den:
                code = f"{code} / ({' * '.join(arg(a) for a in den)})"
            return f"({code})"
        if isinstance(node, sp.Pow):
            base, exp = node.args
            b = arg(base)
            if exp.is_Integer and 1 <= abs(int(exp)) <= 4:
                prod = " * ".join([b] * abs(int(exp)))
                return f"({prod})" if exp > 0 else f"({self.number(sp.S.One, dtype)} / ({prod}))"
            if exp == sp.S.Half:
                return f"math.sqrt({b})"
            if exp == -sp.S.Half:
                return f"({self.number(sp.S.One, dtype)} / math.sqrt({b}))"
            return f"({b} ** {arg(exp)})"
        if isinstance(node, sp.Piecewise):
            code = None
            for value, cond in reversed(node.args):
                v = arg(value)
                code = v if cond == sp.true else f"({v} if {arg(cond)} else {code})"
            return code
        if isinstance(node, sp.core.relational.Relational):
            return f"({arg(node.lhs)} {_RELATIONAL[type(node)]} {arg(node.rhs)})"
        if isinstance(node, sp.ITE):
            c, a, b = (arg(x) for x in node.args)
            return f"({a} if {c} else {b})"
        if isinstance(node, sp.And):
            return "(" + " and ".join(arg(a) for a in node.args) + ")"
        if isinstance(node, sp.Or):
            return "(" + " or ".join(arg(a) for a in node.args) + ")"
        if isinstance(node, sp.Not):
            return f"(not {arg(node.args[0])})"
        func = type(node)
        if func in _TRANSCENDENTAL:
            table = fastmath.FAST if config.fast_math else fastmath.LIBM
            return f"{table[_TRANSCENDENTAL[func]]}({arg(node.args[0])})"
        if func in _LIBM:
            return f"{_LIBM[func]}({arg(node.args[0])})"
        if func is sp.Abs:
            return f"abs({arg(node.args[0])})"
        if func is sp.sign:
            x = arg(node.args[0])
            return f"({dtype_cast(dtype)}({x} > 0) - {dtype_cast(dtype)}({x} < 0))"
        if func is fn.relu:
            x = arg(node.args[0])
            zero = self.number(sp.S.Zero, dtype)
            return f"({x} if {x} > {zero} else {zero})"
        if func is fn.same:
            a, b = (arg(x) for x in node.args)
            return f"({self.number(sp.S.One, dtype)} if {a} == {b} else {self.number(sp.S.Zero, dtype)})"
        if func is fn.step:
            return f"({self.number(sp.S.One, dtype)} if {arg(node.args[0])} > 0 else {self.number(sp.S.Zero, dtype)})"
        raise LoweringError(f"no Numba lowering for {func.__name__} (in {brief(node)})")

    # ------------------------------------------------------------------ loop nests
    def loop_nest(self, shape: tuple, body: list, indent: int = 1, parallel: bool = False) -> list:
        """A loop nest over ``shape`` running ``body``.  With ``parallel`` (the outer
        iterations are independent), a large nest runs its outer loop with ``prange``
        across cores; small ones stay serial, where threads cost more than they give."""
        if parallel and self.allow_parallel and config.parallel_threshold and shape and not _statically_small(shape):
            self.parallel_nests += 1
            size = " * ".join(self.dim_code(n) for n in shape)
            return (
                [f"{'    ' * indent}if {size} >= {config.parallel_threshold}:"]
                + self._nest(shape, body, indent + 1, "numba.prange")
                + [f"{'    ' * indent}else:"]
                + self._nest(shape, body, indent + 1, "range")
            )
        return self._nest(shape, body, indent, "range")

    def _nest(self, shape: tuple, body: list, indent: int, outer: str) -> list:
        lines, pad = [], "    " * indent
        for k, n in enumerate(shape):
            lines.append(pad + "    " * k + f"for i{k} in {outer if k == 0 else 'range'}({self.dim_code(n)}):")
        inner = pad + "    " * len(shape)
        return lines + [inner + b for b in body]

    def new_ctx(self, root, dtype: str, arrays: dict) -> dict:
        uses: dict = {}
        seen = set()
        stack = [root]
        while stack:
            node = stack.pop()
            for c in children(node) if node is root or node not in arrays else ():
                uses[c] = uses.get(c, 0) + 1
                if c not in seen and _is_elementwise(c) and c not in arrays:
                    seen.add(c)
                    stack.append(c)
        return {"temps": {}, "body": [], "dtype": dtype, "arrays": arrays, "uses": uses}

    def emit_scalar(self, node, name: str, arrays: dict) -> None:
        """A 0-d elementwise value: plain scalar code, no loop."""
        dtype = value_dtype(node)
        ctx = self.new_ctx(node, dtype if dtype != "bool" else "float64", arrays)
        value = self.scalar_op(node, (), ctx)
        self.lines += ["    " + b for b in ctx["body"]] + [f"    {name} = {value}"]
        self.scalars.add(node)

    def loop_groups(self, nodes: list) -> list:
        """Schedule materialised nodes into groups that share one loop nest: elementwise
        values and reductions over the same iteration shape and dtype, where no member
        reads a reduction still being accumulated in the group.  Among the nodes whose
        inputs are ready, one that can join the current group goes first."""
        reads = {n: self.inline_inputs(n) & self.chosen for n in nodes}
        remaining, done, groups = list(nodes), set(), []
        while remaining:
            ready = [n for n in remaining if reads[n] <= done]
            last = groups[-1] if groups else None
            node = next((n for n in ready if last and self._joins(n, last, reads[n])), ready[0])
            if last and self._joins(node, last, reads[node]):
                last.append(node)
            else:
                groups.append([node])
            remaining.remove(node)
            done.add(node)
        return groups

    @staticmethod
    def _joins(node, group: list, node_reads: set) -> bool:
        space, first = _iteration_shape(node), _iteration_shape(group[0])
        return (
            space is not None
            and first is not None
            and same_shape(first, space)
            and value_dtype(group[0]) == value_dtype(node)
            and not any(isinstance(m, Reduce) and m in node_reads for m in group)
        )

    def inline_inputs(self, node) -> set:
        """What ``node``'s own code reads: materialised values and variables, seen
        through the operands it inlines."""
        found, stack, seen = set(), list(children(node)), set()
        while stack:
            c = stack.pop()
            if c in seen:
                continue
            seen.add(c)
            if c in self.chosen or isinstance(c, TensorVar):
                found.add(c)
            elif _is_elementwise(c):
                stack.extend(children(c))
        return found

    def writes_in_place(self, schedule: list) -> dict:
        """Update values that can be written straight into their shared variable:
        ``{value node: variable}``.  Safe when the value is computed elementwise over
        exactly the variable's shape, is used for nothing else, and nothing computed
        after it reads the variable (its own loop reads only the same element)."""
        roots = list(self.outputs) + [e for _, e in self.updates]
        found = {}
        for var, expr in self.updates:
            if (
                expr in self.chosen
                and _is_elementwise(expr)
                and roots.count(expr) == 1
                and not self.consumers.get(expr)
                and var.static_shape
                and same_shape(shape_of(expr), shape_of(var))
                and not any(var in self.inline_inputs(n) for n in schedule[schedule.index(expr) + 1:])
            ):
                found[expr] = var
        return found

    def needs_array(self, node, members: set) -> bool:
        """Whether a loop member's value is read outside its own loop nest."""
        if node in self.roots:
            return True
        pending, seen = list(self.consumers.get(node, [])), set()
        while pending:
            parent = pending.pop()
            if parent in seen or parent in members:
                continue
            seen.add(parent)
            if parent in self.chosen or not _is_elementwise(parent):
                return True
            if not self.owners.get(parent, set()) <= members:
                return True
        return False

    def emit_group(self, members: list, arrays: dict) -> None:
        """One loop nest computing every member: elementwise values (kept as scalars
        inside the loop, stored only if read elsewhere) and reductions."""
        space = _iteration_shape(members[0])
        dtype = value_dtype(members[0])
        member_set = set(members)
        index = tuple(f"i{k}" for k in range(len(space)))
        read_index = tuple("0" if n == 1 else i for n, i in zip(space, index))  # how operands index a member
        ctx = {"temps": {}, "body": [], "dtype": dtype if dtype != "bool" else "float64", "arrays": arrays, "uses": {}}
        for m in members:
            for k, v in self.new_ctx(m, ctx["dtype"], arrays)["uses"].items():
                ctx["uses"][k] = ctx["uses"].get(k, 0) + v
        parallel = True
        for m in members:
            name = arrays[m]
            self.lines.append(f"    # {name} = {brief(m)}")
            if isinstance(m, Reduce):
                parallel &= not shape_of(m) and m.kind in ("sum", "prod")
                value = self.operand(m.args[0], index, ctx)
                target = self.reduction_target(m, name, index)
                v = self.namer("v")
                ctx["body"].append(f"{v} = {value}")
                ctx["body"].append({
                    "sum": f"{target} += {v}",
                    "prod": f"{target} *= {v}",
                    "max": f"{target} = {v} if ({v} > {target} or {v} != {v}) else {target}",
                    "min": f"{target} = {v} if ({v} < {target} or {v} != {v}) else {target}",
                }[m.kind])
                continue
            value = self.scalar_op(m, index, ctx)
            if m in self.in_place:  # the new value of a shared variable, written where it is computed
                ctx["body"].append(f"{self.names[self.in_place[m]]}[{', '.join(index)}] = {value}")
            elif self.needs_array(m, member_set):
                dims = ", ".join(self.dim_code(n) for n in space)
                self.lines.append(f"    {name} = np.empty(({dims},), dtype=np.{dtype if dtype != 'bool' else 'bool_'})")
                ctx["body"].append(f"{name}[{', '.join(index)}] = {value}")
                ctx["temps"][(m, index)] = ctx["temps"][(m, read_index)] = f"{name}[{', '.join(index)}]"
            else:
                temp = self.namer("s")
                ctx["body"].append(f"{temp} = {value}")
                ctx["temps"][(m, index)] = ctx["temps"][(m, read_index)] = temp
        self.lines += self.loop_nest(space, ctx["body"], parallel=parallel)

    def reduction_target(self, node: Reduce, name: str, index: tuple) -> str:
        """Declare the accumulator of a reduction; return the code it accumulates into."""
        init = self.number(_REDUCE_INIT[node.kind], value_dtype(node))
        if not shape_of(node):
            self.scalars.add(node)
            self.lines.append(f"    {name} = {init}")
            return name
        dims = ", ".join(self.dim_code(n) for n in shape_of(node))
        self.lines.append(f"    {name} = np.full(({dims},), {init}, dtype=np.{value_dtype(node)})")
        if node.keepdims:
            kept = ["0" if k in node.axes else i for k, i in enumerate(index)]
        else:
            kept = [i for k, i in enumerate(index) if k not in node.axes]
        return f"{name}[{', '.join(kept)}]"

    def emit_tensor_op(self, node: TensorOp, name: str, arrays: dict) -> None:
        ops = [arrays[o] for o in node.operands]
        if any(o in self.scalars for o in node.operands) and not isinstance(node, IndexAdjoint):
            raise LoweringError(f"{type(node).__name__} of a scalar is not supported")
        dtype = value_dtype(node)
        if isinstance(node, MatMul):
            a, b = node.operands
            ca, cb = self.cast(ops[0], value_dtype(a), dtype), self.cast(ops[1], value_dtype(b), dtype)
            line = f"{name} = matmul({ca}, {cb})"
            if not shape_of(node):
                self.scalars.add(node)  # vector . vector is a scalar
        elif isinstance(node, Transpose):
            reverse = node.perm == tuple(reversed(range(len(node.perm))))
            line = f"{name} = {ops[0]}.T" if reverse else f"{name} = np.transpose({ops[0]}, {node.perm})"
        elif isinstance(node, Reshape):
            dims = ", ".join(self.dim_code(d) for d in node.dims)
            line = f"{name} = np.ascontiguousarray({ops[0]}).reshape(({dims},))"
            if not node.dims:
                line = f"{name} = {ops[0]}.ravel()[0]"
                self.scalars.add(node)
        elif isinstance(node, Index):
            line = f"{name} = {ops[0]}[{_index_code(node.index)}]"
            if not shape_of(node):
                self.scalars.add(node)
        elif isinstance(node, IndexAdjoint):
            dims = ", ".join(self.dim_code(d) for d in node.dims)
            line = f"{name} = np.zeros(({dims},), dtype=np.{dtype})\n    {name}[{_index_code(node.index)}] = {ops[0]}"
        elif isinstance(node, Concatenate):
            parts = ", ".join(self.cast(o, value_dtype(p), dtype) for o, p in zip(ops, node.operands))
            line = f"{name} = np.concatenate(({parts},), axis={node.axis})"
        elif isinstance(node, ConcatPart):
            start = " + ".join(self.dim_code(d) for d in node.lengths[: node.part]) or "0"
            cut = ":, " * node.axis + f"{start}:({start}) + {self.dim_code(node.lengths[node.part])}"
            line = f"{name} = {ops[0]}[{cut}]"
        elif isinstance(node, LogSumExp):
            line = self.logsumexp_code(node, name, ops[0])
        else:
            raise LoweringError(f"no Numba lowering for {type(node).__name__}")
        self.lines.append("    " + line)

    def logsumexp_code(self, node: LogSumExp, name: str, x: str) -> str:
        xshape = shape_of(node.args[0])
        kept = [k for k in range(len(xshape)) if k not in node.axes]
        perm = tuple(kept) + node.axes
        rows = self.dim_code(Count.make([xshape[k] for k in kept])) if kept else "1"
        cols = self.dim_code(Count.make([xshape[k] for k in node.axes]))
        out_dims = ", ".join(self.dim_code(d) for d in shape_of(node))
        flat = f"np.ascontiguousarray({x}.transpose({perm})).reshape(({rows}, {cols}))"
        if not shape_of(node):
            self.scalars.add(node)
            return f"{name} = logsumexp_rows({flat})[0]"
        return f"{name} = logsumexp_rows({flat}).reshape(({out_dims},))"

    def cast(self, code: str, have: str, want: str) -> str:
        return code if have == want else f"{code}.astype(np.{want})"

    # ------------------------------------------------------------------ whole kernel
    def write(self) -> Kernel:
        arrays = {v: self.names[v] for v in self.arg_vars}
        for v in self.arg_vars:  # 0-d inputs read once, as scalars (prange bodies cannot index them)
            if not v.static_shape:
                arrays[v] = self.namer(f"{self.names[v]}_value")
                self.scalars.add(v)
                self.lines.append(f"    {arrays[v]} = {self.names[v]}[()]")
        nodes = self.materialised()
        self.chosen = set(nodes)
        groups = self.loop_groups(nodes)
        self.in_place = self.writes_in_place([n for g in groups for n in g])
        for group in groups:
            for node in group:
                arrays[node] = self.namer(_node_name(node))
            if _iteration_shape(group[0]) is not None:
                self.emit_group(group, arrays)
                continue
            node, name = group[0], arrays[group[0]]
            self.lines.append(f"    # {name} = {brief(node)}")
            if isinstance(node, TensorOp) and not isinstance(node, BroadcastTo):
                self.emit_tensor_op(node, name, arrays)
            else:
                self.emit_scalar(node, name, arrays)
        results = []
        scalar_outputs = []
        for out in self.outputs:
            results.append(self.value_of(out, arrays))
            scalar_outputs.append(not shape_of(out))
        # updates are simultaneous: every new value is computed before any is written
        updates = [(var, expr) for var, expr in self.updates if expr not in self.in_place]
        for var, expr in updates:
            value = self.value_of(expr, arrays)
            copy = ".copy()" if expr in self.arg_vars and shape_of(expr) else ""
            self.lines.append(f"    new_{self.names[var]} = {value}{copy}")
        for var, expr in updates:  # element loops: slice assignment is slow to compile
            target = self.names[var]
            ndim = len(var.static_shape)
            dims = tuple(sp.Symbol(f"{target}.shape[{k}]") for k in range(ndim))
            index = [f"i{k}" for k in range(ndim)]
            lead = ndim - len(shape_of(expr))
            source_index = ", ".join(index[lead + k] if n != 1 else "0" for k, n in enumerate(shape_of(expr)))
            value = f"new_{target}[{source_index}]" if shape_of(expr) else f"new_{target}"
            self.lines += self.loop_nest(dims, [f"{target}[{', '.join(index) or '()'}] = {value}"])
        self.lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
        args = ", ".join(self.names[v] for v in self.arg_vars)
        consts = [f"{name} = np.float32({text})" for (text, _), name in self.constants.items()]
        header = [
            "# Generated by symdiff: one fused kernel for the graph below.",
            "import math",
            "import numba",
            "import numpy as np",
            "from symdiff.codegen.fastmath import *  # noqa: F401,F403",
            "from symdiff.codegen.blas import matmul  # noqa: F401",
            "from symdiff.codegen.support import logsumexp_rows, rows_of  # noqa: F401",
            "",
            *consts,
            "",
            "",
            f"@numba.njit(cache=True, nogil=True, error_model='numpy'{', parallel=True' if self.parallel_nests else ''})",
            f"def kernel({args}):",
        ]
        source = "\n".join(header + self.lines) + "\n" + self.loop_source(scalar_outputs)
        return Kernel(source, self.arg_vars, len(self.outputs), scalar_outputs, [v for v, _ in self.updates])

    def loop_source(self, scalar_outputs: list) -> str:
        """Source of ``loop``: ``n_steps`` calls of ``kernel`` in one compiled call, feeding
        each step the next ``batch`` rows of the inputs (wrapping around; ``batch`` 0
        means whole inputs), with each output stacked over the steps."""
        n_in = len(self.inputs)
        inputs = [self.names[v] for v in self.arg_vars[:n_in]]
        rest = [self.names[v] for v in self.arg_vars[n_in:]]
        batched = [f"rows_of({x}, first, batch)" if v.static_shape else x for x, v in zip(inputs, self.arg_vars)]
        call = f"kernel({', '.join(batched + rest)})"
        outs = [f"out{k}" for k in range(len(scalar_outputs))]
        lines = [
            "",
            "",
            "@numba.njit(cache=True, nogil=True)",
            f"def loop(n_steps, offset, batch, {', '.join(inputs + rest)}):",
        ]
        if inputs and any(v.static_shape for v in self.arg_vars[:n_in]):
            n_rows = next(x for x, v in zip(inputs, self.arg_vars) if v.static_shape)
            lines.append(f"    first = (offset * batch) % max({n_rows}.shape[0], 1)")
        else:
            lines.append("    first = 0")
        lines.append(f"    result = {call}")
        for k, (out, scalar) in enumerate(zip(outs, scalar_outputs)):
            if scalar:
                lines.append(f"    {out} = np.empty(n_steps, dtype=np.asarray(result[{k}]).dtype)")
            else:
                lines.append(f"    {out} = np.empty((n_steps,) + result[{k}].shape, dtype=result[{k}].dtype)")
            lines.append(f"    {out}[0] = result[{k}]")
        lines.append("    for step in range(1, n_steps):")
        if inputs and any(v.static_shape for v in self.arg_vars[:n_in]):
            lines.append(f"        first = ((offset + step) * batch) % max({n_rows}.shape[0], 1)")
        lines.append(f"        result = {call}")
        lines += [f"        {out}[step] = result[{k}]" for k, out in enumerate(outs)]
        lines.append(f"    return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
        return "\n".join(lines) + "\n"

    def value_of(self, expr, arrays) -> str:
        """Code for a root's value (a materialised name, or an inline constant/size)."""
        if expr in arrays:
            return arrays[expr]
        if isinstance(expr, (Dim, Count)):
            return f"np.float64({self.dim_code(expr)})"
        if expr.is_Number or expr.is_NumberSymbol:
            return f"np.{value_dtype(expr)}({float(expr)!r})"
        raise LoweringError(f"cannot lower output {brief(expr)}")


def _iteration_shape(node) -> tuple | None:
    """The loop a node is computed by, if it can share one: its own shape for an
    elementwise array, its operand's shape for a reduction; ``None`` otherwise."""
    if isinstance(node, Reduce):
        return shape_of(node.args[0])
    if _is_elementwise(node) and shape_of(node):
        return shape_of(node)
    return None


def _statically_small(shape: tuple) -> bool:
    size = sp.Mul(*shape)
    return bool(size.is_Integer and size < config.parallel_threshold)


def dtype_cast(dtype: str) -> str:
    return {"float32": "np.float32", "float64": "np.float64", "bool": "np.float64"}[dtype]


def _index_code(index: tuple) -> str:
    def one(i):
        if isinstance(i, slice):
            return ":".join("" if v is None else str(v) for v in (i.start, i.stop, i.step))
        return str(i)

    return ", ".join(one(i) for i in index) + ("," if len(index) == 1 else "")


def _node_name(node) -> str:
    from ..graph.symbols import name_of

    name = name_of(node)
    if name:
        return name
    if isinstance(node, TensorOp):
        return type(node).__name__.lower()
    return "t"


def generate_kernel(outputs: list, updates: list, inputs: list) -> Kernel:
    """Source of a kernel computing ``outputs`` and the ``updates`` (simultaneous)."""
    kernel = KernelWriter(outputs, updates, inputs).write()
    if kernel.source.count("numba.prange") > _MAX_PARALLEL_NESTS:
        # Numba's parallel passes cost about half a second per loop nest to compile:
        # worth it for a few big elementwise loops, not for a whole training step
        kernel = KernelWriter(outputs, updates, inputs, allow_parallel=False).write()
    return kernel
