"""Tensor operations that are not elementwise: one SymPy node class per op.

Each class owns its shape rule (``infer_shape``), its dtype rule, its
vector-Jacobian product as symbolic expressions (``vjp``) and how it prints
(``_sympystr``, ``_latex``).  How each lowers to Numba lives in
:mod:`symdiff.codegen.lower`, dispatched on the class.

Constructors normalise and fold trivial cases (a reduction over no axes, a
broadcast to the shape an expression already has), so build nodes through
the ``make`` class methods rather than calling the classes directly.
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from .functions import same
from .symbols import Static
from .types import broadcast_shapes, dtype_of, fmt_shape, same_shape, shape_of, size_of, value_dtype


def _paren(printer, expr, level, strict=False):
    return printer.parenthesize(expr, level, strict=strict)


def _postfix_operand(printer, expr):
    """``expr`` as the operand of a postfix (``.T``, ``[...]``): bare names and calls stay bare."""
    return _paren(printer, expr, PRECEDENCE["Func"], strict=True)


def _axes_text(axes, ndim_in):
    if len(axes) == ndim_in:
        return ""
    return f", axis={axes[0] if len(axes) == 1 else axes}"


class TensorOp(sp.Expr):
    """Base class: a non-elementwise op whose SymPy args are operands and ``Static`` params."""

    is_commutative = True
    is_real = True

    @property
    def operands(self) -> tuple:
        return tuple(a for a in self.args if not isinstance(a, Static))

    def infer_dtype(self) -> str:
        return value_dtype(self.operands[0])

    def infer_shape(self):  # pragma: no cover - every op defines it
        raise NotImplementedError

    def vjp(self, g: sp.Expr) -> list:
        """Contributions to each operand's adjoint, given this node's adjoint ``g``
        (``None`` for an operand that gets none).  Each has its operand's shape,
        or a smaller shape that broadcasts to it."""
        raise NotImplementedError(f"{type(self).__name__} has no derivative rule")

    def _eval_derivative(self, s):
        raise TypeError(f"use symdiff.grad to differentiate {type(self).__name__}")

    def _latex(self, printer):
        return printer._print_Function(sp.Function(type(self).__name__.lower())(*self.operands))


# --------------------------------------------------------------------------- broadcasting


class BroadcastTo(TensorOp):
    """``x`` given new axes at ``new_axes`` (positions in the result), then broadcast
    NumPy-style to ``dims``.  Also carries a dtype, so a folded constant keeps its type."""

    @classmethod
    def make(cls, x, dims, dtype=None, new_axes=()):
        dims = tuple(sp.sympify(d) for d in dims)
        dtype = dtype or value_dtype(x)
        if not new_axes and same_shape(shape_of(x), dims) and dtype_of(x) == dtype:
            return x
        return cls(x, Static(dtype), Static(tuple(new_axes)), *dims)

    @property
    def x(self):
        return self.args[0]

    @property
    def operands(self) -> tuple:
        return (self.args[0],)

    @property
    def new_axes(self) -> tuple:
        return self.args[2].value

    @property
    def dims(self) -> tuple:
        return self.args[3:]

    @property
    def aligned_shape(self) -> tuple:
        """Shape of ``x`` with the new axes inserted as 1 (before broadcasting)."""
        shape = list(shape_of(self.x))
        for k in self.new_axes:
            shape.insert(k, sp.S.One)
        return tuple(shape)

    def infer_dtype(self):
        return self.args[1].value

    def infer_shape(self):
        aligned = self.aligned_shape
        if len(aligned) > len(self.dims) or any(
            a.is_Integer and d.is_Integer and a not in (1, d) for a, d in zip(reversed(aligned), reversed(self.dims))
        ):
            raise ValueError(f"cannot broadcast shape {fmt_shape(shape_of(self.x))} to {fmt_shape(self.dims)}")
        return self.dims, broadcast_shapes(aligned, self.dims)[1]

    def vjp(self, g):
        return [unbroadcast(g, shape_of(self.x), self.new_axes)]

    def _sympystr(self, printer):
        return printer._print(self.x)

    def _latex(self, printer):
        return printer._print(self.x)

    @property
    def precedence(self):
        from sympy.printing.precedence import precedence

        return precedence(self.x)


def unbroadcast(g, shape: tuple, new_axes: tuple = ()) -> sp.Expr:
    """Sum ``g`` over the axes along which an operand of ``shape`` was broadcast."""
    gshape = shape_of(g)
    lead = len(gshape) - len(shape) - len(new_axes)
    dropped = set(range(lead)) | {lead + k for k in new_axes}
    kept = [k for k in range(len(gshape)) if k not in dropped]
    ones = [k for k, n in zip(kept, shape) if n == 1 and gshape[k] != 1]
    out = Reduce.make(g, "sum", tuple(sorted(dropped | set(ones))), keepdims=True)
    if not same_shape(shape_of(out), tuple(shape)):
        out = Reshape.make(out, shape)
    return out


def with_kept_dims(g, axes: tuple, keepdims: bool, shape: tuple) -> sp.Expr:
    """``g``, the result of reducing ``axes`` of a ``shape`` tensor, with the reduced
    axes present as size 1, so that it broadcasts against the unreduced tensor."""
    if keepdims or len(axes) == len(shape):
        return g
    return Reshape.make(g, reduced_shape(shape, axes, keepdims=True))


# --------------------------------------------------------------------------- linear algebra


class MatMul(TensorOp):
    """``a @ b`` with NumPy semantics for 1-D and 2-D operands."""

    precedence = PRECEDENCE["Mul"] - 1

    @classmethod
    def make(cls, a, b):
        na, nb = len(shape_of(a)), len(shape_of(b))
        if na not in (1, 2) or nb not in (1, 2):
            raise ValueError(f"matmul needs 1-D or 2-D operands, got shapes {fmt_shape(shape_of(a))} and {fmt_shape(shape_of(b))}")
        return cls(a, b)

    def infer_dtype(self):
        a, b = self.args
        return "float32" if value_dtype(a) == value_dtype(b) == "float32" else "float64"

    def infer_shape(self):
        sa, sb = shape_of(self.args[0]), shape_of(self.args[1])
        k1, k2 = sa[-1], sb[0]
        constraints = ()
        if k1 != k2:
            if k1.is_Integer and k2.is_Integer:
                raise ValueError(f"matmul: shapes {fmt_shape(sa)} and {fmt_shape(sb)} not aligned: {k1} (dim {len(sa) - 1}) != {k2} (dim 0)")
            constraints = ((k1, k2),)
        return sa[:-1] + sb[1:], constraints

    def vjp(self, g):
        a, b = self.args
        na, nb = len(shape_of(a)), len(shape_of(b))
        if na == 2 and nb == 2:
            return [MatMul(g, Transpose.make(b)), MatMul(Transpose.make(a), g)]
        if na == 1 and nb == 2:
            return [MatMul(b, g), outer(a, g)]
        if na == 2 and nb == 1:
            return [outer(g, b), MatMul(Transpose.make(a), g)]
        return [g * b, g * a]

    def _sympystr(self, printer):
        level = PRECEDENCE["Mul"]
        return f"{_paren(printer, self.args[0], level)} @ {_paren(printer, self.args[1], level)}"

    def _latex(self, printer):
        level = PRECEDENCE["Mul"]
        return rf"{_paren(printer, self.args[0], level)} \mathbin{{@}} {_paren(printer, self.args[1], level)}"


def outer(a, b) -> sp.Expr:
    """Outer product of two vectors, as a broadcast product."""
    n = shape_of(a)[0]
    return Reshape.make(a, (n, sp.S.One)) * b


class Transpose(TensorOp):
    """Axes permutation (``.T`` reverses them)."""

    @classmethod
    def make(cls, x, perm=None):
        ndim = len(shape_of(x))
        perm = tuple(reversed(range(ndim))) if perm is None else tuple(p % ndim for p in perm)
        if sorted(perm) != list(range(ndim)):
            raise ValueError(f"transpose: {perm} is not a permutation of the {ndim} axes of {fmt_shape(shape_of(x))}")
        if perm == tuple(range(ndim)):
            return x
        if isinstance(x, Transpose):
            inner = x.perm
            return cls.make(x.args[0], tuple(inner[p] for p in perm))
        return cls(x, Static(perm))

    @property
    def perm(self) -> tuple:
        return self.args[1].value

    def infer_shape(self):
        s = shape_of(self.args[0])
        return tuple(s[p] for p in self.perm), ()

    def vjp(self, g):
        inverse = tuple(sorted(range(len(self.perm)), key=lambda k: self.perm[k]))
        return [Transpose.make(g, inverse)]

    def _is_reverse(self):
        return self.perm == tuple(reversed(range(len(self.perm))))

    def _sympystr(self, printer):
        if self._is_reverse():
            return f"{_postfix_operand(printer, self.args[0])}.T"
        return f"transpose({printer._print(self.args[0])}, {self.perm})"

    def _latex(self, printer):
        if self._is_reverse():
            return rf"{_postfix_operand(printer, self.args[0])}^{{\top}}"
        return rf"\operatorname{{transpose}}\left({printer._print(self.args[0])}, {self.perm}\right)"


# --------------------------------------------------------------------------- reductions


def normalize_axes(axis, ndim: int) -> tuple:
    """``axis`` (None, int or tuple, negative allowed) as sorted non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for a tensor with {ndim} dimensions")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def reduced_shape(shape: tuple, axes: tuple, keepdims: bool) -> tuple:
    """Shape after reducing ``axes``."""
    if keepdims:
        return tuple(sp.S.One if k in axes else n for k, n in enumerate(shape))
    return tuple(n for k, n in enumerate(shape) if k not in axes)


