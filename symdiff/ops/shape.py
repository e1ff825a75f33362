"""Shape ops: broadcast, reshape, transpose, basic indexing and its adjoint,
concatenation, stacking.

Basic indexing (ints, slices with any step, negative bounds, ``None`` and
``...``) is checked against the run-time size of each axis: an index out of
range raises ``IndexError`` naming the tensor, the axis, the index and the
size.  On a run-time axis a slice does not clamp as NumPy's does: its bounds
must lie inside the axis (its length is part of the static type).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..graph.node import Node, Variable
from ..graph.sizes import as_size, is_static, known_equal, size_product, sizes_equal, static_or_none
from ..graph.types import ShapeError, TensorType, broadcast, fmt_shape, promote
from ..tensor import Tensor, as_node, named
from . import build as b
from . import elementwise as ew
from .base import Bound, TensorOp, normalize_axes, postfix


def _shape_text(printer, node: Node, dims: tuple) -> str:
    """Code for a shape: ``x.shape`` when it is exactly a variable's, else a tuple."""
    from ..graph.sizes import Dim

    vars_ = {d.var for d in dims if isinstance(d, Dim)}
    if len(vars_) == 1 and len(dims) == len(next(iter(vars_)).shape) and all(
        sizes_equal(d, e) for d, e in zip(dims, next(iter(vars_)).shape)
    ):
        return f"{next(iter(vars_)).name}.shape"
    inner = ", ".join(_size_text(printer, d) for d in dims)
    return f"({inner}{',' if len(dims) == 1 else ''})"


def _size_text(printer, size) -> str:
    """A size as integer code: quotients print with ``//`` (``n*m//3``, not ``n*m/3``;
    ``(n + 1)//2``, not ``floor(n/2 + 1/2)``)."""
    floors = {f: sp.Symbol(_quotient_text(printer, f.args[0])) for f in sp.sympify(size).atoms(sp.floor)}
    return _quotient_text(printer, sp.sympify(size).xreplace(floors))


def _quotient_text(printer, size) -> str:
    num, den = sp.fraction(sp.together(size))
    if den == 1:
        return printer._print(size)
    return f"({printer._print(num)})//{printer._print(den)}" if isinstance(num, sp.Add) else f"{printer._print(num)}//{printer._print(den)}"


# --------------------------------------------------------------------------- broadcast


class Expand(ew.Elementwise):
    """``x`` broadcast NumPy-style to ``dims`` (and given ``to``'s dtype, if set):
    elementwise, each position reads the operand's broadcast position."""

    params = ("dims", "to")
    precedence = ew._ATOM

    def __init__(self, inputs=(), dims=(), to=None):
        super().__init__(inputs, dims=tuple(dims), to=to)

    def infer_type(self):
        x = self.inputs[0]
        shape, constraints = broadcast(x.shape, self.dims)
        if len(shape) != len(self.dims) or any(
            is_static(a) and is_static(d) and a != d for a, d in zip(shape, self.dims)
        ):
            raise ShapeError(f"cannot broadcast shape {fmt_shape(x.shape)} to {fmt_shape(self.dims)}")
        return TensorType(self.to or x.dtype, tuple(self.dims), False), constraints

    def vjp(self, g):
        return [g]

    def _sympystr(self, printer):
        return f"broadcast_to({printer._print(self.inputs[0])}, {_shape_text(printer, self, self.dims)})"

    def _latex(self, printer):
        return printer._print(self.inputs[0])

    def _numba(self, p):
        return p.arg(self, 0)

    def to_sympy(self, x):
        return x


def expand(x: Node, dims: tuple, dtype: str | None = None) -> Node:
    """``x`` as a value of exactly ``dims`` (and ``dtype``, if given): broadcast and cast as needed."""
    from ..graph.node import Constant

    dims = tuple(dims)
    if dtype is not None and isinstance(x, Constant) and (x.type.weak or x.dtype != dtype):
        x = Constant((), value=x.value, const_dtype=dtype, weak=False)
    if len(x.shape) == len(dims) and all(known_equal(a, d) for a, d in zip(x.shape, dims)):
        if dtype is not None and x.dtype != dtype:
            return ew.Cast((x,), to=dtype)
        return x
    return Expand((x,), dims=dims, to=dtype if dtype is not None and dtype != x.dtype else None)


