"""``sd.function``: compile symbolic outputs and updates into a callable.

The call path is kept thin: convert and check the arguments (count, dtype,
shape, and the size equalities the graph requires), then one call into the
Numba kernel, which also writes the updates of shared variables in place.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import sympy as sp

from ..codegen.lower import Kernel, generate_kernel
from ..graph.nodes import Index, Reshape, Transpose
from ..graph.symbols import Dim, TensorVar
from ..graph.types import broadcast_shapes, constraints_of, fmt_shape, shape_of, value_dtype
from ..graph.walk import postorder, replace
from ..printing import brief
from ..rewrites import stabilize
from ..tensor import SharedVariable, Tensor, Variable, as_tensor
from .cache import load_kernel_module

_VIEW_OPS = (Transpose, Reshape, Index)


class Function:
    """A compiled function of symbolic inputs (see :func:`function`)."""

    def __init__(self, inputs, outputs, updates=None, givens=None):
        self.inputs = _check_inputs(inputs)
        self._single = not isinstance(outputs, (list, tuple))
        outs = [as_tensor(o) for o in ([outputs] if self._single else outputs)]
        pairs = _check_updates(updates)
        exprs = [o.expr for o in outs] + [v.expr for _, v in pairs]
        if givens:
            exprs = replace(exprs, _givens_mapping(givens))
        exprs = stabilize(exprs)
        out_exprs, update_exprs = exprs[: len(outs)], exprs[len(outs):]
        self.shared = [s for s, _ in pairs]
        in_vars = [i.expr for i in self.inputs]
        self.kernel: Kernel = generate_kernel(out_exprs, [(s.expr, e) for s, e in zip(self.shared, update_exprs)], in_vars)
        self._shared_by_var = _shared_variables(self.kernel, self.shared)
        self._check_shapes = _shape_checker(self.kernel, exprs, list(zip(self.shared, update_exprs)))
        module = load_kernel_module(self.kernel.source)
        self._kernel, self._loop = module.kernel, module.loop
        self._copy_outputs = [isinstance(e, _VIEW_OPS) or isinstance(e, TensorVar) for e in out_exprs]
        self._out_dtypes = [np.dtype(value_dtype(e)) for e in out_exprs]
        self._extra_args = [v for v in self.kernel.arg_vars[len(self.inputs):]]

    @property
    def source(self) -> str:
        """The generated kernel source (what Numba compiles)."""
        return self.kernel.source

    def __repr__(self) -> str:
        names = ", ".join(i.expr.name for i in self.inputs)
        return f"<symdiff.Function({names}) -> {self.kernel.n_outputs} output(s), {len(self.shared)} update(s)>"

    def _arguments(self, args: tuple) -> list:
        if len(args) != len(self.inputs):
            names = ", ".join(repr(i.expr.name) for i in self.inputs)
            raise TypeError(f"function takes {len(self.inputs)} input(s) ({names}), got {len(args)}")
        arrays = [_convert(var, value) for var, value in zip(self.inputs, args)]
        for var in self._extra_args:
            arrays.append(self._shared_by_var[var].storage if var.role == "shared" else var.value)
        self._check_shapes(*arrays)
        return arrays

    def __call__(self, *args):
        results = self._kernel(*self._arguments(args))
        outs = []
        for value, copy, dtype in zip(results, self._copy_outputs, self._out_dtypes):
            if isinstance(value, np.ndarray):
                outs.append(value.copy() if copy else value)
            else:
                outs.append(np.asarray(value, dtype=dtype))
        return outs[0] if self._single else outs


    def loop(self, n_steps: int, *inputs, batch_size: int | None = None, progress: bool = False):
        """Run ``n_steps`` calls inside compiled code; return each output stacked over steps.

        With ``batch_size``, step ``k`` gets rows ``k*batch_size ...`` of every input
        (in order, wrapping around), as minibatch training does.  ``progress=True``
        draws a progress bar, running the loop in chunks between its updates.
        """
        n_steps = int(n_steps)
        if n_steps < 1:
            raise ValueError(f"loop: n_steps must be at least 1, got {n_steps}")
        arrays = self._arguments(inputs)
        batch = 0 if batch_size is None else int(batch_size)
        if batch_size is not None:
            _check_batching(self.inputs, arrays, batch)
        chunk = n_steps if not progress else max(1, n_steps // 40)
        pieces, done = [], 0
        while done < n_steps:
            size = min(chunk, n_steps - done)
            pieces.append(self._loop(size, done, batch, *arrays))
            done += size
            if progress:
                _draw_progress(done, n_steps)
        outs = [np.concatenate([p[k] for p in pieces]) for k in range(self.kernel.n_outputs)]
        return outs[0] if self._single else outs


def _check_batching(inputs, arrays, batch: int) -> None:
    if batch < 1:
        raise ValueError(f"loop: batch_size must be a positive int, got {batch}")
    for var, arr in zip(inputs, arrays):
        v = var.expr
        if not v.static_shape:
            continue
        if v.static_shape[0] is not None:
            raise ValueError(f"loop: input {v.name!r} has a fixed first size {v.static_shape[0]}; batching needs it None")
        if arr.shape[0] < batch:
            raise ValueError(f"loop: input {v.name!r} has {arr.shape[0]} rows, fewer than batch_size={batch}")
    rows = {arr.shape[0] for var, arr in zip(inputs, arrays) if var.expr.static_shape}
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


def function(
    inputs: Sequence[Variable],
    outputs: Tensor | Sequence[Tensor],
    updates: Sequence[tuple] | Mapping | None = None,
    givens: Mapping | None = None,
) -> Function:
    """Compile ``outputs`` (a tensor or a list) of ``inputs`` into a Numba kernel.

    ``updates`` lists ``(shared_variable, new_value)`` pairs (or a dict): after
    each call every shared variable holds its new value, all computed from the
    old values.  ``givens`` maps variables to tensors that replace them.
    Shared variables used by the graph are implicit inputs.
    """
    return Function(inputs, outputs, updates, givens)


def _check_inputs(inputs) -> list:
    if isinstance(inputs, Tensor):
        raise TypeError("function: inputs must be a list of symbolic variables, e.g. function([x], ...)")
    inputs = list(inputs)
    for k, v in enumerate(inputs):
        if isinstance(v, SharedVariable):
            raise TypeError(f"function: input #{k} {v.expr.name!r} is a shared variable; shared variables are implicit inputs")
        if not isinstance(v, Variable) or v.expr.role != "input":
            raise TypeError(f"function: input #{k} must be a symbolic variable (sd.scalar/vector/matrix/tensor), got {v!r}")
    names = [v.expr for v in inputs]
    dup = {v.name for v in names if names.count(v) > 1}
    if dup:
        raise ValueError(f"function: input(s) {sorted(dup)} appear more than once")
    return inputs


def _check_updates(updates) -> list:
    if updates is None:
        return []
    pairs = list(updates.items()) if isinstance(updates, Mapping) else list(updates)
    seen = set()
    out = []
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"function: updates must be (shared_variable, new_value) pairs, got {pair!r}")
        target, value = pair
        if not isinstance(target, SharedVariable):
            raise TypeError(f"function: only shared variables can be updated, got {target!r}")
        if target.expr in seen:
            raise ValueError(f"function: shared variable {target.expr.name!r} is updated twice")
        seen.add(target.expr)
        value = as_tensor(value)
        if value.ndim > target.ndim:
            raise ValueError(
                f"function: update of {target.expr.name!r} has shape {fmt_shape(shape_of(value.expr))}, "
                f"the variable has shape {fmt_shape(shape_of(target.expr))}"
            )
        out.append((target, value))
    return out


def _givens_mapping(givens) -> dict:
    mapping = {}
    for var, value in dict(givens).items():
        if not isinstance(var, Variable):
            raise TypeError(f"givens: keys must be symbolic variables, got {var!r}")
        value = as_tensor(value)
        broadcast_shapes(shape_of(var.expr), shape_of(value.expr))
        mapping[var.expr] = value.expr
    return mapping


def _shared_variables(kernel: Kernel, updated) -> dict:
    """The SharedVariable object behind each shared symbol the kernel takes."""
    from ..tensor import shared_registry

    found = {s.expr: s for s in updated}
    for var in kernel.arg_vars:
        if var.role == "shared" and var not in found:
            found[var] = shared_registry[var]
    return found


def _convert(var: Variable, value) -> np.ndarray:
    v = var.expr
    want = np.dtype(v.dtype)
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype != want:
        if arr.dtype.kind in "biu" or np.can_cast(arr.dtype, want, "safe"):
            arr = arr.astype(want)
        else:
            raise TypeError(f"input {v.name!r}: expected dtype {want.name}, got {arr.dtype.name} (cast it with .astype(np.{want.name}))")
    static = v.static_shape
    if arr.ndim != len(static) or any(s is not None and s != n for s, n in zip(static, arr.shape)):
        raise ValueError(f"input {v.name!r}: expected shape {_fmt_static(static)}, got {arr.shape}")
    return arr


def _fmt_static(static) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in static) + ("," if len(static) == 1 else "") + ")"


def _shape_checker(kernel: Kernel, exprs: list, updates: list):
    """A generated Python function that checks the run-time size equalities the graph needs."""
    names = {v: f"a{k}" for k, v in enumerate(kernel.arg_vars)}
    checks = {}
    for node in postorder(exprs):
        for a, b in constraints_of(node):
            checks.setdefault(frozenset((a, b)), (a, b, node))
    for target, value in updates:
        t_shape, v_shape = shape_of(target.expr), shape_of(value)
        lead = len(t_shape) - len(v_shape)
        for k, d in enumerate(v_shape):
            if d != 1 and d != t_shape[lead + k]:
                checks.setdefault(frozenset((t_shape[lead + k], d)), (t_shape[lead + k], d, value))
    lines = [f"def check({', '.join(names.values())}):"]
    for a, b, node in checks.values():
        if any(d.var not in names for d in (a.atoms(Dim) | b.atoms(Dim))):
            continue
        ca, cb = _dim_code(a, names), _dim_code(b, names)
        context = brief(node, width=70)
        message = (
            f"shape mismatch: {a} = {{}} but {b} = {{}}; they must be equal (in {context}). "
            "Sizes declared None never broadcast: declare a broadcasting axis with size 1"
        )
        lines.append(f"    if {ca} != {cb}:")
        lines.append(f"        raise ValueError({message!r}.format({ca}, {cb}))")
    lines.append("    return None")
    namespace: dict = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - source built from the graph above
    return namespace["check"]


def _dim_code(dim: sp.Expr, names: dict) -> str:
    if dim.is_Integer:
        return str(int(dim))
    mapping = {d: sp.Symbol(f"{names[d.var]}.shape[{d.axis}]") for d in dim.atoms(Dim)}
    return f"({sp.sstr(dim.xreplace(mapping))})"