class _AxisReduction(TensorOp):
    """Shared shape rule of reductions: args ``(x, ..., Static(axes), Static(keepdims))``."""

    @property
    def axes(self) -> tuple:
        return self.args[-2].value

    @property
    def keepdims(self) -> bool:
        return self.args[-1].value

    def infer_shape(self):
        return reduced_shape(shape_of(self.args[0]), self.axes, self.keepdims), ()

    def _print_call(self, printer, fname):
        keep = ", keepdims=True" if self.keepdims else ""
        return f"{fname}({printer._print(self.args[0])}{_axes_text(self.axes, len(shape_of(self.args[0])))}{keep})"


class Reduce(_AxisReduction):
    """sum / max / min / prod over ``axes``."""

    KINDS = ("sum", "max", "min", "prod")

    @classmethod
    def make(cls, x, kind: str, axes: tuple, keepdims: bool = False):
        if not axes:
            return x
        return cls(x, Static(kind), Static(tuple(axes)), Static(bool(keepdims)))

    @property
    def kind(self) -> str:
        return self.args[1].value

    def vjp(self, g):
        x = self.args[0]
        shape = shape_of(x)
        g_kept = with_kept_dims(g, self.axes, self.keepdims, shape)
        if self.kind == "sum":
            return [g_kept]
        out_kept = with_kept_dims(self, self.axes, self.keepdims, shape)
        if self.kind == "prod":
            return [g_kept * out_kept / x]
        hit = same(x, out_kept)
        ties = Reduce.make(hit, "sum", self.axes, keepdims=True)
        return [g_kept * hit / ties]

    def _sympystr(self, printer):
        return self._print_call(printer, self.kind)

    def _latex(self, printer):
        sym = {"sum": r"\sum", "prod": r"\prod", "max": r"\max", "min": r"\min"}[self.kind]
        sub = "" if len(self.axes) == len(shape_of(self.args[0])) else f"_{{\\text{{axis}}={','.join(map(str, self.axes))}}}"
        return rf"{sym}{sub}\left({printer._print(self.args[0])}\right)"


