"""Emission: a :class:`~symdiff.codegen.plan.Plan` walked into kernel source.

Nothing is decided here that the plan has not decided: each step becomes
statements (a loop nest, a tensor op's own lowering, a scalar), then the
copies the plan asked for, the update writes, and the return.

A plan computing at most :data:`SPLIT_UNITS` values becomes one Numba function
(fastest to call).  A bigger one is *split*: each step becomes a small
Numba function, a *piece*, written with canonical names so that the same
step of a repeated structure (the same layer with other weights) has the
same source and is compiled once, within a kernel and through the disk
cache; a plain Python *driver* calls the pieces in order.  Numba's compile
time grows faster than linearly in a function's size; split, it grows with
the number of distinct pieces.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import sympy as sp

from ..graph.node import Constant, Node, Size
from ..graph.sizes import Dim
from ..ops.reductions import Reduce
from ..ops.shape import AxisSlice, Subtensor, Transpose, _Identity
from ..printing import brief
from .plan import LoopNest, Plan, ScalarStep, TensorStep, is_inline
from .scalar import Namer, ScalarPrinter, SizePrinter
from ..runtime.cache import source_digest

SPLIT_UNITS = 48  # plans computing more values than this are split into pieces


class LoweringError(TypeError):
    """An expression that has no Numba lowering (raised by ``sd.function``); a TypeError.

    >>> issubclass(sd.LoweringError, TypeError)
    True
    """


@dataclass
class Kernel:
    """Generated source and what the caller needs to call it."""

    source: str  # the kernel module (one Numba function, or the Python driver of pieces)
    plan: Plan
    arg_vars: list  # Variables in argument order: inputs, shared, constants
    scalar_outputs: list  # per output: True when the kernel returns a scalar
    pieces: list = field(default_factory=list)  # [(name in the driver, piece source, {signatures})] when split

    @property
    def n_outputs(self) -> int:
        return len(self.scalar_outputs)

    @property
    def split(self) -> bool:
        return bool(self.pieces)


NP_DTYPE = {"float32": "np.float32", "float64": "np.float64", "int32": "np.int32", "int64": "np.int64",
            "bool": "np.bool_"}
HEADER = [
    "import math",
    "import numba",
    "import numpy as np",
    "from symdiff.codegen.fastmath import *  # noqa: F401,F403",
    "from symdiff.codegen.blas import gemm, matmul  # noqa: F401",
    "from symdiff.codegen.support import *  # noqa: F401,F403",
]


class _OpContext:
    """What a tensor op's ``lower`` sees: its operands' code, its output name, sizes."""

    def __init__(self, writer: "StepWriter", node: Node, out: str):
        self.w = writer
        self.node = node
        self.out = out

    def arg(self, k: int, dtype: str | None = None) -> str:
        return self.w.value_code(self.node.inputs[k], dtype)

    def size(self, expr) -> str:
        return self.w.size(expr)


class StepWriter:
    """Writes the statements of plan steps.

    ``names`` maps ids of available values (arguments, computed nodes) to their
    code; ``scalars`` holds the ids of those that are scalars.  ``sizes`` prints
    size expressions.  ``comments``: precede each value by a comment in the
    user's names; ``user_names``: base local names on the user's names (pieces
    use neither, so that equal structure gives equal source).
    """

    def __init__(self, names: dict, scalars: set, sizes: SizePrinter, fast_math: bool, parallel: bool,
                 in_place: dict, comments: bool = True, user_names: bool = True):
        self.names = names
        self.scalars = scalars
        self.sizes = sizes
        self.fast_math = fast_math
        self.use_prange = parallel  # the plan's parallel nests run their outer loop with prange
        self.in_place = in_place
        self.comments = comments
        self.user_names = user_names
        self.namer = Namer()
        self.namer.used.update(names.values())
        self.constants: dict = {}
        self.lines: list = []
        self.parallel = False

    # -- small pieces -------------------------------------------------------------
    def size(self, expr) -> str:
        expr = sp.sympify(expr)
        if expr.is_Integer:
            return str(int(expr))
        code = self.sizes.doprint(expr)
        return code if expr.is_Symbol else f"({code})"

    def literal(self, value: sp.Expr, dtype: str) -> str:
        """A constant of ``dtype`` as code (float32 constants are named module constants)."""
        value = sp.sympify(value)
        if dtype == "bool":
            return "True" if value != 0 else "False"
        if dtype in ("int64", "int32"):
            if value in (sp.oo, -sp.oo):
                return "np.iinfo(np.int64).max" if value == sp.oo else "np.iinfo(np.int64).min"
            text = str(int(value)) if value.is_Integer else repr(float(value))
            return text if dtype == "int64" else f"np.int32({text})"
        if value == sp.oo:
            text = "np.inf"
        elif value == -sp.oo:
            text = "-np.inf"
        elif value is sp.nan:
            text = "np.nan"
        elif value.is_Integer:
            text = f"{int(value)}.0"
        else:
            text = repr(float(value))
        if dtype == "float32":
            if text not in self.constants:
                self.constants[text] = self.namer("c")
            return self.constants[text]
        return text

    def value_code(self, node: Node, dtype: str | None = None) -> str:
        """Code for a computed value, a variable, a constant or a size (cast to ``dtype``)."""
        if id(node) in self.names:
            code = self.names[id(node)]
        elif isinstance(node, Constant):
            return self.literal(node.value, dtype or node.dtype)
        elif isinstance(node, Size):
            code = f"np.int64({self.size(node.size)})"
        else:
            raise LoweringError(f"no value computed for {brief(node)}")
        if dtype is None or dtype == node.dtype:
            return code
        if node.shape:
            return f"{code}.astype({NP_DTYPE[dtype]})"
        return f"{NP_DTYPE[dtype]}({code})"

    def base_name(self, node: Node) -> str:
        if node.name and self.user_names:
            return node.name
        return type(node).__name__.lower() if not is_inline(node) else "t"

    def comment(self, name: str, node: Node) -> None:
        if self.comments:
            self.lines.append(f"    # {name} = {brief(node)}")

    # -- steps ---------------------------------------------------------------------
    def _uses(self, members: list) -> dict:
        """How often each inlined node is read within the bodies of ``members``."""
        uses: dict = {}
        for root in members:
            stack, seen = [root], set()
            while stack:
                node = stack.pop()
                for c in node.inputs:
                    uses[id(c)] = uses.get(id(c), 0) + 1
                    if id(c) not in seen and is_inline(c) and id(c) not in self.names:
                        seen.add(id(c))
                        stack.append(c)
        return uses

    def printer(self, members: list) -> ScalarPrinter:
        return ScalarPrinter(self, self.names, self.scalars, self._uses(members), self.fast_math)

    def step(self, step) -> None:
        if isinstance(step, LoopNest):
            self.emit_nest(step)
        elif isinstance(step, TensorStep):
            self.emit_tensor_op(step.node)
        else:
            self.emit_scalar(step.node)

    def emit_scalar(self, node: Node) -> None:
        if not is_inline(node):
            raise LoweringError(f"cannot compute {brief(node)} as a scalar")
        name = self.namer(self.base_name(node))
        p = self.printer([node])
        value = node._numba(p)
        self.comment(name, node)
        self.lines += ["    " + line for line in p.body] + [f"    {name} = {value}"]
        self.names[id(node)] = name
        self.scalars.add(id(node))

    def emit_tensor_op(self, node: Node) -> None:
        name = self.namer(self.base_name(node))
        self.comment(name, node)
        try:
            lines = node.lower(_OpContext(self, node, name))
        except NotImplementedError as e:
            raise LoweringError(f"no Numba lowering for {type(node).__name__} (in {brief(node)}): {e}") from e
        self.lines += ["    " + line for line in lines]
        self.names[id(node)] = name
        if not node.shape:
            self.scalars.add(id(node))

    def emit_nest(self, nest: LoopNest) -> None:
        space = nest.space
        index = tuple(f"i{k}" for k in range(len(space)))
        read_index = tuple("0" if n == 1 else i for n, i in zip(space, index))
        p = self.printer(nest.members)
        p.index = index
        for m in nest.members:
            name = self.namer(self.base_name(m))
            self.names[id(m)] = name
            self.comment(name, m)
            if isinstance(m, Reduce):
                value = p.code(m.x, index)
                if m.x.dtype != m.dtype:
                    value = p.cast(value, m.x.dtype, m.dtype)
                target = self.reduction_target(m, name, index)
                v = self.namer("v")
                p.body.append(f"{v} = {value}")
                p.body.append(m.accumulate(target, v))
                continue
            value = m._numba(p)
            if id(m) in self.in_place:
                p.body.append(f"{self.names[id(self.in_place[id(m)])]}[{', '.join(index)}] = {value}")
                del self.names[id(m)]
            elif id(m) in nest.stored:
                dims = ", ".join(self.size(n) for n in space)
                self.lines.append(f"    {name} = empty_array(({dims},), {NP_DTYPE[m.dtype]})")
                p.body.append(f"{name}[{', '.join(index)}] = {value}")
                cell = f"{name}[{', '.join(index)}]"
                p.set_value(m, index, cell)
                p.set_value(m, read_index, cell)
            else:
                temp = self.namer("s")
                p.body.append(f"{temp} = {value}")
                p.set_value(m, index, temp)
                p.set_value(m, read_index, temp)
                del self.names[id(m)]
        self.lines += self.loop(space, p.body, nest.parallel)

    def reduction_target(self, node: Reduce, name: str, index: tuple) -> str:
        """Declare the accumulator of a reduction; return the code it accumulates into."""
        init = self.literal(sp.sympify(Reduce.INIT[node.kind]), node.dtype)
        if not node.shape:
            self.scalars.add(id(node))
            self.lines.append(f"    {name} = {init}")
            return name
        dims = ", ".join(self.size(n) for n in node.shape)
        self.lines.append(f"    {name} = filled_array(({dims},), {init}, {NP_DTYPE[node.dtype]})")
        if node.keepdims:
            kept = ["0" if k in node.axes else i for k, i in enumerate(index)]
        else:
            kept = [i for k, i in enumerate(index) if k not in node.axes]
        return f"{name}[{', '.join(kept)}]"

    def loop(self, space: tuple, body: list, parallel: bool = False, indent: int = 1) -> list:
        """A loop nest over ``space`` running ``body`` (its outer loop a ``prange`` for a
        parallel nest in the parallel variant of a kernel)."""
        if parallel and self.use_prange:
            self.parallel = True
            return self.nest(space, body, indent, "numba.prange")
        return self.nest(space, body, indent, "range")

    def nest(self, space: tuple, body: list, indent: int, outer: str = "range") -> list:
        lines, pad = [], "    " * indent
        for k, n in enumerate(space):
            lines.append(pad + "    " * k + f"for i{k} in {outer if k == 0 else 'range'}({self.size(n)}):")
        inner = pad + "    " * len(space)
        return lines + [inner + line for line in body]

    def constant_lines(self) -> list:
        return [f"{name} = np.float32({text})" for text, name in self.constants.items()]

    def decorator(self) -> str:
        return f"@numba.njit(cache=True, nogil=True, error_model='numpy'{', parallel=True' if self.parallel else ''})"


# --------------------------------------------------------------------------- whole kernels


def _outputs_and_updates(w: StepWriter, plan: Plan, numpy_writes: bool) -> tuple:
    """Statements for the outputs (copied where the plan says) and the update writes;
    returns ``(results, scalar_outputs)``."""
    results, scalar_outputs = [], []
    for out in plan.outputs:
        code = _output_code(w, out)
        if id(out) in plan.copied and out.shape:
            copy = w.namer("out")
            w.lines.append(f"    {copy} = np.copy({code})  # the value from before the updates")
            code = copy
        results.append(code)
        scalar_outputs.append(not out.shape)
    staged = []
    for var, value in plan.updates:  # every value is computed before any is written
        if id(value) in plan.in_place:
            continue
        code = _output_code(w, value)
        if id(value) in plan.copied and value.shape:
            new = w.namer(f"new_{w.names[id(var)]}")
            w.lines.append(f"    {new} = np.copy({code})")
            code = new
        staged.append((var, value, code))
    for var, value, code in staged:
        target = w.arg_names[id(var)]
        if numpy_writes:
            w.lines.append(f"    {target}[...] = {code}")
            continue
        # element loops: slice assignment is slow to compile
        ndim = var.ndim
        index = [f"i{k}" for k in range(ndim)]
        lead = ndim - value.ndim
        source_index = ", ".join(index[lead + k] if n != 1 else "0" for k, n in enumerate(value.shape))
        read = f"{code}[{source_index}]" if value.shape and id(value) not in w.scalars else code
        dims = tuple(sp.Symbol(f"{target}.shape[{k}]") for k in range(ndim))
        w.lines += w.nest(dims, [f"{target}[{', '.join(index) or '()'}] = {read}"], 1)
    return results, scalar_outputs


def _output_code(w: StepWriter, node: Node) -> str:
    if id(node) in w.names:
        return w.names[id(node)]
    if isinstance(node, Constant):
        return f"{NP_DTYPE[node.dtype]}({w.literal(node.value, node.dtype)})"
    if isinstance(node, Size):
        return f"np.int64({w.size(node.size)})"
    raise LoweringError(f"cannot lower output {brief(node)}")


def _arguments(plan: Plan, w: StepWriter) -> None:
    """Name the arguments; 0-d arguments are read once, as scalars."""
    for v in plan.arg_vars:
        name = w.arg_names[id(v)]
        w.names[id(v)] = name
        if not v.static_shape:
            value = w.namer(f"{name}_value")
            w.lines.append(f"    {value} = {name}[()]")
            w.names[id(v)] = value
            w.scalars.add(id(v))


def _writer(plan: Plan, fast_math: bool, parallel: bool = False, **kwargs) -> StepWriter:
    namer = Namer()
    arg_names = {id(v): namer(v.name) for v in plan.arg_vars}
    w = StepWriter({}, set(), SizePrinter(arg_names), fast_math, parallel, plan.in_place, **kwargs)
    w.namer = namer
    w.arg_names = arg_names
    return w


def _kernel_function(plan: Plan, fast_math: bool, parallel: bool, name: str) -> tuple:
    """``(writer, source lines)`` of the whole plan as one Numba function ``name``."""
    w = _writer(plan, fast_math, parallel)
    _arguments(plan, w)
    for step in plan.steps:
        w.step(step)
    results, scalar_outputs = _outputs_and_updates(w, plan, numpy_writes=False)
    w.lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    args = ", ".join(w.arg_names[id(v)] for v in plan.arg_vars)
    return w, scalar_outputs, ["", "", w.decorator(), f"def {name}({args}):"] + w.lines


def emit_single(plan: Plan, fast_math: bool = True) -> Kernel:
    """The plan as one Numba function ``kernel`` (and ``loop``, which runs it n times).

    When the plan marks loop nests parallel, the module also holds
    ``kernel_parallel``, the same function with those nests' outer loops a
    ``prange``: the caller compiles it only for calls big enough to gain from it.
    """
    w, scalar_outputs, serial = _kernel_function(plan, fast_math, False, "kernel")
    constants = dict(w.constants)
    parts = serial + ["", loop_source(plan, w, scalar_outputs, "kernel", "loop")]
    if any(isinstance(s, LoopNest) and s.parallel for s in plan.steps):
        wp, _, parallel = _kernel_function(plan, fast_math, True, "kernel_parallel")
        constants.update(wp.constants)
        parts += parallel + ["", loop_source(plan, wp, scalar_outputs, "kernel_parallel", "loop_parallel")]
    consts = [f"{name} = np.float32({text})" for text, name in constants.items()]
    source = "\n".join(["# Generated by symdiff: one fused kernel for the graph below."] + HEADER + ["", *consts]
                       + parts)
    return Kernel(source, plan, plan.arg_vars, scalar_outputs)


def loop_source(plan: Plan, w: StepWriter, scalar_outputs: list, kernel: str = "kernel", name: str = "loop",
                compiled: bool = True) -> str:
    """Source of ``loop``: ``n_steps`` calls of ``kernel``, feeding each step the next
    ``batch`` rows of the inputs (wrapping around; ``batch`` 0 means whole inputs),
    with each output stacked over the steps; compiled with Numba when ``kernel`` is."""
    inputs = [w.arg_names[id(v)] for v in plan.inputs]
    rest = [w.arg_names[id(v)] for v in plan.shared + plan.constants]
    batched = [f"rows_of({x}, first, batch)" if v.static_shape else x for x, v in zip(inputs, plan.inputs)]
    call = f"{kernel}({', '.join(batched + rest)})"
    outs = [f"out{k}" for k in range(len(scalar_outputs))]
    lines = ["", ""] + (["@numba.njit(cache=True, nogil=True)"] if compiled else []) + [
        f"def {name}(n_steps, offset, batch, {', '.join(inputs + rest)}):"]
    rows = next((x for x, v in zip(inputs, plan.inputs) if v.static_shape), None)
    first = f"((offset + step) * batch) % max({rows}.shape[0], 1)" if rows else "0"
    lines += ["    step = 0", f"    first = {first}", f"    result = {call}"]

    def store(k: int, at: str) -> str:  # compiled: by element, an array assignment compiles Numba's broadcasting
        plain = scalar_outputs[k] or not compiled
        return f"{outs[k]}[{at}] = result[{k}]" if plain else f"store_step({outs[k]}, {at}, result[{k}])"

    allocate = "empty_array" if compiled else "np.empty"
    for k, (out, scalar, node) in enumerate(zip(outs, scalar_outputs, plan.outputs)):
        shape = "(n_steps,)" if scalar else f"(n_steps,) + result[{k}].shape"
        lines += [f"    {out} = {allocate}({shape}, {NP_DTYPE[node.dtype]})", f"    {store(k, '0')}"]
    lines += ["    for step in range(1, n_steps):", f"        first = {first}", f"        result = {call}"]
    lines += [f"        {store(k, 'step')}" for k in range(len(outs))]
    lines.append(f"    return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- split kernels


def _step_nodes(step) -> list:
    return step.members if isinstance(step, LoopNest) else [step.node]


def _step_reads(step, names: dict) -> list:
    """The available values (in ``names``) that a step's code reads, in a stable order."""
    found, seen = [], set()
    stack = list(reversed(_step_nodes(step)))
    members = {id(m) for m in _step_nodes(step)}
    while stack:
        node = stack.pop()
        for c in node.inputs:
            if id(c) in seen or id(c) in members:
                continue
            seen.add(id(c))
            if id(c) in names:
                found.append(c)
            elif is_inline(c):
                stack.append(c)
    return found


