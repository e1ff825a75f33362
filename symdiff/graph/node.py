"""The IR: one node per operation the user wrote.

A graph is a DAG of :class:`Node` objects.  Each node class is one op and
owns everything about it (the *op protocol*):

* ``infer_type()``: its type (dtype, shape) and the run-time size equalities
  it requires, from its operands' types;
* ``vjp(g)``: its vector-Jacobian product, as new nodes (one contribution per
  operand, ``None`` for none);
* ``_sympystr`` / ``_latex``: how SymPy's printers show it;
* its lowering: ``_numba(printer)`` (scalar code in a loop body) for
  elementwise ops, ``lower(emitter)`` (statements) for tensor ops;

and :mod:`symdiff.checking.backprop` holds an independent NumPy rule for it.

Invariant (why this is not a SymPy tree): nodes are plain objects, built
once per user operation and never merged, flattened or re-evaluated behind
the user's back.  Building ``x*1`` gives a ``Mul`` node; ``x - x`` gives a
``Sub`` node; naming one node never renames another.  SymPy is used on
bounded pieces only: sizes (:mod:`symdiff.graph.sizes`), printing of one
node at a time, and local simplification of small elementwise regions
(:mod:`symdiff.rewrites.simplify`).  Every walk over a graph visits each
distinct node once (:mod:`symdiff.graph.walk`), so costs grow with the
number of nodes, never with the number of paths.
"""
from __future__ import annotations

import itertools
from typing import Any, ClassVar

import numpy as np
import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from .sizes import Dim, as_size
from .types import FLOAT_DTYPES, TensorType, check_dtype, fmt_shape

_uids = itertools.count()


class Node:
    """Base of every op.  ``inputs`` are nodes; static parameters are attributes
    named in ``params`` (they are part of the node's structural identity)."""

    params: ClassVar[tuple] = ()
    differentiable: ClassVar[bool] = True
    precedence: ClassVar[int] = PRECEDENCE["Atom"]

    def __init__(self, inputs: tuple = (), **params: Any):
        self.inputs = tuple(inputs)
        for key in self.params:
            setattr(self, key, params.pop(key))
        if params:
            raise TypeError(f"{type(self).__name__}: unknown parameters {sorted(params)}")
        self.uid = next(_uids)
        self.__dict__.setdefault("name", None)
        self.type, self.constraints = self.infer_type()

    # -- protocol ------------------------------------------------------------
    def infer_type(self) -> tuple:
        """``(TensorType, constraints)`` from the operands (constraints: pairs of equal sizes)."""
        raise NotImplementedError

    def vjp(self, g: "Node") -> list:
        """One contribution to each operand's adjoint given this node's adjoint ``g``."""
        raise NotImplementedError(f"{type(self).__name__} has no derivative rule")

    # -- structure -----------------------------------------------------------
    def param_values(self) -> tuple:
        return tuple(getattr(self, k) for k in self.params)

    def rebuild(self, inputs: tuple) -> "Node":
        """The same op on new operands (the type is inferred again)."""
        if all(a is b for a, b in zip(inputs, self.inputs)) and len(inputs) == len(self.inputs):
            return self
        node = type(self)(tuple(inputs), **dict(zip(self.params, self.param_values())))
        node.name = self.name
        return node

    @property
    def shape(self) -> tuple:
        return self.type.shape

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return len(self.type.shape)

    def __repr__(self) -> str:
        from ..printing import brief

        return f"<{type(self).__name__} {brief(self)} {fmt_shape(self.shape)} {self.dtype}>"

    def __reduce__(self):
        # the graph below as a flat list (pickling nested nodes would recurse once per level)
        return (_graph_from_code, (_graph_code(self),))

    # SymPy's printers call these through their ``printmethod``
    def _sympystr(self, printer) -> str:
        return f"{type(self).__name__.lower()}({', '.join(printer._print(a) for a in self.inputs)})"

    def _latex(self, printer) -> str:
        args = ", ".join(printer._print(a) for a in self.inputs)
        return rf"\operatorname{{{type(self).__name__.lower()}}}\left({args}\right)"


def _graph_code(root: Node) -> list:
    """``root``'s graph in postorder: leaves as themselves, ops as ``(class, input
    positions, parameters, name)``."""
    from .walk import postorder

    position, code = {}, []
    for node in postorder([root]):
        position[id(node)] = len(code)
        if isinstance(node, Leaf):
            code.append(node)
        else:
            params = {k: getattr(node, k) for k in node.params}
            code.append((type(node), tuple(position[id(c)] for c in node.inputs), params, node.name))
    return code


