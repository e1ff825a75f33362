"""``sd.function``: compile symbolic outputs and updates into a callable.

Building a function rewrites the graph (givens, stable forms, canonical
form), plans and emits one Numba kernel and compiles it right away (every
input's dtype and rank is known), so the first call is as fast as the
others.  A call converts and checks its arguments (count, dtype, shape, the
run-time size equalities and index bounds the graph needs) before the
kernel runs, so a bad call changes nothing; shared variables are locked for
the call, so calls from several threads give the results of sequential calls.
"""
from __future__ import annotations

import threading
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, replace as dc_replace
from typing import Mapping, Sequence

import numpy as np
import sympy as sp

from ..codegen.emit import Kernel, emit
from ..codegen.plan import make_plan
from ..graph.gc_pause import without_cyclic_gc
from ..graph.node import Node, Variable
from ..graph.sizes import Dim
from ..graph.types import fmt_shape, fmt_static
from ..graph.walk import postorder, rebuild
from ..printing import brief
from ..rewrites.canonical import canonical
from ..rewrites.lowering import lower_stable
from ..rewrites.matvec import pair_matvecs
from ..rewrites.stabilize import stabilize
from ..tensor import SharedVariable, Tensor, _shared_lock, as_node, as_tensor
from .cache import load_kernel_module


@dataclass
class Config:
    """Code generation switches; ``sd.config`` holds the defaults, and each
    ``sd.function(...)`` call can override them by keyword.

    >>> sd.config.fast_math
    True
    >>> x = sd.vector("x")
    >>> sd.function([x], sd.exp(x), fast_math=False).config.fast_math
    False
    """

    fast_math: bool = True  # vectorisable exp/log/...; False: plain libm calls
    parallel_threshold: int = 200_000  # loops over at least this many elements use prange; 0: never
    nan_guard: bool = False  # raise naming the first node that made a NaN from finite inputs


config = Config()


