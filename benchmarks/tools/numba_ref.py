"""Hand-written Numba, the reference (ratio 1.0): gradients derived by hand.

W1 is one fused pass over the rows (tiny layers, one output unit), its 1000 steps a
loop inside the same function; W2 uses BLAS matrix products (Numba's ``@`` needs
SciPy) with the softmax written as loops; W4 is a single scalar loop.

Options (the tools "numba", "numba-fastmath", "numba-parallel" in tools/__init__.py):
``fastmath=True`` lets LLVM reassociate and vectorise floating-point math;
``parallel=True`` runs the row loops with ``prange`` (W1 splits the rows into one
chunk per Numba thread, each with its own gradient sums, added up after) and
parallelises the array expressions.  The reference is serial without fastmath.
Compiled with ``cache=True`` into NUMBA_CACHE_DIR; each option set compiles copies
of the functions under their own names, so cache entries never mix variants.
"""

import functools
import math
import types

import numba
import numpy as np
from numba import njit, prange

from benchmarks import workloads as wl
from benchmarks.tools import Case

COMPILES = True
VERSION = numba.__version__


def _w1_train(steps, n_chunks, X, y, w0, b0, w1, b1, lr):
    """``steps`` SGD steps in place; the loss before the last one.  Rows are split
    into ``n_chunks`` chunks (1: the plain serial pass), each summing its own gradients."""
    n, d = X.shape
    k = w0.shape[1]
    loss = 0.0
    for _ in range(steps):
        gw0 = np.zeros((n_chunks, d, k))
        gb0 = np.zeros((n_chunks, k))
        gw1 = np.zeros((n_chunks, k))
        gb1 = np.zeros(n_chunks)
        losses = np.zeros(n_chunks)
        for c in prange(n_chunks):
            h = np.empty(k)
            for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
                z1 = b1[0]
                for j in range(k):
                    z = b0[j]
                    for a in range(d):
                        z += X[i, a] * w0[a, j]
                    h[j] = 1.0 / (1.0 + math.exp(-z))
                    z1 += h[j] * w1[j, 0]
                yp = 1.0 / (1.0 + math.exp(-z1))
                r = yp - y[i, 0]
                losses[c] += 0.5 * r * r
                dz1 = r * yp * (1.0 - yp) / n
                gb1[c] += dz1
                for j in range(k):
                    gw1[c, j] += h[j] * dz1
                    dz0 = dz1 * w1[j, 0] * h[j] * (1.0 - h[j])
                    gb0[c, j] += dz0
                    for a in range(d):
                        gw0[c, a, j] += X[i, a] * dz0
        loss = 0.0
        for c in range(n_chunks):
            loss += losses[c] / n
            b1[0] -= lr * gb1[c]
            for j in range(k):
                b0[j] -= lr * gb0[c, j]
                w1[j, 0] -= lr * gw1[c, j]
                for a in range(d):
                    w0[a, j] -= lr * gw0[c, a, j]
    return loss


def _w2_step(X, T, W1, b1, W2, b2, lr):
    n, c = T.shape
    a = np.tanh(X @ W1 + b1)
    logits = a @ W2 + b2
    dlogits = np.empty_like(logits)
    loss = 0.0
    for i in prange(n):
        m = logits[i].max()
        s = 0.0
        for j in range(c):
            s += math.exp(logits[i, j] - m)
        lse = m + math.log(s)
        tsum = T[i].sum()
        for j in range(c):
            log_sm = logits[i, j] - lse
            loss -= T[i, j] * log_sm
            dlogits[i, j] = (math.exp(log_sm) * tsum - T[i, j]) / n
    dz = (dlogits @ W2.T) * (1.0 - a * a)
    W1 -= lr * (X.T @ dz)
    b1 -= lr * dz.sum(axis=0)
    W2 -= lr * (a.T @ dlogits)
    b2 -= lr * dlogits.sum(axis=0)
    return loss / n


def _w4_grad(x):
    out = np.empty_like(x)
    for i in prange(x.size):
        xi = x[i]
        t = math.tanh(xi)
        e = math.exp(-xi * xi)
        out[i] = (1.0 - t * t) * e - 2.0 * xi * t * e + 2.0 * xi / (1.0 + xi * xi)
    return out


@functools.lru_cache(maxsize=None)
def _compiled(fn, fastmath: bool, parallel: bool):
    """``fn`` jitted with these options, as a copy named after them (the disk cache is
    keyed by the function's name, not by the options).  Without parallel, prange is range."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__ + "".join(
        suffix for flag, suffix in ((fastmath, "_fastmath"), (parallel, "_parallel")) if flag)
    return njit(cache=True, fastmath=fastmath, parallel=parallel)(copy)


def w1(d, fastmath=False, parallel=False):
    X, y = d["X"], d["y"]
    params = [p.copy() for p in d["params"]]
    train = _compiled(_w1_train, fastmath, parallel)
    n_chunks = numba.get_num_threads() if parallel else 1
    return Case(
        run=lambda: train(1, n_chunks, X, y, *params, wl.LR_W1),
        state=lambda: params,
        loop=lambda steps: train(steps, n_chunks, X, y, *params, wl.LR_W1),
    )


def w2(d, fastmath=False, parallel=False):
    params = [p.copy() for p in d["params"]]
    step = _compiled(_w2_step, fastmath, parallel)
    return Case(run=lambda: step(d["X"], d["T"], *params, wl.LR_W2), state=lambda: params)


def w4(d, fastmath=False, parallel=False):
    grad = _compiled(_w4_grad, fastmath, parallel)
    return Case(run=lambda: grad(d["x"]))
