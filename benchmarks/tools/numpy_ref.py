"""Hand-written NumPy (gradients derived by hand, see workloads.py)."""

import numpy as np

from benchmarks import workloads as wl
from benchmarks.tools import Case

COMPILES = False
VERSION = np.__version__


def w1(d):
    params = [p.copy() for p in d["params"]]
    return Case(run=lambda: wl.w1_step(d["X"], d["y"], params), state=lambda: params)


def w2(d):
    params = [p.copy() for p in d["params"]]
    return Case(run=lambda: wl.w2_step(d["X"], d["T"], params), state=lambda: params)


def w4(d):
    return Case(run=lambda: wl.w4_grad(d["x"]))
