"""The front end: symbolic tensors, inputs, shared variables and constants.

A :class:`Tensor` is a thin handle on one node of the IR
(:mod:`symdiff.graph.node`); every operator or ``sd.NAME`` call on tensors
makes one new node.  ``X.shape[0]`` of a run-time size is itself a symbolic
(int64) tensor, usable in expressions.
"""
from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np
import sympy as sp

from .graph.node import Constant, Node, Size, Variable, number
from .graph.sizes import static_or_none
from .graph.types import FLOAT_DTYPES, check_dtype, fmt_shape, fmt_static

Shape = Sequence["int | None"]


class Tensor:
    """A symbolic tensor: a handle on one node of the graph, with NumPy-like operators.

    Operators, ``sd.NAME`` functions, NumPy functions (``np.exp(x)``) and the
    methods below each add one node; nothing is computed until ``sd.function``.

    >>> X = sd.matrix("X", shape=(None, 3))
    >>> h = sd.tanh(X @ np.ones((3, 2)))
    >>> h.static_shape, h.dtype
    ((None, 2), 'float64')
    >>> np.exp(X[:, 0]) + 1
    Tensor(exp(X[:, 0]) + 1, shape=(None,), dtype=float64)
    """

    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, node: Node):
        if not isinstance(node, Node):
            raise TypeError(f"Tensor wraps a graph node, got {type(node).__name__}")
        self.node = node

    # -- type -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        """The shape: ints for sizes known now, symbolic int64 tensors for run-time ones.

        >>> X = sd.matrix("X", shape=(None, 3))
        >>> X.shape
        (Tensor(X.shape[0], shape=(), dtype=int64), 3)
        >>> sd.pprint(sd.sum(X) / X.shape[0])
        'sum(X)/X.shape[0]'
        """
        return tuple(int(d) if d.is_Integer else Tensor(Size((), size=d)) for d in self.node.shape)

    @property
    def static_shape(self) -> tuple:
        """The shape with ``None`` for sizes known only at run time.

        >>> sd.matrix("X", shape=(None, 3)).T.static_shape
        (3, None)
        """
        return tuple(static_or_none(d) for d in self.node.shape)

    @property
    def ndim(self) -> int:
        """The number of axes.

        >>> sd.tensor("T", (2, None, 4)).ndim
        3
        """
        return self.node.ndim

    @property
    def dtype(self) -> str:
        """The dtype's name, NumPy 2's promotion applied (Python numbers are weak).

        >>> x = sd.vector("x", dtype="float32")
        >>> (x * 2.5).dtype, (x * np.float64(2.5)).dtype, (x > 0).dtype
        ('float32', 'float64', 'bool')
        """
        return self.node.dtype

    @property
    def name(self) -> str | None:
        """The variable's name, or the display name given with ``named`` (else None).

        >>> sd.vector("x").name, (sd.vector("x") * 2).name
        ('x', None)
        """
        return self.node.name

    def named(self, name: str) -> "Tensor":
        """Give this expression a display name; formulas then stop at it.

        >>> x = sd.vector("x")
        >>> h = sd.tanh(x).named("h")
        >>> print(sd.pprint(sd.grad(sd.sum(h ** 2), x)))
        2*h*(1 - h**2)
        where
          h = tanh(x)
        """
        if isinstance(self.node, Variable):
            raise ValueError(f"{self.node.name!r} is a variable: its name is fixed")
        self.node.name = str(name)
        return self

    def __len__(self) -> int:
        if not self.ndim:
            raise TypeError("len() of a 0-d tensor")
        n = static_or_none(self.node.shape[0])
        if n is None:
            raise TypeError(f"len() of {self._describe()}: its first size is known only at run time")
        return n

    def __iter__(self):
        n = len(self)
        return (self[k] for k in range(n))

    def _describe(self) -> str:
        return repr(self.node.name) if self.node.name else f"a tensor of shape {fmt_shape(self.node.shape)}"

    # -- display ----------------------------------------------------------
    def __repr__(self) -> str:
        from .printing import pprint

        return f"Tensor({pprint(self)}, shape={fmt_static(self.static_shape)}, dtype={self.dtype})"

    def _repr_latex_(self) -> str:
        from .printing import latex

        return f"$\\displaystyle {latex(self)}$"

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError("the truth value of a symbolic tensor is unknown until it is computed; use sd.where")

    def __reduce__(self):
        return (type(self)._from_node, (self.node,))

    @classmethod
    def _from_node(cls, node):
        obj = cls.__new__(cls)
        obj.node = node
        return obj

    # -- NumPy interoperation ----------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .ops import numpy_ufuncs

        return numpy_ufuncs.dispatch(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .ops import numpy_ufuncs

        return numpy_ufuncs.dispatch_function(func, args, kwargs)

    def __array__(self, *args, **kwargs):
        raise TypeError(
            "a symbolic tensor has no value to convert to a NumPy array; compile it with sd.function"
        )

    # -- arithmetic -------------------------------------------------------
    def __add__(self, other):
        return _ew.apply(_ew.Add, self, other)

    def __radd__(self, other):
        return _ew.apply(_ew.Add, other, self)

    def __sub__(self, other):
        return _ew.apply(_ew.Sub, self, other)

    def __rsub__(self, other):
        return _ew.apply(_ew.Sub, other, self)

    def __mul__(self, other):
        return _ew.apply(_ew.Mul, self, other)

    def __rmul__(self, other):
        return _ew.apply(_ew.Mul, other, self)

    def __truediv__(self, other):
        return _ew.apply(_ew.Div, self, other)

    def __rtruediv__(self, other):
        return _ew.apply(_ew.Div, other, self)

    def __pow__(self, other):
        return _ew.apply(_ew.Pow, self, other)

    def __rpow__(self, other):
        return _ew.apply(_ew.Pow, other, self)

    def __neg__(self):
        return _ew.apply(_ew.Neg, self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ew.apply(_ew.Abs, self)

    def __matmul__(self, other):
        return _la.matmul(self, other)

    def __rmatmul__(self, other):
        return _la.matmul(other, self)

    def __lt__(self, other):
        return _ew.apply(_ew.Less, self, other)

    def __le__(self, other):
        return _ew.apply(_ew.LessEqual, self, other)

    def __gt__(self, other):
        return _ew.apply(_ew.Greater, self, other)

    def __ge__(self, other):
        return _ew.apply(_ew.GreaterEqual, self, other)

    def __eq__(self, other):  # symbolic, as in NumPy and JAX
        if other is None:
            return NotImplemented
        return _ew.apply(_ew.Equal, self, other)

    def __ne__(self, other):
        if other is None:
            return NotImplemented
        return _ew.apply(_ew.NotEqual, self, other)

    def __and__(self, other):
        return _ew.apply(_ew.And, self, other)

    def __rand__(self, other):
        return _ew.apply(_ew.And, other, self)

    def __or__(self, other):
        return _ew.apply(_ew.Or, self, other)

    def __ror__(self, other):
        return _ew.apply(_ew.Or, other, self)

    def __invert__(self):
        return _ew.apply(_ew.Not, self)

    # -- methods mirroring NumPy's ------------------------------------------
    @property
    def T(self) -> "Tensor":
        """The transpose (axes reversed).

        >>> sd.pprint(sd.matrix("X").T @ sd.vector("y"))
        'X.T @ y'
        """
        return _shape.transpose(self)

    def transpose(self, *axes) -> "Tensor":
        """Permute the axes (reversed by default), as ``ndarray.transpose``.

        >>> sd.tensor("T", (2, 3, 4)).transpose(2, 0, 1).static_shape
        (4, 2, 3)
        """
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = axes[0]
        return _shape.transpose(self, axes or None)

    def __getitem__(self, index) -> "Tensor":
        return _shape.getitem(self, index)

    def reshape(self, *shape) -> "Tensor":
        """The same entries in a new shape (one size may be -1), as ``ndarray.reshape``.

        >>> sd.matrix("X", shape=(None, 4)).reshape(-1, 2).static_shape
        (None, 2)
        """
        return _shape.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, Tensor)) else shape)

    def flatten(self) -> "Tensor":
        """The entries as a vector, in C order.

        >>> sd.tensor("T", (2, 3, 4)).flatten().static_shape
        (24,)
        """
        return _shape.reshape(self, (-1,))

    def ravel(self) -> "Tensor":
        """The same as :meth:`flatten`.

        >>> sd.matrix("X", shape=(2, 3)).ravel().static_shape
        (6,)
        """
        return self.flatten()

    def astype(self, dtype) -> "Tensor":
        """The entries converted to ``dtype`` (see :func:`symdiff.cast`).

        >>> x = sd.vector("x")
        >>> x.astype("float32").dtype, x.astype(np.int32).dtype
        ('float32', 'int32')
        """
        return _ew.cast(self, dtype)

    def dot(self, other) -> "Tensor":
        """NumPy's ``dot`` with ``other`` (1-D and 2-D operands).

        >>> sd.pprint(sd.matrix("X").dot(sd.vector("w")))
        'X @ w'
        """
        return _la.dot(self, other)

    def sum(self, axis=None, keepdims=False):
        """See :func:`symdiff.sum`.

        >>> sd.pprint(sd.matrix("X").sum(axis=1))
        'sum(X, axis=1)'
        """
        return _red.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """See :func:`symdiff.mean`.

        >>> print(sd.pprint(sd.matrix("X").mean(axis=0)))
        sum(X, axis=0)/N
        where
          N = X.shape[0]
        """
        return _red.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        """See :func:`symdiff.max`.

        >>> sd.matrix("X").max(axis=1, keepdims=True).static_shape
        (None, 1)
        """
        return _red.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        """See :func:`symdiff.min`.

        >>> sd.pprint(sd.vector("x").min())
        'min(x)'
        """
        return _red.min(self, axis=axis, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        """See :func:`symdiff.prod`.

        >>> sd.pprint(sd.matrix("X").prod(axis=0))
        'prod(X, axis=0)'
        """
        return _red.prod(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        """See :func:`symdiff.var`.

        >>> sd.matrix("X", shape=(None, 3)).var(axis=0, ddof=1).static_shape
        (3,)
        """
        return _red.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        """See :func:`symdiff.std`.

        >>> sd.matrix("X").std(axis=1, keepdims=True).static_shape
        (None, 1)
        """
        return _red.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        """See :func:`symdiff.argmax`.

        >>> sd.pprint(sd.matrix("Z").argmax(axis=1) == sd.vector("labels", dtype="int64"))
        'argmax(Z, axis=1) == labels'
        """
        return _red.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        """See :func:`symdiff.argmin`.

        >>> sd.matrix("X").argmin().static_shape
        ()
        """
        return _red.argmin(self, axis=axis, keepdims=keepdims)

    def clip(self, a_min, a_max):
        """See :func:`symdiff.clip`.

        >>> sd.pprint(sd.vector("x").clip(0, 1))
        'clip(x, 0, 1)'
        """
        return _ew.clip(self, a_min, a_max)


class SharedVariable(Tensor):
    """A variable with a value: compiled functions read it and update it in place.

    The value lives with the variable's node, so a graph that uses the
    variable keeps it; ``get_value`` gives a copy.

    >>> w = sd.shared(np.zeros(2), name="w")
    >>> step = sd.function([], [], updates=[(w, w + 1)])
    >>> step(); step()
    []
    []
    >>> w.get_value()
    array([2., 2.])
    """

    @property
    def storage(self):
        """The holder of the value, shared by every graph using the variable (``.value``
        is the array compiled functions read and update in place).

        >>> sd.shared([1.0, 2.0]).storage.value
        array([1., 2.])
        """
        return self.node.storage

    def get_value(self) -> np.ndarray:
        """A copy of the current value.

        >>> sd.shared([[1, 2]], name="counts").get_value()
        array([[1, 2]])
        """
        return self.node.storage.value.copy()

    def set_value(self, value) -> None:
        """Replace the value (its dtype must cast safely; the shape must fit the static shape).

        >>> w = sd.shared(np.zeros(2, dtype=np.float32), name="w")
        >>> w.set_value([0.5, 1.5, 2.5])
        >>> w.get_value()
        array([0.5, 1.5, 2.5], dtype=float32)
        """
        var = self.node
        current = var.storage.value
        value = np.asarray(value)
        if value.dtype != current.dtype and not np.can_cast(value.dtype, current.dtype, "same_kind"):
            raise TypeError(f"shared variable {var.name!r}: expected dtype {current.dtype}, got {value.dtype}")
        check_static_shape(var.name, var.static_shape, value.shape)
        with _shared_lock(var):
            if value.shape == current.shape:
                current[...] = value
            else:
                var.storage.value = np.array(value, dtype=current.dtype)

    def __reduce__(self):
        return (SharedVariable._from_node, (self.node,))


_LOCKS_GUARD = threading.Lock()


def _shared_lock(var: Variable) -> threading.RLock:
    """The lock that serialises calls reading or writing the shared variable ``var``."""
    storage = var.storage
    if storage.lock is None:
        with _LOCKS_GUARD:
            if storage.lock is None:
                storage.lock = threading.RLock()
    return storage.lock


def check_static_shape(name: str, static: tuple, got: tuple) -> None:
    """Raise if ``got`` does not fit the static shape ``static``."""
    if len(static) != len(got) or any(s is not None and s != g for s, g in zip(static, got)):
        raise ValueError(f"{name!r}: expected shape {fmt_static(static)}, got {tuple(got)}")


def tensor(name: str, shape: Shape, dtype="float64") -> Tensor:
    """A symbolic input of the given shape (``None`` for sizes known at run time).

    >>> sd.tensor("x", (None, 3)).static_shape
    (None, 3)
    """
    shape = tuple(shape)
    if any(s is not None and (not isinstance(s, (int, np.integer)) or s < 0) for s in shape):
        raise ValueError(f"{name!r}: shape entries must be non-negative ints or None, got {shape}")
    return Tensor(Variable(str(name), tuple(None if s is None else int(s) for s in shape), check_dtype(dtype)))


def scalar(name: str, dtype="float64") -> Tensor:
    """A symbolic 0-d input.

    >>> s = sd.scalar("s", dtype="float32")
    >>> s.static_shape, s.dtype
    ((), 'float32')
    """
    return tensor(name, (), dtype)


def vector(name: str, dtype="float64", shape: Shape = (None,)) -> Tensor:
    """A symbolic 1-d input (of run-time length unless ``shape`` fixes it).

    >>> sd.vector("labels", dtype="int64")
    Tensor(labels, shape=(None,), dtype=int64)
    """
    return tensor(name, shape, dtype)


def matrix(name: str, dtype="float64", shape: Shape = (None, None)) -> Tensor:
    """A symbolic 2-d input (sizes known at run time unless ``shape`` fixes them).

    >>> sd.matrix("X", shape=(None, 784)).static_shape
    (None, 784)
    """
    return tensor(name, shape, dtype)


def shared(value, name: str = "shared", shape: Shape | None = None, dtype=None) -> SharedVariable:
    """A shared variable holding a private copy of ``value``.

    As in PyTensor its static shape is all ``None`` (the value may later
    change size, and unknown sizes never broadcast) unless ``shape=`` fixes
    sizes.  The dtype is ``value``'s (Python floats give float64).

    >>> W = sd.shared(np.zeros((3, 2), dtype=np.float32), name="W")
    >>> W.static_shape, W.dtype
    ((None, None), 'float32')
    >>> sd.shared(np.zeros(3), name="b", shape=(3,)).static_shape
    (3,)
    """
    value = np.array(value, dtype=None if dtype is None else check_dtype(dtype))
    if dtype is None and value.dtype.name not in ("float32", "float64", "int32", "int64", "bool"):
        value = value.astype(np.float64 if value.dtype.kind == "f" else np.int64 if value.dtype.kind in "iu" else value.dtype)
    check_dtype(value.dtype, f"shared variable {name!r}")
    static = (None,) * value.ndim if shape is None else tuple(shape)
    check_static_shape(name, static, value.shape)
    return SharedVariable(Variable(str(name), static, value.dtype.name, role="shared", value=np.array(value, order="C")))


def constant(value, name: str | None = None, dtype=None) -> Tensor:
    """A constant: a number (exact, weak if a Python number), or a fixed array.

    >>> sd.constant(0.5)
    Tensor(1/2, shape=(), dtype=float64)
    >>> sd.constant([1, 2, 3], name="counts")
    Tensor(counts, shape=(3,), dtype=int64)
    """
    if isinstance(value, (int, float, bool, np.number, np.bool_)) and name is None:
        return Tensor(number(value, None if dtype is None else check_dtype(dtype)))
    arr = np.array(value, dtype=None if dtype is None else check_dtype(dtype))
    if dtype is None and arr.dtype.kind == "f" and arr.dtype.name not in FLOAT_DTYPES:
        arr = arr.astype(np.float64)
    if dtype is None and arr.dtype.kind in "iu" and arr.dtype.name not in ("int32", "int64"):
        arr = arr.astype(np.int64)
    check_dtype(arr.dtype, "constant")
    arr = np.array(arr, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    arr.setflags(write=False)
    return Tensor(Variable(name or _constant_name(arr), arr.shape, arr.dtype.name, role="constant", value=arr))


def _constant_name(arr: np.ndarray) -> str:
    if arr.size <= 4:
        return np.array2string(arr, separator=", ").replace("\n", "")
    return f"const{arr.shape}"


def as_node(value: Any) -> Node:
    """The node for a tensor-like: tensors give theirs, numbers a constant, arrays a constant array."""
    if isinstance(value, Tensor):
        return value.node
    if isinstance(value, Node):
        return value
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return number(value)
    if isinstance(value, sp.Expr) and value.is_number:
        return number(float(value)) if not value.is_Rational else Constant((), value=value, const_dtype="float64" if not value.is_Integer else "int64", weak=True)
    if isinstance(value, (np.ndarray, list, tuple)):
        return constant(value).node
    raise TypeError(f"cannot use {type(value).__name__} {value!r} as a tensor")


def as_tensor(value: Any) -> Tensor:
    """Wrap numbers and arrays; return tensors unchanged.

    >>> sd.as_tensor(np.ones(2))
    Tensor([1., 1.], shape=(2,), dtype=float64)
    >>> x = sd.vector("x")
    >>> sd.as_tensor(x) is x
    True
    """
    return value if isinstance(value, Tensor) else Tensor(as_node(value))


def named(t: Tensor, name: str | None) -> Tensor:
    """``t`` with display name ``name`` (if given)."""
    return t.named(name) if name else t


from .ops import elementwise as _ew  # noqa: E402  (the operators above call these)
from .ops import linalg as _la  # noqa: E402
from .ops import reductions as _red  # noqa: E402
from .ops import shape as _shape  # noqa: E402