class Function:
    """A compiled function of symbolic inputs (see :func:`function`): call it with
    arrays (positionally, or by the inputs' names), or run many steps with :meth:`loop`.

    >>> X, y = sd.matrix("X"), sd.vector("y")
    >>> w = sd.shared(np.zeros(2), name="w")
    >>> cost = sd.mean((X @ w - y) ** 2)
    >>> step = sd.function([X, y], cost, updates=[(w, w - 0.1 * sd.grad(cost, w))])
    >>> float(step(y=[1.0, 2.0], X=[[1.0, 0.0], [0.0, 1.0]]))
    2.5
    >>> w.get_value()
    array([0.1, 0.2])
    >>> print(repr(step).splitlines()[2])
      outputs: sum((X @ w - y)**2)/X.shape[0]
    """

    def __init__(self, inputs, outputs, updates=None, givens=None, **options):
        unknown = set(options) - set(Config.__dataclass_fields__)
        if unknown:
            raise TypeError(f"function: unknown option(s) {sorted(unknown)}; options are {sorted(Config.__dataclass_fields__)}")
        self.config = dc_replace(config, **options)
        self.inputs = _check_inputs(inputs)
        self._build(outputs, updates, givens)
        for _, source, signatures in self.kernel.pieces:  # a split kernel: compile each distinct piece once
            piece = load_kernel_module(source).piece
            for signature in signatures:
                compile_once(piece, signature)
        module = load_kernel_module(self.kernel.source)
        self._kernel, self._loop_fn = module.kernel, module.loop
        self._signature = tuple(_numba_type(v) for v in self.kernel.arg_vars)
        if not self.kernel.split:
            compile_once(self._kernel, self._signature)
        self._parallel = None
        if hasattr(module, "kernel_parallel") and self.config.parallel_threshold:
            worth = _parallel_test(self.plan, self.config.parallel_threshold)
            self._parallel = (worth, module.kernel_parallel, module.loop_parallel)
        self._loop_ready = False
        self._locks = sorted({id(v): v for v in self.plan.shared}.values(), key=lambda v: v.uid)

    @without_cyclic_gc
    def _build(self, outputs, updates, givens) -> None:
        """The graph work of construction (rewrites, plan, kernel source, argument checks),
        with the cyclic collector paused; Numba's compile runs after it, collector on."""
        self._single = not isinstance(outputs, (list, tuple))
        outs = [_output_node(o, k) for k, o in enumerate([outputs] if self._single else outputs)]
        pairs = _check_updates(updates)
        self._as_written = (outs, [(s.node, v) for s, v in pairs])  # for repr
        roots = outs + [v for _, v in pairs]
        if givens:
            roots = substitute(roots, _givens_mapping(givens))
        user_roots = roots  # the graph as written (messages quote it), before stable/canonical rewrites
        roots = lowered(roots)
        out_nodes, update_nodes = roots[: len(outs)], roots[len(outs):]
        self.shared = [s for s, _ in pairs]
        update_pairs = [(s.node, v) for s, v in zip(self.shared, update_nodes)]
        _check_update_types(update_pairs)
        in_vars = [i.node for i in self.inputs]
        self.plan = make_plan(out_nodes, update_pairs, in_vars, self.config.parallel_threshold)
        self.kernel: Kernel = emit(self.plan, self.config.fast_math)
        self._checks = _argument_checker(self.plan, user_roots + out_nodes + update_nodes)
        self._out_dtypes = [np.dtype(o.dtype) for o in out_nodes]

    @property
    def source(self) -> str:
        """The generated kernel source (what Numba compiles).

        >>> x = sd.vector("x")
        >>> "def kernel(" in sd.function([x], sd.exp(x)).source
        True
        """
        return self.kernel.source

    def __repr__(self) -> str:
        """Inputs, outputs and updates as written, the shared variables read, and where the kernel is."""
        def typed(v):
            return f"{v.name} {v.dtype}{fmt_static(v.static_shape)}"

        outs, updates = self._as_written
        lines = ["<symdiff.Function", "  inputs:  " + (", ".join(typed(i.node) for i in self.inputs) or "none")]
        def shown(o):
            named = o.name and not isinstance(o, Variable)
            return (f"{o.name} = " if named else "") + brief(o, depth=6, width=70 - (len(o.name) + 3 if named else 0))

        lines += [f"  {'outputs:' if k == 0 else '':9}{shown(o)}" for k, o in enumerate(outs)]
        lines += [f"  {'updates:' if k == 0 else '':9}{v.name} <- {brief(u, depth=6, width=66 - len(v.name))}"
                  for k, (v, u) in enumerate(updates)]
        shared = [v for v in self.kernel.arg_vars if v.role == "shared"]
        if shared:
            lines.append("  shared:  " + ", ".join(typed(v) for v in shared))
        n_lines = self.kernel.source.count("\n") + 1
        lines.append(f"  kernel:  {n_lines} lines of Numba code in .source>")
        return "\n".join(lines)

    # -- calling -------------------------------------------------------------------
    def _arguments(self, args: tuple, kwargs: dict) -> list:
        n = len(self.inputs)
        if kwargs:
            args = _bind_keywords(self.inputs, args, kwargs)
        if len(args) != n:
            names = ", ".join(repr(i.node.name) for i in self.inputs)
            raise TypeError(f"function takes {n} input(s) ({names}), got {len(args)}")
        arrays = [_convert(var.node, value) for var, value in zip(self.inputs, args)]
        for var in self.kernel.arg_vars[n:]:
            arrays.append(var.storage.value if var.role == "shared" else var.value)
        return arrays

    def __call__(self, *args, **kwargs):
        with ExitStack() as stack:
            for var in self._locks:
                stack.enter_context(_shared_lock(var))
            arrays = self._arguments(args, kwargs)
            self._checks(*arrays)
            if self.config.nan_guard:
                from ..checking.nan_guard import check_for_nans

                check_for_nans(self, arrays)
            results = self._kernel_for(arrays)(*arrays)
        outs = [np.asarray(value, dtype=dtype) if not isinstance(value, np.ndarray) else value
                for value, dtype in zip(results, self._out_dtypes)]
        return outs[0] if self._single else outs

    def _kernel_for(self, arrays: list):
        """The serial kernel, or for a call whose loops are big enough, the one running
        them with ``prange`` (compiled on first use: it costs seconds of compile time)."""
        if self._parallel is None or not self._parallel[0](*arrays):
            return self._kernel
        try:
            compile_once(self._parallel[1], self._signature)
        except Exception as error:  # noqa: BLE001 - Numba's parallel passes failing on a kernel
            warnings.warn(f"symdiff: the parallel variant of this kernel did not compile ({type(error).__name__}); "
                          "it runs serially", RuntimeWarning, stacklevel=3)
            self._parallel = None
            return self._kernel
        return self._parallel[1]

    def loop(self, n_steps: int, *inputs, batch_size: int | None = None, progress: bool = False):
        """Run ``n_steps`` calls inside compiled code; return each output stacked over steps.

        With ``batch_size``, step ``k`` gets rows ``k*batch_size ...`` of every input
        (in order, wrapping around), as minibatch training does.  ``progress=True``
        draws a progress bar, running the loop in chunks between its updates.

        >>> X, y = sd.matrix("X"), sd.vector("y")
        >>> w = sd.shared(np.zeros(2), name="w")
        >>> cost = sd.mean((X @ w - y) ** 2)
        >>> step = sd.function([X, y], cost, updates=[(w, w - 0.1 * sd.grad(cost, w))])
        >>> step.loop(3, [[1.0, 2.0], [3.0, 4.0]], [1.0, 0.0])  # the cost before each step
        array([0.5   , 0.73  , 1.6708])
        """
        n_steps = int(n_steps)
        if n_steps < 1:
            raise ValueError(f"loop: n_steps must be at least 1, got {n_steps}")
        with ExitStack() as stack:
            for var in self._locks:
                stack.enter_context(_shared_lock(var))
            arrays = self._arguments(inputs, {})
            batch = 0 if batch_size is None else int(batch_size)
            self._checks(*arrays)
            if batch_size is not None:
                _check_batching(self.inputs, arrays, batch)
                self._checks(*_first_batch(self.inputs, arrays, batch))  # what each step's kernel sees
            chunk = n_steps if not progress else max(1, n_steps // 40)
            step_arrays = _first_batch(self.inputs, arrays, batch) if batch_size is not None else arrays
            loop = self._loop_fn if self._kernel_for(step_arrays) is self._kernel else self._parallel[2]
            pieces, done = [], 0
            while done < n_steps:
                size = min(chunk, n_steps - done)
                pieces.append(loop(size, done, batch, *arrays))
                done += size
                if progress:
                    _draw_progress(done, n_steps)
        outs = [np.concatenate([p[k] for p in pieces]) for k in range(self.kernel.n_outputs)]
        return outs[0] if self._single else outs

    def __reduce__(self):
        return (_rebuild_function, (self._spec,))

    _spec = None


def _rebuild_function(spec):
    inputs, outputs, updates, givens, options = spec
    return Function(inputs, outputs, updates, givens, **options)


def function(
    inputs: Sequence[Tensor],
    outputs: "Tensor | Sequence[Tensor]",
    updates: "Sequence[tuple] | Mapping | None" = None,
    givens: Mapping | None = None,
    **options,
) -> Function:
    """Compile ``outputs`` (a tensor or a list) of ``inputs`` into a Numba kernel.

    ``updates`` lists ``(shared_variable, new_value)`` pairs (or a dict): after
    each call every shared variable holds its new value, all computed from the
    values before the call.  ``givens`` maps variables to tensors that replace
    them.  Shared variables used by the graph are implicit inputs.  Options
    (``fast_math``, ``parallel_threshold``, ``nan_guard``) override ``sd.config``.

    >>> x = sd.vector("x")
    >>> f = sd.function([x], sd.sum(x ** 2))
    >>> float(f([1.0, 2.0]))
    5.0
    """
    f = Function(inputs, outputs, updates, givens, **options)
    f._spec = (list(inputs), outputs, updates, givens, options)
    return f


# --------------------------------------------------------------------------- building


def lowered(roots: list) -> list:
    """The graph a kernel computes for ``roots``: stable forms, their accurate
    evaluation, the canonical form, and matrix-vector products paired."""
    return pair_matvecs(canonical(lower_stable(stabilize(roots))))


_COMPILE_LOCK = threading.Lock()


def compile_once(dispatcher, signature: tuple) -> None:
    """Compile ``dispatcher`` for ``signature`` unless it has it (a second thread waits and
    reuses the first one's work), then forbid compiling on call: arguments are converted to
    exactly the compiled types, so a mismatch is a bug to report, not a silent recompile."""
    with _COMPILE_LOCK:
        if signature not in dispatcher.signatures:
            dispatcher.disable_compile(False)
            dispatcher.compile(signature)
        dispatcher.disable_compile()


def _output_node(o, k: int) -> Node:
    if isinstance(o, (Tensor, int, float, np.ndarray, np.number)):
        return as_node(o)
    raise TypeError(f"function: output #{k} must be a symbolic tensor, got {type(o).__name__}")


def _check_inputs(inputs) -> list:
    if isinstance(inputs, Tensor):
        raise TypeError("function: inputs must be a list of symbolic variables, e.g. function([x], ...)")
    inputs = list(inputs)
    for k, v in enumerate(inputs):
        if isinstance(v, SharedVariable):
            raise TypeError(f"function: input #{k} {v.node.name!r} is a shared variable; shared variables are implicit inputs")
        if not isinstance(v, Tensor) or not isinstance(v.node, Variable) or v.node.role != "input":
            raise TypeError(f"function: input #{k} must be a symbolic variable (sd.scalar/vector/matrix/tensor), got {v!r}")
    seen = set()
    for v in inputs:
        if id(v.node) in seen:
            raise ValueError(f"function: input {v.node.name!r} appears more than once")
        seen.add(id(v.node))
    return inputs


def _check_updates(updates) -> list:
    if updates is None:
        return []
    pairs = list(updates.items()) if isinstance(updates, Mapping) else list(updates)
    seen, out = set(), []
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"function: updates must be (shared_variable, new_value) pairs, got {pair!r}")
        target, value = pair
        if not isinstance(target, SharedVariable):
            raise TypeError(f"function: only shared variables can be updated, got {target!r}")
        if id(target.node) in seen:
            raise ValueError(f"function: shared variable {target.node.name!r} is updated twice")
        seen.add(id(target.node))
        value = as_tensor(value)
        if value.ndim > target.ndim:
            raise ValueError(
                f"function: update of {target.node.name!r} has shape {fmt_shape(value.node.shape)}, "
                f"the variable has shape {fmt_shape(target.node.shape)}"
            )
        out.append((target, value.node))
    return out


