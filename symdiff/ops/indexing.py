"""Integer data: integer-array indexing (gather) and its adjoint (scatter-add),
``onehot`` and ``arange``.

``x[idx]`` with an integer tensor or array ``idx`` follows NumPy's advanced
indexing: indices on several axes broadcast together (``logp[sd.arange(N),
labels]``); when they sit on adjacent axes the result's indexed axes replace
them in place, else they come first.  Negative indices count from the end.
Every index is checked: an index that is an input is checked before the
kernel runs (the error names the tensor, the axis, the index and the size);
an index computed inside the graph is checked as it is read.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..graph.node import Constant, Node, Variable
from ..graph.sizes import as_size, is_static
from ..graph.types import INT_DTYPES, ShapeError, TensorType, broadcast, fmt_shape
from ..tensor import Tensor, as_node, named
from . import build as b
from . import elementwise as ew
from .base import TensorOp, normalize_axes, postfix
from .shape import normalize_index, reshape, size_of, subtensor, transpose_node


def _is_int_array(i) -> bool:
    if isinstance(i, Tensor):
        return i.dtype in INT_DTYPES or i.dtype == "bool"
    if isinstance(i, np.ndarray):
        return True
    if isinstance(i, list):
        return True
    return False


def is_advanced(index) -> bool:
    """Whether an index uses integer arrays or tensors."""
    index = index if isinstance(index, tuple) else (index,)
    return any(_is_int_array(i) for i in index)


def _index_node(i, axis: int) -> Node:
    node = as_node(np.asarray(i) if isinstance(i, list) else i)
    if node.dtype == "bool":
        raise IndexError("boolean mask indexing is not supported (its result size depends on the data); use sd.where")
    if node.dtype not in INT_DTYPES:
        raise IndexError(f"arrays used as indices must be integers, got dtype {node.dtype} on axis {axis}")
    return node


def _consecutive(axes: tuple) -> bool:
    return list(axes) == list(range(axes[0], axes[0] + len(axes)))


class AdvancedIndex(TensorOp):
    """``x[..., i0, ..., ik, ...]``: integer arrays on ``axes`` (broadcast together), full slices elsewhere."""

    params = ("axes",)

    @property
    def x(self) -> Node:
        return self.inputs[0]

    @property
    def indices(self) -> tuple:
        return self.inputs[1:]

    def infer_type(self):
        x = self.x
        batch, constraints = broadcast(*(i.shape for i in self.indices))
        rest = [x.shape[k] for k in range(x.ndim) if k not in self.axes]
        if _consecutive(self.axes):
            a0 = self.axes[0]
            shape = tuple(x.shape[:a0]) + batch + tuple(x.shape[self.axes[-1] + 1:])
        else:
            shape = batch + tuple(rest)
        self.may_raise = any(not isinstance(i, (Variable, Constant, Arange)) for i in self.indices)
        return TensorType(x.dtype, shape, x.type.weak), constraints

    def vjp(self, g):
        x = self.x
        nb = g.ndim - self.ndim  # leading batch axes of a batched adjoint
        dims = tuple(g.shape[:nb]) + tuple(x.shape)
        axes = tuple(nb + a for a in self.axes)
        if nb and not _consecutive(self.axes):  # NumPy puts the indexed axes first: batch axes follow them
            nib = len(broadcast(*(i.shape for i in self.indices))[0])
            g = transpose_node(g, tuple(range(nb, nb + nib)) + tuple(range(nb)) + tuple(range(nb + nib, g.ndim)))
        return [IndexAdd((g,) + self.indices, axes=axes, dims=dims, out_dtype=x.dtype)] + [None] * len(self.indices)

    def _sympystr(self, printer):
        return f"{postfix(printer, self.x)}[{_advanced_text(printer, self)}]"

    def _latex(self, printer):
        return rf"{printer.parenthesize(self.x, 1000, strict=True)}_{{[{_advanced_text(printer, self)}]}}"

    def lower(self, e):
        return _gather_loops(e, self, scatter=False)


class IndexAdd(TensorOp):
    """Zeros of shape ``dims`` with ``g`` added at the integer-array index (the VJP
    of :class:`AdvancedIndex`; repeated indices add up)."""

    params = ("axes", "dims", "out_dtype")

    @property
    def indices(self) -> tuple:
        return self.inputs[1:]

    def infer_type(self):
        self.may_raise = any(not isinstance(i, (Variable, Constant, Arange)) for i in self.indices)
        return TensorType(self.out_dtype, tuple(self.dims), False), ()

    def vjp(self, g):
        nb = g.ndim - self.ndim  # leading batch axes of a batched adjoint
        out = AdvancedIndex((g,) + self.indices, axes=tuple(nb + a for a in self.axes))
        if nb and not _consecutive(self.axes):  # the indexed axes came first: move the batch axes back in front
            nib = len(broadcast(*(i.shape for i in self.indices))[0])
            out = transpose_node(out, tuple(range(nib, nib + nb)) + tuple(range(nib)) + tuple(range(nib + nb, out.ndim)))
        return [out] + [None] * len(self.indices)

    def _sympystr(self, printer):
        idx = ", ".join(printer._print(i) for i in self.indices)
        return f"scatter_add({printer._print(self.inputs[0])}, ({idx},), axes={self.axes}, shape=({', '.join(printer._print(d) for d in self.dims)},))"

    def _latex(self, printer):
        idx = ", ".join(printer._print(i) for i in self.indices)
        return rf"\operatorname{{scatter\_add}}_{{[{idx}]}}\left({printer._print(self.inputs[0])}\right)"

    def lower(self, e):
        return _gather_loops(e, self, scatter=True)


def _advanced_text(printer, node: AdvancedIndex) -> str:
    parts = [":"] * node.x.ndim
    for axis, i in zip(node.axes, node.indices):
        parts[axis] = printer._print(i)
    while len(parts) > 1 and parts[-1] == ":":
        parts.pop()
    return ", ".join(parts)


def _gather_loops(e, node, scatter: bool) -> list:
    """Loops over the gathered positions: out[pos] = x[src] (gather) or out[src] += g[pos] (scatter)."""
    axes = node.axes
    indices = node.inputs[1:]
    src_shape = node.dims if scatter else node.inputs[0].shape
    pos_shape = node.inputs[0].shape if scatter else node.shape
    batch, _ = broadcast(*(i.shape for i in indices))
    nb = len(batch)
    consecutive = _consecutive(axes)
    loops = [f"p{k}" for k in range(len(pos_shape))]
    if consecutive:
        before = list(range(axes[0]))
        batch_vars = loops[axes[0]: axes[0] + nb]
        rest_vars = loops[: axes[0]] + loops[axes[0] + nb:]
    else:
        before = []
        batch_vars = loops[:nb]
        rest_vars = loops[nb:]
    lines = []
    if scatter:
        dims = ", ".join(e.size(d) for d in node.dims)
        lines.append(f"{e.out} = np.zeros(({dims},), dtype=np.{node.dtype})")
    else:
        dims = ", ".join(e.size(d) for d in node.shape)
        lines.append(f"{e.out} = np.empty(({dims},), dtype=np.{node.dtype})" if node.shape else f"{e.out} = 0")
    pad = ""
    for k, n in enumerate(pos_shape):
        lines.append(f"{pad}for {loops[k]} in range({e.size(n)}):")
        pad += "    "
    src = [None] * len(src_shape)
    rest = iter(rest_vars)
    for axis in range(len(src_shape)):
        if axis not in axes:
            src[axis] = next(rest)
    name = e.arg(0)
    where = repr(node.x.name) if not scatter and node.x.name else "the tensor"
    for j, (axis, idx) in enumerate(zip(axes, indices)):
        lead = nb - idx.ndim
        pos = [("0" if d == 1 else batch_vars[lead + m]) for m, d in enumerate(idx.shape)]
        code = e.arg(1 + j)
        read = code if not idx.shape else f"{code}[{', '.join(pos)}]"
        n = e.size(src_shape[axis])
        var = f"j{j}"
        tail = f" is out of bounds for axis {axis} of {where} with size "
        lines.append(f"{pad}{var} = np.int64({read})")
        lines.append(f"{pad}if {var} < -({n}) or {var} >= {n}:")
        lines.append(f"{pad}    raise IndexError('index ' + str({var}) + {tail!r} + str({n}))")
        lines.append(f"{pad}if {var} < 0:")
        lines.append(f"{pad}    {var} += {n}")
        src[axis] = var
    target = ", ".join(src)
    position = ", ".join(loops)
    if scatter:
        lines.append(f"{pad}{e.out}[{target}] += {name}[{position}]" if pos_shape else f"{pad}{e.out}[{target}] += {name}")
    else:
        lines.append(f"{pad}{e.out}[{position}] = {name}[{target}]" if node.shape else f"{pad}{e.out} = {name}[{target}]")
    return lines


def advanced_getitem(x: Node, index) -> Tensor:
    """``x[index]`` for an index with integer arrays (see module doc)."""
    index = index if isinstance(index, tuple) else (index,)
    if any(i is None for i in index):
        raise IndexError("new axes (None) cannot be combined with integer-array indices; index first, then reshape")
    n_consumed = sum(1 for i in index if i is not Ellipsis)
    if n_consumed > x.ndim:
        raise IndexError(f"too many indices for a tensor of {x.ndim} dimension(s): {n_consumed}")
    expanded = []
    for i in index:
        if i is Ellipsis:
            expanded.extend([slice(None)] * (x.ndim - n_consumed))
        else:
            expanded.append(i)
    expanded += [slice(None)] * (x.ndim - len(expanded))
    # basic slices first (they keep axis positions), then the gather on the remaining index
    basic = tuple(i if isinstance(i, slice) else slice(None) for i in expanded)
    base = subtensor(x, normalize_index(x, basic))
    axes, nodes = [], []
    for axis, i in enumerate(expanded):
        if isinstance(i, slice):
            continue
        if _is_int_array(i):
            nodes.append(_index_node(i, axis))
        elif isinstance(i, bool) or not hasattr(i, "__index__"):
            raise TypeError(f"only ints, slices, None, ... and integer tensors can index a tensor, got {i!r}")
        else:
            nodes.append(Constant((), value=sp.Integer(int(i)), const_dtype="int64", weak=False))
        axes.append(axis)
    return Tensor(AdvancedIndex((base, *nodes), axes=tuple(axes)))


def take(a, indices, axis: int | None = None, name: str | None = None) -> Tensor:
    """Entries of ``a`` at the integer ``indices`` along ``axis`` (NumPy's ``take``:
    without ``axis``, entries of the flattened ``a``).  Its gradient adds up
    at repeated indices.

    >>> X = sd.matrix("X")
    >>> sd.pprint(sd.take(X, [2, 0], axis=1))
    'X[:, [2, 0]]'
    """
    node = as_node(a)
    if axis is None:
        node = reshape(Tensor(node), (-1,)).node
        axis = 0
    axis = normalize_axes(axis, node.ndim)[0]
    idx = _index_node(indices, axis)
    return named(Tensor(AdvancedIndex((node, idx), axes=(axis,))), name)


class Arange(ew.Elementwise):
    """0, 1, ..., n-1 (int64): each loop position's own index."""

    arity = 0
    params = ("n",)

    def infer_type(self):
        return TensorType("int64", (self.n,), False), ()

    def vjp(self, g):
        return []

    differentiable = False

    def _sympystr(self, printer):
        return f"arange({printer._print(self.n)})"

    def _latex(self, printer):
        return rf"\left(0, \ldots, {printer._print(self.n - 1)}\right)"

    def _numba(self, p):
        return f"np.int64({p.index[0]})" if p.index else "np.int64(0)"


