"""Matrix products: ``@`` with NumPy's semantics (1-D, 2-D and batched operands
whose leading axes broadcast), ``dot`` and ``outer``."""
from __future__ import annotations

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..graph.node import Node
from ..graph.sizes import is_static, size_product, sizes_equal
from ..graph.types import ShapeError, TensorType, broadcast, fmt_shape, promote
from ..tensor import Tensor, as_node, named
from . import build as b
from . import elementwise as ew
from .base import TensorOp
from .shape import reshape_node, transpose_node


def _swap_last(x: Node) -> Node:
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return transpose_node(x, perm)


class MatMul(TensorOp):
    """``a @ b`` (NumPy's ``matmul``)."""

    precedence = PRECEDENCE["Mul"] - 1  # Python's @ binds like *: a*(b @ c) needs its parentheses

    def infer_type(self):
        a, c = self.inputs
        if not a.ndim or not c.ndim:
            raise ShapeError("matmul: operands must have at least one dimension (use * for scalars)")
        sa = a.shape if a.ndim > 1 else (sp.S.One,) + a.shape
        sb = c.shape if c.ndim > 1 else c.shape + (sp.S.One,)
        k1, k2 = sa[-1], sb[-2]
        constraints = []
        if not sizes_equal(k1, k2):
            if is_static(k1) and is_static(k2):
                raise ShapeError(
                    f"matmul: shapes {fmt_shape(a.shape)} and {fmt_shape(c.shape)} not aligned: "
                    f"{k1} (dim {a.ndim - 1}) != {k2} (dim {max(c.ndim - 2, 0)})"
                )
            constraints.append((k1, k2))
        batch, more = broadcast(sa[:-2], sb[:-2])
        constraints.extend(more)
        shape = batch + ((sa[-2],) if a.ndim > 1 else ()) + ((sb[-1],) if c.ndim > 1 else ())
        dtype, weak = promote(a.type, c.type)
        if dtype == "bool":
            dtype = "int64"
        return TensorType(dtype, shape, False), tuple(constraints)

    def vjp(self, g):
        a, c = self.inputs
        nb = g.ndim - self.ndim  # leading batch axes of a batched adjoint (0 in a plain gradient)
        one = sp.S.One
        if a.ndim == 1 and c.ndim == 1:  # a . c
            gk = reshape_node(g, g.shape + (one,)) if nb else g
            return [b.mul(gk, c), b.mul(gk, a)]
        if a.ndim == 2 and c.ndim == 1:  # matrix @ vector: outer products, and g @ a per batch row
            ga = b.mul(reshape_node(g, g.shape + (one,)), c)
            gc = matmul_node(g, a) if nb else matmul_node(transpose_node(a), g)
            return [ga, gc]
        if a.ndim == 1 and c.ndim == 2:  # vector @ matrix
            ga = matmul_node(g, transpose_node(c)) if nb else matmul_node(c, g)
            gc = b.mul(reshape_node(a, a.shape + (one,)), reshape_node(g, g.shape[:-1] + (one,) + g.shape[-1:]))
            return [ga, gc]
        if a.ndim == 2 and c.ndim == 2 and nb:  # a.T @ g as (g^T @ a)^T: products with the 2-D a, not a copy per batch
            return [matmul_node(g, _swap_last(c)), _swap_last(matmul_node(_swap_last(g), a))]
        return self._broadcast_vjp(g, nb)

    def _broadcast_vjp(self, g, nb: int) -> list:
        """The VJP for stacks of matrices: products per stack entry, summed over
        the stack axes an operand was broadcast along."""
        from ..grad import sum_to

        a, c = self.inputs
        one = sp.S.One
        a2 = a if a.ndim > 1 else reshape_node(a, (one,) + a.shape)
        c2 = c if c.ndim > 1 else reshape_node(c, c.shape + (one,))
        g2 = g
        if a.ndim == 1:
            g2 = reshape_node(g2, g2.shape[:-1] + (one,) + g2.shape[-1:])
        if c.ndim == 1:
            g2 = reshape_node(g2, g2.shape + (one,))
        batch = tuple(g.shape[:nb])
        out = []
        for operand, flat, part in ((a, a2, matmul_node(g2, _swap_last(c2))), (c, c2, matmul_node(_swap_last(a2), g2))):
            part = sum_to(part, part.shape[nb:], flat.shape, nb)
            out.append(reshape_node(part, batch + tuple(operand.shape)))
        return out

    def _sympystr(self, printer):
        a, c = self.inputs
        return f"{printer.parenthesize(a, PRECEDENCE['Mul'])} @ {printer.parenthesize(c, PRECEDENCE['Mul'])}"

    def _latex(self, printer):
        a, c = self.inputs
        return f"{printer.parenthesize(a, PRECEDENCE['Mul'])} {printer.parenthesize(c, PRECEDENCE['Mul'])}"

    def lower(self, e):
        a, c = self.inputs
        dtype = self.dtype
        compute = dtype if dtype in ("float32", "float64") else "float64"
        x, y = e.arg(0, dtype=compute), e.arg(1, dtype=compute)
        cast = "" if compute == dtype else f".astype(np.{dtype})"
        if a.ndim <= 2 and c.ndim <= 2:
            return self._lower_2d(e, x, y, compute, cast)
        if c.ndim <= 2:  # a stack of matrices times one matrix (or vector): one 2-D product
            k = e.size(a.shape[-1])
            rows = e.size(size_product(a.shape[:-1]))
            dims = ", ".join(e.size(d) for d in self.shape)
            return [f"{e.out} = matmul(np.ascontiguousarray({x}).reshape(({rows}, {k})), {y}).reshape(({dims},)){cast}"]
        batch = self.shape[: len(self.shape) - (a.ndim > 1) - (c.ndim > 1)]
        bdims = ", ".join(e.size(d) for d in batch)
        lines = []
        sa = a.shape if a.ndim > 1 else (sp.S.One,) + a.shape
        sb = c.shape if c.ndim > 1 else c.shape + (sp.S.One,)
        for name, src, s in (("a", x, sa), ("b", y, sb)):
            full = f"({bdims}, {e.size(s[-2])}, {e.size(s[-1])})"
            flat = f"({e.size(sp.Mul(*batch))}, {e.size(s[-2])}, {e.size(s[-1])})"
            shaped = f"np.ascontiguousarray({src}).reshape(({', '.join(e.size(d) for d in s)},))"
            lines.append(f"{e.out}_{name} = np.ascontiguousarray(np.broadcast_to({shaped}, {full})).reshape({flat})")
        dims = ", ".join(e.size(d) for d in self.shape)
        lines.append(f"{e.out} = batched_matmul({e.out}_a, {e.out}_b).reshape(({dims},)){cast}")
        return lines

    def _lower_2d(self, e, x, y, compute: str, cast: str) -> list:
        """Allocate the product and fill it by one ``gemm`` call lowered into the kernel
        (1-D operands and results as length-1 axes of views, as np.matmul promotes them);
        no helper function to compile.  The sizes agree: the function checked them."""
        a, c = self.inputs
        x2 = x if a.ndim == 2 else f"{x}[None, :]"
        y2 = y if c.ndim == 2 else f"{y}[:, None]"
        np_dtype = f"np.{compute}"
        if not self.shape:
            return [f"{e.out}_2d = empty_array((1, 1), {np_dtype})",
                    f"gemm({x2}, {y2}, {e.out}_2d, 1.0, 0.0)",
                    f"{e.out} = {e.out}_2d[0, 0]"]
        dims = ", ".join(e.size(d) for d in self.shape)
        out2 = e.out if self.ndim == 2 else (f"{e.out}[:, None]" if a.ndim == 2 else f"{e.out}[None, :]")
        lines = [f"{e.out} = empty_array(({dims},), {np_dtype})", f"gemm({x2}, {y2}, {out2}, 1.0, 0.0)"]
        return lines + ([f"{e.out} = {e.out}{cast}"] if cast else [])