def broadcast_to(x, shape, name: str | None = None) -> Tensor:
    """``x`` broadcast to ``shape`` (ints or symbolic sizes); the gradient sums
    over the broadcast axes.

    >>> x = sd.vector("x")
    >>> sd.broadcast_to(x, (3, x.shape[0])).static_shape
    (3, None)
    >>> sd.pprint(sd.grad(sd.sum(sd.broadcast_to(x, (3, x.shape[0]))), x))
    'broadcast_to(3, x.shape)'
    """
    node = as_node(x)
    if isinstance(shape, (int, Tensor)) or hasattr(shape, "__index__"):
        shape = (shape,)
    return named(Tensor(Expand((node,), dims=tuple(size_of(d) for d in shape))), name)


def size_of(value) -> sp.Expr:
    """A size from an int or a symbolic int tensor built from sizes (``X.shape[0] * 2``)."""
    from ..graph.node import Constant, Size

    if isinstance(value, Tensor):
        value = value.node
    if isinstance(value, Size):
        return value.size
    if isinstance(value, Constant) and value.value.is_Integer:
        return value.value
    if isinstance(value, (ew.Add, ew.Sub, ew.Mul)) and value.dtype in ("int64", "int32"):
        a, c = (size_of(v) for v in value.inputs)
        return {"Add": a + c, "Sub": a - c, "Mul": a * c}[type(value).__name__]
    if isinstance(value, Node):
        raise TypeError("a size must be an int or an expression of run-time sizes (X.shape[0], ...)")
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"a size must be an int, got {value!r}")
    return sp.Integer(int(value))


# --------------------------------------------------------------------------- reshape and transpose


class Reshape(TensorOp):
    """The elements of ``x`` (C order) in shape ``dims``."""

    params = ("dims",)
    is_view = True

    def infer_type(self):
        x = self.inputs[0]
        src, dst = size_product(x.shape), size_product(self.dims)
        if is_static(src) and is_static(dst) and src != dst:
            raise ShapeError(f"cannot reshape {fmt_shape(x.shape)} ({src} elements) into {fmt_shape(self.dims)} ({dst} elements)")
        constraints = () if sizes_equal(src, dst) else ((src, dst),)
        return TensorType(x.dtype, tuple(self.dims), x.type.weak), constraints

    def vjp(self, g):
        return [reshape_node(g, batch_of(g, self) + tuple(self.inputs[0].shape))]

    def _sympystr(self, printer):
        x = self.inputs[0]
        spread = new_axes_index(x.shape, self.dims)
        if spread is not None:
            return f"{postfix(printer, x)}[{spread}]"
        return f"reshape({printer._print(x)}, {_shape_text(printer, self, self.dims)})"

    def _latex(self, printer):
        return printer._print(self.inputs[0])

    def lower(self, e):
        dims = ", ".join(e.size(d) for d in self.dims)
        if not self.dims:
            return [f"{e.out} = {e.arg(0)}.ravel()[0]"]
        return [f"{e.out} = np.ascontiguousarray({e.arg(0)}).reshape(({dims},))"]


def batch_of(g: Node, node: Node) -> tuple:
    """The leading batch axes of ``g``, a (full-shape) adjoint of ``node`` in a batched sweep."""
    return tuple(g.shape[: g.ndim - node.ndim])


def batch_index(nb: int, index: tuple) -> tuple:
    """A basic index with ``nb`` full slices in front (for the batch axes of an adjoint)."""
    return (("s", None, None, 1),) * nb + tuple(index)


