"""Tensor types: a dtype and a shape of symbolic sizes, and NumPy's promotion rules.

dtypes follow NumPy 2 (NEP 50): a Python number is *weak* and takes the
dtype of the array it meets (``float32 * 2.5`` is float32), while NumPy
scalars and arrays are strong.
"""
from __future__ import annotations

from dataclasses import dataclass

import functools

import numpy as np
import sympy as sp

from .sizes import SizeFacts, is_static, sizes_equal

FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int32", "int64")
DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)


@dataclass(frozen=True)
class TensorType:
    """The static type of a node: dtype, shape (SymPy sizes) and weakness."""

    dtype: str
    shape: tuple
    weak: bool = False  # a Python number: takes the dtype of what it meets

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES


def check_dtype(dtype, what: str = "dtype") -> str:
    """A dtype name symdiff supports, from anything ``np.dtype`` accepts."""
    try:
        name = np.dtype(dtype).name
    except TypeError as e:
        raise TypeError(f"{what}: {dtype!r} is not a dtype") from e
    if name not in DTYPES:
        raise TypeError(f"{what} must be one of {', '.join(DTYPES)}; got {name}")
    return name


_WEAK_EXAMPLE = {"float64": 0.0, "int64": 0, "bool": False, "float32": 0.0, "int32": 0}


def promote(*types: TensorType) -> tuple:
    """``(dtype, weak)`` of arithmetic on operands of ``types``, by NumPy's rules."""
    return _promote(tuple((t.dtype, bool(t.weak)) for t in types))


@functools.lru_cache(maxsize=None)
def _promote(kinds: tuple) -> tuple:
    strong = [np.dtype(dtype) for dtype, weak in kinds if not weak]
    weak = [_WEAK_EXAMPLE[dtype] for dtype, weak in kinds if weak]
    if not strong:
        return np.result_type(*(np.dtype(dtype) for dtype, _ in kinds)).name, True
    return np.result_type(*strong, *weak).name, False


def float_result(dtype: str) -> str:
    """The dtype of a float-valued function of a ``dtype`` value (ints and bools give float64)."""
    return dtype if dtype in FLOAT_DTYPES else "float64"


def fmt_shape(shape: tuple) -> str:
    """A shape as the user sees it: literal sizes, ``None`` for run-time ones."""
    dims = [str(int(d)) if is_static(d) else "None" for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def fmt_static(static: tuple) -> str:
    """A static shape (ints and ``None``) as text."""
    return "(" + ", ".join("None" if s is None else str(s) for s in static) + ("," if len(static) == 1 else "") + ")"


class ShapeError(ValueError):
    """Shapes that cannot work together."""


def broadcast(*shapes: tuple) -> tuple:
    """NumPy broadcasting of symbolic shapes: ``(shape, constraints)``.

    Two different run-time sizes that meet must be equal (a size declared
    ``None`` never broadcasts, as in PyTensor): the pair is returned as a
    constraint for the caller to record on its node.
    """
    ndim = max((len(s) for s in shapes), default=0)
    result, constraints = [], []
    for k in range(ndim):
        dim = sp.S.One
        for s in shapes:
            j = k - (ndim - len(s))
            if j < 0:
                continue
            d = s[j]
            if d == 1 or sizes_equal(d, dim):
                continue
            if dim == 1:
                dim = d
            elif is_static(d) and is_static(dim):
                raise ShapeError(
                    "shapes " + " and ".join(fmt_shape(s) for s in shapes) + " cannot be broadcast together"
                )
            else:
                constraints.append((dim, d))
                if is_static(d):
                    dim = d
        result.append(dim)
    return tuple(result), tuple(constraints)


def same_shape(a: tuple, b: tuple, facts: SizeFacts | None = None) -> bool:
    """Whether two shapes are equal (given a graph's size facts, if any)."""
    if facts is not None:
        return facts.same_shape(a, b)
    return len(a) == len(b) and all(sizes_equal(x, y) for x, y in zip(a, b))