class MatVecPair(TensorOp):
    """``stack([a @ u, a @ v])`` for a matrix ``a`` and vectors ``u``, ``v``: two
    matrix-vector products in one pass over ``a``.  Only compiled kernels build it
    (:mod:`symdiff.rewrites.matvec`), after all differentiation."""

    differentiable = False

    def infer_type(self):
        a, u, v = self.inputs
        return TensorType(a.dtype, (sp.Integer(2), a.shape[0]), False), ()

    def vjp(self, g):
        raise TypeError("matvec_pair exists only inside compiled kernels, after differentiation")

    def _sympystr(self, printer):
        a, u, v = (printer._print(x) for x in self.inputs)
        return f"stack([{a} @ {u}, {a} @ {v}])"

    def _latex(self, printer):
        a, u, v = (printer._print(x) for x in self.inputs)
        return rf"\left[{a} {u},\ {a} {v}\right]"

    def lower(self, e):
        return [f"{e.out} = matvec_pair({e.arg(0)}, {e.arg(1)}, {e.arg(2)})"]


def matmul_node(a: Node, c: Node) -> Node:
    return MatMul((a, c))


def matmul(a, b, name: str | None = None) -> Tensor:
    """Matrix product ``a @ b`` with NumPy's semantics: 1-D operands are vectors,
    and the leading axes of stacks of matrices broadcast.

    >>> A, B = sd.tensor("A", (None, 3, 4)), sd.tensor("B", (4, 5))
    >>> sd.matmul(A, B).static_shape
    (None, 3, 5)
    >>> X, w = sd.matrix("X"), sd.vector("w")
    >>> sd.pprint(sd.grad(sd.sum(sd.matmul(X, w)), w))
    'X.T @ broadcast_to(1, (X.shape[0],))'
    """
    return named(Tensor(MatMul((as_node(a), as_node(b)))), name)