def _piece(steps: list, reads: list, scalars: set, plan: Plan, fast_math: bool, needed: set) -> tuple:
    """One chunk of steps as the source of a piece function with canonical names:
    ``(source, returned nodes, size atoms it takes, ids of scalar results, signature)``.
    It returns the values it computes that ``needed`` (ids) says are read later."""
    names = {id(n): f"a{k}" for k, n in enumerate(reads)}
    dims: dict = {}
    w = StepWriter(names, {id(n) for n in reads if id(n) in scalars}, SizePrinter({}, dims), fast_math,
                   False, plan.in_place, comments=False, user_names=False)
    for step in steps:
        w.step(step)
    returned = [m for step in steps for m in _step_nodes(step) if id(m) in w.names and id(m) in needed]
    body = list(w.lines)
    result = ", ".join(w.names[id(m)] for m in returned)
    body.append(f"    return ({result}{',' if len(returned) == 1 else ''})")
    args = [f"a{k}" for k in range(len(reads))] + list(dims.values())
    source = "\n".join(["# Generated by symdiff: one piece of a split kernel."] + HEADER + [
        "", *w.constant_lines(), "", "", w.decorator(), f"def piece({', '.join(args)}):"] + body) + "\n"
    signature = tuple(_numba_type(n, id(n) in scalars) for n in reads) + (_int64(),) * len(dims)
    return source, returned, list(dims), w.scalars, signature


