"""Hand-written NumPy (derivatives derived by hand, see workloads.py).

With ``given_weights`` (tool "numpy-given-s", W3 only) the Hessian weights
s*(1 - s)/N are computed once beforehand, so the Hessian-vector product is
exactly two matrix-vector products.
"""

import numpy as np

from benchmarks import workloads as wl
from benchmarks.tools import Case, Skip

COMPILES = False
VERSION = np.__version__


def _w3_only(given_weights):
    if given_weights:
        raise Skip("numpy-given-s runs W3 only")


def w1(d, given_weights=False):
    _w3_only(given_weights)
    params = [p.copy() for p in d["params"]]
    return Case(run=lambda: wl.w1_step(d["X"], d["y"], params), state=lambda: params)


def w2(d, given_weights=False):
    _w3_only(given_weights)
    params = [p.copy() for p in d["params"]]
    return Case(run=lambda: wl.w2_step(d["X"], d["T"], params), state=lambda: params)


def w3(d, given_weights=False):
    X, w = d["X"], d["w"]
    if not given_weights:
        return Case(run=lambda: wl.w3_hessian(X, w))
    weights = wl.w3_weights(X, w)[:, None]
    return Case(run=lambda: X.T @ (X * weights))


def w3_hvp(d, given_weights=False):
    X, w, v = d["X"], d["w"], d["v"]
    if not given_weights:
        return Case(run=lambda: wl.w3_hvp(X, w, v))
    weights = wl.w3_weights(X, w)
    return Case(run=lambda: X.T @ (weights * (X @ v)))


def w4(d, given_weights=False):
    _w3_only(given_weights)
    return Case(run=lambda: wl.w4_grad(d["x"]))