def new_axes_index(src: tuple, dims: tuple) -> str | None:
    """``":, None"``-style index text when reshaping ``src`` to ``dims`` only inserts
    size-1 axes (``x[:, None]``), else ``None``."""
    if len(dims) <= len(src) or not src:
        return None
    parts, k = [], 0
    for d in dims:
        if k < len(src) and sizes_equal(d, src[k]):
            parts.append(":")
            k += 1
        elif d == 1:
            parts.append("None")
        else:
            return None
    if k != len(src):
        return None
    while parts and parts[-1] == ":":
        parts.pop()
    return ", ".join(parts) if parts else None


def reshape_node(x: Node, dims: tuple) -> Node:
    """``x`` reshaped to ``dims`` (folding a reshape to the same shape, and reshapes of reshapes)."""
    dims = tuple(as_size(d) for d in dims)
    if len(dims) == x.ndim and all(known_equal(a, d) for a, d in zip(x.shape, dims)):
        return x
    if not x.shape:
        return expand(x, dims)
    if isinstance(x, Reshape):
        x = x.inputs[0]
        if len(dims) == x.ndim and all(known_equal(a, d) for a, d in zip(x.shape, dims)):
            return x
    return Reshape((x,), dims=dims)


def reshape(x, shape, name: str | None = None) -> Tensor:
    """A tensor with the same elements in ``shape``; one entry may be -1.

    >>> X = sd.matrix("X", shape=(None, 3))
    >>> sd.reshape(X, (-1,)).static_shape
    (None,)
    >>> sd.pprint(sd.reshape(X, (3, -1)))
    'reshape(X, (3, X.shape[0]))'
    """
    node = as_node(x)
    if isinstance(shape, (int, Tensor)) or hasattr(shape, "__index__"):
        shape = (shape,)
    dims = [size_of(s) if not (isinstance(s, int) and s == -1) else None for s in shape]
    if sum(d is None for d in dims) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {tuple(shape)}")
    for d in dims:
        if d is not None and d.is_Integer and d < 0:
            raise ValueError(f"reshape: sizes must be non-negative or -1, got {tuple(shape)}")
    if None in dims:
        known = size_product(d for d in dims if d is not None)
        total = size_product(node.shape)
        if known == 0:
            raise ValueError(f"cannot reshape {fmt_shape(node.shape)} into {tuple(shape)}: -1 is ambiguous with a 0 size")
        rest = sp.cancel(total / known)
        if rest.is_Rational and not rest.is_Integer:
            raise ShapeError(f"cannot reshape {fmt_shape(node.shape)} into {tuple(shape)}: "
                             f"{total} elements are not a multiple of {known}")
        dims[dims.index(None)] = rest
    return named(Tensor(Reshape((node,), dims=tuple(dims)) if not all(
        sizes_equal(a, d) for a, d in zip(node.shape, dims)) or len(dims) != node.ndim else _Identity((node,))), name)


class _Identity(TensorOp):
    """A reshape to the same shape: the user's node, kept so that naming it names only it."""

    is_view = True

    @property
    def precedence(self):  # it prints as its operand, so it binds as its operand does
        return self.inputs[0].precedence

    def infer_type(self):
        return self.inputs[0].type, ()

    def vjp(self, g):
        return [g]

    def _sympystr(self, printer):
        return printer._print(self.inputs[0])

    def _latex(self, printer):
        return printer._print(self.inputs[0])

    def lower(self, e):
        return [f"{e.out} = {e.arg(0)}"]


class SizeCheck(_Identity):
    """``x`` unchanged, typed with shape ``dims``, requiring the size equalities
    ``pairs`` (``origins`` names the op each comes from).

    A derivative is built assuming the facts of the graph it differentiates
    (``h.T @ g`` has the shape of ``w`` in ``h @ w``); where that graph's nodes
    are not part of the derivative's own graph, this node carries the facts, so
    a compiled function still checks them at call time.
    """

    params = ("dims", "pairs", "origins")

    def infer_type(self):
        x = self.inputs[0]
        return TensorType(x.dtype, tuple(self.dims), x.type.weak), tuple(self.pairs) + self._own()

    def _own(self) -> tuple:
        return tuple((a, d) for a, d in zip(self.inputs[0].shape, self.dims) if not sizes_equal(a, d))

    def constraint_origins(self) -> tuple:
        """For each constraint, the op that required it (``None``: this node's own shape)."""
        return tuple(self.origins) + (None,) * len(self._own())


