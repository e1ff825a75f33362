"""Oracles that share no code with symdiff: central finite differences, and SymPy
``diff`` of a function written out element by element on object arrays of symbols."""
from __future__ import annotations

import numpy as np
import sympy as sp


def central_differences(f, arrays: list, k: int, eps: float = 1e-6) -> np.ndarray:
    """d f / d arrays[k] by central differences (f returns a float)."""
    base = [a.copy() for a in arrays]
    grad = np.zeros_like(base[k])
    flat = base[k].reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f(*base)
        flat[i] = old - eps
        minus = f(*base)
        flat[i] = old
        grad.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return grad


def symbol_array(name: str, shape: tuple) -> np.ndarray:
    """An object array of distinct real SymPy symbols."""
    flat = [sp.Symbol(f"{name}_{i}", real=True) for i in range(int(np.prod(shape, dtype=int)))]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(shape)


def sympy_gradients(build, values: list, weights: np.ndarray) -> list:
    """Gradients of ``sum(weights * build(*symbol_arrays))`` by SymPy ``diff``, at ``values``.

    ``build`` works on NumPy object arrays of SymPy symbols, element by element.
    """
    syms = [symbol_array(f"a{k}", v.shape) for k, v in enumerate(values)]
    out = np.asarray(build(*syms), dtype=object)
    cost = sum((sp.Float(float(w)) * e for w, e in zip(np.ravel(weights), np.ravel(out))), sp.S.Zero)
    point = {s: sp.Float(float(x)) for sa, v in zip(syms, values) for s, x in zip(np.ravel(sa), np.ravel(v))}
    grads = []
    for sa, v in zip(syms, values):
        g = np.array([float(sp.diff(cost, s).subs(point).evalf()) for s in np.ravel(sa)], dtype=float)
        grads.append(g.reshape(v.shape))
    return grads


def elementwise(f):
    """Apply a SymPy function to each entry of an object array."""
    return np.vectorize(f, otypes=[object])
