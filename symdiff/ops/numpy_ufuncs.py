"""NumPy functions applied to symbolic tensors: ``np.exp(x)`` is ``sd.exp(x)``.

A :class:`~symdiff.tensor.Tensor` implements NumPy's ``__array_ufunc__`` and
``__array_function__`` protocols; this module maps NumPy's functions to the
``sd.NAME`` functions of the same meaning.  A NumPy function without a
symbolic counterpart raises ``TypeError`` naming it.
"""
from __future__ import annotations

import inspect

import numpy as np

from . import elementwise as ew
from . import indexing, linalg, reductions, shape


def _ufuncs() -> dict:
    return {
        np.add: lambda a, b: ew.apply(ew.Add, a, b),
        np.subtract: lambda a, b: ew.apply(ew.Sub, a, b),
        np.multiply: lambda a, b: ew.apply(ew.Mul, a, b),
        np.true_divide: lambda a, b: ew.apply(ew.Div, a, b),
        np.power: lambda a, b: ew.apply(ew.Pow, a, b),
        np.negative: lambda a: ew.apply(ew.Neg, a),
        np.positive: lambda a: a,
        np.less: lambda a, b: ew.apply(ew.Less, a, b),
        np.less_equal: lambda a, b: ew.apply(ew.LessEqual, a, b),
        np.greater: lambda a, b: ew.apply(ew.Greater, a, b),
        np.greater_equal: lambda a, b: ew.apply(ew.GreaterEqual, a, b),
        np.equal: lambda a, b: ew.apply(ew.Equal, a, b),
        np.not_equal: lambda a, b: ew.apply(ew.NotEqual, a, b),
        np.logical_and: lambda a, b: ew.apply(ew.And, a, b),
        np.logical_or: lambda a, b: ew.apply(ew.Or, a, b),
        np.logical_not: lambda a: ew.apply(ew.Not, a),
        np.maximum: ew.maximum,
        np.minimum: ew.minimum,
        np.matmul: linalg.matmul,
        np.exp: ew.exp, np.expm1: ew.expm1, np.log: ew.log, np.log1p: ew.log1p, np.log2: ew.log2,
        np.log10: ew.log10, np.sqrt: ew.sqrt, np.square: ew.square, np.absolute: ew.abs, np.sign: ew.sign,
        np.floor: ew.floor, np.ceil: ew.ceil, np.sin: ew.sin, np.cos: ew.cos, np.tan: ew.tan,
        np.arcsin: ew.arcsin, np.arccos: ew.arccos, np.arctan: ew.arctan, np.sinh: ew.sinh, np.cosh: ew.cosh,
        np.tanh: ew.tanh, np.arcsinh: ew.arcsinh, np.arctanh: ew.arctanh,
    }


def _functions() -> dict:
    return {
        np.sum: reductions.sum, np.mean: reductions.mean, np.max: reductions.max, np.min: reductions.min,
        np.amax: reductions.max, np.amin: reductions.min, np.prod: reductions.prod, np.var: reductions.var,
        np.std: reductions.std, np.argmax: reductions.argmax, np.argmin: reductions.argmin,
        np.dot: linalg.dot, np.matmul: linalg.matmul, np.outer: linalg.outer,
        np.take: indexing.take, np.ravel: lambda a: shape.reshape(a, (-1,)),
        np.transpose: shape.transpose, np.reshape: shape.reshape, np.concatenate: shape.concatenate,
        np.stack: shape.stack, np.expand_dims: shape.expand_dims, np.broadcast_to: shape.broadcast_to,
        np.where: ew.where, np.clip: ew.clip, np.maximum: ew.maximum, np.minimum: ew.minimum,
    }


_UFUNCS: dict = {}
_FUNCTIONS: dict = {}


def dispatch(ufunc, method: str, inputs: tuple, kwargs: dict):
    """``ufunc(*inputs)`` on symbolic tensors.

    Keyword arguments (``out=``, ``where=``, ``dtype=``, ...) raise: each
    would change the result, and a symbolic tensor has no memory to write to.
    """
    if not _UFUNCS:
        _UFUNCS.update(_ufuncs())
    if method != "__call__":
        raise TypeError(f"numpy.{ufunc.__name__}.{method} is not supported on symbolic tensors")
    if kwargs:
        raise TypeError(f"numpy.{ufunc.__name__} on symbolic tensors takes no keyword arguments, got {sorted(kwargs)}")
    fn = _UFUNCS.get(ufunc)
    if fn is None:
        raise TypeError(f"numpy.{ufunc.__name__} has no symbolic counterpart in symdiff")
    return fn(*inputs)


def dispatch_function(func, args: tuple, kwargs: dict):
    """``func(*args, **kwargs)`` (a NumPy function such as ``np.sum``) on symbolic tensors."""
    if not _FUNCTIONS:
        _FUNCTIONS.update(_functions())
    what = f"{func.__module__}.{func.__name__}"
    fn = _FUNCTIONS.get(func)
    if fn is None:
        raise TypeError(f"{what} has no symbolic counterpart in symdiff")
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as e:
        accepted = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}"
                             for p in inspect.signature(fn).parameters.values())
        raise TypeError(f"{what} on symbolic tensors: {e} (it accepts {accepted})") from None
    return fn(*args, **kwargs)