class LogSumExp(_AxisReduction):
    """log(sum(exp(x), axes)), evaluated stably (max-shifted)."""

    @classmethod
    def make(cls, x, axes: tuple, keepdims: bool = False):
        return cls(x, Static(tuple(axes)), Static(bool(keepdims)))

    def vjp(self, g):
        x = self.args[0]
        shape = shape_of(x)
        softmax = sp.exp(x - with_kept_dims(self, self.axes, self.keepdims, shape))
        return [with_kept_dims(g, self.axes, self.keepdims, shape) * softmax]

    def _sympystr(self, printer):
        return self._print_call(printer, "logsumexp")

    def _latex(self, printer):
        return rf"\operatorname{{logsumexp}}\left({printer._print(self.args[0])}\right)"


# --------------------------------------------------------------------------- shape manipulation


class Reshape(TensorOp):
    """A view of ``x`` with shape ``dims`` (same number of elements)."""

    @classmethod
    def make(cls, x, dims):
        dims = tuple(sp.sympify(d) for d in dims)
        if same_shape(shape_of(x), dims):
            return x
        if not shape_of(x):
            return BroadcastTo.make(x, dims)
        if isinstance(x, Reshape):
            x = x.args[0]
        return cls(x, *dims)

    @property
    def dims(self) -> tuple:
        return self.args[1:]

    @property
    def operands(self) -> tuple:
        return (self.args[0],)

    def infer_shape(self):
        src = size_of(shape_of(self.args[0]))
        dst = size_of(self.dims)
        if src.is_Integer and dst.is_Integer and src != dst:
            raise ValueError(f"cannot reshape {fmt_shape(shape_of(self.args[0]))} ({src} elements) into {fmt_shape(self.dims)} ({dst} elements)")
        return self.dims, (() if sp.simplify(src - dst) == 0 else ((src, dst),))

    def vjp(self, g):
        return [Reshape.make(g, shape_of(self.args[0]))]

    def _sympystr(self, printer):
        dims = ", ".join(printer._print(d) for d in self.dims)
        return f"reshape({printer._print(self.args[0])}, ({dims}{',' if len(self.dims) == 1 else ''}))"