def _check_update_types(pairs) -> None:
    for var, value in pairs:
        if value.dtype != var.dtype and not (value.type.weak or np.can_cast(value.dtype, var.dtype, "safe")):
            raise TypeError(
                f"function: the update of {var.name!r} ({var.dtype}) has dtype {value.dtype}; "
                f"cast it with .astype('{var.dtype}')"
            )


def _givens_mapping(givens) -> dict:
    mapping = {}
    for var, value in dict(givens).items():
        if not isinstance(var, Tensor) or not isinstance(var.node, Variable):
            raise TypeError(f"givens: keys must be symbolic variables, got {var!r}")
        node = as_node(value)
        if node.ndim != var.ndim:
            raise ValueError(f"givens: {var.node.name!r} has {var.ndim} dimension(s), its replacement {node.ndim}")
        mapping[id(var.node)] = (var.node, node)
    return mapping


def substitute(roots: list, mapping: dict) -> list:
    """``roots`` with variables replaced (``{id(var): (var, node)}``), run-time sizes
    of the replaced variables included (``X.shape[0]`` becomes the replacement's)."""
    dims = {}
    for var, node in mapping.values():
        for k, d in enumerate(var.shape):
            if isinstance(d, Dim):
                dims[d] = node.shape[k]

    def fix(value):
        if isinstance(value, sp.Basic):
            return value.xreplace(dims)
        if isinstance(value, tuple):
            return tuple(fix(v) for v in value)
        return value

    def transform(node, inputs):
        if id(node) in mapping:
            return mapping[id(node)][1]
        params = {k: fix(v) for k, v in zip(node.params, node.param_values())}
        if not node.inputs:
            if params == dict(zip(node.params, node.param_values())) or isinstance(node, Variable):
                return node
            return type(node)(**params)
        new = type(node)(tuple(inputs), **params)
        new.name = node.name
        return new

    return rebuild(roots, transform)