def _numba_type(node: Node, scalar: bool):
    """The Numba type a piece receives for ``node``'s value: a scalar, or an array whose
    layout is C unless the value is a view (a transpose or a slice), read-only when it
    views a constant."""
    from numba import types

    dtype = getattr(types, "bool_" if node.dtype == "bool" else node.dtype)
    if scalar or not node.shape:
        return dtype
    while isinstance(node, _Identity):
        node = node.inputs[0]
    view = isinstance(node, (Transpose, Subtensor, AxisSlice))
    base = node
    while isinstance(base, (Transpose, Subtensor, AxisSlice, _Identity)):
        base = base.inputs[0]
    readonly = getattr(base, "role", None) == "constant"
    return types.Array(dtype, node.ndim, "A" if view else "C", readonly=readonly)


def _int64():
    from numba import types

    return types.int64


CHUNK_UNITS = 24  # a piece computes at most about this many values
CHUNK_READS = 48  # and reads at most about this many values computed outside it (its arguments)
PIECE_COST, UNIT_COST = 1.0, 0.1  # relative compile cost of a piece, and of each value in it


def _units(step) -> int:
    return len(step.members) if isinstance(step, LoopNest) else 1


def _chunks(signatures: list, units: list, reads: list) -> list:
    """Cut the steps into chunks ``[(start, stop)]`` so that repeated structure gives
    repeated chunks: among the rules "cut after every step whose signature is S" (for
    the frequent signatures S) and "cut only at the size caps" (values computed, and
    values read: ``reads[k]`` is the set of what step ``k`` reads), take the one whose
    distinct chunks cost least to compile."""
    counts: dict = {}
    for sig in signatures:
        counts[sig] = counts.get(sig, 0) + 1
    rules = [None] + sorted((s for s, c in counts.items() if c > 1), key=lambda s: -counts[s])[:8]
    best = None
    for rule in rules:
        chunks, start, size, inputs = [], 0, 0, set()
        for k, sig in enumerate(signatures):
            size += units[k]
            inputs |= reads[k]
            if sig == rule or size >= CHUNK_UNITS or len(inputs) >= CHUNK_READS or k == len(signatures) - 1:
                chunks.append((start, k + 1))
                start, size, inputs = k + 1, 0, set()
        distinct = {tuple(signatures[a:b]) for a, b in chunks}
        cost = sum(PIECE_COST + UNIT_COST * sum(units[signatures.index(s)] for s in chunk) for chunk in distinct)
        if best is None or cost < best[0]:
            best = (cost, chunks)
    return best[1]


