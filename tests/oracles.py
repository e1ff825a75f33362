"""Oracles that share no code with symdiff: central finite differences, SymPy
``diff`` of a function written out element by element on object arrays of
symbols, and the two-layer network's backpropagation derived by hand in NumPy."""
from __future__ import annotations

import zlib

import numpy as np
import sympy as sp


def stable_seed(text: str) -> int:
    """A seed from a string that is the same in every process (unlike ``hash``)."""
    return zlib.crc32(text.encode())


def central_differences(f, arrays: list, k: int, eps: float = 1e-6) -> np.ndarray:
    """d f / d arrays[k] by central differences (f returns a float)."""
    base = [np.array(a, copy=True, order="C") for a in arrays]  # C order: reshape(-1) below is a view
    grad = np.zeros(base[k].shape)
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


# --------------------------------------------------------------------------- SymPy, element by element


def symbol_array(name: str, shape: tuple) -> np.ndarray:
    """An object array of distinct real SymPy symbols."""
    flat = [sp.Symbol(f"{name}_{i}", real=True) for i in range(int(np.prod(shape, dtype=int)))]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(shape)


def sympy_gradients(build, values: list, weights: np.ndarray, differentiable: list) -> list:
    """Gradients of ``sum(weights * build(*args))`` by SymPy ``diff``, at ``values``.

    ``args[k]`` is an object array of symbols where ``differentiable[k]``, else
    ``values[k]`` itself (integer data such as indices).  ``build`` works on
    those arrays element by element.  Returns one gradient per differentiable
    input.
    """
    args = [symbol_array(f"a{k}", np.shape(v)) if d else v for k, (v, d) in enumerate(zip(values, differentiable))]
    out = np.asarray(build(*args), dtype=object)
    cost = sp.Add(*(sp.Float(float(w)) * e for w, e in zip(np.ravel(weights), np.ravel(out))))
    point = {s: sp.Float(float(x)) for a, v, d in zip(args, values, differentiable) if d
             for s, x in zip(np.ravel(a), np.ravel(v))}
    grads = []
    for a, v, d in zip(args, values, differentiable):
        if d:
            g = [float(sp.diff(cost, s).xreplace(point).evalf()) for s in np.ravel(a)]
            grads.append(np.array(g, dtype=float).reshape(np.shape(v)))
    return grads


def elementwise(f):
    """Apply a SymPy function to each entry of an object array."""
    return np.vectorize(f, otypes=[object])


def _flat_function(name: str, numeric):
    """A SymPy function with derivative 0 (a piecewise-constant function away from
    its jumps) that evaluates with ``numeric`` on numbers."""

    def fdiff(self, argindex=1):
        return sp.S.Zero

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.Integer(int(numeric(float(x))))
        return None

    return type(name, (sp.Function,), {"fdiff": fdiff, "eval": eval})


Floor = _flat_function("Floor", np.floor)
Ceil = _flat_function("Ceil", np.ceil)
Sign = _flat_function("Sign", np.sign)


def sigmoid(v):
    return 1 / (1 + sp.exp(-v))


def softmax(a: np.ndarray, axis: int) -> np.ndarray:
    """Softmax of an object array along ``axis``."""
    e = elementwise(sp.exp)(a)
    return e / e.sum(axis=axis, keepdims=True)


# --------------------------------------------------------------------------- the two-layer network by hand


def numpy_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def network_loss(X, y, w0, b0, w1, b1) -> float:
    """Loss of the two-layer network: mean(0.5*(yp - y)**2), yp = s(s(X w0 + b0) w1 + b1)."""
    h = numpy_sigmoid(X @ w0 + b0)
    yp = numpy_sigmoid(h @ w1 + b1)
    return float(np.mean(0.5 * (yp - y) ** 2))


def network_backprop(X, y, w0, b0, w1, b1):
    """Loss, [dw0, db0, dw1, db1] and the adjoints of ``h`` and ``yp``, derived by hand.

    z0 = X w0 + b0, h = s(z0), z1 = h w1 + b1, yp = s(z1), L = sum(0.5 (yp - y)^2) / (n*k);
    dL/dyp = (yp - y)/(n*k); s'(z) = s(z)(1 - s(z)); back through the affine maps with
    the transposed matrices; a bias gets its adjoint summed over the rows it was
    broadcast along.
    """
    h = numpy_sigmoid(X @ w0 + b0)
    yp = numpy_sigmoid(h @ w1 + b1)
    loss = float(np.mean(0.5 * (yp - y) ** 2))
    d_yp = (yp - y) / y.size
    d_z1 = d_yp * yp * (1.0 - yp)
    d_h = d_z1 @ w1.T
    d_z0 = d_h * h * (1.0 - h)
    grads = [X.T @ d_z0, d_z0.sum(axis=0), h.T @ d_z1, d_z1.sum(axis=0)]
    return loss, grads, {"h": d_h, "yp": d_yp}