# --------------------------------------------------------------------------- calling


def _numba_type(var: Variable):
    from numba import types

    dtype = getattr(types, "bool_" if var.dtype == "bool" else var.dtype)
    return types.Array(dtype, len(var.static_shape), "C", readonly=var.role == "constant")


def _bind_keywords(inputs, args: tuple, kwargs: dict) -> tuple:
    names = [i.node.name for i in inputs]
    values = list(args) + [None] * (len(names) - len(args))
    given = [True] * len(args) + [False] * (len(names) - len(args))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"function got an unexpected keyword argument {key!r}; inputs are {names}")
        k = names.index(key)
        if given[k]:
            raise TypeError(f"function got multiple values for input {key!r}")
        values[k], given[k] = value, True
    missing = [n for n, g in zip(names, given) if not g]
    if missing:
        raise TypeError(f"function is missing input(s) {missing}")
    return tuple(values)


def _convert(var: Variable, value) -> np.ndarray:
    want = np.dtype(var.dtype)
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype != want and not isinstance(value, (np.ndarray, np.generic)):
        arr = _weak_to(arr, want, var.name)  # Python numbers take the input's dtype, as in NumPy 2 arithmetic
    if arr.dtype != want:
        if np.can_cast(arr.dtype, want, "safe") or (arr.dtype.kind in "biu" and want.kind == "f"):
            arr = arr.astype(want)
        else:
            raise TypeError(f"input {var.name!r}: expected dtype {want.name}, got {arr.dtype.name} (cast it with .astype(np.{want.name}))")
    static = var.static_shape
    if arr.ndim != len(static) or any(s is not None and s != n for s, n in zip(static, arr.shape)):
        raise ValueError(f"input {var.name!r}: expected shape {fmt_static(static)}, got {arr.shape}")
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr


def _weak_to(arr: np.ndarray, want: np.dtype, name: str) -> np.ndarray:
    """Python ints or floats (``arr`` made from them) in the dtype ``want`` of the same kind;
    ints that do not fit raise.  Other combinations are left for the dtype check."""
    if arr.dtype.kind in "iu" and want.kind in "iu":
        info = np.iinfo(want)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise OverflowError(f"input {name!r}: the values do not fit in {want.name}")
        return arr.astype(want)
    if arr.dtype.kind == "f" and want.kind == "f":
        return arr.astype(want)
    return arr


def _argument_checker(plan, roots: list):
    """A generated Python function checking the run-time size equalities and index
    bounds the graph needs, with messages naming what disagrees."""
    from ..codegen.scalar import SizePrinter

    names = {id(v): f"a{k}" for k, v in enumerate(plan.arg_vars)}
    printer = SizePrinter(names)
    lines = [f"def check({', '.join(names.values())}):"]
    seen = set()
    nodes = postorder(roots)

    def known(expr) -> bool:
        return all(id(d.var) in names for d in expr.atoms(Dim))

    for node in nodes:
        origins = node.constraint_origins() if hasattr(node, "constraint_origins") else ()
        for k, (a, b) in enumerate(node.constraints):
            key = frozenset((a, b))
            if key in seen or not (known(a) and known(b)):
                continue
            seen.add(key)
            ca, cb = printer.doprint(a), printer.doprint(b)
            origin = origins[k] if k < len(origins) and origins[k] else brief(node, width=70)
            message = (f"shape mismatch: {a} = {{}} but {b} = {{}}; they must be equal (in {origin}). "
                       "Sizes declared None never broadcast: declare a broadcasting axis with size 1")
            lines += [f"    if {ca} != {cb}:", f"        raise ValueError({message!r}.format({ca}, {cb}))"]
        for bound in getattr(node, "bounds", ()):
            key = (bound.low, bound.high, bound.message)
            if key in seen or not (known(bound.low) and known(bound.high)):
                continue
            seen.add(key)
            low, high, size = printer.doprint(bound.low), printer.doprint(bound.high), printer.doprint(bound.size)
            lines += [f"    if not ({low}) <= ({high}):", f"        raise IndexError({bound.message!r}.format(size={size}))"]
    for var, value in plan.updates:
        lead = var.ndim - value.ndim
        for k, d in enumerate(value.shape):
            t = var.shape[lead + k]
            if d == 1 or not (known(d) and known(t)) or frozenset((t, d)) in seen:
                continue
            seen.add(frozenset((t, d)))
            ct, cd = printer.doprint(t), printer.doprint(d)
            message = f"shape mismatch: {t} = {{}} but the update of {var.name!r} has {d} = {{}} on that axis; they must be equal"
            lines += [f"    if {ct} != {cd}:", f"        raise ValueError({message!r}.format({ct}, {cd}))"]
    lines.append("    return None")
    namespace: dict = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - source built from the graph above
    return namespace["check"]