class Transpose(TensorOp):
    """Axes permuted by ``perm`` (``.T`` reverses them)."""

    params = ("perm",)
    is_view = True

    def infer_type(self):
        x = self.inputs[0]
        return TensorType(x.dtype, tuple(x.shape[p] for p in self.perm), x.type.weak), ()

    def vjp(self, g):
        inverse = tuple(sorted(range(len(self.perm)), key=lambda k: self.perm[k]))
        nb = g.ndim - self.ndim  # leading batch axes of a batched adjoint stay in front
        return [transpose_node(g, tuple(range(nb)) + tuple(nb + p for p in inverse))]

    @property
    def reverses(self) -> bool:
        return self.perm == tuple(reversed(range(len(self.perm))))

    def _sympystr(self, printer):
        if self.reverses:
            return f"{postfix(printer, self.inputs[0])}.T"
        return f"transpose({printer._print(self.inputs[0])}, {self.perm})"

    def _latex(self, printer):
        if self.reverses:
            return rf"{printer.parenthesize(self.inputs[0], 1000, strict=True)}^{{\top}}"
        return rf"\operatorname{{transpose}}\left({printer._print(self.inputs[0])}, {self.perm}\right)"

    def lower(self, e):
        if self.reverses:
            return [f"{e.out} = {e.arg(0)}.T"]
        return [f"{e.out} = np.transpose({e.arg(0)}, {self.perm})"]


def transpose_node(x: Node, perm=None) -> Node:
    ndim = x.ndim
    perm = tuple(reversed(range(ndim))) if perm is None else tuple(int(p) % ndim if ndim else 0 for p in perm)
    if sorted(perm) != list(range(ndim)):
        raise ValueError(f"transpose: {perm} is not a permutation of the {ndim} axes of {fmt_shape(x.shape)}")
    if perm == tuple(range(ndim)):
        return x
    if isinstance(x, Transpose):
        return transpose_node(x.inputs[0], tuple(x.perm[p] for p in perm))
    return Transpose((x,), perm=perm)


def transpose(x, axes=None, name: str | None = None) -> Tensor:
    """Permute axes (reverse them by default).

    >>> T = sd.tensor("T", (2, 3, 4))
    >>> sd.transpose(T).static_shape, sd.transpose(T, (1, 0, 2)).static_shape
    ((4, 3, 2), (3, 2, 4))
    """
    node = as_node(x)
    if axes is not None and len(tuple(axes)) != node.ndim:
        raise ValueError(f"transpose: axes {tuple(axes)} do not match the {node.ndim} axes of {fmt_shape(node.shape)}")
    result = transpose_node(node, axes)
    if result is node:
        result = _Identity((node,))
    return named(Tensor(result), name)


# --------------------------------------------------------------------------- basic indexing


def _resolve(k: int, n: sp.Expr) -> sp.Expr:
    return sp.Integer(k) if k >= 0 else n + k


def _describe(x: Node) -> str:
    return repr(x.name) if x.name else f"a tensor of shape {fmt_shape(x.shape)}"


