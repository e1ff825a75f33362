"""Type inference: the shape and dtype of every node of a SymPy tree.

A shape is a tuple of SymPy integers: a literal size, or an expression in
:class:`Dim` atoms for sizes known only at run time.  Sizes of ``None`` at
the API become ``Dim(var, axis)``; a ``None`` size never broadcasts at run
time (as in PyTensor), so two unknown sizes that meet must be equal: such
facts are *constraints*, checked when a compiled function is called.
"""
from __future__ import annotations

import sympy as sp

from .symbols import Count, Dim, TensorVar
from .walk import children, postorder

FLOAT_DTYPES = ("float32", "float64")

_SHAPES: dict = {}
_DTYPES: dict = {}
_CONSTRAINTS: dict = {}


def fmt_shape(shape: tuple) -> str:
    """A shape as the user sees it: literal sizes, ``None`` for run-time ones."""
    dims = [str(int(d)) if d.is_Integer else "None" for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def var_shape(var: TensorVar) -> tuple:
    """The symbolic shape of a variable: literal sizes, ``Dim`` atoms for ``None``."""
    return tuple(sp.Integer(n) if n is not None else Dim(var, k) for k, n in enumerate(var.static_shape))


def broadcast_shapes(*shapes: tuple) -> tuple:
    """NumPy broadcasting of symbolic shapes; returns ``(shape, constraints)``."""
    ndim = max((len(s) for s in shapes), default=0)
    result, constraints = [], []
    for k in range(ndim):
        dim = sp.S.One
        for s in shapes:
            j = k - (ndim - len(s))
            if j < 0:
                continue
            d = s[j]
            if d == dim or d == 1:
                continue
            if dim == 1:
                dim = d
            elif d.is_Integer and dim.is_Integer:
                raise ValueError(
                    "shapes " + " and ".join(fmt_shape(s) for s in shapes) + " cannot be broadcast together"
                )
            else:
                constraints.append((dim, d))
                _union(dim, d)
                if _dim_key(d) < _dim_key(dim):
                    dim = d
        result.append(dim)
    return tuple(result), tuple(constraints)


# Sizes that broadcasting has required to be equal form classes (union-find), so
# that equal shapes compare equal whichever operand they came from.  Shapes
# themselves only ever name sizes of their own graph's variables.
_DIM_PARENT: dict = {}


def _dim_key(dim) -> tuple:
    """Order of preference among equal sizes: literals, then inputs' sizes, then by name."""
    if dim.is_Integer:
        return (0,)
    if isinstance(dim, Dim):
        return (1, dim.var.role != "input", dim.var.name, dim.var.uid, dim.axis)
    return (2, sp.srepr(dim))


def _find(dim):
    while dim in _DIM_PARENT:
        dim = _DIM_PARENT[dim]
    return dim


def _union(a, b) -> None:
    a, b = _find(a), _find(b)
    if a != b:
        first, second = sorted((a, b), key=_dim_key)
        _DIM_PARENT[second] = first


def canonical_dim(dim: sp.Expr) -> sp.Expr:
    """The representative of the class of sizes known to equal ``dim``."""
    if dim.is_Integer:
        return dim
    if isinstance(dim, Dim) or dim in _DIM_PARENT:
        return _find(dim)
    return dim.xreplace({d: _find(d) for d in dim.atoms(Dim)})


def same_shape(a: tuple, b: tuple) -> bool:
    """Whether two symbolic shapes are equal, given the sizes known to be equal."""
    return len(a) == len(b) and all(x == y or canonical_dim(x) == canonical_dim(y) for x, y in zip(a, b))


def _is_weak(expr) -> bool:
    return expr.is_Number or expr.is_NumberSymbol or isinstance(expr, Dim)


def _infer(node):
    from .nodes import TensorOp

    if isinstance(node, TensorVar):
        return var_shape(node), node.dtype, ()
    if isinstance(node, TensorOp):
        shape, constraints = node.infer_shape()
        return shape, node.infer_dtype(), constraints
    if _is_weak(node) or isinstance(node, sp.logic.boolalg.BooleanAtom):
        return (), ("bool" if isinstance(node, sp.logic.boolalg.BooleanAtom) else None), ()
    kids = children(node)
    shape, constraints = broadcast_shapes(*(_SHAPES[c] for c in kids))
    if isinstance(node, (sp.core.relational.Relational, sp.logic.boolalg.BooleanFunction)):
        return shape, "bool", constraints
    values = [c.args[0] for c in kids] if isinstance(node, sp.Piecewise) else kids
    dtypes = {_DTYPES[v] for v in values}
    if isinstance(node, sp.functions.elementary.piecewise.ExprCondPair):
        dtypes = {_DTYPES[node.args[0]]}
    dtype = "float64" if "float64" in dtypes else "float32" if "float32" in dtypes else None
    if dtype is None and dtypes == {"bool"} and isinstance(node, sp.Piecewise):
        dtype = "bool"
    return shape, dtype, constraints


def _ensure(expr) -> None:
    if expr in _SHAPES:
        return
    for node in postorder([expr]):
        if node not in _SHAPES:
            shape, dtype, constraints = _infer(node)
            for a, b in constraints:
                _union(a, b)
            _SHAPES[node], _DTYPES[node], _CONSTRAINTS[node] = shape, dtype, constraints


def stand_in(name: str, like: sp.Basic) -> TensorVar:
    """A new variable named ``name`` with exactly the (symbolic) type of ``like``."""
    shape = shape_of(like)
    var = TensorVar(name, tuple(int(d) if d.is_Integer else None for d in shape), value_dtype(like))
    _SHAPES[var], _DTYPES[var], _CONSTRAINTS[var] = shape, value_dtype(like), ()
    return var


def shape_of(expr: sp.Basic) -> tuple:
    """Symbolic shape of ``expr``."""
    _ensure(expr)
    return _SHAPES[expr]


def dtype_of(expr: sp.Basic) -> str | None:
    """dtype of ``expr``; ``None`` for a plain number (NumPy's weak scalars)."""
    _ensure(expr)
    return _DTYPES[expr]


def value_dtype(expr: sp.Basic) -> str:
    """dtype of the array ``expr`` evaluates to (plain numbers become float64)."""
    return dtype_of(expr) or "float64"


def constraints_of(expr: sp.Basic) -> tuple:
    """Run-time size equalities that ``expr`` itself (not its operands) requires."""
    _ensure(expr)
    return _CONSTRAINTS[expr]


def size_of(shape: tuple) -> sp.Expr:
    """Number of elements of a symbolic shape."""
    return sp.Mul(*shape)


def result_dtype(*dtypes) -> str:
    """Float dtype of arithmetic on operands of ``dtypes`` (weak scalars ignored)."""
    return "float64" if "float64" in dtypes or not any(d in FLOAT_DTYPES for d in dtypes) else "float32"