def _slice_len(sl: slice, n: sp.Expr) -> sp.Expr:
    if n.is_Integer:
        return sp.Integer(len(range(*sl.indices(int(n)))))
    start, stop, step = sl.start, sl.stop, sl.step or 1
    if step == 1 and stop is None and (start is None or start >= 0):
        return n - (start or 0)
    if step == 1 and stop is None and start < 0:
        return sp.Integer(-start)
    if step == 1 and (start or 0) >= 0 and stop is not None and stop >= (start or 0):
        return sp.Integer(stop - (start or 0))
    raise ValueError(f"slicing an axis of unknown length with {sl} is not supported: give the tensor a static shape")


def index_shape(shape: tuple, index: tuple) -> tuple:
    """Result shape of basic indexing (ints and slices) of a ``shape`` tensor."""
    out = []
    for k, n in enumerate(shape):
        if k >= len(index):
            out.append(n)
        elif isinstance(index[k], slice):
            out.append(_slice_len(index[k], n))
        elif n.is_Integer and not -int(n) <= index[k] < int(n):
            raise IndexError(f"index {index[k]} is out of bounds for axis {k} with size {n}")
    return tuple(out)


def _index_text(index: tuple) -> str:
    def one(i):
        if not isinstance(i, slice):
            return str(i)
        text = ("" if i.start is None else str(i.start)) + ":" + ("" if i.stop is None else str(i.stop))
        return text + (f":{i.step}" if i.step not in (None, 1) else "")

    return ", ".join(one(i) for i in index)


def _freeze(index: tuple) -> tuple:
    """An index tuple in hashable form (slices are unhashable before Python 3.12)."""
    return tuple(("slice", i.start, i.stop, i.step) if isinstance(i, slice) else i for i in index)


def _thaw(frozen: tuple) -> tuple:
    return tuple(slice(*i[1:]) if isinstance(i, tuple) else i for i in frozen)


class Index(TensorOp):
    """Basic indexing ``x[index]`` by constant ints and slices."""

    @classmethod
    def make(cls, x, index: tuple):
        if len(index) > len(shape_of(x)):
            raise IndexError(f"too many indices ({len(index)}) for a tensor of shape {fmt_shape(shape_of(x))}")
        return cls(x, Static(_freeze(index)))

    @property
    def index(self) -> tuple:
        return _thaw(self.args[1].value)

    def infer_shape(self):
        return index_shape(shape_of(self.args[0]), self.index), ()

    def vjp(self, g):
        x = self.args[0]
        return [IndexAdjoint(g, Static(_freeze(self.index)), Static(value_dtype(x)), *shape_of(x))]

    def _sympystr(self, printer):
        return f"{_postfix_operand(printer, self.args[0])}[{_index_text(self.index)}]"