def arange(n, name: str | None = None) -> Tensor:
    """The int64 vector 0, 1, ..., n-1; ``n`` an int or a run-time size (``X.shape[0]``).

    With integer ``labels``, ``logp[sd.arange(N), labels]`` picks each row's entry:

    >>> logp, labels = sd.matrix("logp"), sd.vector("labels", dtype="int64")
    >>> picked = logp[sd.arange(logp.shape[0]), labels]
    >>> sd.pprint(picked)
    'logp[arange(logp.shape[0]), labels]'
    >>> sd.function([logp, labels], picked)([[1.0, 2.0], [3.0, 4.0]], [1, 0])
    array([2., 3.])
    """
    size = size_of(n)
    if size.is_Integer and size < 0:
        raise ValueError(f"arange: n must be non-negative, got {size}")
    return named(Tensor(Arange((), n=size)), name)


class Onehot(TensorOp):
    """``onehot(labels, k)``: a float tensor with a new last axis of length ``k``,
    1 at each label and 0 elsewhere (``np.eye(k)[labels]``: negative labels count from
    the end; one outside ``[-k, k)`` raises IndexError)."""

    params = ("k", "out_dtype")
    differentiable = False

    def infer_type(self):
        labels = self.inputs[0]
        if labels.dtype not in INT_DTYPES:
            raise TypeError(f"onehot: labels must be integers, got dtype {labels.dtype}")
        self.may_raise = not isinstance(labels, (Variable, Constant))
        return TensorType(self.out_dtype, labels.shape + (self.k,), False), ()

    def vjp(self, g):
        return [None]

    def _sympystr(self, printer):
        return f"onehot({printer._print(self.inputs[0])}, {printer._print(self.k)})"

    def _latex(self, printer):
        return rf"\operatorname{{onehot}}_{{{printer._print(self.k)}}}\left({printer._print(self.inputs[0])}\right)"

    def lower(self, e):
        labels = self.inputs[0]
        dims = ", ".join(e.size(d) for d in self.shape)
        k = e.size(self.k)
        lines = [f"{e.out} = np.zeros(({dims},), dtype=np.{self.dtype})"]
        loops = [f"p{m}" for m in range(labels.ndim)]
        pad = ""
        for m, n in enumerate(labels.shape):
            lines.append(f"{pad}for {loops[m]} in range({e.size(n)}):")
            pad += "    "
        read = f"{e.arg(0)}[{', '.join(loops)}]" if labels.ndim else e.arg(0)
        lines += [f"{pad}j = np.int64({read})",
                  f"{pad}if j < -{k} or j >= {k}:",
                  f"{pad}    raise IndexError('onehot: a label is outside [-k, k)')",
                  f"{pad}if j < 0:",
                  f"{pad}    j += {k}",
                  f"{pad}{e.out}[{', '.join(loops + ['j'])}] = 1"]
        return lines


def onehot(labels, k, dtype="float64", name: str | None = None) -> Tensor:
    """One-hot rows for integer ``labels`` (a new last axis of length ``k``, an int
    or a run-time size), as ``np.eye(k)[labels]``: a label in ``[-k, 0)`` counts
    from the end, one outside ``[-k, k)`` raises IndexError when computed.

    >>> labels = sd.vector("labels", dtype="int64")
    >>> sd.function([labels], sd.onehot(labels, 3))([2, 0])
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    from ..graph.types import check_dtype

    node = as_node(labels)
    size = size_of(k)
    return named(Tensor(Onehot((node,), k=size, out_dtype=check_dtype(dtype))), name)


INDEXING_OPS = (AdvancedIndex, IndexAdd, Arange, Onehot)