def index_plan(x: Node, index: tuple) -> tuple:
    """Shape and run-time bounds of ``x[index]`` for a normalised ``index``
    (entries ``("i", k)``, ``("s", start, stop, step)``, ``("n",)``)."""
    shape, bounds, axis = [], [], 0
    for entry in index:
        if entry[0] == "n":
            shape.append(sp.S.One)
            continue
        n = x.shape[axis]
        if entry[0] == "i":
            k = entry[1]
            if is_static(n):
                if not -int(n) <= k < int(n):
                    raise IndexError(f"index {k} is out of bounds for axis {axis} of {_describe(x)} with size {n}")
            else:
                message = f"index {k} is out of bounds for axis {axis} of {_describe(x)} with size {{size}}"
                bounds.append(Bound(sp.Integer(k + 1), n, message, n) if k >= 0 else Bound(sp.Integer(-k), n, message, n))
        else:
            start, stop, step = entry[1:]
            if is_static(n):
                shape.append(sp.Integer(len(range(*slice(start, stop, step).indices(int(n))))))
            else:
                shape.append(_slice_length(x, axis, n, start, stop, step, bounds))
        axis += 1
    shape.extend(x.shape[axis:])
    return tuple(shape), tuple(bounds)


def _slice_length(x, axis, n, start, stop, step, bounds) -> sp.Expr:
    text = f"{'' if start is None else start}:{'' if stop is None else stop}{'' if step == 1 else f':{step}'}"
    message = f"slice {text} is out of bounds for axis {axis} of {_describe(x)} with size {{size}}"
    if step > 0:
        lo = sp.S.Zero if start is None else _resolve(start, n)
        hi = n if stop is None else _resolve(stop, n)
        for low, high in ((sp.S.Zero, lo), (lo, hi), (hi, n)):
            if not (is_static(high - low) and high - low >= 0):
                bounds.append(Bound(low, high, message, n))
        span = hi - lo
    else:
        hi = n - 1 if start is None else _resolve(start, n)
        lo = sp.Integer(-1) if stop is None else _resolve(stop, n)
        for low, high in ((sp.Integer(-1), lo), (lo, hi), (hi, n - 1)):
            if not (is_static(high - low) and high - low >= 0):
                bounds.append(Bound(low, high, message, n))
        span = hi - lo
    size = sp.floor((span + abs(step) - 1) / abs(step)) if abs(step) != 1 else span
    return sp.simplify(size) if not size.is_Integer else size


class Subtensor(TensorOp):
    """Basic indexing ``x[index]``: ints, slices (any step, negative bounds) and new axes."""

    params = ("index",)
    is_view = True

    def infer_type(self):
        x = self.inputs[0]
        shape, bounds = index_plan(x, self.index)
        self.bounds = bounds
        return TensorType(x.dtype, shape, x.type.weak), ()

    def vjp(self, g):
        x = self.inputs[0]
        batch = batch_of(g, self)
        return [IndexAdjoint((g,), index=batch_index(len(batch), self.index), dims=batch + tuple(x.shape),
                             out_dtype=x.dtype, of=x.name)]

    def _sympystr(self, printer):
        return f"{postfix(printer, self.inputs[0])}[{index_text(self.index)}]"

    def _latex(self, printer):
        return rf"{printer.parenthesize(self.inputs[0], 1000, strict=True)}_{{[{index_text(self.index)}]}}"

    def lower(self, e):
        return [f"{e.out} = {e.arg(0)}[{index_code(self.index, self.inputs[0].shape, e)}]"]


@dataclass(frozen=True)
class _IndexedTensor:
    """What :func:`index_plan` needs of an indexed tensor: its shape and name."""

    shape: tuple
    name: str | None


