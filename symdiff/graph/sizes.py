"""Symbolic sizes: the lengths of axes known only at run time.

A size is a small SymPy integer expression: a literal, or arithmetic over
:class:`Dim` atoms (``Dim(x, 0)`` is ``x.shape[0]``).  Sizes are the one
place where SymPy's own evaluation runs freely: they stay a handful of
symbols deep, however large the graph.

Facts belong to a graph.  When two unknown sizes meet (``x + y`` for two
vectors of run-time length) the node records the *constraint* that they be
equal; nothing global is learnt.  :class:`SizeFacts` gathers the constraints
of one graph (the one being compiled or evaluated) into classes of equal
sizes, and compiled functions check every constraint at call time.
"""
from __future__ import annotations

import contextvars
import itertools
from contextlib import contextmanager
from typing import Iterable, Iterator

import sympy as sp

_dim_uids = itertools.count()


class Dim(sp.Symbol):
    """The run-time length of axis ``axis`` of the variable node ``var``."""

    def __new__(cls, var, axis: int):
        obj = sp.Symbol.__xnew__(cls, f"{var.name}.shape[{axis}]", integer=True, nonnegative=True)
        obj.var = var
        obj.axis = int(axis)
        return obj

    def __getnewargs_ex__(self):
        return ((self.var, self.axis), {})

    def __reduce_ex__(self, protocol):
        return (Dim, (self.var, self.axis))

    def _hashable_content(self):
        return (self.name, self.var.uid, self.axis)

    def _latex(self, printer):
        return rf"\operatorname{{len}}_{{{self.axis}}}\left({printer._print(sp.Symbol(self.var.name))}\right)"


def as_size(value) -> sp.Expr:
    """A size from an int, a SymPy expression or ``None`` (not allowed here)."""
    if isinstance(value, sp.Expr):
        return value
    return sp.Integer(int(value))


def is_static(size: sp.Expr) -> bool:
    """Whether a size is a literal integer."""
    return bool(size.is_Integer)


def static_or_none(size: sp.Expr) -> int | None:
    """The user's view of a size: an int when literal, else ``None``."""
    return int(size) if size.is_Integer else None


def sizes_equal(a: sp.Expr, b: sp.Expr) -> bool:
    """Whether two sizes are the same expression (no facts assumed)."""
    return a == b or sp.expand(a - b) == 0


_ASSUMED: contextvars.ContextVar = contextvars.ContextVar("assumed_size_facts", default=None)


@contextmanager
def assuming(facts: "SizeFacts") -> Iterator[None]:
    """Within the block, :func:`known_equal` also uses ``facts`` (the facts of the
    graph being differentiated; its derivatives carry them, see ``SizeCheck``)."""
    token = _ASSUMED.set(facts)
    try:
        yield
    finally:
        _ASSUMED.reset(token)


def assumed_facts() -> "SizeFacts | None":
    """The facts of the enclosing :func:`assuming` block, if any."""
    return _ASSUMED.get()


def known_equal(a: sp.Expr, b: sp.Expr) -> bool:
    """Whether two sizes are equal: the same expression, or equal by the facts
    assumed in the enclosing :func:`assuming` block."""
    if sizes_equal(a, b):
        return True
    facts = _ASSUMED.get()
    return facts is not None and facts.same(a, b)


def size_product(sizes: Iterable[sp.Expr]) -> sp.Expr:
    """The number of elements of a shape."""
    return sp.Mul(*sizes)


def dims_in(size: sp.Expr) -> set:
    """The ``Dim`` atoms a size depends on."""
    return size.atoms(Dim) if not size.is_Integer else set()


class SizeFacts:
    """The size equalities of one graph: classes of sizes that must be equal.

    Built from the constraints the graph's nodes recorded (and any the caller
    adds); :meth:`same` answers whether two sizes are known equal, and
    :meth:`canonical` picks one representative per class (a literal if the
    class has one, else the simplest expression).
    """

    def __init__(self, constraints: Iterable[tuple] = ()):
        self._parent: dict = {}
        for a, b in constraints:
            self.add(a, b)

    @staticmethod
    def _rank(size: sp.Expr) -> tuple:
        if size.is_Integer:
            return (0, int(size))
        if isinstance(size, Dim):
            return (1, size.var.role != "input", size.var.uid, size.axis)
        return (2, sp.count_ops(size), sp.srepr(size))

    def find(self, size: sp.Expr) -> sp.Expr:
        while size in self._parent:
            size = self._parent[size]
        return size

    def add(self, a: sp.Expr, b: sp.Expr) -> None:
        """Record that sizes ``a`` and ``b`` are equal."""
        a, b = self.find(a), self.find(b)
        if a != b:
            first, second = sorted((a, b), key=self._rank)
            self._parent[second] = first

    def pairs(self) -> list:
        """Equalities implying all of these facts (one per size that is not its class's representative)."""
        return [(size, self.find(size)) for size in self._parent]

    def canonical(self, size: sp.Expr) -> sp.Expr:
        """The representative of ``size``'s class (sizes inside expressions replaced too)."""
        if size.is_Integer:
            return size
        found = self.find(size)
        if found is not size or isinstance(size, Dim):
            return found
        return sp.expand(size.xreplace({d: self.find(d) for d in dims_in(size)}))

    def same(self, a: sp.Expr, b: sp.Expr) -> bool:
        """Whether ``a`` and ``b`` are known to be equal in this graph."""
        return sizes_equal(a, b) or sizes_equal(self.canonical(a), self.canonical(b))

    def same_shape(self, a: tuple, b: tuple) -> bool:
        return len(a) == len(b) and all(self.same(x, y) for x, y in zip(a, b))


NO_FACTS = SizeFacts()