def emit_split(plan: Plan, fast_math: bool = True) -> Kernel:
    """The plan as a Python driver calling Numba pieces, each a chunk of steps (see module
    doc); pieces run serially (a split kernel is many small steps)."""
    w = _writer(plan, fast_math)
    _arguments(plan, w)
    steps = plan.steps
    computed = {id(m) for step in steps for m in _step_nodes(step)}
    available = dict(w.names)
    available.update({key: "" for key in computed})
    scalars = set(w.scalars) | {id(m) for step in steps for m in _step_nodes(step) if not m.shape}
    step_reads = []
    for step in steps:
        reads = _step_reads(step, available)
        targets = [plan.in_place[id(m)] for m in _step_nodes(step) if id(m) in plan.in_place]
        step_reads.append(reads + [v for v in targets if all(v is not r for r in reads)])
    last_read: dict = {}
    for k, reads in enumerate(step_reads):
        for n in reads:
            last_read[id(n)] = k
    for root in plan.outputs + [v for _, v in plan.updates]:
        last_read[id(root)] = len(steps)
    signatures = [_piece([step], reads, scalars, plan, fast_math, computed)[0]
                  for step, reads in zip(steps, step_reads)]
    pieces: dict = {}  # source -> (driver name, {signatures})
    for start, stop in _chunks(signatures, [_units(s) for s in steps], [{id(n) for n in r} for r in step_reads]):
        chunk = steps[start:stop]
        inside = {id(m) for step in chunk for m in _step_nodes(step)}
        reads, seen = [], set()
        for r in step_reads[start:stop]:
            for n in r:
                if id(n) not in inside and id(n) not in seen:
                    seen.add(id(n))
                    reads.append(n)
        needed = {key for key in inside if last_read.get(key, -1) >= stop}
        source, returned, dims, piece_scalars, signature = _piece(chunk, reads, scalars, plan, fast_math, needed)
        if source not in pieces:
            pieces[source] = (f"piece_{hashlib.sha256(source.encode()).hexdigest()[:8]}", set())
        pieces[source][1].add(signature)
        call_args = [w.names[id(n)] for n in reads] + [w.size(d) for d in dims]
        outs = []
        for m in returned:
            name = w.namer(w.base_name(m))
            w.names[id(m)] = name
            if not m.shape or id(m) in piece_scalars:
                w.scalars.add(id(m))
            outs.append(name)
        for step in chunk:
            for m in _step_nodes(step):
                w.comment(w.names.get(id(m), "(inside the piece)"), m)
        target = f"{', '.join(outs)}{',' if len(outs) == 1 else ''}" if outs else "_"
        w.lines.append(f"    {target} = {pieces[source][0]}({', '.join(call_args)})")
    results, scalar_outputs = _outputs_and_updates(w, plan, numpy_writes=True)
    w.lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    args = ", ".join(w.arg_names[id(v)] for v in plan.arg_vars)
    piece_list = [(name, source, signatures) for source, (name, signatures) in pieces.items()]
    header = ["# Generated by symdiff: the driver of a kernel split into pieces (Numba functions over",
              "# chunks of steps; equal chunks share one piece, compiled once).",
              "import numpy as np",
              "from symdiff.codegen.support import rows_of  # noqa: F401",
              "from symdiff.runtime.cache import load_piece",
              ""]
    header += [f"{name} = load_piece({source_digest(source)!r})" for name, source, _ in piece_list]
    header += ["", "", f"def kernel({args}):"]
    source = "\n".join(header + w.lines) + "\n" + loop_source(plan, w, scalar_outputs, compiled=False)
    return Kernel(source, plan, plan.arg_vars, scalar_outputs, piece_list)


def plan_size(plan: Plan) -> int:
    """How many values a plan computes (the measure that decides splitting)."""
    return sum(_units(step) for step in plan.steps)


def emit(plan: Plan, fast_math: bool = True) -> Kernel:
    """The source of the kernel ``plan`` describes (split into pieces when it is big)."""
    if plan_size(plan) <= SPLIT_UNITS:
        return emit_single(plan, fast_math)
    return emit_split(plan, fast_math)