class IndexAdjoint(TensorOp):
    """Zeros of shape ``dims`` with ``g`` added at ``index`` (the VJP of basic indexing)."""

    params = ("index", "dims", "out_dtype", "of")  # of: the name of the tensor indexed (for messages)

    def infer_type(self):
        # the same bounds as the indexing it inverts: a gradient may be compiled without its forward value
        _, self.bounds = index_plan(_IndexedTensor(tuple(self.dims), self.of), self.index)
        return TensorType(self.out_dtype, tuple(self.dims), False), ()

    def vjp(self, g):
        return [Subtensor((g,), index=batch_index(g.ndim - self.ndim, self.index))]

    def _sympystr(self, printer):
        return f"scatter({printer._print(self.inputs[0])}, s_[{index_text(self.index)}], {_shape_text(printer, self, self.dims)})"

    def _latex(self, printer):
        return rf"\operatorname{{scatter}}_{{[{index_text(self.index)}]}}\left({printer._print(self.inputs[0])}\right)"

    def lower(self, e):
        # element loops over g (slice assignment compiles slowly, and not at all in parallel kernels)
        g = self.inputs[0]
        dims = ", ".join(e.size(d) for d in self.dims)
        lines = [f"{e.out} = np.zeros(({dims},), dtype=np.{self.dtype})"]
        target, pad, k = [], "", 0
        for axis, n in enumerate(self.dims):
            entry = self.index[axis] if axis < len(self.index) else ("s", None, None, 1)
            if entry[0] == "i":
                target.append(e.size(_resolve(entry[1], n)))
                continue
            lines.append(f"{pad}for p{k} in range({e.size(g.shape[k])}):")
            pad += "    "
            start, step = _slice_start(entry, n), entry[3]
            target.append(f"{e.size(start)} + p{k}" if step == 1 else f"{e.size(start)} + p{k} * {step}")
            k += 1
        source = f"{e.arg(0)}[{', '.join(f'p{j}' for j in range(k))}]" if g.shape else e.arg(0)
        lines.append(f"{pad}{e.out}[{', '.join(target)}] = {source}")
        return lines


def _slice_start(entry: tuple, n: sp.Expr) -> sp.Expr:
    """The first position a slice entry ``("s", start, stop, step)`` takes on an axis of size ``n``."""
    start, stop, step = entry[1:]
    if is_static(n):
        return sp.Integer(slice(start, stop, step).indices(int(n))[0])
    if start is None:
        return sp.S.Zero if step > 0 else n - 1
    return _resolve(start, n)


def index_text(index: tuple) -> str:
    """An index as the user would write it."""
    parts = []
    for entry in index:
        if entry[0] == "i":
            parts.append(str(entry[1]))
        elif entry[0] == "n":
            parts.append("None")
        else:
            start, stop, step = entry[1:]
            text = ("" if start is None else str(start)) + ":" + ("" if stop is None else str(stop))
            parts.append(text + (f":{step}" if step != 1 else ""))
    return ", ".join(parts) if parts else "()"


def index_code(index: tuple, shape: tuple, e) -> str:
    """Numba code for an index into an array of ``shape``: static axes get NumPy's
    normalised bounds, run-time axes resolve negative bounds to ``n + k`` (checked
    in range before the kernel runs)."""
    parts, axis = [], 0
    for entry in index:
        if entry[0] == "n":
            raise NotImplementedError("new axes are lowered as reshapes")
        n = shape[axis]
        axis += 1
        if entry[0] == "i":
            parts.append(e.size(_resolve(entry[1], n)))
            continue
        start, stop, step = entry[1:]
        if is_static(n):
            lo, hi, _ = slice(start, stop, step).indices(int(n))
            bounds = [str(lo), str(hi) if hi >= 0 else ""]
        else:
            bounds = ["" if v is None else e.size(_resolve(v, n)) for v in (start, stop)]
        parts.append(":".join(bounds) + (f":{step}" if step != 1 else ""))
    return ", ".join(parts)


