"""Hand-written Numba, the reference (ratio 1.0): gradients derived by hand.

W1 is one fused pass over the rows (tiny layers, one output unit); W2 uses BLAS matrix
products with the softmax written as loops; W4 is a single scalar loop.
Serial code (no parallel=True, no fastmath), cached on disk (NUMBA_CACHE_DIR).
"""

import math

import numba
import numpy as np
from numba import njit

from benchmarks import workloads as wl
from benchmarks.tools import Case

COMPILES = True
VERSION = numba.__version__


@njit(cache=True)
def _w1_step(X, y, w0, b0, w1, b1, lr):
    n, d = X.shape
    k = w0.shape[1]
    gw0 = np.zeros_like(w0)
    gb0 = np.zeros_like(b0)
    gw1 = np.zeros_like(w1)
    gb1 = 0.0
    h = np.empty(k)
    loss = 0.0
    for i in range(n):
        z1 = b1[0]
        for j in range(k):
            z = b0[j]
            for a in range(d):
                z += X[i, a] * w0[a, j]
            h[j] = 1.0 / (1.0 + math.exp(-z))
            z1 += h[j] * w1[j, 0]
        yp = 1.0 / (1.0 + math.exp(-z1))
        r = yp - y[i, 0]
        loss += 0.5 * r * r
        dz1 = r * yp * (1.0 - yp) / n
        gb1 += dz1
        for j in range(k):
            gw1[j, 0] += h[j] * dz1
            dz0 = dz1 * w1[j, 0] * h[j] * (1.0 - h[j])
            gb0[j] += dz0
            for a in range(d):
                gw0[a, j] += X[i, a] * dz0
    w0 -= lr * gw0
    b0 -= lr * gb0
    w1 -= lr * gw1
    b1[0] -= lr * gb1
    return loss / n


@njit(cache=True)
def _w1_loop(steps, X, y, w0, b0, w1, b1, lr):
    loss = 0.0
    for _ in range(steps):
        loss = _w1_step(X, y, w0, b0, w1, b1, lr)
    return loss


@njit(cache=True)
def _w2_step(X, T, W1, b1, W2, b2, lr):
    n, c = T.shape
    a = np.tanh(X @ W1 + b1)
    logits = a @ W2 + b2
    dlogits = np.empty_like(logits)
    loss = 0.0
    for i in range(n):
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


@njit(cache=True)
def _w4_grad(x):
    out = np.empty_like(x)
    for i in range(x.size):
        xi = x[i]
        t = math.tanh(xi)
        e = math.exp(-xi * xi)
        out[i] = (1.0 - t * t) * e - 2.0 * xi * t * e + 2.0 * xi / (1.0 + xi * xi)
    return out


def w1(d):
    X, y = d["X"], d["y"]
    params = [p.copy() for p in d["params"]]
    return Case(
        run=lambda: _w1_step(X, y, *params, wl.LR_W1),
        state=lambda: params,
        loop=lambda steps: _w1_loop(steps, X, y, *params, wl.LR_W1),
    )


def w2(d):
    params = [p.copy() for p in d["params"]]
    return Case(run=lambda: _w2_step(d["X"], d["T"], *params, wl.LR_W2), state=lambda: params)


def w4(d):
    return Case(run=lambda: _w4_grad(d["x"]))
