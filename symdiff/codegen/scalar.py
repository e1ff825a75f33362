"""Code printers for kernels: sizes, and the scalar code of elementwise nodes.

Both are SymPy code printers.  :class:`SizePrinter` prints size expressions
(``Dim`` atoms become ``x.shape[0]``, divisions are integer divisions);
:class:`ScalarPrinter` prints an elementwise node at one loop position by
calling the node's ``_numba`` method, which asks back for its operands'
code (``arg``), typed literals (``num``) and math functions (``math``).
"""
from __future__ import annotations

import builtins
import keyword
import re

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..graph.node import Constant, Node, Size
from ..graph.sizes import Dim
from ..graph.types import FLOAT_DTYPES
from . import blas, fastmath, support

# elementwise functions with a vectorisable implementation in fastmath
FASTMATH = {"exp", "log", "log1p", "expm1", "tanh", "sigmoid", "softplus", "sinh", "cosh"}


class SizePrinter(PythonCodePrinter):
    """Python code for a size expression: ``x.shape[0]`` given the argument names of
    variables (``names``), or, given a ``dims`` dict, a name per run-time size
    (``n0``, ``n1``, ... recorded in order of first use, for code that receives
    sizes as arguments)."""

    def __init__(self, names: dict, dims: dict | None = None):
        super().__init__({"fully_qualified_modules": False})
        self.names = names  # id(Variable) -> argument name
        self.dims = dims

    def _print_Dim(self, expr):
        if self.dims is not None:
            if expr not in self.dims:
                self.dims[expr] = f"n{len(self.dims)}"
            return self.dims[expr]
        return f"{self.names[id(expr.var)]}.shape[{expr.axis}]"

    def _print_Integer(self, expr):
        return str(int(expr))

    def _print_Mul(self, expr):
        num, den = sp.fraction(expr)
        top = " * ".join(self.parenthesize(a, 50) for a in sp.Mul.make_args(num))
        if den == 1:
            return top
        return f"(({top}) // ({self._print(den)}))"

    def _print_floor(self, expr):
        num, den = sp.fraction(sp.together(expr.args[0]))
        return f"(({self._print(num)}) // ({self._print(den)}))"

    def _print_ceiling(self, expr):
        num, den = sp.fraction(sp.together(expr.args[0]))
        return f"(-((-({self._print(num)})) // ({self._print(den)})))"


class Namer:
    """Fresh, valid, distinct Python names."""

    # the names a generated module binds (its imports and the helpers it star-imports),
    # its own names, Python's keywords and builtins
    RESERVED = ({"np", "math", "numba", "kernel", "loop", "result", "first", "step", "n_steps", "offset",
                 "batch"} | set(fastmath.__all__) | set(blas.__all__) | set(support.__all__)
                | set(keyword.kwlist) | set(dir(builtins)))

    def __init__(self):
        self.used: set = set()

    def __call__(self, base: str) -> str:
        base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in base) or "v"
        # no "_<digit>": Numba names SSA versions "x.1" and legalises them to "x_1"
        base = re.sub(r"_+(?=\d)", "", base).strip("_") or "v"
        if base[0].isdigit():
            base = "v" + base
        name, k = base, 1
        while name in self.used or name in self.RESERVED:
            k += 1
            name = f"{base}{k}"
        self.used.add(name)
        return name


class ScalarPrinter(PythonCodePrinter):
    """Scalar code of elementwise nodes inside one loop body.

    ``values`` maps ids of materialised nodes to their code names; ``scalars``
    holds the ids of those that are scalars (0-d).  ``uses`` counts, per node,
    how often the body reads it: a node read twice is computed once into a
    temporary (``s = ...``) appended to ``body``.
    """

    printmethod = "_numba"

    def __init__(self, emitter, values: dict, scalars: set, uses: dict, fast_math: bool):
        super().__init__({"fully_qualified_modules": False})
        self.e = emitter
        self.values = values
        self.scalars = scalars
        self.uses = uses
        self.fast_math = fast_math
        self.body: list = []
        self.temps: dict = {}
        self.index: tuple = ()

    # -- what nodes' _numba methods call -----------------------------------------
    def arg(self, node: Node, k: int, cast: bool = True) -> str:
        """Code for operand ``k`` of ``node`` at the current position (broadcast,
        and cast to ``node``'s dtype unless ``cast`` is false)."""
        child = node.inputs[k]
        lead = len(self.index) - child.ndim
        index = tuple("0" if d == 1 else self.index[lead + j] for j, d in enumerate(child.shape))
        if isinstance(child, Constant) and cast and child.type.weak:
            return self.num(child.value, node)
        code = self.code(child, index)
        if cast and child.dtype != node.dtype:
            code = self.cast(code, child.dtype, node.dtype)
        return code

    def num(self, value, node: Node) -> str:
        """A literal of ``node``'s dtype."""
        return self.e.literal(sp.sympify(value), node.dtype)

    def math(self, name: str, code: str) -> str:
        """A call of a math function: vectorisable fastmath, or libm."""
        if name.startswith("math."):
            return f"{name}({code})"
        if name in FASTMATH:
            table = fastmath.FAST if self.fast_math else fastmath.LIBM
            return f"{table[name]}({code})"
        return f"math.{name}({code})"

    def cast(self, code: str, have: str, want: str) -> str:
        if have == want:
            return code
        if want == "bool":
            return f"({code} != 0)"
        return f"np.{want}({code})"

    # -- the body -------------------------------------------------------------------
    def code(self, node: Node, index: tuple) -> str:
        """Code for the value of ``node`` at loop position ``index``."""
        key = (id(node), index)
        if key in self.temps:
            return self.temps[key]
        if id(node) in self.values:
            name = self.values[id(node)]
            if id(node) in self.scalars or not node.shape:
                return name
            return f"{name}[{', '.join(index)}]"
        if isinstance(node, Constant):
            return self.e.literal(node.value, node.dtype)
        if isinstance(node, Size):
            return f"np.int64({self.e.size(node.size)})"
        saved = self.index
        self.index = index
        try:
            text = node._numba(self)
        finally:
            self.index = saved
        if self.uses.get(id(node), 0) > 1 and node.inputs:
            temp = self.e.namer("s")
            self.body.append(f"{temp} = {text}")
            text = temp
        self.temps[key] = text
        return text

    def set_value(self, node: Node, index: tuple, code: str) -> None:
        """Make later reads of ``node`` at ``index`` use ``code``."""
        self.temps[(id(node), index)] = code