def _parallel_test(plan, threshold: int):
    """A Python function of the kernel's arguments: whether some loop nest the plan
    marked parallel has at least ``threshold`` iterations."""
    from ..codegen.plan import LoopNest
    from ..codegen.scalar import SizePrinter
    from ..graph.sizes import size_product

    names = {id(v): f"a{k}" for k, v in enumerate(plan.arg_vars)}
    printer = SizePrinter(names)
    sizes = [printer.doprint(size_product(s.space)) for s in plan.steps if isinstance(s, LoopNest) and s.parallel]
    source = f"def worth({', '.join(names.values())}):\n    return max({', '.join(sizes)}, 0) >= {threshold}\n"
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - source built from the plan above
    return namespace["worth"]


def _first_batch(inputs, arrays, batch):
    return [a[:batch] if var.node.static_shape else a for var, a in zip(inputs, arrays)] + arrays[len(inputs):]


def _check_batching(inputs, arrays, batch: int) -> None:
    if batch < 1:
        raise ValueError(f"loop: batch_size must be a positive int, got {batch}")
    for var, arr in zip(inputs, arrays):
        v = var.node
        if not v.static_shape:
            continue
        if v.static_shape[0] is not None:
            raise ValueError(f"loop: input {v.name!r} has a fixed first size {v.static_shape[0]}; batching needs it None")
        if arr.shape[0] < batch:
            raise ValueError(f"loop: input {v.name!r} has {arr.shape[0]} rows, fewer than batch_size={batch}")
    rows = {arr.shape[0] for var, arr in zip(inputs, arrays) if var.node.static_shape}
    if len(rows) > 1:
        raise ValueError(f"loop: batched inputs must have the same number of rows, got {sorted(rows)}")


def _draw_progress(done: int, total: int) -> None:
    import sys

    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} steps")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()