def _graph_from_code(code: list) -> Node:
    nodes = []
    for entry in code:
        if isinstance(entry, Node):
            nodes.append(entry)
            continue
        cls, inputs, params, name = entry
        node = cls(tuple(nodes[k] for k in inputs), **params)
        node.name = name
        nodes.append(node)
    return nodes[-1]


def _rebuild_leaf(cls, params, name):
    node = cls((), **params)
    node.name = name
    return node


class Leaf(Node):
    """A node without operands."""

    def rebuild(self, inputs: tuple) -> "Node":
        return self

    def __reduce__(self):
        return (_rebuild_leaf, (type(self), {k: getattr(self, k) for k in self.params}, self.name))


class Storage:
    """The value of a shared variable: it travels with the variable's node, so a
    graph that uses the variable keeps it alive."""

    __slots__ = ("value", "lock", "__weakref__")

    def __init__(self, value: np.ndarray):
        self.value = value
        self.lock = None


class Variable(Leaf):
    """A named input: ``role`` is ``"input"`` (an argument of compiled functions),
    ``"shared"`` (a value in ``storage``, read and updated in place) or
    ``"constant"`` (a fixed array in ``value``)."""

    params = ("var_name", "static_shape", "var_dtype", "role")

    def __init__(self, var_name: str, static_shape: tuple, var_dtype: str, role: str = "input", value=None):
        self.storage = Storage(value) if role == "shared" else None
        self.value = value if role == "constant" else None
        self.name = var_name
        super().__init__((), var_name=var_name, static_shape=tuple(static_shape), var_dtype=check_dtype(var_dtype),
                         role=role)

    def infer_type(self):
        shape = tuple(as_size(n) if n is not None else Dim(self, k) for k, n in enumerate(self.static_shape))
        return TensorType(self.var_dtype, shape), ()

    def __reduce__(self):
        value = self.storage.value if self.role == "shared" else self.value
        return (_rebuild_variable, (self.var_name, self.static_shape, self.var_dtype, self.role, value, self.uid))

    def _sympystr(self, printer):
        return self.name

    def _latex(self, printer):
        return printer._print(sp.Symbol(self.name))


def _rebuild_variable(name, static_shape, dtype, role, value, uid):
    return Variable(name, static_shape, dtype, role, value)


class Constant(Leaf):
    """A number in the graph: an exact SymPy number, 0-d.  A Python number is
    *weak* (it takes the dtype of what it meets); a NumPy scalar is strong."""

    params = ("value", "const_dtype", "weak")

    def infer_type(self):
        return TensorType(self.const_dtype, (), self.weak), ()

    @property
    def number(self) -> float:
        return float(self.value)

    def _sympystr(self, printer):
        return printer._print(self.value)

    def _latex(self, printer):
        return printer._print(self.value)

    @property
    def precedence(self):
        from sympy.printing.precedence import precedence

        return precedence(self.value)


def number(value, dtype: str | None = None) -> Constant:
    """A constant node for a Python or NumPy number (short floats become exact
    rationals, so ``0.5`` prints as ``1/2`` where SymPy would)."""
    if isinstance(value, Constant):
        return value
    weak = dtype is None and not isinstance(value, np.generic)
    if dtype is None:
        dtype = np.asarray(value).dtype.name if isinstance(value, np.generic) else (
            "bool" if isinstance(value, bool) else "int64" if isinstance(value, int) else "float64")
    dtype = check_dtype(dtype)
    return Constant((), value=exact(value, dtype), const_dtype=dtype, weak=weak)


def exact(value, dtype: str = "float64") -> sp.Expr:
    """A number as an exact SymPy number."""
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, (bool, np.bool_)):
        return sp.Integer(int(value))
    if isinstance(value, (int, np.integer)):
        return sp.Integer(int(value))
    value = float(value)
    if np.isnan(value):
        return sp.nan
    if np.isinf(value):
        return sp.oo if value > 0 else -sp.oo
    if dtype == "float32":
        value = float(np.float32(value))
    text = repr(value)
    if len(text) <= 10 and "e" not in text:
        return sp.Rational(text)
    return sp.Float(value, 17)


class Size(Leaf):
    """A size known at run time, as a 0-d int64 value: ``X.shape[0]``, or (with
    ``count``) the element count ``mean`` divides by, which prints as ``N``."""

    params = ("size", "count")

    def __init__(self, inputs=(), size=None, count: bool = False):
        super().__init__(inputs, size=size, count=count)

    def infer_type(self):
        return TensorType("int64", (), True), ()  # a Python int in NumPy: x32 / x.shape[0] is float32

    def _sympystr(self, printer):
        return printer._print(self.size)

    def _latex(self, printer):
        return printer._print(self.size)

    @property
    def precedence(self):
        from sympy.printing.precedence import precedence

        return precedence(self.size)


def is_float(node: Node) -> bool:
    return node.dtype in FLOAT_DTYPES
