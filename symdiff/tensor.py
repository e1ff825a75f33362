"""The front end: symbolic tensors, their constructors and NumPy-like operators.

A :class:`Tensor` is a thin wrapper around a SymPy expression (the truth);
its shape and dtype are inferred from the expression by
:mod:`symdiff.graph.types`.
"""
from __future__ import annotations

import weakref
from typing import Any, Sequence

import numpy as np
import sympy as sp

from .graph.nodes import Index, MatMul, Transpose
from .graph.symbols import TensorVar, name_of, set_name
from .graph.types import FLOAT_DTYPES, broadcast_shapes, dtype_of, fmt_shape, result_dtype, same_shape, shape_of
from .graph.nodes import BroadcastTo

Shape = Sequence[int | None]

shared_registry: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()
"""The SharedVariable behind each shared symbol (compiled functions look values up here)."""


class Tensor:
    """A symbolic tensor: a SymPy expression plus its type (shape, dtype)."""

    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected ops

    def __init__(self, expr: sp.Basic):
        self.expr = expr
        shape_of(expr)  # type-check now, so errors point at the line that built it

    # -- type -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        """Static shape: ints, and ``None`` for sizes known only at run time."""
        return tuple(int(d) if d.is_Integer else None for d in shape_of(self.expr))

    @property
    def ndim(self) -> int:
        return len(shape_of(self.expr))

    @property
    def dtype(self) -> str:
        return dtype_of(self.expr) or "float64"

    @property
    def name(self) -> str | None:
        return name_of(self.expr)

    def named(self, name: str) -> "Tensor":
        """Give this expression a display name; printing stops at it."""
        set_name(self.expr, name)
        return self

    # -- display ----------------------------------------------------------
    def __repr__(self) -> str:
        from .printing import pprint

        return f"Tensor({pprint(self)}, shape={fmt_shape(shape_of(self.expr))}, dtype={self.dtype})"

    def _repr_latex_(self) -> str:
        from .printing import latex

        return f"$\\displaystyle {latex(self)}$"

    def __hash__(self):
        return hash(self.expr)

    def __bool__(self):
        raise TypeError("the truth value of a symbolic tensor is unknown until it is computed; use sd.where")

    # -- arithmetic -------------------------------------------------------
    def __add__(self, other):
        return elementwise(sp.Add, self, other)

    def __radd__(self, other):
        return elementwise(sp.Add, other, self)

    def __sub__(self, other):
        return elementwise(lambda a, b: a - b, self, other)

    def __rsub__(self, other):
        return elementwise(lambda a, b: a - b, other, self)

    def __mul__(self, other):
        return elementwise(sp.Mul, self, other)

    def __rmul__(self, other):
        return elementwise(sp.Mul, other, self)

    def __truediv__(self, other):
        return elementwise(lambda a, b: a / b, self, other)

    def __rtruediv__(self, other):
        return elementwise(lambda a, b: a / b, other, self)

    def __pow__(self, other):
        return elementwise(sp.Pow, self, other)

    def __rpow__(self, other):
        return elementwise(sp.Pow, other, self)

    def __neg__(self):
        return elementwise(lambda a: -a, self)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        return Tensor(MatMul.make(self.expr, as_tensor(other).expr))

    def __rmatmul__(self, other):
        return Tensor(MatMul.make(as_tensor(other).expr, self.expr))

    def __lt__(self, other):
        return elementwise(sp.StrictLessThan, self, other)

    def __le__(self, other):
        return elementwise(sp.LessThan, self, other)

    def __gt__(self, other):
        return elementwise(sp.StrictGreaterThan, self, other)

    def __ge__(self, other):
        return elementwise(sp.GreaterThan, self, other)

    # -- methods mirroring the functions in symdiff.ops --------------------
    @property
    def T(self) -> "Tensor":
        return Tensor(Transpose.make(self.expr))

    def transpose(self, *axes) -> "Tensor":
        return Tensor(Transpose.make(self.expr, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else (axes or None)))

    def __getitem__(self, index) -> "Tensor":
        index = index if isinstance(index, tuple) else (index,)
        for i in index:
            if not isinstance(i, (int, slice)) or isinstance(i, slice) and not all(
                v is None or isinstance(v, int) for v in (i.start, i.stop, i.step)
            ):
                raise TypeError(f"only constant ints and slices can index a tensor, got {i!r}")
        return Tensor(Index.make(self.expr, index))

    def sum(self, axis=None, keepdims=False):
        from . import ops

        return ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        from . import ops

        return ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        from . import ops

        return ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        from . import ops

        return ops.min(self, axis=axis, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        from . import ops

        return ops.prod(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        from . import ops

        return ops.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)

    def dot(self, other):
        return self @ other


class Variable(Tensor):
    """A symbolic input: an argument of compiled functions."""

    @property
    def var(self) -> TensorVar:
        return self.expr


class SharedVariable(Variable):
    """A variable with a value that compiled functions read and update in place."""

    def __init__(self, expr: TensorVar, value: np.ndarray):
        super().__init__(expr)
        self.storage = value
        shared_registry[expr] = self

    def get_value(self) -> np.ndarray:
        """A copy of the current value."""
        return self.storage.copy()

    def set_value(self, value) -> None:
        """Replace the value (copied in place; the shape must fit the static shape)."""
        value = np.asarray(value)
        if value.dtype != self.storage.dtype and not np.can_cast(value.dtype, self.storage.dtype, "same_kind"):
            raise TypeError(f"shared variable {self.expr.name!r}: expected dtype {self.storage.dtype}, got {value.dtype}")
        _check_static_shape(self.expr.name, self.expr.static_shape, value.shape)
        if value.shape == self.storage.shape:
            self.storage[...] = value
        else:
            self.storage = np.array(value, dtype=self.storage.dtype)


def _check_static_shape(name: str, static: tuple, got: tuple) -> None:
    if len(static) != len(got) or any(s is not None and s != g for s, g in zip(static, got)):
        expected = "(" + ", ".join("None" if s is None else str(s) for s in static) + ("," if len(static) == 1 else "") + ")"
        raise ValueError(f"{name!r}: expected shape {expected}, got {tuple(got)}")


def _check_dtype(dtype: str) -> str:
    dtype = np.dtype(dtype).name
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def tensor(name: str, shape: Shape, dtype: str = "float64") -> Variable:
    """A symbolic input of the given shape (``None`` for sizes known at run time)."""
    shape = tuple(shape)
    if any(s is not None and (not isinstance(s, (int, np.integer)) or s < 0) for s in shape):
        raise ValueError(f"{name!r}: shape entries must be non-negative ints or None, got {shape}")
    return Variable(TensorVar(name, tuple(None if s is None else int(s) for s in shape), _check_dtype(dtype)))


def scalar(name: str, dtype: str = "float64") -> Variable:
    """A symbolic 0-d input."""
    return tensor(name, (), dtype)


def vector(name: str, dtype: str = "float64", shape: Shape = (None,)) -> Variable:
    """A symbolic 1-d input."""
    return tensor(name, shape, dtype)


def matrix(name: str, dtype: str = "float64", shape: Shape = (None, None)) -> Variable:
    """A symbolic 2-d input."""
    return tensor(name, shape, dtype)


def shared(value, name: str = "shared", shape: Shape | None = None, dtype: str | None = None) -> SharedVariable:
    """A shared variable holding a private copy of ``value``.

    As in PyTensor, its static shape is all ``None`` by default (the value
    may later change size, and unknown sizes never broadcast); pass ``shape=``
    to fix sizes.
    """
    value = np.array(value, dtype=_check_dtype(dtype or (value.dtype if isinstance(value, np.ndarray) and value.dtype.kind == "f" else "float64")))
    static = (None,) * value.ndim if shape is None else tuple(shape)
    _check_static_shape(name, static, value.shape)
    return SharedVariable(TensorVar(name, static, value.dtype.name, role="shared"), value)


def constant(value, name: str | None = None, dtype: str | None = None) -> Tensor:
    """A constant: a Python number becomes an exact SymPy number, an array a fixed input."""
    if isinstance(value, (int, float, np.integer, np.floating)) and dtype is None and name is None:
        return Tensor(to_number(value))
    arr = np.array(value, dtype=_check_dtype(dtype or "float64"))
    arr.setflags(write=False)
    var = TensorVar(name or _constant_name(arr), arr.shape, arr.dtype.name, role="constant")
    var.value = arr
    return Variable(var)


def _constant_name(arr: np.ndarray) -> str:
    if arr.size <= 4:
        return np.array2string(arr, separator=", ").replace("\n", "")
    return f"const{arr.shape}"


def to_number(value) -> sp.Expr:
    """A Python number as a SymPy number; short floats become exact rationals (0.5 -> 1/2)."""
    if isinstance(value, (bool, np.bool_)):
        return sp.Integer(int(value))
    if isinstance(value, (int, np.integer)):
        return sp.Integer(int(value))
    value = float(value)
    if np.isfinite(value) and len(repr(value)) <= 10 and "e" not in repr(value):
        return sp.Rational(repr(value))
    if np.isinf(value):
        return sp.oo if value > 0 else -sp.oo
    return sp.Float(value, 17)


def as_tensor(value: Any) -> Tensor:
    """Wrap numbers and arrays; return tensors unchanged."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float, np.integer, np.floating, bool, np.bool_)):
        return Tensor(to_number(value))
    if isinstance(value, (np.ndarray, list, tuple)):
        return constant(value, dtype="float64" if np.asarray(value).dtype.kind != "f" else None)
    raise TypeError(f"cannot use {type(value).__name__} {value!r} as a tensor")


def elementwise(fn, *operands, dtype: str | None = None) -> Tensor:
    """Apply a scalar SymPy function pointwise, with NumPy broadcasting.

    The shape and dtype come from the operands, so a result that SymPy folds
    (``x - x`` is ``0``) is broadcast back to the shape it must have.
    """
    tensors = [as_tensor(o) for o in operands]
    exprs = [t.expr for t in tensors]
    shape, _ = broadcast_shapes(*(shape_of(e) for e in exprs))
    expr = fn(*exprs)
    if dtype is None:
        if isinstance(expr, (sp.core.relational.Relational, sp.logic.boolalg.Boolean)):
            dtype = "bool"
        else:
            dtypes = [dtype_of(e) for e in exprs]
            dtype = result_dtype(*dtypes) if any(d is not None for d in dtypes) else None
    if not same_shape(shape_of(expr), shape) or (dtype is not None and dtype_of(expr) != dtype):
        expr = BroadcastTo.make(expr, shape, dtype=dtype or "float64")
    return Tensor(expr)