class IndexAdjoint(TensorOp):
    """Zeros of shape ``dims`` with ``g`` written at ``index`` (the VJP of indexing)."""

    @property
    def index(self) -> tuple:
        return _thaw(self.args[1].value)

    @property
    def dims(self) -> tuple:
        return self.args[3:]

    @property
    def operands(self) -> tuple:
        return (self.args[0],)

    def infer_dtype(self):
        return self.args[2].value

    def infer_shape(self):
        return self.dims, ()

    def vjp(self, g):
        return [Index.make(g, self.index)]

    def _sympystr(self, printer):
        return f"scatter({printer._print(self.args[0])}, [{_index_text(self.index)}])"


class Concatenate(TensorOp):
    """Join tensors along an existing axis."""

    @classmethod
    def make(cls, parts, axis: int):
        if not parts:
            raise ValueError("concatenate needs at least one tensor")
        ndim = len(shape_of(parts[0]))
        for p in parts:
            if len(shape_of(p)) != ndim:
                raise ValueError("concatenate: all tensors must have the same number of dimensions, got " + ", ".join(fmt_shape(shape_of(q)) for q in parts))
        if len(parts) == 1:
            return parts[0]
        return cls(Static(normalize_axes(axis, ndim)[0]), *parts)

    @property
    def axis(self) -> int:
        return self.args[0].value

    def infer_dtype(self):
        dtypes = {value_dtype(p) for p in self.operands}
        return "float64" if "float64" in dtypes or len(dtypes) > 1 else dtypes.pop()

    def infer_shape(self):
        shapes = [shape_of(p) for p in self.operands]
        out, constraints = list(shapes[0]), []
        for s in shapes[1:]:
            for k, n in enumerate(s):
                if k == self.axis:
                    out[k] = out[k] + n
                elif n != out[k]:
                    if n.is_Integer and out[k].is_Integer:
                        raise ValueError("concatenate: shapes " + ", ".join(fmt_shape(q) for q in shapes) + f" differ outside axis {self.axis}")
                    constraints.append((out[k], n))
        return tuple(out), tuple(constraints)

    def vjp(self, g):
        lengths = [shape_of(p)[self.axis] for p in self.operands]
        return [ConcatPart(g, Static(self.axis), Static(k), *lengths) for k in range(len(lengths))]

    def _sympystr(self, printer):
        parts = ", ".join(printer._print(p) for p in self.operands)
        return f"concatenate([{parts}], axis={self.axis})"


class ConcatPart(TensorOp):
    """Part ``k`` of ``g`` cut along ``axis`` into pieces of ``lengths`` (the VJP of
    concatenation; lengths may be known only at run time)."""

    @property
    def operands(self) -> tuple:
        return (self.args[0],)

    @property
    def axis(self) -> int:
        return self.args[1].value

    @property
    def part(self) -> int:
        return self.args[2].value

    @property
    def lengths(self) -> tuple:
        return self.args[3:]

    def infer_shape(self):
        shape = list(shape_of(self.args[0]))
        shape[self.axis] = self.lengths[self.part]
        return tuple(shape), ()

    def vjp(self, g):
        shape = list(shape_of(g))
        parts = []
        for k, n in enumerate(self.lengths):
            if k == self.part:
                parts.append(g)
            else:
                shape[self.axis] = n
                parts.append(BroadcastTo.make(sp.S.Zero, tuple(shape), dtype=value_dtype(g)))
        return [Concatenate.make(parts, self.axis)]

    def _sympystr(self, printer):
        return f"part({printer._print(self.args[0])}, axis={self.axis}, {self.part + 1} of {len(self.lengths)})"


TENSOR_OPS = (BroadcastTo, MatMul, Transpose, Reduce, LogSumExp, Reshape, Index, IndexAdjoint, Concatenate, ConcatPart)