def dot(a, b=None, name: str | None = None) -> "Tensor | str":
    """NumPy's ``dot`` for 1-D and 2-D operands: ``a @ b`` (a 0-d operand multiplies).

    With one argument, ``sd.dot(expr)`` is instead the Graphviz DOT source of
    ``expr``'s graph (a tensor or a list of them; see :func:`symdiff.graphviz.dot`).

    >>> A, v = sd.matrix("A"), sd.vector("v")
    >>> sd.pprint(sd.dot(A, v))
    'A @ v'
    >>> sd.dot(sd.exp(v)).splitlines()[0]
    'digraph symdiff {'
    """
    if b is None:
        from ..graphviz import dot as graph_source

        if name is not None:
            raise TypeError("dot: name= applies to the product dot(a, b), not to a graph's DOT source")
        return graph_source(a)
    x, y = as_node(a), as_node(b)
    if x.ndim > 2 or y.ndim > 2:
        raise ValueError("dot: use matmul (@) for operands of more than two dimensions")
    if not x.ndim or not y.ndim:
        return named(Tensor(ew.Mul((x, y))), name)
    return named(Tensor(MatMul((x, y))), name)


def outer(a, b, name: str | None = None) -> Tensor:
    """Outer product of two vectors (NumPy's ``outer``).

    >>> x, y = sd.vector("x", shape=(2,)), sd.vector("y", shape=(3,))
    >>> sd.outer(x, y).static_shape
    (2, 3)
    """
    x, y = as_node(a), as_node(b)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"outer needs two vectors, got shapes {fmt_shape(x.shape)} and {fmt_shape(y.shape)}")
    return named(Tensor(ew.Mul((reshape_node(x, (x.shape[0], sp.S.One)), y))), name)


LINALG_OPS = (MatMul, MatVecPair)