def normalize_index(x: Node, index) -> tuple:
    """``index`` (an int, slice, None, ... or a tuple of them) as a tuple of entries."""
    index = index if isinstance(index, tuple) else (index,)
    consumed = sum(1 for i in index if i is not None and i is not Ellipsis)
    if sum(1 for i in index if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > x.ndim:
        raise IndexError(f"too many indices for {_describe(x)}: {x.ndim} dimension(s), {consumed} indexed")
    entries = []
    for i in index:
        if i is None:
            entries.append(("n",))
        elif i is Ellipsis:
            entries.extend(("s", None, None, 1) for _ in range(x.ndim - consumed))
        elif isinstance(i, slice):
            vals = []
            for v in (i.start, i.stop, i.step):
                if v is not None and (isinstance(v, bool) or not hasattr(v, "__index__")):
                    raise TypeError(f"slice bounds must be ints or None, got {i!r}")
                vals.append(None if v is None else int(v))
            step = 1 if vals[2] is None else vals[2]
            if step == 0:
                raise ValueError("slice step cannot be zero")
            entries.append(("s", vals[0], vals[1], step))
        elif isinstance(i, bool) or not hasattr(i, "__index__"):
            raise TypeError(f"only ints, slices, None, ... and integer tensors can index a tensor, got {i!r}")
        else:
            entries.append(("i", int(i)))
    while entries and entries[-1] == ("s", None, None, 1):
        entries.pop()
    return tuple(entries)


def getitem(x, index) -> Tensor:
    """``x[index]``: basic indexing, or integer-array indexing when an index is an integer tensor or array."""
    from .indexing import advanced_getitem, is_advanced

    node = as_node(x)
    if is_advanced(index):
        return advanced_getitem(node, index)
    entries = normalize_index(node, index)
    if not node.ndim and not entries:
        return Tensor(_Identity((node,)))
    return Tensor(subtensor(node, entries))


def subtensor(x: Node, entries: tuple) -> Node:
    """``x[entries]``; new axes become a reshape of the indexed value."""
    if not any(e[0] == "n" for e in entries):
        return Subtensor((x,), index=entries) if entries else _Identity((x,))
    plain = tuple(e for e in entries if e[0] != "n")
    base = Subtensor((x,), index=plain) if plain else x
    shape, _ = index_plan(x, entries)
    return Reshape((base,), dims=shape)


# --------------------------------------------------------------------------- joining


class Concatenate(TensorOp):
    """Tensors joined along an existing axis."""

    params = ("axis",)

    def infer_type(self):
        shapes = [p.shape for p in self.inputs]
        ndim = len(shapes[0])
        out, constraints = list(shapes[0]), []
        for s in shapes[1:]:
            if len(s) != ndim:
                raise ShapeError("concatenate: all tensors must have the same number of dimensions, got " + ", ".join(fmt_shape(q) for q in shapes))
            for k, n in enumerate(s):
                if k == self.axis:
                    out[k] = out[k] + n
                elif not sizes_equal(n, out[k]):
                    if is_static(n) and is_static(out[k]):
                        raise ShapeError("concatenate: shapes " + ", ".join(fmt_shape(q) for q in shapes) + f" differ outside axis {self.axis}")
                    constraints.append((out[k], n))
        dtype, weak = promote(*(p.type for p in self.inputs))
        return TensorType(dtype, tuple(out), False), tuple(constraints)

    def vjp(self, g):
        parts, start = [], sp.S.Zero
        nb = g.ndim - self.ndim
        for p in self.inputs:
            n = p.shape[self.axis]
            parts.append(AxisSlice((g,), axis=nb + self.axis, start=start, length=n))
            start = start + n
        return parts

    def _sympystr(self, printer):
        return f"concatenate([{', '.join(printer._print(p) for p in self.inputs)}], axis={self.axis})"

    def _latex(self, printer):
        return r"\left[" + r",\ ".join(printer._print(p) for p in self.inputs) + r"\right]"

    def lower(self, e):
        parts = ", ".join(e.arg(k, dtype=self.dtype) for k in range(len(self.inputs)))
        return [f"{e.out} = np.concatenate(({parts},), axis={self.axis})"]


class AxisSlice(TensorOp):
    """``g`` cut along ``axis`` to ``[start, start + length)`` (sizes possibly known only at run time)."""

    params = ("axis", "start", "length")
    is_view = True

    def infer_type(self):
        g = self.inputs[0]
        shape = list(g.shape)
        shape[self.axis] = self.length
        return TensorType(g.dtype, tuple(shape), g.type.weak), ()

    def vjp(self, g):
        x = self.inputs[0]
        batch = batch_of(g, self)
        axis = len(batch) + self.axis
        before = list(batch + tuple(x.shape))
        before[axis] = self.start
        after = list(batch + tuple(x.shape))
        after[axis] = x.shape[self.axis] - self.start - self.length
        pieces = []
        if not (is_static(self.start) and self.start == 0):
            pieces.append(expand(b.zero(), tuple(before), g.dtype))
        pieces.append(g)
        if not (is_static(after[axis]) and after[axis] == 0):
            pieces.append(expand(b.zero(), tuple(after), g.dtype))
        return [Concatenate(tuple(pieces), axis=axis) if len(pieces) > 1 else g]

    def _sympystr(self, printer):
        start, stop = _size_text(printer, self.start), _size_text(printer, self.start + self.length)
        cut = ":, " * self.axis + f"{start}:{stop}"
        return f"{postfix(printer, self.inputs[0])}[{cut}]"

    def _latex(self, printer):
        return rf"{printer._print(self.inputs[0])}_{{[{printer._print(self.start)}:{printer._print(self.start + self.length)}]}}"

    def lower(self, e):
        start = e.size(self.start)
        cut = ":, " * self.axis + f"{start}:{start} + {e.size(self.length)}"
        return [f"{e.out} = {e.arg(0)}[{cut}]"]


def concatenate(tensors, axis: int = 0, name: str | None = None) -> Tensor:
    """Join tensors along an existing axis.

    >>> x, y = sd.vector("x"), sd.vector("y", shape=(2,))
    >>> sd.pprint(sd.concatenate([x, y]))
    'concatenate([x, y], axis=0)'
    >>> sd.concatenate([y, y, y]).static_shape
    (6,)
    """
    nodes = [as_node(t) for t in tensors]
    if not nodes:
        raise ValueError("concatenate needs at least one tensor")
    if not nodes[0].ndim:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    axis = normalize_axes(axis, nodes[0].ndim)[0]
    if len(nodes) == 1:
        return named(Tensor(_Identity((nodes[0],))), name)
    return named(Tensor(Concatenate(tuple(nodes), axis=axis)), name)


def stack(tensors, axis: int = 0, name: str | None = None) -> Tensor:
    """Join tensors along a new axis.

    >>> x, y = sd.vector("x", shape=(3,)), sd.vector("y", shape=(3,))
    >>> sd.stack([x, y]).static_shape, sd.stack([x, y], axis=1).static_shape
    ((2, 3), (3, 2))
    """
    nodes = [as_node(t) for t in tensors]
    if not nodes:
        raise ValueError("stack needs at least one tensor")
    ndim = nodes[0].ndim + 1
    axis = normalize_axes(axis, ndim)[0]
    expanded = []
    for p in nodes:
        shape = list(p.shape)
        shape.insert(axis, sp.S.One)
        expanded.append(reshape_node(p, tuple(shape)) if p.ndim else expand(p, (sp.S.One,)))
    if len(expanded) == 1:
        return named(Tensor(_Identity((expanded[0],))), name)
    return named(Tensor(Concatenate(tuple(expanded), axis=axis)), name)


def expand_dims(x, axis: int, name: str | None = None) -> Tensor:
    """``x`` with a new axis of size 1 at ``axis`` (as ``x[None]`` for ``axis=0``).

    >>> x = sd.vector("x")
    >>> sd.expand_dims(x, 1).static_shape, x[None].static_shape
    ((None, 1), (1, None))
    """
    node = as_node(x)
    axis = normalize_axes(axis, node.ndim + 1)[0]
    shape = list(node.shape)
    shape.insert(axis, sp.S.One)
    return named(Tensor(Reshape((node,), dims=tuple(shape)) if node.ndim else Expand((node,), dims=(sp.S.One,))), name)


SHAPE_OPS = (Expand, Reshape, _Identity, SizeCheck, Transpose, Subtensor, IndexAdjoint, Concatenate, AxisSlice)
