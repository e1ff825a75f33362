"""Matrix products: ``@`` with NumPy's semantics (1-D, 2-D and batched operands
whose leading axes broadcast), ``dot`` and ``outer``."""
from __future__ import annotations

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from ..graph.node import Node
from ..graph.sizes import is_static, sizes_equal
from ..graph.types import ShapeError, TensorType, broadcast, fmt_shape, promote
from ..tensor import Tensor, as_node, named
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
        a2 = a if a.ndim > 1 else reshape_node(a, (sp.S.One,) + a.shape)
        c2 = c if c.ndim > 1 else reshape_node(c, c.shape + (sp.S.One,))
        g2 = g
        if a.ndim == 1:
            g2 = reshape_node(g2, g2.shape[:-1] + (sp.S.One,) + g2.shape[-1:]) if c.ndim > 1 else reshape_node(g2, g2.shape + (sp.S.One,))
        if c.ndim == 1:
            g2 = reshape_node(g2, g2.shape + (sp.S.One,))
        if a.ndim == 1 and c.ndim == 1:
            return [ew.Mul((g, c)), ew.Mul((g, a))]
        ga = matmul_node(g2, _swap_last(c2))
        gc = matmul_node(_swap_last(a2), g2)
        if a.ndim == 1:
            ga = reshape_node(ga, ga.shape[:-2] + ga.shape[-1:])
        if c.ndim == 1:
            gc = reshape_node(gc, gc.shape[:-1])
        from ..grad import sum_to  # (grad imports the ops)

        # an operand broadcast over batch axes gets its adjoint summed over them
        return [sum_to(ga, ga.shape, a.shape), sum_to(gc, gc.shape, c.shape)]

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
            line = f"{e.out} = matmul({x}, {y}){cast}"
            return [line if self.shape else f"{e.out} = matmul({x}, {y})"]
        batch = self.shape[: len(self.shape) - (a.ndim > 1) - (c.ndim > 1)]
        bdims = ", ".join(e.size(d) for d in batch)
        lines = []
        sa = a.shape if a.ndim > 1 else (sp.S.One,) + a.shape
        sb = c.shape if c.ndim > 1 else c.shape + (sp.S.One,)
        for name, src, s in (("a", x, sa), ("b", y, sb)):
            full = f"({bdims}, {e.size(s[-2])}, {e.size(s[-1])})"
            flat = f"({e.size(sp.Mul(*batch))}, {e.size(s[-2])}, {e.size(s[-1])})"
            lines.append(f"{e.out}_{name} = np.ascontiguousarray(np.broadcast_to(np.ascontiguousarray({src})"
                         f".reshape(({', '.join(e.size(d) for d in s)},)), {full})).reshape({flat})")
        dims = ", ".join(e.size(d) for d in self.shape)
        lines.append(f"{e.out} = batched_matmul({e.out}_a, {e.out}_b).reshape(({dims},)){cast}")
        return lines


def matmul_node(a: Node, c: Node) -> Node:
    return MatMul((a, c))


def matmul(a, b, name: str | None = None) -> Tensor:
    """Matrix product ``a @ b`` with NumPy's semantics (batched over leading axes)."""
    return named(Tensor(MatMul((as_node(a), as_node(b)))), name)


def dot(a, b, name: str | None = None) -> Tensor:
    """``a @ b`` for 1-D and 2-D operands (NumPy's ``dot``)."""
    x, y = as_node(a), as_node(b)
    if x.ndim > 2 or y.ndim > 2:
        raise ValueError("dot: use matmul (@) for operands of more than two dimensions")
    if not x.ndim or not y.ndim:
        return named(Tensor(ew.Mul((x, y))), name)
    return named(Tensor(MatMul((x, y))), name)


def outer(a, b, name: str | None = None) -> Tensor:
    """Outer product of two vectors."""
    x, y = as_node(a), as_node(b)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"outer needs two vectors, got shapes {fmt_shape(x.shape)} and {fmt_shape(y.shape)}")
    return named(Tensor(ew.Mul((reshape_node(x, (x.shape[0], sp.S.One)), y))), name)


LINALG_OPS = (MatMul,)
